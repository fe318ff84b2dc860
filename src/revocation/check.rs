//! [`Revocation`]: the store, the timeout and the failure policy of the check,
//! and the record of the store's health that keeps an outage to a few log lines.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::{RevocationStore, TokenInfo};
use crate::error::{AuthError, AuthErrorKind};

/// The default time a revocation check may take: 100 ms.
///
/// A Redis `MGET` on a local network answers in well under a millisecond, and
/// in a few milliseconds at a bad moment; 100 ms leaves room for a slow moment
/// of the store or the network, yet keeps an unreachable store from holding
/// every request for long (and fires before the Redis client's own 500 ms
/// response timeout).
pub const DEFAULT_REVOCATION_TIMEOUT: Duration = Duration::from_millis(100);

/// How often, at most, a store that keeps failing is reported again.
const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// How the layer checks revocation: a [`RevocationStore`], a timeout on every
/// check, and what to do when the store cannot answer.
///
/// - The token was revoked: the request is refused with
///   [`AuthErrorKind::Revoked`] (`401`, `invalid_token`).
/// - The store failed, or did not answer within the
///   [`timeout`](Self::timeout): by default the check *fails closed*, and the
///   request is refused with [`AuthErrorKind::RevocationUnavailable`] (`503`),
///   the store's error as its [`source`](std::error::Error::source). With
///   [`fail_open(true)`](Self::fail_open) the token is let through instead.
///
/// # Logging
///
/// Store failures are logged once per outage, not once per request, with
/// `tracing` events (target `tower_jwt_auth`) that name the error and the
/// policy but never the token or its claims:
///
/// - the first failure after a healthy period: a `warn` event, "revocation
///   check failed", with the `reason`, the store's `error`, `timeout_ms`,
///   `fail_open` and `failed_checks`;
/// - while the store keeps failing, at most one `warn` every 10 seconds,
///   "revocation store still failing", with `failed_checks` (the failed checks
///   since the last event) and `outage_ms` (the time since the first failure);
/// - the first check that the store answers again: an `info` event,
///   "revocation store answers again", with `failed_checks` (all the failed
///   checks of the outage) and `outage_ms`.
///
/// Events are at least 10 seconds apart, so a store that flaps between
/// failing and answering is not logged at every flap: a failure within 10
/// seconds of the last event is counted quietly, and told in the next event's
/// `failed_checks`.
///
/// This record of the store's health is shared by clones, so the layer and
/// every clone of it count one outage together. [`timeout`](Self::timeout) and
/// [`fail_open`](Self::fail_open) return a `Revocation` with a record of its
/// own, since its events speak for another policy. A check that the store
/// answers costs one atomic load for this record.
///
/// Cloning is cheap: everything sits behind one `Arc`. The timeout needs a
/// Tokio runtime with its time driver enabled, as axum's and hyper's servers
/// have.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{MemoryRevocations, Revocation};
///
/// let revocation = Revocation::new(MemoryRevocations::new())
///     .timeout(Duration::from_millis(50))
///     .fail_open(false);
/// # let _ = revocation;
/// ```
#[derive(Clone)]
pub struct Revocation {
    shared: Arc<Shared>,
}

/// The configuration of a [`Revocation`] and the health of its store.
struct Shared {
    store: Arc<dyn RevocationStore>,
    timeout: Duration,
    fail_open: bool,
    health: Health,
}

impl Revocation {
    /// Checks with `store`, within [`DEFAULT_REVOCATION_TIMEOUT`], failing
    /// closed.
    pub fn new(store: impl RevocationStore) -> Self {
        Self::from_arc(Arc::new(store))
    }

    /// Checks with a store that is already shared.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_jwt_auth::{MemoryRevocations, Revocation, RevocationStore};
    ///
    /// let store: Arc<dyn RevocationStore> = Arc::new(MemoryRevocations::new());
    /// let revocation = Revocation::from_arc(store.clone());
    /// # let _ = revocation;
    /// ```
    pub fn from_arc(store: Arc<dyn RevocationStore>) -> Self {
        Self::with(store, DEFAULT_REVOCATION_TIMEOUT, false)
    }

    /// A `Revocation` with its own record of the store's health.
    fn with(store: Arc<dyn RevocationStore>, timeout: Duration, fail_open: bool) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                timeout,
                fail_open,
                health: Health::default(),
            }),
        }
    }

    /// The longest a check may take (default [`DEFAULT_REVOCATION_TIMEOUT`],
    /// 100 ms); past it the store counts as failed. A store that answers at
    /// once, like [`MemoryRevocations`](crate::MemoryRevocations), always
    /// answers, even with a zero timeout.
    ///
    /// The result no longer shares the record of the store's health with
    /// `self` and its clones (see [Logging](Self#logging)).
    pub fn timeout(self, timeout: Duration) -> Self {
        Self::with(
            Arc::clone(&self.shared.store),
            timeout,
            self.shared.fail_open,
        )
    }

    /// Whether a token is let through when the store fails or times out
    /// (default `false`: the request is refused with `503`).
    ///
    /// Failing open keeps the service up while the store is down, at the cost
    /// of accepting revoked tokens until they expire; choose it only where
    /// that is the lesser harm.
    ///
    /// The result no longer shares the record of the store's health with
    /// `self` and its clones (see [Logging](Self#logging)).
    pub fn fail_open(self, yes: bool) -> Self {
        Self::with(Arc::clone(&self.shared.store), self.shared.timeout, yes)
    }

    /// The revocation check of one verified token: `Ok` when it is not
    /// revoked, or when the store failed and the policy is to fail open.
    ///
    /// The layer calls it after verification; call it yourself to check a
    /// token elsewhere, on a long-lived connection for instance. The future
    /// owns what it needs (`'static`), so it can be kept or spawned.
    ///
    /// ```
    /// use tower_jwt_auth::{AuthErrorKind, MemoryRevocations, Revocation, RevocationStore, TokenInfo};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let store = MemoryRevocations::new();
    /// let revocation = Revocation::new(store.clone());
    /// let now = std::time::UNIX_EPOCH.elapsed()?.as_secs();
    /// let token = TokenInfo::new().with_jti("5f0c6d1e").with_expires_at(now + 600);
    ///
    /// assert!(revocation.check(token.clone()).await.is_ok());
    /// store.revoke(&token).await?;
    /// let error = revocation.check(token).await.unwrap_err();
    /// assert_eq!(error.kind(), AuthErrorKind::Revoked);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`AuthErrorKind::Revoked`] for a revoked token;
    /// [`AuthErrorKind::RevocationUnavailable`] when the store failed or timed
    /// out and the policy is to fail closed.
    pub fn check(
        &self,
        token: TokenInfo,
    ) -> impl Future<Output = Result<(), AuthError>> + Send + 'static {
        let shared = Arc::clone(&self.shared);
        async move {
            let answer = tokio::time::timeout(shared.timeout, shared.store.is_revoked(&token));
            let error = match answer.await {
                Ok(Ok(revoked)) => {
                    shared.health.answered(shared.fail_open);
                    return if revoked {
                        Err(AuthError::new(AuthErrorKind::Revoked, "token revoked"))
                    } else {
                        Ok(())
                    };
                }
                Ok(Err(error)) => AuthError::with_boxed_source(
                    AuthErrorKind::RevocationUnavailable,
                    "revocation store unavailable",
                    error,
                ),
                Err(elapsed) => AuthError::with_source(
                    AuthErrorKind::RevocationUnavailable,
                    "revocation check timed out",
                    elapsed,
                ),
            };
            shared
                .health
                .failed(&error, shared.timeout, shared.fail_open);
            if shared.fail_open { Ok(()) } else { Err(error) }
        }
    }
}

impl fmt::Debug for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation")
            .field("store", &format_args!("dyn RevocationStore"))
            .field("timeout", &self.shared.timeout)
            .field("fail_open", &self.shared.fail_open)
            .finish()
    }
}

/// What the checks have seen of the store: healthy, or failing since when.
///
/// A check that the store answers reads `failing` and nothing else while the
/// store is healthy; the lock is taken only by failed checks (slow already)
/// and by the first answered check after them.
///
/// At most one event per [`REPORT_INTERVAL`] starts or sums up an outage, and
/// one more ends it: a store that flaps (an overloaded Redis that misses some
/// timeouts and meets others) would otherwise log a warning and an "answers
/// again" per flap. A failure within the interval of the last event starts a
/// quiet outage; if the store answers before the interval is over, its failed
/// checks are carried into the next event's count.
#[derive(Default)]
struct Health {
    /// Whether an outage is under way (`record.outage` is `Some`). Written
    /// only under the lock, so there it always agrees with `record`; read
    /// without it only by answered checks, to know whether to take the lock.
    failing: AtomicBool,
    record: Mutex<Record>,
}

/// The state behind [`Health`]'s lock.
#[derive(Default)]
struct Record {
    outage: Option<Outage>,
    /// When the last event was logged, of any outage.
    last_event: Option<Instant>,
    /// Failed checks of quiet outages that ended unreported.
    carried: u64,
}

/// A run of failed checks, from the first one.
struct Outage {
    started: Instant,
    /// Whether an event has told of this outage (then its end is told too).
    announced: bool,
    /// Every failed check of the outage.
    failed: u64,
    /// The failed checks not yet counted in an event, carried ones included.
    unreported: u64,
}

/// What a failed check has to say, decided under the lock and logged after.
enum Report {
    /// The first event of an outage.
    First { failed: u64 },
    /// The store has kept failing for a whole interval.
    StillFailing { failed: u64, lasted: Duration },
    /// Counted, to be told later.
    Quiet,
}

impl Record {
    /// Whether an event may be logged now.
    fn may_report(&self, now: Instant) -> bool {
        self.last_event
            .is_none_or(|last| now.duration_since(last) >= REPORT_INTERVAL)
    }
}

impl Health {
    /// Counts a failed check, and logs it when it starts an outage or closes a
    /// reporting interval.
    fn failed(&self, error: &AuthError, timeout: Duration, fail_open: bool) {
        let report = {
            let mut record = self.lock();
            let now = Instant::now();
            let may_report = record.may_report(now);
            let carried = std::mem::take(&mut record.carried);
            let outage = record.outage.get_or_insert_with(|| {
                self.failing.store(true, Ordering::Release);
                Outage {
                    started: now,
                    announced: false,
                    failed: 0,
                    unreported: 0,
                }
            });
            outage.failed += 1;
            outage.unreported += 1 + carried;
            let report = if !may_report {
                Report::Quiet
            } else if outage.announced {
                Report::StillFailing {
                    failed: std::mem::take(&mut outage.unreported),
                    lasted: now.duration_since(outage.started),
                }
            } else {
                outage.announced = true;
                Report::First {
                    failed: std::mem::take(&mut outage.unreported),
                }
            };
            if !matches!(report, Report::Quiet) {
                record.last_event = Some(now);
            }
            report
        };
        if let Report::Quiet = report {
            return;
        }
        let cause = std::error::Error::source(error).map(ToString::to_string);
        let timeout_ms = millis(timeout);
        match report {
            Report::First { failed } => tracing::warn!(
                target: "tower_jwt_auth",
                failed_checks = failed,
                reason = error.description(),
                error = cause.as_deref().unwrap_or(""),
                timeout_ms,
                fail_open,
                "revocation check failed; {}",
                if fail_open { "token let through (fail open)" } else { "request refused (fail closed)" },
            ),
            Report::StillFailing { failed, lasted } => tracing::warn!(
                target: "tower_jwt_auth",
                failed_checks = failed,
                outage_ms = millis(lasted),
                reason = error.description(),
                error = cause.as_deref().unwrap_or(""),
                timeout_ms,
                fail_open,
                "revocation store still failing; {}",
                if fail_open { "tokens let through (fail open)" } else { "requests refused (fail closed)" },
            ),
            Report::Quiet => {}
        }
    }

    /// Notes that the store answered a check, and logs the end of an outage
    /// that was told of.
    fn answered(&self, fail_open: bool) {
        // The whole cost of an answered check while the store is healthy.
        if !self.failing.load(Ordering::Acquire) {
            return;
        }
        let ended = {
            let mut record = self.lock();
            // Another answered check may have ended it meanwhile.
            let ended = record.outage.take();
            self.failing.store(false, Ordering::Release);
            match ended {
                Some(outage) if outage.announced => {
                    record.last_event = Some(Instant::now());
                    Some(outage)
                }
                Some(quiet) => {
                    record.carried += quiet.unreported;
                    None
                }
                None => None,
            }
        };
        if let Some(outage) = ended {
            // `info`, not `warn`: good news asks nothing of anyone. Behind a
            // `warn` filter only this closing line is lost; the summaries stop.
            tracing::info!(
                target: "tower_jwt_auth",
                failed_checks = outage.failed,
                outage_ms = millis(outage.started.elapsed()),
                fail_open,
                "revocation store answers again",
            );
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        // Nothing panics under the lock; a poisoned record is still sound.
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `duration` in whole milliseconds, for a log field.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    use tracing::instrument::WithSubscriber;

    use super::*;
    use crate::revocation::MemoryRevocations;
    use crate::revocation::test_support::{Logs, Switch, token};

    /// The lines of `logs` that contain `what`.
    fn lines<'a>(logs: &'a str, what: &str) -> Vec<&'a str> {
        logs.lines().filter(|line| line.contains(what)).collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_token_not_revoked_passes_and_a_revoked_one_is_refused() {
        let store = MemoryRevocations::new();
        let revocation = Revocation::new(store.clone());
        revocation.check(token()).await.unwrap();
        store.revoke(&token()).await.unwrap();
        let error = revocation.check(token()).await.unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::Revoked);
        assert_eq!(error.status(), http::StatusCode::UNAUTHORIZED);
        assert_eq!(error.kind().error_code(), Some("invalid_token"));
        // A token that the store knows nothing of.
        revocation.check(TokenInfo::new()).await.unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_failing_store_fails_closed_by_default_and_is_logged() {
        let (logs, _guard) = Logs::capture();
        let error = Revocation::from_arc(Switch::down())
            .check(token())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::RevocationUnavailable);
        assert_eq!(error.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.description(), "revocation store unavailable");
        let source = std::error::Error::source(&error).unwrap().to_string();
        assert_eq!(source, "connection refused");

        let logs = logs.text();
        assert!(logs.contains("WARN"), "{logs}");
        assert!(logs.contains("connection refused"), "{logs}");
        assert!(logs.contains("fail closed"), "{logs}");
        assert!(!logs.contains("secret"), "no claim value in logs: {logs}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_failing_store_fails_open_when_configured_and_is_logged() {
        let (logs, _guard) = Logs::capture();
        Revocation::from_arc(Switch::down())
            .fail_open(true)
            .check(token())
            .await
            .unwrap();
        let logs = logs.text();
        assert!(logs.contains("WARN"), "{logs}");
        assert!(logs.contains("fail open"), "{logs}");
        assert!(logs.contains("fail_open=true"), "{logs}");
        assert!(!logs.contains("secret"), "no claim value in logs: {logs}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_hanging_store_times_out() {
        let (logs, _guard) = Logs::capture();
        let store = Switch::hanging();
        let revocation = Revocation::from_arc(store.clone()).timeout(Duration::from_millis(50));

        let start = Instant::now();
        let check = tokio::time::timeout(Duration::from_secs(5), revocation.check(token()));
        let error = check.await.expect("bounded").unwrap_err();
        let took = start.elapsed();
        assert_eq!(error.kind(), AuthErrorKind::RevocationUnavailable);
        assert_eq!(error.description(), "revocation check timed out");
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert_eq!(store.calls.load(Ordering::Relaxed), 1);
        assert!(logs.text().contains("timed out"), "{}", logs.text());

        let open = revocation.fail_open(true).check(token());
        tokio::time::timeout(Duration::from_secs(5), open)
            .await
            .expect("bounded")
            .unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_ready_store_answers_even_with_a_zero_timeout() {
        let store = MemoryRevocations::new();
        store.revoke(&token()).await.unwrap();
        let revocation = Revocation::new(store).timeout(Duration::ZERO);
        let error = revocation.check(token()).await.unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::Revoked);
    }

    /// The first failure of an outage warns as every failure used to.
    const FIRST: &str = "revocation check failed";
    const STILL: &str = "revocation store still failing";
    const AGAIN: &str = "revocation store answers again";

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn fifty_failures_warn_once_within_the_interval() {
        let (logs, _guard) = Logs::capture();
        let revocation = Revocation::from_arc(Switch::down());
        for _ in 0..50 {
            revocation.check(token()).await.unwrap_err();
        }
        let logged = logs.take();
        assert_eq!(lines(&logged, "WARN").len(), 1, "{logged}");
        assert_eq!(lines(&logged, FIRST).len(), 1, "{logged}");
        assert!(logged.contains("fail closed"), "{logged}");
        assert!(logged.contains("connection refused"), "{logged}");
        assert!(logged.contains("timeout_ms=100"), "{logged}");

        // Just short of the interval: still quiet.
        tokio::time::advance(REPORT_INTERVAL - Duration::from_millis(1)).await;
        for _ in 0..10 {
            revocation.check(token()).await.unwrap_err();
        }
        assert_eq!(logs.take(), "");
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_long_outage_is_summed_up_once_per_interval() {
        let (logs, _guard) = Logs::capture();
        let revocation = Revocation::from_arc(Switch::down()).fail_open(true);
        for _ in 0..50 {
            revocation.check(token()).await.unwrap();
        }
        assert_eq!(lines(&logs.take(), FIRST).len(), 1);

        // The first failure past the interval reports the 49 after the first
        // warning, and itself; the next ones wait for the next interval.
        tokio::time::advance(REPORT_INTERVAL).await;
        for _ in 0..5 {
            revocation.check(token()).await.unwrap();
        }
        let logged = logs.take();
        let summary = lines(&logged, STILL);
        assert_eq!(summary.len(), 1, "{logged}");
        assert_eq!(lines(&logged, "WARN").len(), 1, "{logged}");
        assert!(summary[0].contains("failed_checks=50"), "{logged}");
        assert!(summary[0].contains("outage_ms=10000"), "{logged}");
        assert!(summary[0].contains("fail open"), "{logged}");
        assert!(summary[0].contains("connection refused"), "{logged}");

        tokio::time::advance(REPORT_INTERVAL).await;
        revocation.check(token()).await.unwrap();
        let logged = logs.take();
        let summary = lines(&logged, STILL);
        assert_eq!(summary.len(), 1, "{logged}");
        assert!(summary[0].contains("failed_checks=5"), "{logged}");
        assert!(summary[0].contains("outage_ms=20000"), "{logged}");
        assert!(
            !logged.contains("secret"),
            "no claim value in logs: {logged}"
        );
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn recovery_is_logged_once_and_the_next_outage_warns_again() {
        let (logs, _guard) = Logs::capture();
        let store = Switch::down();
        let revocation = Revocation::from_arc(store.clone());
        for _ in 0..7 {
            revocation.check(token()).await.unwrap_err();
        }
        tokio::time::advance(Duration::from_millis(2500)).await;
        store.set_down(false);
        for _ in 0..3 {
            revocation.check(token()).await.unwrap();
        }
        let logged = logs.take();
        let again = lines(&logged, AGAIN);
        assert_eq!(again.len(), 1, "{logged}");
        assert!(again[0].contains("INFO"), "{logged}");
        assert!(again[0].contains("failed_checks=7"), "{logged}");
        assert!(again[0].contains("outage_ms=2500"), "{logged}");
        assert_eq!(lines(&logged, "WARN").len(), 1, "{logged}");

        // A new outage, once the interval since the last event is over, is
        // news again.
        tokio::time::advance(REPORT_INTERVAL).await;
        store.set_down(true);
        revocation.check(token()).await.unwrap_err();
        revocation.check(token()).await.unwrap_err();
        let logged = logs.take();
        assert_eq!(lines(&logged, FIRST).len(), 1, "{logged}");
        assert_eq!(lines(&logged, "WARN").len(), 1, "{logged}");
        store.set_down(false);
        revocation.check(token()).await.unwrap();
        let logged = logs.take();
        assert!(
            lines(&logged, AGAIN)[0].contains("failed_checks=2"),
            "{logged}"
        );
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_flapping_store_logs_at_most_one_outage_per_interval() {
        let (logs, _guard) = Logs::capture();
        let store = Switch::down();
        let revocation = Revocation::from_arc(store.clone());
        // 100 flaps, 10 ms apart: one failure, then one answer, each time.
        for _ in 0..100 {
            store.set_down(true);
            revocation.check(token()).await.unwrap_err();
            store.set_down(false);
            revocation.check(token()).await.unwrap();
            tokio::time::advance(Duration::from_millis(10)).await;
        }
        let logged = logs.take();
        assert_eq!(lines(&logged, FIRST).len(), 1, "{logged}");
        assert_eq!(lines(&logged, AGAIN).len(), 1, "{logged}");
        assert_eq!(logged.lines().count(), 2, "{logged}");

        // Past the interval, the next failure tells of the 99 quiet ones too.
        tokio::time::advance(REPORT_INTERVAL).await;
        store.set_down(true);
        revocation.check(token()).await.unwrap_err();
        let logged = logs.take();
        let first = lines(&logged, FIRST);
        assert_eq!(first.len(), 1, "{logged}");
        assert!(first[0].contains("failed_checks=100"), "{logged}");
        store.set_down(false);
        revocation.check(token()).await.unwrap();
        assert!(
            lines(&logs.take(), AGAIN)[0].contains("failed_checks=1"),
            "the closing line counts its own outage"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_failures_warn_once() {
        const CHECKS: usize = 50;
        let (logs, dispatch, _guard) = Logs::capture_with_dispatch();
        let store = Switch::down_together(CHECKS);
        // Long enough for every check to reach the gate on a loaded machine.
        let revocation = Revocation::from_arc(store.clone()).timeout(Duration::from_secs(30));
        let checks: Vec<_> = (0..CHECKS)
            .map(|_| {
                let check = revocation.check(token()).with_subscriber(dispatch.clone());
                tokio::spawn(check)
            })
            .collect();
        for check in checks {
            let error = check.await.unwrap().unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::RevocationUnavailable);
        }
        let logged = logs.take();
        assert_eq!(lines(&logged, "WARN").len(), 1, "{logged}");
        assert_eq!(lines(&logged, FIRST).len(), 1, "{logged}");

        store.set_down(false);
        let checks: Vec<_> = (0..CHECKS)
            .map(|_| tokio::spawn(revocation.check(token()).with_subscriber(dispatch.clone())))
            .collect();
        for check in checks {
            check.await.unwrap().unwrap();
        }
        let logged = logs.take();
        let again = lines(&logged, AGAIN);
        assert_eq!(again.len(), 1, "{logged}");
        assert!(again[0].contains("failed_checks=50"), "{logged}");
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn clones_share_the_outage_and_a_new_policy_has_its_own() {
        let (logs, _guard) = Logs::capture();
        let closed = Revocation::from_arc(Switch::down());
        let twin = closed.clone();
        let open = closed.clone().fail_open(true);
        closed.check(token()).await.unwrap_err();
        twin.check(token()).await.unwrap_err();
        let logged = logs.take();
        assert_eq!(lines(&logged, "WARN").len(), 1, "{logged}");
        assert!(logged.contains("fail closed"), "{logged}");

        open.check(token()).await.unwrap();
        let logged = logs.take();
        assert_eq!(lines(&logged, "WARN").len(), 1, "{logged}");
        assert!(logged.contains("fail open"), "{logged}");
    }

    #[test]
    fn the_check_is_send_and_static_and_revocation_is_clone_and_debug() {
        fn send_static<T: Send + 'static>(_: &T) {}
        let revocation = Revocation::new(MemoryRevocations::new());
        send_static(&revocation.check(token()));
        let debug = format!("{:?}", revocation.clone());
        assert!(debug.contains("timeout: 100ms"), "{debug}");
        assert!(debug.contains("fail_open: false"), "{debug}");
    }
}
