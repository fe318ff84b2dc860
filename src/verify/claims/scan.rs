//! The quick way to the registered claims: a scan of the top-level members of
//! a claims object that serde_json has yet to accept as a whole. A leaf behind
//! one function, [`scan`], with a differential test against the full reader
//! ([`read_registered`](super::read_registered)): dropping it is a one-line change.
//! The same walk, [`members`], reads a verified token's identity for the
//! revocation check.

use super::Registered;

/// The quick way to [`Registered`]: a scan of the top-level names and values of
/// `json` that trusts it to be well-formed JSON, as serde_json checks it when
/// the claims type is read. `None` for anything but an object whose names have
/// no escapes and no registered claim twice: the full reader
/// ([`read_registered`](super::read_registered)) then decides. On well-formed
/// JSON both give the same result.
pub(crate) fn scan<'a>(json: &'a str, extra: &[String]) -> Option<Registered<'a>> {
    members(json, Registered::default(), |out, name, value| {
        out.record(name, value, extra).ok()
    })
}

/// The walk behind [`scan`]: hands each top-level member of the object `json`
/// to `record`, with `out`, as its name (raw bytes, without the quotes) and
/// its value's JSON text, trusting `json` to be well-formed JSON; then gives
/// `out` back. `None` when `json` is not an object, when a name holds an
/// escape (its bytes are not the name), or as soon as `record` says `None`: a
/// full reader then decides.
///
/// `out` lives here rather than in the caller's closure so that it is built
/// in place, as the verifier's scan always was (a moved [`Registered`] costs
/// it some instructions per request).
pub(crate) fn members<'a, T>(
    json: &'a str,
    mut out: T,
    record: impl Fn(&mut T, &[u8], &'a str) -> Option<()>,
) -> Option<T> {
    let b = json.as_bytes();
    let mut i = skip_whitespace(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_whitespace(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let (name_end, escaped) = string_end(b, i)?;
        if escaped {
            return None;
        }
        let name = b.get(i + 1..name_end - 1)?;
        i = skip_whitespace(b, name_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let value_start = skip_whitespace(b, i + 1);
        i = skip_value(b, value_start)?;
        record(&mut out, name, json.get(value_start..i)?)?;
        i = skip_whitespace(b, i);
        match b.get(i) {
            Some(b',') => i = skip_whitespace(b, i + 1),
            Some(b'}') => return Some(out),
            _ => return None,
        }
    }
}

fn skip_whitespace(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The end of the JSON value that starts at `i`, trusting it to be well-formed.
fn skip_value(b: &[u8], mut i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                match b.get(i)? {
                    b'"' => {
                        i = skip_string(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        // A number, `true`, `false` or `null`.
        _ => {
            while b.get(i).is_some_and(|&c| SCALAR[usize::from(c)]) {
                i += 1;
            }
            Some(i)
        }
    }
}

/// The bytes of JSON numbers and of `true`, `false` and `null`.
const SCALAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        table[c] = matches!(c as u8, b'0'..=b'9' | b'a'..=b'z' | b'E' | b'.' | b'+' | b'-');
        c += 1;
    }
    table
};

/// The end of the string whose opening quote is at `i`.
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    string_end(b, i).map(|(end, _)| end)
}

/// The end of the string whose opening quote is at `i`, and whether it holds
/// an escape.
fn string_end(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    i += 1;
    loop {
        // The next quote or backslash, eight bytes at a time while they last.
        if let Some(&chunk) = b.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
            let found = quote_or_backslash(u64::from_le_bytes(chunk));
            if found == 0 {
                i += 8;
                continue;
            }
            // The lowest flag is exact (only bytes above a match can be false).
            i += found.trailing_zeros() as usize / 8;
        } else {
            while !matches!(b.get(i)?, b'"' | b'\\') {
                i += 1;
            }
        }
        match b.get(i)? {
            b'"' => return Some((i + 1, escaped)),
            // An escape: the byte after the backslash is never the closing quote.
            _ => {
                escaped = true;
                i += 2;
            }
        }
    }
}

/// The high bit of each byte of `word` that is a quote or a backslash (and
/// maybe of bytes above one: the classic "has zero byte" test).
fn quote_or_backslash(word: u64) -> u64 {
    has_byte(word, b'"') | has_byte(word, b'\\')
}

/// Non-zero when one of the eight bytes of `word` is `byte` (the classic
/// "has zero byte" test on `word ^ byte...byte`).
fn has_byte(word: u64, byte: u8) -> u64 {
    let x = word ^ u64::from_ne_bytes([byte; 8]);
    x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::claims::read_registered;

    fn seed<'a>(json: &'a str, extra: &[String]) -> Option<Registered<'a>> {
        read_registered(json, extra).ok()
    }

    /// On well-formed JSON the scan finds what serde_json finds, or leaves the
    /// decision to it.
    fn same_as_serde(json: &str, extra: &[String]) -> bool {
        assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok(),
            "{json}"
        );
        let scanned = scan(json, extra);
        if let Some(scanned) = &scanned {
            assert_eq!(Some(scanned), seed(json, extra).as_ref(), "{json}");
        }
        scanned.is_some()
    }

    #[test]
    fn the_scan_reads_what_serde_json_reads() {
        let extra = vec!["role".to_owned(), "tenant".to_owned()];
        for json in [
            "{}",
            " { } ",
            r#"{"exp":1700000000,"iss":"https://issuer.example","aud":["a","b"]}"#,
            "{ \"exp\" :\n 1.5e9 ,\t\"sub\" : \"s\" , \"nbf\":null }\r\n",
            r#"{"note":"a \"quoted\" }] value \\","exp":1}"#,
            r#"{"note":"\\\\","iss":"x\\\"y","sub":"\u00e9"}"#,
            r#"{"deep":{"a":[1,{"b":"}"},[]],"c":"]"},"aud":"api","role":0}"#,
            r#"{"role":null,"tenant":{"id":[null]},"iat":-3,"exp":true}"#,
            r#"{"x":[],"y":{},"z":"","exp":0}"#,
            r#"{"é":"ü","exp":12345678901234567890}"#,
        ] {
            assert!(same_as_serde(json, &extra), "{json}");
        }
        // The full reader decides these.
        for json in [
            r#"{"\u0065xp":1}"#,
            r#"{"exp":1,"exp":2}"#,
            r#"{"sub":"a","sub":null}"#,
            "[]",
            r#""exp""#,
            "null",
        ] {
            assert!(!same_as_serde(json, &extra), "{json}");
        }
    }

    #[test]
    fn the_scan_reads_what_serde_json_reads_in_generated_objects() {
        // A small deterministic generator (xorshift) of claims objects mixing
        // registered names, nested values and escapes.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        fn value(next: &mut impl FnMut(u64) -> u64, depth: u32) -> serde_json::Value {
            use serde_json::{Value, json};
            let strings = [
                "",
                "a\"b",
                "\\",
                "}]",
                "é",
                "x\ny",
                "null",
                "1234567\"",
                "12345678\\\"9",
                "a longer value, with \\\" and \" past eight bytes",
            ];
            match next(if depth > 2 { 5 } else { 7 }) {
                0 => Value::Null,
                1 => json!(next(2) == 0),
                2 => json!(next(10_000_000_000)),
                3 => json!(-(next(1000) as i64) as f64 / 8.0),
                4 => json!(strings[next(strings.len() as u64) as usize]),
                5 => (0..next(3)).map(|_| value(next, depth + 1)).collect(),
                _ => {
                    let names = ["k", "exp", "role", "a b"];
                    let mut map = serde_json::Map::new();
                    for _ in 0..next(3) {
                        let name = names[next(names.len() as u64) as usize];
                        map.insert(name.to_owned(), value(next, depth + 1));
                    }
                    Value::Object(map)
                }
            }
        }
        let extra = vec!["role".to_owned()];
        let names = [
            "exp",
            "nbf",
            "iat",
            "iss",
            "aud",
            "sub",
            "role",
            "other",
            "x\"y",
            "a_rather_long_claim_name",
        ];
        let mut scanned = 0;
        for _ in 0..2000 {
            let mut map = serde_json::Map::new();
            for _ in 0..next(6) {
                let name = names[next(names.len() as u64) as usize];
                map.insert(name.to_owned(), value(&mut next, 0));
            }
            let object = serde_json::Value::Object(map);
            let compact = serde_json::to_string(&object).unwrap();
            let pretty = serde_json::to_string_pretty(&object).unwrap();
            for json in [compact, pretty] {
                scanned += usize::from(same_as_serde(&json, &extra));
            }
        }
        // Only the objects with an escaped name are left to serde_json.
        assert!(scanned > 3000, "{scanned}");
    }
}
