//! [`IntrospectionBuilder`]: the setters of an introspection endpoint's
//! settings, and [`build`](IntrospectionBuilder::build), which checks them once.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey};

use super::cache::{AnswerCache, Lifetimes};
use super::client::Client;
use super::client_auth::{AssertionSettings, Credentials};
use super::shared_cache::{Shared, Store};
use super::{Inner, Introspection};
use crate::remote::{
    ClientConfig, Fetcher, ProxySetting, RemoteKeyError, RemoteKeyErrorKind, Target,
};

/// The default number of answers an [`Introspection`] keeps: 10 000.
pub const DEFAULT_INTROSPECTION_CACHE_CAPACITY: usize = 10_000;

/// Configures and builds an [`Introspection`]; made by
/// [`Introspection::builder`].
///
/// Every setting but the credentials has a default; [`build`](Self::build)
/// checks them all once.
#[derive(Clone)]
#[must_use = "a builder does nothing until it is built"]
pub struct IntrospectionBuilder {
    endpoint: String,
    /// The resource server's credentials, as given.
    credentials: Option<Credentials>,
    /// The header `kid` and `aud` of `private_key_jwt` assertions.
    assertion: AssertionSettings,
    /// The client authentication methods the endpoint takes, as its
    /// metadata lists them.
    auth_methods: Option<Vec<String>>,
    http: ClientConfig,
    timeout: Duration,
    cache_capacity: usize,
    max_cache_lifetime: Duration,
    inactive_cache_lifetime: Duration,
    /// The fleet's answers, with the `redis` feature.
    shared: Option<Store>,
}

impl IntrospectionBuilder {
    pub(super) fn new(endpoint: String) -> Self {
        let mut http = ClientConfig::default();
        // An answer is one token's claims, not a key set.
        http.max_document_size = 16 * 1024;
        Self {
            endpoint,
            credentials: None,
            assertion: AssertionSettings::default(),
            auth_methods: None,
            http,
            timeout: Duration::from_secs(5),
            cache_capacity: DEFAULT_INTROSPECTION_CACHE_CAPACITY,
            max_cache_lifetime: Duration::from_secs(60),
            inactive_cache_lifetime: Duration::from_secs(5),
            shared: None,
        }
    }

    /// Authenticates this resource server to the endpoint with HTTP Basic
    /// (`client_secret_basic`, RFC 7662 §2.1 and RFC 6749 §2.3.1: the id and
    /// the secret each form-urlencoded, then joined by `:` and base64).
    /// This or [`private_key_jwt`](Self::private_key_jwt) is required; the
    /// last one set counts.
    pub fn client_secret_basic(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.credentials = Some(Credentials::Secret {
            id: client_id.into(),
            secret: client_secret.into(),
        });
        self
    }

    /// Authenticates this resource server with a JWT signed by its private
    /// key (`private_key_jwt`: RFC 7523 §2.2, OpenID Connect Core §9), for
    /// authorization servers that hold its public key instead of a shared
    /// secret. Each request carries a fresh assertion in the form
    /// (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`,
    /// `client_assertion=…`): `iss` and `sub` the client id, `aud` the
    /// authorization server's issuer (the endpoint's URL when the builder
    /// was not made [from its metadata](Introspection::from_metadata); see
    /// [`assertion_audience`](Self::assertion_audience)), a random `jti`,
    /// `iat`, and `exp` 60 s later.
    ///
    /// `key` is the private key of `algorithm`'s family (RSA, EC or Ed25519,
    /// such as `EncodingKey::from_ec_pem`); an HMAC algorithm, or a key that
    /// cannot sign with `algorithm`, fails [`build`](Self::build). This or
    /// [`client_secret_basic`](Self::client_secret_basic) is required; the
    /// last one set counts.
    ///
    /// ```no_run
    /// use tower_jwt_auth::Introspection;
    /// use tower_jwt_auth::jsonwebtoken::{Algorithm, EncodingKey};
    ///
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let key = EncodingKey::from_ec_pem(&std::fs::read("orders-api.key.pem")?)?;
    /// let introspection = Introspection::builder("https://login.example.com/oauth2/introspect")
    ///     .private_key_jwt("orders-api", key, Algorithm::ES256)
    ///     .assertion_key_id("orders-api-2026")
    ///     .assertion_audience("https://login.example.com")
    ///     .build()?;
    /// # let _ = introspection;
    /// # Ok(())
    /// # }
    /// ```
    pub fn private_key_jwt(
        mut self,
        client_id: impl Into<String>,
        key: EncodingKey,
        algorithm: Algorithm,
    ) -> Self {
        self.credentials = Some(Credentials::PrivateKey {
            id: client_id.into(),
            key,
            algorithm,
        });
        self
    }

    /// The `kid` in the header of [`private_key_jwt`](Self::private_key_jwt)
    /// assertions, which names the key among those the authorization server
    /// holds for this client. Default: none. Unused by
    /// [`client_secret_basic`](Self::client_secret_basic).
    pub fn assertion_key_id(mut self, kid: impl Into<String>) -> Self {
        self.assertion.kid = Some(kid.into());
        self
    }

    /// The `aud` of [`private_key_jwt`](Self::private_key_jwt) assertions,
    /// where the authorization server expects something other than its
    /// issuer identifier (its token endpoint's URL, say). Unused by
    /// [`client_secret_basic`](Self::client_secret_basic).
    pub fn assertion_audience(mut self, audience: impl Into<String>) -> Self {
        self.assertion.audience = Some(audience.into());
        self
    }

    /// What the metadata that named the endpoint says: the issuer (the
    /// default `aud` of `private_key_jwt` assertions) and the client
    /// authentication methods the endpoint takes, if it lists them.
    pub(super) fn metadata(mut self, issuer: &str, methods: Option<&[String]>) -> Self {
        self.assertion.issuer = Some(issuer.to_owned());
        self.auth_methods = methods.map(<[String]>::to_vec);
        self
    }

    /// How long one introspection may take in all: connection, TLS, request
    /// and the whole answer. Default: 5 s.
    ///
    /// A request that waits for the answer longer is `503`, never `401`.
    /// [`build`](Self::build) fails when it is zero.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest answer accepted, in bytes. Default: 16 KiB.
    ///
    /// A larger `Content-Length` is refused before the body is read, and a
    /// body without one is read only up to the limit (then `503`).
    /// [`build`](Self::build) fails when it is zero.
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.http.max_document_size = bytes;
        self
    }

    /// The most answers kept. Default:
    /// [`DEFAULT_INTROSPECTION_CACHE_CAPACITY`]. The least recently useful
    /// are evicted first (S3-FIFO). [`build`](Self::build) fails when it is
    /// zero.
    pub fn cache_capacity(mut self, entries: usize) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// The longest an active token's answer is kept, even when its `exp` is
    /// later (whole seconds). Default: 60 s.
    ///
    /// This is how long a token revoked at the authorization server may still
    /// be accepted here; zero asks about every request (concurrent requests
    /// with one token still share one introspection).
    pub fn max_cache_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_cache_lifetime = lifetime;
        self
    }

    /// How long an inactive token's answer is kept (whole seconds), so that a
    /// client repeating a dead token does not cost an introspection each time.
    /// Default: 5 s; zero keeps none.
    pub fn inactive_cache_lifetime(mut self, lifetime: Duration) -> Self {
        self.inactive_cache_lifetime = lifetime;
        self
    }

    /// Shares the answers with every server that uses the same Redis and key
    /// prefix, so that a fleet introspects each token once; see
    /// [`RedisIntrospectionCache`](super::RedisIntrospectionCache) for the
    /// flow, what Redis holds, and whom it must trust. The in-process cache
    /// stays the first place a token is looked up. Default: none.
    ///
    /// ```no_run
    /// use tower_jwt_auth::{Introspection, RedisIntrospectionCache};
    ///
    /// # async fn f() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let introspection = Introspection::builder("https://login.example.com/oauth2/introspect")
    ///     .client_secret_basic("orders-api", "the client secret")
    ///     .shared_cache(RedisIntrospectionCache::connect("redis://127.0.0.1:6379/").await?)
    ///     .build()?;
    /// # let _ = introspection;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "redis")]
    pub fn shared_cache(mut self, cache: super::RedisIntrospectionCache) -> Self {
        self.shared = Some(cache);
        self
    }

    /// Whether a plain `http://` endpoint on a host other than loopback is
    /// accepted. Default: `false` (the token and our credentials would cross
    /// the network in clear); `http://` to loopback is always accepted.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.http.allow_http = allow;
        self
    }

    /// Trusts one more root certificate (DER), beside Mozilla's root program;
    /// see [`RemoteKeySetBuilder::add_root_certificate`](crate::RemoteKeySetBuilder::add_root_certificate).
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.http.root_certificates.push(der.into());
        self
    }

    /// Sends requests through this HTTP proxy, whatever the environment says;
    /// see [`RemoteKeySetBuilder::proxy`](crate::RemoteKeySetBuilder::proxy).
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.http.proxy = ProxySetting::Url(url.into());
        self
    }

    /// Connects straight to the endpoint, whatever `HTTPS_PROXY` and
    /// `ALL_PROXY` say.
    pub fn no_proxy(mut self) -> Self {
        self.http.proxy = ProxySetting::Direct;
        self
    }

    /// Checks the settings and the URL, and makes the HTTP client. Needs no
    /// runtime; introspections run on the one that serves requests.
    ///
    /// # Errors
    ///
    /// - [`InvalidUrl`](RemoteKeyErrorKind::InvalidUrl): the endpoint is not
    ///   an absolute `https://` URL, or `http://` to a host that is not
    ///   loopback without [`allow_http`](Self::allow_http);
    /// - [`InvalidConfig`](RemoteKeyErrorKind::InvalidConfig): no
    ///   credentials ([`client_secret_basic`](Self::client_secret_basic) or
    ///   [`private_key_jwt`](Self::private_key_jwt)), a method the
    ///   endpoint's metadata does not list (a builder made by
    ///   [`Introspection::from_metadata`]), a `private_key_jwt` key that
    ///   cannot sign with its algorithm or an HMAC algorithm, a zero timeout,
    ///   size or capacity, no rustls crypto provider or SHA-256 (neither the
    ///   `aws-lc-rs` nor the `rust-crypto` feature), an unreadable root
    ///   certificate, a proxy that is not `http://`.
    pub fn build(self) -> Result<Introspection, RemoteKeyError> {
        let invalid =
            |detail: &'static str| RemoteKeyError::new(RemoteKeyErrorKind::InvalidConfig, detail);
        let Some(credentials) = self.credentials else {
            return Err(invalid(
                "introspection needs the resource server's credentials: client_secret_basic \
                 or private_key_jwt",
            ));
        };
        if let Some(methods) = &self.auth_methods
            && !methods.iter().any(|m| m == credentials.method())
        {
            return Err(RemoteKeyError::new(
                RemoteKeyErrorKind::InvalidConfig,
                format!(
                    "the introspection endpoint of {} takes {methods:?}, not {}",
                    self.assertion.issuer.as_deref().unwrap_or("the issuer"),
                    credentials.method()
                ),
            ));
        }
        if self.timeout.is_zero() {
            return Err(invalid("timeout must not be zero"));
        }
        if self.cache_capacity == 0 {
            return Err(invalid("cache_capacity must not be zero"));
        }
        if self.http.max_document_size == 0 {
            return Err(invalid("max_response_size must not be zero"));
        }
        if crate::crypto::sha256(b"").is_none() {
            return Err(invalid(
                "the introspection cache needs SHA-256: enable the `aws-lc-rs` or \
                 `rust-crypto` feature of tower-jwt-auth",
            ));
        }
        let mut http = self.http;
        // One deadline bounds the whole exchange; the connection gets no more.
        http.connect_timeout = http.connect_timeout.min(self.timeout);
        http.check()?;
        let endpoint = Target::parse(&self.endpoint, http.allow_http)?;
        let fetcher = Fetcher::new(&http)?;
        // RFC 7523's aud: the authorization server, by its issuer when known.
        let audience = self.assertion.issuer.as_deref().unwrap_or(&self.endpoint);
        let auth = credentials.into_auth(&self.assertion, audience)?;
        let client = Client::new(fetcher, endpoint, auth, self.timeout);
        let lifetimes = Lifetimes {
            max_active: self.max_cache_lifetime.as_secs(),
            inactive: self.inactive_cache_lifetime.as_secs(),
        };
        let cache = AnswerCache::new(self.cache_capacity, lifetimes);
        let shared = self
            .shared
            .map(|store| Shared::new(store, lifetimes, self.timeout, http.max_document_size));
        Ok(Introspection {
            inner: Arc::new(Inner {
                client,
                cache,
                shared,
            }),
        })
    }
}

impl fmt::Debug for IntrospectionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionBuilder")
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .field("assertion", &self.assertion)
            .field("auth_methods", &self.auth_methods)
            .field("http", &self.http)
            .field("timeout", &self.timeout)
            .field("cache_capacity", &self.cache_capacity)
            .field("max_cache_lifetime", &self.max_cache_lifetime)
            .field("inactive_cache_lifetime", &self.inactive_cache_lifetime)
            .field("shared_cache", &self.shared)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_names_its_cause_and_the_secret_never_shows() {
        let good = || {
            Introspection::builder("https://as.example/introspect")
                .client_secret_basic("rs", "s3cret-value")
        };
        for (builder, kind, says) in [
            (
                Introspection::builder("https://as.example/introspect"),
                RemoteKeyErrorKind::InvalidConfig,
                "client_secret_basic",
            ),
            (
                good().timeout(Duration::ZERO),
                RemoteKeyErrorKind::InvalidConfig,
                "timeout",
            ),
            (
                good().cache_capacity(0),
                RemoteKeyErrorKind::InvalidConfig,
                "cache_capacity",
            ),
            (
                good().max_response_size(0),
                RemoteKeyErrorKind::InvalidConfig,
                "max_response_size",
            ),
            (
                Introspection::builder("http://as.example/introspect")
                    .client_secret_basic("a", "b"),
                RemoteKeyErrorKind::InvalidUrl,
                "http://",
            ),
            (
                Introspection::builder("/introspect").client_secret_basic("a", "b"),
                RemoteKeyErrorKind::InvalidUrl,
                "absolute",
            ),
        ] {
            let error = builder.build().unwrap_err();
            assert_eq!(error.kind(), kind, "{error}");
            assert!(error.to_string().contains(says), "{error}");
        }
        let shown = format!("{:?}", good());
        assert!(shown.contains("rs") && !shown.contains("s3cret"), "{shown}");
        let built = good().build().unwrap();
        assert_eq!(built.endpoint(), "https://as.example/introspect");
        let shown = format!("{built:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("Basic"),
            "{shown}"
        );
    }
}
