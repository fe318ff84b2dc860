//! The confirmation claim (`cnf`, RFC 7800): what a sender-constrained token
//! is bound to. Read from the verified claims by the checks' seam
//! (`crate::checks`), so that a bound token is refused unless a configured
//! check proves the binding.
//!
//! Two confirmation methods are judged: `jkt`, the RFC 7638 thumbprint of the
//! DPoP key (RFC 9449 §6.1), and `x5t#S256`, the SHA-256 of the client
//! certificate (RFC 8705 §3.1). Other members of `cnf` (`jwk`, `kid`, ...) are
//! not a binding this crate can check, and are ignored.

use std::sync::LazyLock;

use memchr::memmem;
use serde::Deserialize;
use serde::de::{Error as _, IgnoredAny, MapAccess, Visitor};

use crate::error::{AuthError, AuthErrorKind};

/// What a token is bound to; at least one member is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Confirmation {
    /// `cnf.jkt`: the base64url SHA-256 thumbprint of the DPoP public key.
    pub(crate) jkt: Option<String>,
    /// `cnf["x5t#S256"]`: the base64url SHA-256 of the client certificate's DER.
    pub(crate) x5t_s256: Option<String>,
}

impl Confirmation {
    /// The binding of the claims `payload` (verified JSON), if it has one.
    ///
    /// Most tokens are not bound: a payload whose text holds neither `"cnf"`
    /// nor an escape (a name could be spelt with one) is decided by one
    /// search, without a parse.
    ///
    /// # Errors
    ///
    /// `cnf` given twice, not an object, or with a `jkt` or `x5t#S256` that
    /// is not a string ([`AuthErrorKind::InvalidClaimType`]), given twice
    /// ([`AuthErrorKind::MalformedToken`]).
    pub(crate) fn of(payload: &str) -> Result<Option<Self>, AuthError> {
        let bytes = payload.as_bytes();
        if CNF.find(bytes).is_none() && memchr::memchr(b'\\', bytes).is_none() {
            return Ok(None);
        }
        let top: TopLevel = serde_json::from_str(payload).map_err(|e| {
            let kind = if e.to_string().contains(TWICE) {
                AuthErrorKind::MalformedToken
            } else {
                AuthErrorKind::InvalidClaimType
            };
            AuthError::with_source(kind, describe(kind), e)
        })?;
        Ok(top.cnf.filter(|c| c.jkt.is_some() || c.x5t_s256.is_some()))
    }
}

/// The searcher for `"cnf"`, built once: `memmem::find` builds one on every
/// call (choosing rare bytes, setting up its vector and Two-Way searchers),
/// which cost more than the search itself over a typical payload.
static CNF: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"\"cnf\""));

/// The words of this module's own error for a member given twice.
const TWICE: &str = "given twice";

fn describe(kind: AuthErrorKind) -> &'static str {
    match kind {
        AuthErrorKind::MalformedToken => "claim `cnf` or a member of it given twice",
        _ => "claim `cnf` is not an object of strings",
    }
}

/// The top-level claims, of which only `cnf` is kept.
struct TopLevel {
    cnf: Option<Confirmation>,
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Top;
        impl<'de> Visitor<'de> for Top {
            type Value = TopLevel;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object of claims")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
                let mut cnf: Option<Option<Confirmation>> = None;
                while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if name == "cnf" {
                        if cnf.is_some() {
                            return Err(A::Error::custom(format_args!("claim `cnf` {TWICE}")));
                        }
                        cnf = Some(Some(map.next_value::<Confirmation>()?));
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(TopLevel { cnf: cnf.flatten() })
            }
        }
        deserializer.deserialize_map(Top)
    }
}

impl<'de> Deserialize<'de> for Confirmation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Cnf;
        impl<'de> Visitor<'de> for Cnf {
            type Value = Confirmation;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a confirmation object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Confirmation, A::Error> {
                let mut out = Confirmation {
                    jkt: None,
                    x5t_s256: None,
                };
                while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let slot = match name.as_ref() {
                        "jkt" => &mut out.jkt,
                        "x5t#S256" => &mut out.x5t_s256,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if slot.is_some() {
                        return Err(A::Error::custom(format_args!("a member of `cnf` {TWICE}")));
                    }
                    *slot = Some(map.next_value::<String>()?);
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(Cnf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(payload: &str) -> Result<Option<Confirmation>, AuthErrorKind> {
        Confirmation::of(payload).map_err(|e| e.kind())
    }

    #[test]
    fn most_tokens_are_not_bound() {
        assert_eq!(of(r#"{"sub":"a","exp":1}"#), Ok(None));
        // Other confirmation methods are not a binding checked here.
        assert_eq!(of(r#"{"cnf":{"kid":"k"}}"#), Ok(None));
        // A value that spells "cnf" is not the claim.
        assert_eq!(of(r#"{"sub":"\"cnf\"","x":{"cnf":{"jkt":"a"}}}"#), Ok(None));
    }

    #[test]
    fn jkt_and_x5t_are_read() {
        let both = of(r#"{"sub":"a","cnf":{"jkt":"J","x5t#S256":"X","jwk":{}}}"#).unwrap();
        assert_eq!(
            both,
            Some(Confirmation {
                jkt: Some("J".into()),
                x5t_s256: Some("X".into())
            })
        );
        // A name spelt with an escape is the same name.
        let escaped = of(r#"{"\u0063nf":{"jkt":"J"}}"#).unwrap();
        assert_eq!(escaped.and_then(|c| c.jkt).as_deref(), Some("J"));
    }

    #[test]
    fn hostile_confirmations_are_refused() {
        assert_eq!(
            of(r#"{"cnf":{"jkt":"a"},"cnf":{}}"#),
            Err(AuthErrorKind::MalformedToken)
        );
        assert_eq!(
            of(r#"{"cnf":{"jkt":"a","jkt":"b"}}"#),
            Err(AuthErrorKind::MalformedToken)
        );
        for bad in [
            r#"{"cnf":"a"}"#,
            r#"{"cnf":{"jkt":1}}"#,
            r#"{"cnf":{"x5t#S256":null}}"#,
            r#"{"cnf":[]}"#,
        ] {
            assert_eq!(of(bad), Err(AuthErrorKind::InvalidClaimType), "{bad}");
        }
    }
}
