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
//! The demo accepts any token signed with its key that carries `sub` and
//! `exp`, the claims the seed application's PyJWT tokens carry; its own login
//! adds `iat` and a `jti`. After verification the layer checks each token
//! against a [`Revocation`] store. `POST /logout` revokes the presented token
//! (the handler reads its [`TokenInfo`] from the request's extensions): by its
//! `jti`, or, for a token without one, by the SHA-256 digest of the whole token
//! (the store keeps the digest, never the token). From then on it is refused
//! with `401` and `error_description="token revoked"` on every route. `POST
//! /logout?everywhere=1` revokes every token of the user issued until now
//! (including any issued later in that same second: `iat` counts whole
//! seconds). A token without `iat` cannot say when it was issued, so a logout
//! everywhere refuses *every* token of the user without `iat` while it lasts
//! (15 minutes, or until the presented token's `exp` if later), even one made
//! after it; tokens with `iat` issued afterwards are accepted.
//!
//! Run it with no setup:
//!
//! ```sh
//! cargo run --example demo
//! ```
//!
//! It listens on `DEMO_ADDR` (default `127.0.0.1:3000`), prints its demo users
//! and its revocation store. `RUST_LOG` sets the log filter (default `info`).
//!
//! It signs tokens with ES256 keys generated at start, on a [`KeyRing`] that
//! rotates every `DEMO_ROTATE_SECS` seconds (default 300; 0 never), and
//! publishes their public keys at `/.well-known/jwks.json` with
//! `Cache-Control: public, max-age=` `DEMO_JWKS_MAX_AGE` (default 60): another
//! service verifies the demo's tokens with a `RemoteKeySet` on that URL, and
//! sees each new key there a max-age before it signs. Tokens do not survive a
//! restart (the keys are new). With `JWT_SECRET` set, it signs and verifies
//! with HS256 and the raw bytes of that secret instead, as the seed
//! application does (no JWK Set then). Open <http://127.0.0.1:3000/>, or:
//!
//! ```sh
//! # Log in (JSON or form) and keep the token.
//! TOKEN=$(curl -s localhost:3000/login -H 'content-type: application/json' \
//!   -d '{"username":"ada","password":"lovelace"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
//! curl -s localhost:3000/login -d username=alan -d password=turing
//!
//! # The public keys that verify the tokens (without JWT_SECRET).
//! curl -i localhost:3000/.well-known/jwks.json
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
//!
//! # A token made the seed's way (PyJWT, only `sub` and `exp`) works as well.
//! export JWT_SECRET=a-secret-of-at-least-32-bytes-for-hs256  # before starting the demo
//! SEED=$(python3 -c 'import jwt, time; print(jwt.encode({"sub": "ada",
//!   "exp": int(time.time()) + 600}, "'"$JWT_SECRET"'", algorithm="HS256"))')
//! curl -i localhost:3000/api/me -H "authorization: Bearer $SEED"
//! ```
//!
//! # In a browser
//!
//! Answers depend on `Accept`: a client that names `text/html` above
//! `application/json` (a browser navigating: it sends
//! `text/html,application/xhtml+xml,...,*/*;q=0.8`) gets small HTML pages, any
//! other (`*/*` from curl and `fetch`, `application/json`) the JSON above,
//! byte for byte. So a refused form post shows a page that says in words what
//! happened, with the status and `WWW-Authenticate` of the JSON answer and a
//! link back; so does a failed login. The pages escape everything they show
//! and load nothing from elsewhere.
//!
//! The page keeps the token in the tab's `sessionStorage` (gone when the tab
//! closes), so it survives the links between the demo's pages: after a logout,
//! "Back to the demo" shows the token as revoked, and posting the form again
//! shows it refused. The page says who is logged in (from `GET /api/me`),
//! whether the token is revoked, and when it was issued and expires, with its
//! remaining lifetime.
//!
//! The server drops a connection that has not sent a whole request head within
//! 10 seconds (hyper's `header_read_timeout`; `axum::serve` sets none), so
//! slow or idle clients cannot hold connections open.
//!
//! # Metrics
//!
//! Built with the `metrics` feature, the demo serves the layer's metrics
//! (decisions by outcome and refusal kind, verification time, revocation
//! checks) in Prometheus' text format at `GET /metrics`, rendered by
//! `metrics-exporter-prometheus`; without it there is no such route:
//!
//! ```sh
//! cargo run --example demo --features metrics
//! curl -s localhost:3000/metrics | grep '^tower_jwt_auth_decisions_total'
//! ```
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

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower_jwt_auth::jsonwebtoken::Algorithm;
use tower_jwt_auth::{
    AuthError, AuthErrorKind, Claims, JwtAuthBuilder, JwtAuthLayer, Key, KeyRing,
    MemoryRevocations, Revocation, RevocationStore, RotateError, SigningKey, TokenInfo,
    TokenIssuer, TokenIssuerBuilder, TokenSource,
};
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:3000";
const TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a client may take to send a request head (from the moment the
/// server waits for one, so also how long a kept-alive connection may idle).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections may take to finish after Ctrl-C.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
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

    // First: the layer describes its metrics to the recorder when it is built.
    let metrics = metrics_route();
    let signing = signing_from_env();
    let revocations = match revocation_store().await {
        Ok(store) => store,
        Err(message) => {
            eprintln!("demo: {message}");
            std::process::exit(1);
        }
    };
    // The demo's own tokens carry `iat` and a `jti` (one token revoked by its
    // `jti`); tokens from elsewhere need only `sub` and `exp`.
    let issuer = signing.issuer().ttl(TOKEN_TTL).jti(true).build()?;
    let auth = signing
        .verifier(JwtAuthLayer::<Value>::builder())
        .required_claims(["sub", "exp"])
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
        // Only the routes above are protected; the pages and the login stay open.
        .route_layer(auth)
        .route("/", get(page))
        .route("/login", post(login))
        .route("/favicon.ico", get(favicon))
        .merge(signing.routes())
        .merge(metrics)
        .layer(middleware::from_fn(pages_for_browsers))
        .layer(middleware::from_fn(log_request))
        .with_state(AppState {
            issuer,
            revocations,
        });

    let addr: SocketAddr = std::env::var("DEMO_ADDR")
        .unwrap_or_else(|_| DEFAULT_ADDR.to_owned())
        .parse()?;
    let listener = TcpListener::bind(addr).await?;
    println!("demo listening on http://{}", listener.local_addr()?);
    for user in &USERS {
        println!("demo user: {} / {}", user.username, user.password);
    }
    serve(listener, app).await;
    Ok(())
}

/// With the `metrics` feature, `GET /metrics`: the Prometheus text format of
/// the recorder this installs (so call it before building the layer); without
/// it, no route.
#[cfg(feature = "metrics")]
fn metrics_route<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("the demo's only recorder");
    // Folds the recorded durations into their summaries now and then, so
    // that they do not pile up between scrapes.
    let upkeep = prometheus.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Router::new().route(
        "/metrics",
        get(move || std::future::ready(prometheus.render())),
    )
}

#[cfg(not(feature = "metrics"))]
fn metrics_route<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
}

/// Serves `app` on `listener` over HTTP/1.1 until Ctrl-C, then lets the open
/// connections finish for up to [`SHUTDOWN_GRACE`].
///
/// hyper's own connection builder rather than `axum::serve`, for the
/// [`HEADER_READ_TIMEOUT`]: a client that opens connections and sends its
/// request head slowly, or never (Slowloris), is cut off instead of holding
/// them open for good.
async fn serve(listener: TcpListener, app: Router) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connections = GracefulShutdown::new();
    let mut ctrl_c = pin!(ctrl_c());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, say: wait a little rather
                    // than spin, and carry on.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut ctrl_c => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = connections.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that hangs up or times out is not the server's failure.
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended");
            }
        });
    }
    println!("shutting down");
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.shutdown())
        .await
        .is_err()
    {
        println!("connections still open after {SHUTDOWN_GRACE:?}: closing them");
    }
}

/// Ctrl-C. An error means no signal handler could be installed: then run until
/// killed rather than stop at once.
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// How the demo signs its tokens and verifies them.
enum Signing {
    /// `JWT_SECRET` is set: HS256 with its raw bytes, as the seed
    /// application signs (its PyJWT tokens verify here).
    Secret(Vec<u8>),
    /// Otherwise: ES256 keys that rotate, published at
    /// `/.well-known/jwks.json` for other services to verify with.
    Ring(KeyRing),
}

/// How often the signing key rotates by default: every 5 minutes.
const ROTATE_EVERY: Duration = Duration::from_secs(5 * 60);
/// The JWK Set's default `max-age`: a new key is published that long (and a
/// second) before it signs.
const JWKS_MAX_AGE: Duration = Duration::from_secs(60);

/// `JWT_SECRET` for HS256, else a key ring (ES256) that rotates every
/// `DEMO_ROTATE_SECS` seconds, its set cached for `DEMO_JWKS_MAX_AGE`.
fn signing_from_env() -> Signing {
    if let Some(secret) = std::env::var_os("JWT_SECRET").filter(|s| !s.is_empty()) {
        if secret.len() < 32 {
            // RFC 7518 §3.2: an HS256 key must be at least as long as the hash.
            eprintln!(
                "JWT_SECRET is shorter than 32 bytes, too short for HS256 (RFC 7518 §3.2): \
                 make one with `openssl rand -hex 32`"
            );
            std::process::exit(1);
        }
        println!("signing with HS256 and JWT_SECRET");
        return Signing::Secret(secret.into_encoded_bytes());
    }
    let seconds = |name: &str, default: Duration| match std::env::var(name) {
        Ok(value) => match value.parse() {
            Ok(seconds) => Duration::from_secs(seconds),
            Err(_) => {
                eprintln!("{name} must be a whole number of seconds, not {value:?}");
                std::process::exit(1);
            }
        },
        Err(_) => default,
    };
    let every = seconds("DEMO_ROTATE_SECS", ROTATE_EVERY);
    let max_age = seconds("DEMO_JWKS_MAX_AGE", JWKS_MAX_AGE);
    let ring = KeyRing::builder(new_signing_key(), new_signing_key())
        .max_age(max_age)
        .token_ttl(TOKEN_TTL)
        .build();
    println!(
        "JWT_SECRET is unset: signing with ES256 keys generated at start, rotated every {} s, \
         public keys at /.well-known/jwks.json (max-age {} s); tokens do not survive a restart",
        every.as_secs(),
        max_age.as_secs()
    );
    spawn_rotation(ring.clone(), every);
    Signing::Ring(ring)
}

impl Signing {
    /// The token issuer, before its settings.
    fn issuer(&self) -> TokenIssuerBuilder {
        match self {
            Self::Secret(secret) => TokenIssuer::hmac(secret),
            Self::Ring(ring) => TokenIssuer::key_ring(ring.clone()),
        }
    }

    /// `builder` with the keys that verify the demo's tokens: the secret, or
    /// the ring's published keys (in process: each rotation applies at once).
    fn verifier(&self, builder: JwtAuthBuilder<Value>) -> JwtAuthBuilder<Value> {
        match self {
            Self::Secret(secret) => builder.key(Key::hmac(secret)),
            Self::Ring(ring) => builder
                .key_ring(ring.clone())
                .algorithms([Algorithm::ES256]),
        }
    }

    /// The public routes of the signing keys: the ring's JWK Set.
    fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        match self {
            Self::Secret(_) => Router::new(),
            Self::Ring(ring) => {
                Router::new().route_service("/.well-known/jwks.json", ring.jwk_set_service())
            }
        }
    }
}

/// A new P-256 key (rcgen, on ring), named by its thumbprint.
fn new_signing_key() -> SigningKey {
    let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .expect("P-256 key generation")
        .serialize_pem();
    SigningKey::from_pem(Algorithm::ES256, pem.as_bytes()).expect("a P-256 key for ES256")
}

/// Rotates `ring` to a new key every `every`; a rotation asked too early (an
/// interval shorter than the JWK Set's max-age) waits until the ring allows it.
fn spawn_rotation(ring: KeyRing, every: Duration) {
    if every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            loop {
                match ring.rotate(new_signing_key()) {
                    Ok(()) => {
                        tracing::info!(kid = %ring.current_kid(), "rotated the signing key");
                        break;
                    }
                    Err(RotateError::TooEarly { ready_in }) => tokio::time::sleep(ready_in).await,
                    Err(error) => {
                        tracing::warn!(%error, "could not rotate the signing key");
                        break;
                    }
                }
            }
        }
    });
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
        let html = wants_html(request.headers());
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
            if html {
                let page = message_page(
                    "login failed",
                    "The login form could not be read",
                    &format!("{}: {text}", status.as_u16()),
                );
                return (status, Html(page)).into_response();
            }
            let body = json!({ "error": "invalid_request", "error_description": text });
            (status, Json(body)).into_response()
        })
    }
}

/// `POST /login`: a token for a known user, 401 for anyone else. JSON, or a
/// page for a browser posting the form without the page's script.
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    credentials: Credentials,
) -> Response {
    let html = wants_html(&headers);
    let Some(user) = authenticate(&credentials) else {
        if html {
            let page = message_page(
                "login failed",
                "Wrong username or password",
                "Try again: the demo's users are listed on its page.",
            );
            return (StatusCode::UNAUTHORIZED, Html(page)).into_response();
        }
        let body = json!({ "error": "invalid_credentials" });
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    };
    let claims = json!({ "sub": user.username, "name": user.name });
    let token = match state.issuer.issue(&claims) {
        Ok(token) => token,
        Err(error) => {
            tracing::error!(%error, "could not issue a token");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    // RFC 6749 §5.1: responses carrying tokens must not be cached.
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    if html {
        return (no_store, Html(logged_in_page(user, &token))).into_response();
    }
    let body = json!({
        "token": token,
        "token_type": "Bearer",
        "expires_in": TOKEN_TTL.as_secs(),
    });
    (no_store, Json(body)).into_response()
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
        Html(data_page(&claims, &form.note, unix_now())).into_response()
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
/// `TokenInfo` (`jti` or the token's digest, `sub`, `iat`, `exp`) is what the
/// store needs.
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
        // `iat` counts whole seconds: `now + 1` includes the presented token.
        // The entry lasts as long as the last token it covers: the demo's
        // own live 15 minutes; a token from elsewhere may live longer, and
        // without `iat` it is covered until the entry is gone, so keep the
        // entry at least until the presented token's `exp`.
        let now = unix_now();
        let until = (now + TOKEN_TTL.as_secs()).max(token.expires_at().unwrap_or(0));
        state
            .revocations
            .revoke_subject(token.issuer(), subject, now + 1, until)
            .await
    } else {
        // By its `jti`, or by its digest when it has none.
        state.revocations.revoke(&token).await
    };
    if let Err(error) = revoked {
        // The store's error, never the token or its claims.
        tracing::warn!(%error, "could not revoke a token");
        let status = StatusCode::SERVICE_UNAVAILABLE;
        if wants_html(&headers) {
            let page = message_page(
                "logout failed",
                "The token could not be revoked",
                "The revocation store did not answer: try again in a moment.",
            );
            return (status, Html(page)).into_response();
        }
        let body = json!({
            "error": "temporarily_unavailable",
            "error_description": "could not revoke the token; try again",
        });
        return (status, Json(body)).into_response();
    }
    if wants_html(&headers) {
        Html(logged_out_page(&token, everywhere)).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

fn invalid_request(description: &str) -> Response {
    let body = json!({ "error": "invalid_request", "error_description": description });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// `GET /favicon.ico`: a key, so that browsers find an icon instead of a 404.
async fn favicon() -> Response {
    let headers = [
        (header::CONTENT_TYPE, "image/svg+xml"),
        (header::CACHE_CONTROL, "public, max-age=86400"),
    ];
    (headers, FAVICON).into_response()
}

const FAVICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="5" cy="8" r="3.2" fill="none" stroke="#1f6f43" stroke-width="2"/><path d="M8 8h7M13 8v3M10.5 8v2" fill="none" stroke="#1f6f43" stroke-width="2"/></svg>"##;

/// Now, in Unix seconds.
fn unix_now() -> u64 {
    // A clock before 1970 is not worth a panic in a demo: count it as 1970.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether the client prefers HTML to JSON, as a browser does when it
/// navigates (`text/html,application/xhtml+xml,...,*/*;q=0.8`).
///
/// Only a media range that names HTML counts, and it must rank above
/// `application/json`: `*/*` (curl, `fetch`, most HTTP libraries) and no
/// `Accept` at all keep the JSON that API clients are written against; a
/// client that lists both at the same rank gets JSON too.
fn wants_html(headers: &HeaderMap) -> bool {
    let (mut html, mut json) = (0.0_f32, 0.0_f32);
    let values = headers.get_all(header::ACCEPT).iter();
    for range in values
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim();
        // RFC 9110 §12.4.2: a weight from 0 to 1, 1 when absent.
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if media.eq_ignore_ascii_case("text/html")
            || media.eq_ignore_ascii_case("application/xhtml+xml")
        {
            html = html.max(q);
        } else if media.eq_ignore_ascii_case("application/json") {
            json = json.max(q);
        }
    }
    html > 0.0 && html > json
}

/// A refusal of the layer as a page, for a browser; every other response, and
/// every response to an API client, passes unchanged.
///
/// The layer's responder writes JSON and cannot see the request, but it puts
/// the [`AuthError`] into the response's extensions: here it becomes a page
/// that says in words what happened. Status, `WWW-Authenticate` and
/// `Cache-Control` stay as they are. Both kinds of answer say `Vary: Accept`.
async fn pages_for_browsers(request: Request, next: Next) -> Response {
    let html = wants_html(request.headers());
    let mut response = next.run(request).await;
    let Some(error) = response.extensions().get::<AuthError>().cloned() else {
        return response;
    };
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    if !html {
        return response;
    }
    let (mut parts, _json) = response.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    // Nothing to load from anywhere, no script: only the inline style.
    parts.headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"),
    );
    Response::from_parts(parts, Body::from(refusal_page(&error)))
}

/// The refusal in words: a headline and what to do about it.
fn in_words(kind: AuthErrorKind) -> (&'static str, &'static str) {
    match kind {
        AuthErrorKind::MissingToken => (
            "No token was sent",
            "Log in first: the form had no token to send.",
        ),
        AuthErrorKind::Revoked => (
            "This token is revoked",
            "It was logged out, by itself or with every token of its user. \
             Log in again for a new one.",
        ),
        AuthErrorKind::Expired => ("This token has expired", "Log in again for a new one."),
        AuthErrorKind::NotYetValid => (
            "This token is not valid yet",
            "Its `nbf` lies in the future; check the clocks of the issuer and the server.",
        ),
        AuthErrorKind::InvalidSignature | AuthErrorKind::UnknownKey => (
            "The token's signature does not match",
            "It was changed after it was signed, or signed with another secret.",
        ),
        AuthErrorKind::MalformedToken | AuthErrorKind::TokenTooLong => (
            "This is not a token the demo can read",
            "A token has three dot-separated parts; log in for a good one.",
        ),
        AuthErrorKind::MissingClaim | AuthErrorKind::InvalidClaimType => (
            "The token lacks a claim the demo needs",
            "The demo accepts tokens with `sub` and `exp`.",
        ),
        AuthErrorKind::RevocationUnavailable | AuthErrorKind::KeysUnavailable => (
            "The server cannot check tokens right now",
            "Nothing is wrong with your token as far as is known: try again in a moment.",
        ),
        AuthErrorKind::FormTooLarge
        | AuthErrorKind::UnreadableBody
        | AuthErrorKind::MalformedForm
        | AuthErrorKind::MultipleTokens
        | AuthErrorKind::MalformedRequest => (
            "The request could not be read",
            "Post the demo's own form, with one token.",
        ),
        _ => ("The token was refused", "Log in again for a new one."),
    }
}

/// The page of a refused request: what happened in words, the layer's own
/// reason and status, and the way back.
fn refusal_page(error: &AuthError) -> String {
    let (headline, advice) = in_words(error.kind());
    let status = error.status();
    let detail = format!(
        "{} {}: {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("refused"),
        error.description()
    );
    message_page("refused", headline, &format!("{advice}\n{detail}"))
}

/// A small page: a title, a headline, lines of text, and the way back.
fn message_page(title: &str, headline: &str, text: &str) -> String {
    let mut lines = String::new();
    for line in text.lines() {
        lines += &format!("<p>{}</p>\n", escape_html(line));
    }
    let (title, headline) = (escape_html(title), escape_html(headline));
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tower-jwt-auth demo: {title}</title>
{STYLE}
</head>
<body>
<h1 id="headline">{headline}</h1>
<section id="message">
{lines}</section>
<p><a id="back" href="/">Back to the demo</a></p>
</body>
</html>
"#
    )
}

/// The answer to a login by a plain form post (the page's script logs in
/// with `fetch` instead): the token, to paste into the protected form.
fn logged_in_page(user: &User, token: &str) -> String {
    let expires = unix_now() + TOKEN_TTL.as_secs();
    message_page(
        "logged in",
        &format!("Logged in as {}", user.name),
        &format!(
            "Your token, valid until {} ({}):\n{token}",
            utc(expires),
            lifetime(expires, unix_now())
        ),
    )
}

/// Unix seconds as `2026-12-02 17:39:00 UTC`, the same as the page's script
/// writes them (times past the year 9999 as their number).
fn utc(unix: u64) -> String {
    if unix > 253_402_300_799 {
        return format!("{unix} (after the year 9999)");
    }
    let (days, secs) = ((unix / 86_400) as i64, unix % 86_400);
    // Howard Hinnant's `civil_from_days`: the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} UTC")
}

/// How far `time` is from `now`: `in 14 min 58 s`, `now`, `3 min 2 s ago`.
fn lifetime(time: u64, now: u64) -> String {
    let span = |s: u64| match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86_400 => format!("{} h {} min", s / 3600, s / 60 % 60),
        _ => format!("{} d {} h", s / 86_400, s / 3600 % 24),
    };
    if time == now {
        "now".to_owned()
    } else if time > now {
        format!("in {}", span(time - now))
    } else {
        format!("{} ago", span(now - time))
    }
}

/// The answer page of the protected form: who, one row per claim (times
/// readable), then the note.
fn data_page(claims: &Value, note: &str, now: u64) -> String {
    let mut rows = String::new();
    for (name, value) in claims.as_object().into_iter().flatten() {
        let shown = match (name.as_str(), value) {
            ("exp" | "iat" | "nbf", Value::Number(n)) if n.as_u64().is_some() => {
                let t = n.as_u64().unwrap_or_default();
                format!("{} ({t}, {})", utc(t), lifetime(t, now))
            }
            (_, Value::String(s)) => s.clone(),
            (_, other) => other.to_string(),
        };
        let (name, shown) = (escape_html(name), escape_html(&shown));
        rows += &format!("    <tr><th>{name}</th><td id=\"claim-{name}\">{shown}</td></tr>\n");
    }
    let who = match (claims["name"].as_str(), claims["sub"].as_str()) {
        (Some(name), Some(sub)) => format!("{name} ({sub})"),
        (None, Some(sub)) => sub.to_owned(),
        _ => "someone without a `sub`".to_owned(),
    };
    let (who, note) = (escape_html(&who), escape_html(note));
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
<p id="who">Logged in as {who}.</p>
<section id="data">
  <h2>The token's verified claims</h2>
  <table id="claims">
{rows}  </table>
  <h2>Your note</h2>
  <pre id="note">{note}</pre>
</section>
<p><a id="back" href="/">Back to the demo</a> (the demo keeps the token in this
  tab until you close it; log out to revoke it)</p>
</body>
</html>
"#
    )
}

/// The answer page of the logout form.
fn logged_out_page(token: &TokenInfo, everywhere: bool) -> String {
    let what = if everywhere {
        "Every token of yours issued until now is revoked"
    } else {
        "Your token is revoked"
    };
    let how = match (everywhere, token.jti(), token.issued_at()) {
        (false, Some(_), _) => "The store keeps its <code>jti</code>.",
        (false, None, _) => {
            "It has no <code>jti</code>: the store keeps the SHA-256 digest of the \
             whole token, never the token."
        }
        (true, _, Some(_)) => {
            "Tokens issued after now (a new login) are accepted: their <code>iat</code> \
             says so."
        }
        (true, _, None) => {
            "Your token has no <code>iat</code>: every token of yours without one is \
             refused while the revocation lasts, even one made after now, since nothing \
             tells when it was issued. The demo's own login issues tokens with \
             <code>iat</code>, which are accepted."
        }
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
<p id="how">{how}</p>
<p>Go back to the demo and post the protected form again, or call
  <code>GET /api/me</code> from the script, to see it refused.</p>
<p><a id="back" href="/">Back to the demo</a></p>
</body>
</html>
"#
    )
}

/// Everything a page shows from a request or a token is data, never markup:
/// a note of `<script>` must show as text.
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

/// The shared look of the pages, and their icon.
const STYLE: &str = r#"<link rel="icon" href="/favicon.ico" type="image/svg+xml">
<style>
  body { font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  form, section { border: 1px solid #ccc; border-radius: 6px; padding: 1rem; margin: 1rem 0; }
  h2 { margin-top: 0; font-size: 1.2rem; }
  label { display: block; margin: .4rem 0; }
  input[type=text], input[type=password] { width: 14rem; }
  textarea { width: 100%; box-sizing: border-box; font-family: monospace; font-size: .8rem; }
  pre { background: #f4f4f4; padding: .6rem; white-space: pre-wrap; word-break: break-all; min-height: 1.2rem; }
  p { overflow-wrap: anywhere; }
  table { border-collapse: collapse; margin: .5rem 0; }
  th, td { text-align: left; padding: .25rem .8rem .25rem 0; border-bottom: 1px solid #eee; }
  .hint { color: #666; font-size: .9rem; }
  [data-state=valid] #status { color: #1f6f43; }
  [data-state=revoked] #status, [data-state=refused] #status { color: #a33; }
</style>"#;

/// `GET /`: who is logged in; log in with a script, then post the protected
/// form natively (the token in its `token` field, as the seed application
/// reads `request.form['token']`), or call the route from a script with the
/// header; log out with another native form, and see the token refused.
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

<section id="session" data-state="none">
  <h2>Your token</h2>
  <p id="status">Not logged in: log in below.</p>
  <table id="times" hidden>
    <tr><th>Issued</th><td id="issued"></td></tr>
    <tr><th>Expires</th><td id="expires"></td></tr>
  </table>
  <button type="button" id="forget" hidden>Forget the token</button>
</section>

<form id="login" method="post" action="/login">
  <h2>1. Log in</h2>
  <label>Username <input type="text" name="username" value="ada" autocomplete="username"></label>
  <label>Password <input type="password" name="password" autocomplete="current-password"></label>
  <button type="submit">Log in</button>
  <p id="login-out" role="status"></p>
</form>

<form id="protected" method="post" action="/api/me">
  <h2>2. Post the protected form</h2>
  <p class="hint">A plain form submission: the browser posts the token in the
    <code>token</code> field, filled in at login. Change a character of it to
    see the server refuse it.</p>
  <label>Token <textarea name="token" rows="4" spellcheck="false" autocomplete="off"></textarea></label>
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
    demo instance sharing this one's revocation store. Then come back and try 2 or 3.</p>
  <input type="hidden" name="token">
  <button type="submit" id="log-out">Log out</button>
  <button type="submit" id="log-out-everywhere" formaction="/logout?everywhere=1">Log out everywhere</button>
</form>

<script>
  // The token lives in this tab's sessionStorage (not in localStorage, and
  // gone with the tab), so that it survives the links between the pages.
  const $ = (id) => document.getElementById(id);
  const KEY = "tower-jwt-auth-demo-token";
  const stored = () => sessionStorage.getItem(KEY) || "";

  const setToken = (token) => {
    if (token) sessionStorage.setItem(KEY, token);
    else sessionStorage.removeItem(KEY);
    $("protected").elements.token.value = token;
    $("logout").elements.token.value = token;
  };

  // The claims of a token, read without verifying it (for display only).
  const unverifiedClaims = (token) => {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      return {};
    }
  };

  // The same formats as the server's pages: "2026-12-02 17:39:00 UTC",
  // "in 14 min 58 s", "now", "3 min 2 s ago".
  const utc = (unix) => new Date(unix * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  const span = (s) =>
    s < 60 ? `${s} s`
    : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s`
    : s < 86400 ? `${Math.floor(s / 3600)} h ${Math.floor(s / 60) % 60} min`
    : `${Math.floor(s / 86400)} d ${Math.floor(s / 3600) % 24} h`;
  const lifetime = (unix) => {
    const now = Math.floor(Date.now() / 1000);
    if (unix === now) return "now";
    return unix > now ? `in ${span(unix - now)}` : `${span(now - unix)} ago`;
  };
  // Up to the year 9999, as the server's pages; anything else as it is.
  const when = (unix) =>
    unix === undefined ? "not in the token"
    : Number.isInteger(unix) && unix >= 0 && unix <= 253402300799 ? `${utc(unix)} (${lifetime(unix)})`
    : String(unix);

  let shown = {}; // the claims whose times the table shows
  const showTimes = () => {
    $("issued").textContent = when(shown.iat);
    $("expires").textContent = when(shown.exp);
  };
  setInterval(showTimes, 1000);

  // Asks the server about the stored token and says what it answered.
  const showStatus = async () => {
    const token = stored();
    $("forget").hidden = !token;
    if (!token) {
      $("session").dataset.state = "none";
      $("status").textContent = "Not logged in: log in below.";
      $("times").hidden = true;
      return;
    }
    const response = await fetch("/api/me", { headers: { Authorization: "Bearer " + token } });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      shown = body;
      const who = body.name ? `${body.name} (${body.sub})` : body.sub;
      $("session").dataset.state = "valid";
      $("status").textContent = `Logged in as ${who}: the token is valid.`;
    } else {
      shown = unverifiedClaims(token);
      const whose = shown.sub ? `token of ${shown.sub}` : "token";
      if (body.error_description === "token revoked") {
        $("session").dataset.state = "revoked";
        $("status").textContent = `Logged out: the ${whose} is revoked. Post the form or call GET /api/me to see it refused, or log in again.`;
      } else {
        $("session").dataset.state = "refused";
        const reason = body.error_description || response.statusText;
        $("status").textContent = `The ${whose} is refused: ${reason}. Log in again.`;
      }
    }
    $("times").hidden = false;
    showTimes();
  };

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-out").textContent = "Logging in...";
    const response = await fetch("/login", {
      method: "POST",
      body: new URLSearchParams(new FormData(event.target)),
    });
    const body = await response.json().catch(() => ({}));
    if (response.ok && body.token) {
      setToken(body.token);
      $("login-out").textContent = "Logged in: the token is in the forms below.";
    } else if (body.error === "invalid_credentials") {
      $("login-out").textContent = "Login failed: wrong username or password.";
    } else {
      const reason = body.error_description || response.statusText || "no answer";
      $("login-out").textContent = `Login failed: ${reason}.`;
    }
    await showStatus();
  });

  $("forget").addEventListener("click", async () => {
    setToken("");
    $("login-out").textContent = "";
    await showStatus();
  });

  // On every visit (a link back from an answer page included): the stored
  // token in both forms, and what the server says of it.
  window.addEventListener("pageshow", () => {
    setToken(stored());
    showStatus();
  });

  $("fetch-me").addEventListener("click", async () => {
    const token = $("protected").elements.token.value;
    const headers = {};
    if (token && $("send-token").checked) {
      headers["Authorization"] = "Bearer " + token;
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
