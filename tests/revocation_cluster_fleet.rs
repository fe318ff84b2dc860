//! The Redis revocation store on a real Redis Cluster of three masters
//! (`common::redis_cluster`), through `RedisConnection::cluster`: a token
//! revoked through one instance is refused by another (with and without the
//! local mirror), every key of one token lives on one slot, and checks
//! recover after the master holding a token's slot is killed and restarted.
//! One cluster for the whole binary: the phases run in order in one test.
//! (tests/revocation_cluster.rs, with a harness of its own, restarts a master
//! with an append-only file, whose revocations survive; here the shared
//! harness restarts it without persistence, as a crashed cache node.)

#![cfg(feature = "redis-cluster")]

mod common;

use std::time::{Duration, Instant, UNIX_EPOCH};

use common::redis_cluster::RedisCluster;
use tower_jwt_auth::{
    AuthErrorKind, RedisConnection, RedisRevocations, Revocation, RevocationStore, TokenInfo,
};

/// The longest any wait in these tests may take.
const BOUND: Duration = Duration::from_secs(30);

fn now() -> u64 {
    UNIX_EPOCH.elapsed().expect("clock after 1970").as_secs()
}

fn token(subject: &str, jti: &str) -> TokenInfo {
    TokenInfo::new()
        .with_issuer("https://id.example.com")
        .with_subject(subject)
        .with_jti(jti)
        .with_issued_at(now() - 10)
        .with_expires_at(now() + 600)
}

async fn connect(cluster: &RedisCluster, mirror: bool) -> RedisConnection {
    let mut builder = RedisConnection::cluster(cluster.urls());
    if mirror {
        builder = builder.local_mirror(1_000);
    }
    let connection = tokio::time::timeout(BOUND, builder.connect())
        .await
        .expect("connect in time")
        .expect("connect to the cluster");
    assert!(connection.is_cluster());
    connection
}

/// Polls `check` every 50 ms until it gives `want`, for at most [`BOUND`].
async fn eventually(what: &str, revocation: &Revocation, token: &TokenInfo, revoked: bool) {
    let start = Instant::now();
    loop {
        let answer = tokio::time::timeout(BOUND, revocation.check(token.clone()))
            .await
            .expect("bounded by the check's timeout");
        match answer {
            Ok(()) if !revoked => return,
            Err(error) if revoked && error.kind() == AuthErrorKind::Revoked => return,
            _ => {}
        }
        assert!(start.elapsed() < BOUND, "not within {BOUND:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn revocations_on_a_cluster_are_shared_on_one_slot_and_survive_a_master_restart() {
    let mut cluster = RedisCluster::start().await;
    let a = RedisRevocations::new(connect(&cluster, false).await);
    let b_connection = connect(&cluster, true).await;
    let b = Revocation::new(RedisRevocations::new(b_connection.clone()));

    // Revoked through A, refused by B (whose mirror may have said "not
    // revoked" a moment ago: the invalidation or the bound drops that).
    let ada = token("ada", "5f0c6d1e");
    b.check(ada.clone()).await.unwrap();
    a.revoke(&ada).await.unwrap();
    eventually("B sees A's revocation", &b, &ada, true).await;
    assert!(b_connection.mirror_stats().is_some());
    // Only that token.
    b.check(token("ada", "other")).await.unwrap();

    // Logout everywhere for another subject, through A.
    let grace = token("grace", "a1b2c3");
    b.check(grace.clone()).await.unwrap();
    a.revoke_subject(
        Some("https://id.example.com"),
        "grace",
        now() + 1,
        now() + 600,
    )
    .await
    .unwrap();
    eventually("B sees the subject revocation", &b, &grace, true).await;

    // Every key of one token (its jti key and its subject key) on one slot,
    // and different subjects spread by their tags.
    a.revoke(&grace).await.unwrap();
    let keys = cluster.keys();
    let grace_keys: Vec<&String> = keys.iter().filter(|key| key.contains("grace")).collect();
    assert_eq!(
        grace_keys.len(),
        2,
        "the jti and sub keys of grace: {keys:?}"
    );
    assert!(
        grace_keys.iter().any(|key| key.contains("jti:")),
        "{keys:?}"
    );
    assert!(
        grace_keys.iter().any(|key| key.ends_with("sub")),
        "{keys:?}"
    );
    let slots: Vec<u16> = grace_keys.iter().map(|key| cluster.keyslot(key)).collect();
    assert_eq!(slots[0], slots[1], "{grace_keys:?} on slots {slots:?}");
    let grace_master = cluster.master_of_slot(slots[0]);
    // A check reads both keys in one MGET, which a cluster refuses across
    // slots: it answered above, and answers for a token never revoked.
    b.check(token("grace", "new")).await.unwrap_err();
    b.check(token("linus", "new")).await.unwrap();

    // The master of ada's slot dies and comes back empty (no persistence,
    // no replica): checks fail while it is down, then answer again by
    // themselves, on the same connections.
    let ada_key = keys
        .iter()
        .find(|key| key.contains("ada"))
        .expect("ada's key");
    let master = cluster.master_of_slot(cluster.keyslot(ada_key));
    cluster.kill(master);
    let failed = tokio::time::timeout(BOUND, b.check(ada.clone()))
        .await
        .expect("bounded");
    assert!(
        failed.is_err(),
        "a check against a dead master fails closed (or still sees the revocation)"
    );
    cluster.restart_master(master).await;
    // Its revocations were lost with it: the token is not revoked any more.
    eventually("checks answer after the restart", &b, &ada, false).await;
    // And revocation works again through both connections.
    a.revoke(&ada).await.unwrap();
    eventually("B sees a revocation after the restart", &b, &ada, true).await;
    // The other masters' revocations were never lost.
    if grace_master != master {
        eventually("grace still revoked", &b, &grace, true).await;
    }
    b.check(token("linus", "x")).await.unwrap();
}
