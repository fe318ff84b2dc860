//! [`RemoteKeyError`]: why a remote JWK Set could not be built or refreshed.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// Why a [`RemoteKeySet`](crate::RemoteKeySet) could not be built, or why one
/// fetch of its document failed.
///
/// An opaque value: match on [`kind`](RemoteKeyError::kind); the
/// [`Display`](fmt::Display) text names the URL and the cause, and the
/// underlying hyper, rustls or JSON error, when there is one, is the
/// [`source`](StdError::source). It never contains key material. Cheap to
/// clone: every caller that joined one fetch receives the same error.
#[derive(Clone)]
pub struct RemoteKeyError {
    kind: RemoteKeyErrorKind,
    url: Option<Arc<str>>,
    detail: Cow<'static, str>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
    /// The status of a [`Status`](RemoteKeyErrorKind::Status) error.
    status: Option<http::StatusCode>,
}

/// The cause of a [`RemoteKeyError`].
///
/// New causes may be added in minor releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemoteKeyErrorKind {
    /// The URL is not an absolute `https://` URL (or `http://` to a loopback
    /// host, or with [`allow_http`](crate::RemoteKeySetBuilder::allow_http)).
    /// Found at build time (an issuer with a query or a fragment too), or in
    /// a metadata document's `jwks_uri`.
    InvalidUrl,
    /// A setting is out of range, or TLS cannot be set up (no rustls crypto
    /// provider, an unusable root certificate). Found at build time.
    InvalidConfig,
    /// The server could not be reached, or the connection failed while the
    /// request was sent or the answer read (DNS, TCP, TLS).
    Network,
    /// The fetch took longer than the configured
    /// [`timeout`](crate::RemoteKeySetBuilder::timeout).
    Timeout,
    /// The server answered with a status other than `200 OK` (redirects are
    /// not followed); or, when looking for an issuer's metadata, no
    /// well-known URL had it (the message names each URL and its answer).
    Status,
    /// The document is larger than the configured
    /// [`max_document_size`](crate::RemoteKeySetBuilder::max_document_size),
    /// by its `Content-Length` or while it was read.
    TooLarge,
    /// The answer is not a JSON document of the expected shape: not JSON, not
    /// a JWK Set (`{"keys": [...]}`), not authorization server metadata (an
    /// object with a string `issuer`, its other known members of the right
    /// type, and a `jwks_uri` for a key set), or a `Content-Type` that is not
    /// JSON.
    InvalidDocument,
    /// The JWK Set holds more keys than the configured
    /// [`max_keys`](crate::RemoteKeySetBuilder::max_keys); it is refused as a whole.
    TooManyKeys,
    /// The JWK Set holds no key that can verify signatures here.
    NoUsableKeys,
    /// The metadata document's `issuer` is not exactly the configured issuer
    /// (RFC 8414 §3.3, OpenID Connect Discovery 1.0 §4.3).
    IssuerMismatch,
    /// The fetch was cancelled before it ended (the runtime is shutting down).
    Cancelled,
}

impl RemoteKeyError {
    pub(crate) fn new(kind: RemoteKeyErrorKind, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            url: None,
            detail: detail.into(),
            source: None,
            status: None,
        }
    }

    pub(crate) fn with_status(mut self, status: http::StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// The status the server answered with, for a
    /// [`Status`](RemoteKeyErrorKind::Status) error.
    #[cfg_attr(not(feature = "introspection"), allow(dead_code))]
    pub(crate) fn status(&self) -> Option<http::StatusCode> {
        self.status
    }

    pub(crate) fn with_url(mut self, url: &Arc<str>) -> Self {
        self.url = Some(Arc::clone(url));
        self
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    pub(crate) fn with_boxed_source(mut self, source: Box<dyn StdError + Send + Sync>) -> Self {
        self.source = Some(Arc::from(source));
        self
    }

    pub(crate) fn cause(&self) -> Cause<'_> {
        Cause(self)
    }

    /// The cause.
    pub fn kind(&self) -> RemoteKeyErrorKind {
        self.kind
    }

    /// The URL that was fetched (the JWK Set or a metadata document), when
    /// the error concerns one.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

impl fmt::Debug for RemoteKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKeyError")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("cause", &self.cause().to_string())
            .finish()
    }
}

impl fmt::Display for RemoteKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(url) = &self.url {
            write!(f, "{url}: ")?;
        }
        f.write_str(&self.detail)
    }
}

/// The detail of a [`RemoteKeyError`] and its chain of sources, `a: b: c`,
/// without the URL: what a log line with a `url` field needs, since hyper's
/// own errors say little at the top ("client error (Connect)") and the cause
/// is further down.
pub(crate) struct Cause<'a>(&'a RemoteKeyError);

impl fmt::Display for Cause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.detail)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

impl StdError for RemoteKeyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_url_and_the_cause_adds_the_sources() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let url: Arc<str> = Arc::from("https://idp.example/jwks");
        let error = RemoteKeyError::new(RemoteKeyErrorKind::Network, "cannot connect")
            .with_url(&url)
            .with_source(io);
        assert_eq!(
            error.to_string(),
            "https://idp.example/jwks: cannot connect"
        );
        assert_eq!(error.cause().to_string(), "cannot connect: refused");
        assert_eq!(error.kind(), RemoteKeyErrorKind::Network);
        assert_eq!(error.url(), Some("https://idp.example/jwks"));
        assert!(error.source().is_some());
    }
}
