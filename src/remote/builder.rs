//! [`RemoteKeySetBuilder`]: the setters of a remote JWK Set's settings, and
//! [`build`](RemoteKeySetBuilder::build), which checks them once and starts it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::RemoteKeySet;
use super::backup::BackupStore;
use super::config::{Config, Source};
use super::egress::ProxySetting;
use super::error::{RemoteKeyError, RemoteKeyErrorKind};
use super::fetch::Fetcher;
use super::url::{Target, metadata_urls};

/// Where the JWK Set comes from.
#[derive(Debug, Clone)]
pub(super) enum Origin {
    /// The JWK Set's own URL.
    Jwks(String),
    /// The issuer, whose metadata names the JWK Set.
    Discovery(String),
}

/// Configures and builds a [`RemoteKeySet`]; made by [`RemoteKeySet::builder`]
/// (a JWK Set URL) or [`RemoteKeySet::discover`] (an issuer, through its
/// authorization server metadata or OpenID Connect discovery).
///
/// Every setting has a secure default; [`build`](Self::build) checks them all
/// once and, by default, fetches the first document.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_jwt_auth::RemoteKeySet;
///
/// # async fn run() -> Result<(), tower_jwt_auth::RemoteKeyError> {
/// let keys = RemoteKeySet::builder("https://idp.example/.well-known/jwks.json")
///     .cache_bounds(Duration::from_secs(5 * 60), Duration::from_secs(12 * 60 * 60))
///     .timeout(Duration::from_secs(5))
///     .build()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until it is built"]
pub struct RemoteKeySetBuilder {
    origin: Origin,
    config: Config,
}

impl RemoteKeySetBuilder {
    pub(super) fn new(origin: Origin) -> Self {
        Self {
            origin,
            config: Config::default(),
        }
    }

    /// Bounds the lifetime taken from the document's `Cache-Control: max-age`
    /// (and the [`default_max_age`](Self::default_max_age)): a shorter one is
    /// raised to `min`, a longer one lowered to `max`. Defaults: 60 s and 24 h.
    ///
    /// `min` protects the identity provider (and this server) from a
    /// `max-age=0`; `max` bounds how long a removed key is still accepted when
    /// nobody refreshes on purpose. The document is refreshed in the
    /// background at 80–90 % of its lifetime; a failed background fetch is
    /// retried after about 1 s, 2 s, 4 s, ..., at most `min` apart.
    ///
    /// [`build`](Self::build) fails when `min` is under one second or above `max`.
    pub fn cache_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.config.cache.min = min;
        self.config.cache.max = max;
        self
    }

    /// The lifetime of a document whose answer has no `Cache-Control`
    /// `max-age`, or says `no-cache` or `no-store`. Default: 5 minutes;
    /// bounded by [`cache_bounds`](Self::cache_bounds) like any other.
    pub fn default_max_age(mut self, lifetime: Duration) -> Self {
        self.config.cache.default = lifetime;
        self
    }

    /// How often tokens whose `kid` is not in the current set earn a fetch
    /// back, once they have spent the [burst](Self::unknown_kid_burst).
    /// Default: 30 s.
    ///
    /// Such fetches have a budget of their own (a token bucket): the first
    /// fetch, the background refresh and [`refresh`](RemoteKeySet::refresh)
    /// never spend it. So a key published at any moment is fetched by the
    /// first token that names it, unless unknown key ids already spent the
    /// budget; then within one interval. Over any period `T`, a flood of
    /// made-up key ids starts at most `burst + T / interval` fetches, and
    /// concurrent ones always share the fetch in flight. Zero removes the
    /// limit but not the sharing.
    pub fn unknown_kid_interval(mut self, interval: Duration) -> Self {
        self.config.unknown_kid_interval = interval;
        self
    }

    /// How many fetches tokens with unknown key ids may start at once before
    /// the [interval](Self::unknown_kid_interval) limits them. Default: 2, so
    /// that a stray unknown key id cannot delay a genuine rotation.
    ///
    /// [`build`](Self::build) fails when it is zero.
    pub fn unknown_kid_burst(mut self, fetches: u32) -> Self {
        self.config.unknown_kid_burst = fetches;
        self
    }

    /// How long to wait for the TCP connection. Default: 5 s.
    ///
    /// [`build`](Self::build) fails when it is zero.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// How long one fetch may take in all: connection, TLS, request, and the
    /// whole body (and, with [`discover`](RemoteKeySet::discover), the search
    /// for the metadata document the first time: every URL tried). Default: 10 s.
    ///
    /// A request that waits for keys never waits longer than this, except
    /// with a [backup](Self::backup_file): a fetch that writes it (a new
    /// document) or reads it (the first failure) may take up to one more
    /// `timeout` for that.
    /// [`build`](Self::build) fails when it is zero.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// The largest document accepted, in bytes. Default: 256 KiB.
    ///
    /// A larger `Content-Length` is refused before the body is read, and a
    /// body without one is read only up to the limit.
    /// [`build`](Self::build) fails when it is zero.
    pub fn max_document_size(mut self, bytes: usize) -> Self {
        self.config.max_document_size = bytes;
        self
    }

    /// The most keys a JWK Set may hold, usable or not. Default: 64.
    ///
    /// A document with more is refused as a whole (and the last good set kept):
    /// every key is a candidate for every token with a matching `kid` or none,
    /// so their number bounds the work of one request.
    /// [`build`](Self::build) fails when it is zero.
    pub fn max_keys(mut self, max: usize) -> Self {
        self.config.max_keys = max;
        self
    }

    /// Whether [`build`](Self::build) fetches the first document and fails with
    /// its error (`true`, the default), or returns at once and fetches in the
    /// background (`false`).
    ///
    /// With `false`, the set is empty until the first fetch succeeds, and
    /// requests that need it are answered `503 Service Unavailable`
    /// ([`AuthErrorKind::KeysUnavailable`](crate::AuthErrorKind::KeysUnavailable));
    /// failures are retried with backoff and logged with `tracing::warn!`.
    /// Only the settings are checked then. With a
    /// [`backup_file`](Self::backup_file), a failed first fetch reads it in
    /// either case.
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.config.fail_fast = fail_fast;
        self
    }

    /// Keeps the last good document in the file at `path`, so that a server
    /// can start while the identity provider is down. Default: no backup.
    ///
    /// - **Written** after a good fetch whose document differs from the one
    ///   in the file (and, for an identical one, when the time in the file
    ///   lags by more than an eighth of [`max_staleness`](Self::max_staleness),
    ///   at most an hour): the document verbatim, when it was fetched, and
    ///   the URL (or, with [`discover`](RemoteKeySet::discover), the issuer)
    ///   it belongs to. The write is atomic (a temporary file in the same
    ///   directory, flushed, then renamed over the file), so the directory
    ///   must be writable. A failed write is logged with `tracing::warn!` and
    ///   changes nothing else.
    /// - **Read** once, when the first fetch fails (never when it succeeds:
    ///   a good fetch always wins), and used if it belongs to this URL, is no
    ///   older than `max_staleness` (nor more than a minute in the future), is
    ///   at most [`max_document_size`](Self::max_document_size) (plus
    ///   16 KiB), and holds a usable JWK Set within
    ///   [`max_keys`](Self::max_keys). Then [`build`](Self::build) succeeds
    ///   even with [`fail_fast`](Self::fail_fast), a `tracing::warn!` says
    ///   that the provider is down and how old the backup is, and the
    ///   provider is retried in the background with backoff, as after any
    ///   failure. A backup that is missing or unusable is logged and ignored:
    ///   the set behaves as without one.
    ///
    /// The file holds public keys only, but whoever can write it chooses the
    /// keys tokens are checked with while the provider is down: keep it
    /// where only the server can write. Servers may share one file (the
    /// last writer wins; each reads whole records). With the `redis` feature,
    /// `backup_redis` keeps it in a Redis key instead.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tower_jwt_auth::RemoteKeySet;
    ///
    /// # async fn run() -> Result<(), tower_jwt_auth::RemoteKeyError> {
    /// // A restart during an outage of the provider starts from the last
    /// // document, if it is at most 12 hours old.
    /// let keys = RemoteKeySet::builder("https://idp.example/.well-known/jwks.json")
    ///     .backup_file("/var/lib/my-api/jwks-backup.json")
    ///     .max_staleness(Duration::from_secs(12 * 60 * 60))
    ///     .build()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn backup_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.backup = Some(BackupStore::File(path.into()));
        self
    }

    /// Keeps the last good document in the Redis key `key` (as given: not
    /// under the connection's prefix), as
    /// [`backup_file`](Self::backup_file) keeps it in a file: for a fleet
    /// without a shared volume. Written with one `SET` (atomic), read with
    /// one `GETRANGE` bounded as the file is; each within the
    /// [`timeout`](Self::timeout). A Redis that is down when the first fetch
    /// fails is like a missing backup: logged, and the set behaves as
    /// without one. The key never expires by itself; the record's time says
    /// how old it is. Replaces a `backup_file` (one backup per set).
    ///
    /// Whoever can write the key chooses the keys tokens are checked with
    /// while the provider is down: keep Redis as private as the file would be.
    ///
    /// ```no_run
    /// use tower_jwt_auth::{RedisConnection, RemoteKeySet};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let redis = RedisConnection::connect("redis://127.0.0.1/").await?;
    /// let keys = RemoteKeySet::builder("https://idp.example/.well-known/jwks.json")
    ///     .backup_redis(redis, "my-api:jwks-backup")
    ///     .build()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "redis")]
    pub fn backup_redis(
        mut self,
        connection: crate::RedisConnection,
        key: impl Into<String>,
    ) -> Self {
        self.config.backup = Some(BackupStore::Redis {
            connection,
            key: key.into(),
        });
        self
    }

    /// How long after the last good fetch the keys are still used while the
    /// provider cannot be reached. Default: 24 hours. `Duration::MAX`: for
    /// ever (the behaviour before this setting).
    ///
    /// Once the last good fetch (or the fetch of the
    /// [backup](Self::backup_file) the set started from) is older than this,
    /// the keys are dropped with one `tracing::warn!`: requests that need
    /// them are answered `503 Service Unavailable`
    /// ([`AuthErrorKind::KeysUnavailable`](crate::AuthErrorKind::KeysUnavailable))
    /// until a fetch succeeds again, which brings them back at once. The
    /// background task notices within the [`timeout`](Self::timeout) of a
    /// fetch. A backup older than this is not used.
    ///
    /// Why 24 hours: stale keys keep accepting tokens signed with a key the
    /// provider has removed (a leaked key, say) for as long as the outage
    /// lasts; a day bounds that as [`cache_bounds`](Self::cache_bounds)'
    /// default upper bound does while the provider is up. And a day into an
    /// outage, the tokens issued before it have expired anyway (access
    /// tokens live minutes to hours), so stale keys would mostly be
    /// checking tokens nobody could still hold honestly. An application
    /// whose tokens live longer, or which prefers serving to refusing, may
    /// raise it.
    ///
    /// The document is also refreshed before the keys grow too stale, not
    /// only before it expires: a `max_staleness` below the document's
    /// lifetime shortens it. [`build`](Self::build) fails when it is below
    /// the lower bound of [`cache_bounds`](Self::cache_bounds).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tower_jwt_auth::RemoteKeySet;
    ///
    /// # async fn run() -> Result<(), tower_jwt_auth::RemoteKeyError> {
    /// let keys = RemoteKeySet::builder("https://idp.example/.well-known/jwks.json")
    ///     .max_staleness(Duration::from_secs(2 * 60 * 60))
    ///     .build()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_staleness(mut self, max: Duration) -> Self {
        self.config.max_staleness = max;
        self
    }

    /// Whether plain `http://` URLs to hosts other than loopback are accepted.
    /// Default: `false`.
    ///
    /// Keys fetched over plain HTTP can be replaced by anyone on the path, who
    /// can then sign any token. `http://` to `127.0.0.0/8`, `[::1]` and
    /// `localhost` is always accepted (a sidecar, a test). The rule also
    /// applies to the `jwks_uri` of a metadata document.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.config.allow_http = allow;
        self
    }

    /// Trusts one more root certificate (DER), beside Mozilla's root program
    /// (the `webpki-roots` crate) which is always trusted: for an identity
    /// provider behind a private certificate authority.
    ///
    /// [`build`](Self::build) fails when the certificate cannot be read.
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.config.root_certificates.push(der.into());
        self
    }

    /// Fetches `https://` URLs through this HTTP proxy, whatever the
    /// environment says: `http://host:port`, with `user:password@` when the
    /// proxy asks for Basic authentication.
    ///
    /// By default the proxy comes from the environment, as curl reads it:
    /// `HTTPS_PROXY` (or `https_proxy`), else `ALL_PROXY` (or `all_proxy`),
    /// except for the hosts and networks listed in `NO_PROXY` (or `no_proxy`),
    /// and never in a CGI program. Fetches go through an HTTP `CONNECT`
    /// tunnel, with TLS end to end: the proxy sees the host name, not the
    /// keys. Plain `http://` URLs (loopback, or with
    /// [`allow_http`](Self::allow_http)) always go direct.
    ///
    /// [`build`](Self::build) fails when the URL is not `http://` with a host:
    /// TLS to the proxy and SOCKS are not supported. A fetch that the
    /// environment sends to such a proxy fails, and says so.
    ///
    /// ```no_run
    /// use tower_jwt_auth::RemoteKeySet;
    ///
    /// # async fn run() -> Result<(), tower_jwt_auth::RemoteKeyError> {
    /// let keys = RemoteKeySet::builder("https://idp.example/.well-known/jwks.json")
    ///     .proxy("http://egress.internal:3128")
    ///     .build()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.config.proxy = ProxySetting::Url(url.into());
        self
    }

    /// Connects straight to the identity provider, whatever `HTTPS_PROXY` and
    /// `ALL_PROXY` say (see [`proxy`](Self::proxy)).
    pub fn no_proxy(mut self) -> Self {
        self.config.proxy = ProxySetting::Direct;
        self
    }

    /// Checks the settings and the URL, makes the HTTP client and, unless
    /// [`fail_fast(false)`](Self::fail_fast), fetches the first document (after
    /// the metadata document, with [`discover`](RemoteKeySet::discover)).
    ///
    /// Must be called inside a tokio runtime (with I/O and time enabled): the
    /// background refresh and every fetch run on that runtime.
    ///
    /// # Errors
    ///
    /// - [`InvalidUrl`](RemoteKeyErrorKind::InvalidUrl): the URL is not an
    ///   absolute `https://` URL, or `http://` to a host that is not loopback
    ///   without [`allow_http`](Self::allow_http); an issuer with a query or a
    ///   fragment (RFC 8414 §2);
    /// - [`InvalidConfig`](RemoteKeyErrorKind::InvalidConfig): a setting out of
    ///   range, no tokio runtime, no rustls crypto provider, an unreadable root
    ///   certificate, a proxy that is not `http://`;
    /// - with `fail_fast` (the default), the error of the first fetch, unless
    ///   a usable [backup](Self::backup_file) took its place.
    pub async fn build(self) -> Result<RemoteKeySet, RemoteKeyError> {
        let config = self.config;
        config.check()?;
        let origin = match self.origin {
            Origin::Jwks(url) => Source::Jwks(Target::parse(&url, config.allow_http)?),
            Origin::Discovery(issuer) => {
                let urls = metadata_urls(&issuer, config.allow_http)?;
                Source::Discovery { issuer, urls }
            }
        };
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            RemoteKeyError::new(
                RemoteKeyErrorKind::InvalidConfig,
                "a remote JWK Set must be built inside a tokio runtime",
            )
            .with_source(e)
        })?;
        let fetcher = Fetcher::new(&config)?;
        RemoteKeySet::start(config, origin, fetcher, runtime).await
    }
}

impl fmt::Debug for RemoteKeySetBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Config`'s own `Debug`; the proxy's password is hidden by
        // `ProxySetting`'s.
        f.debug_struct("RemoteKeySetBuilder")
            .field("origin", &self.origin)
            .field("config", &self.config)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debug_shows_every_setting_but_not_the_proxy_password() {
        let builder = RemoteKeySet::builder("https://idp.example/jwks")
            .max_keys(7)
            .proxy("http://ada:s3cret@proxy.internal:3128");
        let shown = format!("{builder:?}");
        assert!(shown.contains("https://idp.example/jwks"), "{shown}");
        assert!(shown.contains("max_keys: 7"), "{shown}");
        assert!(shown.contains("proxy.internal:3128"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
