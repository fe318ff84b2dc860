//! [`IdentitySpans`]: where the claims that identify a token (`jti`, `sub`,
//! `iss`, `iat`, `exp`) sit in its claims' JSON text, as the verifier read
//! them. The revocation check builds the token's `TokenInfo` from them
//! instead of parsing the claims a second time, which cost a revocation
//! check more than the rest of it together.

use super::Registered;

/// Where each of the five claims' JSON values is in the claims text; an empty
/// span for a claim that is absent or `null`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct IdentitySpans {
    pub(crate) jti: Span,
    pub(crate) sub: Span,
    pub(crate) iss: Span,
    pub(crate) iat: Span,
    pub(crate) exp: Span,
}

/// A byte range of the claims text; `len == 0` for none (no JSON value is
/// empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// Where `value`, a slice of `text`, starts and ends in it; `None` when it
    /// is not one, or beyond `u32`.
    fn of(text: &str, value: Option<&str>) -> Option<Self> {
        let Some(value) = value else {
            return Some(Self::default());
        };
        // Addresses only compared, never dereferenced: `value` is a slice of
        // `text` (the readers' values are), so it lies within it; `get`
        // slices with checks all the same.
        let start = (value.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
        if start + value.len() > text.len() {
            return None;
        }
        Some(Self {
            start: u32::try_from(start).ok()?,
            len: u32::try_from(value.len()).ok()?,
        })
    }

    /// The JSON value in `text`, the claims text these spans were read from.
    pub(crate) fn get(self, text: &str) -> Option<&str> {
        if self.len == 0 {
            return None;
        }
        let start = self.start as usize;
        text.get(start..start + self.len as usize)
    }
}

impl IdentitySpans {
    /// The spans of `registered`, read from `text`; `None` when one of the
    /// five claims was named twice (the revocation check then reads the
    /// claims itself, and refuses them).
    pub(in crate::verify) fn of(text: &str, registered: &Registered<'_>) -> Option<Self> {
        if registered.identity_twice {
            return None;
        }
        Some(Self {
            jti: Span::of(text, registered.jti)?,
            sub: Span::of(text, registered.sub)?,
            iss: Span::of(text, registered.iss)?,
            iat: Span::of(text, registered.iat)?,
            exp: Span::of(text, registered.exp)?,
        })
    }
}

#[cfg(test)]
impl IdentitySpans {
    /// The spans as the verifier finds them in `text`: its quick scan, else
    /// its full reader; `None` when neither reads it.
    pub(crate) fn read(text: &str) -> Option<Self> {
        let registered =
            super::scan(text, &[]).or_else(|| super::read_registered(text, &[]).ok())?;
        Self::of(text, &registered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::claims::{read_registered, scan};

    #[test]
    fn spans_point_at_the_values_both_readers_found() {
        let text = r#"{ "jti" : "a\"b", "sub":"ada","iss":null,"iat":1.5,"x":{"jti":1},"exp":9}"#;
        for registered in [
            scan(text, &[]).unwrap(),
            read_registered(text, &[]).ok().unwrap(),
        ] {
            let spans = IdentitySpans::of(text, &registered).unwrap();
            assert_eq!(spans.jti.get(text), Some(r#""a\"b""#));
            assert_eq!(spans.sub.get(text), Some(r#""ada""#));
            assert_eq!(spans.iss.get(text), None);
            assert_eq!(spans.iat.get(text), Some("1.5"));
            assert_eq!(spans.exp.get(text), Some("9"));
        }
    }

    #[test]
    fn a_claim_named_twice_gives_no_spans() {
        for text in [
            r#"{"jti":"a","jti":"b"}"#,
            r#"{"jti":null,"jti":"b"}"#,
            r#"{"sub":null,"sub":"b"}"#,
            r#"{"iss":null,"iss":"b"}"#,
            r#"{"iat":null,"iat":1}"#,
            r#"{"exp":null,"exp":1}"#,
        ] {
            let registered = scan(text, &[]).unwrap();
            assert_eq!(IdentitySpans::of(text, &registered), None, "{text}");
        }
        // Named once each, whatever else is named twice elsewhere.
        let text = r#"{"jti":"a","sub":"b","iss":"c","iat":1,"exp":2,"x":1,"x":2}"#;
        assert!(IdentitySpans::of(text, &scan(text, &[]).unwrap()).is_some());
    }

    #[test]
    fn a_value_from_another_text_gives_no_span() {
        let text = r#"{"jti":"a"}"#;
        let other = String::from(r#""a""#);
        assert_eq!(Span::of(text, Some(&other)), None);
        assert_eq!(Span::of(text, None), Some(Span::default()));
    }
}
