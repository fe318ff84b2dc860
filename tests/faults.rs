//! Faults around the layer: an inner service that fails, answers 500, panics
//! or is slow, and response futures dropped at every point of their life.
//! Whatever goes wrong behind the layer must reach the client as it is, never
//! as a false 401, and nothing the layer made may outlive its future.

use std::cell::Cell;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::extract::State;
use axum::routing::any;
use axum::{Extension, Router};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use hyper::client::conn::http1::handshake;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Deserializer};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, mpsc};
use tokio::task::JoinSet;
use tower::{BoxError, Layer, Service, ServiceExt, service_fn};
use tower_jwt_auth::{
    AuthError, Claims, Clock, DefaultResponder, ErrorResponder, JwtAuthBuilder, JwtAuthLayer, Key,
    SystemClock, TokenIssuer, TokenSource, WithForm,
};

mod common;

use common::{TIMEOUT, serve_axum as serve};

const SECRET: &[u8] = b"faults test secret, 32 bytes ok!";
const OTHER_SECRET: &[u8] = b"a forger's secret, 32 bytes long";
const URLENCODED: &str = "application/x-www-form-urlencoded";

#[derive(Clone, Debug, Deserialize)]
struct User {
    sub: String,
}

fn token(secret: &[u8], sub: &str) -> String {
    TokenIssuer::hmac(secret)
        .build()
        .expect("issuer")
        .issue(&serde_json::json!({ "sub": sub }))
        .expect("token")
}

fn valid(sub: &str) -> String {
    token(SECRET, sub)
}

fn forged(sub: &str) -> String {
    token(OTHER_SECRET, sub)
}

fn form_body(token: &str) -> String {
    format!("note=hi&token={token}")
}

fn builder<C>() -> JwtAuthBuilder<C> {
    JwtAuthLayer::builder().key(Key::hmac(SECRET))
}

/// Bearer, then the form field: the body is read when there is no header token.
fn with_form<C, R>(builder: JwtAuthBuilder<C, R>) -> JwtAuthBuilder<C, R, WithForm> {
    builder.source(TokenSource::bearer()).form_field("token")
}

/// Bearer only: verification happens synchronously in `call`.
fn header_layer<C>() -> JwtAuthLayer<C> {
    builder().build().expect("layer")
}

fn form_layer<C>() -> JwtAuthLayer<C, DefaultResponder, WithForm> {
    with_form(builder()).build().expect("layer")
}

/// How the token travels: in a bearer GET (the synchronous path), or in the
/// body of a form POST (the path that reads the body first).
#[derive(Clone, Copy, Debug)]
enum Path {
    Header,
    Form,
}

const PATHS: [Path; 2] = [Path::Header, Path::Form];

impl Path {
    fn request<B: From<String> + Default>(self, uri: &str, token: &str) -> Request<B> {
        match self {
            Self::Header => Request::get(uri)
                .header(AUTHORIZATION, format!("Bearer {token}"))
                .body(B::default()),
            Self::Form => Request::post(uri)
                .header(CONTENT_TYPE, URLENCODED)
                .body(B::from(form_body(token))),
        }
        .expect("request")
    }
}

// ---------------------------------------------------------------------------
// The inner service fails or answers 500.
// ---------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
struct Boom;

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the inner service failed")
    }
}

impl std::error::Error for Boom {}

/// An inner service whose every call fails, counting its calls.
fn failing<B>(
    calls: &Arc<AtomicUsize>,
) -> impl Service<Request<B>, Response = Response<Full<Bytes>>, Error = Boom> + Clone {
    let calls = calls.clone();
    service_fn(move |_: Request<B>| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Err(Boom) }
    })
}

/// An inner service that answers every call with a 500 of its own.
fn answering_500<B>()
-> impl Service<Request<B>, Response = Response<Full<Bytes>>, Error = Infallible> + Clone {
    service_fn(|_: Request<B>| async {
        let mut response = Response::new(Full::from("inner failure"));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        Ok(response)
    })
}

/// What came back through the layer: status, whether the layer itself
/// answered, and the body.
#[derive(Debug, PartialEq)]
struct Reply {
    status: StatusCode,
    from_layer: bool,
    body: Bytes,
}

async fn reply<S, B>(service: S, request: Request<Full<Bytes>>) -> Result<Reply, S::Error>
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    B: Body<Error: fmt::Debug>,
{
    let response = service.oneshot(request).await?;
    let status = response.status();
    let from_layer = response.extensions().get::<AuthError>().is_some();
    let body = response.into_body().collect().await.expect("body");
    Ok(Reply {
        status,
        from_layer,
        body: body.to_bytes(),
    })
}

#[tokio::test]
async fn an_inner_error_is_the_service_error_not_a_401() {
    for path in PATHS {
        let calls = Arc::new(AtomicUsize::new(0));
        let request = path.request("/", &valid("ada"));
        let result = match path {
            Path::Header => reply(header_layer::<User>().layer(failing(&calls)), request).await,
            Path::Form => reply(form_layer::<User>().layer(failing(&calls)), request).await,
        };
        assert_eq!(result, Err(Boom), "{path:?}: the inner error is passed on");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{path:?}: one inner call");
    }
}

#[tokio::test]
async fn an_inner_500_reaches_the_client_as_it_is() {
    for path in PATHS {
        let request = path.request("/", &valid("ada"));
        let reply = match path {
            Path::Header => reply(header_layer::<User>().layer(answering_500()), request).await,
            Path::Form => reply(form_layer::<User>().layer(answering_500()), request).await,
        };
        let expected = Reply {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            from_layer: false,
            body: Bytes::from("inner failure"),
        };
        assert_eq!(reply, Ok(expected), "{path:?}");
    }
}

// ---------------------------------------------------------------------------
// The handler panics, behind a real axum server.
// ---------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Counters {
    panics: Arc<AtomicUsize>,
    rejections: Arc<AtomicUsize>,
}

/// `/ok` answers the subject, `/fail` a 500, `/panic` panics; the layer
/// counts every rejection it makes.
fn panicky_app(counters: &Counters) -> Router {
    async fn ok(Extension(claims): Extension<Claims<User>>) -> String {
        claims.sub.clone()
    }
    async fn fail() -> (StatusCode, &'static str) {
        (StatusCode::INTERNAL_SERVER_ERROR, "inner failure")
    }
    async fn explode(
        State(counters): State<Counters>,
        Extension(claims): Extension<Claims<User>>,
    ) -> String {
        counters.panics.fetch_add(1, Ordering::SeqCst);
        panic!("the handler panics for {}", claims.sub)
    }
    let rejections = counters.rejections.clone();
    let responder = move |error: &AuthError| {
        rejections.fetch_add(1, Ordering::SeqCst);
        DefaultResponder::new().respond(error)
    };
    let layer = with_form(builder::<User>().responder(responder))
        .build()
        .expect("layer");
    Router::new()
        .route("/ok", any(ok))
        .route("/fail", any(fail))
        .route("/panic", any(explode))
        .layer(layer)
        .with_state(counters.clone())
}

/// One request on a connection of its own: status and body, or the
/// transport error.
async fn send_alone(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), BoxError> {
    let exchange = async {
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, connection) = handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .expect("no answer in time")
}

#[tokio::test]
async fn a_panicking_handler_loses_its_connection_but_never_becomes_a_401() {
    let counters = Counters::default();
    let server = serve(panicky_app(&counters)).await;
    let token = valid("ada");
    let mut panics = 0;
    for _round in 0..3 {
        for path in PATHS {
            // Without tower-http's CatchPanic the panic ends the connection
            // task and the client sees the connection closed (a layer that
            // catches panics would answer 500); never a 401.
            match send_alone(server.addr, path.request("/panic", &token)).await {
                Err(_closed) => {}
                Ok((status, _)) => assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR),
            }
            panics += 1;
            assert_eq!(counters.panics.load(Ordering::SeqCst), panics, "{path:?}");

            let reply = send_alone(server.addr, path.request("/ok", &token)).await;
            let reply = reply.expect("the next connection is served");
            assert_eq!(reply, (StatusCode::OK, Bytes::from("ada")), "{path:?}");

            let reply = send_alone(server.addr, path.request("/fail", &token)).await;
            let (status, _) = reply.expect("a 500 is an answer");
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path:?}");
        }
    }
    assert_eq!(counters.rejections.load(Ordering::SeqCst), 0);

    // The rejection counter does count.
    let reply = send_alone(server.addr, Path::Header.request("/ok", &forged("eve"))).await;
    assert_eq!(reply.expect("answer").0, StatusCode::UNAUTHORIZED);
    assert_eq!(counters.rejections.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------
// Drop-counted values: inner service clones, request bodies and claims.
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Count {
    created: AtomicUsize,
    dropped: AtomicUsize,
}

impl Count {
    fn create(&self) {
        self.created.fetch_add(1, Ordering::SeqCst);
    }

    fn drop_one(&self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }

    fn created(&self) -> usize {
        self.created.load(Ordering::SeqCst)
    }

    fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    fn live(&self) -> usize {
        self.created() - self.dropped()
    }
}

/// Shared by every tracked value of one test; its strong count is the number
/// of them alive, plus the test's own.
#[derive(Default)]
struct Ledger {
    services: Count,
    bodies: Count,
}

/// A request body whose chunks arrive through a channel.
struct TrackedBody {
    ledger: Arc<Ledger>,
    chunks: mpsc::UnboundedReceiver<Bytes>,
}

impl TrackedBody {
    fn channel(ledger: &Arc<Ledger>) -> (mpsc::UnboundedSender<Bytes>, Self) {
        ledger.bodies.create();
        let (sender, chunks) = mpsc::unbounded_channel();
        let ledger = ledger.clone();
        (sender, Self { ledger, chunks })
    }

    /// A body whose bytes have all arrived.
    fn complete(ledger: &Arc<Ledger>, data: String) -> Self {
        let (sender, body) = Self::channel(ledger);
        sender.send(data.into()).expect("open channel");
        body
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        self.ledger.bodies.drop_one();
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.get_mut()
            .chunks
            .poll_recv(cx)
            .map(|chunk| chunk.map(|data| Ok(Frame::data(data))))
    }
}

/// An inner service whose future yields, reads the whole body, and yields
/// again, so that it can be dropped at each step.
struct TrackedService {
    ledger: Arc<Ledger>,
}

impl TrackedService {
    fn new(ledger: &Arc<Ledger>) -> Self {
        ledger.services.create();
        let ledger = ledger.clone();
        Self { ledger }
    }
}

impl Clone for TrackedService {
    fn clone(&self) -> Self {
        Self::new(&self.ledger)
    }
}

impl Drop for TrackedService {
    fn drop(&mut self) {
        self.ledger.services.drop_one();
    }
}

type BoxedResponse = Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, Infallible>>>>;

impl<B: Body + 'static> Service<Request<B>> for TrackedService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxedResponse;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        Box::pin(async move {
            yield_once().await;
            let (parts, body) = request.into_parts();
            let length = body.collect().await.map_or(0, |c| c.to_bytes().len());
            yield_once().await;
            drop(parts);
            Ok(Response::new(Full::from(length.to_string())))
        })
    }
}

/// Pending once (waking itself), then ready.
async fn yield_once() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

thread_local! {
    /// Claims are made by deserializing, so they cannot carry the ledger; the
    /// drop tests poll on their own thread, where claims are made and dropped.
    static CLAIMS: (Cell<usize>, Cell<usize>) = const { (Cell::new(0), Cell::new(0)) };
}

fn claims_created() -> usize {
    CLAIMS.with(|(created, _)| created.get())
}

fn claims_live() -> usize {
    CLAIMS.with(|(created, dropped)| created.get() - dropped.get())
}

/// Claims that count how many of them exist on this thread.
struct TrackedClaims {
    sub: String,
}

impl TrackedClaims {
    fn new(sub: String) -> Self {
        CLAIMS.with(|(created, _)| created.set(created.get() + 1));
        Self { sub }
    }
}

impl Clone for TrackedClaims {
    fn clone(&self) -> Self {
        Self::new(self.sub.clone())
    }
}

impl Drop for TrackedClaims {
    fn drop(&mut self) {
        CLAIMS.with(|(_, dropped)| dropped.set(dropped.get() + 1));
    }
}

impl<'de> Deserialize<'de> for TrackedClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        User::deserialize(deserializer).map(|user| Self::new(user.sub))
    }
}

// ---------------------------------------------------------------------------
// A slow inner service.
// ---------------------------------------------------------------------------

const CONCURRENT: usize = 100;
/// How long each inner call takes. The test's outcome does not depend on it:
/// the barrier decides the order.
const SLOW: Duration = Duration::from_millis(200);

/// What the slow inner futures saw.
struct Slow {
    /// Opens only when all inner futures are running at once.
    barrier: Barrier,
    clock_calls: Arc<AtomicUsize>,
    /// The fewest clock calls any inner future saw when it finished.
    clock_calls_at_finish: AtomicUsize,
    /// The fewest original request bodies dropped once all inner futures ran.
    bodies_dropped_when_all_ran: AtomicUsize,
    ledger: Arc<Ledger>,
}

impl Slow {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            barrier: Barrier::new(CONCURRENT),
            clock_calls: Arc::default(),
            clock_calls_at_finish: AtomicUsize::new(usize::MAX),
            bodies_dropped_when_all_ran: AtomicUsize::new(usize::MAX),
            ledger: Arc::default(),
        })
    }

    /// A clock that counts its calls: one per verified token.
    fn clock(&self) -> impl Fn() -> u64 + Send + Sync + 'static {
        let calls = self.clock_calls.clone();
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
            SystemClock.now()
        }
    }

    fn inner<B: Send + 'static>(
        self: &Arc<Self>,
    ) -> impl Service<
        Request<B>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static {
        let slow = self.clone();
        service_fn(move |request: Request<B>| {
            let slow = slow.clone();
            async move {
                assert!(request.extensions().get::<Claims<User>>().is_some());
                slow.barrier.wait().await;
                let dropped = slow.ledger.bodies.dropped();
                slow.bodies_dropped_when_all_ran
                    .fetch_min(dropped, Ordering::SeqCst);
                tokio::time::sleep(SLOW).await;
                let calls = slow.clock_calls.load(Ordering::SeqCst);
                slow.clock_calls_at_finish
                    .fetch_min(calls, Ordering::SeqCst);
                Ok(Response::new(Full::default()))
            }
        })
    }
}

/// Sends `CONCURRENT` requests at once through `service`; every answer's status.
async fn all_at_once<S, B>(
    service: S,
    request: impl Fn() -> Request<TrackedBody>,
) -> Vec<StatusCode>
where
    S: Service<Request<TrackedBody>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let mut calls = JoinSet::new();
    for _ in 0..CONCURRENT {
        let call = service.clone().oneshot(request());
        calls.spawn(async move { call.await.map(|response| response.status()) });
    }
    let statuses = async {
        let mut statuses = Vec::new();
        while let Some(joined) = calls.join_next().await {
            let Ok(status) = joined.expect("task");
            statuses.push(status);
        }
        statuses
    };
    // Were verification held across the inner await, the barrier would never
    // open and this would time out.
    tokio::time::timeout(TIMEOUT, statuses)
        .await
        .expect("all inner futures ran at the same time")
}

#[tokio::test]
async fn verification_ends_before_a_slow_inner_service_runs() {
    for path in PATHS {
        let slow = Slow::new();
        let token = valid("ada");
        let request = || {
            let body = |text: String| TrackedBody::complete(&slow.ledger, text);
            path.request::<String>("/", &token).map(body)
        };
        let statuses = match path {
            Path::Header => {
                let layer = builder::<User>()
                    .clock(slow.clock())
                    .build()
                    .expect("layer");
                all_at_once(layer.layer(slow.inner()), request).await
            }
            Path::Form => {
                let layer = with_form(builder::<User>().clock(slow.clock()))
                    .build()
                    .expect("layer");
                all_at_once(layer.layer(slow.inner()), request).await
            }
        };
        assert_eq!(statuses, vec![StatusCode::OK; CONCURRENT], "{path:?}");
        // Every verification happened before the first inner future finished.
        assert_eq!(
            slow.clock_calls.load(Ordering::SeqCst),
            CONCURRENT,
            "{path:?}"
        );
        assert_eq!(
            slow.clock_calls_at_finish.load(Ordering::SeqCst),
            CONCURRENT,
            "{path:?}"
        );
        if let Path::Form = path {
            // The bodies the layer read are released before the inner
            // service runs: it has their bytes.
            assert_eq!(
                slow.bodies_dropped_when_all_ran.load(Ordering::SeqCst),
                CONCURRENT
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Dropping the response future at every point.
// ---------------------------------------------------------------------------

/// A request whose body is sent one chunk per poll.
struct Spec {
    name: &'static str,
    method: Method,
    headers: Vec<(HeaderName, String)>,
    chunks: Vec<Bytes>,
}

/// `text` in chunks of `size` bytes.
fn chunked(text: &str, size: usize) -> Vec<Bytes> {
    text.as_bytes()
        .chunks(size)
        .map(Bytes::copy_from_slice)
        .collect()
}

fn bearer(token: &str) -> (HeaderName, String) {
    (AUTHORIZATION, format!("Bearer {token}"))
}

fn content_type(value: &str) -> (HeaderName, String) {
    (CONTENT_TYPE, value.to_owned())
}

/// Feeds a body's chunks, one per call, then ends it.
struct Feed {
    sender: Option<mpsc::UnboundedSender<Bytes>>,
    chunks: VecDeque<Bytes>,
}

impl Feed {
    fn next(&mut self) {
        match (self.chunks.pop_front(), &self.sender) {
            // The receiver is gone once the body was dropped: nothing to feed.
            (Some(chunk), Some(sender)) => {
                let _ = sender.send(chunk);
            }
            _ => self.sender = None,
        }
    }
}

impl Spec {
    fn request(&self, ledger: &Arc<Ledger>) -> (Request<TrackedBody>, Feed) {
        let (sender, body) = TrackedBody::channel(ledger);
        let mut request = Request::builder().method(self.method.clone()).uri("/");
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let feed = Feed {
            sender: Some(sender),
            chunks: self.chunks.iter().cloned().collect(),
        };
        (request.body(body).expect("request"), feed)
    }
}

/// The most polls any case needs to complete.
const MAX_POLLS: usize = 200;

/// For n = 0, 1, 2, ..: makes the response future of `spec`, polls it n times
/// (one body chunk arriving before each poll) and drops it, until a future
/// completes. After every drop nothing it made may be left alive.
fn drop_at_every_point<S>(service: &mut S, ledger: &Arc<Ledger>, spec: &Spec)
where
    S: Service<Request<TrackedBody>>,
{
    let mut cx = Context::from_waker(Waker::noop());
    for polls in 0..MAX_POLLS {
        assert!(service.poll_ready(&mut cx).is_ready(), "{}", spec.name);
        let (request, mut feed) = spec.request(ledger);
        let mut future = Box::pin(service.call(request));
        let mut completed = false;
        for _ in 0..polls {
            feed.next();
            if future.as_mut().poll(&mut cx).is_ready() {
                completed = true;
                break;
            }
        }
        drop(future);
        drop(feed);
        let what = format!("{}, dropped after {polls} polls", spec.name);
        assert_eq!(ledger.bodies.live(), 0, "{what}: a request body is alive");
        assert_eq!(claims_live(), 0, "{what}: claims are alive");
        assert_eq!(ledger.services.live(), 1, "{what}: an inner clone is alive");
        assert_eq!(Arc::strong_count(ledger), 2, "{what}: the ledger is held");
        if completed {
            return;
        }
    }
    panic!("{}: not complete after {MAX_POLLS} polls", spec.name);
}

/// Runs every spec through a service made by `make`, then drops the service:
/// every value made was dropped.
fn assert_nothing_leaks<S>(make: impl FnOnce(TrackedService) -> S, specs: &[Spec])
where
    S: Service<Request<TrackedBody>>,
{
    let ledger = Arc::new(Ledger::default());
    let claims_before = claims_created();
    let mut service = make(TrackedService::new(&ledger));
    for spec in specs {
        drop_at_every_point(&mut service, &ledger, spec);
    }
    drop(service);
    assert_eq!(ledger.services.live(), 0);
    assert_eq!(ledger.bodies.live(), 0);
    assert_eq!(claims_live(), 0);
    assert_eq!(Arc::strong_count(&ledger), 1);
    // The cases did make claims and bodies (one body per future).
    assert!(claims_created() > claims_before);
    assert!(ledger.bodies.created() > specs.len());
}

#[test]
fn dropping_a_header_path_future_at_any_point_leaks_nothing() {
    let body = chunked("some request body", 3);
    let specs = [
        Spec {
            name: "valid bearer token, streamed body",
            method: Method::POST,
            headers: vec![bearer(&valid("ada"))],
            chunks: body.clone(),
        },
        Spec {
            name: "forged bearer token",
            method: Method::POST,
            headers: vec![bearer(&forged("eve"))],
            chunks: body.clone(),
        },
        Spec {
            name: "no token",
            method: Method::GET,
            headers: vec![],
            chunks: body,
        },
    ];
    assert_nothing_leaks(|inner| header_layer::<TrackedClaims>().layer(inner), &specs);
}

#[test]
fn dropping_a_form_path_future_at_any_point_leaks_nothing() {
    const LIMIT: usize = 512;
    let form = |token: &str| chunked(&form_body(token), 7);
    let post = |name, headers, chunks| Spec {
        name,
        method: Method::POST,
        headers,
        chunks,
    };
    let specs = [
        post(
            "valid form token in 7-byte chunks",
            vec![content_type(URLENCODED)],
            form(&valid("ada")),
        ),
        post(
            "forged form token",
            vec![content_type(URLENCODED)],
            form(&forged("eve")),
        ),
        post(
            "bearer token, form left unread",
            vec![content_type(URLENCODED), bearer(&valid("ada"))],
            chunked("note=hi", 2),
        ),
        post(
            "form over the limit",
            vec![content_type(URLENCODED)],
            chunked(&"x".repeat(LIMIT * 2), 100),
        ),
        post(
            "malformed form field",
            vec![content_type(URLENCODED)],
            chunked("token=%zz", 2),
        ),
        post(
            "not a form, no token",
            vec![content_type("text/plain")],
            chunked("hello", 2),
        ),
    ];
    assert_nothing_leaks(
        |inner| {
            with_form(builder::<TrackedClaims>())
                .form_limit(LIMIT)
                .build()
                .expect("layer")
                .layer(inner)
        },
        &specs,
    );
}
