//! Finding an issuer's metadata: its well-known URLs (`url::metadata_urls`:
//! RFC 8414, then OpenID Connect inserted, then OpenID Connect appended)
//! tried in order, until one has a document; and the JWK Set's URL from it.

use super::error::{RemoteKeyError, RemoteKeyErrorKind};
use super::fetch::{ACCEPT_JSON, Fetcher, Lookup};
use super::metadata::AuthorizationServerMetadata;
use super::url::Target;

/// The metadata of `issuer`, from the first of `urls` that has a document.
///
/// A URL that answers "not here" (a `4xx` other than `408` and `429`, or a
/// `200 OK` that is not JSON; see `fetch::is_absent`) sends the search to the
/// next. Anything else ends it: a transport error, a `5xx`, a redirect, an
/// oversized or malformed document are errors (the caller retries later), not
/// a reason to look elsewhere, so that a provider's bad minute never makes
/// the set settle on another document than the one it serves when well.
/// The caller bounds the time of the whole search.
pub(super) async fn find_metadata(
    fetcher: &Fetcher,
    issuer: &str,
    urls: &[Target],
) -> Result<AuthorizationServerMetadata, RemoteKeyError> {
    let mut absent = Vec::with_capacity(urls.len());
    for url in urls {
        match fetcher.look_up(url, ACCEPT_JSON).await? {
            // The first document found decides, even when it speaks for
            // another issuer (`read` refuses it then): RFC 8414 §3.3 says its
            // data MUST NOT be used, and the fallback is for a document that
            // is absent, not for one that is wrong. Looking further would
            // let the answers of the later URLs (on a shared host, a path
            // someone else may control) pick the keys, and would hide a
            // misconfigured or hijacked provider instead of saying so.
            Lookup::Found(answer) => {
                return AuthorizationServerMetadata::read(&answer.body, issuer, url);
            }
            Lookup::Absent(why) => absent.push(why),
        }
    }
    Err(nowhere(&absent))
}

/// The error when no URL had a document: each URL and its answer. Its kind
/// is the last answer's (`Status`, or `InvalidDocument` for one that was not
/// JSON).
fn nowhere(absent: &[RemoteKeyError]) -> RemoteKeyError {
    let kind = absent
        .last()
        .map_or(RemoteKeyErrorKind::Status, RemoteKeyError::kind);
    let answers: Vec<String> = absent.iter().map(ToString::to_string).collect();
    RemoteKeyError::new(
        kind,
        format!(
            "no authorization server metadata at any well-known URL of the issuer: {}",
            answers.join("; ")
        ),
    )
}

/// The `jwks_uri` of `metadata`, checked like any configured URL.
pub(super) fn jwks_target(
    metadata: &AuthorizationServerMetadata,
    allow_http: bool,
) -> Result<Target, RemoteKeyError> {
    let Some(jwks_uri) = metadata.jwks_uri() else {
        return Err(RemoteKeyError::new(
            RemoteKeyErrorKind::InvalidDocument,
            "the authorization server metadata has no `jwks_uri`",
        )
        .with_url(&metadata.url().into()));
    };
    Target::parse(jwks_uri, allow_http)
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
        let metadata =
            AuthorizationServerMetadata::read(body.as_bytes(), "https://idp.example", &document)?;
        jwks_target(&metadata, false)
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
            kind(r#"{"issuer":"https://idp.example","jwks_uri":"/jwks"}"#),
            RemoteKeyErrorKind::InvalidUrl
        );
        assert_eq!(
            kind(r#"{"issuer":"https://idp.example"}"#),
            RemoteKeyErrorKind::InvalidDocument
        );
        assert_eq!(kind("<html>"), RemoteKeyErrorKind::InvalidDocument);
    }

    #[test]
    fn nowhere_names_every_url_and_its_answer() {
        let url = |text: &str| Target::parse(text, false).unwrap().text;
        let absent = [
            RemoteKeyError::new(
                RemoteKeyErrorKind::Status,
                "answered 404 Not Found, not 200 OK",
            )
            .with_url(&url(
                "https://as.example/.well-known/oauth-authorization-server",
            )),
            RemoteKeyError::new(
                RemoteKeyErrorKind::InvalidDocument,
                "Content-Type \"text/html\" is not JSON",
            )
            .with_url(&url("https://as.example/.well-known/openid-configuration")),
        ];
        let error = nowhere(&absent);
        assert_eq!(error.kind(), RemoteKeyErrorKind::InvalidDocument);
        let shown = error.to_string();
        assert!(
            shown.contains("oauth-authorization-server: answered 404"),
            "{shown}"
        );
        assert!(
            shown.contains("openid-configuration: Content-Type"),
            "{shown}"
        );
    }
}
