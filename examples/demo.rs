//! A complete login flow on axum: a login endpoint issues tokens, a protected
//! route reads the verified claims, and a small page in the browser drives both.
//!
//! It shows [`TokenIssuer`] behind `POST /login` (JSON or HTML form), and
//! [`JwtAuthLayer`] as a `route_layer` on `GET /api/me`, with the claims read
//! through `axum::Extension<Claims<C>>` (no crate feature needed).
//!
//! Run it with no setup:
//!
//! ```sh
//! cargo run --example demo
//! ```
//!
//! It listens on `DEMO_ADDR` (default `127.0.0.1:3000`), prints its demo users,
//! and signs tokens with the bytes of `JWT_SECRET`, or with a random secret when
//! that is unset (tokens then do not survive a restart). `RUST_LOG` sets the log
//! filter (default `info`). Open <http://127.0.0.1:3000/>, or:
//!
//! ```sh
//! # Log in (JSON or form) and keep the token.
//! TOKEN=$(curl -s localhost:3000/login -H 'content-type: application/json' \
//!   -d '{"username":"ada","password":"lovelace"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
//! curl -s localhost:3000/login -d username=alan -d password=turing
//!
//! # The protected route: 200 with the claims, or 401 and `WWW-Authenticate`.
//! curl -i localhost:3000/api/me -H "authorization: Bearer $TOKEN"
//! curl -i localhost:3000/api/me
//! ```

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_jwt_auth::{Claims, JwtAuthLayer, Key, TokenIssuer};
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:3000";
const TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// A demo user: login name, password, display name (the `name` claim).
struct User {
    username: &'static str,
    password: &'static str,
    name: &'static str,
}

const USERS: [User; 2] = [
    User {
        username: "ada",
        password: "lovelace",
        name: "Ada Lovelace",
    },
    User {
        username: "alan",
        password: "turing",
        name: "Alan Turing",
    },
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let secret = secret_from_env_or_random();
    let issuer = TokenIssuer::hmac(&secret).ttl(TOKEN_TTL).build()?;
    let auth = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(&secret))
        .required_claims(["sub", "exp"])
        .build()?;

    let app = Router::new()
        .route("/api/me", get(me))
        // Only the routes above are protected; the page and the login stay open.
        .route_layer(auth)
        .route("/", get(page))
        .route("/login", post(login))
        .layer(middleware::from_fn(log_request))
        .with_state(issuer);

    let addr: SocketAddr = std::env::var("DEMO_ADDR")
        .unwrap_or_else(|_| DEFAULT_ADDR.to_owned())
        .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("demo listening on http://{}", listener.local_addr()?);
    for user in &USERS {
        println!("demo user: {} / {}", user.username, user.password);
    }

    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            // An error means no signal handler could be installed: then run
            // until killed rather than stop at once.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            println!("shutting down");
        })
        .await?;
    Ok(())
}

/// The HMAC secret: the raw bytes of `JWT_SECRET`, or 32 random bytes.
fn secret_from_env_or_random() -> Vec<u8> {
    if let Some(secret) = std::env::var_os("JWT_SECRET").filter(|s| !s.is_empty()) {
        if secret.len() < 32 {
            // RFC 7518 §3.2: an HS256 key should be at least as long as the hash.
            println!("warning: JWT_SECRET is shorter than 32 bytes");
        }
        return secret.into_encoded_bytes();
    }
    println!("JWT_SECRET is unset: using a random secret; tokens do not survive a restart");
    random_secret()
}

/// 32 random bytes without a random-number dependency. `/dev/urandom` is the
/// operating system's CSPRNG: all 256 bits are random. Where it does not exist
/// (Windows), the standard library's `RandomState` is the portable fallback: its
/// SipHash keys come from the OS's random source once per thread, so its output
/// carries 128 bits of randomness, still plenty for a demo secret.
fn random_secret() -> Vec<u8> {
    let mut secret = vec![0; 32];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut secret));
    if read.is_err() {
        for (i, chunk) in secret.chunks_mut(8).enumerate() {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_usize(i);
            chunk.copy_from_slice(&hasher.finish().to_le_bytes());
        }
    }
    secret
}

/// Login credentials, from a JSON body or an HTML form.
#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

impl<S: Send + Sync> FromRequest<S> for Credentials {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let parsed = if is_form {
            Form::<Credentials>::from_request(request, state)
                .await
                .map(|Form(c)| c)
                .map_err(|e| (e.status(), e.body_text()))
        } else {
            Json::<Credentials>::from_request(request, state)
                .await
                .map(|Json(c)| c)
                .map_err(|e| (e.status(), e.body_text()))
        };
        parsed.map_err(|(status, text)| {
            let body = json!({ "error": "invalid_request", "error_description": text });
            (status, Json(body)).into_response()
        })
    }
}

/// `POST /login`: a token for a known user, 401 for anyone else.
async fn login(State(issuer): State<TokenIssuer>, credentials: Credentials) -> Response {
    let Some(user) = authenticate(&credentials) else {
        let body = json!({ "error": "invalid_credentials" });
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    };
    let claims = json!({ "sub": user.username, "name": user.name });
    match issuer.issue(&claims) {
        Ok(token) => {
            let body = json!({
                "token": token,
                "token_type": "Bearer",
                "expires_in": TOKEN_TTL.as_secs(),
            });
            // RFC 6749 §5.1: responses carrying tokens must not be cached.
            ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "could not issue a token");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn authenticate(credentials: &Credentials) -> Option<&'static User> {
    let user = USERS.iter().find(|u| u.username == credentials.username)?;
    same_bytes(user.password.as_bytes(), credentials.password.as_bytes()).then_some(user)
}

/// Compares every byte instead of stopping at the first difference, so the
/// response time does not tell an attacker how much of a guess was right. (The
/// length still shows; real applications store password hashes, not passwords.)
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /api/me`: the verified claims of the request's token.
async fn me(Extension(Claims(claims)): Extension<Claims<Value>>) -> Json<Value> {
    Json(claims)
}

/// One line per request. Only the path is logged: the query string may hold a
/// token, and headers (`Authorization`) are never logged.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        latency_us = start.elapsed().as_micros() as u64,
        "request"
    );
    response
}

/// `GET /`: the page.
async fn page() -> Html<&'static str> {
    Html(PAGE)
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tower-jwt-auth demo</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  form { border: 1px solid #ccc; border-radius: 6px; padding: 1rem; margin: 1rem 0; }
  label { display: block; margin: .4rem 0; }
  input[type=text], input[type=password] { width: 14rem; }
  pre { background: #f4f4f4; padding: .6rem; white-space: pre-wrap; word-break: break-all; min-height: 1.2rem; }
  .hint { color: #666; font-size: .9rem; }
</style>
</head>
<body>
<h1>tower-jwt-auth demo</h1>
<p class="hint">Users: ada / lovelace, alan / turing.</p>

<form id="login" method="post" action="/login">
  <h2>1. Log in</h2>
  <label>Username <input type="text" name="username" value="ada" autocomplete="username"></label>
  <label>Password <input type="password" name="password" autocomplete="current-password"></label>
  <button type="submit">Log in</button>
  <p>Token:</p>
  <pre id="token-out"></pre>
</form>

<form id="protected" method="post" action="/api/me">
  <h2>2. Call the protected route</h2>
  <!-- Filled in after login. A later version of the layer reads tokens from
       form fields too; then this form will post the token in this field.
       For now the script sends it in the Authorization header. -->
  <input type="hidden" name="token">
  <label><input type="checkbox" id="send-token" checked> send the token</label>
  <button type="submit">GET /api/me</button>
  <pre id="me-out"></pre>
</form>

<script>
  // Kept in memory only (not localStorage): a reload logs you out.
  let token = null;
  const $ = (id) => document.getElementById(id);

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/login", {
      method: "POST",
      body: new URLSearchParams(new FormData(event.target)),
    });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      token = body.token;
      $("protected").elements.token.value = token;
      $("token-out").textContent = token;
    } else {
      token = null;
      $("token-out").textContent = response.status + " " + JSON.stringify(body);
    }
  });

  $("protected").addEventListener("submit", async (event) => {
    event.preventDefault();
    const headers = {};
    if (token && $("send-token").checked) headers["Authorization"] = "Bearer " + token;
    const response = await fetch("/api/me", { headers });
    const text = await response.text();
    let out = response.status + " " + response.statusText + "\n";
    const challenge = response.headers.get("WWW-Authenticate");
    if (challenge) out += "WWW-Authenticate: " + challenge + "\n";
    try { out += JSON.stringify(JSON.parse(text), null, 2); } catch { out += text; }
    $("me-out").textContent = out;
  });
</script>
</body>
</html>
"#;
