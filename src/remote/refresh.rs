//! When to fetch: one fetch at a time that every caller shares, the rate
//! limit for unknown key ids, and the background task that refreshes before
//! expiry and retries failures with backoff.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use tokio::time::Instant;

use super::cache_policy::unit_random;
use super::error::{RemoteKeyError, RemoteKeyErrorKind};
use super::{State, lock};

/// The fetch in flight, as every waiter sees it: it runs in its own task, so
/// it ends (and stores its document) even if every waiter gives up.
pub(super) type FlightFuture = Shared<BoxFuture<'static, Result<(), RemoteKeyError>>>;

/// The single-flight and rate-limit state.
#[derive(Default)]
pub(super) struct Flight {
    /// The fetch in flight and its number.
    in_flight: Option<(u64, FlightFuture)>,
    /// The number of the next fetch.
    next_id: u64,
    /// When the last fetch started, successful or not.
    last_started: Option<Instant>,
}

/// The first retry after a failed background fetch; each next one waits twice
/// as long, up to the lower cache bound.
const FIRST_RETRY: Duration = Duration::from_secs(1);

impl State {
    /// The fetch in flight, or a new one.
    pub(super) fn join_or_start(self: &Arc<Self>) -> FlightFuture {
        let mut flight = lock(&self.flight);
        match &flight.in_flight {
            Some((_, running)) => running.clone(),
            None => self.start(&mut flight),
        }
    }

    /// The fetch in flight; else a new one unless a fetch started less than
    /// `unknown_kid_interval` ago, in which case `None`.
    pub(super) fn join_or_start_limited(self: &Arc<Self>) -> Option<FlightFuture> {
        let mut flight = lock(&self.flight);
        if let Some((_, running)) = &flight.in_flight {
            return Some(running.clone());
        }
        let interval = self.config.unknown_kid_interval;
        if flight.last_started.is_some_and(|t| t.elapsed() < interval) {
            return None;
        }
        Some(self.start(&mut flight))
    }

    /// Starts a fetch in a task of its own; called with `flight` locked.
    fn start(self: &Arc<Self>, flight: &mut Flight) -> FlightFuture {
        let id = flight.next_id;
        flight.next_id += 1;
        flight.last_started = Some(Instant::now());
        let state = Arc::clone(self);
        let task = self.runtime.spawn(async move {
            // Made inside the task, so that it also clears the flight if the
            // fetch panics, but never while `start` holds the lock.
            let end = EndOfFlight { state, id };
            let result = end.state.fetch().await;
            if let Err(error) = &result {
                end.state.warn(error);
            }
            result
        });
        let weak = Arc::downgrade(self);
        let running = async move {
            task.await.unwrap_or_else(|e| {
                // The task was cancelled (the runtime is shutting down) or
                // panicked, maybe before it ever ran: let the next caller
                // start afresh.
                if let Some(state) = weak.upgrade() {
                    state.end_flight(id);
                }
                Err(RemoteKeyError::new(
                    RemoteKeyErrorKind::Cancelled,
                    if e.is_panic() {
                        "the fetch panicked"
                    } else {
                        "the fetch was cancelled"
                    },
                ))
            })
        }
        .boxed()
        .shared();
        flight.in_flight = Some((id, running.clone()));
        running
    }

    /// Forgets fetch `id` if it is the one in flight.
    fn end_flight(&self, id: u64) {
        let mut flight = lock(&self.flight);
        if flight.in_flight.as_ref().is_some_and(|(i, _)| *i == id) {
            flight.in_flight = None;
        }
    }

    /// One line per failed fetch: the URL, the cause, and what is served now.
    fn warn(&self, error: &RemoteKeyError) {
        let url = self.shown_url();
        let cause = error.cause();
        if self.snapshot().is_some() {
            tracing::warn!(
                target: "tower_jwt_auth",
                url = %url,
                kind = ?error.kind(),
                "JWK Set fetch failed, still using the last good key set: {cause}",
            );
        } else {
            tracing::warn!(
                target: "tower_jwt_auth",
                url = %url,
                kind = ?error.kind(),
                "JWK Set fetch failed, no keys yet: {cause}",
            );
        }
    }
}

/// Ends the flight when the fetch task ends, however it ends.
struct EndOfFlight {
    state: Arc<State>,
    id: u64,
}

impl Drop for EndOfFlight {
    fn drop(&mut self) {
        self.state.end_flight(self.id);
    }
}

/// Starts the background task. It holds the state only weakly, and only
/// while it looks at it, so the set is dropped with its last clone; the
/// state's `Drop` then aborts the task.
pub(super) fn spawn_background(state: &Arc<State>) {
    let task = state.runtime.spawn(run(Arc::downgrade(state)));
    *lock(&state.background) = Some(task.abort_handle());
}

/// Sleeps until the next refresh is due, fetches (or joins the fetch in
/// flight) and plans the next one: at 80–90 % of the new document's lifetime
/// after a success (planned by `store`), after a growing, jittered delay after
/// a failure.
async fn run(state: Weak<State>) {
    let mut backoff = Backoff::default();
    loop {
        let Some(due) = state.upgrade().map(|s| *lock(&s.next_refresh)) else {
            return;
        };
        tokio::time::sleep_until(due).await;
        let flight = {
            let Some(state) = state.upgrade() else {
                return;
            };
            if *lock(&state.next_refresh) > Instant::now() {
                // Another fetch stored a document meanwhile.
                continue;
            }
            state.join_or_start()
        };
        let result = flight.await;
        let Some(state) = state.upgrade() else {
            return;
        };
        match result {
            Ok(()) => backoff = Backoff::default(),
            Err(_) => {
                let delay = backoff.next(state.config.cache.min);
                *lock(&state.next_refresh) = Instant::now() + delay;
            }
        }
    }
}

/// Delays between retries: 1 s, 2 s, 4 s, ... up to a cap, each taken at
/// random between half and all of it, so that servers that failed together
/// do not retry together.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: FIRST_RETRY }
    }
}

impl Backoff {
    fn next(&mut self, cap: Duration) -> Duration {
        let base = self.next.min(cap);
        self.next = base.saturating_mul(2).min(cap);
        base.mul_f64(0.5 + 0.5 * unit_random())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let cap = Duration::from_secs(10);
        let mut backoff = Backoff::default();
        let bases = [1, 2, 4, 8, 10, 10, 10];
        for base in bases {
            let base = Duration::from_secs(base);
            let delay = backoff.next(cap);
            assert!(delay >= base / 2 && delay <= base, "{delay:?} for {base:?}");
        }
        let mut small = Backoff::default();
        assert!(small.next(Duration::from_millis(100)) <= Duration::from_millis(100));
    }
}
