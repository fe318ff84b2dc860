//! Where an `Introspection` looks for an answer its own cache lacks, before
//! asking the authorization server: the fleet's answers in Redis with the
//! `redis` feature (`super::redis`), nowhere without it. Without the feature
//! both types are empty enums, so the builder and `Inner` hold an
//! `Option` of them and name no feature.

#[cfg(feature = "redis")]
pub(super) use super::redis::{RedisIntrospectionCache as Store, Shared};

#[cfg(not(feature = "redis"))]
mod absent {
    use std::future::Future;
    use std::time::Duration;

    use super::super::cache::{Entry, Lifetimes};
    use super::super::client::Answer;

    /// No shared store can be configured without the `redis` feature.
    #[derive(Debug, Clone)]
    pub(in crate::introspection) enum Store {}

    /// No shared answers without the `redis` feature.
    pub(in crate::introspection) enum Shared {}

    impl Shared {
        pub(in crate::introspection) fn new(
            store: Store,
            _: Lifetimes,
            _: Duration,
            _: usize,
        ) -> Self {
            match store {}
        }

        #[allow(clippy::unused_async, reason = "the signature of the Redis one")]
        pub(in crate::introspection) async fn entry(
            &self,
            _: &[u8; 32],
            _: u64,
            _: impl Future<Output = Answer>,
        ) -> Entry {
            match *self {}
        }
    }
}

#[cfg(not(feature = "redis"))]
pub(super) use absent::{Shared, Store};
