//! CSRF protection of cookie tokens, through a real axum server on 127.0.0.1:
//! every method with every token source under cross-site and same-origin
//! requests, the same-origin rules, the double-submit value, the explicit
//! opt-out, the order of verification and CSRF check, and the 403 itself.
//!
//! Two layers are served: a head-only one (bearer, cookie `session`) and a form
//! one (bearer, cookie `session`, query `access_token`, form field `token`).
//! The handler echoes the method and the subject, and counts its calls: every
//! request checks that it ran exactly when the answer is 200.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::middleware::map_response;
use axum::response::Response;
use axum::routing::any;
use axum::{Extension, Router};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, HeaderName, WWW_AUTHENTICATE};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use tower_jwt_auth::{
    AuthError, Claims, CsrfPolicy, DEFAULT_CSRF_CLAIM, DEFAULT_CSRF_HEADER, IssuedToken,
    JwtAuthBuilder, JwtAuthLayer, Key, TokenIssuer, TokenSource,
};

mod common;

use common::Reply;

// ---------------------------------------------------------------------------
// Tokens, layers and the server.
// ---------------------------------------------------------------------------

const SECRET: &[u8] = b"csrf integration secret 32 bytes";
const OTHER_SECRET: &[u8] = b"someone else's secret, 32 bytes!";
const SUB: &str = "ada";
const URLENCODED: &str = "application/x-www-form-urlencoded";
/// Set by an outer layer to the `Debug` form of the rejection's error kind,
/// which does not cross the wire otherwise.
const KIND: &str = "x-auth-error-kind";
const CROSS_SITE: &str = "cross-site request with a cookie token";
const WRONG_VALUE: &str = "missing or wrong CSRF value";

const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];
const UNSAFE: [Method; 4] = [Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

#[derive(Clone, Debug, Deserialize)]
struct User {
    sub: String,
}

fn issuer() -> TokenIssuer {
    TokenIssuer::hmac(SECRET).build().expect("issuer")
}

fn claims() -> serde_json::Value {
    serde_json::json!({ "sub": SUB })
}

/// A valid token without a CSRF claim.
fn token() -> String {
    issuer().issue(&claims()).expect("token")
}

/// A valid token with a fresh CSRF claim, and that claim's value.
fn token_with_csrf() -> IssuedToken {
    issuer().issue_with_csrf(&claims()).expect("token")
}

/// Where a request carries its token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Header,
    Cookie,
    Query,
    Form,
}

/// Which of the two layers the server runs.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Bearer and cookie `session`.
    HeadOnly,
    /// Bearer, cookie `session`, query `access_token`, form field `token`.
    Form,
}

const MODES: [Mode; 2] = [Mode::HeadOnly, Mode::Form];

impl Mode {
    fn sources(self) -> &'static [Source] {
        match self {
            Mode::HeadOnly => &[Source::Header, Source::Cookie],
            Mode::Form => &[Source::Header, Source::Cookie, Source::Query, Source::Form],
        }
    }
}

fn is_unsafe(method: &Method) -> bool {
    UNSAFE.contains(method)
}

/// Our key and the head sources; `None` keeps the builder's default policy.
fn auth(policy: Option<CsrfPolicy>) -> JwtAuthBuilder<User> {
    let builder = JwtAuthLayer::<User>::builder()
        .key(Key::hmac(SECRET))
        .source(TokenSource::bearer())
        .source(TokenSource::cookie("session"));
    match policy {
        Some(policy) => builder.csrf(policy),
        None => builder,
    }
}

/// A server on an ephemeral port, stopped when dropped, and how often its
/// handler ran.
struct Server {
    addr: SocketAddr,
    calls: Arc<AtomicUsize>,
    _running: common::Server,
}

async fn start(mode: Mode, policy: Option<CsrfPolicy>) -> Server {
    let routes = Router::new().route("/echo", any(echo));
    let routes = match mode {
        Mode::HeadOnly => routes.layer(auth(policy).build().expect("layer")),
        Mode::Form => routes.layer(
            auth(policy)
                .source(TokenSource::query("access_token"))
                .form_field("token")
                .build()
                .expect("layer"),
        ),
    };
    serve(routes).await
}

async fn serve(routes: Router<Arc<AtomicUsize>>) -> Server {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = routes
        .layer(map_response(tag_kind))
        .with_state(calls.clone());
    let running = common::serve_axum(app).await;
    Server {
        addr: running.addr,
        calls,
        _running: running,
    }
}

/// Echoes the method, the subject and the `Host` it saw, in headers (a `HEAD`
/// answer has no body); the body repeats the first two.
async fn echo(
    State(calls): State<Arc<AtomicUsize>>,
    method: Method,
    request_headers: HeaderMap,
    Extension(claims): Extension<Claims<User>>,
) -> Response {
    calls.fetch_add(1, Ordering::SeqCst);
    let mut response = Response::new(format!("{method} {}", claims.sub).into());
    let headers = response.headers_mut();
    headers.insert("x-method", method.as_str().parse().expect("header value"));
    headers.insert("x-sub", claims.sub.parse().expect("header value"));
    if let Some(host) = request_headers.get(HOST) {
        headers.insert("x-host", host.clone());
    }
    response
}

async fn tag_kind(mut response: Response) -> Response {
    if let Some(kind) = response
        .extensions()
        .get::<AuthError>()
        .map(AuthError::kind)
    {
        let value = format!("{kind:?}").parse().expect("header value");
        response.headers_mut().insert(KIND, value);
    }
    response
}

// ---------------------------------------------------------------------------
// Requests and answers.
// ---------------------------------------------------------------------------

impl Server {
    /// `http://127.0.0.1:<port>`: the origin of this server, whose authority
    /// the client sends as `Host`.
    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends `method` with `token` in `source` plus `headers`, over HTTP/1.1.
    async fn send(
        &self,
        method: &Method,
        source: Source,
        token: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let client = Client::builder(TokioExecutor::new()).build_http();
        self.exchange(client, self.request(method, source, token, headers))
            .await
    }

    /// Sends the request and checks that the handler ran exactly when the
    /// answer is 200.
    async fn exchange(
        &self,
        client: Client<HttpConnector, Full<Bytes>>,
        request: Request<Full<Bytes>>,
    ) -> Reply {
        let description = format!("{} {:?}", request.method(), request.headers());
        let before = self.calls.load(Ordering::SeqCst);
        let reply = common::send_with(&client, request).await;
        let calls = self.calls.load(Ordering::SeqCst) - before;
        assert_eq!(
            calls,
            usize::from(reply.status == StatusCode::OK),
            "handler calls for {description} answered {}",
            reply.status
        );
        reply
    }

    fn request(
        &self,
        method: &Method,
        source: Source,
        token: &str,
        headers: &[(&str, &str)],
    ) -> Request<Full<Bytes>> {
        let path = match source {
            Source::Query => format!("/echo?access_token={token}"),
            _ => "/echo".to_owned(),
        };
        let mut request = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.origin()));
        let mut body = Bytes::new();
        match source {
            Source::Header => request = request.header("authorization", format!("Bearer {token}")),
            Source::Cookie => {
                request = request.header("cookie", format!("theme=dark; session={token}"))
            }
            Source::Query => {}
            Source::Form => {
                request = request.header(CONTENT_TYPE, URLENCODED);
                body = Bytes::from(format!("note=hi&token={token}"));
            }
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Full::new(body)).expect("request")
    }
}

/// The two ways a browser tells a cross-site request: Fetch metadata, and (in
/// browsers without it) an `Origin` that is not the `Host` the client sent.
const ATTACKS: [&[(&str, &str)]; 2] = [
    &[("sec-fetch-site", "cross-site")],
    &[("origin", "https://evil.example")],
];

#[track_caller]
fn assert_passed(reply: &Reply, method: &Method, context: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{context}: {}", reply.text());
    assert_eq!(reply.header("x-method"), method.as_str(), "{context}");
    assert_eq!(reply.header("x-sub"), SUB, "{context}");
    assert_eq!(reply.header(KIND), "", "{context}");
}

#[track_caller]
fn assert_forbidden(reply: &Reply, context: &str) {
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "{context}: {}",
        reply.text()
    );
    assert_eq!(reply.header(KIND), "CrossSiteRequest", "{context}");
}

#[track_caller]
fn assert_unauthorized(reply: &Reply, kind: &str, context: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{context}: {}",
        reply.text()
    );
    assert_eq!(reply.header(KIND), kind, "{context}");
}

/// Whether `source` can carry a token with `method`: a form needs a body.
fn carries(source: Source, method: &Method) -> bool {
    source != Source::Form || is_unsafe(method)
}

// ---------------------------------------------------------------------------
// Every method, every source, cross-site.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn cross_site_requests_are_refused_only_for_cookie_tokens_on_unsafe_methods() {
    let token = token();
    for mode in MODES {
        // No `.csrf(..)`: the protection is on by default.
        let server = start(mode, None).await;
        let mut forbidden = 0;
        for method in &METHODS {
            for &source in mode.sources() {
                if !carries(source, method) {
                    continue;
                }
                for attack in ATTACKS {
                    let context = format!("{mode:?} {method} {source:?} {attack:?}");
                    let reply = server.send(method, source, &token, attack).await;
                    if source == Source::Cookie && is_unsafe(method) {
                        assert_forbidden(&reply, &context);
                        forbidden += 1;
                    } else {
                        assert_passed(&reply, method, &context);
                    }
                }
            }
        }
        assert_eq!(forbidden, UNSAFE.len() * ATTACKS.len(), "{mode:?}");
    }
}

#[tokio::test]
async fn both_signals_together_are_refused_too() {
    let server = start(Mode::HeadOnly, None).await;
    let both = [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ];
    for method in &UNSAFE {
        let reply = server.send(method, Source::Cookie, &token(), &both).await;
        assert_forbidden(&reply, method.as_str());
    }
}

/// Only the methods RFC 9110 calls safe are exempt: an extension method (as
/// WebDAV's) or a lowercase `post` (methods are case-sensitive) is checked.
#[tokio::test]
async fn extension_methods_are_unsafe() {
    let server = start(Mode::HeadOnly, None).await;
    for name in ["PROPFIND", "PURGE", "post"] {
        let method = Method::from_bytes(name.as_bytes()).expect("method");
        let reply = server
            .send(&method, Source::Cookie, &token(), ATTACKS[0])
            .await;
        assert_forbidden(&reply, name);
        let reply = server
            .send(&method, Source::Header, &token(), ATTACKS[0])
            .await;
        assert_passed(&reply, &method, name);
    }
}

// ---------------------------------------------------------------------------
// The same-origin check.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn same_origin_and_non_browser_cookie_requests_pass_on_unsafe_methods() {
    let token = token();
    for mode in MODES {
        let server = start(mode, None).await;
        let origin = server.origin();
        let with_slash = format!("{origin}/");
        let cases: [&[(&str, &str)]; 6] = [
            &[("sec-fetch-site", "same-origin")],
            // A user's own navigation (typed URL, bookmark).
            &[("sec-fetch-site", "none")],
            &[("origin", &origin)],
            &[("origin", &with_slash)],
            &[("sec-fetch-site", "same-origin"), ("origin", &origin)],
            // Neither header: not a browser, so no other site sent it.
            &[],
        ];
        for method in &UNSAFE {
            for headers in cases {
                let context = format!("{mode:?} {method} {headers:?}");
                let reply = server.send(method, Source::Cookie, &token, headers).await;
                assert_passed(&reply, method, &context);
            }
        }
    }
}

#[tokio::test]
async fn other_origins_and_sites_are_refused() {
    let server = start(Mode::HeadOnly, None).await;
    let port = server.addr.port();
    let other_port = format!("http://127.0.0.1:{}", port.wrapping_add(1));
    let other_host = format!("http://localhost:{port}");
    let same_origin = server.origin();
    let cases: [&[(&str, &str)]; 7] = [
        // A sandboxed frame, a `data:` URL, a redirect across origins.
        &[("origin", "null")],
        &[("origin", &other_port)],
        &[("origin", &other_host)],
        &[("origin", "not an origin")],
        // A sibling sub-domain is same-site, not same-origin.
        &[("sec-fetch-site", "same-site")],
        // Fetch metadata decides, whatever the `Origin` says.
        &[("sec-fetch-site", "cross-site"), ("origin", &same_origin)],
        // The Fetch standard sends lowercase values: nothing else matches.
        &[("sec-fetch-site", "Same-Origin")],
    ];
    for headers in cases {
        let reply = server
            .send(&Method::POST, Source::Cookie, &token(), headers)
            .await;
        assert_forbidden(&reply, &format!("{headers:?}"));
    }
}

/// RFC 6454 §6.2: an `Origin` is `scheme "://" host [":" port]`. A URL parser
/// reads the host of `http://evil@<host>` as `<host>`, but no browser sends
/// such a value: whatever is more than an origin is refused, however the
/// host after it reads. A lone trailing `/` stays tolerated (the test above).
#[tokio::test]
async fn an_origin_with_more_than_scheme_host_and_port_is_refused() {
    let token = token();
    for mode in MODES {
        let server = start(mode, None).await;
        let origin = server.origin();
        let authority = origin.trim_start_matches("http://");
        let values = [
            format!("http://evil@{authority}"),
            format!("http://evil:secret@{authority}"),
            format!("http://@{authority}"),
            format!("{origin}/path"),
            format!("{origin}/path/"),
            format!("{origin}//"),
            format!("{origin}?x=1"),
            format!("{origin}/?x=1"),
            format!("{origin}#top"),
            format!("{origin}/#top"),
            format!("http:/{authority}"),
            format!("http://{authority}\\"),
            "http://".to_owned(),
        ];
        for value in &values {
            for method in &UNSAFE {
                let headers = [("origin", value.as_str())];
                let reply = server.send(method, Source::Cookie, &token, &headers).await;
                assert_forbidden(&reply, &format!("{mode:?} {method} {value}"));
            }
            // Safe methods and other sources are not judged at all.
            let headers = [("origin", value.as_str())];
            let reply = server
                .send(&Method::GET, Source::Cookie, &token, &headers)
                .await;
            assert_passed(&reply, &Method::GET, value);
            let reply = server
                .send(&Method::POST, Source::Header, &token, &headers)
                .await;
            assert_passed(&reply, &Method::POST, value);
        }
    }
    // Nor does userinfo or a path make a trusted origin of one.
    let policy = CsrfPolicy::same_origin().trust_origin("https://app.example");
    let server = start(Mode::HeadOnly, Some(policy)).await;
    for value in [
        "https://evil@app.example",
        "https://app.example/path",
        "https://app.example?x",
    ] {
        for fetch_site in [None, Some("cross-site")] {
            let mut headers = vec![("origin", value)];
            headers.extend(fetch_site.map(|site| ("sec-fetch-site", site)));
            let reply = server
                .send(&Method::PUT, Source::Cookie, &token, &headers)
                .await;
            assert_forbidden(&reply, &format!("{headers:?}"));
        }
    }
}

#[tokio::test]
async fn a_trusted_origin_passes_and_only_that_one() {
    let policy = CsrfPolicy::same_origin().trust_origin("https://app.example");
    let server = start(Mode::HeadOnly, Some(policy)).await;
    let token = token();
    let trusted: [&[(&str, &str)]; 4] = [
        &[("origin", "https://app.example")],
        &[("origin", "https://APP.example/")],
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://app.example"),
        ],
        &[
            ("sec-fetch-site", "same-site"),
            ("origin", "https://app.example"),
        ],
    ];
    for headers in trusted {
        let reply = server
            .send(&Method::PUT, Source::Cookie, &token, headers)
            .await;
        assert_passed(&reply, &Method::PUT, &format!("{headers:?}"));
    }
    let untrusted: [&[(&str, &str)]; 4] = [
        &[("origin", "https://app.example:8443")],
        &[("origin", "http://app.example")],
        &[("origin", "https://evil.example")],
        &[("sec-fetch-site", "cross-site")],
    ];
    for headers in untrusted {
        let reply = server
            .send(&Method::PUT, Source::Cookie, &token, headers)
            .await;
        assert_forbidden(&reply, &format!("{headers:?}"));
    }
}

/// HTTP/2 has no `Host` header: the origin is compared with the request's
/// `:authority`.
#[tokio::test]
async fn over_http2_the_origin_is_compared_with_the_authority() {
    let server = start(Mode::HeadOnly, None).await;
    let token = token();
    for (origin, same) in [
        (server.origin(), true),
        ("https://evil.example".into(), false),
    ] {
        let client = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http();
        let request = server.request(
            &Method::POST,
            Source::Cookie,
            &token,
            &[("origin", &origin)],
        );
        let reply = server.exchange(client, request).await;
        if same {
            assert_passed(&reply, &Method::POST, &origin);
            assert_eq!(reply.header("x-host"), "", "the request had a Host");
        } else {
            assert_forbidden(&reply, &origin);
        }
    }
}

// ---------------------------------------------------------------------------
// The double-submit value.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_issuer_hands_out_the_value_inside_the_token() {
    let (first, second) = (token_with_csrf(), token_with_csrf());
    assert_eq!(first.csrf.len(), 32);
    assert!(first.csrf.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(first.csrf, second.csrf);
    // An application claim of the same name does not choose the value.
    let chosen = issuer()
        .issue_with_csrf(&serde_json::json!({ "sub": SUB, "csrf": "attacker" }))
        .expect("token");
    assert_ne!(chosen.csrf, "attacker");
    let server = start(Mode::HeadOnly, Some(CsrfPolicy::double_submit_only())).await;
    let reply = server
        .send(
            &Method::POST,
            Source::Cookie,
            &chosen.token,
            &[("x-csrf-token", "attacker")],
        )
        .await;
    assert_forbidden(&reply, "the application's csrf claim");
}

#[tokio::test]
async fn double_submit_only_needs_the_right_value() {
    assert_eq!(DEFAULT_CSRF_HEADER, "x-csrf-token");
    for mode in MODES {
        let server = start(mode, Some(CsrfPolicy::double_submit_only())).await;
        for method in &UNSAFE {
            let issued = token_with_csrf();
            let context = format!("{mode:?} {method}");
            let right = [("x-csrf-token", issued.csrf.as_str())];
            let reply = server
                .send(method, Source::Cookie, &issued.token, &right)
                .await;
            assert_passed(&reply, method, &context);
            // Only the value counts: no same-origin check in this policy.
            let cross_site = [right[0], ("sec-fetch-site", "cross-site")];
            let reply = server
                .send(method, Source::Cookie, &issued.token, &cross_site)
                .await;
            assert_passed(&reply, method, &format!("{context} cross-site"));

            let other = token_with_csrf();
            let upper = issued.csrf.to_ascii_uppercase();
            let truncated = &issued.csrf[..issued.csrf.len() - 1];
            let longer = format!("{}0", issued.csrf);
            for value in [other.csrf.as_str(), &upper, truncated, &longer, ""] {
                let wrong = [("x-csrf-token", value)];
                let reply = server
                    .send(method, Source::Cookie, &issued.token, &wrong)
                    .await;
                assert_forbidden(&reply, &format!("{context} value {value:?}"));
            }
            let reply = server
                .send(method, Source::Cookie, &issued.token, &[])
                .await;
            assert_forbidden(&reply, &format!("{context} without a value"));
            // The value in another header, or in the query, is not the header.
            let elsewhere = [("x-xsrf-token", issued.csrf.as_str())];
            let reply = server
                .send(method, Source::Cookie, &issued.token, &elsewhere)
                .await;
            assert_forbidden(&reply, &format!("{context} in another header"));
        }
    }
}

#[tokio::test]
async fn a_token_without_a_usable_claim_never_passes_double_submit() {
    let server = start(Mode::HeadOnly, Some(CsrfPolicy::double_submit_only())).await;
    let issue = |claims: serde_json::Value| issuer().issue(&claims).expect("token");
    let cases = [
        (issue(claims()), "anything"),
        (issue(claims()), ""),
        // An empty claim must not equal an empty header.
        (issue(serde_json::json!({ "sub": SUB, "csrf": "" })), ""),
        // Only string claims are values.
        (issue(serde_json::json!({ "sub": SUB, "csrf": 42 })), "42"),
        (
            issue(serde_json::json!({ "sub": SUB, "csrf": ["v"] })),
            "[\"v\"]",
        ),
    ];
    for (token, value) in &cases {
        let reply = server
            .send(
                &Method::POST,
                Source::Cookie,
                token,
                &[("x-csrf-token", value)],
            )
            .await;
        assert_forbidden(&reply, &format!("value {value:?}"));
    }
}

#[tokio::test]
async fn a_custom_header_and_claim_can_carry_the_value() {
    let policy = CsrfPolicy::double_submit_only()
        .double_submit(HeaderName::from_static("x-xsrf-token"), "xsrf");
    let server = start(Mode::HeadOnly, Some(policy)).await;
    let token = issuer()
        .issue(&serde_json::json!({ "sub": SUB, "xsrf": "v4lue" }))
        .expect("token");
    let right = [("x-xsrf-token", "v4lue")];
    let reply = server
        .send(&Method::DELETE, Source::Cookie, &token, &right)
        .await;
    assert_passed(&reply, &Method::DELETE, "custom header");
    let default_header = [("x-csrf-token", "v4lue")];
    let reply = server
        .send(&Method::DELETE, Source::Cookie, &token, &default_header)
        .await;
    assert_forbidden(&reply, "the default header");
}

#[tokio::test]
async fn with_both_checks_both_are_needed() {
    let policy = CsrfPolicy::default().double_submit(DEFAULT_CSRF_HEADER, DEFAULT_CSRF_CLAIM);
    for mode in MODES {
        let server = start(mode, Some(policy.clone())).await;
        let origin = server.origin();
        for method in &UNSAFE {
            let issued = token_with_csrf();
            let value = ("x-csrf-token", issued.csrf.as_str());
            let context = format!("{mode:?} {method}");
            let passes: [&[(&str, &str)]; 3] = [
                &[value, ("sec-fetch-site", "same-origin")],
                &[value, ("origin", &origin)],
                &[value],
            ];
            for headers in passes {
                let reply = server
                    .send(method, Source::Cookie, &issued.token, headers)
                    .await;
                assert_passed(&reply, method, &format!("{context} {headers:?}"));
            }
            let refused: [&[(&str, &str)]; 4] = [
                &[value, ("sec-fetch-site", "cross-site")],
                &[value, ("origin", "https://evil.example")],
                &[("sec-fetch-site", "same-origin")],
                &[("x-csrf-token", "wrong"), ("origin", &origin)],
            ];
            for headers in refused {
                let reply = server
                    .send(method, Source::Cookie, &issued.token, headers)
                    .await;
                assert_forbidden(&reply, &format!("{context} {headers:?}"));
            }
        }
    }
}

#[tokio::test]
async fn double_submit_leaves_safe_methods_and_other_sources_alone() {
    let server = start(Mode::Form, Some(CsrfPolicy::double_submit_only())).await;
    let token = token();
    for method in &METHODS {
        for &source in Mode::Form.sources() {
            if !carries(source, method) || (source == Source::Cookie && is_unsafe(method)) {
                continue;
            }
            let reply = server
                .send(method, source, &token, &[("sec-fetch-site", "cross-site")])
                .await;
            assert_passed(&reply, method, &format!("{method} {source:?}"));
        }
    }
}

// ---------------------------------------------------------------------------
// The opt-out, and verification before the CSRF check.
// ---------------------------------------------------------------------------

/// `CsrfPolicy::disabled()` is the explicit opt-out: a cookie token is then
/// trusted on any method from any site. Only for cookies browsers never send
/// cross-site (`SameSite=Strict`).
#[tokio::test]
async fn the_disabled_policy_lets_cross_site_cookie_requests_through() {
    let token = token();
    for mode in MODES {
        let server = start(mode, Some(CsrfPolicy::disabled())).await;
        for method in &UNSAFE {
            for attack in ATTACKS {
                let reply = server.send(method, Source::Cookie, &token, attack).await;
                assert_passed(&reply, method, &format!("{mode:?} {method} {attack:?}"));
            }
        }
    }
}

#[tokio::test]
async fn a_bad_cookie_token_is_401_before_any_csrf_check() {
    let forged = TokenIssuer::hmac(OTHER_SECRET)
        .build()
        .expect("issuer")
        .issue(&claims())
        .expect("token");
    let expired = TokenIssuer::hmac(SECRET)
        .clock(|| 1_000_000)
        .build()
        .expect("issuer")
        .issue(&claims())
        .expect("token");
    let cases = [
        ("a.b.c", "MalformedToken"),
        (forged.as_str(), "InvalidSignature"),
        (expired.as_str(), "Expired"),
    ];
    for mode in MODES {
        let server = start(mode, None).await;
        for (token, kind) in cases {
            for attack in ATTACKS {
                let context = format!("{mode:?} {kind} {attack:?}");
                let reply = server
                    .send(&Method::POST, Source::Cookie, token, attack)
                    .await;
                assert_unauthorized(&reply, kind, &context);
                assert_eq!(reply.json()["error"], "invalid_token", "{context}");
            }
        }
        // No token at all is the bare challenge, not a CSRF refusal.
        let reply = server
            .send(&Method::POST, Source::Query, "", ATTACKS[0])
            .await;
        assert_unauthorized(&reply, "MissingToken", &format!("{mode:?} no token"));
    }
}

/// With the form source first, the body is read before the cookie is taken:
/// a cookie token still needs the proof, a token in the form does not.
#[tokio::test]
async fn a_cookie_token_read_after_the_form_is_still_checked() {
    let layer = JwtAuthLayer::<User>::builder()
        .key(Key::hmac(SECRET))
        .form_field("token")
        .source(TokenSource::cookie("session"))
        .build()
        .expect("layer");
    let server = serve(Router::new().route("/echo", any(echo)).layer(layer)).await;
    let token = token();
    let cross_site = ("sec-fetch-site", "cross-site");
    let form_without_token = [(CONTENT_TYPE.as_str(), URLENCODED), cross_site];
    let reply = server
        .send(&Method::POST, Source::Cookie, &token, &form_without_token)
        .await;
    assert_forbidden(&reply, "cookie behind an empty form");
    let reply = server
        .send(&Method::POST, Source::Cookie, &token, &[cross_site])
        .await;
    assert_forbidden(&reply, "cookie without a form");
    let reply = server
        .send(
            &Method::POST,
            Source::Cookie,
            &token,
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_passed(&reply, &Method::POST, "same-origin cookie");
    let reply = server
        .send(&Method::POST, Source::Form, &token, &[cross_site])
        .await;
    assert_passed(&reply, &Method::POST, "form token");
}

// ---------------------------------------------------------------------------
// The 403 itself.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_refusal_is_a_json_403_with_an_invalid_request_challenge() {
    let server = start(Mode::Form, Some(CsrfPolicy::default())).await;
    let reply = server
        .send(
            &Method::POST,
            Source::Cookie,
            &token(),
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_forbidden(&reply, "cross-site");
    assert_eq!(reply.header(CONTENT_TYPE), "application/json");
    assert_eq!(reply.header(CACHE_CONTROL), "no-store");
    assert_eq!(
        reply.header(WWW_AUTHENTICATE),
        format!("Bearer error=\"invalid_request\", error_description=\"{CROSS_SITE}\"")
    );
    assert_eq!(
        reply.json(),
        serde_json::json!({ "error": "invalid_request", "error_description": CROSS_SITE })
    );

    let server = start(Mode::Form, Some(CsrfPolicy::double_submit_only())).await;
    let reply = server
        .send(
            &Method::PATCH,
            Source::Cookie,
            &token_with_csrf().token,
            &[],
        )
        .await;
    assert_forbidden(&reply, "no value");
    assert_eq!(
        reply.header(WWW_AUTHENTICATE),
        format!("Bearer error=\"invalid_request\", error_description=\"{WRONG_VALUE}\"")
    );
    assert_eq!(
        reply.json(),
        serde_json::json!({ "error": "invalid_request", "error_description": WRONG_VALUE })
    );
}
