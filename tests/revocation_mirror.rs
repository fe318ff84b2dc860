//! The local mirror of revocation answers (`RedisConnectionBuilder::local_mirror`)
//! against a real `redis-server`, one per test (see `common/redis.rs`): a
//! check answered locally the second time, a revocation through another
//! connection seen through Redis's invalidation, a Redis that dies or goes
//! silent never leaving a stale "not revoked" beyond the bound, hostile
//! values.

#![cfg(feature = "redis")]

mod common;

use std::time::{Duration, Instant, UNIX_EPOCH};

use common::redis::RedisServer;
use tokio::time::sleep;
use tower_jwt_auth::{
    AuthError, AuthErrorKind, MirrorStats, RedisConnection, RedisReplays, RedisRevocations,
    ReplayStore, Revocation, RevocationStore, TokenInfo,
};

/// The longest any wait in these tests may take.
const BOUND: Duration = Duration::from_secs(15);
/// A staleness bound far longer than any test: an answer that changes within
/// a test changed through an invalidation or a reconnection, not the bound.
const LONG: Duration = Duration::from_secs(600);

fn now() -> u64 {
    UNIX_EPOCH.elapsed().expect("clock after 1970").as_secs()
}

/// A token issued ten seconds ago that expires in ten minutes.
fn token(jti: &str) -> TokenInfo {
    TokenInfo::new()
        .with_issuer("https://id.example.com")
        .with_subject("ada")
        .with_jti(jti)
        .with_issued_at(now() - 10)
        .with_expires_at(now() + 600)
}

/// A connection with a mirror whose staleness bound is `bound`.
async fn mirrored(server: &RedisServer, bound: Duration) -> RedisConnection {
    tokio::time::timeout(
        BOUND,
        RedisConnection::builder(server.url())
            .local_mirror(1000)
            .mirror_staleness_bound(bound)
            .connect(),
    )
    .await
    .expect("connect in time")
    .expect("connect")
}

/// Another server of the fleet: a connection without mirror.
async fn plain(server: &RedisServer) -> RedisRevocations {
    tokio::time::timeout(BOUND, RedisRevocations::connect(server.url()))
        .await
        .expect("connect in time")
        .expect("connect")
}

fn stats(connection: &RedisConnection) -> MirrorStats {
    connection.mirror_stats().expect("a mirror")
}

async fn check(revocation: &Revocation, token: &TokenInfo) -> Result<(), AuthError> {
    tokio::time::timeout(BOUND, revocation.check(token.clone()))
        .await
        .expect("the check has its own timeout")
}

/// How many `MGET`s the server has run.
async fn mgets(server: &RedisServer) -> u64 {
    let info = server
        .command(&["INFO", "commandstats"])
        .await
        .expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_mget:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().expect("a count"))
}

#[tokio::test]
async fn a_second_check_is_answered_locally() {
    let redis = RedisServer::start().await;
    let connection = mirrored(&redis, LONG).await;
    assert_eq!(connection.mirror_staleness_bound(), Some(LONG));
    let revocation = Revocation::new(RedisRevocations::new(connection.clone()));
    let token = token("local");

    check(&revocation, &token).await.unwrap();
    let first = stats(&connection);
    let asked = mgets(&redis).await;
    assert_eq!(asked, 1);
    // "Not revoked" is mirrored too: both keys (the token's and its
    // subject's) come from the mirror, and Redis is not asked.
    for _ in 0..5 {
        check(&revocation, &token).await.unwrap();
    }
    let after = stats(&connection);
    assert_eq!(after.hits - first.hits, 10, "{first:?} {after:?}");
    assert_eq!(after.misses, first.misses, "{first:?} {after:?}");
    assert_eq!(mgets(&redis).await, asked);

    // Another token of the same subject: its own key is asked, its
    // subject's is mirrored.
    check(&revocation, &self::token("other")).await.unwrap();
    let last = stats(&connection);
    assert_eq!(last.hits - after.hits, 1, "{after:?} {last:?}");
    assert_eq!(last.misses - after.misses, 1, "{after:?} {last:?}");

    // Only the revocation check is mirrored: the other stores' commands, and
    // commands of the application's own on the connection, go to Redis.
    let replays = RedisReplays::new(connection.clone());
    let id = "hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg";
    assert!(replays.first_use(id, now() + 60).await.unwrap());
    assert!(!replays.first_use(id, now() + 60).await.unwrap());
    for _ in 0..2 {
        let value: Option<String> = tower_jwt_auth::redis::cmd("GET")
            .arg("tower-jwt-auth:dpop:hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg")
            .query_async(&mut connection.clone())
            .await
            .unwrap();
        assert_eq!(value.as_deref(), Some("1"));
    }
    assert_eq!(stats(&connection), last);

    // Without a mirror, no statistics.
    assert_eq!(plain(&redis).await.connection().mirror_stats(), None);
}

#[tokio::test]
async fn a_revocation_through_another_server_invalidates_the_mirror() {
    let redis = RedisServer::start().await;
    let connection = mirrored(&redis, LONG).await;
    let store = RedisRevocations::new(connection.clone());
    let revocation = Revocation::new(store.clone());
    let elsewhere = plain(&redis).await;

    // By token.
    let token = token("soon-revoked");
    check(&revocation, &token).await.unwrap();
    check(&revocation, &token).await.unwrap();
    let before = stats(&connection);
    assert!(before.hits >= 2, "{before:?}");
    elsewhere.revoke(&token).await.unwrap();
    // The bound is ten minutes: only Redis's invalidation can tell.
    common::eventually(BOUND, "the revocation is seen", || async {
        check(&revocation, &token).await.is_err()
    })
    .await;
    let error = check(&revocation, &token).await.unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::Revoked);
    assert!(stats(&connection).invalidations > before.invalidations);

    // By subject ("log out everywhere").
    let other = self::token("other").with_subject("grace");
    check(&revocation, &other).await.unwrap();
    check(&revocation, &other).await.unwrap();
    elsewhere
        .revoke_subject(Some("https://id.example.com"), "grace", now(), now() + 600)
        .await
        .unwrap();
    common::eventually(BOUND, "the subject revocation is seen", || async {
        check(&revocation, &other).await.is_err()
    })
    .await;

    // And a revocation through the mirrored store itself.
    let own = self::token("own");
    check(&revocation, &own).await.unwrap();
    store.revoke(&own).await.unwrap();
    common::eventually(BOUND, "its own revocation is seen", || async {
        check(&revocation, &own).await.is_err()
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_redis_that_dies_empties_the_mirror() {
    let mut redis = RedisServer::start().await;
    let connection = mirrored(&redis, LONG).await;
    let store = RedisRevocations::new(connection.clone());
    let closed = Revocation::new(store.clone()).timeout(Duration::from_millis(300));
    let token = token("cached");
    check(&closed, &token).await.unwrap();
    check(&closed, &token).await.unwrap();
    assert!(stats(&connection).hits >= 2);

    // Killed: its invalidations are lost with the connection. Once the
    // connection is found lost (at once here: the kernel closes the socket),
    // no answer comes from the mirror: the policy (fail closed) answers.
    redis.kill();
    common::eventually(BOUND, "the lost connection is noticed", || async {
        check(&closed, &token).await.is_err()
    })
    .await;
    let hits = stats(&connection).hits;
    for _ in 0..3 {
        let error = check(&closed, &token).await.unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::RevocationUnavailable);
    }
    assert_eq!(stats(&connection).hits, hits);

    // A new Redis on the same port, in which the token is revoked: the
    // mirror's "not revoked", of the old connection, is never answered again
    // (the bound of ten minutes has not passed).
    redis.restart().await;
    let elsewhere = plain(&redis).await;
    elsewhere.revoke(&token).await.unwrap();
    common::eventually(BOUND, "the connection is back", || async {
        match check(&closed, &token).await {
            Err(error) => error.kind() == AuthErrorKind::Revoked,
            Ok(()) => panic!("a stale answer of the lost connection"),
        }
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_silent_redis_leaves_no_answer_older_than_the_bound() {
    let redis = RedisServer::start().await;
    let bound = Duration::from_millis(500);
    let connection = mirrored(&redis, bound).await;
    let revocation = Revocation::new(RedisRevocations::new(connection.clone()))
        .timeout(Duration::from_millis(100));
    let token = token("partitioned");
    check(&revocation, &token).await.unwrap();
    // Every answer mirrored above was read by a request sent before now.
    let read = Instant::now();

    // Redis goes silent: no answers, no invalidations, no error (CLIENT
    // PAUSE; 10 s is far longer than the rest of the test).
    assert_eq!(
        redis.command(&["CLIENT", "PAUSE", "10000"]).await.unwrap(),
        "OK"
    );
    // Past the bound, the mirror has nothing left: the check asks Redis,
    // which does not answer in time, and the policy (fail closed) answers.
    sleep((read + bound + Duration::from_millis(50)).saturating_duration_since(Instant::now()))
        .await;
    let hits = stats(&connection).hits;
    let error = check(&revocation, &token).await.unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::RevocationUnavailable);
    assert_eq!(stats(&connection).hits, hits);
    let _ = redis.command(&["CLIENT", "UNPAUSE"]).await;
}

#[tokio::test]
async fn hostile_values_are_never_a_stale_acceptance() {
    let redis = RedisServer::start().await;
    let connection = mirrored(&redis, LONG).await;
    let revocation = Revocation::new(RedisRevocations::new(connection.clone()));
    let token = token("hostile");
    check(&revocation, &token).await.unwrap();
    check(&revocation, &token).await.unwrap();

    // A malformed subject entry, written behind the store's back: refused as
    // unavailable (fail closed), whether read from Redis or the mirror.
    let subject = "tower-jwt-auth:sub:22:https://id.example.com3:ada";
    for value in ["x:1", "", "-1:5", "\u{ff}", &"9".repeat(5000)] {
        assert_eq!(redis.command(&["SET", subject, value]).await.unwrap(), "OK");
        common::eventually(BOUND, "the malformed entry is seen", || async {
            matches!(
                check(&revocation, &token).await,
                Err(error) if error.kind() == AuthErrorKind::RevocationUnavailable
            )
        })
        .await;
        let error = check(&revocation, &token).await.unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::RevocationUnavailable);
    }

    // Anything under the token's own key revokes it.
    assert_eq!(redis.command(&["DEL", subject]).await.unwrap(), "1");
    let own = "tower-jwt-auth:jti:22:https://id.example.com7:hostile";
    for value in ["", "0", "\r\n", "not revoked"] {
        assert_eq!(redis.command(&["SET", own, value]).await.unwrap(), "OK");
        common::eventually(BOUND, "the token's entry is seen", || async {
            matches!(
                check(&revocation, &token).await,
                Err(error) if error.kind() == AuthErrorKind::Revoked
            )
        })
        .await;
    }

    assert_eq!(redis.command(&["DEL", own]).await.unwrap(), "1");
    // FLUSHALL invalidates everything: the token is found unrevoked again.
    assert_eq!(redis.command(&["FLUSHALL"]).await.unwrap(), "OK");
    common::eventually(BOUND, "the flush is seen", || async {
        check(&revocation, &token).await.is_ok()
    })
    .await;
}
