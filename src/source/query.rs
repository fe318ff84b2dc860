//! Tokens in a query parameter, percent-decoded by `form_urlencoded`.

use std::borrow::Cow;

use http::Uri;

use crate::error::AuthError;

pub(super) fn each<'r>(
    uri: &'r Uri,
    name: &str,
    found: &mut impl FnMut(Cow<'r, str>) -> Result<(), AuthError>,
) -> Result<(), AuthError> {
    let Some(query) = uri.query() else {
        return Ok(());
    };
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == name && !value.is_empty() {
            found(value)?;
        }
    }
    Ok(())
}
