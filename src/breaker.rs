//! [`CircuitBreaker`]: how a check stops waiting on a store that keeps
//! failing or hanging, and [`Breaker`], its state, which a check keeps per
//! policy beside its record of the store's health (`crate::outage`).
//!
//! Closed, every check asks the store. After `failures` failures (errors or
//! timeouts) in a row it opens: for `cool_down`, checks get the failure
//! policy's answer at once instead of each waiting out the timeout. Then it
//! is half-open: the next check is the one probe that asks the store (the
//! others keep the open answer); its answer closes the breaker, its failure
//! opens it again for another `cool_down`.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// The default number of failures in a row that opens the breaker: 5.
///
/// One slow answer or one dropped connection is weather, not an outage; five
/// in a row, with nothing answered between them, is a store that is down or
/// hanging. At a few hundred requests a second that is a few milliseconds of
/// traffic, so the breaker opens almost as soon as the outage starts.
pub const DEFAULT_BREAKER_FAILURES: u32 = 5;

/// The default time an open breaker answers without asking the store: 5 s.
///
/// Long enough that a hanging store costs one request a timeout every 5 s
/// (the probe) instead of every request; short enough that service comes back
/// within 5 s of the store, about the time a Redis failover or restart takes
/// to be noticed anyway (and half the 10 s interval of the outage reports, so
/// a summary always counts a probe or two).
pub const DEFAULT_BREAKER_COOL_DOWN: Duration = Duration::from_secs(5);

/// When a check stops asking a failing store, and for how long: after
/// `failures` failures or timeouts in a row, checks get the failure policy's
/// answer at once (`503` when failing closed, the request let through when
/// failing open) for `cool_down`, instead of each waiting the timeout for a
/// store that does not answer; then one probe asks the store, and its answer
/// closes the breaker (its failure opens it again).
///
/// On by default ([`CircuitBreaker::default`]: 5 failures, 5 s): a check
/// refused by an open breaker gives the answer the timeout would have given
/// after waiting, so the only difference a user sees is a store that came
/// back being asked again up to `cool_down` later. Turn it off with
/// [`CircuitBreaker::disabled`] to ask the store on every check whatever
/// happened before.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{CircuitBreaker, MemoryRevocations, Revocation};
///
/// let revocation = Revocation::new(MemoryRevocations::new())
///     .circuit_breaker(CircuitBreaker::new(3, Duration::from_secs(2)));
/// let every_time = Revocation::new(MemoryRevocations::new())
///     .circuit_breaker(CircuitBreaker::disabled());
/// # let _ = (revocation, every_time);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreaker {
    /// Failures in a row that open it; 0 when disabled.
    failures: u32,
    cool_down: Duration,
}

impl CircuitBreaker {
    /// Opens after `failures` failures or timeouts in a row (at least 1; 0 is
    /// taken as 1), and stays open for `cool_down` before a probe.
    #[must_use]
    pub const fn new(failures: u32, cool_down: Duration) -> Self {
        Self {
            failures: if failures == 0 { 1 } else { failures },
            cool_down,
        }
    }

    /// Never opens: every check asks the store.
    #[must_use]
    pub const fn disabled() -> Self {
        Self {
            failures: 0,
            cool_down: Duration::ZERO,
        }
    }

    /// Whether it can open at all (not [`disabled`](Self::disabled)).
    #[must_use]
    pub const fn is_enabled(&self) -> bool {
        self.failures != 0
    }

    /// The failures in a row that open it (0 when disabled).
    #[must_use]
    pub const fn failures(&self) -> u32 {
        self.failures
    }

    /// How long it stays open before a probe.
    #[must_use]
    pub const fn cool_down(&self) -> Duration {
        self.cool_down
    }
}

impl Default for CircuitBreaker {
    /// [`DEFAULT_BREAKER_FAILURES`] (5) failures in a row, open for
    /// [`DEFAULT_BREAKER_COOL_DOWN`] (5 s).
    fn default() -> Self {
        Self::new(DEFAULT_BREAKER_FAILURES, DEFAULT_BREAKER_COOL_DOWN)
    }
}

/// The state of one breaker, shared by the clones of a check.
pub(crate) struct Breaker {
    config: CircuitBreaker,
    /// Whether the state is not `Closed`. Written only under the lock; read
    /// without it by every check, which takes the lock only when it is set.
    tripped: AtomicBool,
    /// Failures in a row while closed.
    failures: AtomicU32,
    state: Mutex<State>,
}

enum State {
    Closed,
    /// Refusing at once until `until`; `since` is when it first opened.
    Open {
        since: Instant,
        until: Instant,
    },
    /// The probe is out; every other check is refused.
    HalfOpen {
        since: Instant,
    },
}

/// What a check may do.
pub(crate) enum Admission<'a> {
    /// Ask the store, and tell the ticket how it went.
    Ask(Ticket<'a>),
    /// Give the failure policy's answer at once.
    Refuse,
}

/// A check let through to the store: the breaker learns its outcome from
/// [`answered`](Self::answered) or [`failed`](Self::failed). A probe dropped
/// before either (its request cancelled) leaves the breaker open with the
/// next check as the probe.
pub(crate) struct Ticket<'a> {
    breaker: &'a Breaker,
    probe: bool,
}

/// A change of state worth telling of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// Closed to open, after `failures` failures in a row.
    Opened { failures: u32, cool_down: Duration },
    /// The probe was answered: closed again, after `open_for`.
    Closed { open_for: Duration },
}

impl Breaker {
    pub(crate) fn new(config: CircuitBreaker) -> Self {
        Self {
            config,
            tripped: AtomicBool::new(false),
            failures: AtomicU32::new(0),
            state: Mutex::new(State::Closed),
        }
    }

    pub(crate) fn config(&self) -> CircuitBreaker {
        self.config
    }

    /// Whether a check may ask the store now.
    pub(crate) fn admit(&self) -> Admission<'_> {
        // The whole cost while closed: one load.
        if !self.tripped.load(Ordering::Acquire) {
            return Admission::Ask(Ticket {
                breaker: self,
                probe: false,
            });
        }
        let mut state = self.lock();
        match *state {
            // Closed meanwhile by another check's probe.
            State::Closed => Admission::Ask(Ticket {
                breaker: self,
                probe: false,
            }),
            State::Open { since, until } if Instant::now() >= until => {
                *state = State::HalfOpen { since };
                Admission::Ask(Ticket {
                    breaker: self,
                    probe: true,
                })
            }
            State::Open { .. } | State::HalfOpen { .. } => Admission::Refuse,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics under the lock; a poisoned state is still sound.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Ticket<'_> {
    /// The store answered.
    pub(crate) fn answered(self) -> Option<Transition> {
        let breaker = self.breaker;
        let probe = self.probe;
        std::mem::forget(self);
        if !breaker.config.is_enabled() {
            return None;
        }
        // Read first: a healthy store's checks write nothing shared.
        if breaker.failures.load(Ordering::Relaxed) != 0 {
            breaker.failures.store(0, Ordering::Relaxed);
        }
        if !probe {
            // A check let in before the breaker opened proves little about
            // the store now; only the probe closes it.
            return None;
        }
        let mut state = breaker.lock();
        let State::HalfOpen { since } = *state else {
            return None;
        };
        *state = State::Closed;
        breaker.tripped.store(false, Ordering::Release);
        Some(Transition::Closed {
            open_for: since.elapsed(),
        })
    }

    /// The store failed or timed out.
    pub(crate) fn failed(self) -> Option<Transition> {
        let breaker = self.breaker;
        let probe = self.probe;
        std::mem::forget(self);
        let config = breaker.config;
        if !config.is_enabled() {
            return None;
        }
        let now = Instant::now();
        if probe {
            // Open again, quietly: the outage reports count on.
            let mut state = breaker.lock();
            if let State::HalfOpen { since } = *state {
                *state = State::Open {
                    since,
                    until: now + config.cool_down,
                };
            }
            return None;
        }
        let in_a_row = breaker.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if in_a_row < config.failures {
            return None;
        }
        let mut state = breaker.lock();
        if !matches!(*state, State::Closed) {
            return None;
        }
        *state = State::Open {
            since: now,
            until: now + config.cool_down,
        };
        breaker.tripped.store(true, Ordering::Release);
        breaker.failures.store(0, Ordering::Relaxed);
        Some(Transition::Opened {
            failures: in_a_row,
            cool_down: config.cool_down,
        })
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.probe {
            return;
        }
        // A probe given up before the store answered: the next check probes.
        let mut state = self.breaker.lock();
        if let State::HalfOpen { since } = *state {
            *state = State::Open {
                since,
                until: Instant::now(),
            };
        }
    }
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match *self.lock() {
            State::Closed => "closed",
            State::Open { .. } => "open",
            State::HalfOpen { .. } => "half-open",
        };
        f.debug_struct("Breaker")
            .field("config", &self.config)
            .field("state", &state)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL_DOWN: Duration = Duration::from_secs(5);

    fn ask(breaker: &Breaker) -> Ticket<'_> {
        match breaker.admit() {
            Admission::Ask(ticket) => ticket,
            Admission::Refuse => panic!("refused"),
        }
    }

    fn refused(breaker: &Breaker) -> bool {
        matches!(breaker.admit(), Admission::Refuse)
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn opens_after_failures_in_a_row_and_a_probe_closes_it() {
        let breaker = Breaker::new(CircuitBreaker::new(3, COOL_DOWN));
        assert_eq!(ask(&breaker).failed(), None);
        assert_eq!(ask(&breaker).failed(), None);
        // An answer between failures starts the count again.
        assert_eq!(ask(&breaker).answered(), None);
        assert_eq!(ask(&breaker).failed(), None);
        assert_eq!(ask(&breaker).failed(), None);
        assert_eq!(
            ask(&breaker).failed(),
            Some(Transition::Opened {
                failures: 3,
                cool_down: COOL_DOWN
            })
        );
        assert!(refused(&breaker));
        tokio::time::advance(COOL_DOWN - Duration::from_millis(1)).await;
        assert!(refused(&breaker));
        tokio::time::advance(Duration::from_millis(1)).await;
        // One probe; the others are refused while it is out.
        let probe = ask(&breaker);
        assert!(refused(&breaker));
        assert!(refused(&breaker));
        assert_eq!(
            probe.answered(),
            Some(Transition::Closed {
                open_for: COOL_DOWN
            })
        );
        assert_eq!(ask(&breaker).answered(), None);
        assert!(!refused(&breaker));
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_failed_probe_reopens_it_quietly_and_a_dropped_one_hands_over() {
        let breaker = Breaker::new(CircuitBreaker::new(1, COOL_DOWN));
        assert!(matches!(
            ask(&breaker).failed(),
            Some(Transition::Opened { .. })
        ));
        tokio::time::advance(COOL_DOWN).await;
        assert_eq!(ask(&breaker).failed(), None, "reopened without an event");
        assert!(refused(&breaker));
        tokio::time::advance(COOL_DOWN).await;
        drop(ask(&breaker));
        // The next check is the probe at once.
        let probe = ask(&breaker);
        assert!(refused(&breaker));
        assert_eq!(
            probe.answered(),
            Some(Transition::Closed {
                open_for: 2 * COOL_DOWN
            })
        );
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn late_answers_of_checks_let_in_before_it_opened_do_not_close_it() {
        let breaker = Breaker::new(CircuitBreaker::new(2, COOL_DOWN));
        let early = ask(&breaker);
        ask(&breaker).failed();
        ask(&breaker).failed();
        assert!(refused(&breaker));
        assert_eq!(early.answered(), None);
        assert!(refused(&breaker));
    }

    #[test]
    fn disabled_never_opens() {
        let breaker = Breaker::new(CircuitBreaker::disabled());
        for _ in 0..100 {
            assert_eq!(ask(&breaker).failed(), None);
        }
        assert!(!refused(&breaker));
        assert!(!CircuitBreaker::disabled().is_enabled());
        assert_eq!(CircuitBreaker::new(0, COOL_DOWN).failures(), 1);
        assert_eq!(CircuitBreaker::default().failures(), 5);
        assert_eq!(CircuitBreaker::default().cool_down(), COOL_DOWN);
    }
}
