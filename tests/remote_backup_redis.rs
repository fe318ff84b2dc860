//! A remote JWK Set's backup in a Redis key, against a real `redis-server`
//! (see `common/redis.rs`) and a real JWKS endpoint on 127.0.0.1: written
//! after a fetch, used by a set built while the provider is down, refused
//! when written for another URL or too large, ignored when Redis is down.

#![cfg(all(feature = "remote-jwks", feature = "redis"))]

mod common;

use std::time::Duration;

use common::jwks_server::{JwksServer, jwk_set};
use common::logs::Logs;
use common::redis::RedisServer;
use serde_json::Value;
use tower_jwt_auth::{RedisConnection, RemoteKeyErrorKind, RemoteKeySet, RemoteKeySetBuilder};

const KEY: &str = "test:jwks-backup";
/// The longest any wait in these tests may take.
const BOUND: Duration = Duration::from_secs(15);

async fn connection(redis: &RedisServer) -> RedisConnection {
    tokio::time::timeout(BOUND, RedisConnection::connect(redis.url()))
        .await
        .expect("connect in time")
        .expect("connect")
}

fn builder(jwks: &JwksServer, connection: RedisConnection) -> RemoteKeySetBuilder {
    RemoteKeySet::builder(jwks.url())
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(2))
        .backup_redis(connection, KEY)
}

fn kids(set: &RemoteKeySet) -> Vec<String> {
    set.keys()
        .expect("keys")
        .keys()
        .iter()
        .filter_map(|k| k.kid().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_set_writes_the_key_and_a_start_while_down_uses_it() {
    let (log, _guard) = Logs::capture(tracing::Level::WARN);
    let redis = RedisServer::start().await;
    let jwks = JwksServer::start().await;
    jwks.set_document(jwk_set(&["a", "b"]));
    builder(&jwks, connection(&redis).await)
        .build()
        .await
        .unwrap();

    let record: Value = serde_json::from_str(&redis.command(&["GET", KEY]).await.unwrap()).unwrap();
    assert_eq!(record["origin"]["jwks_uri"], jwks.url());
    assert_eq!(redis.ttl(KEY).await, -1, "the record's time says its age");

    jwks.stop();
    let set = builder(&jwks, connection(&redis).await)
        .build()
        .await
        .unwrap();
    assert_eq!(kids(&set), ["a", "b"]);
    let warnings = log.take();
    assert!(warnings.contains("using the JWK Set backup"), "{warnings}");
    assert!(
        warnings.contains("Redis key test:jwks-backup"),
        "{warnings}"
    );
}

#[tokio::test]
async fn a_record_for_another_url_or_too_large_is_refused() {
    let (log, _guard) = Logs::capture(tracing::Level::WARN);
    let redis = RedisServer::start().await;
    let other = JwksServer::start().await;
    builder(&other, connection(&redis).await)
        .build()
        .await
        .unwrap();

    let jwks = JwksServer::down().await;
    let error = builder(&jwks, connection(&redis).await)
        .build()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::Network, "{error}");
    assert!(log.take().contains("it was written for"));

    let huge = "x".repeat(1024 + 16 * 1024 + 1);
    redis.command(&["SET", KEY, &huge]).await.unwrap();
    let error = builder(&jwks, connection(&redis).await)
        .max_document_size(1024)
        .build()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::Network, "{error}");
    assert!(log.take().contains("larger than the limit"));
}

#[tokio::test]
async fn redis_down_is_like_no_backup() {
    let (log, _guard) = Logs::capture(tracing::Level::WARN);
    let mut redis = RedisServer::start().await;
    let redis_connection = connection(&redis).await;
    redis.kill();

    // The provider is up: the write fails, once, and nothing else changes.
    let jwks = JwksServer::start().await;
    let set = builder(&jwks, redis_connection.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(kids(&set), ["k1"]);
    let warnings = log.take();
    assert!(warnings.contains("cannot write it"), "{warnings}");

    // The provider is down too: the build fails as without a backup.
    jwks.stop();
    let error = builder(&jwks, redis_connection).build().await.unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::Network, "{error}");
    assert!(log.take().contains("cannot read it"));
}
