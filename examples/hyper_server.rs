//! [`JwtAuthLayer`] on a bare hyper 1.x server, without any framework: the
//! layer wraps a `service_fn` with `tower::ServiceBuilder`, and hyper-util's
//! `TowerToHyperService` hands the result to hyper.
//!
//! ```sh
//! cargo run --example hyper_server
//! ```
//!
//! It listens on `ADDR` (default `127.0.0.1:3001`), signs a token with a random
//! secret, and prints it with a curl command to try:
//!
//! ```sh
//! curl -i localhost:3001/api/me -H "authorization: Bearer <the printed token>"
//! curl -i localhost:3001/api/me   # 401, WWW-Authenticate: Bearer
//! ```
//!
//! Every path is behind the layer; a valid token on a path other than
//! `/api/me` gets a 404.

use std::collections::hash_map::RandomState;
use std::convert::Infallible;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::{Value, json};
use tower::{ServiceBuilder, service_fn};
use tower_jwt_auth::{Claims, JwtAuthLayer, Key, TokenIssuer};

const DEFAULT_ADDR: &str = "127.0.0.1:3001";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = random_secret();
    let auth = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(secret))
        .required_claims(["sub", "exp"])
        .build()?;
    let service = ServiceBuilder::new()
        .layer(auth)
        .service(service_fn(handle));

    let addr = std::env::var("ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("ADDR={addr:?} is not an address such as {DEFAULT_ADDR}: {e}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr()?;
    let token = TokenIssuer::hmac(secret)
        .build()?
        .issue(&json!({ "sub": "ada", "name": "Ada Lovelace" }))?;
    println!("hyper server listening on http://{addr}");
    println!("token (valid for 15 minutes): {token}");
    println!("try: curl -i http://{addr}/api/me -H 'authorization: Bearer {token}'");

    // Stop accepting on Ctrl-C, then let open connections finish.
    let graceful = GracefulShutdown::new();
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    eprintln!("accept failed: {error}");
                    continue;
                }
            },
            _ = &mut ctrl_c => break,
        };
        let service = TowerToHyperService::new(service.clone());
        let connection = auto::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that hangs up mid-request is not the server's problem.
            let _ = connection.await;
        });
    }
    println!("shutting down");
    graceful.shutdown().await;
    Ok(())
}

/// The protected application: only reached with a valid token.
async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() != "/api/me" {
        return Ok(json_response(
            StatusCode::NOT_FOUND,
            &json!({ "error": "not_found" }),
        ));
    }
    // The layer put the claims there before calling this service.
    let claims = request.extensions().get::<Claims<Value>>();
    let body = claims.map_or(Value::Null, |c| c.0.clone());
    Ok(json_response(StatusCode::OK, &body))
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// A 32-byte secret for this run, without a random-number dependency: each
/// `RandomState` hashes with SipHash keys the standard library draws from the
/// operating system's random source, which is portable and unpredictable enough
/// for an example whose tokens live only as long as the process.
fn random_secret() -> [u8; 32] {
    let mut secret = [0; 32];
    for (i, chunk) in secret.chunks_mut(8).enumerate() {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_usize(i);
        chunk.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    secret
}
