//! Revocation through the layer (`JwtAuthBuilder::revocation`), on real axum
//! servers: a logout route revokes the presented token, which every instance
//! sharing the store then refuses. The Redis cases run against real
//! `redis-server` processes (`common::redis`), stopped and paused mid-test.
#![cfg(feature = "revocation")]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tower_jwt_auth::{
    Claims, JwtAuthLayer, Key, MemoryRevocations, Revocation, RevocationStore, TokenInfo,
    TokenIssuer,
};

use common::{Reply, Server, send, send_bearer, serve_axum};

const SECRET: &[u8] = b"revocation test secret, 32 bytes.";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn issuer() -> TokenIssuer {
    TokenIssuer::hmac(SECRET).jti(true).build().unwrap()
}

/// A token made the seed application's way (PyJWT's `jwt.encode` with
/// `{"typ": "jwt", "alg": "HS256"}` headers): only `sub` and `exp`, no `jti`,
/// no `iat`. Tokens with the same claims are the same token: vary `ttl` to get
/// another one.
fn seed_token(sub: &str, ttl: u64) -> String {
    // jsonwebtoken's free functions use its process default provider, which
    // building a layer installs.
    let _ = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .build()
        .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("jwt".into());
    jsonwebtoken::encode(
        &header,
        &json!({ "sub": sub, "exp": now() + ttl }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

/// An app whose `/me` answers the subject and whose `POST /logout` revokes
/// the presented token in `store`; `POST /logout-everywhere` revokes every
/// token of the subject issued until now.
async fn app(store: Arc<dyn RevocationStore>, revocation: Revocation) -> Server {
    let layer = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .revocation(revocation)
        .build()
        .unwrap();
    let logout_store = store.clone();
    let app = Router::new()
        .route(
            "/me",
            get(|Extension(Claims(c)): Extension<Claims<Value>>| async move {
                c["sub"].to_string()
            }),
        )
        .route(
            "/logout",
            post(move |Extension(token): Extension<TokenInfo>| async move {
                match logout_store.revoke(&token).await {
                    Ok(()) => StatusCode::NO_CONTENT,
                    Err(_) => StatusCode::SERVICE_UNAVAILABLE,
                }
            }),
        )
        .route(
            "/logout-everywhere",
            post(move |Extension(token): Extension<TokenInfo>| async move {
                let subject = token.subject().unwrap_or_default().to_owned();
                let until = now() + 3600;
                match store
                    .revoke_subject(token.issuer(), &subject, now() + 1, until)
                    .await
                {
                    Ok(()) => StatusCode::NO_CONTENT,
                    Err(_) => StatusCode::SERVICE_UNAVAILABLE,
                }
            }),
        )
        .layer(layer);
    serve_axum(app).await
}

async fn call(server: &Server, method: &str, path: &str, token: &str) -> Reply {
    send_bearer(method, &server.url(path), token).await
}

fn described(reply: &Reply) -> (StatusCode, String) {
    let description = if reply.status.is_success() {
        String::new()
    } else {
        reply.error_description()
    };
    (reply.status, description)
}

fn revoked() -> (StatusCode, String) {
    (StatusCode::UNAUTHORIZED, "token revoked".into())
}

#[tokio::test]
async fn logout_revokes_the_presented_token_and_only_it() {
    let store = Arc::new(MemoryRevocations::new());
    let server = app(store.clone(), Revocation::from_arc(store.clone())).await;
    let issuer = issuer();
    let first = issuer.issue(&json!({ "sub": "ada" })).unwrap();
    let second = issuer.issue(&json!({ "sub": "ada" })).unwrap();

    assert_eq!(
        call(&server, "GET", "/me", &first).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&server, "POST", "/logout", &first).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        described(&call(&server, "GET", "/me", &first).await),
        revoked()
    );
    let reply = call(&server, "GET", "/me", &first).await;
    assert!(reply.header("www-authenticate").contains("invalid_token"));
    // Another token of the same user is still good.
    assert_eq!(
        call(&server, "GET", "/me", &second).await.status,
        StatusCode::OK
    );
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn logout_everywhere_revokes_every_earlier_token_of_the_subject() {
    let store = Arc::new(MemoryRevocations::new());
    let server = app(store.clone(), Revocation::from_arc(store.clone())).await;
    let issuer = issuer();
    let ada = issuer.issue(&json!({ "sub": "ada" })).unwrap();
    let ada_again = issuer.issue(&json!({ "sub": "ada" })).unwrap();
    let bob = issuer.issue(&json!({ "sub": "bob" })).unwrap();
    assert_eq!(
        call(&server, "POST", "/logout-everywhere", &ada)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        described(&call(&server, "GET", "/me", &ada).await),
        revoked()
    );
    assert_eq!(
        described(&call(&server, "GET", "/me", &ada_again).await),
        revoked()
    );
    assert_eq!(
        call(&server, "GET", "/me", &bob).await.status,
        StatusCode::OK
    );
    // A token issued after the cut-off is accepted.
    let later = TokenIssuer::hmac(SECRET)
        .jti(true)
        .clock(|| now() + 5)
        .build()
        .unwrap()
        .issue(&json!({ "sub": "ada" }))
        .unwrap();
    assert_eq!(
        call(&server, "GET", "/me", &later).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_token_without_jti_is_logged_out_by_its_digest() {
    let store = Arc::new(MemoryRevocations::new());
    let server = app(store.clone(), Revocation::from_arc(store.clone())).await;
    let token = seed_token("ada", 600);
    let other = seed_token("ada", 601);
    assert_ne!(token, other);

    assert_eq!(
        call(&server, "GET", "/me", &token).await.text(),
        "\"ada\"",
        "a token with only `sub` and `exp` is accepted"
    );
    assert_eq!(
        call(&server, "POST", "/logout", &token).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        described(&call(&server, "GET", "/me", &token).await),
        revoked()
    );
    assert_eq!(
        described(&call(&server, "POST", "/logout", &token).await),
        revoked()
    );
    // Only that token: another of the same user (no `jti` either) is good.
    assert_eq!(
        call(&server, "GET", "/me", &other).await.status,
        StatusCode::OK
    );
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn logout_everywhere_refuses_every_token_without_iat_even_later_ones() {
    // Documented on `RevocationStore`: without `iat` nothing tells a token
    // made after the subject revocation from the earlier ones.
    let store = Arc::new(MemoryRevocations::new());
    let server = app(store.clone(), Revocation::from_arc(store.clone())).await;
    let before = seed_token("ada", 600);
    assert_eq!(
        call(&server, "POST", "/logout-everywhere", &before)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        described(&call(&server, "GET", "/me", &before).await),
        revoked()
    );
    let after = seed_token("ada", 900);
    assert_eq!(
        described(&call(&server, "GET", "/me", &after).await),
        revoked()
    );
    // A token with `iat` after the cut-off, and another subject, are accepted.
    let later = TokenIssuer::hmac(SECRET)
        .clock(|| now() + 5)
        .build()
        .unwrap()
        .issue(&json!({ "sub": "ada" }))
        .unwrap();
    assert_eq!(
        call(&server, "GET", "/me", &later).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&server, "GET", "/me", &seed_token("bob", 600))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_store_that_hangs_is_503_or_passes_by_policy() {
    /// Never answers.
    struct Hanging;
    impl RevocationStore for Hanging {
        fn is_revoked<'a>(
            &'a self,
            _: &'a TokenInfo,
        ) -> tower_jwt_auth::RevocationFuture<'a, bool> {
            Box::pin(std::future::pending())
        }
        fn revoke<'a>(&'a self, _: &'a TokenInfo) -> tower_jwt_auth::RevocationFuture<'a, ()> {
            Box::pin(std::future::pending())
        }
        fn revoke_subject<'a>(
            &'a self,
            _: Option<&'a str>,
            _: &'a str,
            _: u64,
            _: u64,
        ) -> tower_jwt_auth::RevocationFuture<'a, ()> {
            Box::pin(std::future::pending())
        }
    }
    let token = issuer().issue(&json!({ "sub": "ada" })).unwrap();
    let store: Arc<dyn RevocationStore> = Arc::new(Hanging);
    let closed = app(
        store.clone(),
        Revocation::from_arc(store.clone()).timeout(Duration::from_millis(50)),
    )
    .await;
    let reply = call(&closed, "GET", "/me", &token).await;
    assert_eq!(
        described(&reply),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "revocation check timed out".into()
        )
    );
    assert_eq!(reply.json()["error"], "temporarily_unavailable");
    let open = app(
        store.clone(),
        Revocation::from_arc(store)
            .timeout(Duration::from_millis(50))
            .fail_open(true),
    )
    .await;
    assert_eq!(
        call(&open, "GET", "/me", &token).await.status,
        StatusCode::OK
    );
}

/// A store that knows some answers at once (`is_revoked_now`) and must be
/// asked for the others; it counts both kinds of question.
#[derive(Default)]
struct Partly {
    revoked_now: std::sync::Mutex<Vec<String>>,
    asked_now: std::sync::atomic::AtomicUsize,
    asked_later: std::sync::atomic::AtomicUsize,
}

impl RevocationStore for Partly {
    fn is_revoked<'a>(
        &'a self,
        token: &'a TokenInfo,
    ) -> tower_jwt_auth::RevocationFuture<'a, bool> {
        self.asked_later
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let revoked = token.subject() == Some("revoked-later");
        Box::pin(async move {
            tokio::task::yield_now().await;
            Ok(revoked)
        })
    }
    fn is_revoked_now(&self, token: &TokenInfo) -> Option<bool> {
        self.asked_now
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if token.subject()?.ends_with("later") {
            return None;
        }
        let revoked = self.revoked_now.lock().unwrap();
        Some(
            token
                .jti()
                .is_some_and(|jti| revoked.iter().any(|r| r == jti)),
        )
    }
    fn revoke<'a>(&'a self, token: &'a TokenInfo) -> tower_jwt_auth::RevocationFuture<'a, ()> {
        let jti = token.jti().map(str::to_owned);
        Box::pin(async move {
            self.revoked_now.lock().unwrap().extend(jti);
            Ok(())
        })
    }
    fn revoke_subject<'a>(
        &'a self,
        _: Option<&'a str>,
        _: &'a str,
        _: u64,
        _: u64,
    ) -> tower_jwt_auth::RevocationFuture<'a, ()> {
        Box::pin(async { Err("not supported".into()) })
    }
}

#[tokio::test]
async fn a_store_that_answers_at_once_is_not_waited_for() {
    use std::sync::atomic::Ordering::SeqCst;
    // With and without the remembered identities: the same answers.
    for remembered in [tower_jwt_auth::DEFAULT_REMEMBERED_TOKENS, 0] {
        let store = Arc::new(Partly::default());
        let revocation = Revocation::from_arc(store.clone()).remember_tokens(remembered);
        let server = app(store.clone(), revocation).await;
        let issuer = issuer();
        let token = issuer.issue(&json!({ "sub": "ada" })).unwrap();

        // Answered at once, three times; never asked later.
        for _ in 0..3 {
            assert_eq!(
                call(&server, "GET", "/me", &token).await.status,
                StatusCode::OK
            );
        }
        assert_eq!(
            (store.asked_now.load(SeqCst), store.asked_later.load(SeqCst)),
            (3, 0)
        );
        // The handler gets the token's identity, and revokes it with that.
        assert_eq!(
            call(&server, "POST", "/logout", &token).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            described(&call(&server, "GET", "/me", &token).await),
            revoked()
        );
        assert_eq!(store.asked_later.load(SeqCst), 0);

        // A token the store cannot answer at once: asked, and waited for.
        let later = issuer.issue(&json!({ "sub": "fine-later" })).unwrap();
        assert_eq!(
            call(&server, "GET", "/me", &later).await.status,
            StatusCode::OK
        );
        let revoked_later = issuer.issue(&json!({ "sub": "revoked-later" })).unwrap();
        assert_eq!(
            described(&call(&server, "GET", "/me", &revoked_later).await),
            revoked()
        );
        assert_eq!(store.asked_later.load(SeqCst), 2);
    }
}

#[cfg(feature = "redis")]
mod redis {
    use super::*;
    use common::redis::RedisServer;
    use tower_jwt_auth::RedisRevocations;

    async fn instance(redis: &RedisServer, fail_open: bool) -> Server {
        let store: Arc<dyn RevocationStore> =
            Arc::new(RedisRevocations::connect(redis.url()).await.unwrap());
        let revocation = Revocation::from_arc(store.clone())
            .timeout(Duration::from_millis(200))
            .fail_open(fail_open);
        app(store, revocation).await
    }

    #[tokio::test]
    async fn a_token_revoked_on_one_server_is_refused_by_another() {
        let redis = RedisServer::start().await;
        let a = instance(&redis, false).await;
        let b = instance(&redis, false).await;
        let issuer = issuer();
        let token = issuer.issue(&json!({ "sub": "ada" })).unwrap();
        let other = issuer.issue(&json!({ "sub": "ada" })).unwrap();
        assert_eq!(call(&b, "GET", "/me", &token).await.status, StatusCode::OK);
        assert_eq!(
            call(&a, "POST", "/logout", &token).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(described(&call(&b, "GET", "/me", &token).await), revoked());
        assert_eq!(described(&call(&a, "GET", "/me", &token).await), revoked());
        assert_eq!(call(&b, "GET", "/me", &other).await.status, StatusCode::OK);
        // One entry, which expires with the token (plus the leeway).
        assert_eq!(redis.command(&["DBSIZE"]).await.unwrap(), "1");
        let key = redis.command(&["RANDOMKEY"]).await.unwrap();
        let ttl: i64 = redis
            .command(&["TTL", &key])
            .await
            .unwrap()
            .parse()
            .unwrap();
        assert!(ttl > 0 && ttl <= 15 * 60 + 60 + 1, "TTL {ttl}");
    }

    /// Every key of the Redis, with a connection of the redis crate.
    async fn keys(redis: &RedisServer) -> Vec<String> {
        let client = tower_jwt_auth::redis::Client::open(redis.url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        tower_jwt_auth::redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut connection)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_token_without_jti_logged_out_on_one_server_is_refused_by_another() {
        let redis = RedisServer::start().await;
        let a = instance(&redis, false).await;
        let b = instance(&redis, false).await;
        let token = seed_token("ada", 600);
        let other = seed_token("ada", 601);
        assert_eq!(call(&b, "GET", "/me", &token).await.status, StatusCode::OK);
        assert_eq!(
            call(&a, "POST", "/logout", &token).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(described(&call(&b, "GET", "/me", &token).await), revoked());
        assert_eq!(described(&call(&a, "GET", "/me", &token).await), revoked());
        assert_eq!(call(&b, "GET", "/me", &other).await.status, StatusCode::OK);

        // One key, named by the token's digest: Redis never holds the token,
        // nor any of its three parts.
        let digest = TokenInfo::new().with_digest_of(&token);
        let digest = digest.token_digest().expect("a crypto backend");
        let keys = keys(&redis).await;
        assert_eq!(
            keys,
            [format!(
                "{}sha256:{digest}",
                tower_jwt_auth::DEFAULT_KEY_PREFIX
            )]
        );
        for part in token.split('.') {
            assert!(!keys[0].contains(part), "{} holds {part}", keys[0]);
        }
        assert_eq!(redis.command(&["GET", &keys[0]]).await.unwrap(), "1");
        // It expires with the token (600 s), plus the leeway (60 s).
        let ttl: i64 = redis
            .command(&["TTL", &keys[0]])
            .await
            .unwrap()
            .parse()
            .unwrap();
        assert!((600..=661).contains(&ttl), "TTL {ttl}");
    }

    #[tokio::test]
    async fn redis_stopped_mid_test_fails_closed_or_open_by_policy() {
        let mut redis = RedisServer::start().await;
        let closed = instance(&redis, false).await;
        let open = instance(&redis, true).await;
        let token = issuer().issue(&json!({ "sub": "ada" })).unwrap();
        assert_eq!(
            call(&closed, "GET", "/me", &token).await.status,
            StatusCode::OK
        );
        assert_eq!(
            call(&open, "GET", "/me", &token).await.status,
            StatusCode::OK
        );

        redis.kill();
        let reply = call(&closed, "GET", "/me", &token).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            call(&open, "GET", "/me", &token).await.status,
            StatusCode::OK
        );

        // Back up (empty): the connection manager reconnects by itself.
        redis.restart().await;
        let mut status = StatusCode::SERVICE_UNAVAILABLE;
        for _ in 0..50 {
            status = call(&closed, "GET", "/me", &token).await.status;
            if status == StatusCode::OK {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_slow_redis_hits_the_timeout() {
        let redis = RedisServer::start().await;
        let closed = instance(&redis, false).await;
        let token = issuer().issue(&json!({ "sub": "ada" })).unwrap();
        assert_eq!(
            call(&closed, "GET", "/me", &token).await.status,
            StatusCode::OK
        );
        redis.command(&["CLIENT", "PAUSE", "3000"]).await.unwrap();
        let started = std::time::Instant::now();
        let reply = call(&closed, "GET", "/me", &token).await;
        assert_eq!(
            described(&reply),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "revocation check timed out".into()
            )
        );
        // Answered by the 200 ms timeout, long before the pause ends.
        assert!(started.elapsed() < Duration::from_millis(2000));
    }
}

/// A form-field token waits for the revocation check too, and the handler
/// still receives the very body that was sent.
#[tokio::test]
async fn a_form_token_is_checked_and_its_body_passed_on() {
    use axum::body::Body;
    use axum::http::header::CONTENT_TYPE;
    let store = Arc::new(MemoryRevocations::new());
    let layer = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .form_field("token")
        .revocation(Revocation::from_arc(store.clone()))
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/echo",
            post(
                |Extension(token): Extension<TokenInfo>, body: Bytes| async move {
                    format!(
                        "{}|{}",
                        token.subject().unwrap_or_default(),
                        String::from_utf8_lossy(&body)
                    )
                },
            ),
        )
        .layer(layer);
    let server = serve_axum(app).await;
    let token = issuer().issue(&json!({ "sub": "ada" })).unwrap();
    let form = format!("note=hello%20there&token={token}");
    let post_form = || {
        Request::post(server.url("/echo"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.clone()))
            .unwrap()
    };
    let reply = send(post_form()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), format!("ada|{form}"));

    // The token's identity, read back from its payload.
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let info = TokenInfo::new()
        .with_jti(claims["jti"].as_str().unwrap())
        .with_subject("ada")
        .with_expires_at(claims["exp"].as_u64().unwrap());
    store.revoke(&info).await.unwrap();
    assert_eq!(described(&send(post_form()).await), revoked());
}
