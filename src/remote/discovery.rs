//! OpenID Connect discovery: the JWK Set's URL from the issuer's
//! configuration document (OpenID Connect Discovery 1.0 §4).

use serde::Deserialize;

use super::error::{RemoteKeyError, RemoteKeyErrorKind};
use super::url::Target;

/// The two members read; the others are not this crate's business.
#[derive(Deserialize)]
struct Configuration {
    issuer: String,
    jwks_uri: String,
}

/// The `jwks_uri` of the discovery document `body`, fetched from `document`
/// for `issuer`: refused unless the document's `issuer` is exactly `issuer`
/// (§4.3: otherwise a document could speak for another issuer), and checked
/// like any configured URL.
pub(super) fn jwks_target(
    body: &[u8],
    issuer: &str,
    document: &Target,
    allow_http: bool,
) -> Result<Target, RemoteKeyError> {
    let configuration: Configuration = serde_json::from_slice(body).map_err(|e| {
        RemoteKeyError::new(
            RemoteKeyErrorKind::InvalidDocument,
            "not an OpenID Connect discovery document with `issuer` and `jwks_uri`",
        )
        .with_url(&document.text)
        .with_source(e)
    })?;
    if configuration.issuer != issuer {
        return Err(RemoteKeyError::new(
            RemoteKeyErrorKind::IssuerMismatch,
            format!(
                "the discovery document's issuer {:?} is not {issuer:?}",
                configuration.issuer
            ),
        )
        .with_url(&document.text));
    }
    Target::parse(&configuration.jwks_uri, allow_http)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(body: &str) -> Result<Target, RemoteKeyError> {
        let document = Target::parse(
            "https://idp.example/.well-known/openid-configuration",
            false,
        )
        .unwrap();
        jwks_target(body.as_bytes(), "https://idp.example", &document, false)
    }

    #[test]
    fn the_jwks_uri_of_the_same_issuer_is_taken() {
        let found = target(
            r#"{"issuer":"https://idp.example","jwks_uri":"https://keys.idp.example/jwks","token_endpoint":"x"}"#,
        )
        .unwrap();
        assert_eq!(&*found.text, "https://keys.idp.example/jwks");
    }

    #[test]
    fn another_issuer_a_bad_jwks_uri_or_a_wrong_shape_is_refused() {
        let kind = |body| target(body).unwrap_err().kind();
        // Exactly: not even a trailing slash differs.
        assert_eq!(
            kind(r#"{"issuer":"https://idp.example/","jwks_uri":"https://idp.example/jwks"}"#),
            RemoteKeyErrorKind::IssuerMismatch
        );
        assert_eq!(
            kind(r#"{"issuer":"https://evil.example","jwks_uri":"https://idp.example/jwks"}"#),
            RemoteKeyErrorKind::IssuerMismatch
        );
        assert_eq!(
            kind(r#"{"issuer":"https://idp.example","jwks_uri":"http://idp.example/jwks"}"#),
            RemoteKeyErrorKind::InvalidUrl
        );
        assert_eq!(
            kind(r#"{"issuer":"https://idp.example"}"#),
            RemoteKeyErrorKind::InvalidDocument
        );
        assert_eq!(kind("<html>"), RemoteKeyErrorKind::InvalidDocument);
    }
}
