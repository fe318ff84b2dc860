//! [`MetadataDiscovery`]: an issuer's metadata fetched on its own, with the
//! HTTP settings of a remote JWK Set.

use super::config::Config;
use super::discovery::find_metadata;
use super::egress::ProxySetting;
use super::error::{RemoteKeyError, RemoteKeyErrorKind};
use super::fetch::Fetcher;
use super::metadata::AuthorizationServerMetadata;
use super::url::metadata_urls;

impl AuthorizationServerMetadata {
    /// Finds the metadata of `issuer` (see [`MetadataDiscovery`] for where
    /// it looks): configure the HTTP client, then
    /// [`fetch`](MetadataDiscovery::fetch).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tower_jwt_auth::AuthorizationServerMetadata;
    ///
    /// # async fn run() -> Result<(), tower_jwt_auth::RemoteKeyError> {
    /// let metadata = AuthorizationServerMetadata::discover("https://as.example/tenant1")
    ///     .timeout(Duration::from_secs(5))
    ///     .fetch()
    ///     .await?;
    /// if let Some(endpoint) = metadata.introspection_endpoint() {
    ///     println!("opaque tokens are introspected at {endpoint}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn discover(issuer: impl Into<String>) -> MetadataDiscovery {
        MetadataDiscovery {
            issuer: issuer.into(),
            config: Config::default(),
        }
    }
}

/// Fetches an issuer's authorization server metadata once; made by
/// [`AuthorizationServerMetadata::discover`].
///
/// The same search as [`RemoteKeySet::discover`](crate::RemoteKeySet::discover)
/// makes, with the same client: `https://` only (`http://` to loopback, or
/// with [`allow_http`](Self::allow_http)), no redirects, a bounded time and
/// size, the proxy from the environment unless set. It looks at these URLs
/// in order, for the issuer `https://as.example/tenant1`:
///
/// 1. `https://as.example/.well-known/oauth-authorization-server/tenant1`
///    (RFC 8414 §3.1: the well-known name inserted before the path);
/// 2. `https://as.example/.well-known/openid-configuration/tenant1`;
/// 3. `https://as.example/tenant1/.well-known/openid-configuration`
///    (OpenID Connect Discovery 1.0 §4).
///
/// An issuer without a path has the first two. A URL that answers "not
/// here" (any `4xx` but `408` and `429`, or a `200 OK` that is not JSON)
/// sends the search to the next; any other failure ends it with its error.
/// The first document found must name exactly this issuer
/// ([`IssuerMismatch`](RemoteKeyErrorKind::IssuerMismatch) otherwise, and
/// the search stops there).
///
/// Unlike a [`RemoteKeySet`](crate::RemoteKeySet), nothing is cached or
/// refreshed: each [`fetch`](Self::fetch) searches again.
#[derive(Clone, Debug)]
#[must_use = "nothing is fetched until `fetch` is awaited"]
pub struct MetadataDiscovery {
    issuer: String,
    config: Config,
}

impl MetadataDiscovery {
    /// How long the whole search may take: every URL tried, each connection,
    /// request and body. Default: 10 s. [`fetch`](Self::fetch) fails when it
    /// is zero.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// How long to wait for each TCP connection. Default: 5 s.
    /// [`fetch`](Self::fetch) fails when it is zero.
    pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// The largest document accepted, in bytes. Default: 256 KiB.
    /// [`fetch`](Self::fetch) fails when it is zero.
    pub fn max_document_size(mut self, bytes: usize) -> Self {
        self.config.max_document_size = bytes;
        self
    }

    /// Whether a plain `http://` issuer to a host other than loopback is
    /// accepted. Default: `false`; see
    /// [`RemoteKeySetBuilder::allow_http`](crate::RemoteKeySetBuilder::allow_http).
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.config.allow_http = allow;
        self
    }

    /// Trusts one more root certificate (DER) beside Mozilla's; see
    /// [`RemoteKeySetBuilder::add_root_certificate`](crate::RemoteKeySetBuilder::add_root_certificate).
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.config.root_certificates.push(der.into());
        self
    }

    /// Fetches `https://` URLs through this HTTP proxy, whatever the
    /// environment says; see
    /// [`RemoteKeySetBuilder::proxy`](crate::RemoteKeySetBuilder::proxy).
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.config.proxy = ProxySetting::Url(url.into());
        self
    }

    /// Connects straight to the server, whatever the environment says.
    pub fn no_proxy(mut self) -> Self {
        self.config.proxy = ProxySetting::Direct;
        self
    }

    /// Searches the issuer's well-known URLs for its metadata, within the
    /// [`timeout`](Self::timeout). Must run inside a tokio runtime (with I/O
    /// and time enabled).
    ///
    /// # Errors
    ///
    /// - [`InvalidUrl`](RemoteKeyErrorKind::InvalidUrl): the issuer is not an
    ///   `https://` URL (see [`allow_http`](Self::allow_http)), or has a query
    ///   or a fragment (RFC 8414 §2);
    /// - [`InvalidConfig`](RemoteKeyErrorKind::InvalidConfig): a setting out
    ///   of range, no tokio runtime, no rustls crypto provider, an unreadable root certificate,
    ///   a proxy that is not `http://`;
    /// - [`IssuerMismatch`](RemoteKeyErrorKind::IssuerMismatch): the first
    ///   document found names another issuer;
    /// - [`Status`](RemoteKeyErrorKind::Status) when no URL had a document
    ///   (the message lists each URL and its answer), or one answered a
    ///   redirect, `408`, `429` or `5xx`;
    /// - [`Network`](RemoteKeyErrorKind::Network),
    ///   [`Timeout`](RemoteKeyErrorKind::Timeout),
    ///   [`TooLarge`](RemoteKeyErrorKind::TooLarge),
    ///   [`InvalidDocument`](RemoteKeyErrorKind::InvalidDocument) (not a JSON
    ///   object, or a member of the wrong type).
    pub async fn fetch(self) -> Result<AuthorizationServerMetadata, RemoteKeyError> {
        let config = self.config;
        config.check()?;
        let urls = metadata_urls(&self.issuer, config.allow_http)?;
        // The client and the timer need one; say so rather than panic.
        tokio::runtime::Handle::try_current().map_err(|e| {
            RemoteKeyError::new(
                RemoteKeyErrorKind::InvalidConfig,
                "metadata must be fetched inside a tokio runtime",
            )
            .with_source(e)
        })?;
        let fetcher = Fetcher::new(&config)?;
        let timeout = config.timeout;
        tokio::time::timeout(timeout, find_metadata(&fetcher, &self.issuer, &urls))
            .await
            .unwrap_or_else(|_| {
                Err(RemoteKeyError::new(
                    RemoteKeyErrorKind::Timeout,
                    format!("no metadata found within {timeout:?}"),
                )
                .with_url(&self.issuer.as_str().into()))
            })
    }
}
