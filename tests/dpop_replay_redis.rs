//! The Redis DPoP replay store against a real `redis-server`, one per test
//! (see `common/redis.rs`): a proof id shared by a fleet, expiry, what a key
//! holds, a Redis that dies and comes back, a Redis too slow to answer.

#![cfg(feature = "redis")]

mod common;

use std::time::{Duration, Instant, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::logs::Logs;
use common::redis::RedisServer;
use tower_jwt_auth::{
    AuthError, AuthErrorKind, DEFAULT_KEY_PREFIX, RedisReplays, ReplayAnswer, ReplayCheck,
    ReplayStore,
};

/// The longest any wait in these tests may take.
const BOUND: Duration = Duration::from_secs(15);

/// Proof ids as the DPoP check derives them: base64url SHA-256 digests.
const ID: &str = "hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg";
const OTHER: &str = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";

fn now() -> u64 {
    UNIX_EPOCH.elapsed().expect("clock after 1970").as_secs()
}

async fn connect(server: &RedisServer) -> RedisReplays {
    tokio::time::timeout(BOUND, RedisReplays::connect(server.url()))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// The key of `id` under the default prefix, as the store documents it.
fn key(id: &str) -> String {
    format!("{DEFAULT_KEY_PREFIX}dpop:{id}")
}

/// The check's answer, within [`BOUND`]; it must wait (Redis is asked in a future).
async fn ask(check: &ReplayCheck, id: &str, expires_at: u64) -> Result<(), AuthError> {
    let ReplayAnswer::Waiting(waiting) = check.check(id, expires_at, now()) else {
        panic!("Redis is asked in a future");
    };
    tokio::time::timeout(BOUND, waiting)
        .await
        .expect("the check has its own timeout")
}

#[tokio::test]
async fn a_proof_used_through_one_server_is_refused_by_another() {
    let redis = RedisServer::start().await;
    // Two servers of the fleet: two stores, two connection managers.
    let a = ReplayCheck::new(connect(&redis).await);
    let b = ReplayCheck::new(connect(&redis).await);
    let expires = now() + 300;

    ask(&a, ID, expires).await.unwrap();
    let error = ask(&b, ID, expires).await.unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
    assert_eq!(error.status(), http::StatusCode::UNAUTHORIZED);
    assert_eq!(error.description(), "DPoP proof replayed");
    // And by the first server again.
    let error = ask(&a, ID, expires).await.unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
    // Another proof is its own.
    ask(&b, OTHER, expires).await.unwrap();
    ask(&a, OTHER, expires).await.unwrap_err();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_racing_with_one_proof_get_one_first_use() {
    let redis = RedisServer::start().await;
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(connect(&redis).await);
    }
    let expires = now() + 300;
    let ids: Vec<String> = (0..20u8).map(|n| URL_SAFE_NO_PAD.encode([n; 32])).collect();
    for id in &ids {
        // Each store asked twice at once: 8 concurrent first uses.
        let tasks: Vec<_> = stores
            .iter()
            .chain(stores.iter())
            .map(|store| {
                let (store, id) = (store.clone(), id.clone());
                tokio::spawn(async move { store.first_use(&id, expires).await.unwrap() })
            })
            .collect();
        let mut firsts = 0;
        for task in tasks {
            firsts += usize::from(task.await.unwrap());
        }
        assert_eq!(firsts, 1, "{id}");
    }
    assert_eq!(redis.keys().await.len(), ids.len());
}

#[tokio::test]
async fn keys_hold_the_digest_only_and_expire_with_the_proof() {
    let redis = RedisServer::start().await;
    let store = connect(&redis).await;
    assert!(store.first_use(ID, now() + 3).await.unwrap());

    // The key is the prefix, the tag and the digest; its value a bare `1`.
    assert_eq!(redis.keys().await, [key(ID)]);
    assert_eq!(redis.command(&["GET", &key(ID)]).await.unwrap(), "1");
    let ttl = redis.ttl(&key(ID)).await;
    assert!((1..=3).contains(&ttl), "TTL {ttl}");

    // At its expiry Redis drops it, and the id is new again.
    common::eventually(BOUND, "the key expires", || async {
        redis.command(&["EXISTS", &key(ID)]).await.unwrap() == "0"
    })
    .await;
    assert!(store.first_use(ID, now() + 600).await.unwrap());
    let ttl = redis.ttl(&key(ID)).await;
    assert!((595..=600).contains(&ttl), "TTL {ttl}");

    // Anything but a digest is refused before it reaches a key.
    for id in ["a-jti", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln", &format!("{ID}A")] {
        let error = store.first_use(id, now() + 60).await.unwrap_err();
        assert!(error.to_string().contains("digest"), "{error}");
    }
    // An expiry already past records nothing.
    assert!(store.first_use(OTHER, now() - 10).await.unwrap());
    assert_eq!(redis.keys().await, [key(ID)]);
    // Nor does an absurd one break the command.
    assert!(store.first_use(OTHER, u64::MAX).await.unwrap());
    assert!(!store.first_use(OTHER, u64::MAX).await.unwrap());
    assert!(redis.ttl(&key(OTHER)).await > 0);
}

#[tokio::test]
async fn prefixes_keep_applications_apart() {
    let redis = RedisServer::start().await;
    let a = connect(&redis).await.prefix("app-a:");
    let b = connect(&redis).await.prefix("app-b:");
    assert!(a.first_use(ID, now() + 60).await.unwrap());
    assert!(b.first_use(ID, now() + 60).await.unwrap());
    assert!(!a.first_use(ID, now() + 60).await.unwrap());
    let mut keys = redis.keys().await;
    keys.sort();
    assert_eq!(
        keys,
        [format!("app-a:dpop:{ID}"), format!("app-b:dpop:{ID}")]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_redis_that_dies_fails_closed_or_open_and_is_found_again() {
    let (logs, _guard) = Logs::capture(tracing::Level::INFO);
    let mut redis = RedisServer::start().await;
    let store = connect(&redis).await;
    let closed = ReplayCheck::new(store.clone()).timeout(Duration::from_millis(300));
    // Another policy over the same store: it counts (and logs) its own outage.
    let open = closed.clone().fail_open(true);
    let expires = now() + 300;
    ask(&closed, ID, expires).await.unwrap();
    assert_eq!(logs.take(), "");

    redis.kill();
    let error = ask(&closed, OTHER, expires).await.unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::ReplayCheckUnavailable);
    assert_eq!(error.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert!(std::error::Error::source(&error).is_some());
    let logged = logs.take();
    assert!(logged.contains("WARN"), "{logged}");
    assert!(
        logged.contains("DPoP replay check failed; request refused (fail closed)"),
        "{logged}"
    );
    // One warning per outage, not per request.
    for _ in 0..3 {
        ask(&closed, OTHER, expires).await.unwrap_err();
    }
    assert_eq!(logs.take(), "");

    // Open: the proof passes unrecorded; even a used one (that is its price).
    ask(&open, OTHER, expires).await.unwrap();
    ask(&open, ID, expires).await.unwrap();
    let logged = logs.take();
    assert!(
        logged.contains("DPoP replay check failed; proof let through (fail open)"),
        "{logged}"
    );
    assert!(!logged.contains(ID), "no id in logs: {logged}");
    assert!(!logged.contains(OTHER), "no id in logs: {logged}");

    // A new, empty Redis on the same port: the manager reconnects by itself.
    redis.restart().await;
    common::eventually(BOUND, "the manager reconnects", || async {
        ask(&closed, OTHER, expires).await.is_ok()
    })
    .await;
    let logged = logs.take();
    let again: Vec<_> = logged
        .lines()
        .filter(|line| line.contains("DPoP replay store answers again"))
        .collect();
    assert_eq!(again.len(), 1, "{logged}");
    assert!(again[0].contains("INFO"), "{logged}");
    let error = ask(&closed, OTHER, expires).await.unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
}

#[tokio::test(flavor = "current_thread")]
async fn a_slow_redis_hits_the_timeout() {
    let (logs, _guard) = Logs::capture(tracing::Level::WARN);
    let redis = RedisServer::start().await;
    let check = ReplayCheck::new(connect(&redis).await).timeout(Duration::from_millis(100));
    ask(&check, ID, now() + 300).await.unwrap();

    // Every client's commands wait 2 s: far longer than the timeout, so a
    // loaded machine cannot blur the two.
    assert_eq!(
        redis.command(&["CLIENT", "PAUSE", "2000"]).await.unwrap(),
        "OK"
    );
    let start = Instant::now();
    let error = ask(&check, OTHER, now() + 300).await.unwrap_err();
    let took = start.elapsed();
    assert_eq!(error.kind(), AuthErrorKind::ReplayCheckUnavailable);
    assert_eq!(error.description(), "DPoP replay check timed out");
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert!(logs.take().contains("timed out"));

    // Open, the same timeout lets the proof through.
    let open = check.clone().fail_open(true);
    let start = Instant::now();
    ask(&open, OTHER, now() + 300).await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(1500));

    // Once the pause is over, the same connection answers again. The SET
    // that timed out may have run meanwhile: `OTHER` is either new or used.
    common::eventually(BOUND, "Redis answers after the pause", || async {
        ask(&check, ID, now() + 300).await.map_err(|e| e.kind())
            == Err(AuthErrorKind::DpopProofReplayed)
    })
    .await;
}
