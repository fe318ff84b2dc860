//! The verified-token cache (`JwtAuthBuilder::token_cache`), observed through
//! the service: how many signatures are checked (a counting crypto provider),
//! and what a hit answers as the clock moves.
#![cfg(all(feature = "token-cache", feature = "aws-lc-rs"))]

use std::cell::Cell;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use http::{Request, Response, StatusCode};
use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt, service_fn};
use tower_jwt_auth::{
    AuthError, AuthErrorKind, Claims, Clock, ConfigError, JwtAuthBuilder, JwtAuthLayer, Key,
};

const SECRET: &[u8] = b"token cache secret, 32 bytes long";
const NOW: u64 = 1_800_000_000;

thread_local! {
    /// Signature checks made on this thread. Tests run on several threads at
    /// once; each `#[tokio::test]` runs its runtime, and so every verification
    /// of its layer, on its own thread, so a thread's count is its test's alone.
    static CHECKS: Cell<usize> = const { Cell::new(0) };
}

fn checks() -> usize {
    CHECKS.with(Cell::get)
}

fn counting_factory(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    CHECKS.with(|checks| checks.set(checks.get() + 1));
    (jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.verifier_factory)(algorithm, key)
}

/// aws-lc-rs, counting every signature check (one verifier per check).
static COUNTING: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    verifier_factory: counting_factory,
    ..jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.clone()
});

#[derive(Clone)]
struct TestClock(Arc<AtomicU64>);

impl Clock for TestClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn token(claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

/// Calls a cached layer and reports the status, the error kind and the `sub`.
struct Harness {
    layer: JwtAuthLayer<Value>,
    clock: Arc<AtomicU64>,
}

impl Harness {
    fn new() -> Self {
        Self::with(|builder| builder)
    }

    /// A harness whose builder `configure` adds to.
    fn with(configure: impl FnOnce(JwtAuthBuilder<Value>) -> JwtAuthBuilder<Value>) -> Self {
        let clock = Arc::new(AtomicU64::new(NOW));
        let builder = JwtAuthLayer::builder()
            .key(Key::hmac(SECRET))
            .crypto_provider(&COUNTING)
            .clock(TestClock(clock.clone()))
            .leeway(std::time::Duration::from_secs(10))
            .token_cache(100);
        let layer = configure(builder).build().unwrap();
        Self { layer, clock }
    }

    async fn call(&self, token: &str) -> (StatusCode, Option<AuthErrorKind>, Value) {
        let inner = service_fn(|req: Request<()>| async move {
            let claims = req.extensions().get::<Claims<Value>>().cloned().unwrap();
            Ok::<_, Infallible>(Response::new(claims.0["sub"].to_string()))
        });
        let response = self
            .layer
            .layer(inner)
            .oneshot(
                Request::get("/")
                    .header("authorization", format!("Bearer {token}"))
                    .body(())
                    .unwrap(),
            )
            .await
            .unwrap();
        let kind = response
            .extensions()
            .get::<AuthError>()
            .map(AuthError::kind);
        let status = response.status();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let sub = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, kind, sub)
    }
}

#[tokio::test]
async fn a_token_sent_again_is_not_verified_again() {
    let harness = Harness::new();
    let ada = token(json!({ "sub": "ada", "exp": NOW + 3600 }));
    let bob = token(json!({ "sub": "bob", "exp": NOW + 3600 }));
    let before = checks();
    for _ in 0..5 {
        assert_eq!(harness.call(&ada).await.2, "ada");
        assert_eq!(harness.call(&bob).await.2, "bob");
    }
    assert_eq!(checks() - before, 2);
}

#[tokio::test]
async fn a_refused_token_is_never_cached_and_a_near_twin_is_not_a_hit() {
    let harness = Harness::new();
    let good = token(json!({ "sub": "ada", "exp": NOW + 3600 }));
    assert_eq!(harness.call(&good).await.0, StatusCode::OK);
    // The same token with its last signature character changed: a different
    // key in the cache, so it is verified, and refused.
    let (message, signature) = good.rsplit_once('.').unwrap();
    let last = if signature.ends_with('A') { 'Q' } else { 'A' };
    let twin = format!("{message}.{}{last}", &signature[..signature.len() - 1]);
    let before = checks();
    for _ in 0..3 {
        let (status, kind, _) = harness.call(&twin).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(kind, Some(AuthErrorKind::InvalidSignature));
    }
    assert_eq!(checks() - before, 3, "refusals are not cached");
    // A token whose claims are refused is not cached either.
    let expired = token(json!({ "sub": "ada", "exp": NOW - 3600 }));
    for _ in 0..2 {
        assert_eq!(harness.call(&expired).await.1, Some(AuthErrorKind::Expired));
    }
}

#[tokio::test]
async fn every_hit_checks_exp_and_nbf_again() {
    let harness = Harness::new();
    let token = token(json!({ "sub": "ada", "nbf": NOW - 5, "exp": NOW + 100 }));
    assert_eq!(harness.call(&token).await.0, StatusCode::OK);
    assert_eq!(harness.call(&token).await.0, StatusCode::OK);
    // exp + leeway is the first refused instant, as for a full verification.
    harness.clock.store(NOW + 109, Ordering::SeqCst);
    assert_eq!(harness.call(&token).await.0, StatusCode::OK);
    harness.clock.store(NOW + 110, Ordering::SeqCst);
    assert_eq!(harness.call(&token).await.1, Some(AuthErrorKind::Expired));
    // A clock set back before nbf - leeway refuses it too.
    harness.clock.store(NOW, Ordering::SeqCst);
    assert_eq!(harness.call(&token).await.0, StatusCode::OK);
    harness.clock.store(NOW - 16, Ordering::SeqCst);
    assert_eq!(
        harness.call(&token).await.1,
        Some(AuthErrorKind::NotYetValid)
    );
}

#[tokio::test]
async fn a_hit_compares_only_the_times_the_layer_compares() {
    let harness = Harness::with(|b| b.dangerous_skip_exp_check().dangerous_skip_nbf_check());
    let token = token(json!({ "sub": "ada", "nbf": NOW - 5, "exp": NOW + 100 }));
    let before = checks();
    for now in [NOW, NOW + 10_000, NOW - 10_000] {
        harness.clock.store(now, Ordering::SeqCst);
        assert_eq!(harness.call(&token).await.0, StatusCode::OK, "at {now}");
    }
    assert_eq!(checks() - before, 1, "verified once, then hits");
}

#[test]
fn a_cache_of_nothing_is_a_configuration_error() {
    let result = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .token_cache(0)
        .build();
    assert!(matches!(
        result,
        Err(ConfigError::Empty {
            setting: "token_cache"
        })
    ));
}
