//! A gRPC service (tonic) behind `JwtAuthLayer` and `RequireLayer`.
//!
//! Both layers are tonic server layers (`Server::builder().layer(..)`): the
//! token comes from the `authorization` metadata (`Bearer <token>`), the
//! handler finds the claims in `tonic::Request::extensions()`, and every
//! refusal is a gRPC status (the `GrpcResponder`): `UNAUTHENTICATED` without a
//! valid token, `PERMISSION_DENIED` without the scope `echo`.
//!
//! ```sh
//! cargo run --example grpc
//! ```
//!
//! It listens on `GRPC_ADDR` (default `127.0.0.1:3007`) and prints a token and
//! `grpcurl` lines that use the service's `.proto` (`tests/grpc/echo.proto`).
//! With `--self-test`, it calls itself with a tonic client instead (a unary
//! and a streaming call with the token; without it; with a token lacking the
//! scope), checks the answers and exits: the gate runs it that way.

use std::net::SocketAddr;
use std::pin::Pin;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tonic::codegen::tokio_stream::{self, Stream, StreamExt};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};
use tower_jwt_auth::{Claims, GrpcResponder, JwtAuthLayer, Key, RequireLayer, TokenIssuer};

// The code generated from tests/grpc/echo.proto (see grpc-codegen/).
#[allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub)]
mod echo {
    include!("../tests/grpc/echo.rs");
}

use echo::echo_client::EchoClient;
use echo::echo_server::{Echo, EchoServer};
use echo::{CountReply, CountRequest, EchoReply, EchoRequest};

const DEFAULT_ADDR: &str = "127.0.0.1:3007";
/// The demo's HMAC secret; a real service takes its keys from its identity
/// provider (`RemoteKeySet`) or its configuration.
const SECRET: &[u8] = b"demo secret for examples/grpc.rs";

struct EchoService;

/// Whom the token names: the claims are in the request's extensions.
fn subject<T>(request: &Request<T>) -> String {
    request
        .extensions()
        .get::<Claims<Value>>()
        .and_then(|claims| claims["sub"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        let subject = subject(&request);
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
        let up_to = request.into_inner().up_to.min(1000);
        let replies = (1..=up_to).map(|number| Ok(CountReply { number }));
        Ok(Response::new(Box::pin(tokio_stream::iter(replies))))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_jwt_auth=debug".into()),
        )
        .init();
    let self_test = std::env::args().any(|a| a == "--self-test");

    // One responder for both layers, so that every refusal is a gRPC status.
    let authenticate = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .responder(GrpcResponder::new())
        .build()?;
    let require = RequireLayer::<Value>::builder()
        .scope("echo")
        .responder(GrpcResponder::new())
        .build()?;

    let addr: SocketAddr = if self_test {
        "127.0.0.1:0".parse()?
    } else {
        let addr = std::env::var("GRPC_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.into());
        addr.parse().map_err(|e| {
            format!("GRPC_ADDR={addr:?} is not an address such as {DEFAULT_ADDR}: {e}")
        })?
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(
        Server::builder()
            .layer(authenticate)
            .layer(require)
            .add_service(EchoServer::new(EchoService))
            .serve_with_incoming(TcpIncoming::from(listener)),
    );

    let issuer = TokenIssuer::hmac(SECRET).build()?;
    let token = issuer.issue(&json!({ "sub": "alice", "scope": "echo" }))?;
    if self_test {
        let deadline = std::time::Duration::from_secs(30);
        let result = match tokio::time::timeout(deadline, self_check(addr, &token, &issuer)).await {
            Ok(result) => result,
            Err(_) => Err("the self-test took longer than 30 s".into()),
        };
        server.abort();
        result?;
        println!("self-test passed");
    } else {
        println!("grpc listening on {addr}; a token for alice with the scope `echo`:");
        println!("  TOKEN={token}");
        println!(
            "  grpcurl -plaintext -import-path tests/grpc -proto echo.proto \
             -H \"authorization: Bearer $TOKEN\" -d '{{\"message\":\"hi\"}}' {addr} echo.Echo/Echo"
        );
        println!(
            "  grpcurl -plaintext -import-path tests/grpc -proto echo.proto \
             -d '{{\"message\":\"hi\"}}' {addr} echo.Echo/Echo   # Unauthenticated"
        );
        server.await??;
    }
    Ok(())
}

/// The checks of `--self-test`: a tonic client against the server at `addr`.
async fn self_check(
    addr: SocketAddr,
    token: &str,
    issuer: &TokenIssuer,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut client = EchoClient::connect(format!("http://{addr}")).await?;
    let reply = client
        .echo(with_token(
            EchoRequest {
                message: "hi".into(),
            },
            token,
        )?)
        .await?
        .into_inner();
    check(
        reply.message == "hi" && reply.subject == "alice",
        "echo with a token",
    )?;
    println!("ok: echo with a token answered by alice's claims");

    let mut stream = client
        .count(with_token(CountRequest { up_to: 3 }, token)?)
        .await?
        .into_inner();
    let mut numbers = Vec::new();
    while let Some(reply) = stream.next().await {
        numbers.push(reply?.number);
    }
    check(numbers == [1, 2, 3], "count with a token")?;
    println!("ok: count with a token streamed 1, 2, 3");

    let status = client
        .echo(EchoRequest {
            message: "hi".into(),
        })
        .await
        .err();
    let code = status.as_ref().map(Status::code);
    check(code == Some(Code::Unauthenticated), "echo without a token")?;
    println!(
        "ok: echo without a token: {:?}",
        status.map(|s| s.message().to_owned())
    );

    let status = client.count(CountRequest { up_to: 3 }).await.err();
    let code = status.as_ref().map(Status::code);
    check(code == Some(Code::Unauthenticated), "count without a token")?;
    println!("ok: count without a token refused before any message");

    let unscoped = issuer.issue(&json!({ "sub": "bob" }))?;
    let request = with_token(
        EchoRequest {
            message: "hi".into(),
        },
        &unscoped,
    )?;
    let status = client.echo(request).await.err();
    let code = status.as_ref().map(Status::code);
    check(
        code == Some(Code::PermissionDenied),
        "echo without the scope",
    )?;
    println!(
        "ok: echo without the scope: {:?}",
        status.map(|s| s.message().to_owned())
    );
    Ok(())
}

/// `message` with `authorization: Bearer <token>` metadata.
fn with_token<T>(
    message: T,
    token: &str,
) -> Result<Request<T>, Box<dyn std::error::Error + Send + Sync>> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
}

fn check(ok: bool, what: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if ok {
        Ok(())
    } else {
        Err(format!("{what}: unexpected answer").into())
    }
}
