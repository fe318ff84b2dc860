//! [`AuthorizationServerMetadata`]: an authorization server's metadata
//! document (RFC 8414 §2, or OpenID Connect Discovery 1.0 §3), read and
//! checked against the issuer it was fetched for.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::{RemoteKeyError, RemoteKeyErrorKind};
use super::url::Target;

/// An authorization server's metadata: RFC 8414 §2 (which OpenID Connect
/// Discovery's document extends), found by
/// [`AuthorizationServerMetadata::discover`] or by
/// [`RemoteKeySet::discover`](crate::RemoteKeySet::discover) (then read it
/// with [`RemoteKeySet::metadata`](crate::RemoteKeySet::metadata)).
///
/// Its [`issuer`](Self::issuer) is exactly the issuer it was fetched for
/// (RFC 8414 §3.3): a document naming another is never made into one. The
/// members below are typed; any other (a provider's own, or one this crate
/// does not name yet) is in [`document`](Self::document). A member of the
/// wrong JSON type is refused with the whole document; `null` is absent.
///
/// The endpoint URLs are as the document says them: a client that calls one
/// (with a client secret, say) should hold it to the rules a
/// [`RemoteKeySet`](crate::RemoteKeySet) applies to `jwks_uri` (`https://`).
#[derive(Clone, Debug)]
pub struct AuthorizationServerMetadata {
    url: Arc<str>,
    members: Members,
    document: Map<String, Value>,
}

/// The members read into types; `None` when absent or `null`.
#[derive(Clone, Debug, Deserialize)]
struct Members {
    issuer: String,
    jwks_uri: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    introspection_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    registration_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    scopes_supported: Option<Vec<String>>,
    response_types_supported: Option<Vec<String>>,
    grant_types_supported: Option<Vec<String>>,
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    introspection_endpoint_auth_methods_supported: Option<Vec<String>>,
    introspection_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    code_challenge_methods_supported: Option<Vec<String>>,
    dpop_signing_alg_values_supported: Option<Vec<String>>,
    tls_client_certificate_bound_access_tokens: Option<bool>,
}

impl AuthorizationServerMetadata {
    /// Reads the document `body`, fetched from `url` for `issuer`.
    ///
    /// Refused when it is not a JSON object, when a member read here has the
    /// wrong type (`issuer` must be a string), and when its `issuer` is not
    /// exactly `issuer` (RFC 8414 §3.3, OpenID Connect Discovery §4.3: not
    /// even a trailing `/` may differ; otherwise a document could speak for
    /// another issuer).
    pub(super) fn read(body: &[u8], issuer: &str, url: &Target) -> Result<Self, RemoteKeyError> {
        let invalid = |detail: &'static str| {
            RemoteKeyError::new(RemoteKeyErrorKind::InvalidDocument, detail).with_url(&url.text)
        };
        let value: Value =
            serde_json::from_slice(body).map_err(|e| invalid("not JSON").with_source(e))?;
        let members = Members::deserialize(&value).map_err(|e| {
            invalid("not authorization server metadata (an object with a string `issuer`)")
                .with_source(e)
        })?;
        let Value::Object(document) = value else {
            // serde also reads a struct from an array of every member in
            // order: no metadata document looks like that.
            return Err(invalid("not a JSON object"));
        };
        if members.issuer != issuer {
            return Err(RemoteKeyError::new(
                RemoteKeyErrorKind::IssuerMismatch,
                format!(
                    "the metadata's issuer {:?} is not {issuer:?}",
                    members.issuer
                ),
            )
            .with_url(&url.text));
        }
        Ok(Self {
            url: Arc::clone(&url.text),
            members,
            document,
        })
    }

    /// The URL the document was fetched from: which of the well-known
    /// locations answered.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `issuer`: exactly the issuer it was fetched for.
    pub fn issuer(&self) -> &str {
        &self.members.issuer
    }

    /// `jwks_uri`: the authorization server's JWK Set. Optional in RFC 8414
    /// (a server that signs nothing has none), required by OpenID Connect.
    pub fn jwks_uri(&self) -> Option<&str> {
        self.members.jwks_uri.as_deref()
    }

    /// `authorization_endpoint`.
    pub fn authorization_endpoint(&self) -> Option<&str> {
        self.members.authorization_endpoint.as_deref()
    }

    /// `token_endpoint`.
    pub fn token_endpoint(&self) -> Option<&str> {
        self.members.token_endpoint.as_deref()
    }

    /// `introspection_endpoint` (RFC 7662): where a resource server asks
    /// whether an opaque token is active.
    pub fn introspection_endpoint(&self) -> Option<&str> {
        self.members.introspection_endpoint.as_deref()
    }

    /// `revocation_endpoint` (RFC 7009).
    pub fn revocation_endpoint(&self) -> Option<&str> {
        self.members.revocation_endpoint.as_deref()
    }

    /// `registration_endpoint` (RFC 7591, dynamic client registration).
    pub fn registration_endpoint(&self) -> Option<&str> {
        self.members.registration_endpoint.as_deref()
    }

    /// `userinfo_endpoint` (OpenID Connect).
    pub fn userinfo_endpoint(&self) -> Option<&str> {
        self.members.userinfo_endpoint.as_deref()
    }

    /// `scopes_supported`.
    pub fn scopes_supported(&self) -> Option<&[String]> {
        self.members.scopes_supported.as_deref()
    }

    /// `response_types_supported`.
    pub fn response_types_supported(&self) -> Option<&[String]> {
        self.members.response_types_supported.as_deref()
    }

    /// `grant_types_supported`.
    pub fn grant_types_supported(&self) -> Option<&[String]> {
        self.members.grant_types_supported.as_deref()
    }

    /// `token_endpoint_auth_methods_supported`.
    pub fn token_endpoint_auth_methods_supported(&self) -> Option<&[String]> {
        self.members
            .token_endpoint_auth_methods_supported
            .as_deref()
    }

    /// `introspection_endpoint_auth_methods_supported`: how a resource
    /// server may authenticate to the introspection endpoint
    /// (`client_secret_basic`, `private_key_jwt`, ...).
    pub fn introspection_endpoint_auth_methods_supported(&self) -> Option<&[String]> {
        self.members
            .introspection_endpoint_auth_methods_supported
            .as_deref()
    }

    /// `introspection_endpoint_auth_signing_alg_values_supported`.
    pub fn introspection_endpoint_auth_signing_alg_values_supported(&self) -> Option<&[String]> {
        self.members
            .introspection_endpoint_auth_signing_alg_values_supported
            .as_deref()
    }

    /// `code_challenge_methods_supported` (PKCE, RFC 7636).
    pub fn code_challenge_methods_supported(&self) -> Option<&[String]> {
        self.members.code_challenge_methods_supported.as_deref()
    }

    /// `dpop_signing_alg_values_supported` (RFC 9449 §5.1): the algorithms
    /// of the DPoP proofs the server accepts.
    pub fn dpop_signing_alg_values_supported(&self) -> Option<&[String]> {
        self.members.dpop_signing_alg_values_supported.as_deref()
    }

    /// `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.3).
    pub fn tls_client_certificate_bound_access_tokens(&self) -> Option<bool> {
        self.members.tls_client_certificate_bound_access_tokens
    }

    /// Any member, by name, as the document has it: for members without a
    /// method here.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.document.get(name)
    }

    /// The whole document, as fetched.
    pub fn document(&self) -> &Map<String, Value> {
        &self.document
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://as.example/tenant1";

    fn read(body: &str) -> Result<AuthorizationServerMetadata, RemoteKeyError> {
        let url = Target::parse(
            "https://as.example/.well-known/oauth-authorization-server/tenant1",
            false,
        )
        .unwrap();
        AuthorizationServerMetadata::read(body.as_bytes(), ISSUER, &url)
    }

    #[test]
    fn the_members_are_typed_and_the_rest_kept() {
        let metadata = read(
            r#"{
                "issuer": "https://as.example/tenant1",
                "jwks_uri": "https://as.example/tenant1/jwks",
                "token_endpoint": "https://as.example/tenant1/token",
                "introspection_endpoint": "https://as.example/tenant1/introspect",
                "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
                "scopes_supported": ["read", "write"],
                "dpop_signing_alg_values_supported": ["ES256"],
                "tls_client_certificate_bound_access_tokens": true,
                "revocation_endpoint": null,
                "x_vendor": {"a": 1}
            }"#,
        )
        .unwrap();
        assert_eq!(metadata.issuer(), ISSUER);
        assert_eq!(
            metadata.url(),
            "https://as.example/.well-known/oauth-authorization-server/tenant1"
        );
        assert_eq!(metadata.jwks_uri(), Some("https://as.example/tenant1/jwks"));
        assert_eq!(
            metadata.introspection_endpoint(),
            Some("https://as.example/tenant1/introspect")
        );
        assert_eq!(
            metadata.introspection_endpoint_auth_methods_supported(),
            Some(
                &[
                    "client_secret_basic".to_owned(),
                    "private_key_jwt".to_owned()
                ][..]
            )
        );
        assert_eq!(metadata.scopes_supported().map(<[_]>::len), Some(2));
        assert_eq!(
            metadata.dpop_signing_alg_values_supported(),
            Some(&["ES256".to_owned()][..])
        );
        assert_eq!(
            metadata.tls_client_certificate_bound_access_tokens(),
            Some(true)
        );
        assert_eq!(metadata.revocation_endpoint(), None, "null is absent");
        assert_eq!(metadata.authorization_endpoint(), None);
        assert_eq!(metadata.get("x_vendor").unwrap()["a"], 1);
        assert_eq!(metadata.document().len(), 10);
    }

    #[test]
    fn only_the_issuer_is_required() {
        let metadata = read(r#"{"issuer":"https://as.example/tenant1"}"#).unwrap();
        assert_eq!(metadata.jwks_uri(), None);
        assert_eq!(metadata.token_endpoint(), None);
    }

    #[test]
    fn another_issuer_is_refused_exactly() {
        for other in [
            "https://as.example/tenant1/",
            "https://as.example/tenant2",
            "https://AS.example/tenant1",
            "https://evil.example/tenant1",
        ] {
            let body = serde_json::json!({ "issuer": other }).to_string();
            let error = read(&body).unwrap_err();
            assert_eq!(error.kind(), RemoteKeyErrorKind::IssuerMismatch, "{other}");
            assert!(error.to_string().contains(other), "{error}");
        }
    }

    #[test]
    fn wrong_shapes_are_refused() {
        for bad in [
            "",
            "<html></html>",
            "[]",
            "null",
            r#""https://as.example/tenant1""#,
            "{}",
            r#"{"issuer": null}"#,
            r#"{"issuer": 42}"#,
            r#"{"issuer": ["https://as.example/tenant1"]}"#,
            r#"{"issuer": "https://as.example/tenant1", "jwks_uri": 7}"#,
            r#"{"issuer": "https://as.example/tenant1", "scopes_supported": "read"}"#,
            r#"{"issuer": "https://as.example/tenant1", "scopes_supported": ["read", 1]}"#,
            r#"{"issuer": "https://as.example/tenant1""#,
        ] {
            let error = read(bad).unwrap_err();
            assert_eq!(error.kind(), RemoteKeyErrorKind::InvalidDocument, "{bad}");
        }
    }
}
