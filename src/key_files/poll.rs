//! The background task that polls the files on tokio's timer.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::time::MissedTickBehavior;

use super::state::{State, lock};

/// The most a change waits to be read a second time: long enough for a
/// writer of a small file to finish, short against the poll interval.
const MAX_SETTLE: Duration = Duration::from_millis(100);

/// The time between the two reads of a changed version: half the interval,
/// at most [`MAX_SETTLE`].
pub(super) fn settle(interval: Duration) -> Duration {
    (interval / 2).min(MAX_SETTLE)
}

/// Starts polling `state`'s files on `runtime`, every `state.interval`,
/// until the last `KeyFiles` is dropped.
pub(super) fn spawn(state: &Arc<State>, runtime: &Handle) {
    let weak = Arc::downgrade(state);
    let interval = state.interval;
    let task = runtime.spawn(run(weak, interval));
    *lock(&state.background) = Some(task.abort_handle());
}

async fn run(state: Weak<State>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    // A runtime too busy to poll on time polls late, not in a burst.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick is now: the build has just read the files.
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(state) = state.upgrade() else {
            return;
        };
        state.poll(settle(interval)).await;
    }
}
