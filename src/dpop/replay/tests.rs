//! The tests of [`ReplayCheck`]: its answers, its policy, its timeout and its
//! logs, with the memory store and with stores that the test switches
//! between up, down and hanging. (`memory.rs` tests the memory store itself.)

use super::*;

const NOW: u64 = 1_700_000_000;
const ID: &str = "hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg";
const OTHER: &str = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";

/// The answer of a check that must not wait.
fn ready(answer: ReplayAnswer) -> Result<(), AuthError> {
    match answer {
        ReplayAnswer::Ready(answer) => answer,
        ReplayAnswer::Waiting(_) => panic!("the memory store answers at once"),
    }
}

#[test]
fn a_first_use_passes_and_a_replay_is_refused() {
    let check = ReplayCheck::default();
    ready(check.check(ID, NOW + 60, NOW)).unwrap();
    let error = ready(check.check(ID, NOW + 60, NOW + 1)).unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
    assert_eq!(error.description(), "DPoP proof replayed");
    assert_eq!(error.status(), http::StatusCode::UNAUTHORIZED);
    assert_eq!(error.kind().error_code(), Some("invalid_dpop_proof"));
    // Another id, and the same id once expired, pass.
    ready(check.check(OTHER, NOW + 60, NOW)).unwrap();
    ready(check.check(ID, NOW + 120, NOW + 60)).unwrap();
    // Clones share the store.
    ready(check.clone().check(OTHER, NOW + 60, NOW)).unwrap_err();
}

#[test]
fn a_full_store_fails_closed_by_default_and_open_when_configured() {
    let store = MemoryReplays::with_capacity(1);
    let closed = ReplayCheck::memory(store.clone());
    let open = closed.clone().fail_open(true);
    ready(closed.check(ID, NOW + 60, NOW)).unwrap();

    let error = ready(closed.check(OTHER, NOW + 60, NOW)).unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::ReplayCheckUnavailable);
    assert_eq!(error.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error.kind().error_code(), None);
    assert_eq!(error.description(), "DPoP replay store unavailable");
    let source = std::error::Error::source(&error).unwrap().to_string();
    assert_eq!(source, "replay store full");

    // Open: the proof passes, unrecorded, so it would pass again...
    ready(open.check(OTHER, NOW + 60, NOW)).unwrap();
    ready(open.check(OTHER, NOW + 60, NOW)).unwrap();
    // ...but the store forgot nothing: a recorded id is still refused.
    let error = ready(open.check(ID, NOW + 60, NOW)).unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
    assert_eq!(store.len(), 1);
}

#[test]
fn an_id_that_is_not_a_digest_is_a_failure_of_the_caller() {
    let check = ReplayCheck::default();
    let error = ready(check.check("a-jti", NOW + 60, NOW)).unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::ReplayCheckUnavailable);
    let source = std::error::Error::source(&error).unwrap().to_string();
    assert!(source.contains("digest"), "{source}");
}

#[tokio::test]
async fn the_answer_can_be_awaited_whichever_it_is() {
    let check = ReplayCheck::default();
    check.check(ID, NOW + 60, NOW).await.unwrap();
    let error = check.check(ID, NOW + 60, NOW).await.unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
}

#[test]
fn the_check_is_clone_and_debug_and_its_answer_send_and_static() {
    fn send_static<T: Send + 'static>(_: &T) {}
    let check = ReplayCheck::memory(MemoryReplays::with_capacity(5));
    let answer = check.check(ID, NOW + 60, NOW);
    send_static(&answer);
    assert_eq!(format!("{answer:?}"), "Ready(Ok(()))");
    let debug = format!("{:?}", check.clone());
    assert!(debug.contains("MemoryReplays"), "{debug}");
    assert!(debug.contains("capacity: 5"), "{debug}");
    assert!(debug.contains("timeout: 100ms"), "{debug}");
    assert!(debug.contains("fail_open: false"), "{debug}");
    assert!(!debug.contains(ID), "{debug}");
}

/// With the feature: stores asked in a future, their timeout, and the logs.
#[cfg(feature = "replay-store")]
mod timed {
    use std::future::pending;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Instant;

    use super::*;
    use crate::test_helpers::Logs;

    /// A store that is up (a memory store asked in a future), down (every
    /// call fails with "connection refused") or hanging (no call ever
    /// answers), as the test switches it. It counts the calls it was asked.
    struct Switch {
        memory: MemoryReplays,
        down: AtomicBool,
        hang: bool,
        calls: AtomicUsize,
    }

    impl Switch {
        fn new(down: bool, hang: bool) -> Arc<Self> {
            Arc::new(Self {
                memory: MemoryReplays::new().clock(|| NOW),
                down: AtomicBool::new(down),
                hang,
                calls: AtomicUsize::new(0),
            })
        }
    }

    impl ReplayStore for Switch {
        fn first_use<'a>(&'a self, id: &'a str, expires_at: u64) -> ReplayFuture<'a> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                if self.hang {
                    pending::<()>().await;
                }
                if self.down.load(Ordering::SeqCst) {
                    return Err("connection refused".into());
                }
                // Not ready at once, as a network store.
                tokio::task::yield_now().await;
                self.memory.first_use(id, expires_at).await
            })
        }
    }

    /// The answer of a check that must wait, within 5 s.
    async fn waited(answer: ReplayAnswer) -> Result<(), AuthError> {
        let ReplayAnswer::Waiting(waiting) = answer else {
            panic!("a store other than memory is asked in a future");
        };
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("bounded by the check's timeout")
    }

    #[tokio::test]
    async fn a_memory_store_given_to_new_is_still_asked_in_place() {
        let store = MemoryReplays::new();
        let check = ReplayCheck::new(store.clone());
        ready(check.check(ID, NOW + 60, NOW)).unwrap();
        // The same entries: the handle given, not a copy.
        assert_eq!(store.first_use_now(ID, NOW + 60, NOW), Ok(false));

        // Behind an Arc it is just a store, asked in a future.
        let shared: Arc<dyn ReplayStore> = Arc::new(MemoryReplays::new().clock(|| NOW));
        let check = ReplayCheck::from_arc(shared);
        waited(check.check(ID, NOW + 60, NOW)).await.unwrap();
        let error = waited(check.check(ID, NOW + 60, NOW)).await.unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
    }

    #[tokio::test]
    async fn a_store_in_a_future_passes_first_uses_and_refuses_replays() {
        let check = ReplayCheck::from_arc(Switch::new(false, false));
        waited(check.check(ID, NOW + 60, NOW)).await.unwrap();
        let error = waited(check.check(ID, NOW + 60, NOW)).await.unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
        // An id no store would take is refused without asking.
        let store = Switch::new(false, false);
        let check = ReplayCheck::from_arc(store.clone());
        let error = ready(check.check("a-jti", NOW + 60, NOW)).unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::ReplayCheckUnavailable);
        assert_eq!(store.calls.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_failing_store_fails_closed_or_open_and_is_logged_once() {
        let (logs, _guard) = Logs::capture();
        let store = Switch::new(true, false);
        let closed = ReplayCheck::from_arc(store.clone());
        for _ in 0..5 {
            let error = waited(closed.check(ID, NOW + 60, NOW)).await.unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::ReplayCheckUnavailable);
            assert_eq!(error.description(), "DPoP replay store unavailable");
            let source = std::error::Error::source(&error).unwrap().to_string();
            assert_eq!(source, "connection refused");
        }
        let logged = logs.take();
        assert_eq!(logged.matches("WARN").count(), 1, "{logged}");
        assert!(
            logged.contains("DPoP replay check failed; request refused (fail closed)"),
            "{logged}"
        );
        assert!(logged.contains("connection refused"), "{logged}");
        assert!(!logged.contains(ID), "no id in logs: {logged}");

        let open = closed.clone().fail_open(true);
        waited(open.check(ID, NOW + 60, NOW)).await.unwrap();
        let logged = logs.take();
        assert!(
            logged.contains("DPoP replay check failed; proof let through (fail open)"),
            "{logged}"
        );

        // Back up: the end of the outage is told once, with its count.
        store.down.store(false, Ordering::SeqCst);
        waited(closed.check(ID, NOW + 60, NOW)).await.unwrap();
        waited(closed.check(OTHER, NOW + 60, NOW)).await.unwrap();
        let logged = logs.take();
        let again: Vec<_> = logged
            .lines()
            .filter(|line| line.contains("DPoP replay store answers again"))
            .collect();
        assert_eq!(again.len(), 1, "{logged}");
        assert!(again[0].contains("INFO"), "{logged}");
        assert!(again[0].contains("failed_checks=5"), "{logged}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_hanging_store_times_out() {
        let (logs, _guard) = Logs::capture();
        let store = Switch::new(false, true);
        let check = ReplayCheck::from_arc(store.clone()).timeout(Duration::from_millis(50));
        let start = Instant::now();
        let error = waited(check.check(ID, NOW + 60, NOW)).await.unwrap_err();
        let took = start.elapsed();
        assert_eq!(error.kind(), AuthErrorKind::ReplayCheckUnavailable);
        assert_eq!(error.description(), "DPoP replay check timed out");
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert_eq!(store.calls.load(Ordering::Relaxed), 1);
        assert!(logs.text().contains("timed out"), "{}", logs.text());

        waited(check.fail_open(true).check(ID, NOW + 60, NOW))
            .await
            .unwrap();
    }

    #[test]
    fn outside_a_tokio_runtime_the_store_is_awaited_without_a_timer() {
        let check = ReplayCheck::from_arc(Switch::new(false, false));
        let mut answer = std::pin::pin!(check.check(ID, NOW + 60, NOW).into_future());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        // The store yields once: a few polls, no runtime.
        let answer = (0..10)
            .find_map(|_| match answer.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(answer) => Some(answer),
                std::task::Poll::Pending => None,
            })
            .expect("answered without a runtime");
        answer.unwrap();
    }

    #[test]
    fn a_full_memory_store_is_logged_once_per_outage() {
        let (logs, _guard) = Logs::capture();
        let check = ReplayCheck::memory(MemoryReplays::with_capacity(1));
        ready(check.check(ID, NOW + 60, NOW)).unwrap();
        for _ in 0..100 {
            ready(check.check(OTHER, NOW + 60, NOW)).unwrap_err();
        }
        let logged = logs.take();
        assert_eq!(logged.matches("WARN").count(), 1, "{logged}");
        assert!(logged.contains("replay store full"), "{logged}");
        // A replay is an answer: the store is up again.
        ready(check.check(ID, NOW + 60, NOW)).unwrap_err();
        let logged = logs.take();
        assert!(
            logged.contains("DPoP replay store answers again"),
            "{logged}"
        );
        assert!(logged.contains("failed_checks=100"), "{logged}");
    }
}
