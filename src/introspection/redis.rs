//! [`RedisIntrospectionCache`]: the introspection answers, shared by a fleet
//! through Redis, so that it introspects each token once; and `Shared`, the
//! flow one [`Introspection`](super::Introspection) runs on a local miss.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ::redis::{IntoConnectionInfo, RedisResult, Value};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::time::Instant;

use super::cache::{Entry, Lifetimes, Verdict};
use super::client::{self, Answer};
use crate::breaker::{Admission, Breaker, CircuitBreaker};
use crate::error::{AuthError, AuthErrorKind};
use crate::outage::{Health, Words};
use crate::redis_connection::RedisConnection;
use crate::revocation::MAX_EXPIRY;

/// The tag of an answer's key, after the prefix and the digest.
const ANSWER_TAG: &str = "introspection";
/// The tag of the key that says an instance is introspecting the token.
const LOCK_TAG: &str = "introspection-lock";
/// The default time each Redis command may take.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(100);
/// How often an instance that waits for another's answer looks for it.
const POLL_INTERVAL: Duration = Duration::from_millis(15);
/// The length of a token digest in base64url: 43 characters.
const DIGEST_LENGTH: usize = 43;
/// The longest `A<until>\n` before the JSON: `A`, 20 digits, the newline.
const HEADER_LENGTH: usize = 22;

/// How the outage log names the cache, and what is done while it fails.
const WORDS: Words = Words {
    check: "introspection cache",
    asks: "Redis",
    item: "token",
    fallback: Some((
        "token introspected directly",
        "tokens introspected directly",
    )),
};

/// The introspection answers in Redis, shared by every server that points at
/// the same Redis and key prefix, so that a fleet introspects each token
/// once: give it to
/// [`IntrospectionBuilder::shared_cache`](crate::IntrospectionBuilder::shared_cache).
///
/// Each [`Introspection`](crate::Introspection) keeps its in-process cache
/// (the first place it looks); this is the second, asked when the first
/// misses, once per token at a time in a process:
///
/// 1. `GET {prefix}{{digest}}introspection`, the digest being the base64url
///    SHA-256 of the token (43 characters; never the token itself). An
///    answer found there is used, and kept in process until it expires.
/// 2. Else `SET {prefix}{{digest}}introspection-lock 1 NX PX <the
///    introspection timeout>`: the one instance that sets it introspects the
///    token, writes the answer (`SET ... EX`) and deletes the lock; the
///    others look for the answer every 15 ms until it appears, the lock is
///    gone or the introspection timeout has passed, and then introspect the
///    token themselves if no answer appeared. Two instances that receive one
///    new token at the same moment cause one introspection.
///
/// An answer is written for as long as the in-process cache keeps it (an
/// active token until its `exp` and at most
/// [`max_cache_lifetime`](crate::IntrospectionBuilder::max_cache_lifetime),
/// an inactive one for
/// [`inactive_cache_lifetime`](crate::IntrospectionBuilder::inactive_cache_lifetime)),
/// as `A{until}\n{the JSON answer}` or `I{until}`, `until` being the first
/// second (by the layer's clock) it no longer holds, and the key expiring
/// then. A failure of the authorization server is never written. A value
/// read back is checked again: anything but an active JSON answer or an
/// inactive mark, a passed `until`, an `until` beyond what this instance's
/// own lifetimes allow, is a miss (the token is introspected), never an
/// acceptance.
///
/// **Redis failing or slow** (an error, or no answer within
/// [`timeout`](Self::timeout) for one command) never refuses a request: the
/// token is introspected directly, as without this cache, and the outage is
/// logged once (`tracing::warn!`, target `tower_jwt_auth`, "introspection
/// cache check failed", then a count every 10 s and an `info` when Redis
/// answers again).
///
/// # Security
///
/// Whoever can write to this Redis can make any token look active, with the
/// claims they choose: the same trust as a revocation store
/// ([`RedisRevocations`](crate::RedisRevocations)), which whoever writes to
/// can revoke any token or lift a revocation. Keep this Redis private to the
/// servers (a network of their own, `requirepass` or ACLs, TLS with
/// `rediss://` across hosts), and use one prefix per application. The keys
/// hold digests, never tokens, but an answer holds the token's claims.
/// Keys expire by Redis's clock and answers by the servers': keep the
/// clocks in agreement. A lock and its answer are asked about in one
/// pipeline: the digest in braces is their hash tag, so that in a Redis
/// Cluster (`RedisConnection::cluster`) both live on one slot. (Before the
/// cluster support, the keys were `{prefix}introspection:{digest}`: answers
/// written by earlier versions are not found, and introspected again.)
///
/// ```no_run
/// use std::time::Duration;
/// use tower_jwt_auth::{Introspection, RedisConnection, RedisIntrospectionCache};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let redis = RedisConnection::builder("redis://127.0.0.1:6379/")
///     .prefix("orders-api:")
///     .connect()
///     .await?;
/// let shared = RedisIntrospectionCache::new(redis).timeout(Duration::from_millis(50));
/// let introspection = Introspection::builder("https://login.example.com/oauth2/introspect")
///     .client_secret_basic("orders-api", "the client secret")
///     .shared_cache(shared)
///     .build()?;
/// # let _ = introspection;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisIntrospectionCache {
    connection: RedisConnection,
    timeout: Duration,
    /// The outage record, shared by clones: one Redis, one record.
    health: Arc<Health>,
    /// Shared by clones too: one Redis, one breaker.
    breaker: Arc<Breaker>,
}

impl RedisIntrospectionCache {
    /// Connects to the single Redis at `url`
    /// (`redis://[user:password@]host[:port][/db]`):
    /// `RedisIntrospectionCache::new(RedisConnection::connect(url).await?)`.
    ///
    /// ```no_run
    /// use tower_jwt_auth::RedisIntrospectionCache;
    ///
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let shared = RedisIntrospectionCache::connect("redis://127.0.0.1:6379/").await?;
    /// # let _ = shared;
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
    /// if any, is not used for answers: they are read from Redis).
    ///
    /// ```no_run
    /// use tower_jwt_auth::{RedisConnection, RedisIntrospectionCache, RedisRevocations};
    ///
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let redis = RedisConnection::connect("redis://127.0.0.1/").await?;
    /// let revocations = RedisRevocations::new(redis.clone());
    /// let shared = RedisIntrospectionCache::new(redis);
    /// # let _ = (revocations, shared);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(connection: RedisConnection) -> Self {
        Self {
            connection,
            timeout: DEFAULT_TIMEOUT,
            health: Arc::new(Health::new(WORDS)),
            breaker: Arc::new(Breaker::new(CircuitBreaker::default())),
        }
    }

    /// Replaces the connection's prefix for this store (default
    /// [`DEFAULT_KEY_PREFIX`](crate::DEFAULT_KEY_PREFIX), as for
    /// revocations and DPoP proofs, whose keys never hold `introspection`
    /// after a digest); applications sharing one Redis keep their answers
    /// apart with different prefixes.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let shared = tower_jwt_auth::RedisIntrospectionCache::connect("redis://127.0.0.1/")
    ///     .await?
    ///     .prefix("orders-api:");
    /// # let _ = shared;
    /// # Ok(())
    /// # }
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.connection = self.connection.with_prefix(prefix.into());
        self
    }

    /// How long each Redis command may take (default 100 ms); past it the
    /// token is introspected directly, as when Redis fails. A zero timeout
    /// is taken as 1 ms.
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let shared = tower_jwt_auth::RedisIntrospectionCache::connect("redis://127.0.0.1/")
    ///     .await?
    ///     .timeout(Duration::from_millis(50));
    /// # let _ = shared;
    /// # Ok(())
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// When to stop asking a Redis that keeps failing or hanging (default
    /// [`CircuitBreaker::default`]: 5 failures in a row, then 5 s): while the
    /// breaker is open, every token is introspected directly at once, as when
    /// a command fails, instead of each request first waiting out the
    /// [`timeout`](Self::timeout); then one probe asks Redis again, and its
    /// answer closes the breaker. Logged with the outage reports
    /// ("introspection cache circuit breaker open", then "... closed").
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tower_jwt_auth::CircuitBreaker;
    ///
    /// # async fn f() -> Result<(), tower_jwt_auth::redis::RedisError> {
    /// let shared = tower_jwt_auth::RedisIntrospectionCache::connect("redis://127.0.0.1/")
    ///     .await?
    ///     .circuit_breaker(CircuitBreaker::new(3, Duration::from_secs(2)));
    /// # let _ = shared;
    /// # Ok(())
    /// # }
    /// ```
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Arc::new(Breaker::new(breaker));
        self
    }

    /// The connection, to share with other stores or run other commands on.
    pub fn connection(&self) -> &RedisConnection {
        &self.connection
    }

    /// `{prefix}{{digest}}{tag}`: the digest is the hash tag, so that a
    /// token's lock and answer share a slot in a cluster.
    fn key(&self, tag: &str, digest: &str) -> String {
        let prefix = self.connection.prefix();
        let mut key = String::with_capacity(prefix.len() + DIGEST_LENGTH + 2 + tag.len());
        key.push_str(prefix);
        key.push('{');
        key.push_str(digest);
        key.push('}');
        key.push_str(tag);
        key
    }

    /// Runs one round trip within the timeout, unless the breaker is open,
    /// and records how Redis did.
    async fn run<T>(&self, exchange: impl Future<Output = RedisResult<T>>) -> Result<T, AuthError> {
        let ticket = match self.breaker.admit() {
            Admission::Ask(ticket) => ticket,
            Admission::Refuse => {
                return self.failed(AuthError::new(
                    AuthErrorKind::IntrospectionUnavailable,
                    "the shared introspection cache (Redis) circuit open",
                ));
            }
        };
        let error = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(value)) => {
                if let Some(transition) = ticket.answered() {
                    self.health.breaker(transition, false);
                }
                self.health.answered(false);
                return Ok(value);
            }
            Ok(Err(error)) => AuthError::with_source(
                AuthErrorKind::IntrospectionUnavailable,
                "the shared introspection cache (Redis) failed",
                error,
            ),
            Err(elapsed) => AuthError::with_source(
                AuthErrorKind::IntrospectionUnavailable,
                "the shared introspection cache (Redis) did not answer in time",
                elapsed,
            ),
        };
        let transition = ticket.failed();
        let answer = self.failed(error);
        if let Some(transition) = transition {
            self.health.breaker(transition, false);
        }
        answer
    }

    /// Records a failure of Redis.
    fn failed<T>(&self, error: AuthError) -> Result<T, AuthError> {
        self.health.failed(&error, self.timeout, false);
        Err(error)
    }
}

impl fmt::Debug for RedisIntrospectionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisIntrospectionCache")
            .field("connection", &self.connection)
            .field("timeout", &self.timeout)
            .field("circuit_breaker", &self.breaker.config())
            .finish_non_exhaustive()
    }
}

/// The shared cache as one `Introspection` uses it: with its lifetimes, its
/// introspection timeout and its answer size limit.
pub(super) struct Shared {
    store: RedisIntrospectionCache,
    lifetimes: Lifetimes,
    /// The introspection timeout: how long the lock lives, and how long
    /// another instance's answer is waited for.
    wait: Duration,
    /// The longest value read back.
    max_value: usize,
}

/// What `SET ... NX` and the `GET` after it said.
struct Claim {
    owner: bool,
    found: Option<Entry>,
}

impl Shared {
    pub(super) fn new(
        store: RedisIntrospectionCache,
        lifetimes: Lifetimes,
        wait: Duration,
        max_response_size: usize,
    ) -> Self {
        Self {
            store,
            lifetimes,
            wait,
            max_value: max_response_size.saturating_add(HEADER_LENGTH),
        }
    }

    /// The answer for the token whose SHA-256 is `digest`, at `now`: the
    /// fleet's, else `ask`'s (the authorization server's), asked at most once
    /// and written for the fleet. Redis failing, `ask`'s answer still.
    pub(super) async fn entry(
        &self,
        digest: &[u8; 32],
        now: u64,
        ask: impl Future<Output = Answer>,
    ) -> Entry {
        let digest = URL_SAFE_NO_PAD.encode(digest);
        let answer_key = self.store.key(ANSWER_TAG, &digest);
        let lock_key = self.store.key(LOCK_TAG, &digest);
        let direct = |ask| async move { self.lifetimes.entry(ask.await, now) };

        match self.find(&answer_key, now).await {
            Ok(Some(entry)) => return entry,
            Ok(None) => {}
            Err(_) => return direct(ask).await,
        }
        let claim = match self.claim(&lock_key, &answer_key, now).await {
            Ok(claim) => claim,
            Err(_) => return direct(ask).await,
        };
        match claim {
            Claim {
                owner,
                found: Some(entry),
            } => {
                // Written between the GET and the claim.
                if owner {
                    self.publish(&answer_key, None, Some(&lock_key), now).await;
                }
                entry
            }
            Claim { owner: true, .. } => {
                let claimed = Instant::now();
                let entry = direct(ask).await;
                // Past its lifetime the lock may be another instance's.
                let lock = (claimed.elapsed() < self.wait).then_some(lock_key.as_str());
                self.publish(&answer_key, Some(&entry), lock, now).await;
                entry
            }
            Claim { owner: false, .. } => match self.wait_for(&answer_key, &lock_key, now).await {
                Ok(Some(entry)) => entry,
                Ok(None) => {
                    let entry = direct(ask).await;
                    self.publish(&answer_key, Some(&entry), None, now).await;
                    entry
                }
                Err(_) => direct(ask).await,
            },
        }
    }

    /// `GET` of the answer.
    async fn find(&self, answer_key: &str, now: u64) -> Result<Option<Entry>, AuthError> {
        let mut connection = self.store.connection.clone();
        let value: Option<Vec<u8>> = self
            .store
            .run(async {
                ::redis::cmd("GET")
                    .arg(answer_key)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        Ok(value.and_then(|value| self.decode(&value, now)))
    }

    /// `SET lock NX PX`, then `GET` of the answer (written meanwhile by an
    /// instance that had the lock), in one round trip.
    async fn claim(&self, lock_key: &str, answer_key: &str, now: u64) -> Result<Claim, AuthError> {
        let lock_ms = u64::try_from(self.wait.as_millis())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_EXPIRY);
        let mut connection = self.store.connection.clone();
        let (set, value): (Value, Option<Vec<u8>>) = self
            .store
            .run(async {
                ::redis::pipe()
                    .cmd("SET")
                    .arg(lock_key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(lock_ms)
                    .cmd("GET")
                    .arg(answer_key)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        let owner = match set {
            Value::Okay => true,
            Value::SimpleString(ok) if ok == "OK" => true,
            Value::Nil => false,
            _ => {
                return self.store.failed(AuthError::new(
                    AuthErrorKind::IntrospectionUnavailable,
                    "Redis answered SET NX with neither OK nor nil",
                ));
            }
        };
        Ok(Claim {
            owner,
            found: value.and_then(|value| self.decode(&value, now)),
        })
    }

    /// Looks for the answer another instance is getting, until it appears,
    /// its lock is gone or the introspection timeout has passed.
    async fn wait_for(
        &self,
        answer_key: &str,
        lock_key: &str,
        now: u64,
    ) -> Result<Option<Entry>, AuthError> {
        let deadline = Instant::now() + self.wait;
        loop {
            tokio::time::sleep_until((Instant::now() + POLL_INTERVAL).min(deadline)).await;
            let mut connection = self.store.connection.clone();
            // The lock first: the owner writes the answer before it deletes
            // the lock, so a lock seen gone means the answer is there, if any.
            let (locked, value): (bool, Option<Vec<u8>>) = self
                .store
                .run(async {
                    ::redis::pipe()
                        .cmd("EXISTS")
                        .arg(lock_key)
                        .cmd("GET")
                        .arg(answer_key)
                        .query_async(&mut connection)
                        .await
                })
                .await?;
            if let Some(entry) = value.and_then(|value| self.decode(&value, now)) {
                return Ok(Some(entry));
            }
            if !locked || Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    /// Writes `entry` for the fleet, when it is kept, and deletes the lock,
    /// in one round trip. A failure is only logged.
    async fn publish(
        &self,
        answer_key: &str,
        entry: Option<&Entry>,
        lock_key: Option<&str>,
        now: u64,
    ) {
        let mut pipe = ::redis::pipe();
        let mut commands = 0;
        if let Some((value, ttl)) = entry.and_then(|entry| encode(entry, now)) {
            pipe.cmd("SET")
                .arg(answer_key)
                .arg(value)
                .arg("EX")
                .arg(ttl)
                .ignore();
            commands += 1;
        }
        if let Some(lock_key) = lock_key {
            pipe.cmd("DEL").arg(lock_key).ignore();
            commands += 1;
        }
        if commands == 0 {
            return;
        }
        let mut connection = self.store.connection.clone();
        let _ = self
            .store
            .run(async { pipe.query_async::<()>(&mut connection).await })
            .await;
    }

    /// The entry a value read back holds at `now`, or `None`: see [`decode`].
    fn decode(&self, value: &[u8], now: u64) -> Option<Entry> {
        if value.len() > self.max_value {
            return None;
        }
        decode(value, now, &self.lifetimes)
    }
}

/// The value of a kept entry, and its seconds to live from `now`; `None` for
/// one not kept (a failure, an `until` not after `now`).
fn encode(entry: &Entry, now: u64) -> Option<(String, u64)> {
    let ttl = entry.until.checked_sub(now).filter(|&ttl| ttl > 0)?;
    // Redis refuses an expiry whose milliseconds overflow; none is that far.
    let ttl = ttl.min(MAX_EXPIRY);
    let value = match &entry.verdict {
        Verdict::Active(payload) => format!("A{}\n{payload}", entry.until),
        Verdict::Inactive => format!("I{}", entry.until),
        Verdict::Unavailable(_) => return None,
    };
    Some((value, ttl))
}

/// The entry a value read back holds at `now`: `A{until}\n{JSON}` whose JSON
/// is an active answer, or `I{until}`, with `until` after `now` and no later
/// than `lifetimes` allow this instance. Anything else is `None`: a miss.
fn decode(value: &[u8], now: u64, lifetimes: &Lifetimes) -> Option<Entry> {
    let (&tag, rest) = value.split_first()?;
    let (until, verdict) = match tag {
        b'I' => {
            let until = seconds(rest)?.min(lifetimes.until(&Answer::Inactive, now));
            (until, Verdict::Inactive)
        }
        b'A' => {
            let newline = rest.iter().position(|&b| b == b'\n')?;
            let (digits, json) = (&rest[..newline], &rest[newline + 1..]);
            let until = seconds(digits)?;
            let answer = client::read(json);
            // The answer's own `exp` and this instance's maximum bound it too.
            let until = until.min(lifetimes.until(&answer, now));
            match answer {
                Answer::Active { payload, .. } => (until, Verdict::Active(payload)),
                Answer::Inactive | Answer::Unavailable(_) => return None,
            }
        }
        _ => return None,
    };
    (until > now).then_some(Entry { verdict, until })
}

/// Decimal digits only (no sign, no space), within `u64`.
fn seconds(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;
    const LIFETIMES: Lifetimes = Lifetimes {
        max_active: 60,
        inactive: 5,
    };

    /// What `value` reads as at `NOW`: the verdict's name and its `until`.
    fn read(value: &str) -> Option<(&'static str, u64)> {
        decode(value.as_bytes(), NOW, &LIFETIMES).map(|entry| {
            let name = match entry.verdict {
                Verdict::Active(_) => "active",
                Verdict::Inactive => "inactive",
                Verdict::Unavailable(_) => "unavailable",
            };
            (name, entry.until)
        })
    }

    fn active(until: u64, exp: u64) -> String {
        format!("A{until}\n{{\"active\":true,\"exp\":{exp},\"sub\":\"ada\"}}")
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let payload: Arc<str> = Arc::from(r#"{"active":true,"exp":1700000030,"x":"a\nb"}"#);
        let entry = Entry {
            verdict: Verdict::Active(payload.clone()),
            until: NOW + 30,
        };
        let (value, ttl) = encode(&entry, NOW).unwrap();
        assert_eq!(ttl, 30);
        assert_eq!(value, format!("A{}\n{payload}", NOW + 30));
        match decode(value.as_bytes(), NOW, &LIFETIMES) {
            Some(Entry {
                verdict: Verdict::Active(read),
                until,
            }) => assert_eq!((&*read, until), (&*payload, NOW + 30)),
            _ => panic!("not read back"),
        }

        let inactive = Entry {
            verdict: Verdict::Inactive,
            until: NOW + 5,
        };
        let (value, ttl) = encode(&inactive, NOW).unwrap();
        assert_eq!((value.as_str(), ttl), ("I1700000005", 5));
        assert_eq!(read(&value), Some(("inactive", NOW + 5)));
    }

    #[test]
    fn failures_and_answers_that_no_longer_hold_are_not_written() {
        let unavailable = Entry {
            verdict: Verdict::Unavailable(AuthError::new(
                AuthErrorKind::IntrospectionUnavailable,
                "down",
            )),
            until: NOW + 30,
        };
        assert!(encode(&unavailable, NOW).is_none());
        for until in [0, NOW - 1, NOW] {
            let entry = Entry {
                verdict: Verdict::Inactive,
                until,
            };
            assert!(encode(&entry, NOW).is_none(), "{until}");
        }
        // A lifetime beyond what Redis takes is cut, not refused by Redis.
        let far = Entry {
            verdict: Verdict::Inactive,
            until: u64::MAX,
        };
        assert_eq!(encode(&far, NOW).unwrap().1, MAX_EXPIRY);
    }

    #[test]
    fn garbage_is_a_miss_never_an_acceptance() {
        for value in [
            "",
            "A",
            "I",
            "X1700000010",
            "i1700000003",
            "I 1700000003",
            "I+1700000003",
            "I-1",
            "I1700000003 ",
            "I0x10",
            "I１７",
            // No newline, no JSON, not an object, not active.
            &format!("A{}", NOW + 10),
            &format!("A{}{{\"active\":true,\"exp\":{}}}", NOW + 10, NOW + 10),
            &format!("A{}\n", NOW + 10),
            &format!("A{}\nnot json", NOW + 10),
            &format!("A{}\n[true]", NOW + 10),
            &format!("A{}\n{{\"active\":true", NOW + 10),
            &format!("A{}\n{{\"active\":false,\"exp\":{}}}", NOW + 10, NOW + 10),
            &format!(
                "A{}\n{{\"active\":\"true\",\"exp\":{}}}",
                NOW + 10,
                NOW + 10
            ),
            &format!("A{}\n{{\"active\":false,\"active\":true}}", NOW + 10),
            &format!("A\n{{\"active\":true,\"exp\":{}}}", NOW + 10),
            // Active without exp: never kept, so never read back.
            &format!("A{}\n{{\"active\":true}}", NOW + 10),
        ] {
            assert_eq!(read(value), None, "{value:?}");
        }
        assert_eq!(
            decode(b"A1700000010\n{\"a\":\"\xff\"}", NOW, &LIFETIMES).map(|_| ()),
            None
        );
        assert_eq!(decode(b"I17\xff", NOW, &LIFETIMES).map(|_| ()), None);
    }

    #[test]
    fn a_passed_until_is_a_miss() {
        assert_eq!(read(&format!("I{NOW}")), None);
        assert_eq!(read(&format!("I{}", NOW - 1)), None);
        assert_eq!(read("I0"), None);
        assert_eq!(read(&active(NOW, NOW + 30)), None);
        assert_eq!(read(&active(NOW - 100, NOW + 30)), None);
        // The answer's own exp has passed, whatever until says.
        assert_eq!(read(&active(NOW + 30, NOW)), None);
        assert_eq!(read(&active(NOW + 30, NOW - 1)), None);
    }

    #[test]
    fn huge_numbers_are_cut_to_this_instances_lifetimes_or_refused() {
        // Beyond u64: not a number.
        assert_eq!(read("I18446744073709551616"), None);
        assert_eq!(read(&format!("I{}", "9".repeat(400))), None);
        assert_eq!(
            read(&format!(
                "A{}\n{{\"active\":true,\"exp\":{}}}",
                "9".repeat(30),
                NOW + 10
            )),
            None
        );
        // Within u64 but far: no longer than this instance would keep it.
        assert_eq!(read(&format!("I{}", u64::MAX)), Some(("inactive", NOW + 5)));
        assert_eq!(
            read(&active(u64::MAX, u64::MAX)),
            Some(("active", NOW + 60))
        );
        assert_eq!(
            read(&active(u64::MAX, NOW + 20)),
            Some(("active", NOW + 20))
        );
        assert_eq!(
            read(&format!("A{}\n{{\"active\":true,\"exp\":1e300}}", NOW + 10)),
            Some(("active", NOW + 10))
        );
        assert_eq!(
            read(&format!(
                "A{}\n{{\"active\":true,\"exp\":-1e300}}",
                NOW + 10
            )),
            None
        );
    }

    /// A cache on a Redis that is not there (nothing listens on port 1 of
    /// loopback), connected lazily.
    fn nowhere() -> RedisIntrospectionCache {
        let client = ::redis::Client::open("redis://127.0.0.1:1/").unwrap();
        let config = ::redis::aio::ConnectionManagerConfig::new().set_number_of_retries(0);
        let manager =
            ::redis::aio::ConnectionManager::new_lazy_with_config(client, config).unwrap();
        RedisIntrospectionCache::new(RedisConnection::from_manager(manager))
    }

    #[tokio::test]
    async fn keys_name_the_digest_never_the_token_and_values_are_bounded() {
        let store = nowhere().prefix("app:");
        let digest = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert_eq!(digest.len(), DIGEST_LENGTH);
        assert_eq!(
            store.key(ANSWER_TAG, &digest),
            format!("app:{{{digest}}}introspection")
        );
        assert_eq!(
            store.key(LOCK_TAG, &digest),
            format!("app:{{{digest}}}introspection-lock")
        );
        assert_eq!(HEADER_LENGTH, 2 + u64::MAX.to_string().len());
        // An answer larger than the response size limit is not read back.
        let limited = Shared::new(store, LIFETIMES, Duration::from_secs(1), 100);
        let small = active(NOW + 10, NOW + 10);
        assert!(limited.decode(small.as_bytes(), NOW).is_some());
        let large = format!(
            "A{}\n{{\"active\":true,\"exp\":{},\"pad\":\"{}\"}}",
            NOW + 10,
            NOW + 10,
            "x".repeat(100)
        );
        assert!(limited.decode(large.as_bytes(), NOW).is_none());
    }

    #[tokio::test]
    async fn without_redis_the_token_is_introspected_directly_and_logged_once() {
        let (logs, _guard) = crate::test_helpers::Logs::capture();
        let shared = Shared::new(nowhere(), LIFETIMES, Duration::from_secs(1), 16 * 1024);
        for key in 0..3u8 {
            let answer = Answer::Active {
                payload: Arc::from(format!(r#"{{"active":true,"exp":{}}}"#, NOW + 30)),
                exp: Some((NOW + 30) as f64),
            };
            let entry = tokio::time::timeout(
                Duration::from_secs(5),
                shared.entry(&[key; 32], NOW, async { answer }),
            )
            .await
            .expect("bounded by the timeout");
            assert!(matches!(entry.verdict, Verdict::Active(_)));
            assert_eq!(entry.until, NOW + 30);
        }
        let logged = logs.take();
        let warnings: Vec<_> = logged.lines().filter(|l| l.contains("WARN")).collect();
        assert_eq!(warnings.len(), 1, "{logged}");
        assert!(
            warnings[0].contains("introspection cache check failed; token introspected directly"),
            "{logged}"
        );
    }
}
