//! Tokens in a cookie, read with the `cookie` crate's parser.

use std::borrow::Cow;

use http::HeaderMap;
use http::header::COOKIE;

use crate::error::AuthError;

pub(super) fn each<'r>(
    headers: &'r HeaderMap,
    name: &str,
    found: &mut impl FnMut(Cow<'r, str>) -> Result<(), AuthError>,
) -> Result<(), AuthError> {
    // HTTP/2 may split cookies over several headers (RFC 9113 §8.2.3).
    for value in headers.get_all(COOKIE) {
        // Other cookies with odd bytes are not ours to judge: skip the header.
        let Ok(value) = std::str::from_utf8(value.as_bytes()) else {
            continue;
        };
        for cookie in cookie::Cookie::split_parse(value).flatten() {
            if cookie.name() != name {
                continue;
            }
            // The raw value borrows from the header; a quoted value is unquoted.
            let raw = cookie.value_raw().unwrap_or_default();
            let value = raw
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(raw);
            if !value.is_empty() {
                found(Cow::Borrowed(value))?;
            }
        }
    }
    Ok(())
}

/// RFC 6265 §4.1.1: a cookie name is an RFC 7230 token.
pub(super) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
