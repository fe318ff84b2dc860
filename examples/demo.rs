//! A complete login flow on axum: a login endpoint issues tokens, a protected
//! route reads the verified claims, a logout endpoint revokes them, and a small
//! page in the browser drives all three.
//!
//! It shows [`TokenIssuer`] behind `POST /login` (JSON or HTML form), and
//! [`JwtAuthLayer`] as a `route_layer` on `/api/me` and `/logout`, with the
//! claims read through `axum::Extension<Claims<C>>` (no crate feature needed).
//! The layer takes the token from the `Authorization: Bearer` header (as
//! scripts send it) or from the `token` field of a posted HTML form (as a plain
//! browser form sends it: browsers cannot set headers on a form submission).
//! The form handler of `POST /api/me` parses the same body again for its own
//! `note` field: the layer hands it over intact.
//!
//! Every token carries a `jti`, and the layer checks each one against a
//! [`Revocation`] store after verification. `POST /logout` revokes the
//! presented token (the handler reads its [`TokenInfo`] from the request's
//! extensions); from then on it is refused with `401` and
//! `error_description="token revoked"` on every route. `POST
//! /logout?everywhere=1` revokes every token of the user issued until now
//! (including any issued later in that same second: `iat` counts whole seconds).
//!
//! Run it with no setup:
//!
//! ```sh
//! cargo run --example demo
//! ```
//!
//! It listens on `DEMO_ADDR` (default `127.0.0.1:3000`), prints its demo users
//! and its revocation store, and signs tokens with the bytes of `JWT_SECRET`, or
//! with a random secret when that is unset (tokens then do not survive a
//! restart). `RUST_LOG` sets the log filter (default `info`). Open
//! <http://127.0.0.1:3000/>, or:
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
//!
//! # The same with the token in a form field, plus a note the handler echoes.
//! curl -d "token=$TOKEN" localhost:3000/api/me
//! curl -d "token=$TOKEN" -d note=hello localhost:3000/api/me
//!
//! # Log out: 204, then 401 "token revoked" for that token everywhere.
//! curl -i -X POST localhost:3000/logout -H "authorization: Bearer $TOKEN"
//! curl -i localhost:3000/api/me -H "authorization: Bearer $TOKEN"
//!
//! # Or revoke every token of the user issued until now (any one of them will do).
//! curl -i -X POST 'localhost:3000/logout?everywhere=1' -H "authorization: Bearer $TOKEN"
//! ```
//!
//! `POST /api/me` and `POST /logout` answer JSON (or `204`), or a small HTML
//! page to a client that asks for HTML (a browser submitting the page's forms).
//!
//! # Several instances
//!
//! By default revocations live in this process's memory
//! ([`MemoryRevocations`]). Built with the `redis` feature and given
//! `REDIS_URL`, the demo keeps them in Redis instead (`RedisRevocations`), so
//! that a token logged out on one instance is refused by every other. The
//! instances must share both `JWT_SECRET` (to accept each other's tokens) and
//! `REDIS_URL` (to see each other's revocations):
//!
//! ```sh
//! export JWT_SECRET=a-secret-of-at-least-32-bytes-for-hs256 REDIS_URL=redis://127.0.0.1:6379/
//! DEMO_ADDR=127.0.0.1:3000 cargo run --example demo --features redis &
//! DEMO_ADDR=127.0.0.1:3001 cargo run --example demo --features redis &
//! # Log in on :3000, log out on :3000, and :3001 answers 401 "token revoked".
//! ```
//!
//! A Redis that cannot be reached at startup stops the demo with a message; a
//! `REDIS_URL` given to a demo built without the `redis` feature does too,
//! rather than let it revoke tokens that other instances would still accept.
//! Once running, a check the store cannot answer is `503` (the layer fails
//! closed).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_jwt_auth::{
    Claims, JwtAuthLayer, Key, MemoryRevocations, Revocation, RevocationStore, TokenInfo,
    TokenIssuer, TokenSource,
};
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:3000";
const TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// How long the startup waits for a first connection to Redis.
#[cfg(feature = "redis")]
const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

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
    let revocations = match revocation_store().await {
        Ok(store) => store,
        Err(message) => {
            eprintln!("demo: {message}");
            std::process::exit(1);
        }
    };
    // A `jti` in every token, so that one token can be revoked by itself.
    let issuer = TokenIssuer::hmac(&secret)
        .ttl(TOKEN_TTL)
        .jti(true)
        .build()?;
    let auth = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(&secret))
        .required_claims(["sub", "exp", "iat", "jti"])
        // The header for scripts, the form field for plain HTML forms. The
        // body is read only for a form post that carries no header token.
        .source(TokenSource::bearer())
        .form_field("token")
        // After verification, ask the store whether the token was revoked;
        // accepted requests then carry its `TokenInfo` for the logout handler.
        .revocation(Revocation::from_arc(revocations.clone()))
        .build()?;

    let app = Router::new()
        .route("/api/me", get(me).post(me_form))
        .route("/logout", post(logout))
        // Only the routes above are protected; the page and the login stay open.
        .route_layer(auth)
        .route("/", get(page))
        .route("/login", post(login))
        .layer(middleware::from_fn(log_request))
        .with_state(AppState {
            issuer,
            revocations,
        });

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
    println!(
        "JWT_SECRET is unset: using a random secret; tokens do not survive a restart, \
         and no other instance accepts them"
    );
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

/// What the handlers share: the issuer of tokens and the store that revokes
/// them (the layer checks with the same store).
#[derive(Clone)]
struct AppState {
    issuer: TokenIssuer,
    revocations: Arc<dyn RevocationStore>,
}

/// The revocation store: Redis when `REDIS_URL` is set (feature `redis`),
/// else this process's memory. Prints which; `Err` is the message to stop with.
async fn revocation_store() -> Result<Arc<dyn RevocationStore>, String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => redis_store(&url).await,
        _ => {
            println!(
                "revocation store: in memory (this process only; \
                 see the docs of examples/demo.rs to share one through Redis)"
            );
            Ok(Arc::new(MemoryRevocations::new()))
        }
    }
}

/// Connects to the Redis at `url`, within [`REDIS_CONNECT_TIMEOUT`].
#[cfg(feature = "redis")]
async fn redis_store(url: &str) -> Result<Arc<dyn RevocationStore>, String> {
    use tower_jwt_auth::RedisRevocations;
    use tower_jwt_auth::redis::IntoConnectionInfo;

    let info = url
        .into_connection_info()
        .map_err(|error| format!("REDIS_URL is not a Redis URL: {error}"))?;
    // Host and port only: the URL may hold a password.
    let addr = info.addr().to_string();
    match tokio::time::timeout(REDIS_CONNECT_TIMEOUT, RedisRevocations::connect(info)).await {
        Ok(Ok(store)) => {
            println!("revocation store: Redis at {addr} (shared by every instance using it)");
            Ok(Arc::new(store))
        }
        Ok(Err(error)) => Err(format!(
            "cannot reach Redis at {addr} (REDIS_URL): {error}; start it, or unset \
             REDIS_URL to keep revocations in memory"
        )),
        Err(_) => Err(format!(
            "cannot reach Redis at {addr} (REDIS_URL): no answer within {} s; start it, \
             or unset REDIS_URL to keep revocations in memory",
            REDIS_CONNECT_TIMEOUT.as_secs()
        )),
    }
}

/// Without the `redis` feature a `REDIS_URL` is a mistake: running with a
/// store of its own, this instance would miss every other's revocations.
#[cfg(not(feature = "redis"))]
async fn redis_store(_url: &str) -> Result<Arc<dyn RevocationStore>, String> {
    Err(
        "REDIS_URL is set, but this demo was built without the `redis` feature: run \
         `cargo run --example demo --features redis`, or unset REDIS_URL to keep \
         revocations in memory"
            .to_owned(),
    )
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
async fn login(State(state): State<AppState>, credentials: Credentials) -> Response {
    let Some(user) = authenticate(&credentials) else {
        let body = json!({ "error": "invalid_credentials" });
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    };
    let claims = json!({ "sub": user.username, "name": user.name });
    match state.issuer.issue(&claims) {
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

/// The protected form's own field. Its `token` field is the layer's: serde
/// skips it as an unknown field.
#[derive(Deserialize)]
struct NoteForm {
    #[serde(default)]
    note: String,
}

/// `POST /api/me`: the verified claims and the form's note, as JSON or, for a
/// browser, as a page.
async fn me_form(
    Extension(Claims(claims)): Extension<Claims<Value>>,
    headers: HeaderMap,
    Form(form): Form<NoteForm>,
) -> Response {
    if wants_html(&headers) {
        Html(data_page(&claims, &form.note)).into_response()
    } else {
        Json(json!({ "claims": claims, "note": form.note })).into_response()
    }
}

/// The query of `POST /logout`.
#[derive(Deserialize)]
struct LogoutParams {
    everywhere: Option<String>,
}

/// `POST /logout`: revokes the presented token (or, with `?everywhere=1`,
/// every token of its subject issued until now). `204` for a script, a page
/// for a browser; from then on the layer refuses the token on every route.
///
/// The layer has verified the token and found it not revoked; its
/// `TokenInfo` (`jti`, `sub`, `iat`, `exp`) is what the store needs.
async fn logout(
    State(state): State<AppState>,
    Extension(token): Extension<TokenInfo>,
    Query(params): Query<LogoutParams>,
    headers: HeaderMap,
) -> Response {
    let everywhere = match params.everywhere.as_deref() {
        None | Some("0" | "false") => false,
        Some("1" | "true") => true,
        Some(_) => return invalid_request("`everywhere` must be 1 or 0"),
    };
    let revoked = if everywhere {
        // The layer requires `sub`; a token without one never gets here.
        let Some(subject) = token.subject() else {
            return invalid_request("the token has no `sub`");
        };
        // `iat` counts whole seconds: `now + 1` includes the presented token,
        // and the entry lasts as long as the last token it covers.
        let now = unix_now();
        state
            .revocations
            .revoke_subject(token.issuer(), subject, now + 1, now + TOKEN_TTL.as_secs())
            .await
    } else {
        state.revocations.revoke(&token).await
    };
    if let Err(error) = revoked {
        // The store's error, never the token or its claims.
        tracing::warn!(%error, "could not revoke a token");
        let body = json!({
            "error": "temporarily_unavailable",
            "error_description": "could not revoke the token; try again",
        });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    if wants_html(&headers) {
        Html(logged_out_page(everywhere)).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

fn invalid_request(description: &str) -> Response {
    let body = json!({ "error": "invalid_request", "error_description": description });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// Now, in Unix seconds.
fn unix_now() -> u64 {
    // A clock before 1970 is not worth a panic in a demo: count it as 1970.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether the client asked for HTML, as browsers do when they navigate.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// The answer page of the protected form: one row per claim, then the note.
fn data_page(claims: &Value, note: &str) -> String {
    let mut rows = String::new();
    for (name, value) in claims.as_object().into_iter().flatten() {
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let (name, value) = (escape_html(name), escape_html(&value));
        rows += &format!("    <tr><th>{name}</th><td>{value}</td></tr>\n");
    }
    let note = escape_html(note);
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tower-jwt-auth demo: protected data</title>
{STYLE}
</head>
<body>
<h1>Protected data</h1>
<section id="data">
  <h2>The token's verified claims</h2>
  <table id="claims">
{rows}  </table>
  <h2>Your note</h2>
  <pre id="note">{note}</pre>
</section>
<p><a href="/">Back to the demo</a> (the page forgets the token, but it stays
  valid until it expires: log out to revoke it)</p>
</body>
</html>
"#
    )
}

/// The answer page of the logout form.
fn logged_out_page(everywhere: bool) -> String {
    let what = if everywhere {
        "Every token of yours issued until now is revoked"
    } else {
        "Your token is revoked"
    };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tower-jwt-auth demo: logged out</title>
{STYLE}
</head>
<body>
<h1>Logged out</h1>
<p id="logged-out">{what}: every route now answers it with
  <code>401</code>, <code>token revoked</code>, on every demo instance that shares
  this one's revocation store.</p>
<p>Go back and post the protected form again, or call
  <code>GET /api/me</code> from the script, to see it refused.</p>
<p><a href="/">Back to the demo</a></p>
</body>
</html>
"#
    )
}

/// The claims and the note are data, never markup: a note of `<script>` must
/// show as text.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
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
async fn page() -> Html<String> {
    Html(PAGE.replace("{style}", STYLE))
}

/// The shared look of both pages.
const STYLE: &str = "<style>
  body { font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  form, section { border: 1px solid #ccc; border-radius: 6px; padding: 1rem; margin: 1rem 0; }
  h2 { margin-top: 0; font-size: 1.2rem; }
  label { display: block; margin: .4rem 0; }
  input[type=text], input[type=password] { width: 14rem; }
  pre { background: #f4f4f4; padding: .6rem; white-space: pre-wrap; word-break: break-all; min-height: 1.2rem; }
  table { border-collapse: collapse; margin: .5rem 0; }
  th, td { text-align: left; padding: .25rem .8rem .25rem 0; border-bottom: 1px solid #eee; }
  .hint { color: #666; font-size: .9rem; }
</style>";

/// `GET /`: log in with a script, then post the protected form natively (the
/// token in a hidden field, as the seed application reads
/// `request.form['token']`), or call the route from a script with the header;
/// log out with another native form, and see the token refused.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tower-jwt-auth demo</title>
{style}
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
  <h2>2. Post the protected form</h2>
  <p class="hint">A plain form submission: the browser posts the token in the
    hidden <code>token</code> field, filled in at login.</p>
  <input type="hidden" name="token">
  <label>Note <input type="text" name="note" value="hello from the form"></label>
  <button type="submit">POST /api/me</button>
</form>

<section>
  <h2>3. Or call it from a script</h2>
  <p class="hint">A script can send the token in the <code>Authorization</code> header.</p>
  <label><input type="checkbox" id="send-token" checked> send the token</label>
  <button type="button" id="fetch-me">GET /api/me</button>
  <pre id="me-out"></pre>
</section>

<form id="logout" method="post" action="/logout">
  <h2>4. Log out</h2>
  <p class="hint">Revokes the token (posted in the hidden <code>token</code>
    field): from then on every route refuses it with <code>401</code>, on every
    demo instance sharing this one's revocation store. Then go back and try 2 or 3.</p>
  <input type="hidden" name="token">
  <button type="submit" id="log-out">Log out</button>
  <button type="submit" id="log-out-everywhere" formaction="/logout?everywhere=1">Log out everywhere</button>
</form>

<script>
  // The token lives in the hidden fields only (not in localStorage).
  const $ = (id) => document.getElementById(id);
  const tokenField = $("protected").elements.token;
  const setToken = (token) => {
    tokenField.value = token;
    $("logout").elements.token.value = token;
  };

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/login", {
      method: "POST",
      body: new URLSearchParams(new FormData(event.target)),
    });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      setToken(body.token);
      $("token-out").textContent = body.token;
    } else {
      setToken("");
      $("token-out").textContent = response.status + " " + JSON.stringify(body);
    }
  });

  // Back from an answer page, the browser may restore the hidden fields: show
  // the token the protected form holds, and give the same to the logout form.
  window.addEventListener("pageshow", () => {
    setToken(tokenField.value);
    $("token-out").textContent = tokenField.value;
  });

  $("fetch-me").addEventListener("click", async () => {
    const headers = {};
    if (tokenField.value && $("send-token").checked) {
      headers["Authorization"] = "Bearer " + tokenField.value;
    }
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
