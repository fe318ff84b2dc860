//! Support shared by the server tests: a real server on 127.0.0.1 (axum, or
//! plain hyper over HTTP/1), stopped when dropped, and a client that returns
//! the whole answer. [`jwks_server`] is a JWK Set endpoint the test controls,
//! [`connect_proxy`] an HTTP `CONNECT` proxy before it,
//! [`introspection_endpoint`] a hostile, counting introspection endpoint,
//! [`oauth_provider`] a real OAuth authorization server and DPoP client
//! (Node.js).

// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

pub mod connect_proxy;
pub mod introspection_endpoint;
pub mod jwks_server;
pub mod logs;
pub mod oauth_provider;
pub mod redis;
pub mod redis_cluster;
#[cfg(feature = "redis")]
pub mod revocation_load;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tower::{BoxError, Service};

/// How long a test waits for any answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A server on an ephemeral port, stopped when dropped.
pub struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds 127.0.0.1:0 and spawns `serve` on the listener.
async fn spawn<F, Fut>(serve: F) -> Server
where
    F: FnOnce(TcpListener) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    let task = tokio::spawn(serve(listener));
    Server { addr, task }
}

/// Serves `app` with `axum::serve`.
pub async fn serve_axum(app: Router) -> Server {
    spawn(|listener| async move { axum::serve(listener, app).await.expect("serve") }).await
}

/// Serves the router `make` builds with `axum::serve` on 127.0.0.1:0, on a
/// thread and runtime of its own that live as long as the test binary (the
/// runtime of each `#[tokio::test]` ends with the test): for a server started
/// once per test binary, behind a `OnceCell`.
pub async fn serve_axum_for_the_binary<F, Fut>(make: F) -> SocketAddr
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Router>,
{
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("test server".to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the server's runtime");
            runtime.block_on(async move {
                let app = make().await;
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let _ = sender.send(listener.local_addr().expect("local address"));
                axum::serve(listener, app).await.expect("serve");
            });
        })
        .expect("spawn the server's thread");
    tokio::time::timeout(TIMEOUT, receiver)
        .await
        .expect("the server started in time")
        .expect("the server's thread started it")
}

/// Serves `service` with plain hyper over HTTP/1, one connection task per
/// accepted socket. The accept loop owns the connection tasks, so aborting it
/// ends them too.
pub async fn serve_hyper<S, B>(service: S) -> Server
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    spawn(|listener| async move {
        let mut connections = JoinSet::new();
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            let service = TowerToHyperService::new(service.clone());
            connections.spawn(async move {
                // A client that hangs up is not the server's failure: the
                // client sees every failure that matters.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
            while connections.try_join_next().is_some() {}
        }
    })
    .await
}

/// What came back: status, headers and the whole body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The header's value, or "" when it is absent.
    pub fn header(&self, name: impl http::header::AsHeaderName) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().expect("ASCII header"))
    }

    /// The body as text, invalid UTF-8 replaced (bodies may echo any bytes).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// The `error_description` of the default responder's JSON body, or ""
    /// when it has none.
    pub fn error_description(&self) -> String {
        self.json()["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// The committed PyJWT fixture token named `name` (tests/fixtures/pyjwt).
pub fn pyjwt_token(name: &str) -> String {
    let tokens: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../fixtures/pyjwt/tokens.json")).unwrap();
    tokens
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Sends `method url` with `Authorization: Bearer <token>` and no body.
pub async fn send_bearer(method: &str, url: &str, token: &str) -> Reply {
    send(
        Request::builder()
            .method(method)
            .uri(url)
            .header("authorization", format!("Bearer {token}"))
            .body(http_body_util::Empty::<Bytes>::new())
            .expect("valid request"),
    )
    .await
}

/// Sends `request` with a fresh HTTP/1.1 client and reads the whole answer.
pub async fn send<B>(request: Request<B>) -> Reply
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    send_with(&Client::builder(TokioExecutor::new()).build_http(), request).await
}

/// Sends `request` with `client` and reads the whole answer, within `TIMEOUT`.
pub async fn send_with<B>(client: &Client<HttpConnector, B>, request: Request<B>) -> Reply
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let exchange = async {
        let response = client.request(request).await.expect("request");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("response body").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .expect("no answer in time")
}

/// Polls `condition` every 20 ms until it holds; panics naming `what` when
/// it has not within `bound`.
pub async fn eventually<F, Fut>(bound: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !condition().await {
        assert!(start.elapsed() < bound, "not within {bound:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
