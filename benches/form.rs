//! A form-field token against the cost of reading the same body anyway.
//!
//! - `form/<size>/layer`: a `POST` with an `application/x-www-form-urlencoded`
//!   body of `<size>` holding an HS256 token in its `token` field, through
//!   `JwtAuth` with `.form_field("token")`, to an inner service that collects the
//!   body;
//! - `form/<size>/collect_only`: the same request to the same inner service
//!   without the layer: the floor, since a handler that reads the form pays it;
//! - `form/<size>/header_token`: the same body with the token in
//!   `Authorization: Bearer` instead, through a header-only layer: what the
//!   form source adds over verifying the token at all.
//!
//! The body is in memory, so every future completes at once: they are polled
//! once with a no-op waker instead of paying for a runtime.
//!
//! `cargo bench --bench form`; results in BENCHMARKS.md, "Form-field source".

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Empty, Full};
use tower::{Layer as _, Service, ServiceExt as _, service_fn};
use tower_jwt_auth::{JwtAuthLayer, Key, TokenIssuer};

mod common;
use common::now;

const SECRET: &[u8] = b"benchmark secret of 32 bytes....";

/// A form of exactly `size` bytes: a padding field, the token, another field.
fn form(size: usize, token: &str) -> Bytes {
    let head = format!("note=hello&token={token}&pad=");
    assert!(size > head.len(), "form size too small for the token");
    let mut body = head.into_bytes();
    body.resize(size, b'x');
    Bytes::from(body)
}

fn request(body: &Bytes) -> Request<Full<Bytes>> {
    Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-length", body.len())
        .body(Full::new(body.clone()))
        .expect("valid request")
}

/// The inner service: reads the whole body, as a form handler would.
async fn collect<B: Body>(request: Request<B>) -> Result<Response<Empty<Bytes>>, Infallible>
where
    B::Error: std::fmt::Debug,
{
    let body = request.into_body().collect().await.expect("body");
    black_box(body.to_bytes());
    Ok(Response::new(Empty::new()))
}

fn bench(c: &mut Criterion) {
    let token = TokenIssuer::hmac(SECRET)
        .build()
        .expect("issuer")
        .issue(&serde_json::json!({ "sub": "ada" }))
        .expect("token");
    let layer = JwtAuthLayer::<serde_json::Value>::builder()
        .key(Key::hmac(SECRET))
        .form_field("token")
        .build()
        .expect("layer");
    let with_layer = layer.layer(service_fn(collect));
    let header_layer = JwtAuthLayer::<serde_json::Value>::builder()
        .key(Key::hmac(SECRET))
        .build()
        .expect("layer")
        .layer(service_fn(collect));
    let bare = service_fn(collect);

    let mut group = c.benchmark_group("form");
    for (name, size) in [("1KiB", 1024), ("32KiB", 32 * 1024)] {
        let body = form(size, &token);
        let status = now(with_layer.clone().oneshot(request(&body)))
            .expect("infallible")
            .status();
        assert_eq!(
            status,
            StatusCode::OK,
            "the benchmark must measure an accepted request"
        );

        group.bench_function(format!("{name}/layer"), |b| {
            b.iter_batched(
                || (with_layer.clone(), request(&body)),
                |(mut service, request)| now(service.call(request)),
                BatchSize::SmallInput,
            )
        });
        let with_header = |body: &Bytes| {
            let mut request = request(body);
            let value = format!("Bearer {token}").parse().expect("header value");
            request.headers_mut().insert("authorization", value);
            request
        };
        group.bench_function(format!("{name}/header_token"), |b| {
            b.iter_batched(
                || (header_layer.clone(), with_header(&body)),
                |(mut service, request)| now(service.call(request)),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("{name}/collect_only"), |b| {
            b.iter_batched(
                || (bare, request(&body)),
                |(mut service, request)| now(service.call(request)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
