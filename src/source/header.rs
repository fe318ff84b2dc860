//! Tokens in a header, with or without an authentication scheme.

use std::borrow::Cow;

use http::HeaderMap;
use http::header::HeaderName;

use crate::error::{AuthError, AuthErrorKind};

fn malformed(what: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::MalformedRequest, what)
}

pub(super) fn each<'r>(
    headers: &'r HeaderMap,
    name: &HeaderName,
    scheme: Option<&str>,
    found: &mut impl FnMut(Cow<'r, str>) -> Result<(), AuthError>,
) -> Result<(), AuthError> {
    for value in headers.get_all(name) {
        let bytes = value.as_bytes();
        let credentials = match scheme {
            None => bytes,
            Some(scheme) => match strip_scheme(bytes, scheme.as_bytes()) {
                Some(rest) => rest,
                // Another scheme (say `Basic`) is not ours to judge.
                None => continue,
            },
        };
        let credentials = credentials.trim_ascii();
        if credentials.is_empty() {
            if scheme.is_some() {
                return Err(malformed("authorization scheme without a token"));
            }
            continue;
        }
        // A JWT is visible ASCII without spaces or commas; anything else here is
        // a malformed request, not a token to verify.
        // Without an early exit, so that the loop vectorizes: tokens are long.
        let usable = credentials
            .iter()
            .fold(true, |ok, b| ok & b.is_ascii_graphic() & (*b != b','));
        if !usable {
            return Err(malformed("the token header holds more than a token"));
        }
        let token = std::str::from_utf8(credentials)
            .map_err(|_| malformed("the token header is not ASCII"))?;
        found(Cow::Borrowed(token))?;
    }
    Ok(())
}

/// `Some(rest)` when `value` is `scheme`, case-insensitively, then a space or the
/// end of the value.
fn strip_scheme<'v>(value: &'v [u8], scheme: &[u8]) -> Option<&'v [u8]> {
    let (head, rest) = value.split_at_checked(scheme.len())?;
    if !head.eq_ignore_ascii_case(scheme) {
        return None;
    }
    match rest.first() {
        None | Some(b' ') => Some(rest),
        Some(_) => None,
    }
}
