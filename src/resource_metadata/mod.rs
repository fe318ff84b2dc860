//! OAuth 2.0 Protected Resource Metadata (RFC 9728): how a client finds,
//! from the API itself, which authorization servers issue its tokens and how
//! to present them.
//!
//! [`ResourceMetadata`] is the configuration;
//! [`JwtAuthBuilder::resource_metadata`](crate::JwtAuthBuilder::resource_metadata)
//! plugs it into a layer, which then
//!
//! 1. checks it once when built (`url.rs`: the resource identifier and the
//!    issuers; `document.rs`: the fields), and writes the JSON document from
//!    it and from what the layer itself knows (its issuers, token sources,
//!    DPoP and certificate-binding settings): the document cannot drift from
//!    the layer;
//! 2. names the document's URL in the `resource_metadata` of every challenge
//!    (RFC 9728 §5.1), through [`AuthError::resource_metadata`](crate::AuthError::resource_metadata);
//! 3. hands out [`ResourceMetadataService`] (`service.rs`), the Tower
//!    service that serves the document at its well-known path (§3.1), with
//!    its body, [`MetadataBody`] (`body.rs`).

mod body;
mod document;
mod service;
mod url;

use std::time::Duration;

use serde_json::{Map, Value};

pub use self::body::MetadataBody;
pub(crate) use self::document::{LayerFacts, Published};
pub use self::service::ResourceMetadataService;

/// How long clients and caches may keep the metadata document unless
/// [`ResourceMetadata::max_age`] says otherwise: one hour.
pub const DEFAULT_METADATA_MAX_AGE: Duration = Duration::from_secs(3600);

/// The protected resource metadata (RFC 9728) a layer publishes, for
/// [`JwtAuthBuilder::resource_metadata`](crate::JwtAuthBuilder::resource_metadata).
///
/// A client that meets a `401` finds the URL of this document in the
/// challenge (`resource_metadata="…"`), reads it, and learns which
/// authorization server to ask for a token, with which scopes, and how to
/// send it: what the MCP authorization specification asks of every server.
///
/// The layer writes the document from this configuration and its own:
///
/// | field | from |
/// |---|---|
/// | `resource` | [`new`](Self::new) |
/// | `authorization_servers` | the layer's [`issuer`](crate::JwtAuthBuilder::issuer)s and [trusted issuers](crate::TrustedIssuer), or [`authorization_servers`](Self::authorization_servers) |
/// | `scopes_supported` | [`scopes_supported`](Self::scopes_supported) |
/// | `bearer_methods_supported` | the token sources: `header` for `Authorization: Bearer`, `body` for the form field `access_token`, `query` for the query parameter `access_token` (RFC 6750 §2; other names and cookies are no RFC 6750 method); `[]` where DPoP is required |
/// | `dpop_signing_alg_values_supported` | the [`Dpop`](crate::Dpop) algorithms, when the layer takes DPoP |
/// | `dpop_bound_access_tokens_required` | `true` where DPoP is [required](crate::Dpop::required) |
/// | `tls_client_certificate_bound_access_tokens` | `true` with a [`CertificateBinding`](crate::CertificateBinding) |
/// | anything else (`resource_name`, `resource_documentation`, …) | [`field`](Self::field) |
///
/// ```
/// use std::convert::Infallible;
/// use http::{Request, StatusCode};
/// use http_body_util::{BodyExt, Empty};
/// use tower::ServiceExt;
/// use tower_jwt_auth::{JwtAuthLayer, Key, ResourceMetadata};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let layer = JwtAuthLayer::<serde_json::Value>::builder()
///     .key(Key::hmac(b"a secret of at least 32 bytes...."))
///     .issuer("https://login.example")
///     .resource_metadata(
///         ResourceMetadata::new("https://api.example/v1")
///             .scopes_supported(["orders:read", "orders:write"])
///             .field("resource_name", "Orders API"),
///     )
///     .build()?;
///
/// let metadata = layer.resource_metadata_service().expect("configured");
/// assert_eq!(metadata.path(), "/.well-known/oauth-protected-resource/v1");
/// assert_eq!(
///     metadata.url(),
///     "https://api.example/.well-known/oauth-protected-resource/v1"
/// );
///
/// let request = Request::get(metadata.path()).body(Empty::<bytes::Bytes>::new())?;
/// let response = metadata.oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// let body = response.into_body().collect().await?.to_bytes();
/// let document: serde_json::Value = serde_json::from_slice(&body)?;
/// assert_eq!(
///     document,
///     serde_json::json!({
///         "resource": "https://api.example/v1",
///         "authorization_servers": ["https://login.example"],
///         "scopes_supported": ["orders:read", "orders:write"],
///         "bearer_methods_supported": ["header"],
///         "resource_name": "Orders API",
///     })
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ResourceMetadata {
    resource: String,
    authorization_servers: Option<Vec<String>>,
    scopes_supported: Vec<String>,
    fields: Map<String, Value>,
    max_age: Duration,
}

impl ResourceMetadata {
    /// The metadata of the resource `resource`: its resource identifier, the
    /// URL clients call it by (RFC 9728 §1.2), such as
    /// `https://api.example.com` or `https://example.com/api`.
    ///
    /// Checked when the layer is built: an absolute `https://` URL (or
    /// `http://` to a loopback host, for development), with a host, without
    /// user information, query or fragment, in the characters of RFC 3986
    /// alone; else [`ConfigError::InvalidMetadataUrl`](crate::ConfigError::InvalidMetadataUrl).
    /// A client compares it with the URL it called, character for character
    /// once parsed (RFC 9728 §3.3): behind a proxy, give the public URL.
    pub fn new(resource: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: None,
            scopes_supported: Vec::new(),
            fields: Map::new(),
            max_age: DEFAULT_METADATA_MAX_AGE,
        }
    }

    /// The issuers of the authorization servers that clients get tokens
    /// from, instead of the layer's own: its
    /// [`issuer`](crate::JwtAuthBuilder::issuer)s and the names of its
    /// [trusted issuers](crate::TrustedIssuer), the default. Each must be an
    /// `https://` URL (or `http://` to loopback) without query or fragment,
    /// as RFC 8414 issuers are, and the list must not be empty. Without any
    /// issuer at all, the document has no `authorization_servers`.
    pub fn authorization_servers(
        mut self,
        issuers: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.authorization_servers = Some(issuers.into_iter().map(Into::into).collect());
        self
    }

    /// The scopes clients may ask for to call this resource
    /// (`scopes_supported`, RECOMMENDED by RFC 9728 §2); each an RFC 6749
    /// §3.3 scope-token, else the build fails with
    /// [`ConfigError::InvalidScope`](crate::ConfigError::InvalidScope).
    pub fn scopes_supported(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a field of the document that the layer does not compute:
    /// `resource_name`, `resource_documentation`, `resource_policy_uri`,
    /// `resource_tos_uri`, `jwks_uri`, `authorization_details_types_supported`
    /// (RFC 9728 §2), or one of an extension. A second value for the same
    /// name replaces the first.
    ///
    /// The fields the layer computes (see the table above) cannot be set
    /// here, so that the document never says something the layer does not
    /// do: the build fails with
    /// [`ConfigError::ReservedMetadataField`](crate::ConfigError::ReservedMetadataField).
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.fields.insert(name.into(), value.into());
        self
    }

    /// How long clients and caches may keep the document
    /// (`Cache-Control: public, max-age=…`, in whole seconds); default
    /// [`DEFAULT_METADATA_MAX_AGE`], one hour. A client that is refused
    /// reads the challenge again, so a short time is seldom needed.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }
}
