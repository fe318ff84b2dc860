//! What the replay check needs tokio and `tracing` for, and the only file
//! that names the `replay-store` feature besides `lib.rs` and `Cargo.toml`:
//!
//! - a store other than memory ([`Timed`], and the constructors
//!   `ReplayCheck::new` and `ReplayCheck::from_arc` that take one), asked in
//!   a future under a timeout on tokio's timer;
//! - the record of the store's health ([`Health`], `crate::outage`), which
//!   logs with `tracing`.
//!
//! Without the feature, `Timed` has no value and `Health` logs nothing: the
//! check has only its memory store, which answers at once, and its one
//! failure (a full store) is answered by the policy without a log.

#[cfg(not(feature = "replay-store"))]
pub(super) use off::{Health, Timed, health};
#[cfg(feature = "replay-store")]
pub(super) use on::{Health, Timed, health};

#[cfg(feature = "replay-store")]
mod on {
    use std::any::Any;
    use std::future::Future;
    use std::sync::Arc;
    use std::time::Duration;

    use super::super::{
        DEFAULT_REPLAY_TIMEOUT, MemoryReplays, ReplayCheck, ReplayStore, Store, UNAVAILABLE,
    };
    use crate::error::{AuthError, AuthErrorKind};
    pub(crate) use crate::outage::Health;
    use crate::outage::Words;

    /// How the outage events name this check.
    const WORDS: Words = Words {
        check: "DPoP replay",
        item: "proof",
    };

    /// A healthy record of the store, for a new policy.
    pub(crate) fn health() -> Health {
        Health::new(WORDS)
    }

    /// A store asked in a future.
    #[derive(Clone)]
    pub(crate) struct Timed(Arc<dyn ReplayStore>);

    impl Timed {
        /// The store's answer for `id` within `timeout`; its failure or the
        /// timeout as the check's error ([`AuthErrorKind::ReplayCheckUnavailable`]).
        ///
        /// Outside a tokio runtime there is no timer to wait on, and the
        /// store is awaited without a timeout. In a runtime without its time
        /// driver, tokio's timer panics, as it does for the revocation check.
        pub(crate) fn first_use(
            &self,
            id: String,
            expires_at: u64,
            timeout: Duration,
        ) -> impl Future<Output = Result<bool, AuthError>> + Send + 'static {
            let store = Arc::clone(&self.0);
            async move {
                let answer = store.first_use(&id, expires_at);
                let answer = if tokio::runtime::Handle::try_current().is_ok() {
                    match tokio::time::timeout(timeout, answer).await {
                        Ok(answer) => answer,
                        Err(elapsed) => {
                            return Err(AuthError::with_source(
                                AuthErrorKind::ReplayCheckUnavailable,
                                "DPoP replay check timed out",
                                elapsed,
                            ));
                        }
                    }
                } else {
                    answer.await
                };
                answer.map_err(|error| {
                    AuthError::with_boxed_source(
                        AuthErrorKind::ReplayCheckUnavailable,
                        UNAVAILABLE,
                        error,
                    )
                })
            }
        }
    }

    impl ReplayCheck {
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
        pub fn new(store: impl ReplayStore) -> Self {
            match (&store as &dyn Any).downcast_ref::<MemoryReplays>() {
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
        pub fn from_arc(store: Arc<dyn ReplayStore>) -> Self {
            Self::with(Store::Timed(Timed(store)), DEFAULT_REPLAY_TIMEOUT, false)
        }
    }
}

#[cfg(not(feature = "replay-store"))]
mod off {
    use std::future::Ready;
    use std::time::Duration;

    use crate::error::AuthError;

    /// Without the feature, no store but memory: no value of this type.
    #[derive(Clone)]
    pub(crate) enum Timed {}

    impl Timed {
        pub(crate) fn first_use(
            &self,
            _: String,
            _: u64,
            _: Duration,
        ) -> Ready<Result<bool, AuthError>> {
            match *self {}
        }
    }

    /// Without `tracing`, nothing to log to.
    pub(crate) struct Health;

    impl Health {
        pub(crate) fn failed(&self, _: &AuthError, _: Duration, _: bool) {}

        pub(crate) fn answered(&self, _: bool) {}
    }

    pub(crate) fn health() -> Health {
        Health
    }
}
