//! Token introspection (RFC 7662) against a JWT request, in one run.
//!
//! - `introspection/cache_hit`: one request with an opaque token through
//!   `JwtAuth` whose introspection cache holds the token's answer (claims into
//!   a `serde_json::Value`, `iss` and `aud` checked), `oneshot` on a clone of
//!   a prebuilt service around an empty `service_fn`;
//! - `jwt/HS256`: the same claims as an HS256 JWT (`TokenIssuer`), through a
//!   layer with the key (the layer's cheapest JWT request);
//! - `introspection/round_trip`: the opaque request through a layer that keeps
//!   no active answer (`max_cache_lifetime(0)`), so every request introspects:
//!   a `POST` to a hyper server on 127.0.0.1 that answers a fixed active
//!   response, over a new connection each time (the client keeps none), on a
//!   current-thread tokio runtime that also runs the server.
//!
//! The first three complete at once and are polled once with a no-op waker;
//! each row's answer is checked (200) before it is timed.
//!
//! `cargo bench --bench introspection --features introspection`; results in
//! BENCHMARKS.md, "Token introspection (RFC 7662)".

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tower::{Layer as _, Service, ServiceExt as _, service_fn};
use tower_jwt_auth::{Introspection, JwtAuthLayer, Key, TokenIssuer};

mod common;
use common::now;

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api://tower-jwt-auth";
const OPAQUE: &str = "2YotnFZFEjr1zCsicMWpAA";
const SECRET: &[u8] = b"a 32-byte secret for the HS256 row";

type Body = Empty<Bytes>;

fn exp() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 3600
}

/// The claims of every row.
fn claims() -> Value {
    json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "ada", "scope": "read write", "exp": exp() })
}

fn request(token: &str) -> Request<Body> {
    Request::get("/")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::new())
        .expect("request")
}

/// A prebuilt service of `layer` around an empty inner service.
fn service(
    layer: &JwtAuthLayer<Value>,
) -> impl Service<Request<Body>, Response = Response<impl Sized>, Error = Infallible> + Clone {
    layer.layer(service_fn(|_: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
    }))
}

/// An introspection endpoint on 127.0.0.1 that says every token is active,
/// spawned on the current runtime; its URL.
async fn endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/introspect",
        listener.local_addr().expect("address")
    );
    let mut answer = claims();
    answer["active"] = json!(true);
    let answer = Bytes::from(answer.to_string());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            let answer = answer.clone();
            tokio::spawn(async move {
                let reply = hyper::service::service_fn(move |_| {
                    let answer = answer.clone();
                    async move {
                        let mut response = Response::new(Full::new(answer));
                        response
                            .headers_mut()
                            .insert("content-type", "application/json".parse().unwrap());
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), reply)
                    .await;
            });
        }
    });
    url
}

fn introspecting(url: &str, max_cache_lifetime: Duration) -> JwtAuthLayer<Value> {
    let introspection = Introspection::builder(url)
        .client_secret_basic("bench", "bench secret")
        .max_cache_lifetime(max_cache_lifetime)
        .build()
        .expect("introspection");
    JwtAuthLayer::builder()
        .introspection(introspection)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .expect("layer")
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let url = runtime.block_on(endpoint());

    // The cache hit: the first request introspects and fills the cache.
    let cached_layer = introspecting(&url, Duration::from_secs(3600));
    let cached = service(&cached_layer);
    let status = runtime
        .block_on(cached.clone().oneshot(request(OPAQUE)))
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        now(cached.clone().oneshot(request(OPAQUE)))
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let hs256_layer = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .expect("layer");
    let hs256 = TokenIssuer::hmac(SECRET)
        .build()
        .expect("issuer")
        .issue(&claims())
        .expect("token");
    let hs256_service = service(&hs256_layer);
    assert_eq!(
        now(hs256_service.clone().oneshot(request(&hs256)))
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let uncached_layer = introspecting(&url, Duration::ZERO);
    let uncached = service(&uncached_layer);
    let status = runtime
        .block_on(uncached.clone().oneshot(request(OPAQUE)))
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);

    let mut group = c.benchmark_group("introspection");
    group.bench_function("cache_hit", |b| {
        b.iter_batched(
            || request(OPAQUE),
            |r| black_box(now(cached.clone().oneshot(r))),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("round_trip", |b| {
        b.iter_batched(
            || request(OPAQUE),
            |r| black_box(runtime.block_on(uncached.clone().oneshot(r))),
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("jwt");
    group.bench_function("HS256", |b| {
        b.iter_batched(
            || request(&hs256),
            |r| black_box(now(hs256_service.clone().oneshot(r))),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
