//! The registered claims (RFC 7519 §4.1), read in one pass over the payload and
//! checked more strictly than jsonwebtoken does: a configured `iss`/`aud`/`sub`
//! must be present and a string (or, for `aud`, an array of strings), and a
//! token is refused from the instant `exp` is reached.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{AuthError, AuthErrorKind};

/// The most claims beyond the registered ones that can be required.
pub(crate) const MAX_EXTRA_REQUIRED: usize = 64;

/// What the payload says about the registered claims, as the JSON text of each
/// (`null` counts as absent), plus which of the extra required claims are
/// present (a bit each).
#[derive(Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(crate) struct Registered<'a> {
    pub(crate) exp: Option<&'a str>,
    pub(crate) nbf: Option<&'a str>,
    pub(crate) iat: Option<&'a str>,
    pub(crate) iss: Option<&'a str>,
    pub(crate) aud: Option<&'a str>,
    pub(crate) sub: Option<&'a str>,
    pub(crate) extra_present: u64,
}

impl<'a> Registered<'a> {
    /// Records claim `name` with the JSON text `value`; `Err` for a second
    /// registered claim of the same name.
    fn record(&mut self, name: &[u8], value: &'a str, extra: &[String]) -> Result<(), Duplicate> {
        // Byte patterns compile to a few comparisons, string patterns to calls.
        let slot = match name {
            b"exp" => &mut self.exp,
            b"nbf" => &mut self.nbf,
            b"iat" => &mut self.iat,
            b"iss" => &mut self.iss,
            b"aud" => &mut self.aud,
            b"sub" => &mut self.sub,
            _ => {
                if let Some(i) = extra.iter().position(|n| n.as_bytes() == name)
                    && value != "null"
                {
                    self.extra_present |= 1 << i;
                }
                return Ok(());
            }
        };
        if slot.is_some() {
            // RFC 7519 §4: a parser may reject duplicate names; for the claims
            // that decide validity it must, or two parsers could disagree.
            return Err(Duplicate);
        }
        if value != "null" {
            *slot = Some(value);
        }
        Ok(())
    }
}

/// A registered claim given twice.
struct Duplicate;

/// Reads [`Registered`] from a claims object; `extra` are the names of the other
/// required claims.
pub(crate) struct RegisteredSeed<'r> {
    pub(crate) extra: &'r [String],
}

impl<'de> DeserializeSeed<'de> for RegisteredSeed<'_> {
    type Value = Registered<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RegisteredSeed<'_> {
    type Value = Registered<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Registered::default();
        while let Some(CowStr(name)) = map.next_key::<CowStr<'de>>()? {
            let wanted = matches!(&*name, "exp" | "nbf" | "iat" | "iss" | "aud" | "sub")
                || self.extra.iter().any(|n| *n == name);
            if !wanted {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let value: &RawValue = map.next_value()?;
            out.record(name.as_bytes(), value.get(), self.extra)
                .map_err(|Duplicate| A::Error::custom("duplicate registered claim"))?;
        }
        Ok(out)
    }
}

/// A string that borrows from the JSON text when it has no escapes; serde's own
/// `Cow<str>` always allocates outside derived structs.
pub(crate) struct CowStr<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The quick way to [`Registered`]: a scan of the top-level names and values of
/// `json` that trusts it to be well-formed JSON, as serde_json checks it when
/// the claims type is read. `None` for anything but an object whose names have
/// no escapes and no registered claim twice: the full reader
/// ([`RegisteredSeed`]) then decides. On well-formed JSON both give the same
/// result.
pub(crate) fn scan<'a>(json: &'a str, extra: &[String]) -> Option<Registered<'a>> {
    let b = json.as_bytes();
    let mut out = Registered::default();
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
        out.record(name, json.get(value_start..i)?, extra).ok()?;
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

fn wrong_type(claim: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidClaimType, claim)
}

/// A NumericDate (RFC 7519 §2): any JSON number, fractional or negative included.
pub(crate) fn numeric_date(raw: &str, what: &'static str) -> Result<f64, AuthError> {
    if let Some(n) = plain_integer(raw) {
        return Ok(n as f64);
    }
    serde_json::from_str::<serde_json::Number>(raw)
        .ok()
        .and_then(|n| n.as_f64())
        .ok_or_else(|| wrong_type(what))
}

/// The common NumericDate, a JSON integer of at most 15 digits (exact as an
/// `f64`), read without a JSON parser; `None` for anything else.
fn plain_integer(raw: &str) -> Option<u64> {
    let digits = raw.as_bytes();
    if !matches!(digits, [b'1'..=b'9', ..] | [b'0']) || digits.len() > 15 {
        return None;
    }
    digits.iter().try_fold(0, |n: u64, &d| {
        d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
    })
}

/// The text of a JSON string without escapes, borrowed; `None` for anything else.
fn plain_string(raw: &str) -> Option<&str> {
    let text = raw.strip_prefix('"')?.strip_suffix('"')?;
    (!text.contains('\\')).then_some(text)
}

/// A JSON string claim.
pub(crate) fn string_claim<'a>(
    raw: &'a str,
    what: &'static str,
) -> Result<Cow<'a, str>, AuthError> {
    if let Some(text) = plain_string(raw) {
        return Ok(Cow::Borrowed(text));
    }
    serde_json::from_str::<CowStr<'a>>(raw)
        .map(|s| s.0)
        .map_err(|_| wrong_type(what))
}

/// Whether `aud`, one string or an array of strings (RFC 7519 §4.1.3), names
/// one of the `accepted` audiences.
pub(crate) fn audience_accepted(text: &str, accepted: &[String]) -> Result<bool, AuthError> {
    if let Some(one) = plain_string(text) {
        return Ok(accepted.iter().any(|x| x == one));
    }
    let found = if text.starts_with('[') {
        serde_json::from_str::<Vec<CowStr<'_>>>(text)
            .map(|all| all.iter().any(|a| accepted.iter().any(|x| *x == a.0)))
    } else {
        serde_json::from_str::<CowStr<'_>>(text).map(|one| accepted.iter().any(|x| *x == one.0))
    };
    found.map_err(|_| wrong_type("claim `aud` is not a string or an array of strings"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str, extra: &[String]) -> Result<(), serde_json::Error> {
        RegisteredSeed { extra }
            .deserialize(&mut serde_json::Deserializer::from_str(json))
            .map(|_| ())
    }

    #[test]
    fn duplicate_registered_claims_are_refused() {
        assert!(read(r#"{"exp":1,"exp":2}"#, &[]).is_err());
        assert!(read(r#"{"iss":"a","sub":"b","iss":"c"}"#, &[]).is_err());
        assert!(read(r#"{"exp":1,"other":2,"other":3}"#, &[]).is_ok());
    }

    #[test]
    fn extra_required_claims_are_found() {
        let extra = vec!["role".to_owned(), "tenant".to_owned()];
        let r = RegisteredSeed { extra: &extra }
            .deserialize(&mut serde_json::Deserializer::from_str(
                r#"{"tenant":{"id":1},"role":null}"#,
            ))
            .unwrap();
        assert_eq!(r.extra_present, 0b10);
    }

    #[test]
    fn numeric_dates_accept_json_numbers_only() {
        let n = |s: &str| numeric_date(s, "exp");
        assert_eq!(n("1700000000").unwrap(), 1_700_000_000.0);
        assert_eq!(n("1.5").unwrap(), 1.5);
        assert_eq!(n("-1").unwrap(), -1.0);
        assert!(n("\"1700000000\"").is_err());
        assert!(n("[1]").is_err());
        assert!(n("true").is_err());
    }

    fn seed<'a>(json: &'a str, extra: &[String]) -> Option<Registered<'a>> {
        let mut de = serde_json::Deserializer::from_str(json);
        let registered = RegisteredSeed { extra }.deserialize(&mut de).ok()?;
        de.end().ok().map(|()| registered)
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

    #[test]
    fn plain_numbers_and_strings_read_like_serde_json() {
        for raw in [
            "0",
            "1",
            "1700000000",
            "999999999999999",
            "1000000000000000",
            "01",
            "-1",
            "1.5",
            "1e3",
            "\"1\"",
            "",
        ] {
            let serde = serde_json::from_str::<serde_json::Number>(raw)
                .ok()
                .and_then(|n| n.as_f64());
            if let Some(n) = plain_integer(raw) {
                assert_eq!(Some(n as f64), serde, "{raw}");
            }
            assert_eq!(numeric_date(raw, "x").ok(), serde, "{raw}");
        }
        for raw in [
            r#""""#,
            r#""abc""#,
            r#""a\"b""#,
            r#""\u00e9""#,
            "\"",
            "1",
            "null",
        ] {
            let serde = serde_json::from_str::<CowStr<'_>>(raw).ok().map(|s| s.0);
            if let Some(text) = plain_string(raw) {
                assert_eq!(Some(Cow::Borrowed(text)), serde, "{raw}");
            }
            assert_eq!(string_claim(raw, "x").ok(), serde, "{raw}");
        }
        assert!(audience_accepted(r#""api""#, &["api".to_owned()]).unwrap());
        assert!(!audience_accepted(r#""api""#, &["other".to_owned()]).unwrap());
        assert!(audience_accepted(r#"["x","api"]"#, &["api".to_owned()]).unwrap());
        assert!(audience_accepted(r#""\u0061pi""#, &["api".to_owned()]).unwrap());
        assert!(audience_accepted("1", &["api".to_owned()]).is_err());
    }
}
