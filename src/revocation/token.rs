//! [`TokenInfo`]: the registered claims a revocation store reads, and the
//! token's digest when it has no `jti`.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::verify::{IdentitySpans, members};

/// What a revocation store knows of a verified token: its `jti`, `sub`, `iss`,
/// `iat` and `exp`, and, for a token without `jti`, a digest of the whole
/// token.
///
/// The layer reads it from the token's claims after verification. An
/// application that revokes a token (at logout, say) builds one from the
/// claims it has, with the `with_*` methods:
///
/// ```
/// use tower_jwt_auth::TokenInfo;
///
/// let token = TokenInfo::new()
///     .with_issuer("https://id.example.com")
///     .with_jti("5f0c6d1e")
///     .with_expires_at(1_700_003_600);
/// assert_eq!(token.jti(), Some("5f0c6d1e"));
/// assert_eq!(token.subject(), None);
/// ```
///
/// # A token without `jti`
///
/// A store revokes one token by its *identity*: its `jti` (for its issuer)
/// when it has one, else its [`token_digest`](Self::token_digest), the
/// SHA-256 of the whole token as sent, base64url. The layer sets the digest
/// for every accepted token without `jti` (and only for those), so any token
/// it accepts can be logged out by itself, tokens from issuers that set no
/// `jti` included; every server sharing the store computes the same digest for
/// the same token. The store keys such an entry by the digest (under a tag of
/// its own, so it can never meet a `jti`'s entry), never by the token: the
/// token cannot be read back from the store.
///
/// Like a `jti` entry, a digest entry expires with the token's `exp` (plus the
/// store's leeway); a token without `exp` cannot be revoked by itself at all
/// (the entry would have to live forever): revoke its subject instead.
///
/// The digest needs a crypto backend feature (`aws-lc-rs` or `rust-crypto`);
/// in a build without one (whose layers need a provider given with
/// `crypto_provider`), tokens without `jti` get no digest and can be revoked
/// only by subject, as before.
///
/// An application that holds a token's text can build its identity the same
/// way, with [`with_digest_of`](Self::with_digest_of):
///
/// ```
/// use tower_jwt_auth::TokenInfo;
///
/// let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEiLCJleHAiOjE3MDAwMDM2MDB9.c2lnbmF0dXJl";
/// let info = TokenInfo::new()
///     .with_subject("ada")
///     .with_expires_at(1_700_003_600)
///     .with_digest_of(token);
/// assert_eq!(info.jti(), None);
/// # #[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
/// assert_eq!(info.token_digest().map(str::len), Some(43));
/// ```
///
/// Cloning is cheap: the claims sit behind one `Arc`.
#[derive(Clone, Default)]
pub struct TokenInfo {
    // Every accepted request with revocation on makes one, and the layer
    // puts it into the request: one allocation for the claims' text and one
    // for the rest, instead of one per claim (BENCHMARKS.md, "Revocation at
    // fleet scale").
    inner: Arc<Inner>,
}

// Equal texts and ranges are equal claims and the other way round (`new`
// lays the three out in one order, without gaps), so the derived impls
// compare and hash what the accessors give, without slicing.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
struct Inner {
    /// The `jti`, `sub` and `iss`, one after the other.
    text: String,
    jti: Option<Range<usize>>,
    sub: Option<Range<usize>>,
    iss: Option<Range<usize>>,
    iat: Option<u64>,
    exp: Option<u64>,
    /// SHA-256 of the whole token, base64url without padding (43 characters).
    digest: Option<String>,
}

impl Inner {
    /// The three strings given, in one text.
    fn new(
        jti: Option<Cow<'_, str>>,
        sub: Option<Cow<'_, str>>,
        iss: Option<Cow<'_, str>>,
    ) -> Self {
        let len = |s: &Option<Cow<'_, str>>| s.as_deref().map_or(0, str::len);
        let (jti_end, sub_end) = (len(&jti), len(&jti) + len(&sub));
        let end = sub_end + len(&iss);
        let range = |s: &Option<Cow<'_, str>>, range| s.as_ref().map(|_| range);
        let (jti_range, sub_range, iss_range) = (
            range(&jti, 0..jti_end),
            range(&sub, jti_end..sub_end),
            range(&iss, sub_end..end),
        );
        let mut text = String::with_capacity(end);
        for s in [jti, sub, iss].into_iter().flatten() {
            text.push_str(&s);
        }
        Self {
            text,
            jti: jti_range,
            sub: sub_range,
            iss: iss_range,
            ..Self::default()
        }
    }

    fn get(&self, range: &Option<Range<usize>>) -> Option<&str> {
        self.text.get(range.clone()?)
    }

    /// The same with one of the three strings replaced.
    fn replace(&self, which: Claim, value: String) -> Self {
        let value = Some(Cow::Owned(value));
        let keep = |range| self.get(range).map(Cow::Borrowed);
        let (jti, sub, iss) = match which {
            Claim::Jti => (value, keep(&self.sub), keep(&self.iss)),
            Claim::Sub => (keep(&self.jti), value, keep(&self.iss)),
            Claim::Iss => (keep(&self.jti), keep(&self.sub), value),
        };
        Self {
            iat: self.iat,
            exp: self.exp,
            digest: self.digest.clone(),
            ..Self::new(jti, sub, iss)
        }
    }
}

/// The string claims of [`Inner`].
#[derive(Clone, Copy)]
enum Claim {
    Jti,
    Sub,
    Iss,
}

impl TokenInfo {
    /// With `change` made to its own copy of the claims.
    fn with(mut self, change: impl FnOnce(&mut Inner)) -> Self {
        change(Arc::make_mut(&mut self.inner));
        self
    }
}

impl PartialEq for TokenInfo {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner == other.inner
    }
}

impl Eq for TokenInfo {}

impl Hash for TokenInfo {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl fmt::Debug for TokenInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenInfo")
            .field("jti", &self.jti())
            .field("sub", &self.subject())
            .field("iss", &self.issuer())
            .field("iat", &self.inner.iat)
            .field("exp", &self.inner.exp)
            .field("digest", &self.token_digest())
            .finish()
    }
}

/// The registered claims that identify a token, as JSON text; any other
/// member is skipped, and one of these given twice fails the parse.
#[derive(Deserialize)]
struct Identity<'a> {
    #[serde(borrow, default)]
    jti: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sub: Option<&'a RawValue>,
    #[serde(borrow, default)]
    iss: Option<&'a RawValue>,
    #[serde(borrow, default)]
    iat: Option<&'a RawValue>,
    #[serde(borrow, default)]
    exp: Option<&'a RawValue>,
}

impl TokenInfo {
    /// Nothing known yet: no claim at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the registered claims of an already verified payload (its JSON
    /// text). A claim of the wrong JSON type, a negative NumericDate or one
    /// beyond `u64` counts as absent. A fractional `iat` is rounded down and a
    /// fractional `exp` up, so that comparisons with whole seconds stay exact
    /// (`iat < before`) or on the safe side (an entry kept until `exp` outlives
    /// the token). Strings with escapes are decoded as JSON decodes them.
    ///
    /// `None` when the payload is not a JSON object, or holds `jti`, `sub`,
    /// `iss`, `iat` or `exp` twice: two readers could then disagree on the
    /// token's identity, so the caller should refuse it. (The verifier already
    /// refuses duplicate `sub`, `iss`, `iat` and `exp`; a duplicate `jti` is
    /// left to this check.)
    ///
    /// `payload` must be text serde_json has accepted as a whole: the
    /// verifier parsed it as the claims type before any check runs after it.
    /// The quick scan read here trusts that (it does not check the JSON
    /// grammar), and leaves anything unusual (escaped names, a duplicate, not
    /// an object) to [`from_payload_serde`](Self::from_payload_serde).
    pub(crate) fn from_payload(payload: &str) -> Option<TokenInfo> {
        Self::from_payload_quick(payload).or_else(|| Self::from_payload_serde(payload))
    }

    /// [`from_payload`](Self::from_payload) by the verifier's quick scan of
    /// the top-level members, trusting `payload` to be well-formed JSON; `None`
    /// when it cannot decide (serde_json then does).
    fn from_payload_quick(payload: &str) -> Option<TokenInfo> {
        let scanned = members(payload, [None; 5], record_identity);
        let [jti, sub, iss, iat, exp] = scanned?;
        Some(Self::from_values([jti, sub, iss, iat, exp]))
    }

    /// [`from_payload`](Self::from_payload) by serde_json alone, for any text:
    /// the way when the quick scan cannot decide, and its reference in tests.
    fn from_payload_serde(payload: &str) -> Option<TokenInfo> {
        // A derived struct would also read a JSON array, by position.
        if !payload
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('{')
        {
            return None;
        }
        let identity: Identity<'_> = serde_json::from_str(payload).ok()?;
        let string =
            |raw: Option<&RawValue>| raw.map(RawValue::get).and_then(string).map(Cow::Owned);
        let mut inner = Inner::new(
            string(identity.jti),
            string(identity.sub),
            string(identity.iss),
        );
        inner.iat = identity
            .iat
            .and_then(|raw| numeric_date(raw.get(), f64::floor));
        inner.exp = identity
            .exp
            .and_then(|raw| numeric_date(raw.get(), f64::ceil));
        Some(Self {
            inner: Arc::new(inner),
        })
    }

    /// The identity of a verified token: its registered claims (see
    /// [`from_payload`](Self::from_payload), whose `None` this returns too)
    /// and, when it has no `jti`, the digest of `text`, the token as sent.
    pub(crate) fn from_verified(text: &str, payload: &str) -> Option<TokenInfo> {
        let info = Self::from_payload(payload)?;
        Some(if info.jti().is_none() {
            info.with_digest_of(text)
        } else {
            info
        })
    }

    /// The `jti` (JWT ID) claim.
    pub fn jti(&self) -> Option<&str> {
        self.inner.get(&self.inner.jti)
    }

    /// The `sub` (subject) claim.
    pub fn subject(&self) -> Option<&str> {
        self.inner.get(&self.inner.sub)
    }

    /// The `iss` (issuer) claim.
    pub fn issuer(&self) -> Option<&str> {
        self.inner.get(&self.inner.iss)
    }

    /// The `iat` (issued at) claim, in Unix seconds, rounded down.
    pub fn issued_at(&self) -> Option<u64> {
        self.inner.iat
    }

    /// The `exp` (expiration time) claim, in Unix seconds, rounded up.
    pub fn expires_at(&self) -> Option<u64> {
        self.inner.exp
    }

    /// The SHA-256 digest of the whole token, base64url without padding (43
    /// characters): the token's identity for a store when it has no `jti` (see
    /// [A token without `jti`](Self#a-token-without-jti)). The layer sets it
    /// only for tokens without `jti`; `None` for the others, and in a build
    /// without a crypto backend feature.
    pub fn token_digest(&self) -> Option<&str> {
        self.inner.digest.as_deref()
    }

    /// Sets the [`token_digest`](Self::token_digest) to the digest of `token`,
    /// the token as sent (its compact serialization, `header.payload.signature`),
    /// as the layer does for a token without `jti`. A store uses it only when
    /// there is no `jti`.
    ///
    /// In a build without a crypto backend feature there is no SHA-256, and
    /// this sets nothing: [`revoke`](crate::RevocationStore::revoke) then says
    /// that the token cannot be revoked by itself.
    pub fn with_digest_of(self, token: &str) -> Self {
        let digest = crate::crypto::sha256(token.as_bytes()).map(|d| URL_SAFE_NO_PAD.encode(d));
        self.with(|inner| inner.digest = digest)
    }

    /// Sets the `jti`.
    pub fn with_jti(self, jti: impl Into<String>) -> Self {
        let jti = jti.into();
        self.with(|inner| *inner = inner.replace(Claim::Jti, jti))
    }

    /// Sets the subject (`sub`).
    pub fn with_subject(self, subject: impl Into<String>) -> Self {
        let subject = subject.into();
        self.with(|inner| *inner = inner.replace(Claim::Sub, subject))
    }

    /// Sets the issuer (`iss`).
    pub fn with_issuer(self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        self.with(|inner| *inner = inner.replace(Claim::Iss, issuer))
    }

    /// Sets the issue time (`iat`), in Unix seconds.
    pub fn with_issued_at(self, iat: u64) -> Self {
        self.with(|inner| inner.iat = Some(iat))
    }

    /// Sets the expiration time (`exp`), in Unix seconds.
    pub fn with_expires_at(self, exp: u64) -> Self {
        self.with(|inner| inner.exp = Some(exp))
    }
}

/// The identity of a verified token from where the verifier found its
/// claims (`crate::verify::IdentitySpans`): what
/// [`TokenInfo::from_verified`] reads, without a second walk.
impl TokenInfo {
    pub(crate) fn from_identity(text: &str, payload: &str, spans: &IdentitySpans) -> TokenInfo {
        let info = Self::from_values(
            [spans.jti, spans.sub, spans.iss, spans.iat, spans.exp].map(|span| span.get(payload)),
        );
        if info.jti().is_none() {
            info.with_digest_of(text)
        } else {
            info
        }
    }

    /// The claims from the JSON values of `jti`, `sub`, `iss`, `iat` and
    /// `exp`, when given.
    fn from_values([jti, sub, iss, iat, exp]: [Option<&str>; 5]) -> Self {
        let mut inner = Inner::new(
            jti.and_then(quick_string),
            sub.and_then(quick_string),
            iss.and_then(quick_string),
        );
        inner.iat = iat.and_then(|raw| quick_numeric_date(raw, f64::floor));
        inner.exp = exp.and_then(|raw| quick_numeric_date(raw, f64::ceil));
        Self {
            inner: Arc::new(inner),
        }
    }
}

/// Records member `name` of a payload, with the JSON text `value`, in its slot
/// of `claims` (`jti`, `sub`, `iss`, `iat`, `exp`) when it is one of these;
/// `None` for the second one of a name. A `null` counts as given, as it does
/// for serde's derived readers.
#[inline]
fn record_identity<'a>(
    claims: &mut [Option<&'a str>; 5],
    name: &[u8],
    value: &'a str,
) -> Option<()> {
    let slot = match name {
        b"jti" => &mut claims[0],
        b"sub" => &mut claims[1],
        b"iss" => &mut claims[2],
        b"iat" => &mut claims[3],
        b"exp" => &mut claims[4],
        _ => return Some(()),
    };
    // A duplicate: serde_json, which then reads the payload, refuses it too.
    slot.replace(value).is_none().then_some(())
}

/// The JSON value `text` as a string; `None` for any other JSON value. A
/// string without escapes is its text between the quotes.
fn quick_string(text: &str) -> Option<Cow<'_, str>> {
    match text.strip_prefix('"')?.strip_suffix('"') {
        Some(plain) if !has_backslash(plain.as_bytes()) => Some(Cow::Borrowed(plain)),
        _ => string(text).map(Cow::Owned),
    }
}

/// Whether `text` holds a backslash, eight bytes at a time (cheaper than
/// `memchr` on values this short).
fn has_backslash(text: &[u8]) -> bool {
    let (words, rest) = text.as_chunks::<8>();
    words.iter().any(|&word| {
        // The classic "has zero byte" test, on the bytes xor '\\'.
        let x = u64::from_ne_bytes(word) ^ u64::from_ne_bytes([b'\\'; 8]);
        x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080 != 0
    }) || rest.contains(&b'\\')
}

/// [`numeric_date`] of the JSON value `text`, read directly when it is plain
/// digits that fit a `u64`.
fn quick_numeric_date(text: &str, round: fn(f64) -> f64) -> Option<u64> {
    match text.as_bytes().first()? {
        b'0'..=b'9' => whole_seconds(text).or_else(|| numeric_date(text, round)),
        b'-' => numeric_date(text, round),
        // A string, `true`, `false`, `null`, an array or an object.
        _ => None,
    }
}

/// `text` as a `u64` when it is only ASCII digits and fits; `None` otherwise
/// (a fraction, an exponent, too large).
fn whole_seconds(text: &str) -> Option<u64> {
    // Nineteen digits always fit (u64::MAX has twenty): no overflow checks.
    if text.len() <= 19 {
        return text.bytes().try_fold(0u64, |n, c| {
            let digit = c.wrapping_sub(b'0');
            (digit <= 9).then_some(n * 10 + u64::from(digit))
        });
    }
    text.bytes().try_fold(0u64, |n, c| {
        let digit = c.wrapping_sub(b'0');
        (digit <= 9).then_some(())?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// The JSON value `text` as a string; `None` for any other JSON value.
fn string(text: &str) -> Option<String> {
    serde_json::from_str(text).ok()
}

/// The JSON value `text` as a NumericDate in whole seconds, `round`ed; `None`
/// for anything but a JSON number from 0 to `u64::MAX`.
fn numeric_date(text: &str, round: fn(f64) -> f64) -> Option<u64> {
    let number: serde_json::Number = serde_json::from_str(text).ok()?;
    if let Some(n) = number.as_u64() {
        return Some(n);
    }
    let n = number.as_f64()?;
    // 2^64 is the first float above u64::MAX; NaN fails both comparisons.
    (n >= 0.0 && round(n) < 18_446_744_073_709_551_616.0).then(|| round(n) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `from_payload`, checked against serde_json alone, of text serde_json
    /// accepts (as the layer's payloads always are).
    fn info(payload: &str) -> Option<TokenInfo> {
        assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(payload).is_ok(),
            "not JSON: {payload}"
        );
        let read = TokenInfo::from_payload(payload);
        assert_eq!(read, TokenInfo::from_payload_serde(payload), "{payload}");
        read
    }

    /// Whether the quick scan decided `payload` (rather than serde_json),
    /// having checked that it reads it as serde_json does.
    fn quick(payload: &str) -> bool {
        info(payload);
        TokenInfo::from_payload_quick(payload).is_some()
    }

    #[test]
    fn reads_the_registered_claims() {
        let t = info(
            r#"{"jti":"id-1","sub":"ada","iss":"https://id.example.com","iat":1700000000,
                "exp":1700003600,"aud":"app","scope":["a","b"],"nested":{"jti":"no"}}"#,
        )
        .unwrap();
        assert_eq!(t.jti(), Some("id-1"));
        assert_eq!(t.subject(), Some("ada"));
        assert_eq!(t.issuer(), Some("https://id.example.com"));
        assert_eq!(t.issued_at(), Some(1_700_000_000));
        assert_eq!(t.expires_at(), Some(1_700_003_600));
    }

    #[test]
    fn absent_and_null_claims_are_none() {
        assert_eq!(info("{}").unwrap(), TokenInfo::new());
        assert_eq!(
            info(r#"{"jti":null,"sub":null,"iss":null,"iat":null,"exp":null}"#).unwrap(),
            TokenInfo::new()
        );
    }

    #[test]
    fn strings_are_unescaped_and_names_too() {
        let t = info(r#"{"j\u0074i":"a\"b:c\u0000","sub":"\ud83d\ude00"}"#).unwrap();
        assert_eq!(t.jti(), Some("a\"b:c\0"));
        assert_eq!(t.subject(), Some("😀"));
    }

    #[test]
    fn fractional_dates_round_to_the_safe_side() {
        let t = info(r#"{"iat":1700000000.9,"exp":1700003600.1}"#).unwrap();
        assert_eq!(t.issued_at(), Some(1_700_000_000));
        assert_eq!(t.expires_at(), Some(1_700_003_601));
        let t = info(r#"{"iat":1.7e9,"exp":17e8}"#).unwrap();
        assert_eq!(t.issued_at(), Some(1_700_000_000));
        assert_eq!(t.expires_at(), Some(1_700_000_000));
        let t = info(r#"{"iat":0.5,"exp":0.5}"#).unwrap();
        assert_eq!(t.issued_at(), Some(0));
        assert_eq!(t.expires_at(), Some(1));
    }

    #[test]
    fn dates_out_of_range_or_of_the_wrong_type_are_none() {
        for date in [
            "-1",
            "-0.5",
            "-1.5",
            "-1e300",
            "1e20",
            "18446744073709551616",
            "1e308",
            "\"1700000000\"",
            "true",
            "[1]",
            "{}",
        ] {
            let t = info(&format!(r#"{{"iat":{date},"exp":{date}}}"#)).unwrap();
            assert_eq!((t.issued_at(), t.expires_at()), (None, None), "{date}");
        }
        let t = info(r#"{"exp":18446744073709551615}"#).unwrap();
        assert_eq!(t.expires_at(), Some(u64::MAX));
    }

    #[test]
    fn strings_of_the_wrong_type_are_none() {
        for value in ["1", "1.5", "true", "[\"a\"]", "{\"a\":1}"] {
            let t = info(&format!(r#"{{"jti":{value},"sub":{value},"iss":{value}}}"#)).unwrap();
            assert_eq!(t, TokenInfo::new(), "{value}");
        }
    }

    #[test]
    fn duplicates_and_non_objects_are_refused() {
        for payload in [
            r#"{"jti":"a","jti":"b"}"#,
            r#"{"jti":"a","j\u0074i":"b"}"#,
            r#"{"sub":"a","sub":"a"}"#,
            r#"{"exp":1,"exp":2}"#,
            r#"{"iat":1,"iss":"x","iat":1}"#,
            "[]",
            r#"["a","b","c",1,2]"#,
            "null",
            "\"jti\"",
            "1",
        ] {
            assert_eq!(info(payload), None, "{payload}");
        }
        // Not JSON: the layer never hands such text to `from_payload` (the
        // verifier refused it), and its quick scan does not check the
        // grammar; serde_json alone refuses it.
        for payload in [
            "",
            "{",
            r#"{"jti":"a"} trailing"#,
            r#"{"jti":"unterminated}"#,
            "\u{feff}{}",
        ] {
            assert_eq!(TokenInfo::from_payload_serde(payload), None, "{payload}");
        }
        // Other members may repeat: the verifier and the application decide.
        assert!(info(r#"{"x":1,"x":2,"jti":"a"}"#).is_some());
    }

    #[test]
    #[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
    fn a_token_without_jti_is_identified_by_its_digest() {
        // base64url(SHA-256("a.b.c")), as Python's hashlib computes it.
        let t = TokenInfo::from_verified("a.b.c", r#"{"sub":"ada","exp":1}"#).unwrap();
        assert_eq!(
            t.token_digest(),
            Some("hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg")
        );
        assert_eq!((t.jti(), t.subject()), (None, Some("ada")));
        let other = TokenInfo::from_verified("a.b.d", r#"{"sub":"ada","exp":1}"#).unwrap();
        assert_ne!(other.token_digest(), t.token_digest());
        // A `jti` is the identity: no digest is computed.
        let t = TokenInfo::from_verified("a.b.c", r#"{"jti":"x","exp":1}"#).unwrap();
        assert_eq!((t.jti(), t.token_digest()), (Some("x"), None));
        // A `null` jti counts as absent, as everywhere.
        let t = TokenInfo::from_verified("a.b.c", r#"{"jti":null}"#).unwrap();
        assert!(t.token_digest().is_some());
        // Duplicates are still refused.
        assert_eq!(
            TokenInfo::from_verified("a.b.c", r#"{"jti":"a","jti":"b"}"#),
            None
        );
        // The application's own builder gives the same identity.
        let built = TokenInfo::new().with_digest_of("a.b.c");
        assert_eq!(
            built.token_digest(),
            Some("hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg")
        );
    }

    #[test]
    fn deep_or_large_payloads_do_not_panic() {
        let open = "[".repeat(100_000);
        let close = "]".repeat(100_000);
        // Skipped without recursion.
        let deep = format!(r#"{{"a":{open}1{close},"jti":"x"}}"#);
        assert_eq!(info(&deep).unwrap().jti(), Some("x"));
        let deep = format!(r#"{{"jti":{open}1{close}}}"#);
        assert_eq!(info(&deep).unwrap().jti(), None);
        let long = format!(r#"{{"jti":"{}"}}"#, "x".repeat(100_000));
        assert_eq!(info(&long).unwrap().jti().map(str::len), Some(100_000));
    }

    /// The identity read where the verifier found the claims is the one read
    /// by a parse of its own, for every payload the verifier gives spans of.
    #[test]
    fn the_claims_where_the_verifier_found_them_are_the_claims() {
        let text = "h.p.s";
        for payload in [
            r#"{"jti":"id-1","sub":"ada","iss":"https://id.example.com","iat":1700000000,"exp":1700003600}"#,
            r#"{ "jti" : "a\"b\\c\u00e9" , "sub":"\ud83d\ude00","iss":"x\/y"}"#,
            r#"{"jti":null,"sub":null,"iss":null,"iat":null,"exp":null}"#,
            r#"{"jti":1,"sub":true,"iss":["a"],"iat":"1","exp":{"a":1}}"#,
            r#"{"iat":1.5,"exp":1.5}"#,
            r#"{"iat":-1,"exp":-0.5}"#,
            r#"{"iat":0,"exp":18446744073709551615}"#,
            r#"{"iat":18446744073709551616,"exp":1e3}"#,
            r#"{"iat":1E3,"exp":1.0e2}"#,
            r#"{"iat":9999999999999999999,"exp":99999999999999999999}"#,
            r#"{"iat":-0,"exp":0.0}"#,
            r#"{"nested":{"jti":"no","sub":"no"},"list":[{"iss":"no"}],"jti":"yes"}"#,
            r#"{"x":"\"jti\":\"no\"","sub":"s"}"#,
            r#"{"\u006a\u0074\u0069":"escaped name","sub":"s"}"#,
            "{}",
            " \n{ \"sub\" :\t\"s\" }\r\n",
        ] {
            let spans = crate::verify::IdentitySpans::read(payload)
                .unwrap_or_else(|| panic!("no spans: {payload}"));
            assert_eq!(
                Some(TokenInfo::from_identity(text, payload, &spans)),
                TokenInfo::from_verified(text, payload),
                "{payload}"
            );
        }
        // Named twice: no spans; the check parses, and refuses.
        for payload in [r#"{"jti":"a","jti":"b"}"#, r#"{"sub":null,"sub":"b"}"#] {
            assert_eq!(
                crate::verify::IdentitySpans::read(payload),
                None,
                "{payload}"
            );
            assert_eq!(TokenInfo::from_verified(text, payload), None, "{payload}");
        }
    }

    /// JSON texts of every type, each a claim's value in the tests below.
    const VALUES: [&str; 39] = [
        r#""a""#,
        r#""""#,
        r#""id-1:ada""#,
        r#""a\"b""#,
        r#""\\""#,
        r#""\u00e9\u0000""#,
        r#""é😀 ""#,
        r#""\ud83d\ude00""#,
        r#""x\ny\/""#,
        r#""null""#,
        r#""1700000000""#,
        "0",
        "1",
        "1700000000",
        "9999999999999999999",
        "10000000000000000000",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999",
        "1.5",
        "0.5",
        "-1",
        "-0",
        "-0.0",
        "1e3",
        "1E3",
        "1.0e2",
        "1e-2",
        "17e8",
        "null",
        "true",
        "false",
        "[]",
        r#"["jti"]"#,
        r#"{"jti":"x"}"#,
        r#"{"a":[{"exp":1,"jti":"}"}],"b":"]"}"#,
        r#"[1,{"iat":2},"\"{"]"#,
        "{}",
        r#"[[["jti"]]]"#,
    ];

    const CLAIMS: [&str; 5] = ["jti", "sub", "iss", "iat", "exp"];

    #[test]
    fn the_quick_scan_reads_what_serde_json_reads() {
        for claim in CLAIMS {
            for value in VALUES {
                // Alone, among others, and with whitespace everywhere.
                for payload in [
                    format!(r#"{{"{claim}":{value}}}"#),
                    format!(r#"{{"aud":"app","{claim}":{value},"x":[1,{{"jti":0}}]}}"#),
                    format!(" \n{{ \"{claim}\"\t:\r\n {value} \n, \"n\" : null }}\t "),
                ] {
                    assert!(quick(&payload), "{payload}");
                }
                // An escaped name is serde_json's to read.
                let escaped = format!(r#"{{"{claim}":{value},"\u0061ud":1}}"#);
                assert!(!quick(&escaped), "{escaped}");
                // A duplicate, whatever the values, is refused.
                for other in ["null", r#""b""#, "2", value] {
                    let twice = format!(r#"{{"{claim}":{value},"k":0,"{claim}":{other}}}"#);
                    assert_eq!(info(&twice), None, "{twice}");
                }
            }
        }
        for payload in [
            "{}",
            " { } ",
            r#"{"é":"ü","jti":"é","sub":"\u00fc"}"#,
            r#"{"jti":"a","j\u0074i":"b"}"#,
            r#"{"j\u0074i":"a","sub":"s"}"#,
            r#"{"\u0065xp":1.5,"iat":1.5}"#,
            r#"{"jti":"a","nested":{"jti":"b","jti":"c"}}"#,
            r#"{"x":1,"x":2,"jti":"a"}"#,
            r#"{"jti":"a\"b:c\u0000","sub":"\ud83d\ude00"}"#,
            "[]",
            r#" [ {"jti":"a"} ] "#,
            "null",
            "true",
            "1",
            r#""jti""#,
        ] {
            info(payload);
        }
    }

    #[test]
    fn the_quick_scan_reads_what_serde_json_reads_in_generated_objects() {
        // A small deterministic generator (xorshift) of objects mixing the
        // five claims, other names, escaped names, duplicates and whitespace.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let names = [
            "jti",
            "sub",
            "iss",
            "iat",
            "exp",
            "aud",
            "nbf",
            "scope",
            "é",
            "a b",
            "j\\u0074i",
            "\\u0065xp",
            "x\\\"y",
        ];
        let spaces = ["", "", "", " ", "\n  ", "\t", "\r\n"];
        let (mut quick_ones, mut refused) = (0, 0);
        for _ in 0..5000 {
            let mut payload = String::from(spaces[next(spaces.len())]);
            payload.push('{');
            for member in 0..next(7) {
                if member > 0 {
                    payload.push(',');
                }
                for part in [
                    spaces[next(spaces.len())],
                    "\"",
                    names[next(names.len())],
                    "\"",
                    spaces[next(spaces.len())],
                    ":",
                    spaces[next(spaces.len())],
                    VALUES[next(VALUES.len())],
                    spaces[next(spaces.len())],
                ] {
                    payload.push_str(part);
                }
            }
            payload.push('}');
            payload.push_str(spaces[next(spaces.len())]);
            quick_ones += usize::from(quick(&payload));
            refused += usize::from(info(&payload).is_none());
        }
        // Most are decided by the scan; some are duplicates.
        assert!(quick_ones > 1500, "{quick_ones}");
        assert!(refused > 200, "{refused}");
    }
}
