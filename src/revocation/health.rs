//! The record of the revocation store's health ([`Health`]), which keeps an
//! outage to a few log lines: its start, a summary every 10 s, and its end.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::AuthError;

/// How often, at most, a store that keeps failing is reported again.
const REPORT_INTERVAL: Duration = Duration::from_secs(10);

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
pub(super) struct Health {
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
    pub(super) fn failed(&self, error: &AuthError, timeout: Duration, fail_open: bool) {
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
    pub(super) fn answered(&self, fail_open: bool) {
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
    use tracing::instrument::WithSubscriber;

    use super::*;
    use crate::error::AuthErrorKind;
    use crate::revocation::Revocation;
    use crate::revocation::test_support::{Switch, token};
    use crate::test_helpers::Logs;

    /// The lines of `logs` that contain `what`.
    fn lines<'a>(logs: &'a str, what: &str) -> Vec<&'a str> {
        logs.lines().filter(|line| line.contains(what)).collect()
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
}
