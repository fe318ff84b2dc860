//! [`TokenInfo`]: the registered claims a revocation store reads, and the
//! token's digest when it has no `jti`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::verify::IdentitySpans;

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
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TokenInfo {
    jti: Option<String>,
    sub: Option<String>,
    iss: Option<String>,
    iat: Option<u64>,
    exp: Option<u64>,
    /// SHA-256 of the whole token, base64url without padding (43 characters).
    digest: Option<String>,
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
    /// the token).
    ///
    /// `None` when the payload is not a JSON object, or holds `jti`, `sub`,
    /// `iss`, `iat` or `exp` twice: two readers could then disagree on the
    /// token's identity, so the caller should refuse it. (The verifier already
    /// refuses duplicate `sub`, `iss`, `iat` and `exp`; a duplicate `jti` is
    /// left to this check.)
    pub(crate) fn from_payload(payload: &str) -> Option<TokenInfo> {
        // A derived struct would also read a JSON array, by position.
        if !payload
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('{')
        {
            return None;
        }
        let identity: Identity<'_> = serde_json::from_str(payload).ok()?;
        Some(Self {
            jti: identity.jti.and_then(string),
            sub: identity.sub.and_then(string),
            iss: identity.iss.and_then(string),
            iat: identity.iat.and_then(|raw| numeric_date(raw, f64::floor)),
            exp: identity.exp.and_then(|raw| numeric_date(raw, f64::ceil)),
            digest: None,
        })
    }

    /// The identity of a verified token: its registered claims (see
    /// [`from_payload`](Self::from_payload), whose `None` this returns too)
    /// and, when it has no `jti`, the digest of `text`, the token as sent.
    pub(crate) fn from_verified(text: &str, payload: &str) -> Option<TokenInfo> {
        let info = Self::from_payload(payload)?;
        Some(if info.jti.is_none() {
            info.with_digest_of(text)
        } else {
            info
        })
    }

    /// The `jti` (JWT ID) claim.
    pub fn jti(&self) -> Option<&str> {
        self.jti.as_deref()
    }

    /// The `sub` (subject) claim.
    pub fn subject(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// The `iss` (issuer) claim.
    pub fn issuer(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    /// The `iat` (issued at) claim, in Unix seconds, rounded down.
    pub fn issued_at(&self) -> Option<u64> {
        self.iat
    }

    /// The `exp` (expiration time) claim, in Unix seconds, rounded up.
    pub fn expires_at(&self) -> Option<u64> {
        self.exp
    }

    /// The SHA-256 digest of the whole token, base64url without padding (43
    /// characters): the token's identity for a store when it has no `jti` (see
    /// [A token without `jti`](Self#a-token-without-jti)). The layer sets it
    /// only for tokens without `jti`; `None` for the others, and in a build
    /// without a crypto backend feature.
    pub fn token_digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Sets the [`token_digest`](Self::token_digest) to the digest of `token`,
    /// the token as sent (its compact serialization, `header.payload.signature`),
    /// as the layer does for a token without `jti`. A store uses it only when
    /// there is no `jti`.
    ///
    /// In a build without a crypto backend feature there is no SHA-256, and
    /// this sets nothing: [`revoke`](crate::RevocationStore::revoke) then says
    /// that the token cannot be revoked by itself.
    pub fn with_digest_of(mut self, token: &str) -> Self {
        self.digest = crate::crypto::sha256(token.as_bytes()).map(|d| URL_SAFE_NO_PAD.encode(d));
        self
    }

    /// Sets the `jti`.
    pub fn with_jti(mut self, jti: impl Into<String>) -> Self {
        self.jti = Some(jti.into());
        self
    }

    /// Sets the subject (`sub`).
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.sub = Some(subject.into());
        self
    }

    /// Sets the issuer (`iss`).
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.iss = Some(issuer.into());
        self
    }

    /// Sets the issue time (`iat`), in Unix seconds.
    pub fn with_issued_at(mut self, iat: u64) -> Self {
        self.iat = Some(iat);
        self
    }

    /// Sets the expiration time (`exp`), in Unix seconds.
    pub fn with_expires_at(mut self, exp: u64) -> Self {
        self.exp = Some(exp);
        self
    }
}

/// The identity of a verified token from where the verifier found its
/// claims (`crate::verify::IdentitySpans`): what
/// [`TokenInfo::from_verified`] reads, without a second parse.
impl TokenInfo {
    pub(crate) fn from_identity(text: &str, payload: &str, spans: &IdentitySpans) -> TokenInfo {
        let info = Self {
            jti: spans.jti.get(payload).and_then(string_value),
            sub: spans.sub.get(payload).and_then(string_value),
            iss: spans.iss.get(payload).and_then(string_value),
            iat: spans
                .iat
                .get(payload)
                .and_then(|raw| date_value(raw, f64::floor)),
            exp: spans
                .exp
                .get(payload)
                .and_then(|raw| date_value(raw, f64::ceil)),
            digest: None,
        };
        if info.jti.is_none() {
            info.with_digest_of(text)
        } else {
            info
        }
    }
}

/// The JSON value `raw` as a string, as [`string`] reads it: most claims
/// have no escape, and are copied as they are.
fn string_value(raw: &str) -> Option<String> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str(raw).ok()
    } else {
        Some(inner.to_owned())
    }
}

/// The JSON value `raw` as a NumericDate, as [`numeric_date`] reads it: most
/// are whole seconds in plain digits, read as they are.
fn date_value(raw: &str, round: fn(f64) -> f64) -> Option<u64> {
    if raw.len() <= 19 && !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw.parse().ok();
    }
    numeric_date(serde_json::from_str(raw).ok()?, round)
}

/// A JSON string; `None` for any other JSON value.
fn string(raw: &RawValue) -> Option<String> {
    serde_json::from_str(raw.get()).ok()
}

/// A NumericDate in whole seconds, `round`ed; `None` for anything but a JSON
/// number from 0 to `u64::MAX`.
fn numeric_date(raw: &RawValue, round: fn(f64) -> f64) -> Option<u64> {
    let number: serde_json::Number = serde_json::from_str(raw.get()).ok()?;
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

    fn info(payload: &str) -> Option<TokenInfo> {
        TokenInfo::from_payload(payload)
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
            "",
            "{",
            r#"{"jti":"a"} trailing"#,
            r#"{"jti":"unterminated}"#,
            "\u{feff}{}",
        ] {
            assert_eq!(info(payload), None, "{payload}");
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
}
