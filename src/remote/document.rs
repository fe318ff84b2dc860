//! A fetched JWK Set document, read into the keys it offers.

use crate::ConfigError;
use crate::key::KeySet;
use jsonwebtoken::AlgorithmFamily;

use super::error::{RemoteKeyError, RemoteKeyErrorKind};

/// The usable keys of `document`, a JWK Set of at most `max_keys` keys.
///
/// Keys that cannot verify signatures here are skipped as by
/// [`KeySet::from_json`] (other key types and curves, `use` other than `sig`),
/// and so are symmetric (`oct`) keys: a secret published at a URL is no
/// secret, and a token signed with it proves nothing. The document is refused
/// as a whole when it is not a JWK Set, holds more than `max_keys` keys, or no
/// usable one. The caller adds the URL to the error.
pub(super) fn key_set(document: &[u8], max_keys: usize) -> Result<KeySet, RemoteKeyError> {
    let mut set = KeySet::from_json(document).map_err(|e| {
        let error = RemoteKeyError::new(
            RemoteKeyErrorKind::InvalidDocument,
            "not a JWK Set (a JSON object with a `keys` array)",
        );
        match e {
            ConfigError::InvalidJwkSet(json) => error.with_source(json),
            other => error.with_source(other),
        }
    })?;
    let total = set.keys().len() + set.skipped();
    if total > max_keys {
        return Err(RemoteKeyError::new(
            RemoteKeyErrorKind::TooManyKeys,
            format!("the JWK Set holds {total} keys, more than the limit of {max_keys}"),
        ));
    }
    set.retain(|key| key.family() != AlgorithmFamily::Hmac);
    if set.keys().is_empty() {
        return Err(RemoteKeyError::new(
            RemoteKeyErrorKind::NoUsableKeys,
            format!("none of the JWK Set's {total} keys can verify signatures here"),
        ));
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"ckrClkEXyQGlvNDU5x6jA5O-R7gy9EYmVnM3Tpafpw8","kid":"ed"}"#;

    fn kind(document: &str, max_keys: usize) -> RemoteKeyErrorKind {
        key_set(document.as_bytes(), max_keys).unwrap_err().kind()
    }

    #[test]
    fn usable_keys_are_kept_and_the_others_counted() {
        let document = format!(
            r#"{{"keys":[{ED},{{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA","kid":"hmac"}},{{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}},{{"kty":"what"}}]}}"#
        );
        let set = key_set(document.as_bytes(), 4).unwrap();
        assert_eq!(set.keys().len(), 1);
        assert_eq!(set.keys()[0].kid(), Some("ed"));
        assert_eq!(set.skipped(), 3);
    }

    #[test]
    fn wrong_shapes_too_many_or_no_usable_keys_are_refused() {
        use RemoteKeyErrorKind::*;
        assert_eq!(kind("", 64), InvalidDocument);
        assert_eq!(kind("<html>", 64), InvalidDocument);
        assert_eq!(kind("[]", 64), InvalidDocument);
        assert_eq!(kind(r#"{"keys":{}}"#, 64), InvalidDocument);
        assert_eq!(
            kind(&format!(r#"{{"keys":[{ED},{ED},{ED}]}}"#), 2),
            TooManyKeys
        );
        // Unusable keys count towards the limit: they cost work too.
        assert_eq!(
            kind(&format!(r#"{{"keys":[{ED},{{}},{{}}]}}"#), 2),
            TooManyKeys
        );
        assert_eq!(kind(r#"{"keys":[]}"#, 64), NoUsableKeys);
        assert_eq!(
            kind(
                r#"{"keys":[{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}"#,
                64
            ),
            NoUsableKeys
        );
        key_set(format!(r#"{{"keys":[{ED},{ED}]}}"#).as_bytes(), 2).unwrap();
    }
}
