//! Unit tests of the crate-internal parts (`snapshot`,
//! `refresh_for_unknown_key`, the background task's end), against the same
//! JWK Set endpoint as the integration tests.

#[path = "../../tests/common/jwks_server.rs"]
#[allow(unreachable_pub)]
mod jwks_server;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use jwks_server::JwksServer;

use super::RemoteKeySet;
use super::state::lock;

/// Every test ends well within this.
const BOUND: Duration = Duration::from_secs(5);

fn kids(set: &RemoteKeySet) -> Vec<String> {
    let snapshot = set.snapshot().expect("keys");
    snapshot
        .keys
        .keys()
        .iter()
        .filter_map(|k| k.kid().map(str::to_owned))
        .collect()
}

#[test]
fn the_types_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<RemoteKeySet>();
    send_sync::<super::RemoteKeySetBuilder>();
    send_sync::<super::RemoteKeyError>();
    send_sync::<super::AuthorizationServerMetadata>();
    send_sync::<super::MetadataDiscovery>();
    send_sync::<super::state::Snapshot>();
}

#[tokio::test]
async fn snapshot_is_shared_and_cheap() {
    let server = JwksServer::start().await;
    let set = RemoteKeySet::builder(server.url()).build().await.unwrap();
    let a = set.snapshot().unwrap();
    let b = set.clone().snapshot().unwrap();
    assert!(Arc::ptr_eq(&a, &b), "one stored set, shared");
    assert_eq!(a.generation, 1);
    assert_eq!(kids(&set), ["k1"]);
}

#[tokio::test]
async fn an_unknown_kid_refetches_at_once_until_its_budget_is_spent() {
    let server = JwksServer::start().await;
    let set = RemoteKeySet::builder(server.url())
        .unknown_kid_interval(Duration::from_millis(500))
        .unknown_kid_burst(2)
        .build()
        .await
        .unwrap();
    // A key published right after the first fetch: the first fetch spent
    // nothing of the budget, so the first token naming it fetches at once.
    server.set_kids(&["k1", "k2"]);
    tokio::time::timeout(BOUND, set.refresh_for_unknown_key())
        .await
        .unwrap();
    assert_eq!(server.fetches(), 2);
    assert_eq!(kids(&set), ["k1", "k2"]);
    assert_eq!(set.snapshot().unwrap().generation, 2);

    // The burst's second fetch, then the budget is spent: resolves at once.
    set.refresh_for_unknown_key().await;
    assert_eq!(server.fetches(), 3);
    tokio::time::timeout(Duration::from_millis(100), set.refresh_for_unknown_key())
        .await
        .expect("resolves at once");
    assert_eq!(server.fetches(), 3);

    // One interval later, one fetch is earned back.
    tokio::time::sleep(Duration::from_millis(550)).await;
    server.set_kids(&["k2", "k3"]);
    tokio::time::timeout(BOUND, set.refresh_for_unknown_key())
        .await
        .unwrap();
    assert_eq!(server.fetches(), 4);
    assert_eq!(kids(&set), ["k2", "k3"]);
}

#[tokio::test]
async fn a_storm_of_unknown_kids_shares_one_fetch_and_then_spends_nothing() {
    let server = JwksServer::start().await;
    let set = RemoteKeySet::builder(server.url())
        .unknown_kid_interval(Duration::from_secs(60))
        .unknown_kid_burst(1)
        .build()
        .await
        .unwrap();
    assert_eq!(server.fetches(), 1);
    server.set_kids(&["k1", "k2"]);
    // Slow enough that every caller arrives while the fetch is in flight.
    server.set_delay(Duration::from_millis(100));

    let storm = || join_all((0..1000).map(|_| set.refresh_for_unknown_key()));
    tokio::time::timeout(BOUND, storm()).await.unwrap();
    assert_eq!(server.fetches(), 2, "exactly one fetch for 1000 callers");
    assert_eq!(kids(&set), ["k1", "k2"]);

    // The budget is spent: no fetch at all, and no waiting.
    tokio::time::timeout(Duration::from_millis(100), storm())
        .await
        .expect("resolves at once");
    assert_eq!(server.fetches(), 2);
    // The other fetches never spend it, nor are they refused by it.
    set.refresh().await.unwrap();
    assert_eq!(server.fetches(), 3);
}

#[test]
fn the_storm_is_one_fetch_on_a_multi_threaded_runtime_too() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = JwksServer::start().await;
        let set = RemoteKeySet::builder(server.url())
            .unknown_kid_interval(Duration::from_secs(1))
            .build()
            .await
            .unwrap();
        server.set_delay(Duration::from_millis(100));
        let tasks: Vec<_> = (0..1000)
            .map(|_| tokio::spawn(set.refresh_for_unknown_key()))
            .collect();
        for task in tasks {
            tokio::time::timeout(BOUND, task).await.unwrap().unwrap();
        }
        assert_eq!(server.fetches(), 2, "exactly one fetch for 1000 tasks");
    });
}

#[tokio::test]
async fn waiting_for_keys_is_bounded_by_the_timeout() {
    let server = JwksServer::start().await;
    server.set_delay(Duration::from_secs(30));
    let set = RemoteKeySet::builder(server.url())
        .fail_fast(false)
        .timeout(Duration::from_millis(200))
        .unknown_kid_interval(Duration::ZERO)
        .build()
        .await
        .unwrap();
    assert!(set.snapshot().is_none(), "no keys before the first fetch");
    let started = tokio::time::Instant::now();
    tokio::time::timeout(BOUND, set.refresh_for_unknown_key())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(set.snapshot().is_none());
}

#[tokio::test]
async fn the_background_task_ends_with_the_last_clone() {
    let server = JwksServer::start().await;
    let set = RemoteKeySet::builder(server.url()).build().await.unwrap();
    let clone = set.clone();
    let state = Arc::downgrade(&set.state);
    let task = lock(&set.state.background)
        .clone()
        .expect("background task");
    drop(set);
    assert!(!task.is_finished(), "a clone is alive");
    drop(clone);
    assert!(state.upgrade().is_none(), "nothing else holds the state");
    for _ in 0..100 {
        if task.is_finished() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the background task still runs");
}

#[tokio::test]
async fn with_no_keys_yet_callers_wait_for_the_first_fetch() {
    let server = JwksServer::start().await;
    server.set_delay(Duration::from_millis(200));
    let set = RemoteKeySet::builder(server.url())
        .fail_fast(false)
        .build()
        .await
        .unwrap();
    assert!(set.snapshot().is_none());
    // The background task's first fetch and these callers share one fetch.
    tokio::time::timeout(
        BOUND,
        join_all((0..10).map(|_| set.refresh_for_unknown_key())),
    )
    .await
    .unwrap();
    assert_eq!(kids(&set), ["k1"]);
    tokio::task::yield_now().await;
    assert_eq!(server.fetches(), 1);
}
