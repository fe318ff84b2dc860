//! A custom [`ErrorResponder`] that answers like the classic Python sample this
//! project grew from (`valid_token(request)` in a Flask app):
//!
//! | cause | body |
//! |---|---|
//! | no token | `{"code": 1003, "error": "Please login in"}` |
//! | expired | `{"code": 1003, "error": "Token is timeout"}` |
//! | undecodable (PyJWT's `DecodeError`: garbled, too long, bad signature) | `{"code": 1003, "error": "Token validation failed"}` |
//! | anything else (wrong claims, unknown algorithm, ...) | `{"code": 1003, "error": "Token is invalid"}` |
//!
//! and a valid token reaches the handler, which answers `{"code": 1002, ...}`.
//! The status is the error's own: 401, or 400 for a malformed request (two
//! different tokens, or an `Authorization: Bearer` header without a token).
//!
//! ```sh
//! cargo run --example custom_error
//! ```
//!
//! It listens on `ADDR` (default `127.0.0.1:3002`) and prints a valid and an
//! expired token with curl commands to try them. The responder is
//! [`SeedResponder`] below: copy it as it is.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;

use axum::routing::get;
use axum::{Extension, Json, Router};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use serde_json::{Value, json};
use tower_jwt_auth::{
    AuthError, AuthErrorKind, Claims, Clock, ErrorResponder, JwtAuthLayer, Key, SystemClock,
    TokenIssuer,
};

// ---------------------------------------------------------------------------
// The responder.
// ---------------------------------------------------------------------------

/// Answers refused requests with the seed application's JSON:
/// `{"code": 1003, "error": "<message>"}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeedResponder;

/// The seed's code for "not logged in / bad token".
const CODE_DENIED: u16 = 1003;

impl SeedResponder {
    /// The seed's message for each cause.
    fn message(kind: AuthErrorKind) -> &'static str {
        match kind {
            AuthErrorKind::MissingToken => "Please login in",
            AuthErrorKind::Expired => "Token is timeout",
            kind if kind.is_undecodable() => "Token validation failed",
            _ => "Token is invalid",
        }
    }
}

impl ErrorResponder for SeedResponder {
    fn respond(&self, error: &AuthError) -> Response<Bytes> {
        let body = json!({ "code": CODE_DENIED, "error": Self::message(error.kind()) });
        let mut response = Response::new(Bytes::from(body.to_string()));
        // 401, or 400 for a malformed request (see `AuthErrorKind::status`).
        *response.status_mut() = error.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // HTTP requires a challenge with every 401 (RFC 9110 §15.5.2); the seed
        // had none, but clients ignore what they do not need.
        if error.status() == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

// ---------------------------------------------------------------------------
// The server around it.
// ---------------------------------------------------------------------------

const DEFAULT_ADDR: &str = "127.0.0.1:3002";

/// The seed's success code.
const CODE_OK: u16 = 1002;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = random_secret();
    let auth = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(secret))
        .responder(SeedResponder)
        .build()?;
    let app = Router::new()
        // POST too: the seed's clients posted forms.
        .route("/api/me", get(me).post(me))
        .route_layer(auth);

    let addr: SocketAddr = std::env::var("ADDR")
        .unwrap_or_else(|_| DEFAULT_ADDR.to_owned())
        .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    print_tokens(&secret, addr)?;

    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            // An error means no signal handler could be installed: then run
            // until killed rather than stop at once.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await?;
    Ok(())
}

/// The protected route: the seed's success answer.
async fn me(Extension(Claims(claims)): Extension<Claims<Value>>) -> Json<Value> {
    Json(json!({ "code": CODE_OK, "sub": claims["sub"] }))
}

/// Prints a valid and an expired token, and a curl command for each case.
fn print_tokens(secret: &[u8], addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let claims = json!({ "sub": "ada" });
    let valid = TokenIssuer::hmac(secret).build()?.issue(&claims)?;
    // Issued two hours ago with a one-hour TTL: expired, well past the leeway.
    let two_hours_ago = || SystemClock.now().saturating_sub(2 * 3600);
    let expired = TokenIssuer::hmac(secret)
        .clock(two_hours_ago)
        .ttl(std::time::Duration::from_secs(3600))
        .build()?
        .issue(&claims)?;
    let url = format!("http://{addr}/api/me");
    println!("custom_error listening on http://{addr}");
    println!("valid token: {valid}");
    println!("expired token: {expired}");
    println!("try:");
    println!("  curl -s {url}                                        # Please login in");
    println!("  curl -s {url} -H 'authorization: Bearer {expired}'   # Token is timeout");
    println!("  curl -s {url} -H 'authorization: Bearer garbage'     # Token validation failed");
    println!("  curl -s {url} -H 'authorization: Bearer {valid}'     # code 1002");
    Ok(())
}

/// A 32-byte secret for this run, without a random-number dependency: each
/// `RandomState` hashes with SipHash keys the standard library draws from the
/// operating system's random source. Tokens live only as long as the process.
fn random_secret() -> [u8; 32] {
    let mut secret = [0; 32];
    for (i, chunk) in secret.chunks_mut(8).enumerate() {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_usize(i);
        chunk.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    secret
}
