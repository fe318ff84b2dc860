//! Black-box tests through a real axum server on 127.0.0.1: the layer on a
//! `Router`, every token source, optional mode, `route_layer`, what the handler
//! sees, and hostile input sent over the wire.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{any, get};
use axum::{Extension, Router};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, WWW_AUTHENTICATE};
use http::{Request, StatusCode};
use http_body_util::Full;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower_jwt_auth::{
    Claims, DefaultResponder, JwtAuthBuilder, JwtAuthLayer, Key, TokenIssuer, TokenSource,
};

mod common;

use common::{Reply, Server, TIMEOUT, send, serve_axum as start};

// ---------------------------------------------------------------------------
// Shared helpers: tokens, layers, requests.
// ---------------------------------------------------------------------------

const SECRET: &[u8] = b"axum integration secret 32 bytes";
const OTHER_SECRET: &[u8] = b"someone else's secret, 32 bytes!";
const REALM: &str = "jwt tests";

#[derive(Clone, Debug, Serialize, Deserialize)]
struct MyClaims {
    sub: String,
    name: String,
}

/// GET `path_and_query` with these headers.
async fn get_with(server: &Server, path_and_query: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::get(server.url(path_and_query));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(request.body(Full::<Bytes>::default()).expect("request")).await
}

/// Sends hand-written bytes (which request builders would refuse) and reads the
/// raw answer; the request must say `Connection: close`.
async fn send_raw(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request).await.expect("write");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read");
        response
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .expect("no answer in time")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn claims(name: &str) -> MyClaims {
    MyClaims {
        sub: format!("user-{name}"),
        name: name.to_owned(),
    }
}

fn issue(secret: &[u8], name: &str) -> String {
    TokenIssuer::hmac(secret)
        .build()
        .expect("issuer")
        .issue(&claims(name))
        .expect("token")
}

/// A valid token for `name`.
fn token(name: &str) -> String {
    issue(SECRET, name)
}

/// A token issued two hours ago with the default 15-minute TTL.
fn expired_token(name: &str) -> String {
    let two_hours_ago = unix_now() - 2 * 3600;
    TokenIssuer::hmac(SECRET)
        .clock(move || two_hours_ago)
        .build()
        .expect("issuer")
        .issue(&claims(name))
        .expect("token")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The common configuration: our secret and a realm.
fn auth() -> JwtAuthBuilder<MyClaims> {
    JwtAuthLayer::builder()
        .key(Key::hmac(SECRET))
        .responder(DefaultResponder::new().realm(REALM))
}

fn layer() -> JwtAuthLayer<MyClaims> {
    auth().build().expect("layer")
}

fn layer_with_sources(sources: impl IntoIterator<Item = TokenSource>) -> JwtAuthLayer<MyClaims> {
    sources
        .into_iter()
        .fold(auth(), JwtAuthBuilder::source)
        .build()
        .expect("layer")
}

/// The exact challenge of the default responder with our realm.
fn challenge(error: &str, description: &str) -> String {
    format!("Bearer realm=\"{REALM}\", error=\"{error}\", error_description=\"{description}\"")
}

/// A rejection with `status`, a JSON body naming `error`, and the same code in
/// the challenge.
#[track_caller]
fn assert_refused(reply: &Reply, status: StatusCode, error: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.text());
    assert_eq!(reply.header(CONTENT_TYPE), "application/json");
    assert_eq!(reply.json()["error"], error);
    let www_authenticate = reply.header(WWW_AUTHENTICATE);
    assert!(
        www_authenticate.contains(&format!("error=\"{error}\"")),
        "{www_authenticate}"
    );
}

#[track_caller]
fn assert_ok(reply: &Reply, body: &str) {
    assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.text());
    assert_eq!(reply.text(), body);
}

async fn name_from_extension(Extension(claims): Extension<Claims<MyClaims>>) -> String {
    claims.into_inner().name
}

/// `/ext` reads the claims from the request extensions.
fn extension_app(layer: JwtAuthLayer<MyClaims>) -> Router {
    Router::new()
        .route("/ext", get(name_from_extension))
        .layer(layer)
}

// ---------------------------------------------------------------------------
// The default source: Authorization: Bearer.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_valid_bearer_token_reaches_the_handler_whatever_the_scheme_case() {
    let server = start(extension_app(layer())).await;
    let token = token("ada");
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let value = format!("{scheme} {token}");
        let reply = get_with(&server, "/ext", &[("authorization", &value)]).await;
        assert_ok(&reply, "ada");
    }
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn the_claims_extractor_reads_the_verified_claims() {
    async fn handler(claims: Claims<MyClaims>) -> String {
        format!("{} {}", claims.sub, claims.name)
    }
    let app = Router::new().route("/claims", get(handler)).layer(layer());
    let server = start(app).await;

    let reply = get_with(
        &server,
        "/claims",
        &[("authorization", &bearer(&token("ada")))],
    )
    .await;
    assert_ok(&reply, "user-ada ada");
}

#[tokio::test]
async fn a_request_without_a_token_gets_the_bare_challenge() {
    let server = start(extension_app(layer())).await;
    let reply = get_with(&server, "/ext", &[]).await;

    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // No error code when no token was sent (RFC 6750 §3.1).
    assert_eq!(
        reply.header(WWW_AUTHENTICATE),
        format!("Bearer realm=\"{REALM}\"")
    );
    assert_eq!(reply.header(CONTENT_TYPE), "application/json");
    assert_eq!(reply.header(CACHE_CONTROL), "no-store");
    assert_eq!(
        reply.json(),
        serde_json::json!({ "error": "unauthorized", "error_description": "no token" })
    );
}

#[tokio::test]
async fn an_expired_token_is_an_invalid_token() {
    let server = start(extension_app(layer())).await;
    let reply = get_with(
        &server,
        "/ext",
        &[("authorization", &bearer(&expired_token("ada")))],
    )
    .await;

    assert_refused(&reply, StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        reply.header(WWW_AUTHENTICATE),
        challenge("invalid_token", "token expired")
    );
    assert_eq!(reply.json()["error_description"], "token expired");
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_refused() {
    let server = start(extension_app(layer())).await;
    let forged = issue(OTHER_SECRET, "mallory");
    let reply = get_with(&server, "/ext", &[("authorization", &bearer(&forged))]).await;

    assert_refused(&reply, StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        reply.header(WWW_AUTHENTICATE),
        challenge("invalid_token", "invalid signature")
    );
}

// ---------------------------------------------------------------------------
// Other sources, their order, and several tokens in one request.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn each_configured_source_carries_the_token() {
    let layer = layer_with_sources([
        TokenSource::header(HeaderName::from_static("x-api-token")),
        TokenSource::header_with_scheme(HeaderName::from_static("x-auth"), "JWT"),
        TokenSource::cookie("session"),
        TokenSource::query("access_token"),
    ]);
    let server = start(extension_app(layer)).await;
    let t = token("ada");

    let header = [("x-api-token", t.clone())];
    let scheme = [("x-auth", format!("JWT {t}"))];
    let scheme_lowercase = [("x-auth", format!("jwt {t}"))];
    let cookie = [("cookie", format!("a=1; session={t}; b=2"))];
    for headers in [&header, &scheme, &scheme_lowercase, &cookie] {
        let headers: Vec<_> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_ok(&get_with(&server, "/ext", &headers).await, "ada");
    }
    let query = format!("/ext?x=1&access_token={t}&y=2");
    assert_ok(&get_with(&server, &query, &[]).await, "ada");

    // The first `source` call replaced the default bearer source, and a header
    // with another scheme holds no token of ours.
    for (name, value) in [("authorization", bearer(&t)), ("x-auth", bearer(&t))] {
        let reply = get_with(&server, "/ext", &[(name, &value)]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}: {value}");
        assert_eq!(reply.json()["error"], "unauthorized");
    }
}

#[tokio::test]
async fn later_sources_are_read_when_earlier_ones_hold_no_token() {
    let layer = layer_with_sources([TokenSource::bearer(), TokenSource::query("access_token")]);
    let server = start(extension_app(layer)).await;
    let query = format!("/ext?access_token={}", token("ada"));

    assert_ok(&get_with(&server, &query, &[]).await, "ada");
    let basic = [("authorization", "Basic dXNlcjpwYXNz")];
    assert_ok(&get_with(&server, &query, &basic).await, "ada");
}

#[tokio::test]
async fn two_different_tokens_are_a_bad_request_and_one_token_twice_is_not() {
    let layer = layer_with_sources([TokenSource::bearer(), TokenSource::query("access_token")]);
    let server = start(extension_app(layer)).await;
    // Each token issued once: two issued across a second's boundary differ
    // (their `iat` and `exp`), and "the same token twice" must be the same.
    let (ada_token, eve_token) = (token("ada"), token("eve"));
    let (ada, eve) = (bearer(&ada_token), bearer(&eve_token));

    // Both tokens are valid: the refusal is about there being two.
    let query_eve = format!("/ext?access_token={eve_token}");
    let reply = get_with(&server, &query_eve, &[("authorization", &ada)]).await;
    assert_refused(&reply, StatusCode::BAD_REQUEST, "invalid_request");
    let two_headers = [("authorization", ada.as_str()), ("authorization", &eve)];
    let reply = get_with(&server, "/ext", &two_headers).await;
    assert_refused(&reply, StatusCode::BAD_REQUEST, "invalid_request");

    let query_ada = format!("/ext?access_token={ada_token}");
    let same = [("authorization", ada.as_str())];
    assert_ok(&get_with(&server, &query_ada, &same).await, "ada");
    let same_twice = [("authorization", ada.as_str()), ("authorization", &ada)];
    assert_ok(&get_with(&server, "/ext", &same_twice).await, "ada");
}

// ---------------------------------------------------------------------------
// Optional mode and route_layer.
// ---------------------------------------------------------------------------

#[cfg(feature = "axum")]
#[tokio::test]
async fn optional_mode_lets_anonymous_requests_through_but_not_bad_tokens() {
    async fn whoami(claims: Option<Claims<MyClaims>>) -> String {
        claims.map_or_else(|| "anonymous".to_owned(), |c| c.into_inner().name)
    }
    let layer = auth().optional(true).build().expect("layer");
    let app = Router::new().route("/whoami", get(whoami)).layer(layer);
    let server = start(app).await;

    assert_ok(&get_with(&server, "/whoami", &[]).await, "anonymous");
    let valid = bearer(&token("ada"));
    assert_ok(
        &get_with(&server, "/whoami", &[("authorization", &valid)]).await,
        "ada",
    );
    for bad in ["Bearer a.b.c".to_owned(), bearer(&expired_token("ada"))] {
        let reply = get_with(&server, "/whoami", &[("authorization", &bad)]).await;
        assert_refused(&reply, StatusCode::UNAUTHORIZED, "invalid_token");
    }
}

#[tokio::test]
async fn route_layer_protects_only_the_routes_before_it() {
    let app = Router::new()
        .route("/private", get(name_from_extension))
        .route_layer(layer())
        .route("/public", get(|| async { "public" }));
    let server = start(app).await;

    assert_ok(&get_with(&server, "/public", &[]).await, "public");
    let reply = get_with(&server, "/private", &[]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let valid = bearer(&token("ada"));
    assert_ok(
        &get_with(&server, "/private", &[("authorization", &valid)]).await,
        "ada",
    );
    // A route layer runs only on matched routes: an unknown path stays a 404.
    assert_eq!(
        get_with(&server, "/nowhere", &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn the_extractor_without_the_layer_answers_like_the_layer() {
    async fn handler(claims: Claims<MyClaims>) -> String {
        claims.into_inner().name
    }
    // The route is outside the route layer, so no claims are ever inserted.
    let app = Router::new()
        .route("/private", get(name_from_extension))
        .route_layer(layer())
        .route("/unprotected", get(handler));
    let server = start(app).await;

    let valid = bearer(&token("ada"));
    let reply = get_with(&server, "/unprotected", &[("authorization", &valid)]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.header(WWW_AUTHENTICATE), "Bearer");
    assert_eq!(reply.json()["error"], "unauthorized");
}

// ---------------------------------------------------------------------------
// Nothing is lost on the way in; nothing gets through on a refusal.
// ---------------------------------------------------------------------------

/// Answers with the request body, and each request header `h` as `x-seen-h`,
/// plus `x-seen-method` and `x-seen-uri`.
async fn mirror(request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .expect("request body");
    let mut response = Response::builder()
        .header("x-seen-method", parts.method.as_str())
        .header("x-seen-uri", parts.uri.to_string());
    for (name, value) in &parts.headers {
        response = response.header(format!("x-seen-{name}"), value);
    }
    response.body(Body::from(body)).expect("response")
}

#[tokio::test]
async fn the_handler_sees_the_request_exactly_as_it_was_sent() {
    let app = Router::new()
        .route("/mirror/{*rest}", any(mirror))
        .layer(layer());
    let server = start(app).await;
    let authorization = bearer(&token("ada"));
    let payload: Vec<u8> = (0..100 * 1024).map(|i| (i % 251) as u8).collect();
    let path = "/mirror/a%20b/c?q=1&r=%2F&empty=";

    let request = Request::put(format!("http://{}{path}", server.addr))
        .header("authorization", &authorization)
        .header("x-custom", "hello")
        .header("x-multi", "one")
        .header("x-multi", "two")
        .header("content-type", "application/octet-stream")
        .body(Full::<Bytes>::from(payload.clone()))
        .expect("request");
    let reply = send(request).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body == payload, "the echoed body differs");
    assert_eq!(reply.header("x-seen-method"), "PUT");
    assert_eq!(reply.header("x-seen-uri"), path);
    assert_eq!(reply.header("x-seen-authorization"), authorization);
    assert_eq!(reply.header("x-seen-x-custom"), "hello");
    let multi: Vec<_> = reply.headers.get_all("x-seen-x-multi").iter().collect();
    assert_eq!(multi, ["one", "two"]);
    assert_eq!(
        reply.header("x-seen-content-type"),
        "application/octet-stream"
    );
    assert_eq!(reply.header("x-seen-content-length"), "102400");
}

#[tokio::test]
async fn a_refused_request_never_reaches_the_handler() {
    async fn count(State(calls): State<Arc<AtomicUsize>>) -> &'static str {
        calls.fetch_add(1, Ordering::SeqCst);
        "counted"
    }
    let calls = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/count", get(count))
        .layer(layer())
        .with_state(calls.clone());
    let server = start(app).await;

    let (ada, eve) = (bearer(&token("ada")), bearer(&token("eve")));
    let refused: [&[(&str, &str)]; 6] = [
        &[],
        &[("authorization", "Bearer a.b.c")],
        &[("authorization", "Bearer")],
        &[("authorization", &bearer(&expired_token("ada")))],
        &[("authorization", &bearer(&issue(OTHER_SECRET, "ada")))],
        &[("authorization", &ada), ("authorization", &eve)],
    ];
    for headers in refused {
        let reply = get_with(&server, "/count", headers).await;
        assert!(
            reply.status.is_client_error(),
            "{headers:?}: {}",
            reply.status
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // The counter does count.
    assert_ok(
        &get_with(&server, "/count", &[("authorization", &ada)]).await,
        "counted",
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------
// Hostile input through the real server.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_token_over_8_kib_is_refused_before_decoding() {
    let server = start(extension_app(layer())).await;
    // Genuinely signed tokens: only the length differs. The name is in both
    // `sub` and `name`.
    let long = token(&"x".repeat(3500));
    let short = token(&"x".repeat(2000));
    assert!(
        (9 * 1024..10 * 1024).contains(&long.len()),
        "{}",
        long.len()
    );
    assert!(short.len() < 8 * 1024, "{}", short.len());

    let reply = get_with(&server, "/ext", &[("authorization", &bearer(&long))]).await;
    assert_refused(&reply, StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        reply.header(WWW_AUTHENTICATE),
        challenge("invalid_token", "token too long")
    );

    let reply = get_with(&server, "/ext", &[("authorization", &bearer(&short))]).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn non_ascii_bytes_in_the_authorization_header_are_a_bad_request() {
    let server = start(extension_app(layer())).await;
    let host = server.addr.to_string();
    // UTF-8 "é" and a lone 0xFF: obs-text, which HTTP/1.1 parsers let through.
    for credentials in [&b"caf\xc3\xa9.b.c"[..], b"\xff\xfe.b.c"] {
        let mut request =
            format!("GET /ext HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer ").into_bytes();
        request.extend_from_slice(credentials);
        request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");

        let response = send_raw(server.addr, &request).await;
        let response = String::from_utf8_lossy(&response);
        assert!(
            response.starts_with("HTTP/1.1 400 "),
            "{credentials:?}: {response}"
        );
        assert!(response.contains("invalid_request"), "{response}");
    }

    // The server keeps serving.
    let valid = bearer(&token("ada"));
    assert_ok(
        &get_with(&server, "/ext", &[("authorization", &valid)]).await,
        "ada",
    );
}

#[tokio::test]
async fn garbage_tokens_are_invalid_tokens_not_server_errors() {
    let server = start(extension_app(layer())).await;
    let garbage = [
        "a.b.c",
        "a.b",
        "....",
        "e30.e30.e30",
        "eyJhbGciOiJIUzI1NiJ9.e30.x",
        "eyJhbGciOiJub25lIn0.eyJleHAiOjk5OTk5OTk5OTl9.",
        "%%%.%%%.%%%",
    ];
    for token in garbage {
        let reply = get_with(&server, "/ext", &[("authorization", &bearer(token))]).await;
        assert_refused(&reply, StatusCode::UNAUTHORIZED, "invalid_token");
    }
}
