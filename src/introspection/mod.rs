//! Token introspection (RFC 7662): opaque access tokens, judged by the
//! authorization server that issued them, through a cache.
//!
//! - `builder`: the setters, and `build`;
//! - `client`: one introspection request over `remote`'s HTTP client, and
//!   what its answer means;
//! - `client_auth`: how that request authenticates the resource server
//!   (`client_secret_basic` or `private_key_jwt`);
//! - `cache`: the answers, kept by the digest of the token, for how long, and
//!   one request at a time per token;
//! - `redis` (with the `redis` feature): the answers shared by a fleet
//!   through Redis, asked on a miss of the cache, and one introspection at a
//!   time per token across the fleet.
//!
//! The layer reaches an [`Introspection`] through the verifier's seam
//! (`verify::introspect`), which decides which tokens are opaque and checks
//! the claims of an active one.

mod builder;
mod cache;
mod client;
mod client_auth;
#[cfg(feature = "redis")]
mod redis;
mod shared_cache;

use std::fmt;
use std::sync::Arc;

use crate::error::{AuthError, AuthErrorKind};
use crate::remote::{AuthorizationServerMetadata, RemoteKeyError, RemoteKeyErrorKind};
use crate::verify::introspect::{Introspect, Introspected};
use cache::{AnswerCache, Entry, Verdict};
use client::Client;

#[cfg(feature = "redis")]
pub use self::redis::RedisIntrospectionCache;
pub use builder::{DEFAULT_INTROSPECTION_CACHE_CAPACITY, IntrospectionBuilder};

/// An authorization server's token introspection endpoint (RFC 7662), for
/// opaque access tokens: give it to
/// [`JwtAuthBuilder::introspection`](crate::JwtAuthBuilder::introspection) or
/// to one [`TrustedIssuer::introspection`](crate::TrustedIssuer::introspection).
///
/// Built once with [`Introspection::builder`], then cloned freely: clones
/// share the HTTP client and the cache.
///
/// - **The request.** `POST` with `token=<the token>&token_type_hint=access_token`
///   (`application/x-www-form-urlencoded`), `Accept: application/json`, and
///   the resource server's own credentials (RFC 7662 §2.1):
///   [`client_secret_basic`](IntrospectionBuilder::client_secret_basic), or
///   a fresh JWT signed with its private key in each request
///   ([`private_key_jwt`](IntrospectionBuilder::private_key_jwt), RFC 7523). `https://` only (plain `http://` only to loopback, unless
///   [`allow_http`](IntrospectionBuilder::allow_http)), no redirects, a
///   [timeout](IntrospectionBuilder::timeout) and a
///   [size limit](IntrospectionBuilder::max_response_size), proxies as for a
///   [`RemoteKeySet`](crate::RemoteKeySet): the same client.
/// - **The answer.** A JSON object whose `active` is the JSON boolean `true`
///   is an active token, and its members are the token's claims (then checked
///   as a JWT's are). `active: false`, or anything but `true` (the string
///   `"true"` included), is an inactive token: `401`. An error status, a body
///   that is not a JSON object, a timeout or a network failure is the
///   authorization server's failure, never the client's: `503`, logged once
///   per outage (`tracing::warn!`, target `tower_jwt_auth`, then a count every
///   10 s), with the cause (`401`/`403` from the endpoint names our own
///   credentials: a configuration error). There is no fail-open policy: an
///   opaque token has no claims to let through without an answer.
/// - **The cache**, keyed by the SHA-256 of the token (the token itself is
///   never kept, nor logged), bounded by
///   [`cache_capacity`](IntrospectionBuilder::cache_capacity) entries:
///   - an active token until its `exp`, and never longer than
///     [`max_cache_lifetime`](IntrospectionBuilder::max_cache_lifetime) (60 s
///     by default: how long a token revoked at the authorization server may
///     still be accepted); an active token without a numeric `exp` is not
///     kept;
///   - an inactive one for
///     [`inactive_cache_lifetime`](IntrospectionBuilder::inactive_cache_lifetime)
///     (5 s by default);
///   - a failure is not kept, but every request that waited for the same
///     introspection shares its answer: **one request per token at a time**,
///     so a thousand concurrent requests with one new token cause one
///     introspection call.
///
///   The layer's [clock](crate::JwtAuthBuilder::clock) decides the
///   lifetimes; every hit still checks `exp` and `nbf` with the leeway.
///
///   This cache is each server's own. With the `redis` feature, a fleet can
///   share the answers through Redis
///   ([`shared_cache`](IntrospectionBuilder::shared_cache), with a
///   `RedisIntrospectionCache`): a token answered for one server is not
///   introspected again by the others, and two servers that receive a new
///   token at the same moment cause one introspection. Redis failing or slow
///   never refuses a request: the token is then introspected directly.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{Introspection, JwtAuthLayer, TrustedIssuer, Key};
///
/// let introspection = Introspection::builder("https://login.example.com/oauth2/introspect")
///     .client_secret_basic("orders-api", "the client secret")
///     .timeout(Duration::from_secs(2))
///     .max_cache_lifetime(Duration::from_secs(30))
///     .build()?;
/// // JWTs of one issuer, and the opaque tokens of another.
/// let layer = JwtAuthLayer::<serde_json::Value>::builder()
///     .trusted_issuer(
///         TrustedIssuer::new("https://partners.example.org")
///             .key(Key::hmac(b"the partner issuer's 32-byte key")),
///     )
///     .trusted_issuer(
///         TrustedIssuer::new("https://login.example.com").introspection(introspection),
///     )
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Introspection {
    inner: Arc<Inner>,
}

/// What clones share.
struct Inner {
    client: Client,
    cache: AnswerCache,
    /// The answers shared through Redis, asked when `cache` misses.
    shared: Option<shared_cache::Shared>,
}

impl Inner {
    /// The answer for a token that `cache` lacks, and until when it holds:
    /// the fleet's when it is shared, else the authorization server's.
    async fn entry(&self, key: &[u8; 32], token: &str, now: u64) -> Entry {
        let ask = self.client.introspect(token);
        match &self.shared {
            Some(shared) => shared.entry(key, now, ask).await,
            None => self.cache.lifetimes().entry(ask.await, now),
        }
    }
}

impl Introspection {
    /// Starts the configuration of the introspection endpoint at `endpoint`
    /// (an absolute `https://` URL, such as an authorization server
    /// metadata's `introspection_endpoint`).
    pub fn builder(endpoint: impl Into<String>) -> IntrospectionBuilder {
        IntrospectionBuilder::new(endpoint.into())
    }

    /// Starts the configuration of the introspection endpoint that an
    /// authorization server's metadata names (RFC 8414 §2,
    /// `introspection_endpoint`), found by
    /// [`AuthorizationServerMetadata::discover`](crate::AuthorizationServerMetadata::discover)
    /// or [`RemoteKeySet::metadata`](crate::RemoteKeySet::metadata). Pass it
    /// to the [`TrustedIssuer`](crate::TrustedIssuer) (or the layer's
    /// [`issuer`](crate::JwtAuthBuilder::issuer)) the metadata is of.
    ///
    /// The builder remembers two more facts of the metadata: the issuer, the
    /// default `aud` of [`private_key_jwt`](IntrospectionBuilder::private_key_jwt)
    /// assertions; and the client authentication methods the endpoint takes
    /// (`introspection_endpoint_auth_methods_supported`), when the metadata
    /// lists them: [`build`](IntrospectionBuilder::build) then refuses
    /// credentials of a method not listed, before any request.
    ///
    /// # Errors
    ///
    /// [`InvalidConfig`](RemoteKeyErrorKind::InvalidConfig) when the
    /// metadata names no introspection endpoint. The URL itself is checked
    /// by [`build`](IntrospectionBuilder::build), as any other.
    ///
    /// ```no_run
    /// use tower_jwt_auth::{AuthorizationServerMetadata, Introspection, TrustedIssuer};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let issuer = "https://login.example.com";
    /// let metadata = AuthorizationServerMetadata::discover(issuer).fetch().await?;
    /// let introspection = Introspection::from_metadata(&metadata)?
    ///     .client_secret_basic("orders-api", "the client secret")
    ///     .build()?;
    /// let trusted = TrustedIssuer::new(issuer).introspection(introspection);
    /// # let _ = trusted;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_metadata(
        metadata: &AuthorizationServerMetadata,
    ) -> Result<IntrospectionBuilder, RemoteKeyError> {
        let Some(endpoint) = metadata.introspection_endpoint() else {
            return Err(RemoteKeyError::new(
                RemoteKeyErrorKind::InvalidConfig,
                format!(
                    "the metadata of {} names no introspection_endpoint",
                    metadata.issuer()
                ),
            )
            .with_url(&Arc::from(metadata.url())));
        };
        Ok(Self::builder(endpoint).metadata(
            metadata.issuer(),
            metadata.introspection_endpoint_auth_methods_supported(),
        ))
    }

    /// The introspection endpoint's URL.
    pub fn endpoint(&self) -> &str {
        self.inner.client.endpoint()
    }
}

impl Introspect for Introspection {
    fn introspect(&self, token: &str, now: u64) -> Introspected {
        // `build` made sure there is SHA-256.
        let Some(key) = crate::crypto::sha256(token.as_bytes()) else {
            return Introspected::Ready(Err(AuthError::new(
                AuthErrorKind::IntrospectionUnavailable,
                "no SHA-256 for the introspection cache",
            )));
        };
        if let Some(verdict) = self.inner.cache.get(&key, now) {
            return Introspected::Ready(verdict.into_result());
        }
        let inner = Arc::clone(&self.inner);
        let token = token.to_owned();
        Introspected::Wait(Box::pin(async move {
            let ask = inner.entry(&key, &token, now);
            inner.cache.resolve(key, now, ask).await.into_result()
        }))
    }
}

impl Verdict {
    /// The claims of an active token, or the refusal.
    fn into_result(self) -> Result<Arc<str>, AuthError> {
        match self {
            Self::Active(payload) => Ok(payload),
            Self::Inactive => Err(AuthError::new(
                AuthErrorKind::InactiveToken,
                "token is not active",
            )),
            Self::Unavailable(error) => Err(error),
        }
    }
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("client", &self.inner.client)
            .field("cache", &self.inner.cache)
            .finish()
    }
}
