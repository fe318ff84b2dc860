//! Key rotation end to end: service A issues tokens with a [`KeyRing`] and
//! publishes its JWK Set; service B verifies them through a `RemoteKeySet` on
//! A's set, over real HTTP on 127.0.0.1. A rotates twice while client tasks
//! keep logging in at A and calling B: B must refuse none of the valid
//! tokens (fresh ones, and older ones signed by a key retired meanwhile), and
//! must refuse a token signed by a key A has dropped, as soon as its cached
//! copy of A's set is refreshed.
#![cfg(all(
    feature = "remote-jwks",
    any(feature = "aws-lc-rs", feature = "rust-crypto")
))]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::{get, post};
use axum::{Extension, Router};
use http::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep};
use tower_jwt_auth::jsonwebtoken::{Algorithm, EncodingKey};
use tower_jwt_auth::{Claims, JwtAuthLayer, KeyRing, RemoteKeySet, SigningKey, TokenIssuer};

use common::{Server, send, send_bearer, serve_axum};

/// The JWK Set's max-age: a next key signs 2 s after it is published (1 s,
/// plus one for the clock's whole seconds).
const MAX_AGE: Duration = Duration::from_secs(1);
/// The tokens' time to live.
const TTL: Duration = Duration::from_secs(3);
/// B's clock-skew leeway, which A's ring knows.
const LEEWAY: Duration = Duration::from_secs(1);
const CLIENTS: usize = 4;
/// Bounds every loop of the test.
const DEADLINE: Duration = Duration::from_secs(60);

fn pem() -> String {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .unwrap()
        .serialize_pem()
}

fn signing_key(pem: &str) -> SigningKey {
    SigningKey::from_pem(Algorithm::ES256, pem.as_bytes()).unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Service A: `POST /login` issues a token; the JWK Set at
/// `/.well-known/jwks.json`.
async fn service_a(ring: &KeyRing) -> Server {
    let issuer = TokenIssuer::key_ring(ring.clone())
        .ttl(TTL)
        .issuer("https://a.example")
        .build()
        .unwrap();
    let login = post(move || async move {
        issuer
            .issue(&json!({ "sub": "ada" }))
            .expect("the ring's key signs")
    });
    let app = Router::new()
        .route("/login", login)
        .route_service("/.well-known/jwks.json", ring.jwk_set_service());
    serve_axum(app).await
}

/// Service B: `GET /me` behind the layer, keys from A's JWK Set.
async fn service_b(a: &Server) -> Server {
    let keys = RemoteKeySet::builder(a.url("/.well-known/jwks.json"))
        // A's max-age of 1 s, taken as it is.
        .cache_bounds(Duration::from_secs(1), Duration::from_secs(60))
        // One fetch for an unknown `kid` in the whole test: B must find each
        // new key in its regular refreshes, since A publishes it ahead.
        .unknown_kid_burst(1)
        .unknown_kid_interval(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    let layer = JwtAuthLayer::<Value>::builder()
        .jwks(keys)
        .algorithms([Algorithm::ES256])
        .issuer("https://a.example")
        .leeway(LEEWAY)
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

async fn login(a: &Server) -> String {
    let request = http::Request::post(a.url("/login"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let reply = send(request).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.text()
}

fn exp(token: &str) -> u64 {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    claims["exp"].as_u64().unwrap()
}

/// `GET /me` at B with `token`: `Ok` for 200, else the status and the reason.
async fn call_b(b: &Server, token: &str) -> Result<(), String> {
    let reply = send_bearer("GET", &b.url("/me"), token).await;
    if reply.status == StatusCode::OK {
        Ok(())
    } else {
        Err(format!("{} {}", reply.status, reply.error_description()))
    }
}

/// One client: log in at A, call B with the new token and with the
/// previous one while it is at least a second from expiry (a token signed
/// by a key that may have retired since), until `stop`.
async fn client(a: Arc<Server>, b: Arc<Server>, stop: Arc<AtomicBool>, calls: Arc<AtomicUsize>) {
    let started = Instant::now();
    let mut previous: Option<String> = None;
    while !stop.load(Ordering::Relaxed) && started.elapsed() < DEADLINE {
        let token = login(&a).await;
        if let Err(reason) = call_b(&b, &token).await {
            panic!("B refused a fresh token of A: {reason}");
        }
        if let Some(old) = previous.filter(|old| exp(old) > now())
            && let Err(reason) = call_b(&b, &old).await
        {
            panic!("B refused a valid token signed before a rotation: {reason}");
        }
        calls.fetch_add(1, Ordering::Relaxed);
        previous = Some(token);
        sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the clients have completed a few more rounds.
async fn load_runs(calls: &AtomicUsize) {
    let target = calls.load(Ordering::Relaxed) + CLIENTS;
    let started = Instant::now();
    while calls.load(Ordering::Relaxed) < target {
        assert!(started.elapsed() < DEADLINE, "the clients do not run");
        sleep(Duration::from_millis(20)).await;
    }
}

/// Rotates `ring` to a new key as soon as it lets, within the deadline.
async fn rotate(ring: &KeyRing) {
    let started = Instant::now();
    loop {
        match ring.rotate(signing_key(&pem())) {
            Ok(()) => return,
            Err(tower_jwt_auth::RotateError::TooEarly { ready_in }) => {
                assert!(started.elapsed() < DEADLINE, "the ring never let rotate");
                sleep(ready_in).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_follows_two_rotations_of_a_under_load() {
    // The first key is kept: the test signs with it after A drops it.
    let first_pem = pem();
    let first = signing_key(&first_pem);
    let first_kid = first.kid().to_owned();
    let ring = KeyRing::builder(first, signing_key(&pem()))
        .max_age(MAX_AGE)
        .token_ttl(TTL)
        .leeway(LEEWAY)
        .build();
    let a = Arc::new(service_a(&ring).await);
    let b = Arc::new(service_b(&a).await);

    // A token of the first key, as an attacker holding it would sign one
    // after A dropped the key: valid in every other respect.
    let forged = |exp_in: u64| {
        TokenIssuer::builder(
            EncodingKey::from_ec_pem(first_pem.as_bytes()).unwrap(),
            Algorithm::ES256,
        )
        .kid(first_kid.clone())
        .issuer("https://a.example")
        .ttl(Duration::from_secs(exp_in))
        .build()
        .unwrap()
        .issue(&json!({ "sub": "mallory" }))
        .unwrap()
    };
    call_b(&b, &forged(60))
        .await
        .expect("while A publishes the key, B accepts its tokens");

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut clients = JoinSet::new();
    for _ in 0..CLIENTS {
        clients.spawn(client(a.clone(), b.clone(), stop.clone(), calls.clone()));
    }

    let second_kid = ring.next_kid();
    load_runs(&calls).await;
    rotate(&ring).await;
    assert_eq!(ring.current_kid(), second_kid);
    assert_eq!(ring.retired_kids(), std::slice::from_ref(&first_kid));
    load_runs(&calls).await;
    rotate(&ring).await;
    assert_eq!(ring.retired_kids()[0], first_kid);
    load_runs(&calls).await;

    // The first key is dropped one TTL plus the leeway after it retired.
    let started = Instant::now();
    while ring.retired_kids().contains(&first_kid) {
        assert!(
            started.elapsed() < DEADLINE,
            "the first key was never dropped"
        );
        sleep(Duration::from_millis(100)).await;
    }
    // B refuses its tokens once its copy of A's set is refreshed (one
    // max-age at most, plus a fetch)...
    let started = Instant::now();
    let reason = loop {
        match call_b(&b, &forged(60)).await {
            Err(reason) => break reason,
            Ok(()) => {
                assert!(
                    started.elapsed() < DEADLINE,
                    "B still accepts a key A dropped"
                );
                sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert!(reason.starts_with("401"), "{reason}");
    // ...and from then on, through several refreshes of A's set.
    for _ in 0..10 {
        sleep(MAX_AGE / 4).await;
        assert!(
            call_b(&b, &forged(60)).await.is_err(),
            "B accepted a dropped key again"
        );
    }

    stop.store(true, Ordering::Relaxed);
    while let Some(result) = clients.join_next().await {
        result.expect("a client saw B refuse a valid token");
    }
    let set: Value = serde_json::from_slice(&ring.jwk_set()).expect("the ring's set is JSON");
    let kids: Vec<&str> = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(!kids.contains(&first_kid.as_str()));
    assert!(calls.load(Ordering::Relaxed) >= CLIENTS, "the load ran");
}
