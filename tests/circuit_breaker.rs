//! The circuit breaker of the revocation check (`CircuitBreaker`) against a
//! real `redis-server` frozen with SIGSTOP (a hung store: connections open,
//! nothing answered), through the layer on a real axum server: after the
//! failures in a row that open it, requests are answered without asking the
//! store (counted by a wrapper around the Redis store), and once Redis is
//! thawed a probe closes it. The DPoP replay check's breaker likewise, with
//! the Redis replay store.

#![cfg(feature = "redis")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::redis::RedisServer;
use common::{Server, send_bearer, serve_axum};
use http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tower_jwt_auth::{
    AuthErrorKind, CircuitBreaker, Claims, JwtAuthLayer, Key, RedisConnection, RedisReplays,
    RedisRevocations, ReplayCheck, ReplayFuture, ReplayStore, Revocation, RevocationFuture,
    RevocationStore, TokenInfo, TokenIssuer,
};

const SECRET: &[u8] = b"circuit breaker test secret, 32 b";
const TIMEOUT: Duration = Duration::from_millis(100);
const COOL_DOWN: Duration = Duration::from_secs(1);
/// The longest any wait in these tests may take.
const BOUND: Duration = Duration::from_secs(20);

/// A store that counts the checks it is asked, before the Redis store.
struct Counting {
    inner: RedisRevocations,
    checks: AtomicUsize,
}

impl RevocationStore for Counting {
    fn is_revoked<'a>(&'a self, token: &'a TokenInfo) -> RevocationFuture<'a, bool> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        self.inner.is_revoked(token)
    }

    fn revoke<'a>(&'a self, token: &'a TokenInfo) -> RevocationFuture<'a, ()> {
        self.inner.revoke(token)
    }

    fn revoke_subject<'a>(
        &'a self,
        issuer: Option<&'a str>,
        subject: &'a str,
        issued_before: u64,
        expires_at: u64,
    ) -> RevocationFuture<'a, ()> {
        self.inner
            .revoke_subject(issuer, subject, issued_before, expires_at)
    }
}

/// The most probes an open breaker lets through in `elapsed`: one per
/// cool-down begun (a loaded machine may take more than one for the loop).
fn probes_allowed(elapsed: Duration) -> usize {
    1 + (elapsed.as_millis() / COOL_DOWN.as_millis()) as usize
}

async fn app(revocation: Revocation) -> Server {
    let layer = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .revocation(revocation)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/me",
            get(|Extension(Claims(c)): Extension<Claims<Value>>| async move {
                c["sub"].to_string()
            }),
        )
        .layer(layer);
    serve_axum(app).await
}

/// The status and `error_description` of a request to `/me`.
async fn me(server: &Server, token: &str) -> (StatusCode, String) {
    let reply = send_bearer("GET", &server.url("/me"), token).await;
    let description = if reply.status == StatusCode::OK {
        String::new()
    } else {
        reply.json()["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    (reply.status, description)
}

#[tokio::test]
async fn a_frozen_redis_opens_the_breaker_and_a_probe_closes_it_once_thawed() {
    let redis = RedisServer::start().await;
    let store = Arc::new(Counting {
        inner: tokio::time::timeout(BOUND, RedisRevocations::connect(redis.url()))
            .await
            .expect("connect in time")
            .expect("connect"),
        checks: AtomicUsize::new(0),
    });
    let revocation = Revocation::from_arc(store.clone())
        .timeout(TIMEOUT)
        .circuit_breaker(CircuitBreaker::new(5, COOL_DOWN));
    let server = app(revocation).await;
    let checks = || store.checks.load(Ordering::SeqCst);
    let token = TokenIssuer::hmac(SECRET)
        .jti(true)
        .build()
        .unwrap()
        .issue(&json!({ "sub": "ada" }))
        .unwrap();
    assert_eq!(me(&server, &token).await.0, StatusCode::OK);
    assert_eq!(checks(), 1);

    redis.pause();
    // Five timeouts in a row, each asking the frozen store...
    for _ in 0..5 {
        assert_eq!(
            me(&server, &token).await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "revocation check timed out".into()
            )
        );
    }
    assert_eq!(checks(), 6);
    // ...then the breaker is open: refused without asking it. (Far fewer
    // than one cool-down's worth of requests on any machine: no probe yet.)
    let mut refused = 0;
    let start = std::time::Instant::now();
    for _ in 0..20 {
        let (status, description) = me(&server, &token).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        if description == "revocation store circuit open" {
            refused += 1;
        } else {
            // A loaded machine took a whole cool-down: this was the probe.
            assert_eq!(description, "revocation check timed out");
        }
    }
    let probes = checks() - 6;
    assert_eq!(refused + probes, 20, "every other request answered at once");
    assert!(
        probes <= probes_allowed(start.elapsed()),
        "{probes} probes in {:?}",
        start.elapsed()
    );

    redis.resume();
    // Polled, bounded: within a cool-down (and a probe) it answers again.
    let start = std::time::Instant::now();
    loop {
        let (status, _) = me(&server, &token).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(start.elapsed() < BOUND, "not closed within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Closed: every check asks the store again.
    let before = checks();
    for _ in 0..5 {
        assert_eq!(me(&server, &token).await.0, StatusCode::OK);
    }
    assert_eq!(checks(), before + 5);
}

#[tokio::test]
async fn a_disabled_breaker_asks_a_frozen_redis_every_time() {
    let redis = RedisServer::start().await;
    let store = Arc::new(Counting {
        inner: tokio::time::timeout(BOUND, RedisRevocations::connect(redis.url()))
            .await
            .expect("connect in time")
            .expect("connect"),
        checks: AtomicUsize::new(0),
    });
    let revocation = Revocation::from_arc(store.clone())
        .timeout(TIMEOUT)
        .circuit_breaker(CircuitBreaker::disabled());
    let server = app(revocation).await;
    let token = TokenIssuer::hmac(SECRET)
        .jti(true)
        .build()
        .unwrap()
        .issue(&json!({ "sub": "ada" }))
        .unwrap();
    redis.pause();
    for _ in 0..8 {
        assert_eq!(
            me(&server, &token).await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "revocation check timed out".into()
            )
        );
    }
    assert_eq!(store.checks.load(Ordering::SeqCst), 8);
    redis.resume();
}

/// A replay store that counts the ids it is asked, before the Redis one.
struct CountingReplays {
    inner: RedisReplays,
    calls: AtomicUsize,
}

impl ReplayStore for CountingReplays {
    fn first_use<'a>(&'a self, id: &'a str, expires_at: u64) -> ReplayFuture<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.first_use(id, expires_at)
    }
}

/// The `n`th proof id: a digest, as the DPoP check derives them.
fn proof_id(n: usize) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(n.to_string()))
}

#[tokio::test]
async fn the_replay_check_opens_its_breaker_on_a_frozen_redis_too() {
    let redis = RedisServer::start().await;
    let connection = tokio::time::timeout(BOUND, RedisConnection::connect(redis.url()))
        .await
        .expect("connect in time")
        .expect("connect");
    let store = Arc::new(CountingReplays {
        inner: RedisReplays::new(connection),
        calls: AtomicUsize::new(0),
    });
    let check = ReplayCheck::from_arc(store.clone())
        .timeout(TIMEOUT)
        .circuit_breaker(CircuitBreaker::new(3, COOL_DOWN));
    let calls = || store.calls.load(Ordering::SeqCst);
    let expires = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs() + 300;
    let mut n = 0;
    let mut next = || {
        n += 1;
        proof_id(n)
    };
    check.check(&next(), expires, 0).await.unwrap();
    assert_eq!(calls(), 1);

    redis.pause();
    for _ in 0..3 {
        let error = check.check(&next(), expires, 0).await.unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::ReplayCheckUnavailable);
        assert_eq!(error.description(), "DPoP replay check timed out");
    }
    assert_eq!(calls(), 4);
    let mut refused = 0;
    let start = std::time::Instant::now();
    for _ in 0..20 {
        let error = check.check(&next(), expires, 0).await.unwrap_err();
        if error.description() == "DPoP replay store circuit open" {
            refused += 1;
        }
    }
    let probes = calls() - 4;
    assert_eq!(refused + probes, 20, "every other check answered at once");
    assert!(
        probes <= probes_allowed(start.elapsed()),
        "{probes} probes in {:?}",
        start.elapsed()
    );

    redis.resume();
    let start = std::time::Instant::now();
    while check.check(&next(), expires, 0).await.is_err() {
        assert!(start.elapsed() < BOUND, "not closed within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = calls();
    let id = next();
    check.check(&id, expires, 0).await.unwrap();
    let error = check.check(&id, expires, 0).await.unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
    assert_eq!(calls(), before + 2);
}
