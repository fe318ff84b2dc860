//! [`RedisRevocations`]: revocations shared by many servers through Redis.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::redis::{IntoConnectionInfo, RedisResult};

use super::key::{self, Layout, Refused};
use super::local_answers::LocalAnswers;
use super::{RevocationFuture, RevocationStore, TokenInfo};
use crate::clock::DEFAULT_LEEWAY;
use crate::clock::{Clock, SystemClock};
use crate::redis_connection::RedisConnection;

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
/// Built on a [`RedisConnection`] (one node or a Redis Cluster, its key
/// prefix, and optionally the local mirror), which it can share with the
/// other Redis stores; clones share it. Each check is one round trip (`MGET`
/// of the token's own key, by `jti` or digest, and its subject key), or
/// none when the connection's local mirror holds both answers ("not
/// revoked" included), each at most the mirror's staleness bound old. With
/// a mirror, a check answered "not revoked" is also kept whole, and the next
/// checks of the token are answered without a future until Redis pushes an
/// invalidation to the connection (see [`RedisConnection`], "The local
/// mirror"). Every
/// key expires (`SET ... EXAT`) with the token it revokes, plus the leeway,
/// so Redis never holds more than the revocations that still matter.
///
/// Keys, under the prefix (default
/// [`DEFAULT_KEY_PREFIX`](crate::DEFAULT_KEY_PREFIX)), with each value
/// written as its length, a colon and its bytes, so no claim can forge
/// another key. On a single Redis:
///
/// | key | value | written by |
/// |---|---|---|
/// | `{prefix}jti:{iss}{jti}` | `1` | [`revoke`](RevocationStore::revoke): `SET ... EXAT` |
/// | `{prefix}sha256:{digest}` | `1` | the same, for a token without `jti` ([`TokenInfo::token_digest`], 43 base64url characters, never the token) |
/// | `{prefix}sub:{iss}{sub}` | `{before}:{expiry}` | [`revoke_subject`](RevocationStore::revoke_subject): a Lua script (`EVAL`) that keeps the later `before` and expiry |
///
/// for example `tower-jwt-auth:jti:22:https://id.example.com8:5f0c6d1e`
/// (`-:` stands for a token without `iss`) and
/// `tower-jwt-auth:sha256:hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg`.
///
/// In a Redis Cluster, the keys a check reads must live on one slot, so the
/// token's issuer and subject come first, in braces, as the hash tag:
/// `{prefix}{{iss}{sub}}jti:{jti}`, `{prefix}{{iss}{sub}}sha256:{digest}`
/// and `{prefix}{{iss}{sub}}sub`, for example
/// `tower-jwt-auth:{22:https://id.example.com3:ada}jti:8:5f0c6d1e`. The
/// issuer and subject are what both the check and the revocation know of a
/// token (the `TokenInfo` the layer puts in an accepted request's
/// extensions has them), and they spread tokens over the slots by user. So
/// in a cluster, [`revoke`](RevocationStore::revoke) needs the token's `sub`
/// ([`TokenInfo::with_subject`]) and refuses a `TokenInfo` without one: a
/// revocation by `jti` alone could not know which slot the check looks in,
/// and would silently revoke nothing. So a token without `sub` cannot be
/// revoked in a cluster (its check reads the tag `{{iss}-}`, which nothing
/// writes): issue tokens with `sub` (RFC 9068 requires it), or use a single
/// Redis.
/// The single-node names stay as they were, so that revocations written by
/// earlier versions are still found.
///
/// Revoking a subject needs scripting (`EVAL`) to be allowed; checking needs
/// only `MGET`. Redis keeps revocations only as well as it keeps its data:
/// turn persistence (AOF or RDB) on if they must survive a restart of Redis.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_jwt_auth::{RedisConnection, RedisRevocations, Revocation, RevocationStore, TokenInfo};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let redis = RedisConnection::builder("redis://127.0.0.1:6379/")
///     .prefix("my-app:")
///     .local_mirror(100_000)
///     .connect()
///     .await?;
/// let store = RedisRevocations::new(redis);
/// // The layer checks with one handle...
/// let revocation = Revocation::new(store.clone()).timeout(Duration::from_millis(100));
/// # let _ = revocation;
/// // ...and the logout handler revokes with another; every server sees it.
/// let token = TokenInfo::new()
///     .with_subject("ada")
///     .with_jti("5f0c6d1e")
///     .with_expires_at(1_900_000_000);
/// store.revoke(&token).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisRevocations {
    connection: RedisConnection,
    leeway: u64,
    /// With a mirror: whole checks answered "not revoked" without I/O.
    answers: Option<Arc<LocalAnswers>>,
}

impl RedisRevocations {
    /// Connects to the single Redis at `url`
    /// (`redis://[user:password@]host[:port][/db]`), without a local mirror:
    /// `RedisRevocations::new(RedisConnection::connect(url).await?)`.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let store = tower_jwt_auth::RedisRevocations::connect("redis://127.0.0.1/").await?;
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

    /// Uses a connection, which other stores can share.
    ///
    /// ```no_run
    /// use tower_jwt_auth::{RedisConnection, RedisReplays, RedisRevocations};
    ///
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let redis = RedisConnection::builder("redis://127.0.0.1/")
    ///     .local_mirror(100_000)
    ///     .connect()
    ///     .await?;
    /// let revocations = RedisRevocations::new(redis.clone());
    /// let replays = RedisReplays::new(redis);
    /// # let _ = (revocations, replays);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(connection: RedisConnection) -> Self {
        let answers = connection
            .answer_table()
            .map(|(lifetime, max_entries)| Arc::new(LocalAnswers::new(lifetime, max_entries)));
        Self {
            connection,
            leeway: DEFAULT_LEEWAY.as_secs(),
            answers,
        }
    }

    /// Replaces the connection's prefix for this store (the connection's
    /// own, default [`DEFAULT_KEY_PREFIX`](crate::DEFAULT_KEY_PREFIX));
    /// applications sharing one Redis keep their revocations apart with
    /// different prefixes.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let store = tower_jwt_auth::RedisRevocations::connect("redis://127.0.0.1/")
    ///     .await?
    ///     .prefix("my-app:");
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        // Other keys: the answers of the old prefix do not hold.
        Self {
            leeway: self.leeway,
            ..Self::new(self.connection.with_prefix(prefix.into()))
        }
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

    /// The connection, to share with other stores or run other commands on.
    pub fn connection(&self) -> &RedisConnection {
        &self.connection
    }

    /// The layout of the key names: tagged in a cluster.
    fn layout(&self) -> Layout {
        if self.connection.is_cluster() {
            Layout::Tagged
        } else {
            Layout::Flat
        }
    }

    async fn check(&self, token: &TokenInfo) -> RedisResult<Result<bool, Refused>> {
        let (identity, subject) = key::entry_names(self.connection.prefix(), self.layout(), token);
        let names: Vec<&str> = identity
            .iter()
            .chain(subject.iter())
            .map(String::as_str)
            .collect();
        if names.is_empty() {
            return Ok(Ok(false));
        }
        let asked = Instant::now();
        let asked_in = self.connection.mirror_generation();
        let mut mget = ::redis::cmd("MGET");
        mget.arg(&names);
        self.connection.mirrored(&mut mget);
        let values: Vec<Option<Vec<u8>>> = mget.query_async(&mut self.connection.clone()).await?;
        let answer = Self::read(identity.is_some(), &names, values, token);
        if let (Ok(Ok(false)), Some(answers), Some(asked_in)) = (&answer, &self.answers, asked_in) {
            let current = || self.connection.mirror_generation().unwrap_or(u64::MAX);
            answers.keep(token, names.len(), asked, asked_in, current);
        }
        answer
    }

    /// The answer in the values of `MGET names`: the identity key's first
    /// when there is one, then the subject key's.
    fn read(
        has_identity: bool,
        names: &[&str],
        values: Vec<Option<Vec<u8>>>,
        token: &TokenInfo,
    ) -> RedisResult<Result<bool, Refused>> {
        if values.len() != names.len() {
            return Ok(Err(Refused(
                "Redis answered MGET with the wrong number of values",
            )));
        }
        let mut values = values.into_iter();
        if has_identity && values.next().flatten().is_some() {
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

/// The `before` of a subject entry's value `before:expiry`.
fn subject_before(value: &[u8]) -> Option<u64> {
    let digits = value.split(|&b| b == b':').next()?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

impl fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("connection", &self.connection)
            .field("leeway", &Duration::from_secs(self.leeway))
            .finish()
    }
}

impl RevocationStore for RedisRevocations {
    fn is_revoked<'a>(&'a self, token: &'a TokenInfo) -> RevocationFuture<'a, bool> {
        Box::pin(async move { Ok(self.check(token).await??) })
    }

    fn is_revoked_now(&self, token: &TokenInfo) -> Option<bool> {
        let answers = self.answers.as_deref()?;
        let generation = self.connection.mirror_generation()?;
        let keys = answers.not_revoked(token, generation, Instant::now())?;
        self.connection.count_local_hits(u64::from(keys));
        Some(false)
    }

    fn revoke<'a>(&'a self, token: &'a TokenInfo) -> RevocationFuture<'a, ()> {
        Box::pin(async move {
            if self.connection.is_cluster() && token.subject().is_none() {
                return Err(Refused(
                    "in a Redis Cluster a token is revoked with its `sub` \
                     (TokenInfo::with_subject): its keys are placed by issuer and subject",
                )
                .into());
            }
            let (name, expires) =
                key::identity_entry(self.connection.prefix(), self.layout(), token, self.leeway)?;
            if expires <= SystemClock.now() {
                return Ok(());
            }
            // One command (Redis 6.2+): nothing to keep atomic, and it runs
            // alike on one node and in a cluster.
            ::redis::cmd("SET")
                .arg(&name)
                .arg(1)
                .arg("EXAT")
                .arg(expires)
                .exec_async(&mut self.connection.clone())
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
            let (name, expires) = key::subject_entry(
                self.connection.prefix(),
                self.layout(),
                issuer,
                subject,
                until,
                self.leeway,
            )?;
            if expires <= SystemClock.now() {
                return Ok(());
            }
            ::redis::cmd("EVAL")
                .arg(REVOKE_SUBJECT)
                .arg(1)
                .arg(&name)
                .arg(before.min(key::MAX_EXPIRY))
                .arg(expires)
                .exec_async(&mut self.connection.clone())
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
