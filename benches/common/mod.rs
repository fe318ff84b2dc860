//! Helpers shared by the benches, each of which declares `mod common;`. This
//! is `benches/common/mod.rs`, not `benches/common.rs`, because cargo would
//! take the latter for a bench target of its own.

use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Polls `future` once with a no-op waker and returns its output.
///
/// The futures the benches measure complete at once (static keys, bodies in
/// memory, a ready inner service), so one poll stands in for a runtime, whose
/// cost would otherwise be part of every measurement.
///
/// # Panics
///
/// When the future is still pending after that poll: the bench would
/// otherwise measure an unfinished request.
pub fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a bench future was pending: it must complete at once"),
    }
}
