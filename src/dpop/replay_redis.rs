//! [`RedisReplays`]: the ids of used DPoP proofs, shared by a fleet through
//! Redis.

use std::fmt;

use ::redis::{IntoConnectionInfo, RedisResult, Value};

use super::replay::{DIGEST_ID_LENGTH, ReplayFuture, ReplayStore, digest};
use crate::redis_connection::RedisConnection;
use crate::revocation::MAX_EXPIRY;

/// The tag of a replay key, after the prefix.
const TAG: &str = "dpop:";

/// The ids of used DPoP proofs in Redis, shared by every server that points
/// at the same Redis and key prefix: a proof used on one server is refused
/// on all the others.
///
/// Each check is one round trip, one atomic command:
/// `SET {prefix}dpop:{id} 1 NX EXAT {expires_at}`. Redis sets the key only
/// if it is absent (the first use) and answers `OK`, or answers nil (a
/// replay); two servers racing with the same proof get one `OK`. Every key
/// expires at the proof's `expires_at`, on Redis's clock, so Redis holds the
/// ids of live proofs only, and its memory is bounded by the proofs a window
/// sees. Keep Redis's `maxmemory-policy` at `noeviction`: any other policy
/// lets a full Redis evict live ids, and so lets their proofs be replayed;
/// with `noeviction` a full Redis fails the `SET`, and the check's policy
/// answers.
///
/// The key holds the id and nothing else: the 43-character base64url SHA-256
/// digest that the DPoP check derives (for example
/// `tower-jwt-auth:dpop:hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg`), never
/// the proof, its `jti` or its key; any other id is refused
/// ([`ReplayError::NotADigest`](crate::ReplayError::NotADigest)). One key
/// per command, so a Redis Cluster works too (`RedisConnection::cluster`).
/// Redis keeps the ids only as well as it keeps its data: a Redis restarted
/// without persistence (AOF or RDB) has forgotten them, and the proofs of
/// the last window could be replayed once more.
///
/// The servers' clocks should agree with Redis's, within the leeway the DPoP
/// check adds to `expires_at`: a key expires by Redis's clock, a proof by the
/// server's.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_jwt_auth::{RedisConnection, RedisReplays, ReplayCheck};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let redis = RedisConnection::builder("redis://127.0.0.1:6379/")
///     .prefix("my-app:")
///     .connect()
///     .await?;
/// let store = RedisReplays::new(redis);
/// let check = ReplayCheck::new(store).timeout(Duration::from_millis(100));
/// # let _ = check;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisReplays {
    connection: RedisConnection,
}

impl RedisReplays {
    /// Connects to the single Redis at `url`
    /// (`redis://[user:password@]host[:port][/db]`):
    /// `RedisReplays::new(RedisConnection::connect(url).await?)`.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let store = tower_jwt_auth::RedisReplays::connect("redis://127.0.0.1/").await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// An invalid URL, or no connection after the retries (a few seconds).
    pub async fn connect(url: impl IntoConnectionInfo) -> RedisResult<Self> {
        Ok(Self::new(RedisConnection::connect(url).await?))
    }

    /// Uses a connection, which other stores can share (its local mirror,
    /// if any, is never used for proofs: each is a `SET NX` in Redis).
    ///
    /// ```no_run
    /// use tower_jwt_auth::{RedisConnection, RedisReplays, RedisRevocations};
    ///
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let redis = RedisConnection::connect("redis://127.0.0.1/").await?;
    /// let revocations = RedisRevocations::new(redis.clone());
    /// let replays = RedisReplays::new(redis);
    /// # let _ = (revocations, replays);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(connection: RedisConnection) -> Self {
        Self { connection }
    }

    /// Replaces the connection's prefix for this store (default
    /// [`DEFAULT_KEY_PREFIX`](crate::DEFAULT_KEY_PREFIX), as for
    /// revocations, whose keys never start with `dpop:`); applications
    /// sharing one Redis keep their proofs apart with different prefixes.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let store = tower_jwt_auth::RedisReplays::connect("redis://127.0.0.1/")
    ///     .await?
    ///     .prefix("my-app:");
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.connection = self.connection.with_prefix(prefix.into());
        self
    }

    /// The connection, to share with other stores or run other commands on.
    pub fn connection(&self) -> &RedisConnection {
        &self.connection
    }

    /// `{prefix}dpop:{id}`.
    fn key(&self, id: &str) -> String {
        let prefix = self.connection.prefix();
        let mut key = String::with_capacity(prefix.len() + TAG.len() + DIGEST_ID_LENGTH);
        key.push_str(prefix);
        key.push_str(TAG);
        key.push_str(id);
        key
    }
}

impl fmt::Debug for RedisReplays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplays")
            .field("connection", &self.connection)
            .finish()
    }
}

/// A reply to `SET ... NX` that is neither `OK` nor nil.
#[derive(Debug)]
struct UnexpectedReply;

impl fmt::Display for UnexpectedReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redis answered SET NX with neither OK nor nil")
    }
}

impl std::error::Error for UnexpectedReply {}

impl ReplayStore for RedisReplays {
    fn first_use<'a>(&'a self, id: &'a str, expires_at: u64) -> ReplayFuture<'a> {
        Box::pin(async move {
            // Only a digest reaches a key.
            digest(id)?;
            // Redis refuses 0 and times whose milliseconds overflow an i64; a
            // time in the past sets nothing and answers OK.
            let expires_at = expires_at.clamp(1, MAX_EXPIRY);
            let reply: Value = ::redis::cmd("SET")
                .arg(self.key(id))
                .arg(1)
                .arg("NX")
                .arg("EXAT")
                .arg(expires_at)
                .query_async(&mut self.connection.clone())
                .await?;
            match reply {
                Value::Okay => Ok(true),
                Value::SimpleString(ok) if ok == "OK" => Ok(true),
                Value::Nil => Ok(false),
                _ => Err(UnexpectedReply.into()),
            }
        })
    }
}
