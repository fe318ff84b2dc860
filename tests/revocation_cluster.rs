//! The Redis stores on a real Redis Cluster of three masters (no replicas),
//! started by this test on free ports of 127.0.0.1 with `redis-server
//! --cluster-enabled yes` and joined with `redis-cli --cluster create`:
//! revocations by token, digest and subject, the hash tag that keeps a
//! check's keys on one slot, the local mirror, the DPoP replay store, the
//! introspection cache (with `introspection`) and a master restarted with
//! its `nodes.conf`.
//!
//! Needs `redis-server` and `redis-cli` (Debian package `redis-server`), or
//! their paths in `REDIS_SERVER` and `REDIS_CLI` (the harness:
//! `common::redis_cluster`).

#![cfg(feature = "redis-cluster")]

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::redis_cluster::RedisCluster;
use tokio::time::timeout;
use tower_jwt_auth::{
    AuthErrorKind, RedisConnection, RedisReplays, RedisRevocations, ReplayStore, Revocation,
    RevocationStore, TokenInfo,
};

/// The longest any wait in these tests may take (a cluster takes a few
/// seconds to form on a loaded machine).
const BOUND: Duration = Duration::from_secs(30);

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

/// The master that holds `key`'s slot.
fn owner(cluster: &RedisCluster, key: &str) -> usize {
    cluster.master_of_slot(cluster.keyslot(key))
}

async fn connect(cluster: &RedisCluster, mirror: bool) -> RedisConnection {
    let mut builder = RedisConnection::cluster(cluster.urls());
    if mirror {
        builder = builder.local_mirror(1000);
    }
    timeout(BOUND, builder.connect())
        .await
        .expect("connect in time")
        .expect("connect")
}

async fn check(
    revocation: &Revocation,
    token: &TokenInfo,
) -> Result<(), tower_jwt_auth::AuthError> {
    timeout(BOUND, revocation.check(token.clone()))
        .await
        .expect("the check has its own timeout")
}

/// The tagged keys of the token of [`token`] (issuer and subject as tag).
const TAG: &str = "tower-jwt-auth:{22:https://id.example.com3:ada}";

#[tokio::test]
async fn revocations_on_a_cluster_stay_on_one_slot() {
    let cluster = RedisCluster::start().await;
    let one = RedisRevocations::new(connect(&cluster, false).await);
    let mirrored = connect(&cluster, true).await;
    assert!(mirrored.is_cluster());
    let two = RedisRevocations::new(mirrored.clone());
    let checks = Revocation::new(two.clone());

    // By `jti`: the key carries the issuer and subject as its hash tag.
    let token = token("5f0c6d1e");
    check(&checks, &token).await.unwrap();
    check(&checks, &token).await.unwrap();
    assert!(mirrored.mirror_stats().unwrap().hits >= 2);
    one.revoke(&token).await.unwrap();
    common::eventually(
        BOUND,
        "the revocation is seen through the mirror",
        || async { check(&checks, &token).await.is_err() },
    )
    .await;
    let jti_key = format!("{TAG}jti:8:5f0c6d1e");
    let node = owner(&cluster, &jti_key);
    assert_eq!(cluster.cli(node, &["EXISTS", &jti_key]), "1");
    let subject_key = format!("{TAG}sub");
    assert_eq!(cluster.keyslot(&jti_key), cluster.keyslot(&subject_key));
    // Only that token.
    check(&checks, &self::token("other")).await.unwrap();
    // A revocation without the token's `sub` would be written where no check
    // looks: refused, not silently lost.
    let jti_only = TokenInfo::new()
        .with_issuer("https://id.example.com")
        .with_jti("other")
        .with_expires_at(now() + 600);
    let error = one.revoke(&jti_only).await.unwrap_err();
    assert!(error.to_string().contains("`sub`"), "{error}");
    check(&checks, &self::token("other")).await.unwrap();
    // Every key expires with its token.
    let ttl: i64 = cluster.cli(node, &["TTL", &jti_key]).parse().unwrap();
    assert!(0 < ttl && ttl <= 660, "{ttl}");

    // By digest, for a token without `jti`: the same slot as its subject.
    let bare = TokenInfo::new()
        .with_issuer("https://id.example.com")
        .with_subject("ada")
        .with_issued_at(now() - 10)
        .with_expires_at(now() + 600)
        .with_digest_of("a.b.c");
    check(&checks, &bare).await.unwrap();
    one.revoke(&bare).await.unwrap();
    common::eventually(BOUND, "the digest revocation is seen", || async {
        check(&checks, &bare).await.is_err()
    })
    .await;
    let digest = bare.token_digest().unwrap();
    assert_eq!(
        cluster.keyslot(&format!("{TAG}sha256:{digest}")),
        cluster.keyslot(&subject_key)
    );

    // By subject, through the Lua script (its key named in KEYS).
    let grace = self::token("g1").with_subject("grace");
    check(&checks, &grace).await.unwrap();
    one.revoke_subject(Some("https://id.example.com"), "grace", now(), now() + 600)
        .await
        .unwrap();
    common::eventually(BOUND, "the subject revocation is seen", || async {
        check(&checks, &grace).await.is_err()
    })
    .await;
    let later = self::token("g2")
        .with_subject("grace")
        .with_issued_at(now() + 1);
    check(&checks, &later).await.unwrap();

    // Tokens of many subjects spread over the three masters.
    let mut owners = std::collections::HashSet::new();
    for i in 0..30 {
        let token = self::token("x").with_subject(format!("user-{i}"));
        one.revoke(&token).await.unwrap();
        let key = format!(
            "tower-jwt-auth:{{22:https://id.example.com{}:user-{i}}}jti:1:x",
            format!("user-{i}").len()
        );
        owners.insert(owner(&cluster, &key));
        assert!(two.is_revoked(&token).await.unwrap());
    }
    assert_eq!(owners.len(), 3, "{owners:?}");

    // The DPoP replay store: one key per command.
    let replays = RedisReplays::new(mirrored.clone());
    let id = "hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg";
    assert!(replays.first_use(id, now() + 60).await.unwrap());
    assert!(!replays.first_use(id, now() + 60).await.unwrap());
}

#[tokio::test]
async fn a_master_restarted_with_its_nodes_conf_serves_again() {
    let mut cluster = RedisCluster::start_persistent().await;
    let connection = connect(&cluster, true).await;
    let store = RedisRevocations::new(connection.clone());
    let closed = Revocation::new(store.clone()).timeout(Duration::from_millis(300));
    let revoked = token("revoked");
    let fine = token("fine");
    store.revoke(&revoked).await.unwrap();
    check(&closed, &fine).await.unwrap();
    assert_eq!(
        check(&closed, &revoked).await.unwrap_err().kind(),
        AuthErrorKind::Revoked
    );

    // Kill the master of the subject's slot: its checks fail closed, never
    // a stale "not revoked" of the mirror.
    let owner = owner(&cluster, &format!("{TAG}jti:7:revoked"));
    cluster.kill(owner);
    common::eventually(BOUND, "the lost master is noticed", || async {
        match check(&closed, &fine).await {
            Ok(()) => false,
            Err(error) => {
                assert_eq!(error.kind(), AuthErrorKind::RevocationUnavailable);
                true
            }
        }
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            check(&closed, &fine).await.unwrap_err().kind(),
            AuthErrorKind::RevocationUnavailable
        );
    }

    // Restarted on its port with its nodes.conf and its append-only file:
    // it takes its slots back, the revocation is still there, checks recover.
    cluster.restart_master(owner).await;
    common::eventually(BOUND, "checks recover", || async {
        check(&closed, &fine).await.is_ok()
    })
    .await;
    assert_eq!(
        check(&closed, &revoked).await.unwrap_err().kind(),
        AuthErrorKind::Revoked
    );
}

/// The introspection cache on the cluster: its lock and answer keys share
/// the digest as hash tag, so its pipelines run on one node, and a fleet of
/// two instances introspects a token once.
#[cfg(feature = "introspection")]
mod introspection {
    use axum::routing::get;
    use axum::{Extension, Router};
    use http::StatusCode;
    use serde_json::{Value, json};
    use tower_jwt_auth::{Claims, Introspection, JwtAuthLayer, RedisIntrospectionCache};

    use super::common::introspection_endpoint::{Hostile, json_answer, router};
    use super::common::{Server, send_bearer, serve_axum};
    use super::*;

    async fn instance(cluster: &RedisCluster, endpoint: std::net::SocketAddr) -> Server {
        let shared = RedisIntrospectionCache::new(connect(cluster, false).await);
        let introspection = Introspection::builder(format!("http://{endpoint}/introspect"))
            .client_secret_basic("rs", "s3cret")
            .timeout(Duration::from_secs(2))
            .shared_cache(shared)
            .build()
            .expect("introspection");
        let layer = JwtAuthLayer::<Value>::builder()
            .introspection(introspection)
            .issuer("https://as.test")
            .audience("https://api.test")
            .build()
            .expect("layer");
        let me =
            |Extension(Claims(claims)): Extension<Claims<Value>>| async move { axum::Json(claims) };
        serve_axum(Router::new().route("/me", get(me)).layer(layer)).await
    }

    #[tokio::test]
    async fn a_fleet_on_a_cluster_introspects_a_token_once() {
        let cluster = RedisCluster::start().await;
        let state = Hostile::default();
        let endpoint = serve_axum(router(state.clone())).await;
        let a = instance(&cluster, endpoint.addr).await;
        let b = instance(&cluster, endpoint.addr).await;

        for name in ["one", "two", "three", "four"] {
            let token = format!("{name}-{}-{}", std::process::id(), now());
            state.answer(
                &token,
                json_answer(json!({
                    "active": true, "iss": "https://as.test", "aud": "https://api.test",
                    "sub": "ada", "exp": now() + 600,
                })),
            );
            for server in [&a, &b, &b, &a] {
                let reply = timeout(BOUND, send_bearer("GET", &server.url("/me"), &token))
                    .await
                    .expect("an answer in time");
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
            }
            assert_eq!(
                state.requests_for(&token),
                1,
                "one introspection for the fleet"
            );
        }
    }
}
