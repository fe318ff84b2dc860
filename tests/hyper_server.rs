//! Black-box tests through a plain hyper 1.x server (no axum): the layer behind
//! `ServiceBuilder`, served with hyper-util's `TowerToHyperService` over HTTP/1,
//! plus `oneshot` tests of readiness and errors that need no server.

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING, WWW_AUTHENTICATE,
};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tower::limit::ConcurrencyLimitLayer;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tower_jwt_auth::{Claims, JwtAuthLayer, Key, TokenIssuer};

mod common;

use common::{Reply, Server, TIMEOUT, send, serve_hyper as start};

// ---------------------------------------------------------------------------
// Shared helpers: requests, tokens.
// ---------------------------------------------------------------------------

const SECRET: &[u8] = b"hyper integration secret 32 byte";
const OTHER_SECRET: &[u8] = b"someone else's secret, 32 bytes!";

#[derive(Clone, Debug, Deserialize)]
struct User {
    sub: String,
}

/// GET `/` with an optional `Authorization` value.
async fn get(server: &Server, authorization: Option<&str>) -> Reply {
    let mut request = Request::get(server.url("/"));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    send(request.body(Full::<Bytes>::default()).expect("request")).await
}

fn layer() -> JwtAuthLayer<User> {
    JwtAuthLayer::builder()
        .key(Key::hmac(SECRET))
        .build()
        .expect("layer")
}

fn issue(secret: &[u8], sub: &str) -> String {
    TokenIssuer::hmac(secret)
        .build()
        .expect("issuer")
        .issue(&serde_json::json!({ "sub": sub }))
        .expect("token")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A valid `Authorization` value for `sub`.
fn valid(sub: &str) -> String {
    bearer(&issue(SECRET, sub))
}

/// A token issued two hours ago with the default 15-minute TTL.
fn expired(sub: &str) -> String {
    let two_hours_ago = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
        - 2 * 3600;
    let token = TokenIssuer::hmac(SECRET)
        .clock(move || two_hours_ago)
        .build()
        .expect("issuer")
        .issue(&serde_json::json!({ "sub": sub }))
        .expect("token");
    bearer(&token)
}

/// A request for `oneshot` tests.
fn request(authorization: Option<&str>) -> Request<Full<Bytes>> {
    let mut request = Request::get("/");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.body(Full::default()).expect("request")
}

/// Greets the subject found in the request extensions.
async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.extensions().get::<Claims<User>>() {
        Some(claims) => format!("hello {}", claims.sub),
        None => "no claims".to_owned(),
    };
    Ok(Response::new(Full::from(body)))
}

async fn start_hello() -> Server {
    start(
        ServiceBuilder::new()
            .layer(layer())
            .service(service_fn(hello)),
    )
    .await
}

// ---------------------------------------------------------------------------
// Answers.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_valid_token_puts_the_claims_into_the_request_extensions() {
    let server = start_hello().await;
    let reply = get(&server, Some(&valid("ada"))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "hello ada");
}

#[tokio::test]
async fn a_request_without_a_token_gets_the_exact_challenge() {
    let server = start_hello().await;
    let reply = get(&server, None).await;

    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.header(WWW_AUTHENTICATE), "Bearer");
    assert_eq!(reply.header(CONTENT_TYPE), "application/json");
    assert_eq!(reply.header(CACHE_CONTROL), "no-store");
    assert_eq!(
        reply.json(),
        serde_json::json!({ "error": "unauthorized", "error_description": "no token" })
    );
}

#[tokio::test]
async fn a_bad_token_gets_invalid_token_and_a_json_body() {
    let server = start_hello().await;
    let cases = [
        (
            bearer(&issue(OTHER_SECRET, "ada")),
            Some("invalid signature"),
        ),
        (expired("ada"), Some("token expired")),
        (bearer("a.b.c"), None),
    ];
    for (authorization, description) in cases {
        let reply = get(&server, Some(&authorization)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{authorization}");
        assert_eq!(reply.header(CONTENT_TYPE), "application/json");
        let body = reply.json();
        assert_eq!(body["error"], "invalid_token");
        let said = body["error_description"].as_str().expect("a description");
        if let Some(description) = description {
            assert_eq!(said, description);
        }
        // The challenge carries the same description as the body.
        assert_eq!(
            reply.header(WWW_AUTHENTICATE),
            format!("Bearer error=\"invalid_token\", error_description=\"{said}\"")
        );
    }
}

#[tokio::test]
async fn a_malformed_request_gets_invalid_request_and_a_json_body() {
    let server = start_hello().await;
    let reply = get(&server, Some("Bearer")).await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.header(CONTENT_TYPE), "application/json");
    assert_eq!(reply.json()["error"], "invalid_request");
    assert!(
        reply
            .header(WWW_AUTHENTICATE)
            .starts_with("Bearer error=\"invalid_request\", error_description=\"")
    );
}

// ---------------------------------------------------------------------------
// Readiness.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn behind_a_concurrency_limit_every_request_gets_a_permit() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let inner = {
        let (in_flight, most) = (in_flight.clone(), most.clone());
        service_fn(move |_: Request<Incoming>| {
            let (in_flight, most) = (in_flight.clone(), most.clone());
            async move {
                most.fetch_max(
                    in_flight.fetch_add(1, Ordering::SeqCst) + 1,
                    Ordering::SeqCst,
                );
                // Give other connections a chance to overlap.
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("limited")))
            }
        })
    };
    // `ConcurrencyLimit::call` panics unless `poll_ready` gave it a permit.
    let service = ServiceBuilder::new()
        .layer(layer())
        .layer(ConcurrencyLimitLayer::new(1))
        .service(inner);
    let server = Arc::new(start(service).await);

    // Refused requests reserve a permit too, and must give it back.
    for _ in 0..3 {
        assert_eq!(get(&server, None).await.status, StatusCode::UNAUTHORIZED);
    }
    let mut requests = JoinSet::new();
    for i in 0..4 {
        let server = server.clone();
        requests.spawn(async move { get(&server, Some(&valid(&format!("u{i}")))).await });
    }
    while let Some(reply) = requests.join_next().await {
        let reply = reply.expect("request task");
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.text(), "limited");
    }
    assert_eq!(most.load(Ordering::SeqCst), 1);
}

/// Answers 200 only when `poll_ready` came before `call`; each clone starts
/// unready, as a clone of a real service would.
struct MustBeReady {
    ready: bool,
    polls: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

impl Clone for MustBeReady {
    fn clone(&self) -> Self {
        Self {
            ready: false,
            polls: self.polls.clone(),
            calls: self.calls.clone(),
        }
    }
}

impl<B> Service<Request<B>> for MustBeReady {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        self.ready = true;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let response = if std::mem::take(&mut self.ready) {
            Response::new(Full::from("ready"))
        } else {
            let mut response = Response::new(Full::from("called before poll_ready"));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        };
        std::future::ready(Ok(response))
    }
}

#[tokio::test]
async fn poll_ready_is_forwarded_before_each_call() {
    let (polls, calls) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let inner = MustBeReady {
        ready: false,
        polls: polls.clone(),
        calls: calls.clone(),
    };
    let server = start(ServiceBuilder::new().layer(layer()).service(inner)).await;

    for i in 0..3 {
        let reply = get(&server, Some(&valid(&format!("u{i}")))).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.text(), "ready");
        assert_eq!(get(&server, None).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(polls.load(Ordering::SeqCst) >= 3);
}

/// Not ready at the first poll (and asks to be polled again), ready after.
#[derive(Clone, Default)]
struct PendingOnce {
    polls: usize,
}

impl<B> Service<Request<B>> for PendingOnce {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.polls += 1;
        if self.polls == 1 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        assert!(self.polls >= 2, "called before the service was ready");
        std::future::ready(Ok(Response::new(Full::from("ready"))))
    }
}

#[tokio::test]
async fn pending_readiness_is_forwarded() {
    // The request type picks the `Service` impl; the waker is not needed.
    fn poll_once<S: Service<Request<Full<Bytes>>>>(service: &mut S) -> Poll<Result<(), S::Error>> {
        service.poll_ready(&mut Context::from_waker(Waker::noop()))
    }
    let mut service = layer().layer(PendingOnce::default());
    assert!(poll_once(&mut service).is_pending());
    assert!(matches!(poll_once(&mut service), Poll::Ready(Ok(()))));
    assert_eq!(service.get_ref().polls, 2);

    // `oneshot` waits through the pending poll and gets the inner answer.
    let response = layer()
        .layer(PendingOnce::default())
        .oneshot(request(Some(&valid("ada"))));
    let response = tokio::time::timeout(TIMEOUT, response)
        .await
        .expect("no answer in time")
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------
// Response bodies and errors of the inner service.
// ---------------------------------------------------------------------------

/// A response body fed frame by frame through a channel.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

/// Sixteen frames of different sizes and contents.
fn frames() -> Vec<Bytes> {
    (0..16u8)
        .map(|i| Bytes::from(vec![b'a' + i; 4096 + usize::from(i) * 7]))
        .collect()
}

#[tokio::test]
async fn a_streamed_inner_body_reaches_the_client_byte_for_byte() {
    let inner = service_fn(|_: Request<Incoming>| async {
        // A channel of one: each frame is sent only after the previous one
        // was taken, so the body really streams.
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            for frame in frames() {
                if tx.send(frame).await.is_err() {
                    break;
                }
            }
        });
        Ok::<_, Infallible>(Response::new(ChannelBody(rx)))
    });
    let server = start(ServiceBuilder::new().layer(layer()).service(inner)).await;

    let reply = get(&server, Some(&valid("ada"))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(TRANSFER_ENCODING), "chunked");
    assert_eq!(reply.header(CONTENT_LENGTH), "");
    assert!(reply.body == frames().concat(), "the body differs");
}

#[derive(Debug, PartialEq)]
struct Boom(&'static str);

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "boom: {}", self.0)
    }
}

impl std::error::Error for Boom {}

/// Never ready: its readiness fails.
#[derive(Clone)]
struct Broken;

impl<B> Service<Request<B>> for Broken {
    type Response = Response<Full<Bytes>>;
    type Error = Boom;
    type Future = std::future::Ready<Result<Self::Response, Boom>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Boom>> {
        Poll::Ready(Err(Boom("not ready")))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        unreachable!("called although poll_ready failed")
    }
}

#[tokio::test]
async fn inner_errors_pass_through_as_errors() {
    let failing = service_fn(|_: Request<Full<Bytes>>| async {
        Err::<Response<Full<Bytes>>, _>(Boom("handler"))
    });
    let service = layer().layer(failing);

    let error = service
        .clone()
        .oneshot(request(Some(&valid("ada"))))
        .await
        .expect_err("the handler's error");
    assert_eq!(error, Boom("handler"));

    // A refusal is a response, not an error, and the handler is not called.
    let response = service.oneshot(request(None)).await.expect("a response");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // A readiness error is the inner service's own.
    let error = layer()
        .layer(Broken)
        .oneshot(request(Some(&valid("ada"))))
        .await
        .expect_err("the readiness error");
    assert_eq!(error, Boom("not ready"));
}
