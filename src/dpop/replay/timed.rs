//! What the replay check needs tokio and `tracing` for (feature
//! `replay-store`, on by default):
//!
//! - [`Timed`]: a store other than memory, asked in a future under a timeout
//!   on tokio's timer, behind a circuit breaker (`crate::breaker`);
//! - [`Health`]: the record of the store's health (`crate::outage`), which
//!   logs with `tracing`.
//!
//! Besides `lib.rs` and `Cargo.toml`, the feature is named only here and on
//! the check's constructors that take such a store. Without it, `Timed` has
//! no value and `Health` logs nothing: the check has only its memory store,
//! which answers at once, and its one failure (a full store) is answered by
//! the policy without a log.

#[cfg(not(feature = "replay-store"))]
pub(super) use off::{Health, Timed, health};
#[cfg(feature = "replay-store")]
pub(super) use on::{Health, Timed, health};

use crate::error::BoxError;

/// Why a store asked in a future gave no answer.
#[cfg_attr(
    not(feature = "replay-store"),
    allow(dead_code, reason = "no store is asked in a future")
)]
pub(super) enum Failure {
    /// The store's own error.
    Store(BoxError),
    /// No answer within the timeout (tokio's `Elapsed`).
    TimedOut(BoxError),
    /// Not asked: the circuit breaker is open.
    Open,
}

#[cfg(feature = "replay-store")]
mod on {
    use std::future::Future;
    use std::sync::Arc;
    use std::time::Duration;

    use super::Failure;
    use crate::breaker::Transition;
    use crate::breaker::{Admission, Breaker, CircuitBreaker};
    use crate::dpop::replay::ReplayStore;
    pub(crate) use crate::outage::Health;
    use crate::outage::Words;

    /// How the outage events name this check.
    const WORDS: Words = Words {
        check: "DPoP replay",
        asks: "store",
        item: "proof",
        fallback: None,
    };

    /// A healthy record of the store, for a new policy.
    pub(crate) fn health() -> Health {
        Health::new(WORDS)
    }

    /// A store asked in a future, and the circuit breaker in front of it
    /// (shared by clones, as the check's record of health is).
    #[derive(Clone)]
    pub(crate) struct Timed {
        store: Arc<dyn ReplayStore>,
        breaker: Arc<Breaker>,
    }

    impl Timed {
        pub(crate) fn new(store: Arc<dyn ReplayStore>) -> Self {
            Self::with(store, CircuitBreaker::default())
        }

        fn with(store: Arc<dyn ReplayStore>, breaker: CircuitBreaker) -> Self {
            Self {
                store,
                breaker: Arc::new(Breaker::new(breaker)),
            }
        }

        /// Puts the store behind a new breaker of `config` (the same
        /// configuration when `None`), for a new policy.
        pub(crate) fn renew(&mut self, config: Option<CircuitBreaker>) {
            let config = config.unwrap_or_else(|| self.breaker.config());
            self.breaker = Arc::new(Breaker::new(config));
        }

        /// The store's answer for `id`, within `timeout`, unless the breaker
        /// is open; and the breaker's change of state, if any, to log.
        ///
        /// Outside a tokio runtime there is no timer to wait on, and the
        /// store is awaited without a timeout. In a runtime without its time
        /// driver, tokio's timer panics, as it does for the revocation check.
        pub(crate) fn first_use(
            &self,
            id: String,
            expires_at: u64,
            timeout: Duration,
        ) -> impl Future<Output = (Result<bool, Failure>, Option<Transition>)> + Send + 'static
        {
            let Self { store, breaker } = self.clone();
            async move {
                let ticket = match breaker.admit() {
                    Admission::Ask(ticket) => ticket,
                    Admission::Refuse => return (Err(Failure::Open), None),
                };
                let answer = store.first_use(&id, expires_at);
                let answer = if tokio::runtime::Handle::try_current().is_ok() {
                    match tokio::time::timeout(timeout, answer).await {
                        Ok(answer) => answer.map_err(Failure::Store),
                        Err(elapsed) => Err(Failure::TimedOut(Box::new(elapsed))),
                    }
                } else {
                    answer.await.map_err(Failure::Store)
                };
                match answer {
                    Ok(first) => (Ok(first), ticket.answered()),
                    Err(failure) => (Err(failure), ticket.failed()),
                }
            }
        }
    }
}

#[cfg(not(feature = "replay-store"))]
mod off {
    use std::future::Ready;
    use std::time::Duration;

    use super::Failure;
    use crate::error::AuthError;

    /// Without the feature, no store but memory: no value of this type.
    #[derive(Clone)]
    pub(crate) enum Timed {}

    /// Without the feature, no breaker changes state.
    pub(crate) enum Transition {}

    impl Timed {
        pub(crate) fn first_use(
            &self,
            _: String,
            _: u64,
            _: Duration,
        ) -> Ready<(Result<bool, Failure>, Option<Transition>)> {
            match *self {}
        }

        pub(crate) fn renew(&mut self, _: Option<std::convert::Infallible>) {
            match *self {}
        }
    }

    /// Without `tracing`, nothing to log to.
    pub(crate) struct Health;

    impl Health {
        pub(crate) fn failed(&self, _: &AuthError, _: Duration, _: bool) {}

        pub(crate) fn answered(&self, _: bool) {}

        pub(crate) fn breaker(&self, transition: Transition, _: bool) {
            match transition {}
        }
    }

    pub(crate) fn health() -> Health {
        Health
    }
}
