//! tower-jwt-auth in front of a real tonic server, called by a real tonic
//! client over HTTP/2: `JwtAuthLayer` and `RequireLayer` as tonic server
//! layers answering through the `GrpcResponder`, the token in the
//! `authorization` metadata, the claims in the handler's
//! `tonic::Request::extensions()`, and every refusal read by the client as a
//! `tonic::Status`.
//!
//! The protobuf code (`grpc/echo.rs`) is generated from `grpc/echo.proto` by
//! the `grpc-codegen` workspace member and committed; the gate checks it is up
//! to date.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::codegen::tokio_stream::{self, Stream, StreamExt};
use tonic::metadata::MetadataValue;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};
use tower::ServiceExt;
use tower_jwt_auth::{
    AuthError, AuthErrorKind, Claims, GrpcResponder, JwtAuthLayer, Key, RequireLayer, TokenIssuer,
};

#[allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub)]
mod echo {
    include!("grpc/echo.rs");
}

use echo::echo_client::EchoClient;
use echo::echo_server::{Echo, EchoServer};
use echo::{CountReply, CountRequest, EchoReply, EchoRequest};

const SECRET: &[u8] = b"grpc test secret, 32 bytes long!";
/// The scope every call needs. `%` is a valid scope character (RFC 6749
/// §3.3); this one looks percent-encoded, so a refusal that names it reaches
/// the client intact only if the server encoded its `%` (as `%2525`).
const SCOPE: &str = "echo:100%25";
/// How long a test waits for any answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The service: echoes with the token's subject, counts up.
struct EchoService;

/// The subject of the claims the layer put into the request's extensions.
fn subject<T>(request: &Request<T>) -> Result<String, Status> {
    let claims = request
        .extensions()
        .get::<Claims<Value>>()
        .ok_or_else(|| Status::internal("no claims in the extensions"))?;
    Ok(claims["sub"].as_str().unwrap_or_default().to_owned())
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        let subject = subject(&request)?;
        Ok(Response::new(EchoReply {
            message: request.into_inner().message,
            subject,
        }))
    }

    type CountStream = Pin<Box<dyn Stream<Item = Result<CountReply, Status>> + Send>>;

    async fn count(
        &self,
        request: Request<CountRequest>,
    ) -> Result<Response<Self::CountStream>, Status> {
        subject(&request)?;
        let up_to = request.into_inner().up_to;
        let replies = (1..=up_to).map(|number| Ok(CountReply { number }));
        Ok(Response::new(Box::pin(tokio_stream::iter(replies))))
    }
}

/// A tonic server on 127.0.0.1:0 behind `JwtAuthLayer` and `RequireLayer`,
/// stopped when dropped.
struct TestServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// The server with the HMAC key of [`SECRET`], requiring [`SCOPE`].
    async fn start() -> Self {
        let authenticate = JwtAuthLayer::<Value>::builder()
            .key(Key::hmac(SECRET))
            .responder(GrpcResponder::new())
            .build()
            .expect("layer");
        Self::with(authenticate).await
    }

    async fn with(authenticate: JwtAuthLayer<Value, GrpcResponder>) -> Self {
        let require = RequireLayer::<Value>::builder()
            .scope(SCOPE)
            .responder(GrpcResponder::new())
            .build()
            .expect("requirements");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            Server::builder()
                .layer(authenticate)
                .layer(require)
                .add_service(EchoServer::new(EchoService))
                .serve_with_incoming(TcpIncoming::from(listener))
                .await
                .expect("serve");
        });
        Self { addr, task }
    }

    async fn client(&self) -> EchoClient<tonic::transport::Channel> {
        bounded(EchoClient::connect(format!("http://{}", self.addr)))
            .await
            .expect("connect")
    }
}

/// `future`, or a panic after [`TIMEOUT`].
async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .expect("an answer in time")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn claims(scope: &str) -> Value {
    json!({ "sub": "alice", "scope": scope })
}

/// A valid token for alice with [`SCOPE`].
fn token() -> String {
    issue(SECRET, &claims(SCOPE))
}

fn issue(secret: &[u8], claims: &Value) -> String {
    TokenIssuer::hmac(secret)
        .build()
        .expect("issuer")
        .issue(claims)
        .expect("token")
}

/// `message` with `authorization: Bearer <token>` metadata, once per token.
fn with_tokens<T>(message: T, tokens: &[&str]) -> Request<T> {
    let mut request = Request::new(message);
    for token in tokens {
        let value: MetadataValue<_> = format!("Bearer {token}").parse().expect("metadata");
        request.metadata_mut().append("authorization", value);
    }
    request
}

fn hello(tokens: &[&str]) -> Request<EchoRequest> {
    with_tokens(
        EchoRequest {
            message: "hello".into(),
        },
        tokens,
    )
}

/// The status of a unary call refused with `tokens`.
async fn refusal(server: &TestServer, tokens: &[&str]) -> Status {
    let mut client = server.client().await;
    bounded(client.echo(hello(tokens)))
        .await
        .expect_err("a refusal")
}

#[tokio::test]
async fn a_unary_call_with_a_token_reaches_the_handler_with_the_claims() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let reply = bounded(client.echo(hello(&[&token()])))
        .await
        .expect("an answer")
        .into_inner();
    assert_eq!(reply.message, "hello");
    assert_eq!(reply.subject, "alice");
}

#[tokio::test]
async fn a_streaming_call_with_a_token_streams_every_message() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let request = with_tokens(CountRequest { up_to: 3 }, &[&token()]);
    let mut stream = bounded(client.count(request))
        .await
        .expect("a stream")
        .into_inner();
    let mut numbers = Vec::new();
    while let Some(reply) = bounded(stream.next()).await {
        numbers.push(reply.expect("a message").number);
    }
    assert_eq!(numbers, [1, 2, 3]);
}

#[tokio::test]
async fn no_token_is_unauthenticated() {
    let server = TestServer::start().await;
    let status = refusal(&server, &[]).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "no token");
}

#[tokio::test]
async fn an_expired_token_is_unauthenticated() {
    let server = TestServer::start().await;
    let two_hours_ago = unix_now() - 2 * 3600;
    let expired = TokenIssuer::hmac(SECRET)
        .clock(move || two_hours_ago)
        .build()
        .expect("issuer")
        .issue(&claims(SCOPE))
        .expect("token");
    let status = refusal(&server, &[&expired]).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "token expired");
}

#[tokio::test]
async fn a_forged_token_is_unauthenticated() {
    let server = TestServer::start().await;
    let forged = issue(b"another secret, also 32 bytes...", &claims(SCOPE));
    let status = refusal(&server, &[&forged]).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "invalid signature");
}

#[tokio::test]
async fn a_missing_scope_is_permission_denied_with_the_scope_percent_decoded() {
    let server = TestServer::start().await;
    let status = refusal(&server, &[&issue(SECRET, &claims("echo:other"))]).await;
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // Sent as `insufficient scope; scope="echo:100%2525"`: tonic decodes it.
    assert_eq!(
        status.message(),
        r#"insufficient scope; scope="echo:100%25""#
    );
}

#[tokio::test]
async fn two_different_tokens_are_an_invalid_argument() {
    let server = TestServer::start().await;
    let other = issue(SECRET, &json!({ "sub": "bob", "scope": SCOPE }));
    let status = refusal(&server, &[&token(), &other]).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(status.message(), "more than one token in the request");
}

#[tokio::test]
async fn a_malformed_authorization_is_an_invalid_argument() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut request = hello(&[]);
    request
        .metadata_mut()
        .insert("authorization", MetadataValue::from_static("Bearer"));
    let status = bounded(client.echo(request)).await.expect_err("a refusal");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
}

#[tokio::test]
async fn a_streaming_call_is_refused_before_any_message() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let request = with_tokens(CountRequest { up_to: 3 }, &[]);
    // Trailers-only: the call itself fails, no stream is opened.
    let status = bounded(client.count(request)).await.expect_err("a refusal");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let request = with_tokens(CountRequest { up_to: 3 }, &[&issue(SECRET, &claims(""))]);
    let status = bounded(client.count(request)).await.expect_err("a refusal");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
}

#[cfg(feature = "remote-jwks")]
#[tokio::test]
async fn keys_that_cannot_be_fetched_are_unavailable() {
    // A port nobody listens on, as an identity provider that is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let keys = tower_jwt_auth::RemoteKeySet::builder(format!("http://127.0.0.1:{port}/jwks.json"))
        .fail_fast(false)
        .build()
        .await
        .expect("a lazy key set");
    let authenticate = JwtAuthLayer::<Value>::builder()
        .jwks(keys)
        .responder(GrpcResponder::new())
        .build()
        .expect("layer");
    let server = TestServer::with(authenticate).await;
    // An RS256 token (`{"alg":"RS256"}.{}`): its key cannot be fetched.
    let status = refusal(&server, &["eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl"]).await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

#[tokio::test]
async fn the_error_is_in_the_response_extensions() {
    // The layer around tonic's routes, called directly: what outer layers see.
    let authenticate = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .responder(GrpcResponder::new())
        .build()
        .expect("layer");
    let routes = tonic::service::Routes::new(EchoServer::new(EchoService));
    let request = http::Request::post("/echo.Echo/Echo")
        .header("content-type", "application/grpc")
        .body(tonic::body::Body::empty())
        .expect("request");
    let service = tower::Layer::layer(&authenticate, routes);
    let response = bounded(service.oneshot(request)).await.expect("a response");
    assert_eq!(response.status(), http::StatusCode::OK);
    assert_eq!(response.headers()["grpc-status"], "16");
    assert_eq!(response.headers()["grpc-message"], "no token");
    let error = response.extensions().get::<AuthError>().expect("the error");
    assert_eq!(error.kind(), AuthErrorKind::MissingToken);
}
