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

/// What the payload says about the registered claims, still unparsed, plus which
/// of the extra required claims are present (a bit each).
#[derive(Default)]
pub(crate) struct Registered<'a> {
    pub(crate) exp: Option<&'a RawValue>,
    pub(crate) nbf: Option<&'a RawValue>,
    pub(crate) iat: Option<&'a RawValue>,
    pub(crate) iss: Option<&'a RawValue>,
    pub(crate) aud: Option<&'a RawValue>,
    pub(crate) sub: Option<&'a RawValue>,
    pub(crate) extra_present: u64,
}

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
            let slot = match &*name {
                "exp" => &mut out.exp,
                "nbf" => &mut out.nbf,
                "iat" => &mut out.iat,
                "iss" => &mut out.iss,
                "aud" => &mut out.aud,
                "sub" => &mut out.sub,
                other => {
                    match self.extra.iter().position(|n| n == other) {
                        Some(i) => {
                            let value: &RawValue = map.next_value()?;
                            if value.get() != "null" {
                                out.extra_present |= 1 << i;
                            }
                        }
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    continue;
                }
            };
            if slot.is_some() {
                // RFC 7519 §4: a parser may reject duplicate names; for the claims
                // that decide validity it must, or two parsers could disagree.
                return Err(A::Error::custom("duplicate registered claim"));
            }
            let value: &RawValue = map.next_value()?;
            if value.get() != "null" {
                *slot = Some(value);
            }
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

fn wrong_type(claim: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidClaimType, claim)
}

/// A NumericDate (RFC 7519 §2): any JSON number, fractional or negative included.
pub(crate) fn numeric_date(raw: &RawValue, what: &'static str) -> Result<f64, AuthError> {
    serde_json::from_str::<serde_json::Number>(raw.get())
        .ok()
        .and_then(|n| n.as_f64())
        .ok_or_else(|| wrong_type(what))
}

/// A JSON string claim.
pub(crate) fn string_claim<'a>(
    raw: &'a RawValue,
    what: &'static str,
) -> Result<Cow<'a, str>, AuthError> {
    serde_json::from_str::<CowStr<'a>>(raw.get())
        .map(|s| s.0)
        .map_err(|_| wrong_type(what))
}

/// Whether `aud`, one string or an array of strings (RFC 7519 §4.1.3), names
/// one of the `accepted` audiences.
pub(crate) fn audience_accepted(raw: &RawValue, accepted: &[String]) -> Result<bool, AuthError> {
    let text = raw.get();
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
        let n = |s: &str| numeric_date(&RawValue::from_string(s.into()).unwrap(), "exp");
        assert_eq!(n("1700000000").unwrap(), 1_700_000_000.0);
        assert_eq!(n("1.5").unwrap(), 1.5);
        assert_eq!(n("-1").unwrap(), -1.0);
        assert!(n("\"1700000000\"").is_err());
        assert!(n("[1]").is_err());
        assert!(n("true").is_err());
    }
}
