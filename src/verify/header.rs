//! The JOSE header of a token, read without trusting anything in it.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};

use super::claims::CowStr;

/// The header parameters this crate acts on. Everything else (`jku`, `x5u`,
/// `jwk`, `x5c`, ...) is ignored: keys come from configuration only.
///
/// Strings borrow from the decoded header unless they hold escapes (serde's own
/// `Option<Cow<str>>` would always allocate).
#[derive(Deserialize)]
pub(crate) struct JoseHeader<'a> {
    #[serde(borrow)]
    pub(crate) alg: Cow<'a, str>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    pub(crate) kid: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    pub(crate) typ: Option<Cow<'a, str>>,
    /// Whether `crit` is present at all (even `null` or `[]`, both invalid):
    /// this crate understands no extension, so any `crit` rejects the token
    /// (RFC 7515 §4.1.11).
    #[serde(default, deserialize_with = "present")]
    pub(crate) crit: bool,
}

fn borrowed<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    Option::<CowStr<'de>>::deserialize(deserializer).map(|s| s.map(|s| s.0))
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// Compares two media types as RFC 7515 §4.1.9 asks: case-insensitively, with
/// the `application/` prefix optional.
pub(crate) fn same_media_type(a: &str, b: &str) -> bool {
    fn strip(s: &str) -> &str {
        const PREFIX: &str = "application/";
        match s.get(..PREFIX.len()) {
            Some(p) if p.eq_ignore_ascii_case(PREFIX) => &s[PREFIX.len()..],
            _ => s,
        }
    }
    strip(a).eq_ignore_ascii_case(strip(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_compare_like_rfc_7515() {
        assert!(same_media_type("JWT", "jwt"));
        assert!(same_media_type("application/jwt", "JWT"));
        assert!(same_media_type("at+jwt", "Application/AT+JWT"));
        assert!(!same_media_type("jwt", "at+jwt"));
        assert!(!same_media_type("", "jwt"));
    }

    #[test]
    fn crit_is_seen_whatever_its_value() {
        for header in [
            r#"{"alg":"HS256","crit":["exp"]}"#,
            r#"{"alg":"HS256","crit":[]}"#,
            r#"{"alg":"HS256","crit":null}"#,
        ] {
            let h: JoseHeader<'_> = serde_json::from_str(header).unwrap();
            assert!(h.crit, "{header}");
        }
        let h: JoseHeader<'_> = serde_json::from_str(r#"{"alg":"HS256"}"#).unwrap();
        assert!(!h.crit);
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let h: JoseHeader<'_> =
            serde_json::from_str(r#"{"alg":"RS256","kid":"k-1","typ":"JWT"}"#).unwrap();
        assert!(matches!(h.alg, Cow::Borrowed("RS256")));
        assert!(matches!(h.kid, Some(Cow::Borrowed("k-1"))));
        assert!(matches!(h.typ, Some(Cow::Borrowed("JWT"))));
        let h: JoseHeader<'_> =
            serde_json::from_str(r#"{"alg":"RS256","kid":"k\u002d1","typ":null}"#).unwrap();
        assert_eq!(h.kid.as_deref(), Some("k-1"));
        assert_eq!(h.typ, None);
        assert!(serde_json::from_str::<JoseHeader<'_>>(r#"{"alg":"RS256","kid":1}"#).is_err());
    }

    #[test]
    fn duplicate_parameters_are_an_error() {
        assert!(serde_json::from_str::<JoseHeader<'_>>(r#"{"alg":"HS256","alg":"none"}"#).is_err());
    }
}
