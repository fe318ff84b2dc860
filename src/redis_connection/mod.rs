//! [`RedisConnection`]: the one connection the Redis stores share (a single
//! node or a Redis Cluster), with their key prefix and, when asked for, the
//! local mirror of revocation answers. Its documentation says how the mirror
//! works, what bounds its staleness, and how keys meet a cluster's slots.

mod link;
mod mirror;

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::{
    Client, Cmd, ConnectionInfo, IntoConnectionInfo, Pipeline, ProtocolVersion, RedisFuture,
    RedisResult, Value,
};

use self::link::Link;
pub use self::mirror::{DEFAULT_MIRROR_STALENESS_BOUND, MirrorStats};
use self::mirror::{Mirror, Pushes};

/// The default prefix of this crate's Redis keys: `tower-jwt-auth:`.
pub const DEFAULT_KEY_PREFIX: &str = "tower-jwt-auth:";

/// How long a connection attempt and an answer may take, and the longest
/// wait between reconnection attempts: a Redis that came back is found
/// within about a second.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);

/// One connection to Redis (a single node, or a Redis Cluster with the
/// `redis-cluster` feature), the key prefix, and optionally the local mirror
/// of revocation answers; the Redis stores
/// ([`RedisRevocations`](crate::RedisRevocations),
/// [`RedisReplays`](crate::RedisReplays) and, with `introspection`,
/// `RedisIntrospectionCache`) are built on it and can share one.
///
/// Clones share the connection: a multiplexed connection that reconnects by
/// itself (the redis crate's `ConnectionManager`, or its cluster client),
/// waiting at most 1 s per connection attempt and per answer, with at most
/// 1 s between reconnection attempts. It also runs the redis crate's
/// commands of your own: it is an `aio::ConnectionLike`.
///
/// # The local mirror, and why the redis crate's cache
///
/// The mirror is the redis crate's server-assisted client-side cache
/// (feature `cache-aio`), not a protocol of this crate's: on a RESP3
/// connection it turns `CLIENT TRACKING ON OPTIN` on, sends `CLIENT CACHING
/// YES` and a `PTTL` in the same round trip as each command it may cache,
/// keeps the answers in a sharded LRU, and drops a key's answers when Redis
/// pushes an invalidation for it (all of them after `FLUSHALL`). It is the
/// client the stores already use (fred's tracking would be a second Redis
/// client, and leaves the cache itself to the caller), and it works alike
/// with the reconnecting single-node connection and the cluster client. The
/// crate calls it experimental; what follows is what reading redis 1.8.1
/// showed, and what the revocation check relies on:
///
/// - `MGET` is cached key by key (as `GET`s): a check whose token key is
///   mirrored but whose subject key is not asks Redis for the subject key
///   only, still one round trip.
/// - Only the commands the stores mark are cached (opt-in mode): the
///   revocation check's `MGET`. The DPoP `SET NX` and the introspection
///   cache's reads always go to Redis.
/// - The answer "not revoked" (nil) is cached like any other, and dropped by
///   the same invalidation when the key is written.
/// - When the connection manager reconnects, the new connection gets a new
///   cache epoch: the entries of the old connection, whose invalidation
///   stream is lost, are never answered again (they are dropped when next
///   looked at, or evicted by the LRU). The cluster client does the same per
///   node. An entry is one Redis key, whatever its answer.
///
/// In front of that cache, [`RedisRevocations`](crate::RedisRevocations)
/// keeps a table of whole checks answered "not revoked", which the layer
/// reads without a future or a command
/// ([`RevocationStore::is_revoked_now`](crate::RevocationStore::is_revoked_now)):
/// the redis crate's cache can only be asked through a command, which costs
/// a request more than the rest of the check together. The table is kept by
/// the same pushes, which the connection counts (a push sender given to the
/// redis crate): an answer holds only until the next invalidation Redis
/// pushes to this connection, for any key, and until the next lost
/// connection. That is coarse, since one revocation of a token this server
/// has checked empties the table and the checks go back to the cache key by
/// key, but never staler than the cache.
///
/// # The staleness bound
///
/// Invalidations alone do not bound staleness: a silent network partition
/// delivers neither pushes nor errors, and in the crate an answer is stored
/// by the task that asked, after the connection task has already applied
/// whatever invalidation followed the reply, so a write racing with the read
/// can leave a stale answer that Redis will never invalidate again (it
/// tracks a key until its first invalidation). So every mirrored answer also
/// has a client-side lifetime, bounded by the
/// [`mirror_staleness_bound`](RedisConnectionBuilder::mirror_staleness_bound)
/// (default [`DEFAULT_MIRROR_STALENESS_BOUND`], 1 s): the redis crate's cache
/// keeps a key's answer at most half the bound after the request that read
/// it was sent, and the table of whole answers keeps one at most half the
/// bound after it asked (the cache may have answered it from an entry that
/// old). An answer is therefore never served more than the bound after
/// Redis gave it, whatever happens to the connection; past it the check asks
/// Redis, and when Redis does not answer, the revocation check's failure
/// policy applies. In the usual case an
/// invalidation drops the answer within a round trip of the write. The bound
/// is this lifetime, rather than a periodic `PING` that gates the mirror,
/// because a `PING` proves the stream intact but cannot undo the race above.
///
/// # Redis Cluster
///
/// With the `redis-cluster` feature, `RedisConnection::cluster` uses the
/// redis crate's async cluster client. In a cluster the keys a command
/// names must live on one slot: the revocation keys of a token carry its
/// issuer and subject as a hash tag, right after the prefix, so that a check
/// is one `MGET` on one node (see
/// [`RedisRevocations`](crate::RedisRevocations)); the introspection cache's
/// lock and answer keys carry the token digest as their tag; a DPoP key is
/// one key per command. Keep `{` and `}` out of the prefix: a tag in the
/// prefix would put every key on one slot. The mirror works per node; while
/// slots move between masters, Redis 6 may not invalidate what moved (the
/// redis crate's note), and the bound still holds; Redis 7 is better.
///
/// ```no_run
/// use tower_jwt_auth::{RedisConnection, RedisReplays, RedisRevocations, Revocation};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tower_jwt_auth::redis::RedisError> {
/// let redis = RedisConnection::builder("redis://127.0.0.1:6379/")
///     .prefix("orders-api:")
///     .local_mirror(100_000)
///     .connect()
///     .await?;
/// let revocation = Revocation::new(RedisRevocations::new(redis.clone()));
/// let replays = RedisReplays::new(redis);
/// # let _ = (revocation, replays);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisConnection {
    link: Link,
    settings: Arc<Settings>,
}

/// What clones of a connection share besides the link.
#[derive(Debug)]
struct Settings {
    prefix: String,
    mirror: Option<Mirror>,
    /// With a mirror: what the connection's pushes told.
    pushes: Option<Arc<Pushes>>,
    cluster: bool,
}

impl RedisConnection {
    /// A connection to the single Redis at `url`
    /// (`redis://[user:password@]host[:port][/db]`, `rediss://` for TLS when
    /// the redis crate has a TLS feature), to configure; an invalid URL is
    /// reported by [`connect`](RedisConnectionBuilder::connect).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let redis = tower_jwt_auth::RedisConnection::builder("redis://127.0.0.1/")
    ///     .local_mirror(10_000)
    ///     .connect()
    ///     .await?;
    /// # let _ = redis;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(url: impl IntoConnectionInfo) -> RedisConnectionBuilder {
        RedisConnectionBuilder::new(Target::Single(url.into_connection_info()))
    }

    /// A connection to the Redis Cluster that any of `urls` belongs to (the
    /// client asks them for the slots and finds the other nodes), to
    /// configure.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let redis = tower_jwt_auth::RedisConnection::cluster([
    ///     "redis://10.0.0.1:6379/",
    ///     "redis://10.0.0.2:6379/",
    ///     "redis://10.0.0.3:6379/",
    /// ])
    /// .local_mirror(100_000)
    /// .connect()
    /// .await?;
    /// # let _ = redis;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "redis-cluster")]
    pub fn cluster(urls: impl IntoIterator<Item = impl Into<String>>) -> RedisConnectionBuilder {
        RedisConnectionBuilder::new(Target::Cluster(urls.into_iter().map(Into::into).collect()))
    }

    /// Connects to the single Redis at `url`, with the default prefix and no
    /// mirror: `RedisConnection::builder(url).connect()`.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let redis = tower_jwt_auth::RedisConnection::connect("redis://127.0.0.1/").await?;
    /// # let _ = redis;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// An invalid URL, or no connection after the retries (a few seconds).
    pub async fn connect(url: impl IntoConnectionInfo) -> RedisResult<Self> {
        Self::builder(url).connect().await
    }

    /// Uses a connection manager of your own (of this crate's
    /// [`redis`](crate::redis) version), with the default prefix and no
    /// mirror (a manager built with a cache config of its own is left as it
    /// is, but no command is marked for it).
    ///
    /// ```no_run
    /// use tower_jwt_auth::RedisConnection;
    /// use tower_jwt_auth::redis::{Client, aio::ConnectionManager};
    ///
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let client = Client::open("redis://127.0.0.1/")?;
    /// let redis = RedisConnection::from_manager(ConnectionManager::new(client).await?);
    /// # let _ = redis;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_manager(manager: ConnectionManager) -> Self {
        Self {
            link: Link::Single(manager),
            settings: Arc::new(Settings {
                prefix: DEFAULT_KEY_PREFIX.to_owned(),
                mirror: None,
                pushes: None,
                cluster: false,
            }),
        }
    }

    /// The prefix of every key.
    pub fn prefix(&self) -> &str {
        &self.settings.prefix
    }

    /// Whether this is a Redis Cluster connection (whose keys carry hash
    /// tags).
    pub fn is_cluster(&self) -> bool {
        self.settings.cluster
    }

    /// The staleness bound of the local mirror; `None` without a mirror.
    pub fn mirror_staleness_bound(&self) -> Option<Duration> {
        self.settings.mirror.map(|mirror| mirror.bound)
    }

    /// What the local mirror counted so far (hits, misses, invalidations);
    /// `None` without a mirror.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let redis = tower_jwt_auth::RedisConnection::builder("redis://127.0.0.1/")
    ///     .local_mirror(10_000)
    ///     .connect()
    ///     .await?;
    /// let stats = redis.mirror_stats().expect("a mirror");
    /// println!("{} answered locally", stats.hits);
    /// # Ok(())
    /// # }
    /// ```
    pub fn mirror_stats(&self) -> Option<MirrorStats> {
        let pushes = self.settings.pushes.as_ref()?;
        let mut stats = MirrorStats::from(self.link.cache_statistics()?);
        stats.hits = stats.hits.saturating_add(pushes.local_hits());
        Some(stats)
    }

    /// The same connection under another prefix.
    pub(crate) fn with_prefix(&self, prefix: String) -> Self {
        Self {
            link: self.link.clone(),
            settings: Arc::new(Settings {
                prefix,
                mirror: self.settings.mirror,
                pushes: self.settings.pushes.clone(),
                cluster: self.settings.cluster,
            }),
        }
    }

    /// With a mirror: how many pushes (invalidations, lost connections)
    /// came so far. An answer kept outside the redis crate's cache holds
    /// while this stays what it was before the answer was asked for.
    pub(crate) fn mirror_generation(&self) -> Option<u64> {
        Some(self.settings.pushes.as_ref()?.generation())
    }

    /// With a mirror: how long a store may keep an answer it asked for,
    /// counted from when it asked (half the bound: see `Mirror::tier_lifetime`),
    /// and how many answers at most.
    pub(crate) fn answer_table(&self) -> Option<(Duration, NonZeroUsize)> {
        let mirror = self.settings.mirror?;
        Some((mirror.tier_lifetime(), mirror.max_entries))
    }

    /// Counts `keys` answered by a store's table of answers.
    pub(crate) fn count_local_hits(&self, keys: u64) {
        if let Some(pushes) = &self.settings.pushes {
            pushes.count_local_hits(keys);
        }
    }

    /// Marks `cmd` (a read of revocation keys) to be answered from the local
    /// mirror when it can; without a mirror, leaves it as it is.
    pub(crate) fn mirrored(&self, cmd: &mut Cmd) {
        if let Some(mirror) = self.settings.mirror {
            mirror.mark(cmd);
        }
    }
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The link's own Debug shows the connection settings: leave them out.
        f.debug_struct("RedisConnection")
            .field("prefix", &self.settings.prefix)
            .field("cluster", &self.settings.cluster)
            .field("mirror", &self.settings.mirror)
            .finish_non_exhaustive()
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.link.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.link.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.link.get_db()
    }
}

/// Where a builder connects.
enum Target {
    Single(RedisResult<ConnectionInfo>),
    #[cfg(feature = "redis-cluster")]
    Cluster(Vec<String>),
}

/// Configures a [`RedisConnection`]: from [`RedisConnection::builder`] (one
/// node) or `RedisConnection::cluster` (feature `redis-cluster`).
#[must_use = "a builder does nothing until `connect`"]
pub struct RedisConnectionBuilder {
    target: Target,
    prefix: String,
    max_entries: Option<NonZeroUsize>,
    bound: Duration,
}

impl RedisConnectionBuilder {
    fn new(target: Target) -> Self {
        Self {
            target,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            max_entries: None,
            bound: DEFAULT_MIRROR_STALENESS_BOUND,
        }
    }

    /// The prefix of every key (default [`DEFAULT_KEY_PREFIX`]);
    /// applications sharing one Redis keep their keys apart with different
    /// prefixes. In a cluster, keep `{` and `}` out of it.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let redis = tower_jwt_auth::RedisConnection::builder("redis://127.0.0.1/")
    ///     .prefix("orders-api:")
    ///     .connect()
    ///     .await?;
    /// # let _ = redis;
    /// # Ok(())
    /// # }
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Keeps up to `max_entries` revocation answers in process (the redis
    /// crate's client-side cache over RESP3 `CLIENT TRACKING`), "not
    /// revoked" included, each dropped when Redis invalidates it and at the
    /// latest after the [staleness bound](Self::mirror_staleness_bound). `0`
    /// turns the mirror off (the default). Needs Redis 6 or later; the
    /// connection speaks RESP3.
    ///
    /// The redis crate's cache keeps up to `max_entries` keys, and each
    /// `RedisRevocations` on the connection up to `max_entries` whole
    /// answers in front of it. A check reads two keys (the token's and its
    /// subject's), so size it at about twice the tokens in use in a bound.
    /// Memory: about 350 bytes per cached key, and 300 to 400 bytes per
    /// answer (with a `jti`, `sub` and `iss` of usual lengths), so at most
    /// about 75 MB for `local_mirror(100_000)`.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let redis = tower_jwt_auth::RedisConnection::builder("redis://127.0.0.1/")
    ///     .local_mirror(100_000)
    ///     .connect()
    ///     .await?;
    /// # let _ = redis;
    /// # Ok(())
    /// # }
    /// ```
    pub fn local_mirror(mut self, max_entries: usize) -> Self {
        self.max_entries = NonZeroUsize::new(max_entries);
        self
    }

    /// The longest a mirrored answer is used after Redis gave it (default
    /// [`DEFAULT_MIRROR_STALENESS_BOUND`], 1 s; at least 1 ms): a revocation
    /// is seen by every server within this bound even when its invalidation
    /// is lost; usually within a round trip. A shorter bound costs more
    /// round trips (one per token and bound), a longer one lets a revoked
    /// token through for longer in a partition. Without
    /// [`local_mirror`](Self::local_mirror) it changes nothing.
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let redis = tower_jwt_auth::RedisConnection::builder("redis://127.0.0.1/")
    ///     .local_mirror(100_000)
    ///     .mirror_staleness_bound(Duration::from_millis(500))
    ///     .connect()
    ///     .await?;
    /// # let _ = redis;
    /// # Ok(())
    /// # }
    /// ```
    pub fn mirror_staleness_bound(mut self, bound: Duration) -> Self {
        self.bound = bound.max(Duration::from_millis(1));
        self
    }

    /// Connects, and waits for the first connection.
    ///
    /// # Errors
    ///
    /// An invalid URL, or no connection after the retries (a few seconds).
    pub async fn connect(self) -> RedisResult<RedisConnection> {
        let mirror = self.max_entries.map(|max_entries| Mirror {
            max_entries,
            bound: self.bound,
        });
        let pushes = mirror.map(|_| Arc::new(Pushes::default()));
        let tracked = mirror.zip(pushes.as_ref());
        let (link, cluster) = match self.target {
            Target::Single(info) => (Link::Single(connect_single(info?, tracked).await?), false),
            #[cfg(feature = "redis-cluster")]
            Target::Cluster(urls) => (Link::Cluster(connect_cluster(urls, tracked).await?), true),
        };
        Ok(RedisConnection {
            link,
            settings: Arc::new(Settings {
                prefix: self.prefix,
                mirror,
                pushes,
                cluster,
            }),
        })
    }
}

impl fmt::Debug for RedisConnectionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The target may hold a password: leave it out.
        f.debug_struct("RedisConnectionBuilder")
            .field("prefix", &self.prefix)
            .field("max_entries", &self.max_entries)
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

/// A connection manager for one node, once connected; RESP3 and the cache
/// with a mirror.
async fn connect_single(
    info: ConnectionInfo,
    mirror: Option<(Mirror, &Arc<Pushes>)>,
) -> RedisResult<ConnectionManager> {
    let mut config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECTION_TIMEOUT))
        .set_response_timeout(Some(CONNECTION_TIMEOUT))
        .set_max_delay(CONNECTION_TIMEOUT);
    let info = match mirror {
        Some((mirror, pushes)) => {
            config = config
                .set_cache_config(mirror.cache_config())
                .set_push_sender(pushes.sender());
            let settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            info.set_redis_settings(settings)
        }
        None => info,
    };
    ConnectionManager::new_with_config(Client::open(info)?, config).await
}

/// A cluster connection, once connected to a node; RESP3 and the cache with
/// a mirror.
#[cfg(feature = "redis-cluster")]
async fn connect_cluster(
    urls: Vec<String>,
    mirror: Option<(Mirror, &Arc<Pushes>)>,
) -> RedisResult<::redis::cluster_async::ClusterConnection> {
    let mut builder = ::redis::cluster::ClusterClient::builder(urls)
        .connection_timeout(CONNECTION_TIMEOUT)
        .response_timeout(CONNECTION_TIMEOUT);
    if let Some((mirror, pushes)) = mirror {
        builder = builder
            .use_protocol(ProtocolVersion::RESP3)
            .cache_config(mirror.cache_config())
            .push_sender(pushes.sender());
    }
    builder.build()?.get_async_connection().await
}
