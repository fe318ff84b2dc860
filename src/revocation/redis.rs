//! [`RedisRevocations`]: revocations shared by many servers through Redis.

use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, IntoConnectionInfo, RedisResult};

use super::key::{self, Refused};
use super::{RevocationFuture, RevocationStore, TokenInfo};
use crate::clock::DEFAULT_LEEWAY;
use crate::clock::{Clock, SystemClock};

/// The default prefix of this crate's Redis keys: `tower-jwt-auth:`.
pub const DEFAULT_KEY_PREFIX: &str = "tower-jwt-auth:";

/// Writes a subject entry, keeping the later `before` and the later expiry of
/// the entry it replaces, in one atomic step. The value is `before:expiry`.
/// Lua numbers are doubles: every time here is at most `MAX_EXPIRY`, exact.
const REVOKE_SUBJECT: &str = r"
local before = tonumber(ARGV[1])
local expires = tonumber(ARGV[2])
local old = redis.call('GET', KEYS[1])
if old then
  local b, e = string.match(old, '^(%d+):(%d+)$')
  if b then
    before = math.max(before, tonumber(b))
    expires = math.max(expires, tonumber(e))
  end
end
redis.call('SET', KEYS[1], string.format('%d:%d', before, expires))
redis.call('EXPIREAT', KEYS[1], expires)
return 1
";

/// Revocations in Redis, shared by every server that points at the same
/// Redis and key prefix.
///
/// One [`ConnectionManager`]: a multiplexed connection that reconnects by
/// itself; clones share it. Each check is one round trip (`MGET` of the
/// token's own key, by `jti` or digest, and its subject key). Every key expires (`EXPIREAT`) with the
/// token it revokes, plus the leeway, so Redis never holds more than the
/// revocations that still matter.
///
/// Keys, under the prefix (default [`DEFAULT_KEY_PREFIX`]), with each value
/// written as its length, a colon and its bytes, so no claim can forge another
/// key:
///
/// | key | value | written by |
/// |---|---|---|
/// | `{prefix}jti:{iss}{jti}` | `1` | [`revoke`](RevocationStore::revoke): `SET` and `EXPIREAT` in one `MULTI` |
/// | `{prefix}sha256:{digest}` | `1` | the same, for a token without `jti` ([`TokenInfo::token_digest`], 43 base64url characters, never the token) |
/// | `{prefix}sub:{iss}{sub}` | `{before}:{expiry}` | [`revoke_subject`](RevocationStore::revoke_subject): a Lua script (`EVAL`) that keeps the later `before` and expiry |
///
/// for example `tower-jwt-auth:jti:22:https://id.example.com8:5f0c6d1e`
/// (`-:` stands for a token without `iss`) and
/// `tower-jwt-auth:sha256:hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg`. Revoking a subject needs
/// scripting (`EVAL`) to be allowed; checking needs only `MGET`. Both keys of
/// a check live on one server: use a single Redis (with replicas or
/// Sentinel if you like), not a Redis Cluster. Redis keeps revocations only as
/// well as it keeps its data: turn persistence (AOF or RDB) on if they must
/// survive a restart of Redis.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_jwt_auth::{RedisRevocations, Revocation, RevocationStore, TokenInfo};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let store = RedisRevocations::connect("redis://127.0.0.1:6379/")
///     .await?
///     .prefix("my-app:");
/// // The layer checks with one handle...
/// let revocation = Revocation::new(store.clone()).timeout(Duration::from_millis(100));
/// # let _ = revocation;
/// // ...and the logout handler revokes with another; every server sees it.
/// let token = TokenInfo::new().with_jti("5f0c6d1e").with_expires_at(1_900_000_000);
/// store.revoke(&token).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisRevocations {
    manager: ConnectionManager,
    prefix: String,
    leeway: u64,
}

impl RedisRevocations {
    /// Connects to the Redis at `url` (`redis://[user:password@]host[:port][/db]`)
    /// and waits for the first connection.
    ///
    /// The connection manager waits at most 1 s per connection attempt and per
    /// answer, and reconnects with an exponential backoff of at most 1 s
    /// between attempts, so that checks find a Redis that came back within
    /// about a second. For other settings, or to start before Redis is up
    /// (`ConnectionManager::new_lazy_with_config`), build the manager yourself
    /// and use [`new`](Self::new).
    ///
    /// # Errors
    ///
    /// An invalid URL, or no connection after the manager's retries (a few
    /// seconds).
    pub async fn connect(url: impl IntoConnectionInfo) -> RedisResult<Self> {
        Ok(Self::new(connect_manager(url).await?))
    }

    /// Uses an existing connection manager (of this crate's
    /// [`redis`](crate::redis) version).
    ///
    /// ```no_run
    /// use tower_jwt_auth::RedisRevocations;
    /// use tower_jwt_auth::redis::{Client, aio::ConnectionManager};
    ///
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let client = Client::open("redis://127.0.0.1/")?;
    /// let store = RedisRevocations::new(ConnectionManager::new(client).await?);
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(manager: ConnectionManager) -> Self {
        Self {
            manager,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            leeway: DEFAULT_LEEWAY.as_secs(),
        }
    }

    /// The prefix of every key (default [`DEFAULT_KEY_PREFIX`]); applications
    /// sharing one Redis keep their revocations apart with different prefixes.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long keys are kept past the token's `exp` (or the subject's
    /// `until`), in whole seconds (default
    /// [`DEFAULT_LEEWAY`](crate::DEFAULT_LEEWAY), 60 s). Set it to the layer's
    /// [`leeway`](crate::JwtAuthBuilder::leeway), or more to allow for clock
    /// differences between servers and Redis: the layer accepts a token for
    /// that long after its `exp`, so its revocation must last as long.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.as_secs();
        self
    }

    /// The connection manager, to run other commands on the same connection.
    pub fn manager(&self) -> &ConnectionManager {
        &self.manager
    }

    async fn check(&self, token: &TokenInfo) -> RedisResult<Result<bool, Refused>> {
        let (identity, subject) = key::entry_names(&self.prefix, token);
        let names: Vec<&str> = identity
            .iter()
            .chain(subject.iter())
            .map(String::as_str)
            .collect();
        if names.is_empty() {
            return Ok(Ok(false));
        }
        let values: Vec<Option<Vec<u8>>> = ::redis::cmd("MGET")
            .arg(&names)
            .query_async(&mut self.manager.clone())
            .await?;
        if values.len() != names.len() {
            return Ok(Err(Refused(
                "Redis answered MGET with the wrong number of values",
            )));
        }
        let mut values = values.into_iter();
        if identity.is_some() && values.next().flatten().is_some() {
            return Ok(Ok(true));
        }
        let Some(value) = values.next().flatten() else {
            return Ok(Ok(false));
        };
        match subject_before(&value) {
            Some(before) => Ok(Ok(key::subject_covers(before, token.issued_at()))),
            None => Ok(Err(Refused("malformed subject revocation entry in Redis"))),
        }
    }
}

/// A connection manager for the Redis at `url`, once connected: at most 1 s
/// per connection attempt and per answer, and at most 1 s between
/// reconnection attempts, so that a Redis that came back is found within
/// about a second. The settings of every store's `connect`.
pub(crate) async fn connect_manager(
    url: impl IntoConnectionInfo,
) -> RedisResult<ConnectionManager> {
    let client = Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(1)))
        .set_max_delay(Duration::from_secs(1));
    ConnectionManager::new_with_config(client, config).await
}

/// The `before` of a subject entry's value `before:expiry`.
fn subject_before(value: &[u8]) -> Option<u64> {
    let digits = value.split(|&b| b == b':').next()?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

impl fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The manager's own Debug shows the connection settings: leave them out.
        f.debug_struct("RedisRevocations")
            .field("prefix", &self.prefix)
            .field("leeway", &Duration::from_secs(self.leeway))
            .finish_non_exhaustive()
    }
}

impl RevocationStore for RedisRevocations {
    fn is_revoked<'a>(&'a self, token: &'a TokenInfo) -> RevocationFuture<'a, bool> {
        Box::pin(async move { Ok(self.check(token).await??) })
    }

    fn revoke<'a>(&'a self, token: &'a TokenInfo) -> RevocationFuture<'a, ()> {
        Box::pin(async move {
            let (name, expires) = key::identity_entry(&self.prefix, token, self.leeway)?;
            if expires <= SystemClock.now() {
                return Ok(());
            }
            ::redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(&name)
                .arg(1)
                .ignore()
                .cmd("EXPIREAT")
                .arg(&name)
                .arg(expires)
                .ignore()
                .exec_async(&mut self.manager.clone())
                .await?;
            Ok(())
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        issuer: Option<&'a str>,
        subject: &'a str,
        before: u64,
        until: u64,
    ) -> RevocationFuture<'a, ()> {
        Box::pin(async move {
            let (name, expires) =
                key::subject_entry(&self.prefix, issuer, subject, until, self.leeway)?;
            if expires <= SystemClock.now() {
                return Ok(());
            }
            ::redis::cmd("EVAL")
                .arg(REVOKE_SUBJECT)
                .arg(1)
                .arg(&name)
                .arg(before.min(key::MAX_EXPIRY))
                .arg(expires)
                .exec_async(&mut self.manager.clone())
                .await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_values_are_read() {
        assert_eq!(
            subject_before(b"1700000000:1700003600"),
            Some(1_700_000_000)
        );
        assert_eq!(subject_before(b"17"), Some(17));
        assert_eq!(subject_before(b""), None);
        assert_eq!(subject_before(b"x:1"), None);
        assert_eq!(subject_before(b"-1:1"), None);
        assert_eq!(subject_before(b"\xff:1"), None);
    }
}
