//! Token introspection (RFC 7662) through real servers: an axum API behind
//! the layer, asking a real authorization server (oidc-provider, through
//! `common::oauth_provider`, whose introspection calls are counted) about its
//! opaque tokens; and a hostile authorization server, in this file, whose
//! answers are oversized, garbled, redirected, slow or failing.

#![cfg(feature = "introspection")]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Extension, Router};
use http::{StatusCode, header};
use serde_json::{Value, json};
use tower_jwt_auth::jsonwebtoken::{Algorithm, EncodingKey};
use tower_jwt_auth::{
    AuthorizationServerMetadata, Claims, Introspection, JwtAuthLayer, RequireLayer, TrustedIssuer,
};

use common::introspection_endpoint::{Answer, hostile_server, json_answer};
use common::logs::Logs;
use common::oauth_provider::{AUDIENCE, OPAQUE_AUDIENCE, OauthProvider};
use common::{Reply, Server, send_bearer, serve_axum};

/// The tests that count the provider's introspection calls take turns, so
/// that no other test's calls land in their count.
static PROVIDER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An API whose `/me` answers the request's claims, and whose `/write` needs
/// the `write` scope.
async fn api(layer: JwtAuthLayer<Value>) -> Server {
    let me =
        |Extension(Claims(claims)): Extension<Claims<Value>>| async move { axum::Json(claims) };
    let write = RequireLayer::<Value>::builder()
        .scope("write")
        .build()
        .expect("rule");
    let app = Router::new()
        .route("/me", get(me))
        .route("/write", get(me).route_layer(write))
        .layer(layer);
    serve_axum(app).await
}

/// The provider's introspection endpoint, with its introspection client.
async fn provider_introspection(
    provider: &OauthProvider,
    max_cache_lifetime: Duration,
) -> Introspection {
    let info = provider.info().await;
    let client = &info["introspection_client"];
    // The endpoint as the provider's own metadata (RFC 8414) names it.
    let metadata = AuthorizationServerMetadata::discover(provider.issuer())
        .fetch()
        .await
        .expect("the provider's metadata");
    let builder = Introspection::from_metadata(&metadata).expect("an introspection endpoint");
    builder
        .client_secret_basic(
            client["client_id"].as_str().expect("client_id"),
            client["client_secret"].as_str().expect("client_secret"),
        )
        .max_cache_lifetime(max_cache_lifetime)
        .build()
        .expect("introspection")
}

/// A layer that verifies the provider's JWTs (for `AUDIENCE`) with its keys
/// and introspects its opaque tokens (for `OPAQUE_AUDIENCE`).
async fn provider_api(provider: &OauthProvider, max_cache_lifetime: Duration) -> Server {
    let layer = JwtAuthLayer::<Value>::builder()
        .trusted_issuer(
            TrustedIssuer::new(provider.issuer())
                .key_set(provider.key_set().await)
                .introspection(provider_introspection(provider, max_cache_lifetime).await)
                .audience(AUDIENCE)
                .audience(OPAQUE_AUDIENCE),
        )
        .build()
        .expect("layer");
    api(layer).await
}

fn assert_refused(reply: &Reply, status: StatusCode, description: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.error_description(), description, "{}", reply.text());
}

#[tokio::test]
async fn an_opaque_token_is_introspected_and_a_jwt_still_verified() {
    let provider = OauthProvider::shared().await;
    let _turn = PROVIDER.lock().await;
    let server = provider_api(provider, Duration::from_secs(60)).await;

    let opaque = provider.opaque_token(Some("read")).await;
    assert!(!opaque.contains('.'), "an opaque token: {opaque}");
    let reply = send_bearer("GET", &server.url("/me"), &opaque).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let claims = reply.json();
    assert_eq!(claims["active"], true);
    assert_eq!(claims["iss"], provider.issuer());
    assert_eq!(claims["aud"], OPAQUE_AUDIENCE);
    assert_eq!(claims["scope"], "read");
    assert_eq!(claims["client_id"], "harness-bearer");
    assert!(claims["exp"].as_u64().is_some());

    // A JWT of the same issuer is verified with its keys, not introspected.
    let before = provider.introspection_requests().await;
    let jwt = provider.bearer_token().await;
    let reply = send_bearer("GET", &server.url("/me"), &jwt).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["aud"], AUDIENCE);
    assert_eq!(provider.introspection_requests().await, before);

    // A token the provider never issued is not active.
    let reply = send_bearer("GET", &server.url("/me"), "never-issued-by-anyone").await;
    assert_refused(&reply, StatusCode::UNAUTHORIZED, "token is not active");
    assert!(
        reply
            .header(header::WWW_AUTHENTICATE)
            .contains("error=\"invalid_token\"")
    );
    assert_eq!(provider.introspection_requests().await, before + 1);
}

#[tokio::test]
async fn the_scope_of_an_introspected_token_is_checked_by_require_layer() {
    let provider = OauthProvider::shared().await;
    let _turn = PROVIDER.lock().await;
    let server = provider_api(provider, Duration::from_secs(60)).await;

    let read = provider.opaque_token(Some("read")).await;
    let reply = send_bearer("GET", &server.url("/write"), &read).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    assert!(
        reply
            .header(header::WWW_AUTHENTICATE)
            .contains("insufficient_scope")
    );

    let both = provider.opaque_token(Some("read write")).await;
    let reply = send_bearer("GET", &server.url("/write"), &both).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn sequential_requests_with_one_token_cause_one_introspection() {
    let provider = OauthProvider::shared().await;
    let _turn = PROVIDER.lock().await;
    let server = provider_api(provider, Duration::from_secs(60)).await;
    let token = provider.opaque_token(None).await;

    let before = provider.introspection_requests().await;
    for _ in 0..20 {
        let reply = send_bearer("GET", &server.url("/me"), &token).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    assert_eq!(provider.introspection_requests().await, before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_a_new_token_cause_one_introspection() {
    let provider = OauthProvider::shared().await;
    let _turn = PROVIDER.lock().await;
    let server = Arc::new(provider_api(provider, Duration::from_secs(60)).await);
    let token = Arc::new(provider.opaque_token(None).await);

    let before = provider.introspection_requests().await;
    let requests: Vec<_> = (0..200)
        .map(|_| {
            let (server, token) = (server.clone(), token.clone());
            tokio::spawn(async move { send_bearer("GET", &server.url("/me"), &token).await })
        })
        .collect();
    for request in requests {
        let reply = request.await.expect("request task");
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    assert_eq!(provider.introspection_requests().await, before + 1);
}

#[tokio::test]
async fn a_revoked_token_is_refused_once_its_cache_entry_expires() {
    let provider = OauthProvider::shared().await;
    let _turn = PROVIDER.lock().await;
    // Kept 3 s at most: between 2 and 3 s of real time, by whole seconds.
    let server = provider_api(provider, Duration::from_secs(3)).await;
    let token = provider.opaque_token(None).await;

    let reply = send_bearer("GET", &server.url("/me"), &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let cached = Instant::now();
    provider.revoke(&token).await;
    let before = provider.introspection_requests().await;

    // Still cached (the price of the cache, bounded by its lifetime).
    let reply = send_bearer("GET", &server.url("/me"), &token).await;
    assert!(
        cached.elapsed() < Duration::from_millis(1500),
        "the test ran too slowly"
    );
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(provider.introspection_requests().await, before);

    tokio::time::sleep(Duration::from_millis(3100).saturating_sub(cached.elapsed())).await;
    let reply = send_bearer("GET", &server.url("/me"), &token).await;
    assert_refused(&reply, StatusCode::UNAUTHORIZED, "token is not active");
    assert_eq!(provider.introspection_requests().await, before + 1);
}

#[tokio::test]
async fn private_key_jwt_assertions_are_accepted_by_the_provider_once_each() {
    let provider = OauthProvider::shared().await;
    let _turn = PROVIDER.lock().await;
    let info = provider.info().await;
    let client = &info["introspection_client_jwt"];
    let metadata = AuthorizationServerMetadata::discover(provider.issuer())
        .fetch()
        .await
        .expect("the provider's metadata");
    let key = |member: &str| {
        EncodingKey::from_ec_pem(client[member].as_str().expect("pem").as_bytes()).expect("key")
    };
    // `aud` by default: the issuer, from the metadata.
    let by_metadata = Introspection::from_metadata(&metadata)
        .expect("endpoint")
        .private_key_jwt(
            client["client_id"].as_str().expect("client_id"),
            key("private_key_pem"),
            Algorithm::ES256,
        )
        .assertion_key_id(client["kid"].as_str().expect("kid"))
        .build()
        .expect("introspection");
    // An unknown key: the provider refuses our credentials.
    let unregistered = Introspection::from_metadata(&metadata)
        .expect("endpoint")
        .private_key_jwt(
            client["client_id"].as_str().expect("client_id"),
            key("unregistered_private_key_pem"),
            Algorithm::ES256,
        )
        .build()
        .expect("introspection");
    let layer = |introspection| {
        JwtAuthLayer::<Value>::builder()
            .trusted_issuer(
                TrustedIssuer::new(provider.issuer())
                    .introspection(introspection)
                    .audience(OPAQUE_AUDIENCE),
            )
            .build()
            .expect("layer")
    };
    let server = api(layer(by_metadata)).await;

    // Two tokens, two introspections: each assertion has its own jti, which
    // the provider's replay detection would refuse to see twice.
    let before = provider.introspection_requests().await;
    for scope in ["read", "write"] {
        let token = provider.opaque_token(Some(scope)).await;
        let reply = send_bearer("GET", &server.url("/me"), &token).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json()["scope"], scope);
    }
    assert_eq!(provider.introspection_requests().await, before + 2);

    let server = api(layer(unregistered)).await;
    let token = provider.opaque_token(None).await;
    let reply = send_bearer("GET", &server.url("/me"), &token).await;
    assert_refused(
        &reply,
        StatusCode::SERVICE_UNAVAILABLE,
        "the authorization server refused the introspection client's credentials \
         (a configuration error)",
    );
}

// ---------------------------------------------------------------------------
// A hostile authorization server (`common::introspection_endpoint`).
// ---------------------------------------------------------------------------

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// An API whose layer introspects at the hostile server, for `rs`/`secret`.
async fn hostile_api(hostile: &Server) -> Server {
    let introspection = Introspection::builder(hostile.url("/introspect"))
        .client_secret_basic("rs:1", "s3cret value")
        .timeout(Duration::from_millis(300))
        .build()
        .expect("introspection");
    let layer = JwtAuthLayer::<Value>::builder()
        .introspection(introspection)
        .issuer("https://as.test")
        .audience("https://api.test")
        .build()
        .expect("layer");
    api(layer).await
}

#[tokio::test]
async fn the_request_is_rfc_7662_and_the_answer_passes_the_claim_rules() {
    let (hostile, state) = hostile_server().await;
    let server = hostile_api(&hostile).await;
    let good = json!({
        "active": true, "iss": "https://as.test", "aud": "https://api.test",
        "sub": "ada", "exp": now() + 60, "scope": "read write",
    });
    let with = |changes: Value| {
        let mut body = good.clone();
        for (name, value) in changes.as_object().expect("an object") {
            body[name] = value.clone();
        }
        json_answer(body)
    };
    state.answer("good-token", with(json!({})));
    state.answer("no-iss", {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove("iss");
        json_answer(body)
    });
    let cases = [
        (
            "other-iss",
            json!({ "iss": "https://evil.test" }),
            "issuer not accepted",
        ),
        (
            "other-aud",
            json!({ "aud": "https://other.test" }),
            "audience not accepted",
        ),
        ("expired", json!({ "exp": now() - 3600 }), "token expired"),
        (
            "not-yet",
            json!({ "nbf": now() + 3600 }),
            "token not yet valid",
        ),
        ("no-exp", json!({ "exp": null }), "missing claim `exp`"),
        (
            "bound",
            json!({ "cnf": { "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" } }),
            "token is DPoP-bound; this server takes no DPoP",
        ),
    ];
    for (token, changes, _) in &cases {
        state.answer(token, with(changes.clone()));
    }

    let reply = send_bearer("GET", &server.url("/me"), "good-token").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["sub"], "ada");
    let (headers, form) = state.last.lock().unwrap().clone().expect("a request");
    assert_eq!(
        form,
        [
            ("token".to_owned(), "good-token".to_owned()),
            ("token_type_hint".to_owned(), "access_token".to_owned())
        ]
    );
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(headers[header::ACCEPT], "application/json");
    // RFC 6749 §2.3.1: "rs:1" and "s3cret value" form-urlencoded, then base64.
    assert_eq!(
        headers[header::AUTHORIZATION],
        "Basic cnMlM0ExOnMzY3JldCt2YWx1ZQ=="
    );

    // RFC 7662 makes `iss` optional: without one, the token is the endpoint's.
    let reply = send_bearer("GET", &server.url("/me"), "no-iss").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    for (token, _, description) in cases {
        let reply = send_bearer("GET", &server.url("/me"), token).await;
        assert_refused(&reply, StatusCode::UNAUTHORIZED, description);
    }
}

#[tokio::test]
async fn a_failing_authorization_server_is_503_and_never_401() {
    let (hostile, state) = hostile_server().await;
    let server = hostile_api(&hostile).await;
    let active = json!({ "active": true, "iss": "https://as.test", "aud": "https://api.test", "exp": now() + 60 });
    let unavailable = "introspection";
    let cases: Vec<(&str, Answer, StatusCode, &str)> = vec![
        (
            "oversized",
            json_answer(json!({ "active": true, "padding": "x".repeat(20 * 1024) })),
            StatusCode::SERVICE_UNAVAILABLE,
            unavailable,
        ),
        (
            "garbage",
            Answer {
                body: "{\"active\": tru".into(),
                ..json_answer(json!({}))
            },
            StatusCode::SERVICE_UNAVAILABLE,
            unavailable,
        ),
        (
            "not-an-object",
            json_answer(json!([{ "active": true }])),
            StatusCode::SERVICE_UNAVAILABLE,
            unavailable,
        ),
        (
            "html",
            Answer {
                content_type: Some("text/html"),
                body: "<html>".into(),
                ..json_answer(json!({}))
            },
            StatusCode::SERVICE_UNAVAILABLE,
            unavailable,
        ),
        (
            "redirect",
            Answer {
                status: 307,
                location: Some(hostile.url("/introspect")),
                ..Answer::default()
            },
            StatusCode::SERVICE_UNAVAILABLE,
            unavailable,
        ),
        (
            "server-error",
            Answer {
                status: 500,
                ..Answer::default()
            },
            StatusCode::SERVICE_UNAVAILABLE,
            unavailable,
        ),
        (
            "slow",
            Answer {
                delay: Duration::from_secs(5),
                ..json_answer(active.clone())
            },
            StatusCode::SERVICE_UNAVAILABLE,
            unavailable,
        ),
        (
            "string-active",
            json_answer(json!({ "active": "true", "exp": now() + 60 })),
            StatusCode::UNAUTHORIZED,
            "token is not active",
        ),
        (
            "inactive",
            json_answer(json!({ "active": false })),
            StatusCode::UNAUTHORIZED,
            "token is not active",
        ),
    ];
    for (token, answer, _, _) in &cases {
        state.answer(token, answer.clone());
    }
    for (token, _, status, description) in cases {
        let started = Instant::now();
        let reply = send_bearer("GET", &server.url("/me"), token).await;
        assert_eq!(reply.status, status, "{token}: {}", reply.text());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // 503 carries no error code (RFC 6750 has none for it).
            assert!(
                !reply
                    .header(header::WWW_AUTHENTICATE)
                    .contains("invalid_token"),
                "{token}"
            );
        } else {
            assert_eq!(reply.error_description(), description, "{token}");
        }
        // The timeout bounds the slow one; the others answer at once.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{token}: {:?}",
            started.elapsed()
        );
    }
    // Once each: the redirect was not followed.
    assert_eq!(state.requests.load(Ordering::SeqCst), 9);
}

#[tokio::test]
async fn refused_credentials_are_503_and_logged_as_a_configuration_error() {
    let (logs, _guard) = Logs::capture(tracing::Level::WARN);
    let (hostile, state) = hostile_server().await;
    let server = hostile_api(&hostile).await;
    state.answer(
        "any-token",
        Answer {
            status: 401,
            content_type: Some("application/json"),
            body: json!({ "error": "invalid_client" }).to_string(),
            ..Answer::default()
        },
    );
    let reply = send_bearer("GET", &server.url("/me"), "any-token").await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text()
    );
    let text = logs.text();
    assert!(
        text.contains("introspection check failed")
            && text
                .contains("refused the introspection client's credentials (a configuration error)"),
        "{text}"
    );
    // Neither the token nor the secret is logged.
    assert!(
        !text.contains("any-token") && !text.contains("s3cret"),
        "{text}"
    );
}
