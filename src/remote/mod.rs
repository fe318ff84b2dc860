//! Remote JWK Sets: keys fetched from an identity provider's JWKS endpoint
//! (or found through its authorization server metadata: RFC 8414 or OpenID
//! Connect discovery), cached per `Cache-Control`,
//! refreshed in the background, and refetched, at a bounded rate, when a
//! token names a key the set lacks.
//!
//! - `builder`: the setters, and `build`;
//! - `config`: the settings, their defaults and range checks;
//! - `url`: which URLs keys may come from, and where an issuer's metadata may be;
//! - `fetch`: the HTTP client, one bounded `GET`;
//! - `egress`: direct, or through an HTTP proxy's `CONNECT` tunnel;
//! - `metadata`: [`AuthorizationServerMetadata`], read and checked;
//! - `discovery`: the metadata's well-known URLs tried in order, and the JWK
//!   Set's URL from the metadata;
//! - `metadata_discovery`: [`MetadataDiscovery`], the metadata on its own;
//! - `document`: the fetched document read into keys;
//! - `cache_policy`: `Cache-Control` to a lifetime and a refresh time;
//! - `state`: what clones share: the keys, one fetch at a time, the rate limit;
//! - `refresh`: the background task, its refresh times and backoff;
//! - `backup`: the last good document kept in a file (or a Redis key), for
//!   a start while the provider is down;
//! - `error`: [`RemoteKeyError`].

mod backup;
mod budget;
mod builder;
mod cache_policy;
mod config;
mod discovery;
mod document;
mod egress;
mod error;
mod fetch;
mod keys;
mod metadata;
mod metadata_discovery;
mod refresh;
mod state;
#[cfg(test)]
mod tests;
mod url;

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::runtime::Handle;

use crate::key::KeySet;
use builder::Origin;
use config::{Config, Source};
pub(crate) use fetch::Fetcher;
use state::{Snapshot, State};

pub use builder::RemoteKeySetBuilder;
pub use error::{RemoteKeyError, RemoteKeyErrorKind};
pub use metadata::AuthorizationServerMetadata;
pub use metadata_discovery::MetadataDiscovery;
// The HTTP client, for token introspection.
#[cfg(feature = "introspection")]
pub(crate) use {config::Config as ClientConfig, egress::ProxySetting, url::Target};

/// A JWK Set fetched from a URL and kept fresh: the keys of an identity
/// provider (Auth0, Okta, Keycloak, Entra ID, Google, ...).
///
/// Built once with [`RemoteKeySet::builder`] (the JWK Set's URL) or
/// [`RemoteKeySet::discover`] (the issuer, through its metadata),
/// then cloned freely: clones share the keys, the HTTP client and one
/// background task, which ends when the last clone is dropped.
///
/// - **Caching.** A document lives for its `Cache-Control: max-age`, bounded
///   by [`cache_bounds`](RemoteKeySetBuilder::cache_bounds), and is refreshed
///   in the background before it expires.
/// - **Rotation.** A token whose `kid` is not in the set causes one fetch, so
///   a key published at any moment is accepted from its first token; fetches
///   for unknown key ids have a budget of their own (a burst of
///   [2](RemoteKeySetBuilder::unknown_kid_burst), then one per
///   [30 s](RemoteKeySetBuilder::unknown_kid_interval)), so a flood of
///   made-up key ids cannot hammer the provider; concurrent requests share
///   the fetch in flight.
/// - **Failures.** When a fetch fails (unreachable, timeout, a status other
///   than `200`, a document too large, not a JWK Set, too many keys, no
///   usable key), the last good set stays in use (stale-if-error), the fetch
///   is retried with backoff, and a `tracing::warn!` event (target
///   `tower_jwt_auth`) names the URL and the cause. Stale, but not for ever:
///   after [`max_staleness`](RemoteKeySetBuilder::max_staleness) (24 h by
///   default) without a good fetch, the keys are dropped and requests are
///   answered `503` until the provider answers again.
/// - **Starting while the provider is down.** With a
///   [`backup_file`](RemoteKeySetBuilder::backup_file), each new document is
///   kept on disk (or, with `backup_redis`, in Redis), and a set whose first fetch fails starts from it (if it
///   belongs to the same URL and is not too stale), then retries the
///   provider in the background.
/// - **Security.** `https://` only (plain `http://` only to loopback, unless
///   [`allow_http`](RemoteKeySetBuilder::allow_http)); no redirects; bounded
///   time, size and key count; symmetric (`oct`) keys are never taken from a
///   URL. Token headers (`jku`, `x5u`, `jwk`) never choose where keys come from.
///
/// It needs a tokio runtime: [`build`](RemoteKeySetBuilder::build) it inside
/// the one that serves requests.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_jwt_auth::RemoteKeySet;
///
/// # async fn run() -> Result<(), tower_jwt_auth::RemoteKeyError> {
/// // The JWK Set's URL...
/// let keys = RemoteKeySet::builder("https://idp.example/.well-known/jwks.json")
///     .build()
///     .await?;
///
/// // ...or the issuer's, through its metadata (RFC 8414 or OpenID Connect).
/// let keys = RemoteKeySet::discover("https://idp.example/realms/main")
///     .unknown_kid_interval(Duration::from_secs(60))
///     .build()
///     .await?;
///
/// // Diagnostics: the usable keys of the last good document.
/// for key in keys.keys().unwrap_or_default().keys() {
///     println!("{:?} {:?}", key.kid(), key.algorithms());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RemoteKeySet {
    state: Arc<State>,
}

impl RemoteKeySet {
    /// A builder for the JWK Set at `jwks_url`.
    pub fn builder(jwks_url: impl Into<String>) -> RemoteKeySetBuilder {
        RemoteKeySetBuilder::new(Origin::Jwks(jwks_url.into()))
    }

    /// A builder for the JWK Set of `issuer`, found through its
    /// authorization server metadata: the `jwks_uri` of the first metadata
    /// document found, checked and fetched like a configured URL.
    ///
    /// The metadata is looked for where clients look (RFC 8414 §3.1 and §5,
    /// in the order of the MCP authorization specification), for the issuer
    /// `https://as.example/tenant1`:
    ///
    /// 1. `https://as.example/.well-known/oauth-authorization-server/tenant1`
    ///    (RFC 8414: the well-known name inserted before the path);
    /// 2. `https://as.example/.well-known/openid-configuration/tenant1`
    ///    (OpenID Connect, inserted the same way);
    /// 3. `https://as.example/tenant1/.well-known/openid-configuration`
    ///    (OpenID Connect Discovery 1.0 §4, appended).
    ///
    /// For an issuer without a path (`https://as.example`, or with a
    /// trailing `/`): `/.well-known/oauth-authorization-server`, then
    /// `/.well-known/openid-configuration`. So an OpenID Connect provider
    /// that serves only `{issuer}/.well-known/openid-configuration`, as
    /// before RFC 8414, is still found: with 2 requests for an issuer without
    /// a path, 3 for one with a path, before the JWK Set.
    ///
    /// - **Not here, next.** A URL that answers a `4xx` other than `408` and
    ///   `429` (`404`, `410`, but also the `403` of a static bucket, or the
    ///   `400`/`405` of some frameworks), or a `200 OK` whose `Content-Type`
    ///   is not JSON (a catch-all HTML page), has no document: the next URL
    ///   is tried.
    /// - **Anything else is an error**, retried like a failed JWK Set fetch
    ///   (with backoff, the last good keys kept): a transport error, the
    ///   [`timeout`](RemoteKeySetBuilder::timeout) (which bounds the whole
    ///   search and the JWK Set fetch together), a `5xx`, `408`, `429`, a
    ///   redirect (never followed), an oversized or malformed document.
    /// - **The issuer.** The first document found must have an `issuer`
    ///   exactly equal to `issuer` (RFC 8414 §3.3; not even a trailing `/`
    ///   may differ), or the fetch fails with
    ///   [`IssuerMismatch`](RemoteKeyErrorKind::IssuerMismatch) without
    ///   looking further. Its `jwks_uri` is required here, and held to the
    ///   same rules as a configured URL.
    ///
    /// The search runs with the first fetch, and again with each next one
    /// until it has found a document with a usable `jwks_uri`; that document
    /// and its `jwks_uri` are then kept for the life of the set, and later
    /// fetches ask for the JWK Set alone. Read it with
    /// [`metadata`](Self::metadata).
    pub fn discover(issuer: impl Into<String>) -> RemoteKeySetBuilder {
        RemoteKeySetBuilder::new(Origin::Discovery(issuer.into()))
    }

    /// Fetches the document now, or joins the fetch in flight, regardless of
    /// the rate limit. `Ok` when the fetch succeeded and its keys are now the
    /// current ones (a document identical to the current one keeps its
    /// generation).
    ///
    /// # Errors
    ///
    /// The fetch's error; the last good set, if any, stays in use.
    pub async fn refresh(&self) -> Result<(), RemoteKeyError> {
        self.state.join_or_start().await
    }

    /// The usable keys of the last good document, or `None` before the first
    /// one arrived. A copy, for diagnostics: the verifier reads the keys
    /// without copying them.
    pub fn keys(&self) -> Option<KeySet> {
        self.snapshot().map(|s| s.keys.clone())
    }

    /// The authorization server metadata the set was found through, once
    /// found: with [`discover`](Self::discover), after the first fetch that
    /// succeeded; never with [`builder`](Self::builder). A copy.
    ///
    /// The same document [`AuthorizationServerMetadata::discover`] would
    /// fetch, without fetching it again: for its `introspection_endpoint`,
    /// say.
    pub fn metadata(&self) -> Option<AuthorizationServerMetadata> {
        self.state.metadata().cloned()
    }

    /// The generation of the current keys: 1 for the first document, +1 for
    /// each different one. For tests and diagnostics.
    #[doc(hidden)]
    pub fn generation(&self) -> Option<u64> {
        self.snapshot().map(|s| s.generation)
    }

    /// The latest good set, or `None` until the first document arrived.
    /// The verifier reads the keys here: their age is measured then.
    pub(crate) fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.state.metrics.used();
        self.state.snapshot()
    }

    /// For a token whose `kid` the snapshot lacks, or when there is no
    /// snapshot: joins the fetch in flight, or starts one if the budget for
    /// unknown key ids allows. Ends with the fetch, or at once; never later
    /// than the configured timeout after the fetch started (twice that when
    /// the fetch also writes or reads a backup).
    pub(crate) fn refresh_for_unknown_key(&self) -> BoxFuture<'static, ()> {
        let state = Arc::clone(&self.state);
        Box::pin(async move {
            let flight = state.join_or_start_limited();
            drop(state);
            if let Some(flight) = flight {
                // The error was logged by the fetch; the caller reads the
                // snapshot again either way.
                let _ = flight.await;
            }
        })
    }

    async fn start(
        config: Config,
        source: Source,
        fetcher: Fetcher,
        runtime: Handle,
    ) -> Result<Self, RemoteKeyError> {
        let fail_fast = config.fail_fast;
        let state = Arc::new(State::new(config, source, fetcher, runtime));
        if fail_fast
            && let Err(error) = state.join_or_start().await
            // A failed first fetch may have restored the backup.
            && state.snapshot().is_none()
        {
            return Err(error);
        }
        refresh::spawn_background(&state);
        Ok(Self { state })
    }
}

impl fmt::Debug for RemoteKeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snapshot = self.snapshot();
        f.debug_struct("RemoteKeySet")
            .field("url", &self.state.shown_url())
            .field("generation", &snapshot.as_ref().map(|s| s.generation))
            .field("keys", &snapshot.as_ref().map(|s| s.keys.keys().len()))
            .finish()
    }
}
