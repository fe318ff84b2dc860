//! [`ReplayCheck`]: the store, the timeout and the failure policy of the
//! replay check, which tells its record of the store's health
//! (`crate::outage`, through `timed`) of every answer and failure.

use std::fmt;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::timed::{self, Failure};
use super::{MemoryReplays, ReplayError, digest};
use crate::error::{AuthError, AuthErrorKind};

/// The default time a replay check may take: 100 ms, as for revocation: a
/// Redis `SET` on a local network answers in well under a millisecond, and
/// an unreachable store must not hold every request for long (this fires
/// before the Redis client's own response timeout).
///
/// Only a store other than [`MemoryReplays`] waits; the memory store answers
/// at once.
pub const DEFAULT_REPLAY_TIMEOUT: Duration = Duration::from_millis(100);

/// How the layer checks DPoP proof replay: a [`ReplayStore`](super::ReplayStore), a timeout on
/// a store that answers over the network, and what to do when the store
/// cannot answer.
///
/// - The id was used before: the request is refused with
///   [`AuthErrorKind::DpopProofReplayed`] (`401`, `invalid_dpop_proof`,
///   "DPoP proof replayed").
/// - The store failed (a full [`MemoryReplays`], an unreachable Redis), or
///   did not answer within the [`timeout`](Self::timeout): by default the
///   check *fails closed*, and the request is refused with
///   [`AuthErrorKind::ReplayCheckUnavailable`] (`503`), the store's error as
///   its [`source`](std::error::Error::source). With
///   [`fail_open(true)`](Self::fail_open) the proof is accepted instead,
///   unrecorded: it could then be replayed until it expires.
///
/// With a [`MemoryReplays`] ([`ReplayCheck::memory`], or the
/// [`Default`]: one of [`DEFAULT_REPLAY_CAPACITY`](super::DEFAULT_REPLAY_CAPACITY) ids) the check is
/// synchronous. Any other store (`ReplayCheck::new` and
/// `ReplayCheck::from_arc`, feature `replay-store`, on by default) is asked
/// in a future, under the timeout, which needs a Tokio runtime with its time
/// driver enabled, as axum's and hyper's servers have.
///
/// # Logging
///
/// Store failures are logged once per outage, not once per request, as the
/// revocation check's are (feature `replay-store`): a `warn` event "DPoP
/// replay check failed" at the first failure, "DPoP replay store still
/// failing" at most every 10 s while it lasts, with the count of failed
/// checks, and an `info` event "DPoP replay store answers again" at its end;
/// never an id. The record is shared by clones; [`timeout`](Self::timeout)
/// and [`fail_open`](Self::fail_open) return a check with a record of its
/// own.
///
/// Cloning is cheap: everything sits behind one `Arc`.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{MemoryReplays, ReplayCheck};
///
/// let check = ReplayCheck::memory(MemoryReplays::with_capacity(1_000_000))
///     .timeout(Duration::from_millis(50))
///     .fail_open(false);
/// # let _ = check;
/// ```
#[derive(Clone)]
pub struct ReplayCheck {
    shared: Arc<Shared>,
}

/// The configuration of a [`ReplayCheck`] and the health of its store.
struct Shared {
    store: Store,
    timeout: Duration,
    fail_open: bool,
    health: timed::Health,
}

/// The store of a check: asked in place, or in a future.
#[derive(Clone)]
enum Store {
    Memory(MemoryReplays),
    #[allow(
        dead_code,
        reason = "made only by `new` and `from_arc`, which need the replay-store feature"
    )]
    Timed(timed::Timed),
}

/// The answer of [`ReplayCheck::check`]: at once, or in a future.
///
/// Either way, `Ok` when the proof may pass: its id was not used before, or
/// the store failed and the policy is to fail open. `.await` it to have the
/// answer whichever it is.
#[must_use = "the answer says whether the proof may pass"]
pub enum ReplayAnswer {
    /// Decided without waiting: the memory store, or an id no store would
    /// take.
    Ready(Result<(), AuthError>),
    /// The store's answer, within the check's timeout; the future owns what
    /// it needs (`'static`).
    Waiting(BoxFuture<'static, Result<(), AuthError>>),
}

impl IntoFuture for ReplayAnswer {
    type Output = Result<(), AuthError>;
    type IntoFuture = BoxFuture<'static, Result<(), AuthError>>;

    fn into_future(self) -> Self::IntoFuture {
        match self {
            Self::Ready(answer) => Box::pin(std::future::ready(answer)),
            Self::Waiting(waiting) => waiting,
        }
    }
}

impl fmt::Debug for ReplayAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready(answer) => f.debug_tuple("Ready").field(answer).finish(),
            Self::Waiting(_) => f.debug_tuple("Waiting").finish_non_exhaustive(),
        }
    }
}

/// The description of a refusal for a store failure.
const UNAVAILABLE: &str = "DPoP replay store unavailable";

/// The refusal of a replayed proof.
fn replayed() -> AuthError {
    AuthError::new(AuthErrorKind::DpopProofReplayed, "DPoP proof replayed")
}

/// A store failure as the check's error, before the policy.
fn unavailable(error: ReplayError) -> AuthError {
    AuthError::with_source(AuthErrorKind::ReplayCheckUnavailable, UNAVAILABLE, error)
}

/// The failure of a store asked in a future, as the check's error.
fn failed(failure: Failure) -> AuthError {
    let kind = AuthErrorKind::ReplayCheckUnavailable;
    match failure {
        Failure::Store(error) => AuthError::with_boxed_source(kind, UNAVAILABLE, error),
        Failure::TimedOut(elapsed) => {
            AuthError::with_boxed_source(kind, "DPoP replay check timed out", elapsed)
        }
        Failure::Open => AuthError::new(kind, "DPoP replay store circuit open"),
    }
}

impl ReplayCheck {
    /// Checks with `store`, in place, failing closed.
    pub fn memory(store: MemoryReplays) -> Self {
        Self::with(Store::Memory(store), DEFAULT_REPLAY_TIMEOUT, false)
    }

    /// Checks with `store`, within [`DEFAULT_REPLAY_TIMEOUT`], failing
    /// closed. A [`MemoryReplays`] is asked in place, as with
    /// [`memory`](Self::memory); any other store in a future, under the
    /// [`timeout`](Self::timeout).
    ///
    /// Feature `replay-store` (on by default).
    ///
    /// ```
    /// use tower_jwt_auth::{MemoryReplays, ReplayCheck};
    ///
    /// let check = ReplayCheck::new(MemoryReplays::new());
    /// # let _ = check;
    /// ```
    #[cfg(feature = "replay-store")]
    pub fn new(store: impl super::ReplayStore) -> Self {
        match (&store as &dyn std::any::Any).downcast_ref::<MemoryReplays>() {
            // A clone of the handle: the same entries.
            Some(memory) => Self::memory(memory.clone()),
            None => Self::from_arc(Arc::new(store)),
        }
    }

    /// Checks with a store that is already shared, in a future (even a
    /// [`MemoryReplays`]: give that one to [`memory`](Self::memory)
    /// instead).
    ///
    /// Feature `replay-store` (on by default).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_jwt_auth::{MemoryReplays, ReplayCheck, ReplayStore};
    ///
    /// let store: Arc<dyn ReplayStore> = Arc::new(MemoryReplays::new());
    /// let check = ReplayCheck::from_arc(store);
    /// # let _ = check;
    /// ```
    #[cfg(feature = "replay-store")]
    pub fn from_arc(store: Arc<dyn super::ReplayStore>) -> Self {
        let store = Store::Timed(timed::Timed::new(store));
        Self::with(store, DEFAULT_REPLAY_TIMEOUT, false)
    }

    /// A check with its own record of the store's health.
    fn with(store: Store, timeout: Duration, fail_open: bool) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                timeout,
                fail_open,
                health: timed::health(),
            }),
        }
    }

    /// The longest a store other than [`MemoryReplays`] may take to answer
    /// (default [`DEFAULT_REPLAY_TIMEOUT`], 100 ms); past it the store counts
    /// as failed. The memory store always answers at once.
    ///
    /// The result no longer shares the record of the store's health with
    /// `self` and its clones (see [Logging](Self#logging)).
    pub fn timeout(self, timeout: Duration) -> Self {
        let store = self.shared.store.renewed();
        Self::with(store, timeout, self.shared.fail_open)
    }

    /// Whether a proof is accepted when the store fails or times out (default
    /// `false`: the request is refused with `503`).
    ///
    /// Failing open keeps the service up while the store is down or full, at
    /// the cost of accepting proofs unrecorded, which can then be replayed
    /// within their window; choose it only where that is the lesser harm.
    ///
    /// The result no longer shares the record of the store's health with
    /// `self` and its clones (see [Logging](Self#logging)).
    pub fn fail_open(self, yes: bool) -> Self {
        let store = self.shared.store.renewed();
        Self::with(store, self.shared.timeout, yes)
    }

    /// When the check stops asking a store other than [`MemoryReplays`]
    /// that keeps failing or hanging, and for how long (default
    /// [`CircuitBreaker::default`](crate::CircuitBreaker::default): after 5
    /// failures or timeouts in a row, for 5 s). While it is open, checks get
    /// the policy's answer at once ("DPoP replay store circuit open", `503`
    /// when failing closed) instead of each waiting the timeout; then one
    /// probe asks the store, and its answer closes it. Logged as the
    /// revocation check's breaker is: "DPoP replay circuit breaker open" once
    /// per outage, "... closed" when a probe is answered. The memory store
    /// answers at once and has no breaker.
    ///
    /// The result no longer shares the record of the store's health, nor the
    /// breaker's state, with `self` and its clones.
    ///
    /// Feature `replay-store` (on by default).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use tower_jwt_auth::{CircuitBreaker, MemoryReplays, ReplayCheck, ReplayStore};
    ///
    /// let store: Arc<dyn ReplayStore> = Arc::new(MemoryReplays::new());
    /// let check = ReplayCheck::from_arc(store)
    ///     .circuit_breaker(CircuitBreaker::new(3, Duration::from_secs(2)));
    /// # let _ = check;
    /// ```
    #[cfg(feature = "replay-store")]
    pub fn circuit_breaker(self, breaker: crate::CircuitBreaker) -> Self {
        let mut store = self.shared.store.clone();
        if let Store::Timed(timed) = &mut store {
            timed.renew(Some(breaker));
        }
        Self::with(store, self.shared.timeout, self.shared.fail_open)
    }

    /// The replay check of one proof id: records `id` until `expires_at`
    /// (Unix seconds) and answers `Ok` on its first use. `now` is the layer's
    /// clock, which the memory store expires its entries by; another store
    /// goes by its own (Redis's).
    ///
    /// The layer calls it for every DPoP proof; call it yourself to check
    /// ids elsewhere.
    ///
    /// ```
    /// use tower_jwt_auth::{AuthErrorKind, ReplayAnswer, ReplayCheck};
    ///
    /// let check = ReplayCheck::default();
    /// // The digest the DPoP check derives from a proof.
    /// let id = "hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg";
    /// let now = 1_700_000_000;
    /// assert!(matches!(check.check(id, now + 300, now), ReplayAnswer::Ready(Ok(()))));
    /// let ReplayAnswer::Ready(Err(error)) = check.check(id, now + 300, now + 1) else {
    ///     panic!("a replay");
    /// };
    /// assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
    /// ```
    ///
    /// # Errors
    ///
    /// [`AuthErrorKind::DpopProofReplayed`] for an id used before;
    /// [`AuthErrorKind::ReplayCheckUnavailable`] when the store failed or
    /// timed out (or `id` is not a digest) and the policy is to fail closed.
    pub fn check(&self, id: &str, expires_at: u64, now: u64) -> ReplayAnswer {
        let shared = &self.shared;
        match &shared.store {
            Store::Memory(memory) => {
                let answer = memory.first_use_now(id, expires_at, now);
                ReplayAnswer::Ready(shared.judge(answer.map_err(unavailable)))
            }
            Store::Timed(timed) => {
                // Checked here too, so that no task waits for a refusal.
                if let Err(error) = digest(id) {
                    return ReplayAnswer::Ready(shared.judge(Err(unavailable(error))));
                }
                let answer = timed.first_use(id.to_owned(), expires_at, shared.timeout);
                let shared = Arc::clone(shared);
                ReplayAnswer::Waiting(Box::pin(async move {
                    let (answer, transition) = answer.await;
                    let answer = shared.judge(answer.map_err(failed));
                    if let Some(transition) = transition {
                        shared.health.breaker(transition, shared.fail_open);
                    }
                    answer
                }))
            }
        }
    }
}

impl Store {
    /// The same store for a new policy: a timed one behind a breaker of its
    /// own (of the same configuration).
    fn renewed(&self) -> Self {
        let mut store = self.clone();
        if let Self::Timed(timed) = &mut store {
            timed.renew(None);
        }
        store
    }
}

impl Shared {
    /// The policy's answer to the store's: `true` passes, `false` is a
    /// replay, an error is logged and refused or let through.
    fn judge(&self, answer: Result<bool, AuthError>) -> Result<(), AuthError> {
        match answer {
            Ok(first) => {
                self.health.answered(self.fail_open);
                if first { Ok(()) } else { Err(replayed()) }
            }
            Err(error) => {
                self.health.failed(&error, self.timeout, self.fail_open);
                if self.fail_open { Ok(()) } else { Err(error) }
            }
        }
    }
}

impl Default for ReplayCheck {
    /// A [`MemoryReplays`] of [`DEFAULT_REPLAY_CAPACITY`](super::DEFAULT_REPLAY_CAPACITY) ids, failing
    /// closed.
    fn default() -> Self {
        Self::memory(MemoryReplays::new())
    }
}

impl From<MemoryReplays> for ReplayCheck {
    fn from(store: MemoryReplays) -> Self {
        Self::memory(store)
    }
}

impl fmt::Debug for ReplayCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ReplayCheck");
        match &self.shared.store {
            Store::Memory(memory) => debug.field("store", memory),
            Store::Timed(_) => debug.field("store", &format_args!("dyn ReplayStore")),
        };
        debug
            .field("timeout", &self.shared.timeout)
            .field("fail_open", &self.shared.fail_open)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    //! The check's answers, its policy, its timeout and its logs, with the
    //! memory store and with stores that the test switches between up, down
    //! and hanging. (`memory.rs` tests the memory store itself.)

    use super::*;

    const NOW: u64 = 1_700_000_000;
    const ID: &str = "hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg";
    const OTHER: &str = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";

    /// The answer of a check that must not wait.
    fn ready(answer: ReplayAnswer) -> Result<(), AuthError> {
        match answer {
            ReplayAnswer::Ready(answer) => answer,
            ReplayAnswer::Waiting(_) => panic!("the memory store answers at once"),
        }
    }

    #[test]
    fn a_first_use_passes_and_a_replay_is_refused() {
        let check = ReplayCheck::default();
        ready(check.check(ID, NOW + 60, NOW)).unwrap();
        let error = ready(check.check(ID, NOW + 60, NOW + 1)).unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
        assert_eq!(error.description(), "DPoP proof replayed");
        assert_eq!(error.status(), http::StatusCode::UNAUTHORIZED);
        assert_eq!(error.kind().error_code(), Some("invalid_dpop_proof"));
        // Another id, and the same id once expired, pass.
        ready(check.check(OTHER, NOW + 60, NOW)).unwrap();
        ready(check.check(ID, NOW + 120, NOW + 60)).unwrap();
        // Clones share the store.
        ready(check.clone().check(OTHER, NOW + 60, NOW)).unwrap_err();
    }

    #[test]
    fn a_full_store_fails_closed_by_default_and_open_when_configured() {
        let store = MemoryReplays::with_capacity(1);
        let closed = ReplayCheck::memory(store.clone());
        let open = closed.clone().fail_open(true);
        ready(closed.check(ID, NOW + 60, NOW)).unwrap();

        let error = ready(closed.check(OTHER, NOW + 60, NOW)).unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::ReplayCheckUnavailable);
        assert_eq!(error.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.kind().error_code(), None);
        assert_eq!(error.description(), "DPoP replay store unavailable");
        let source = std::error::Error::source(&error).unwrap().to_string();
        assert_eq!(source, "replay store full");

        // Open: the proof passes, unrecorded, so it would pass again...
        ready(open.check(OTHER, NOW + 60, NOW)).unwrap();
        ready(open.check(OTHER, NOW + 60, NOW)).unwrap();
        // ...but the store forgot nothing: a recorded id is still refused.
        let error = ready(open.check(ID, NOW + 60, NOW)).unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn an_id_that_is_not_a_digest_is_a_failure_of_the_caller() {
        let check = ReplayCheck::default();
        let error = ready(check.check("a-jti", NOW + 60, NOW)).unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::ReplayCheckUnavailable);
        let source = std::error::Error::source(&error).unwrap().to_string();
        assert!(source.contains("digest"), "{source}");
    }

    #[tokio::test]
    async fn the_answer_can_be_awaited_whichever_it_is() {
        let check = ReplayCheck::default();
        check.check(ID, NOW + 60, NOW).await.unwrap();
        let error = check.check(ID, NOW + 60, NOW).await.unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
    }

    #[test]
    fn the_check_is_clone_and_debug_and_its_answer_send_and_static() {
        fn send_static<T: Send + 'static>(_: &T) {}
        let check = ReplayCheck::memory(MemoryReplays::with_capacity(5));
        let answer = check.check(ID, NOW + 60, NOW);
        send_static(&answer);
        assert_eq!(format!("{answer:?}"), "Ready(Ok(()))");
        let debug = format!("{:?}", check.clone());
        assert!(debug.contains("MemoryReplays"), "{debug}");
        assert!(debug.contains("capacity: 5"), "{debug}");
        assert!(debug.contains("timeout: 100ms"), "{debug}");
        assert!(debug.contains("fail_open: false"), "{debug}");
        assert!(!debug.contains(ID), "{debug}");
    }

    /// With the feature: stores asked in a future, their timeout, and the logs.
    #[cfg(feature = "replay-store")]
    mod timed {
        use std::future::pending;
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::time::Instant;

        use super::*;
        use crate::dpop::replay::{ReplayFuture, ReplayStore};
        use crate::test_helpers::Logs;

        /// A store that is up (a memory store asked in a future), down (every
        /// call fails with "connection refused") or hanging (no call ever
        /// answers), as the test switches it. It counts the calls it was asked.
        struct Switch {
            memory: MemoryReplays,
            down: AtomicBool,
            hang: bool,
            calls: AtomicUsize,
        }

        impl Switch {
            fn new(down: bool, hang: bool) -> Arc<Self> {
                Arc::new(Self {
                    memory: MemoryReplays::new().clock(|| NOW),
                    down: AtomicBool::new(down),
                    hang,
                    calls: AtomicUsize::new(0),
                })
            }
        }

        impl ReplayStore for Switch {
            fn first_use<'a>(&'a self, id: &'a str, expires_at: u64) -> ReplayFuture<'a> {
                self.calls.fetch_add(1, Ordering::Relaxed);
                Box::pin(async move {
                    if self.hang {
                        pending::<()>().await;
                    }
                    if self.down.load(Ordering::SeqCst) {
                        return Err("connection refused".into());
                    }
                    // Not ready at once, as a network store.
                    tokio::task::yield_now().await;
                    self.memory.first_use(id, expires_at).await
                })
            }
        }

        /// The answer of a check that must wait, within 5 s.
        async fn waited(answer: ReplayAnswer) -> Result<(), AuthError> {
            let ReplayAnswer::Waiting(waiting) = answer else {
                panic!("a store other than memory is asked in a future");
            };
            tokio::time::timeout(Duration::from_secs(5), waiting)
                .await
                .expect("bounded by the check's timeout")
        }

        #[tokio::test]
        async fn a_memory_store_given_to_new_is_still_asked_in_place() {
            let store = MemoryReplays::new();
            let check = ReplayCheck::new(store.clone());
            ready(check.check(ID, NOW + 60, NOW)).unwrap();
            // The same entries: the handle given, not a copy.
            assert_eq!(store.first_use_now(ID, NOW + 60, NOW), Ok(false));

            // Behind an Arc it is just a store, asked in a future.
            let shared: Arc<dyn ReplayStore> = Arc::new(MemoryReplays::new().clock(|| NOW));
            let check = ReplayCheck::from_arc(shared);
            waited(check.check(ID, NOW + 60, NOW)).await.unwrap();
            let error = waited(check.check(ID, NOW + 60, NOW)).await.unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
        }

        #[tokio::test]
        async fn a_store_in_a_future_passes_first_uses_and_refuses_replays() {
            let check = ReplayCheck::from_arc(Switch::new(false, false));
            waited(check.check(ID, NOW + 60, NOW)).await.unwrap();
            let error = waited(check.check(ID, NOW + 60, NOW)).await.unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
            // An id no store would take is refused without asking.
            let store = Switch::new(false, false);
            let check = ReplayCheck::from_arc(store.clone());
            let error = ready(check.check("a-jti", NOW + 60, NOW)).unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::ReplayCheckUnavailable);
            assert_eq!(store.calls.load(Ordering::Relaxed), 0);
        }

        #[tokio::test(flavor = "current_thread")]
        async fn a_failing_store_fails_closed_or_open_and_is_logged_once() {
            let (logs, _guard) = Logs::capture();
            let store = Switch::new(true, false);
            // The outage's own reports, without the breaker's.
            let closed = ReplayCheck::from_arc(store.clone())
                .circuit_breaker(crate::CircuitBreaker::disabled());
            for _ in 0..5 {
                let error = waited(closed.check(ID, NOW + 60, NOW)).await.unwrap_err();
                assert_eq!(error.kind(), AuthErrorKind::ReplayCheckUnavailable);
                assert_eq!(error.description(), "DPoP replay store unavailable");
                let source = std::error::Error::source(&error).unwrap().to_string();
                assert_eq!(source, "connection refused");
            }
            let logged = logs.take();
            assert_eq!(logged.matches("WARN").count(), 1, "{logged}");
            assert!(
                logged.contains("DPoP replay check failed; request refused (fail closed)"),
                "{logged}"
            );
            assert!(logged.contains("connection refused"), "{logged}");
            assert!(!logged.contains(ID), "no id in logs: {logged}");

            let open = closed.clone().fail_open(true);
            waited(open.check(ID, NOW + 60, NOW)).await.unwrap();
            let logged = logs.take();
            assert!(
                logged.contains("DPoP replay check failed; proof let through (fail open)"),
                "{logged}"
            );

            // Back up: the end of the outage is told once, with its count.
            store.down.store(false, Ordering::SeqCst);
            waited(closed.check(ID, NOW + 60, NOW)).await.unwrap();
            waited(closed.check(OTHER, NOW + 60, NOW)).await.unwrap();
            let logged = logs.take();
            let again: Vec<_> = logged
                .lines()
                .filter(|line| line.contains("DPoP replay store answers again"))
                .collect();
            assert_eq!(again.len(), 1, "{logged}");
            assert!(again[0].contains("INFO"), "{logged}");
            assert!(again[0].contains("failed_checks=5"), "{logged}");
        }

        #[tokio::test(flavor = "current_thread")]
        async fn a_hanging_store_times_out() {
            let (logs, _guard) = Logs::capture();
            let store = Switch::new(false, true);
            let check = ReplayCheck::from_arc(store.clone()).timeout(Duration::from_millis(50));
            let start = Instant::now();
            let error = waited(check.check(ID, NOW + 60, NOW)).await.unwrap_err();
            let took = start.elapsed();
            assert_eq!(error.kind(), AuthErrorKind::ReplayCheckUnavailable);
            assert_eq!(error.description(), "DPoP replay check timed out");
            assert!(took >= Duration::from_millis(50), "{took:?}");
            assert!(took < Duration::from_secs(2), "{took:?}");
            assert_eq!(store.calls.load(Ordering::Relaxed), 1);
            assert!(logs.text().contains("timed out"), "{}", logs.text());

            waited(check.fail_open(true).check(ID, NOW + 60, NOW))
                .await
                .unwrap();
        }

        #[tokio::test(flavor = "current_thread", start_paused = true)]
        async fn a_hanging_store_opens_the_breaker_and_is_no_longer_waited_for() {
            let (logs, _guard) = Logs::capture();
            let store = Switch::new(false, true);
            let check = ReplayCheck::from_arc(store.clone());
            for _ in 0..5 {
                let error = waited(check.check(ID, NOW + 60, NOW)).await.unwrap_err();
                assert_eq!(error.description(), "DPoP replay check timed out");
            }
            let start = tokio::time::Instant::now();
            for _ in 0..50 {
                let error = waited(check.check(ID, NOW + 60, NOW)).await.unwrap_err();
                assert_eq!(error.kind(), AuthErrorKind::ReplayCheckUnavailable);
                assert_eq!(error.description(), "DPoP replay store circuit open");
            }
            assert_eq!(start.elapsed(), Duration::ZERO);
            assert_eq!(store.calls.load(Ordering::Relaxed), 5);
            let logged = logs.take();
            assert_eq!(
                logged.matches("DPoP replay circuit breaker open").count(),
                1,
                "{logged}"
            );
            assert_eq!(logged.matches("WARN").count(), 2, "{logged}");
            // The memory store has no breaker to configure, and a disabled
            // one asks every time.
            let every_time = ReplayCheck::from_arc(store.clone())
                .circuit_breaker(crate::CircuitBreaker::disabled());
            for _ in 0..10 {
                waited(every_time.check(ID, NOW + 60, NOW))
                    .await
                    .unwrap_err();
            }
            assert_eq!(store.calls.load(Ordering::Relaxed), 15);
        }

        #[tokio::test(flavor = "current_thread", start_paused = true)]
        async fn a_probe_after_the_cool_down_closes_the_breaker() {
            let (logs, _guard) = Logs::capture();
            let store = Switch::new(true, false);
            let check = ReplayCheck::from_arc(store.clone())
                .circuit_breaker(crate::CircuitBreaker::new(2, Duration::from_secs(1)));
            for _ in 0..10 {
                waited(check.check(ID, NOW + 60, NOW)).await.unwrap_err();
            }
            assert_eq!(store.calls.load(Ordering::Relaxed), 2);
            store.down.store(false, Ordering::SeqCst);
            // Still open: the store is not asked before the cool-down ends.
            waited(check.check(ID, NOW + 60, NOW)).await.unwrap_err();
            tokio::time::advance(Duration::from_secs(1)).await;
            waited(check.check(ID, NOW + 60, NOW)).await.unwrap();
            let error = waited(check.check(ID, NOW + 60, NOW)).await.unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
            assert_eq!(store.calls.load(Ordering::Relaxed), 4);
            let logged = logs.take();
            assert_eq!(
                logged.matches("DPoP replay circuit breaker closed").count(),
                1,
                "{logged}"
            );
        }

        #[test]
        fn outside_a_tokio_runtime_the_store_is_awaited_without_a_timer() {
            let check = ReplayCheck::from_arc(Switch::new(false, false));
            let mut answer = std::pin::pin!(check.check(ID, NOW + 60, NOW).into_future());
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            // The store yields once: a few polls, no runtime.
            let answer = (0..10)
                .find_map(|_| match answer.as_mut().poll(&mut cx) {
                    std::task::Poll::Ready(answer) => Some(answer),
                    std::task::Poll::Pending => None,
                })
                .expect("answered without a runtime");
            answer.unwrap();
        }

        #[test]
        fn a_full_memory_store_is_logged_once_per_outage() {
            let (logs, _guard) = Logs::capture();
            let check = ReplayCheck::memory(MemoryReplays::with_capacity(1));
            ready(check.check(ID, NOW + 60, NOW)).unwrap();
            for _ in 0..100 {
                ready(check.check(OTHER, NOW + 60, NOW)).unwrap_err();
            }
            let logged = logs.take();
            assert_eq!(logged.matches("WARN").count(), 1, "{logged}");
            assert!(logged.contains("replay store full"), "{logged}");
            // A replay is an answer: the store is up again.
            ready(check.check(ID, NOW + 60, NOW)).unwrap_err();
            let logged = logs.take();
            assert!(
                logged.contains("DPoP replay store answers again"),
                "{logged}"
            );
            assert!(logged.contains("failed_checks=100"), "{logged}");
        }
    }
}
