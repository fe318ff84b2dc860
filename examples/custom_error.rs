//! The seed application, ported: a server that answers the clients of the
//! Flask + PyJWT sample this project grew from exactly as that sample does.
//!
//! The seed's clients POST a form whose field `token` holds an HS256 token
//! made by its `create_token`, and read the JSON its `valid_token(request)`
//! answers. This example is a drop-in replacement for that route:
//!
//! ```sh
//! JWT_SECRET="$SALT" cargo run --example custom_error --features multipart
//! ```
//!
//! It reads `JWT_SECRET` (the seed's `salt`: its raw UTF-8 bytes, as PyJWT
//! takes a `str` key) and `ADDR` (default `127.0.0.1:3002`), prints the
//! address it listens on, a token made like the seed's `create_token`, and
//! curl commands to try. The protected route is `/api/me`, `POST` and `GET`.
//! Without `JWT_SECRET`, make one: `openssl rand -hex 32`.
//!
//! # The answers
//!
//! | request | body |
//! |---|---|
//! | no form field `token` (no body, another content type, other fields only) | `{"code": 1003, "error": "Please login in"}` |
//! | `exp` reached (no leeway) | `{"code": 1003, "error": "Token is timeout"}` |
//! | PyJWT's `DecodeError`: an empty or garbled token, a bad signature, a non-numeric `exp` or `nbf`, claims that are not a JSON object | `{"code": 1003, "error": "Token validation failed"}` |
//! | any other `InvalidTokenError`: an algorithm other than HS256 (`none` too), `nbf` or `iat` in the future, a non-numeric `iat`, an `aud` (none is expected), a `crit` header | `{"code": 1003, "error": "Token is invalid"}` |
//! | a valid token whose claims are empty, `{}` | `{"code": 1003, "error": null}` |
//! | a valid token | `{"code": 1002}` |
//!
//! Every one of these is answered `200` with `Content-Type: application/json`,
//! as the seed's Flask app answers them: the seed's clients read `code`, not
//! the status, and one that checks the status first (`raise_for_status()`)
//! would stop at a `401` before it reads the body. The few refusals the seed has no answer for keep
//! the layer's status, with a body of the same shape: a form over 64 KiB is
//! `413` (`"Token validation failed"`), two different tokens in one request
//! `400` (`"Token is invalid"`), a body that breaks off `400`.
//!
//! PyJWT's rules, as the seed calls it (`jwt.decode(token, salt, 'HS256')`),
//! are the layer's settings in [`app`]: HS256 only, no leeway, `exp` checked
//! when present but not required, no `iss` or `aud` expected (so a token with
//! an `aud` is refused), tokens as long as the form allows. The token comes
//! from the form field `token`, urlencoded, and multipart with the crate's
//! `multipart` feature, as Flask's `request.form` reads both. One addition:
//! an `Authorization: Bearer` header is read too, after the form, so that
//! `GET` and curl users need no form.
//!
//! # The seed's quirks, reproduced
//!
//! `tests/seed_app.rs` runs the seed's own code (`tests/seed/app.py`, Flask
//! and PyJWT 2.6) beside this port and compares status, content type and body
//! for each request. What it found, and the port reproduces:
//!
//! - The algorithms are passed as a string, so PyJWT tests `alg in 'HS256'`:
//!   a substring such as `HS2` passes that test, and is then an unknown
//!   algorithm: `"Token is invalid"`, as for `HS512` and `none`.
//! - `if not payload:` takes a valid token with empty claims `{}` for a
//!   failure, with no message: `{"code": 1003, "error": null}` (answered by
//!   [`after_decode`]).
//! - An `iat` in the future is refused (`ImmatureSignatureError`, `"Token is
//!   invalid"`), and a non-numeric `iat` too, as `"Token is invalid"`, where a
//!   non-numeric `exp` or `nbf` is a `DecodeError`, `"Token validation
//!   failed"`. The layer has no setting for an `iat` in the future:
//!   [`after_decode`] checks it.
//! - An empty field `token=` (or `token` without `=`) is a token to PyJWT, a
//!   `DecodeError`, where the layer sees no token: the layer is optional, and
//!   [`no_token`] tells a missing field from an empty one.
//! - A form on `GET` is read, as Werkzeug reads one on any method.
//! - A broken multipart body is no form to Werkzeug (`"Please login in"`); an
//!   invalid percent-escape or UTF-8 in the token field garbles the token
//!   (`"Token validation failed"`).
//!
//! # Where the port differs
//!
//! The layer is stricter than PyJWT 2.6 where PyJWT is lenient by accident,
//! and answers where the seed crashes. Each of these is checked by the test
//! too, so this list stays true:
//!
//! | token or request | seed | port |
//! |---|---|---|
//! | `exp` or `nbf` as a numeric string (`"1700000000"`) | read as a number | `"Token validation failed"` |
//! | `sub` or `iss` that is not a string (`"sub": 42`) | `1002` | `"Token is invalid"` |
//! | `aud` empty (`""`, `[]`) | `1002` | `"Token is invalid"` |
//! | `iat: true` / `exp: true` | `1002` / `"Token is timeout"` | `"Token is invalid"` / `"Token validation failed"` |
//! | `exp`, `nbf` or `iat` `null`, a list or an object; a numeric-string `iat`; a non-string `alg` | `500` (a `TypeError` in PyJWT) | a `200` answer: `null` claims count as absent, other types are refused |
//! | a header without `alg`, or with a non-string `kid` | `"Token is invalid"` | `"Token validation failed"` |
//! | a non-string `typ` header; `crit: ["b64"]` with `b64: true` | `1002` | `"Token validation failed"` / `"Token is invalid"` |
//! | a claim or header parameter given twice | the last one counts | `"Token validation failed"` |
//! | base64 that is not canonical base64url (padding, characters outside the alphabet) | decoded leniently | `"Token validation failed"` |
//! | expired *and* `nbf` or `iat` in the future | `"Token is invalid"` (PyJWT checks `iat`, `nbf`, then `exp`) | `"Token is timeout"` |
//! | two `token` fields | the first counts | two different ones are `400`; empty ones are skipped |
//! | a multipart *file* named `token` | not a form field | read as the token |
//! | multipart without the `multipart` feature | read | `"Please login in"` |
//! | a form over 64 KiB | read | `413`, `"Token validation failed"` |
//! | an `Authorization: Bearer` header | ignored | read after the form |
//!
//! None of these come from the seed's own `create_token`, whose tokens this
//! port accepts, and turns away once expired, exactly as the seed does.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::extract::Request;
use axum::routing::get;
use axum::{Extension, Json, Router};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use serde_json::{Value, json};
use tower_jwt_auth::jsonwebtoken::Algorithm;
use tower_jwt_auth::{
    AuthError, AuthErrorKind, Claims, Clock, ConfigError, DEFAULT_FORM_LIMIT, ErrorResponder,
    JwtAuthLayer, Key, SystemClock, TokenIssuer, TokenSource,
};

// ---------------------------------------------------------------------------
// The seed's answers.
// ---------------------------------------------------------------------------

/// The seed's code for a valid token.
const CODE_OK: u16 = 1002;
/// The seed's code for everything else.
const CODE_DENIED: u16 = 1003;

const PLEASE_LOGIN: &str = "Please login in";
const TIMEOUT: &str = "Token is timeout";
const VALIDATION_FAILED: &str = "Token validation failed";
const INVALID: &str = "Token is invalid";

/// `{"code": 1003, "error": <error>}`; `None` is the seed's `null`.
fn denied(error: Option<&str>) -> Value {
    json!({ "code": CODE_DENIED, "error": error })
}

/// Answers refused requests with the seed's JSON, `200` and
/// `application/json` as the seed's Flask app does (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct SeedResponder;

impl SeedResponder {
    /// The seed's message: its mapping of PyJWT's exceptions.
    pub fn message(error: &AuthError) -> &'static str {
        match error.kind() {
            AuthErrorKind::MissingToken => PLEASE_LOGIN,
            AuthErrorKind::Expired => TIMEOUT,
            kind if kind.is_undecodable() => VALIDATION_FAILED,
            // PyJWT's `int(exp)` / `int(nbf)` raise `DecodeError`; its
            // `int(iat)` raises `InvalidIssuedAtError`, an `InvalidTokenError`.
            // The kind names no claim; the description does.
            AuthErrorKind::InvalidClaimType
                if matches!(
                    error.description(),
                    "claim `exp` is not a number" | "claim `nbf` is not a number"
                ) =>
            {
                VALIDATION_FAILED
            }
            // Werkzeug drops a multipart body it cannot parse: no form, no
            // field. A bad escape or UTF-8 in the token field garbles the token.
            AuthErrorKind::MalformedForm if error.description() == "invalid multipart body" => {
                PLEASE_LOGIN
            }
            AuthErrorKind::MalformedForm | AuthErrorKind::FormTooLarge => VALIDATION_FAILED,
            _ => INVALID,
        }
    }

    /// `200`, as the seed, except for the refusals it has no answer for.
    pub fn status(error: &AuthError) -> StatusCode {
        match error.kind() {
            AuthErrorKind::FormTooLarge
            | AuthErrorKind::UnreadableBody
            | AuthErrorKind::MultipleTokens
            | AuthErrorKind::MalformedRequest
            | AuthErrorKind::KeysUnavailable
            | AuthErrorKind::RevocationUnavailable => error.status(),
            _ => StatusCode::OK,
        }
    }
}

impl ErrorResponder for SeedResponder {
    fn respond(&self, error: &AuthError) -> Response<Bytes> {
        let body = denied(Some(Self::message(error)));
        let mut response = Response::new(Bytes::from(body.to_string()));
        *response.status_mut() = Self::status(error);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

// ---------------------------------------------------------------------------
// The application.
// ---------------------------------------------------------------------------

/// No claim is required: PyJWT checks `exp` when it is there, and only then.
/// (An explicitly typed empty list: `required_claims([])` cannot infer the
/// type of the names.)
const NO_REQUIRED_CLAIMS: [&str; 0] = [];

/// The seed's route, `/api/me` (`GET` and `POST`), behind the layer
/// configured as PyJWT's `jwt.decode(token, salt, 'HS256')`.
///
/// # Errors
///
/// Those of [`JwtAuthBuilder::build`](tower_jwt_auth::JwtAuthBuilder::build).
pub fn app(secret: &[u8]) -> Result<Router, ConfigError> {
    // The seed's `salt` may be shorter than the 32 bytes HS256 asks for (RFC
    // 7518 §3.2): PyJWT 2.6 takes it, and the clients' tokens are signed with
    // it, so the port must too, by the explicitly named opt-out.
    let key = if secret.len() < 32 {
        Key::hmac_legacy_short_secret(secret)
    } else {
        Key::hmac(secret)
    };
    let auth = JwtAuthLayer::<Value>::builder()
        .key(key)
        .algorithms([Algorithm::HS256])
        .leeway(Duration::ZERO)
        .required_claims(NO_REQUIRED_CLAIMS)
        // PyJWT has no length limit; the form's is the only one.
        .max_token_length(DEFAULT_FORM_LIMIT)
        // A request without a token reaches `me`, which tells a missing
        // field from an empty one (see `no_token`).
        .optional(true)
        .form_field("token")
        // The addition: a bearer token, when the form has none.
        .source(TokenSource::bearer())
        .responder(SeedResponder)
        .build()?;
    Ok(Router::new()
        .route("/api/me", get(me).post(me))
        .route_layer(auth))
}

/// The seed's `valid_token(request)`: the layer has verified the token, if
/// there was one.
async fn me(claims: Option<Extension<Claims<Value>>>, request: Request) -> Json<Value> {
    Json(match claims {
        Some(Extension(Claims(claims))) => after_decode(&claims, SystemClock.now()),
        None => no_token(request).await,
    })
}

/// What the seed does with the claims PyJWT returned, plus the one PyJWT
/// rule the layer has no setting for.
pub fn after_decode(claims: &Value, now: u64) -> Value {
    // PyJWT 2.6: `iat > now` is `ImmatureSignatureError` (the layer has
    // checked that `iat`, when present, is a number).
    if claims
        .get("iat")
        .and_then(Value::as_f64)
        .is_some_and(|iat| iat > now as f64)
    {
        return denied(Some(INVALID));
    }
    // `if not payload:`, with `error_msg` still `None`.
    if claims.as_object().is_some_and(|claims| claims.is_empty()) {
        return denied(None);
    }
    json!({ "code": CODE_OK })
}

/// The answer to a request in which the layer found no token: the seed's
/// `request.form['token']` either fails (`"Please login in"`) or finds an
/// empty field, which PyJWT cannot decode.
pub async fn no_token(request: Request) -> Value {
    if has_token_field(request).await {
        denied(Some(VALIDATION_FAILED))
    } else {
        denied(Some(PLEASE_LOGIN))
    }
}

/// Whether the form has a field `token`, as Werkzeug parses forms (on any
/// method, leniently). Reads what the layer has already read, when it has.
async fn has_token_field(request: Request) -> bool {
    let essence = essence(request.headers());
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        let Ok(body) = axum::body::to_bytes(request.into_body(), DEFAULT_FORM_LIMIT).await else {
            return false;
        };
        return form_urlencoded::parse(&body).any(|(name, _)| name == "token");
    }
    #[cfg(feature = "multipart")]
    if essence.eq_ignore_ascii_case("multipart/form-data") {
        use axum::extract::{FromRequest, Multipart};
        let Ok(mut multipart) = Multipart::from_request(request, &()).await else {
            return false;
        };
        // A part with a file name is one of `request.files`, not of the form.
        while let Ok(Some(field)) = multipart.next_field().await {
            if field.name() == Some("token") && field.file_name().is_none() {
                return true;
            }
        }
    }
    false
}

/// The media type of the request, without parameters.
fn essence(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map_or("", str::trim)
}

// ---------------------------------------------------------------------------
// The server around it.
// ---------------------------------------------------------------------------

const DEFAULT_ADDR: &str = "127.0.0.1:3002";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("custom_error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let secret = std::env::var_os("JWT_SECRET")
        .ok_or(
            "JWT_SECRET is not set: give it the seed app's secret (`salt`), \
             or make one with `openssl rand -hex 32`",
        )?
        .into_encoded_bytes();
    let app = app(&secret).map_err(|e| format!("cannot configure the layer: {e}"))?;

    let addr = std::env::var("ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("ADDR={addr:?} is not an address such as {DEFAULT_ADDR}: {e}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("custom_error listening on http://{addr}");
    print_tries(&secret, addr)?;

    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            // An error means no signal handler could be installed: then run
            // until killed rather than stop at once.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await
        .map_err(|e| format!("server failed: {e}"))
}

/// Prints a token made like the seed's `create_token` (valid for a minute),
/// and a curl command for each kind of answer.
fn print_tries(secret: &[u8], addr: SocketAddr) -> Result<(), String> {
    let issuer = if secret.len() < 32 {
        TokenIssuer::hmac_legacy_short_secret(secret)
    } else {
        TokenIssuer::hmac(secret)
    };
    let issuer = issuer
        .ttl(Duration::from_secs(60))
        .build()
        .map_err(|e| format!("cannot make a token issuer: {e}"))?;
    let token = issuer
        .issue(&json!({ "data": { "name": "SmallStars" } }))
        .map_err(|e| format!("cannot sign a sample token: {e}"))?;
    let url = format!("http://{addr}/api/me");
    println!("a token valid for one minute: {token}");
    println!("or one from the seed's own create_token, or from PyJWT (JWT_SECRET exported):");
    println!(
        "  TOKEN=$(/usr/bin/python3 -c 'import jwt, os, time; print(jwt.encode({{\"exp\": int(time.time()) + 60}}, os.environ[\"JWT_SECRET\"], headers={{\"typ\": \"jwt\"}}))')"
    );
    println!("try:");
    println!("  curl -s {url}                          # Please login in");
    println!("  curl -s {url} -d token=garbage         # Token validation failed");
    println!("  curl -s {url} -d token={token}   # code 1002");
    println!("  curl -s {url} -H 'authorization: Bearer {token}'   # code 1002 (the addition)");
    Ok(())
}
