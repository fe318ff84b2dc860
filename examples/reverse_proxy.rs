//! An authenticating reverse proxy on hyper 1: [`JwtAuthLayer`] verifies the
//! token, forwards selected claims as `x-jwt-*` headers
//! ([`claim_to_header`](tower_jwt_auth::JwtAuthBuilder::claim_to_header)) and
//! the whole payload ([`forward_payload`](tower_jwt_auth::JwtAuthBuilder::forward_payload)),
//! and a hyper-util client passes the request (method, path, query, body) to
//! the upstream service, as Envoy's `jwt_authn` or oauth2-proxy would.
//!
//! ```sh
//! cargo run --example reverse_proxy
//! ```
//!
//! By default it starts its own upstream on 127.0.0.1 (an echo service that
//! answers with the request it received, as JSON), listens on `PROXY_ADDR`
//! (default `127.0.0.1:3005`), and prints a token and `curl` lines. `UPSTREAM`
//! names another upstream (`UPSTREAM=http://127.0.0.1:8080`); `JWT_SECRET`
//! the HS256 secret (32 bytes or more; a fixed example secret by default).
//!
//! The upstream can believe the `x-jwt-*` headers: the layer removes every
//! copy a client sends, on every request. The proxy also removes the
//! hop-by-hop headers (RFC 9110 §7.6.1) both ways, and the `Authorization`
//! header on the way up (the upstream gets the claims, not the credential;
//! Envoy's `forward: false`). CORS preflights pass without a token
//! ([`bypass_cors_preflight`](tower_jwt_auth::JwtAuthBuilder::bypass_cors_preflight)),
//! for the upstream to answer.
//!
//! With `--self-test`, it makes its own requests through the proxy to its own
//! upstream, checks what the upstream received (forwarded claims, forged
//! copies and hop-by-hop headers gone, body and query intact, refused
//! requests never sent), and exits: the gate runs it that way.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{self, HeaderName};
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tower::{Service, ServiceBuilder, service_fn};
use tower_jwt_auth::{JwtAuthLayer, Key, TokenIssuer};

const DEFAULT_ADDR: &str = "127.0.0.1:3005";
const DEFAULT_SECRET: &str = "reverse-proxy example secret, 32+ bytes";

type Body = BoxBody<Bytes, hyper::Error>;
type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let self_test = std::env::args().any(|a| a == "--self-test");
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| DEFAULT_SECRET.to_owned());
    let upstream_calls = Arc::new(AtomicUsize::new(0));
    let upstream: Uri = match std::env::var("UPSTREAM") {
        Ok(url) if !self_test => url
            .parse()
            .map_err(|e| format!("UPSTREAM={url:?} is not a URL: {e}"))?,
        _ => {
            let addr = serve(
                bind("127.0.0.1:0").await?,
                echo_upstream(upstream_calls.clone()),
            );
            format!("http://{}", addr?).parse()?
        }
    };

    let auth = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(secret.as_bytes()))
        .required_claims(["sub", "exp"])
        .claim_to_header("sub", HeaderName::from_static("x-jwt-sub"))
        .claim_to_header("scope", HeaderName::from_static("x-jwt-scope"))
        .claim_to_header("realm_access.roles", HeaderName::from_static("x-jwt-roles"))
        .forward_payload(HeaderName::from_static("x-jwt-payload"))
        .bypass_cors_preflight(true)
        .build()?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Incoming>();
    let proxy = ServiceBuilder::new()
        .layer(auth)
        .service(service_fn(move |request| {
            forward(client.clone(), upstream.clone(), request)
        }));

    let listener = if self_test {
        bind("127.0.0.1:0").await?
    } else {
        bind(&std::env::var("PROXY_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned())).await?
    };
    let addr = serve(listener, proxy)?;
    let token = TokenIssuer::hmac(secret.as_bytes())
        .build()?
        .issue(&json!({
            "sub": "ada",
            "scope": "orders:read orders:write",
            "realm_access": { "roles": ["reader", "writer"] },
            "name": "Zoë Lovelace",
        }))?;
    if self_test {
        self_test_against(addr, &token, &upstream_calls).await?;
        println!("self-test passed");
        return Ok(());
    }
    println!("reverse proxy listening on http://{addr}");
    println!("token (valid for 15 minutes): {token}");
    println!("try: curl -i http://{addr}/orders?page=2 -H 'authorization: Bearer {token}'");
    println!("     curl -i http://{addr}/orders -H 'x-jwt-sub: mallory'   # 401");
    tokio::signal::ctrl_c().await?;
    Ok(())
}

async fn bind(addr: &str) -> Result<TcpListener, Error> {
    let parsed: SocketAddr = addr
        .parse()
        .map_err(|e| format!("{addr:?} is not an address such as {DEFAULT_ADDR}: {e}"))?;
    Ok(TcpListener::bind(parsed)
        .await
        .map_err(|e| format!("cannot listen on {parsed}: {e}"))?)
}

/// Serves `service` over HTTP/1 on `listener`, in the background.
fn serve<S, B>(listener: TcpListener, service: S) -> Result<SocketAddr, Error>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Error>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Error>,
{
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                if let Err(error) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    eprintln!("connection failed: {error}");
                }
            });
        }
    });
    Ok(addr)
}

/// The headers that concern one connection only (RFC 9110 §7.6.1), and
/// those `Connection` names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

/// Passes an authenticated request to `upstream` and its answer back; `502`
/// when the upstream cannot be reached.
async fn forward(
    client: Client<HttpConnector, Incoming>,
    upstream: Uri,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri = Uri::builder()
        .scheme(upstream.scheme_str().unwrap_or("http"))
        .authority(upstream.authority().map_or("", |a| a.as_str()))
        .path_and_query(path)
        .build();
    let Ok(uri) = uri else {
        return Ok(status(StatusCode::BAD_GATEWAY));
    };
    parts.uri = uri;
    remove_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::AUTHORIZATION);
    // The client sets the upstream's own `Host`.
    parts.headers.remove(header::HOST);
    match client.request(Request::from_parts(parts, body)).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            remove_hop_by_hop(&mut parts.headers);
            Ok(Response::from_parts(parts, body.boxed()))
        }
        Err(error) => {
            eprintln!("upstream failed: {error}");
            Ok(status(StatusCode::BAD_GATEWAY))
        }
    }
}

fn status(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()).map_err(|n| match n {}).boxed());
    *response.status_mut() = status;
    response
}

/// The default upstream: answers with the request it received, as JSON
/// (`method`, `uri`, `headers`, `body`), and counts its calls.
fn echo_upstream(
    calls: Arc<AtomicUsize>,
) -> impl Service<
    Request<Incoming>,
    Response = Response<Full<Bytes>>,
    Error = hyper::Error,
    Future = impl Future<Output = Result<Response<Full<Bytes>>, hyper::Error>> + Send,
> + Clone
+ Send
+ 'static {
    service_fn(move |request: Request<Incoming>| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            let (parts, body) = request.into_parts();
            let body = body.collect().await?.to_bytes();
            let headers: Map<String, Value> = parts
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), Value::String(value))
                })
                .collect();
            let echo = json!({
                "method": parts.method.as_str(),
                "uri": parts.uri.to_string(),
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            });
            let mut response = Response::new(Full::new(Bytes::from(echo.to_string())));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            Ok(response)
        }
    })
}

/// The checks of `--self-test`: what the upstream received through the
/// proxy at `addr`.
async fn self_test_against(
    addr: SocketAddr,
    token: &str,
    upstream_calls: &AtomicUsize,
) -> Result<(), Error> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let send = |request: http::request::Builder, body: &'static str| {
        let client = client.clone();
        async move {
            let request = request.body(Full::new(Bytes::from_static(body.as_bytes())))?;
            let response = client.request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, Error>((status, body))
        }
    };
    let url = |path: &str| format!("http://{addr}{path}");
    let check = |ok: bool, what: &str| -> Result<(), Error> {
        if ok {
            println!("ok: {what}");
            Ok(())
        } else {
            Err(format!("self-test failed: {what}").into())
        }
    };

    // An authenticated POST, with forged claim headers and a hop-by-hop one.
    let request = Request::post(url("/orders?page=2"))
        .header("authorization", format!("Bearer {token}"))
        .header("x-jwt-sub", "mallory")
        .header("x-jwt-roles", "admin")
        .header("connection", "x-hop")
        .header("x-hop", "for the proxy only")
        .header("x-request-id", "42");
    let (status, body) = send(request, "the order").await?;
    check(status == StatusCode::OK, "a valid token is forwarded")?;
    let echo: Value = serde_json::from_slice(&body)?;
    let seen = &echo["headers"];
    check(echo["method"] == "POST", "the method is kept")?;
    check(
        echo["uri"] == "/orders?page=2",
        "the path and query are kept",
    )?;
    check(echo["body"] == "the order", "the body is kept")?;
    check(seen["x-request-id"] == "42", "other headers are kept")?;
    check(
        seen["x-jwt-sub"] == "ada",
        "x-jwt-sub is the token's, not the forged one",
    )?;
    check(
        seen["x-jwt-roles"] == "reader,writer",
        "x-jwt-roles joins the array",
    )?;
    check(
        seen["x-jwt-scope"] == "orders:read orders:write",
        "x-jwt-scope is the scope claim",
    )?;
    let payload = seen["x-jwt-payload"].as_str().unwrap_or_default();
    let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?;
    check(
        payload["name"] == "Zoë Lovelace",
        "x-jwt-payload decodes to the claims",
    )?;
    check(
        seen.get("x-hop").is_none(),
        "hop-by-hop headers are removed",
    )?;
    check(
        seen.get("authorization").is_none(),
        "the credential stays at the proxy",
    )?;

    // No token, forged headers: refused by the proxy, never sent upstream.
    let before = upstream_calls.load(Ordering::SeqCst);
    let request = Request::get(url("/orders")).header("x-jwt-sub", "mallory");
    let (status, _) = send(request, "").await?;
    check(status == StatusCode::UNAUTHORIZED, "no token is 401")?;
    let request = Request::get(url("/orders")).header("authorization", "Bearer not.a.token");
    let (status, _) = send(request, "").await?;
    check(status == StatusCode::UNAUTHORIZED, "a bad token is 401")?;
    check(
        upstream_calls.load(Ordering::SeqCst) == before,
        "refused requests never reach the upstream",
    )?;

    // A CORS preflight passes without a token, and without claims.
    let request = Request::options(url("/orders"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header("x-jwt-sub", "mallory");
    let (status, body) = send(request, "").await?;
    check(status == StatusCode::OK, "a preflight reaches the upstream")?;
    let echo: Value = serde_json::from_slice(&body)?;
    check(
        echo["headers"].get("x-jwt-sub").is_none(),
        "a preflight carries no claim header",
    )?;
    let (status, _) = send(Request::options(url("/orders")), "").await?;
    check(status == StatusCode::UNAUTHORIZED, "a bare OPTIONS is 401")?;
    Ok(())
}
