//! The layer with a remote JWK Set (`JwtAuthBuilder::jwks`), through a real
//! axum server, against a real JWKS endpoint that the test rotates, empties,
//! takes down and brings back (`common::jwks_server`). The tokens are the
//! committed PyJWT fixtures; the key set is built from their keys.
#![cfg(feature = "remote-jwks")]

mod common;

use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Empty;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tower_jwt_auth::jsonwebtoken::Algorithm;
use tower_jwt_auth::{Claims, JwtAuthBuilder, JwtAuthLayer, Key, RemoteKeySet, TrustedIssuer};

use common::jwks_server::JwksServer;
use common::{Server, pyjwt_token, send, send_bearer, serve_axum};

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api://tower-jwt-auth";
const FIXTURE_KIDS: [&str; 4] = ["rsa-1", "ec256-1", "ec384-1", "ed-1"];

/// The fixtures' JWK Set with only the keys named.
fn fixture_jwks(kids: &[&str]) -> String {
    let all: Value = serde_json::from_str(include_str!("fixtures/pyjwt/jwks.json")).unwrap();
    let keys: Vec<Value> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| kids.iter().any(|kid| k["kid"] == *kid))
        .cloned()
        .collect();
    json!({ "keys": keys }).to_string()
}

/// A token whose header names `kid` (and anything else in `extra`): no key
/// verifies it, but it asks the layer to look for that key.
fn token_naming(kid: &str, extra: Value) -> String {
    let mut header = json!({ "alg": "RS256", "kid": kid });
    header
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let real = pyjwt_token("RS256");
    let (_, rest) = real.split_once('.').unwrap();
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
}

fn builder(keys: RemoteKeySet) -> JwtAuthBuilder<Value> {
    JwtAuthLayer::builder()
        .jwks(keys)
        .issuer(ISSUER)
        .audience(AUDIENCE)
}

async fn app(layer: JwtAuthLayer<Value>) -> Server {
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

/// `GET /me` with `token`: the status and the error description, if any.
async fn get_me(server: &Server, token: &str) -> (StatusCode, String) {
    let reply = send_bearer("GET", &server.url("/me"), token).await;
    let description = if reply.status == StatusCode::OK {
        String::new()
    } else {
        reply.error_description()
    };
    (reply.status, description)
}

fn ok() -> (StatusCode, String) {
    (StatusCode::OK, String::new())
}

#[tokio::test]
async fn pyjwt_tokens_verify_through_a_remote_jwks() {
    let jwks = JwksServer::start().await;
    jwks.set_document(fixture_jwks(&FIXTURE_KIDS));
    let keys = RemoteKeySet::builder(jwks.url()).build().await.unwrap();
    let server = app(builder(keys).build().unwrap()).await;
    for name in [
        "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA",
    ] {
        assert_eq!(get_me(&server, &pyjwt_token(name)).await, ok(), "{name}");
    }
    // HMAC tokens never verify with keys from a URL, and the tampered fixture
    // is refused.
    assert_eq!(
        get_me(&server, &pyjwt_token("HS256")).await,
        (StatusCode::UNAUTHORIZED, "algorithm not allowed".into())
    );
    assert_eq!(
        get_me(&server, &pyjwt_token("RS256-other-key")).await,
        (StatusCode::UNAUTHORIZED, "invalid signature".into())
    );
    assert_eq!(jwks.fetches(), 1, "every key came from the first fetch");
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_one_refetch() {
    let jwks = JwksServer::start().await;
    jwks.set_document(fixture_jwks(&["rsa-1"]));
    let interval = Duration::from_millis(300);
    let keys = RemoteKeySet::builder(jwks.url())
        .unknown_kid_interval(interval)
        .build()
        .await
        .unwrap();
    let server = app(builder(keys).build().unwrap()).await;
    assert_eq!(get_me(&server, &pyjwt_token("RS256")).await, ok());

    // The provider rotates a moment after the first fetch: ec256-1 is
    // published, and the first token naming it waits for one refetch and
    // passes (the first fetch spent nothing of the unknown-kid budget).
    jwks.set_document(fixture_jwks(&["rsa-1", "ec256-1"]));
    assert_eq!(get_me(&server, &pyjwt_token("ES256")).await, ok());
    assert_eq!(jwks.fetches(), 2);
    assert_eq!(get_me(&server, &pyjwt_token("ES256")).await, ok());
    assert_eq!(jwks.fetches(), 2, "a known kid causes no fetch");
}

#[tokio::test]
async fn a_storm_of_unknown_kids_causes_the_burst_then_one_fetch_per_interval() {
    let jwks = JwksServer::start().await;
    jwks.set_document(fixture_jwks(&["rsa-1", "ec256-1", "ec384-1"]));
    let interval = Duration::from_secs(3);
    let allowed_at_once = 2;
    let keys = RemoteKeySet::builder(jwks.url())
        .unknown_kid_interval(interval)
        .unknown_kid_burst(allowed_at_once)
        .build()
        .await
        .unwrap();
    let server = app(builder(keys).build().unwrap()).await;
    let url = server.url("/me");
    // Slow the endpoint so that each burst meets the fetch in flight.
    jwks.set_delay(Duration::from_millis(200));
    let start = std::time::Instant::now();
    for burst in 0..2 {
        let mut requests = JoinSet::new();
        for i in 0..200 {
            let url = url.clone();
            let token = token_naming(&format!("forged-{burst}-{i}"), json!({}));
            requests.spawn(async move {
                send(
                    Request::get(url)
                        .header("authorization", format!("Bearer {token}"))
                        .body(Empty::<Bytes>::new())
                        .unwrap(),
                )
                .await
                .status
            });
        }
        while let Some(status) = requests.join_next().await {
            assert_eq!(status.unwrap(), StatusCode::UNAUTHORIZED);
        }
    }
    // 400 forged kids: at most the burst, plus one fetch per interval begun
    // (on a loaded machine the bursts may outlast one interval), and at least
    // one.
    let earned = (start.elapsed().as_millis() / interval.as_millis()) as usize;
    let refetches = jwks.fetches() - 1;
    assert!(
        (1..=allowed_at_once as usize + earned).contains(&refetches),
        "{refetches} refetches, {earned} interval(s)"
    );
    // Valid tokens were never held up by the storm.
    jwks.set_delay(Duration::ZERO);
    assert_eq!(get_me(&server, &pyjwt_token("ES384")).await, ok());

    // The storm spent the budget: a key published now is refused until one
    // fetch is earned back, within one interval, and then accepted.
    for i in 0..allowed_at_once {
        let forged = token_naming(&format!("forged-more-{i}"), json!({}));
        let (status, _) = get_me(&server, &forged).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    jwks.set_document(fixture_jwks(&["rsa-1", "ec256-1", "ec384-1", "ed-1"]));
    let spent = jwks.fetches();
    assert_eq!(
        get_me(&server, &pyjwt_token("EdDSA")).await,
        (StatusCode::UNAUTHORIZED, "no key for this token".into())
    );
    assert_eq!(jwks.fetches(), spent, "no budget left: no fetch");
    tokio::time::sleep(interval).await;
    assert_eq!(get_me(&server, &pyjwt_token("EdDSA")).await, ok());
}

#[tokio::test]
async fn a_removed_key_is_refused_after_a_refresh_cached_tokens_too() {
    let jwks = JwksServer::start().await;
    jwks.set_document(fixture_jwks(&FIXTURE_KIDS));
    let keys = RemoteKeySet::builder(jwks.url())
        .unknown_kid_interval(Duration::from_secs(60))
        .build()
        .await
        .unwrap();
    #[cfg(feature = "token-cache")]
    let layer = builder(keys.clone()).token_cache(100).build().unwrap();
    #[cfg(not(feature = "token-cache"))]
    let layer = builder(keys.clone()).build().unwrap();
    let server = app(layer).await;
    for _ in 0..3 {
        assert_eq!(get_me(&server, &pyjwt_token("RS256")).await, ok());
        assert_eq!(get_me(&server, &pyjwt_token("ES256")).await, ok());
    }

    jwks.set_document(fixture_jwks(&["ec256-1", "ec384-1", "ed-1"]));
    keys.refresh().await.unwrap();
    assert_eq!(
        get_me(&server, &pyjwt_token("RS256")).await,
        (StatusCode::UNAUTHORIZED, "no key for this token".into())
    );
    assert_eq!(get_me(&server, &pyjwt_token("ES256")).await, ok());
}

#[tokio::test]
async fn without_keys_yet_the_answer_is_503_until_they_arrive() {
    let jwks = JwksServer::down().await;
    jwks.set_document(fixture_jwks(&FIXTURE_KIDS));
    let keys = RemoteKeySet::builder(jwks.url())
        .fail_fast(false)
        .unknown_kid_interval(Duration::from_millis(100))
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    let server = app(builder(keys).build().unwrap()).await;
    let reply = send(
        Request::get(server.url("/me"))
            .header("authorization", format!("Bearer {}", pyjwt_token("RS256")))
            .body(Empty::<Bytes>::new())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json()["error"], "temporarily_unavailable");
    assert_eq!(reply.json()["error_description"], "no keys available yet");
    assert_eq!(reply.header("www-authenticate"), "");

    jwks.up().await;
    // The next request after the rate-limit interval fetches and passes.
    let mut answer = (StatusCode::SERVICE_UNAVAILABLE, String::new());
    for _ in 0..50 {
        answer = get_me(&server, &pyjwt_token("RS256")).await;
        if answer.0 == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answer, ok());
}

#[tokio::test]
async fn the_last_good_keys_serve_while_the_endpoint_is_down() {
    let jwks = JwksServer::start().await;
    jwks.set_document(fixture_jwks(&FIXTURE_KIDS));
    let keys = RemoteKeySet::builder(jwks.url())
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_millis(500))
        .unknown_kid_interval(Duration::from_millis(1))
        .build()
        .await
        .unwrap();
    let server = app(builder(keys.clone()).build().unwrap()).await;
    jwks.stop();
    assert!(keys.refresh().await.is_err());
    assert_eq!(get_me(&server, &pyjwt_token("ES384")).await, ok());
    // An unknown kid now meets a failing fetch: still a plain 401.
    assert_eq!(
        get_me(&server, &token_naming("new-kid", json!({}))).await,
        (StatusCode::UNAUTHORIZED, "no key for this token".into())
    );
    // Garbage from the endpoint changes nothing either.
    jwks.up().await;
    jwks.set_document("<html>maintenance</html>");
    assert!(keys.refresh().await.is_err());
    assert_eq!(get_me(&server, &pyjwt_token("ES384")).await, ok());
}

#[tokio::test]
async fn header_key_locations_are_never_followed() {
    let jwks = JwksServer::start().await;
    jwks.set_document(fixture_jwks(&FIXTURE_KIDS));
    // The attacker's own endpoint, publishing the fixture keys under the
    // kid its token names.
    let attacker = JwksServer::start().await;
    let mut forged_set: Value = serde_json::from_str(&fixture_jwks(&["rsa-1"])).unwrap();
    forged_set["keys"][0]["kid"] = json!("attacker");
    attacker.set_document(forged_set.to_string());
    let keys = RemoteKeySet::builder(jwks.url())
        .unknown_kid_interval(Duration::from_secs(60))
        .build()
        .await
        .unwrap();
    let server = app(builder(keys).build().unwrap()).await;
    let jwk = forged_set["keys"][0].clone();
    for extra in [
        json!({ "jku": attacker.url() }),
        json!({ "x5u": attacker.url() }),
        json!({ "jwk": jwk }),
    ] {
        let (status, _) = get_me(&server, &token_naming("attacker", extra.clone())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{extra}");
    }
    assert_eq!(attacker.fetches(), 0);
}

#[tokio::test]
async fn each_trusted_issuer_may_have_its_own_remote_set() {
    let first = JwksServer::start().await;
    first.set_document(fixture_jwks(&["ec256-1"]));
    let second = JwksServer::start().await;
    second.set_document(fixture_jwks(&["rsa-1"]));
    let interval = Duration::from_millis(300);
    let first_keys = RemoteKeySet::builder(first.url())
        .unknown_kid_interval(interval)
        .build()
        .await
        .unwrap();
    let second_keys = RemoteKeySet::builder(second.url()).build().await.unwrap();
    let layer = JwtAuthLayer::<Value>::builder()
        .trusted_issuer(
            TrustedIssuer::new(ISSUER)
                .jwks(first_keys)
                .audience(AUDIENCE),
        )
        .trusted_issuer(TrustedIssuer::new("https://other.example").jwks(second_keys))
        .build()
        .unwrap();
    let server = app(layer).await;
    assert_eq!(get_me(&server, &pyjwt_token("ES256")).await, ok());
    tokio::time::sleep(interval).await;
    // The fixtures' issuer does not have rsa-1: the other issuer's set does,
    // but is never asked.
    assert_eq!(
        get_me(&server, &pyjwt_token("RS256")).await,
        (StatusCode::UNAUTHORIZED, "no key for this token".into())
    );
    assert_eq!(second.fetches(), 1);
    assert_eq!(first.fetches(), 2, "one refetch for the unknown kid");
}

#[tokio::test]
async fn a_remote_set_is_configured_for_one_issuer_alone() {
    let jwks = JwksServer::start().await;
    jwks.set_document(fixture_jwks(&["rsa-1"]));
    let keys = RemoteKeySet::builder(jwks.url()).build().await.unwrap();
    let error = |builder: JwtAuthBuilder<Value>| format!("{:?}", builder.build().unwrap_err());
    // Static keys beside the set: which would verify?
    assert_eq!(
        error(builder(keys.clone()).key(Key::hmac(b"a secret of 32 bytes or more....."))),
        "KeysAndKeySet"
    );
    assert_eq!(
        error(
            JwtAuthLayer::builder().trusted_issuer(
                TrustedIssuer::new(ISSUER)
                    .jwks(keys.clone())
                    .key(Key::hmac(b"a secret of 32 bytes or more.....")),
            )
        ),
        "KeysAndKeySet"
    );
    // A set on the builder of a layer with trusted issuers was once ignored.
    assert_eq!(
        error(
            JwtAuthLayer::builder()
                .jwks(keys.clone())
                .trusted_issuer(TrustedIssuer::new(ISSUER).jwks(keys.clone()))
        ),
        r#"NotOnTrustedIssuer { setting: "jwks" }"#
    );
    // Keys from a URL never verify HMAC.
    assert!(error(builder(keys).algorithms([Algorithm::HS256])).starts_with("AlgorithmMismatch"));
}
