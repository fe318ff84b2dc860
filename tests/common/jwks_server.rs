//! A JWK Set endpoint on 127.0.0.1 that the test controls: the document, the
//! status, the `Cache-Control` and `Content-Type` headers, delays before the
//! head and before the body, a chunked body, the OpenID Connect discovery
//! document, any answer at any other path ([`Served`], for metadata at the
//! well-known URLs of an issuer with a path); and what it saw: fetch
//! counters, every request's path in order, and the last request's headers.
//!
//! Self-contained (no `super::`), so that the crate's unit tests can include
//! it with `#[path]` as well. It can be down (the port reserved, nothing
//! listening) and come up on the same port; stopping it also ends its open
//! connections.

#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// The path of the JWK Set.
pub const JWKS_PATH: &str = "/jwks.json";
/// The path of the discovery document, for the issuer `http://127.0.0.1:<port>`.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// An Ed25519 public key (`tests/fixtures/pyjwt/ed25519_public.pem`): every
/// test key shares it; the `kid` tells them apart.
pub const ED25519_X: &str = "ckrClkEXyQGlvNDU5x6jA5O-R7gy9EYmVnM3Tpafpw8";

/// A usable signing JWK named `kid`.
pub fn jwk(kid: &str) -> serde_json::Value {
    serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "use": "sig",
        "alg": "EdDSA",
        "kid": kid,
        "x": ED25519_X,
    })
}

/// A JWK Set document with one usable key per `kid`.
pub fn jwk_set(kids: &[&str]) -> String {
    let keys: Vec<_> = kids.iter().map(|kid| jwk(kid)).collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// An answer at a path of the test's choosing ([`JwksServer::serve_at`]).
#[derive(Clone, Debug)]
pub struct Served {
    status: StatusCode,
    body: Bytes,
    headers: Vec<(HeaderName, HeaderValue)>,
    delay: Duration,
}

impl Served {
    /// `200 OK`, `Content-Type: application/json`, this body.
    pub fn json(body: impl Into<String>) -> Self {
        Self::status(StatusCode::OK)
            .body(body.into())
            .header("content-type", "application/json")
    }

    /// This status, an empty body, no headers.
    pub fn status(status: StatusCode) -> Self {
        Self {
            status,
            body: Bytes::new(),
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds a header (or replaces one added before).
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        let name = HeaderName::from_static(name);
        self.headers.retain(|(n, _)| *n != name);
        let value = HeaderValue::from_str(value).expect("header value");
        self.headers.push((name, value));
        self
    }

    /// Waits this long before answering.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// What the server answers, and what it saw.
struct Control {
    document: Mutex<Bytes>,
    status: Mutex<StatusCode>,
    delay: Mutex<Duration>,
    body_delay: Mutex<Duration>,
    cache_control: Mutex<Option<String>>,
    content_type: Mutex<Option<String>>,
    chunked: AtomicBool,
    discovery: Mutex<Option<String>>,
    fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
    last_headers: Mutex<Option<HeaderMap>>,
    served: Mutex<HashMap<String, Served>>,
    requests: Mutex<Vec<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The endpoint; stopped when dropped.
pub struct JwksServer {
    addr: SocketAddr,
    control: Arc<Control>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl JwksServer {
    /// A listening server serving `jwk_set(&["k1"])`, `200`, JSON, no `Cache-Control`.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let server = Self::new(listener.local_addr().expect("local address"));
        server.serve(listener);
        server
    }

    /// A server that is down: its port was free a moment ago and nothing
    /// listens on it (connections are refused) until [`up`](Self::up).
    pub async fn down() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::new(listener.local_addr().expect("local address"))
    }

    fn new(addr: SocketAddr) -> Self {
        let control = Control {
            document: Mutex::new(Bytes::from(jwk_set(&["k1"]))),
            status: Mutex::new(StatusCode::OK),
            delay: Mutex::new(Duration::ZERO),
            body_delay: Mutex::new(Duration::ZERO),
            cache_control: Mutex::new(None),
            content_type: Mutex::new(Some("application/json".into())),
            chunked: AtomicBool::new(false),
            discovery: Mutex::new(None),
            fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
            last_headers: Mutex::new(None),
            served: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
        };
        Self {
            addr,
            control: Arc::new(control),
            task: Mutex::new(None),
        }
    }

    /// Starts listening again, on the same port.
    pub async fn up(&self) {
        let listener = TcpListener::bind(self.addr).await.expect("bind again");
        self.serve(listener);
    }

    /// Stops listening and ends every open connection.
    pub fn stop(&self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }

    fn serve(&self, listener: TcpListener) {
        let app = Router::new()
            .route(JWKS_PATH, get(jwks))
            .route(DISCOVERY_PATH, get(discovery))
            .fallback(served)
            .with_state((Arc::clone(&self.control), self.addr));
        let task = tokio::spawn(async move {
            // Owns the connections: aborting the loop ends them too.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let service = TowerToHyperService::new(app.clone());
                connections.spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        if let Some(old) = lock(&self.task).replace(task) {
            old.abort();
        }
    }

    /// `http://127.0.0.1:<port>/jwks.json`.
    pub fn url(&self) -> String {
        format!("http://{}{JWKS_PATH}", self.addr)
    }

    /// `http://127.0.0.1:<port>`: the issuer the discovery document names by default.
    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `document` from now on.
    pub fn set_document(&self, document: impl Into<Bytes>) {
        *lock(&self.control.document) = document.into();
    }

    /// Serves a JWK Set with one usable key per `kid`.
    pub fn set_kids(&self, kids: &[&str]) {
        self.set_document(jwk_set(kids));
    }

    pub fn set_status(&self, status: StatusCode) {
        *lock(&self.control.status) = status;
    }

    /// Waits this long before answering.
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.control.delay) = delay;
    }

    /// Sends the head at once, then waits this long before the body (which is
    /// then a stream, without `Content-Length`).
    pub fn set_body_delay(&self, delay: Duration) {
        *lock(&self.control.body_delay) = delay;
    }

    pub fn set_cache_control(&self, value: Option<&str>) {
        *lock(&self.control.cache_control) = value.map(str::to_owned);
    }

    pub fn set_content_type(&self, value: Option<&str>) {
        *lock(&self.control.content_type) = value.map(str::to_owned);
    }

    /// Sends the body in 1 KiB chunks, without `Content-Length`.
    pub fn set_chunked(&self, chunked: bool) {
        self.control.chunked.store(chunked, Ordering::SeqCst);
    }

    /// Serves this discovery document instead of the default one
    /// (`{"issuer": <issuer()>, "jwks_uri": <url()>}`).
    pub fn set_discovery(&self, document: Option<String>) {
        *lock(&self.control.discovery) = document;
    }

    /// Answers `served` at `path` from now on (a path without an answer is
    /// `404`). The JWK Set's and the discovery document's own paths keep
    /// their answers.
    pub fn serve_at(&self, path: &str, served: Served) {
        lock(&self.control.served).insert(path.to_owned(), served);
    }

    /// A metadata document for `issuer` whose `jwks_uri` is this server's
    /// JWK Set.
    pub fn metadata_for(&self, issuer: &str) -> String {
        serde_json::json!({ "issuer": issuer, "jwks_uri": self.url() }).to_string()
    }

    /// The path of every request so far, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.control.requests).clone()
    }

    /// How many times the JWK Set was requested.
    pub fn fetches(&self) -> usize {
        self.control.fetches.load(Ordering::SeqCst)
    }

    /// How many times the discovery document was requested.
    pub fn discovery_fetches(&self) -> usize {
        self.control.discovery_fetches.load(Ordering::SeqCst)
    }

    /// The headers of the last JWK Set request.
    pub fn last_headers(&self) -> Option<HeaderMap> {
        lock(&self.control.last_headers).clone()
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.stop();
    }
}

type Shared = (Arc<Control>, SocketAddr);

async fn jwks(State((control, _)): State<Shared>, headers: HeaderMap) -> Response {
    lock(&control.requests).push(JWKS_PATH.to_owned());
    control.fetches.fetch_add(1, Ordering::SeqCst);
    *lock(&control.last_headers) = Some(headers);
    let delay = *lock(&control.delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let document = lock(&control.document).clone();
    let body_delay = *lock(&control.body_delay);
    let body = if !body_delay.is_zero() {
        Body::from_stream(futures_util::stream::once(async move {
            tokio::time::sleep(body_delay).await;
            Ok::<_, Infallible>(document)
        }))
    } else if control.chunked.load(Ordering::SeqCst) {
        let chunks: Vec<Result<Bytes, Infallible>> = (0..document.len())
            .step_by(1024)
            .map(|start| Ok(document.slice(start..(start + 1024).min(document.len()))))
            .collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    } else {
        Body::from(document)
    };
    let mut response = Response::new(body);
    *response.status_mut() = *lock(&control.status);
    if let Some(value) = lock(&control.cache_control).as_deref() {
        let value = HeaderValue::from_str(value).expect("Cache-Control value");
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    if let Some(value) = lock(&control.content_type).as_deref() {
        let value = HeaderValue::from_str(value).expect("Content-Type value");
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

async fn discovery(State((control, addr)): State<Shared>) -> Response {
    lock(&control.requests).push(DISCOVERY_PATH.to_owned());
    control.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let document = lock(&control.discovery).clone().unwrap_or_else(|| {
        serde_json::json!({
            "issuer": format!("http://{addr}"),
            "jwks_uri": format!("http://{addr}{JWKS_PATH}"),
            "id_token_signing_alg_values_supported": ["EdDSA"],
        })
        .to_string()
    });
    let mut response = Response::new(Body::from(document));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn served(State((control, _)): State<Shared>, uri: Uri) -> Response {
    let path = uri.path().to_owned();
    lock(&control.requests).push(path.clone());
    let Some(served) = lock(&control.served).get(&path).cloned() else {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    };
    if !served.delay.is_zero() {
        tokio::time::sleep(served.delay).await;
    }
    let mut response = Response::new(Body::from(served.body));
    *response.status_mut() = served.status;
    for (name, value) in served.headers {
        response.headers_mut().insert(name, value);
    }
    response
}
