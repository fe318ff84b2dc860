//! Finding the token field in a buffered form body.
//!
//! Only the token field is judged strictly: its name and value must be valid
//! percent-encoding of UTF-8 (`+` is a space, as in every form). Other fields
//! are the application's business and are left alone, so a legacy form with a
//! non-UTF-8 field still reaches its handler.

use std::borrow::Cow;

use bytes::Bytes;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use percent_encoding::percent_decode;

use crate::error::{AuthError, AuthErrorKind};

/// The form encodings the form source reads.
pub(crate) enum FormKind {
    UrlEncoded,
    #[cfg(feature = "multipart")]
    Multipart(String),
}

/// The longest multipart boundary (RFC 2046 §5.1.1: 1 to 70 characters).
#[cfg(feature = "multipart")]
const MAX_BOUNDARY: usize = 70;

/// The form encoding of a request, from its `Content-Type`, when it is one the
/// form source reads; `Some(Err)` for a `multipart/form-data` whose boundary
/// is empty or longer than 70 characters (RFC 2046 §5.1.1), or whose
/// parameters do not parse, which is refused before a byte of the body is
/// read. Without any boundary it is not a form this source can read, as
/// before.
pub(crate) fn form_kind(headers: &HeaderMap) -> Option<Result<FormKind, AuthError>> {
    let content_type = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = content_type.split(';').next()?.trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Some(Ok(FormKind::UrlEncoded));
    }
    #[cfg(feature = "multipart")]
    if essence.eq_ignore_ascii_case("multipart/form-data") {
        let bad = || malformed("the multipart boundary is empty or over 70 characters");
        return match multer::parse_boundary(content_type) {
            Ok(boundary) if (1..=MAX_BOUNDARY).contains(&boundary.len()) => {
                Some(Ok(FormKind::Multipart(boundary)))
            }
            Err(multer::Error::NoBoundary) => None,
            Ok(_) | Err(_) => Some(Err(bad())),
        };
    }
    None
}

fn malformed(what: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::MalformedForm, what)
}

/// Collects the one token of the form: repeated fields must agree, empty ones
/// are absent.
#[derive(Default)]
struct OneToken(Option<String>);

impl OneToken {
    fn offer(&mut self, value: Cow<'_, str>) -> Result<(), AuthError> {
        match &self.0 {
            _ if value.is_empty() => Ok(()),
            Some(first) if *first != value => Err(AuthError::new(
                AuthErrorKind::MultipleTokens,
                "more than one token in the request",
            )),
            Some(_) => Ok(()),
            None => {
                self.0 = Some(value.into_owned());
                Ok(())
            }
        }
    }
}

/// The value of field `name` in `body`, or `None`.
pub(crate) fn form_field(
    kind: &FormKind,
    body: &Bytes,
    name: &str,
) -> Result<Option<String>, AuthError> {
    match kind {
        FormKind::UrlEncoded => urlencoded_field(body, name),
        #[cfg(feature = "multipart")]
        FormKind::Multipart(boundary) => multipart_field(body, boundary, name),
    }
}

fn urlencoded_field(body: &[u8], name: &str) -> Result<Option<String>, AuthError> {
    let mut token = OneToken::default();
    // memchr: forms can be large, and the token is often not their first field.
    let mut start = 0;
    let ends = memchr::memchr_iter(b'&', body).chain([body.len()]);
    for end in ends {
        let pair = &body[start..end];
        start = end + 1;
        let (key, value) = match memchr::memchr(b'=', pair) {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        // A key that does not decode cannot be `name`.
        if decode(key).ok().as_deref() != Some(name) {
            continue;
        }
        token.offer(decode(value)?)?;
    }
    Ok(token.0)
}

/// Strict `application/x-www-form-urlencoded` decoding of one name or value.
fn decode(raw: &[u8]) -> Result<Cow<'_, str>, AuthError> {
    let mut rest = raw;
    while let Some(i) = memchr::memchr(b'%', rest) {
        match rest.get(i + 1..i + 3) {
            Some([a, b]) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => {
                rest = &rest[i + 3..];
            }
            _ => return Err(malformed("invalid percent-encoding in the token field")),
        }
    }
    let spaced: Cow<'_, [u8]> = if memchr::memchr(b'+', raw).is_some() {
        Cow::Owned(
            raw.iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(raw)
    };
    let text = match spaced {
        Cow::Borrowed(raw) => percent_decode(raw).decode_utf8(),
        Cow::Owned(raw) => percent_decode(&raw)
            .decode_utf8()
            .map(|s| Cow::Owned(s.into_owned())),
    };
    text.map_err(|_| malformed("the token field is not UTF-8"))
}

#[cfg(feature = "multipart")]
fn multipart_field(body: &Bytes, boundary: &str, name: &str) -> Result<Option<String>, AuthError> {
    use futures_util::FutureExt as _;

    let broken = |e: multer::Error| {
        AuthError::with_source(AuthErrorKind::MalformedForm, "invalid multipart body", e)
    };
    let chunks = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(body.clone())]);
    let mut multipart = multer::Multipart::new(chunks, boundary);
    let mut token = OneToken::default();
    // The whole body is in memory, so every future is ready at once.
    let incomplete = || malformed("invalid multipart body");
    while let Some(field) = multipart
        .next_field()
        .now_or_never()
        .ok_or_else(incomplete)?
        .map_err(broken)?
    {
        if field.name() != Some(name) {
            continue;
        }
        let value = field
            .bytes()
            .now_or_never()
            .ok_or_else(incomplete)?
            .map_err(broken)?;
        let value =
            std::str::from_utf8(&value).map_err(|_| malformed("the token field is not UTF-8"))?;
        token.offer(Cow::Borrowed(value))?;
    }
    Ok(token.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(body: &str) -> Result<Option<String>, AuthErrorKind> {
        urlencoded_field(body.as_bytes(), "token").map_err(|e| e.kind())
    }

    #[test]
    fn the_token_field_is_found_anywhere() {
        assert_eq!(field("token=a.b.c"), Ok(Some("a.b.c".into())));
        assert_eq!(field("x=1&token=a.b.c&y=2"), Ok(Some("a.b.c".into())));
        assert_eq!(field("x=1&tok%65n=a%2Eb.c"), Ok(Some("a.b.c".into())));
        assert_eq!(field("x=1&y=2"), Ok(None));
        assert_eq!(field(""), Ok(None));
        assert_eq!(field("token="), Ok(None));
        assert_eq!(field("token"), Ok(None));
        assert_eq!(field("token=a+b"), Ok(Some("a b".into())));
    }

    #[test]
    fn repeated_fields_must_agree() {
        assert_eq!(field("token=a&token=a"), Ok(Some("a".into())));
        assert_eq!(field("token=a&token="), Ok(Some("a".into())));
        assert_eq!(field("token=a&token=b"), Err(AuthErrorKind::MultipleTokens));
    }

    #[test]
    fn the_token_field_is_decoded_strictly_and_others_are_left_alone() {
        assert_eq!(field("token=a%zz"), Err(AuthErrorKind::MalformedForm));
        assert_eq!(field("token=a%2"), Err(AuthErrorKind::MalformedForm));
        assert_eq!(field("token=%FF"), Err(AuthErrorKind::MalformedForm));
        assert_eq!(field("other=%FF&x=%zz&token=a"), Ok(Some("a".into())));
    }

    fn kind_of(content_type: &str) -> Option<Result<FormKind, AuthError>> {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, content_type.parse().unwrap());
        form_kind(&h)
    }

    #[test]
    fn form_kinds_come_from_the_content_type() {
        let kind = |ct: &str| kind_of(ct).map(|k| matches!(k, Ok(FormKind::UrlEncoded)));
        assert_eq!(kind("application/x-www-form-urlencoded"), Some(true));
        assert_eq!(
            kind("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            Some(true)
        );
        assert_eq!(kind("application/json"), None);
        assert_eq!(kind("text/plain"), None);
    }

    #[cfg(feature = "multipart")]
    #[test]
    fn a_multipart_boundary_has_1_to_70_characters() {
        let boundary = |ct: &str| match kind_of(ct) {
            Some(Ok(FormKind::Multipart(boundary))) => Ok(boundary),
            Some(Err(e)) => Err(e.kind()),
            _ => panic!("{ct}: not a multipart form"),
        };
        let seventy = "b".repeat(70);
        for (content_type, expected) in [
            (
                "multipart/form-data; boundary=XyZ".to_owned(),
                Ok("XyZ".to_owned()),
            ),
            (
                "Multipart/Form-Data; boundary=\"a b\"".to_owned(),
                Ok("a b".to_owned()),
            ),
            (
                format!("multipart/form-data; boundary={seventy}"),
                Ok(seventy.clone()),
            ),
            (
                format!("multipart/form-data; boundary={seventy}b"),
                Err(AuthErrorKind::MalformedForm),
            ),
            (
                "multipart/form-data; boundary=".to_owned(),
                Err(AuthErrorKind::MalformedForm),
            ),
            (
                "multipart/form-data; boundary=\"\"".to_owned(),
                Err(AuthErrorKind::MalformedForm),
            ),
        ] {
            assert_eq!(boundary(&content_type), expected, "{content_type}");
        }
        // No boundary at all: not a form this source reads.
        assert!(kind_of("multipart/form-data").is_none());
        assert!(kind_of("multipart/form-data; charset=utf-8").is_none());
    }
}
