//! The background task, which refreshes the document before it expires and
//! retries a failed fetch with backoff; the fetch itself is `State`'s.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::cache_policy::unit_random;
use super::state::{State, lock};

/// The first retry after a failed background fetch; each next one waits twice
/// as long, up to the lower cache bound.
const FIRST_RETRY: Duration = Duration::from_secs(1);

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
/// a failure. Wakes also when the keys become too stale, to drop them.
async fn run(state: Weak<State>) {
    let mut backoff = Backoff::default();
    loop {
        let Some((due, stale_at)) = state
            .upgrade()
            .map(|s| (*lock(&s.next_refresh), s.stale_at()))
        else {
            return;
        };
        tokio::time::sleep_until(stale_at.map_or(due, |stale| stale.min(due))).await;
        let flight = {
            let Some(state) = state.upgrade() else {
                return;
            };
            state.drop_if_stale();
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
