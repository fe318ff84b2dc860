//! The JOSE header of a token, read without trusting anything in it.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};

use super::claims::CowStr;
use crate::error::{AuthError, AuthErrorKind};

/// The header parameters this crate acts on. Everything else (`jku`, `x5u`,
/// `jwk`, `x5c`, ...) is ignored: keys come from configuration only.
///
/// Strings borrow from the decoded header unless they hold escapes (serde's own
/// `Option<Cow<str>>` would always allocate).
pub(crate) struct JoseHeader<'a> {
    pub(crate) alg: Cow<'a, str>,
    pub(crate) kid: Option<Cow<'a, str>>,
    pub(crate) typ: Option<Cow<'a, str>>,
    /// Whether `crit` is present at all (even `null` or `[]`, both invalid):
    /// this crate understands no extension, so any `crit` rejects the token
    /// (RFC 7515 §4.1.11).
    pub(crate) crit: bool,
}

impl<'a> JoseHeader<'a> {
    /// Reads the header's JSON text.
    ///
    /// # Errors
    ///
    /// [`MalformedToken`](AuthErrorKind::MalformedToken): one of the
    /// parameters above given twice (named in the description: RFC 7515 §4
    /// lets a parser refuse duplicates, and for these it must, or two parsers
    /// could disagree), no string `alg`, a `kid` or `typ` that is not a
    /// string, or text that is not one JSON object.
    pub(crate) fn parse(json: &'a str) -> Result<Self, AuthError> {
        let duplicate = Cell::new(None);
        let mut deserializer = serde_json::Deserializer::from_str(json);
        HeaderSeed {
            duplicate: &duplicate,
        }
        .deserialize(&mut deserializer)
        .and_then(|header| deserializer.end().map(|()| header))
        .map_err(|e| {
            let description = duplicate.get().unwrap_or("header is not a JOSE header");
            AuthError::with_source(AuthErrorKind::MalformedToken, description, e)
        })
    }
}

/// Reads a [`JoseHeader`]; a parameter it reads given twice fails the read,
/// and its description goes into `duplicate`.
struct HeaderSeed<'c> {
    duplicate: &'c Cell<Option<&'static str>>,
}

impl<'de> DeserializeSeed<'de> for HeaderSeed<'_> {
    type Value = JoseHeader<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed<'_> {
    type Value = JoseHeader<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut alg = None;
        let mut kid = None;
        let mut typ = None;
        let mut crit = false;
        let twice = |description: &'static str| {
            self.duplicate.set(Some(description));
            A::Error::custom(description)
        };
        while let Some(CowStr(name)) = map.next_key::<CowStr<'de>>()? {
            match &*name {
                "alg" if alg.is_some() => return Err(twice("header parameter `alg` given twice")),
                "alg" => alg = Some(map.next_value::<CowStr<'de>>()?.0),
                // `None` once read: a `null` `kid` or `typ` is no value.
                "kid" if kid.is_some() => return Err(twice("header parameter `kid` given twice")),
                "kid" => kid = Some(map.next_value::<Option<CowStr<'de>>>()?.map(|s| s.0)),
                "typ" if typ.is_some() => return Err(twice("header parameter `typ` given twice")),
                "typ" => typ = Some(map.next_value::<Option<CowStr<'de>>>()?.map(|s| s.0)),
                "crit" if crit => return Err(twice("header parameter `crit` given twice")),
                "crit" => {
                    map.next_value::<IgnoredAny>()?;
                    crit = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(JoseHeader {
            alg: alg.ok_or_else(|| A::Error::missing_field("alg"))?,
            kid: kid.flatten(),
            typ: typ.flatten(),
            crit,
        })
    }
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
            let h = JoseHeader::parse(header).unwrap();
            assert!(h.crit, "{header}");
        }
        let h = JoseHeader::parse(r#"{"alg":"HS256"}"#).unwrap();
        assert!(!h.crit);
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let h = JoseHeader::parse(r#"{"alg":"RS256","kid":"k-1","typ":"JWT"}"#).unwrap();
        assert!(matches!(h.alg, Cow::Borrowed("RS256")));
        assert!(matches!(h.kid, Some(Cow::Borrowed("k-1"))));
        assert!(matches!(h.typ, Some(Cow::Borrowed("JWT"))));
        let h = JoseHeader::parse(r#"{"alg":"RS256","kid":"k\u002d1","typ":null}"#).unwrap();
        assert_eq!(h.kid.as_deref(), Some("k-1"));
        assert_eq!(h.typ, None);
        assert!(JoseHeader::parse(r#"{"alg":"RS256","kid":1}"#).is_err());
    }

    #[test]
    fn duplicate_parameters_are_refused_by_name() {
        let description = |header| JoseHeader::parse(header).err().map(|e| e.description());
        for (header, expected) in [
            (
                r#"{"alg":"HS256","alg":"none"}"#,
                "header parameter `alg` given twice",
            ),
            (
                r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
                "header parameter `kid` given twice",
            ),
            (
                r#"{"alg":"HS256","typ":null,"\u0074yp":"JWT"}"#,
                "header parameter `typ` given twice",
            ),
            (
                r#"{"alg":"HS256","crit":[],"crit":[]}"#,
                "header parameter `crit` given twice",
            ),
            (r#"{"kid":"a"}"#, "header is not a JOSE header"),
            (r#"{"alg":1}"#, "header is not a JOSE header"),
            (r#"{"alg":"HS256"} x"#, "header is not a JOSE header"),
            ("[]", "header is not a JOSE header"),
        ] {
            assert_eq!(description(header), Some(expected), "{header}");
        }
        // Other parameters may repeat: nothing here reads them.
        assert!(JoseHeader::parse(r#"{"alg":"HS256","x":1,"x":2}"#).is_ok());
    }
}
