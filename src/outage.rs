//! The record of a shared store's health ([`Health`]), which keeps an outage
//! to a few log lines: its start, a summary every 10 s, and its end. The
//! revocation check and the DPoP replay check each keep one per policy; the
//! [`Words`] they give name the check in the events.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::AuthError;

/// How often, at most, a store that keeps failing is reported again.
const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// How the events name a check, what it asks and what failing open lets
/// through: `"{check} check failed; {item} let through (fail open)"`,
/// `"{check} {asks} still failing; ..."`, `"{check} {asks} answers again"`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Words {
    /// The check, as the events' messages start: `"revocation"`.
    pub(crate) check: &'static str,
    /// What the check asks: `"store"` (a revocation or replay store),
    /// `"endpoint"` (an authorization server's introspection endpoint),
    /// `"Redis"` (the shared introspection cache).
    pub(crate) asks: &'static str,
    /// What a failed check lets through when it fails open: `"token"`
    /// (`"tokens"` in a summary).
    pub(crate) item: &'static str,
    /// What is done instead of the check, for a check that is only an
    /// optimization and neither refuses nor lets through (the shared
    /// introspection cache: `"token introspected directly"`, `"tokens ..."`
    /// in a summary); then the events' text names no policy.
    pub(crate) fallback: Option<(&'static str, &'static str)>,
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
pub(crate) struct Health {
    words: Words,
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
    /// A healthy record, whose events use `words`.
    pub(crate) fn new(words: Words) -> Self {
        Self {
            words,
            failing: AtomicBool::new(false),
            record: Mutex::default(),
        }
    }

    /// Counts a failed check, and logs it when it starts an outage or closes a
    /// reporting interval.
    pub(crate) fn failed(&self, error: &AuthError, timeout: Duration, fail_open: bool) {
        let report = {
            let mut record = self.lock();
            let now = Instant::now();
            let may_report = record.may_report(now);
            let carried = std::mem::take(&mut record.carried);
            let outage = record.outage.get_or_insert_with(|| {
                self.failing.store(true, Ordering::Release);
                crate::metrics::outage_started(self.words.check);
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
                "{} check failed; {}",
                self.words.check,
                Policy { words: self.words, fail_open, many: false },
            ),
            Report::StillFailing { failed, lasted } => tracing::warn!(
                target: "tower_jwt_auth",
                failed_checks = failed,
                outage_ms = millis(lasted),
                reason = error.description(),
                error = cause.as_deref().unwrap_or(""),
                timeout_ms,
                fail_open,
                "{} {} still failing; {}",
                self.words.check,
                self.words.asks,
                Policy { words: self.words, fail_open, many: true },
            ),
            Report::Quiet => {}
        }
    }

    /// Notes that the store answered a check, and logs the end of an outage
    /// that was told of.
    pub(crate) fn answered(&self, fail_open: bool) {
        // The whole cost of an answered check while the store is healthy.
        if !self.failing.load(Ordering::Acquire) {
            return;
        }
        let ended = {
            let mut record = self.lock();
            // Another answered check may have ended it meanwhile.
            let ended = record.outage.take();
            self.failing.store(false, Ordering::Release);
            if ended.is_some() {
                crate::metrics::outage_ended(self.words.check);
            }
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
                "{} {} answers again",
                self.words.check,
                self.words.asks,
            );
        }
    }

    /// Logs a change of the check's circuit breaker: a `warn` when it opens
    /// (once per outage: a failed probe reopens it quietly, and the refusals
    /// meanwhile are counted as failed checks in the summaries), an `info`
    /// when a probe closes it.
    #[cfg(any(feature = "revocation", feature = "replay-store"))]
    pub(crate) fn breaker(&self, transition: crate::breaker::Transition, fail_open: bool) {
        use crate::breaker::Transition;
        match transition {
            Transition::Opened {
                failures,
                cool_down,
            } => tracing::warn!(
                target: "tower_jwt_auth",
                failures_in_a_row = failures,
                cool_down_ms = millis(cool_down),
                fail_open,
                "{} circuit breaker open: {} not asked, {} at once, until a probe every {} ms answers",
                self.words.check,
                self.words.asks,
                Policy { words: self.words, fail_open, many: true },
                millis(cool_down),
            ),
            Transition::Closed { open_for } => tracing::info!(
                target: "tower_jwt_auth",
                open_ms = millis(open_for),
                fail_open,
                "{} circuit breaker closed: the probe was answered",
                self.words.check,
            ),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        // Nothing panics under the lock; a poisoned record is still sound.
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the policy did with the failed checks, for an event's message:
/// "request refused (fail closed)", "token let through (fail open)", or the
/// plural of either for a summary.
struct Policy {
    words: Words,
    fail_open: bool,
    many: bool,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.many { "s" } else { "" };
        if let Some((one, many)) = self.words.fallback {
            f.write_str(if self.many { many } else { one })
        } else if self.fail_open {
            write!(f, "{}{s} let through (fail open)", self.words.item)
        } else {
            write!(f, "request{s} refused (fail closed)")
        }
    }
}

/// `duration` in whole milliseconds, for a log field.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;
    use crate::error::AuthErrorKind;
    use crate::test_helpers::Logs;

    const WORDS: Words = Words {
        check: "sample",
        asks: "store",
        item: "thing",
        fallback: None,
    };
    const FIRST: &str = "sample check failed";
    const STILL: &str = "sample store still failing";
    const AGAIN: &str = "sample store answers again";
    const TIMEOUT: Duration = Duration::from_millis(100);

    /// The lines of `logs` that contain `what`.
    fn lines<'a>(logs: &'a str, what: &str) -> Vec<&'a str> {
        logs.lines().filter(|line| line.contains(what)).collect()
    }

    /// A failed check's error, as a check builds it: its store's error as
    /// the source.
    fn error() -> AuthError {
        let refused = std::io::Error::other("connection refused");
        AuthError::with_source(AuthErrorKind::RevocationUnavailable, "unavailable", refused)
    }

    fn fail(health: &Health, times: usize, fail_open: bool) {
        for _ in 0..times {
            health.failed(&error(), TIMEOUT, fail_open);
        }
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn fifty_failures_warn_once_within_the_interval() {
        let (logs, _guard) = Logs::capture();
        let health = Health::new(WORDS);
        fail(&health, 50, false);
        let logged = logs.take();
        assert_eq!(lines(&logged, "WARN").len(), 1, "{logged}");
        assert_eq!(lines(&logged, FIRST).len(), 1, "{logged}");
        assert!(logged.contains("request refused (fail closed)"), "{logged}");
        assert!(logged.contains("connection refused"), "{logged}");
        assert!(logged.contains("reason=\"unavailable\""), "{logged}");
        assert!(logged.contains("timeout_ms=100"), "{logged}");
        assert!(logged.contains("failed_checks=1 "), "{logged}");

        // Just short of the interval: still quiet.
        tokio::time::advance(REPORT_INTERVAL - Duration::from_millis(1)).await;
        fail(&health, 10, false);
        assert_eq!(logs.take(), "");
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_long_outage_is_summed_up_once_per_interval() {
        let (logs, _guard) = Logs::capture();
        let health = Health::new(WORDS);
        fail(&health, 50, true);
        let logged = logs.take();
        assert_eq!(lines(&logged, FIRST).len(), 1, "{logged}");
        assert!(logged.contains("thing let through (fail open)"), "{logged}");

        // The first failure past the interval reports the 49 after the first
        // warning, and itself; the next ones wait for the next interval.
        tokio::time::advance(REPORT_INTERVAL).await;
        fail(&health, 5, true);
        let logged = logs.take();
        let summary = lines(&logged, STILL);
        assert_eq!(summary.len(), 1, "{logged}");
        assert_eq!(lines(&logged, "WARN").len(), 1, "{logged}");
        assert!(summary[0].contains("failed_checks=50"), "{logged}");
        assert!(summary[0].contains("outage_ms=10000"), "{logged}");
        assert!(
            summary[0].contains("things let through (fail open)"),
            "{logged}"
        );
        assert!(summary[0].contains("connection refused"), "{logged}");

        tokio::time::advance(REPORT_INTERVAL).await;
        fail(&health, 1, true);
        let logged = logs.take();
        let summary = lines(&logged, STILL);
        assert_eq!(summary.len(), 1, "{logged}");
        assert!(summary[0].contains("failed_checks=5"), "{logged}");
        assert!(summary[0].contains("outage_ms=20000"), "{logged}");

        // Closed, the summary speaks of requests.
        let closed = Health::new(WORDS);
        fail(&closed, 1, false);
        tokio::time::advance(REPORT_INTERVAL).await;
        fail(&closed, 1, false);
        let logged = logs.take();
        assert!(
            lines(&logged, STILL)[0].contains("requests refused (fail closed)"),
            "{logged}"
        );
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn recovery_is_logged_once_and_the_next_outage_warns_again() {
        let (logs, _guard) = Logs::capture();
        let health = Health::new(WORDS);
        fail(&health, 7, false);
        tokio::time::advance(Duration::from_millis(2500)).await;
        for _ in 0..3 {
            health.answered(false);
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
        fail(&health, 2, false);
        let logged = logs.take();
        assert_eq!(lines(&logged, FIRST).len(), 1, "{logged}");
        assert_eq!(lines(&logged, "WARN").len(), 1, "{logged}");
        health.answered(false);
        let logged = logs.take();
        assert!(
            lines(&logged, AGAIN)[0].contains("failed_checks=2"),
            "{logged}"
        );
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_flapping_store_logs_at_most_one_outage_per_interval() {
        let (logs, _guard) = Logs::capture();
        let health = Health::new(WORDS);
        // 100 flaps, 10 ms apart: one failure, then one answer, each time.
        for _ in 0..100 {
            fail(&health, 1, false);
            health.answered(false);
            tokio::time::advance(Duration::from_millis(10)).await;
        }
        let logged = logs.take();
        assert_eq!(lines(&logged, FIRST).len(), 1, "{logged}");
        assert_eq!(lines(&logged, AGAIN).len(), 1, "{logged}");
        assert_eq!(logged.lines().count(), 2, "{logged}");

        // Past the interval, the next failure tells of the 99 quiet ones too.
        tokio::time::advance(REPORT_INTERVAL).await;
        fail(&health, 1, false);
        let logged = logs.take();
        let first = lines(&logged, FIRST);
        assert_eq!(first.len(), 1, "{logged}");
        assert!(first[0].contains("failed_checks=100"), "{logged}");
        health.answered(false);
        assert!(
            lines(&logs.take(), AGAIN)[0].contains("failed_checks=1"),
            "the closing line counts its own outage"
        );
    }

    #[test]
    fn concurrent_failures_warn_once() {
        const CHECKS: usize = 50;
        let (logs, dispatch, _guard) = Logs::capture_with_dispatch();
        let health = Health::new(WORDS);
        let gate = Arc::new(Barrier::new(CHECKS));
        let together = |answered: bool| {
            std::thread::scope(|scope| {
                for _ in 0..CHECKS {
                    let (health, gate, dispatch) = (&health, gate.clone(), dispatch.clone());
                    scope.spawn(move || {
                        tracing::dispatcher::with_default(&dispatch, || {
                            gate.wait();
                            if answered {
                                health.answered(false);
                            } else {
                                health.failed(&error(), TIMEOUT, false);
                            }
                        });
                    });
                }
            });
        };
        together(false);
        let logged = logs.take();
        assert_eq!(lines(&logged, "WARN").len(), 1, "{logged}");
        assert_eq!(lines(&logged, FIRST).len(), 1, "{logged}");

        together(true);
        let logged = logs.take();
        let again = lines(&logged, AGAIN);
        assert_eq!(again.len(), 1, "{logged}");
        assert!(again[0].contains("failed_checks=50"), "{logged}");
    }
}
