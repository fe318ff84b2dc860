//! What the revocation check adds to an HS256 request through the layer, in
//! one run:
//!
//! - `revocation/off`: no revocation check (the floor of this group);
//! - `revocation/memory`: `MemoryRevocations`, which answers at once;
//! - `revocation/redis_round_trip`: `RedisRevocations` on a connection
//!   without a mirror: one `MGET` to a real `redis-server` on 127.0.0.1 per
//!   request;
//! - `revocation/mirror_hit`: the same store on a connection with the local
//!   mirror (`RedisConnectionBuilder::local_mirror`): after the first
//!   request the token's keys are answered locally, with one round trip per
//!   staleness bound (1 s by default), which the bench pays too.
//!
//! Every row sends the same request (a header token, claims into a
//! `serde_json::Value`, an empty inner service) through `oneshot` on one
//! current-thread tokio runtime (the check's timeout needs its timer), so
//! the runtime's cost is in every row alike. The bench starts its own
//! `redis-server` (without persistence, killed at the end): it needs the
//! binary (Debian package `redis-server`) or its path in `REDIS_SERVER`.
//!
//! `cargo bench --bench revocation --features redis`; results in
//! BENCHMARKS.md, "Revocation check". With `REVOCATION_REQUESTS=<row>:<n>`
//! in the environment it sends `n` requests of that row and exits, without
//! criterion: the workload of scripts/revocation_instructions.sh, which
//! counts instructions per request with callgrind.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group};
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use serde_json::{Value, json};
use tower::{Layer as _, Service, ServiceExt as _, service_fn};
use tower_jwt_auth::{
    JwtAuthLayer, Key, MemoryRevocations, RedisConnection, RedisRevocations, Revocation,
    TokenIssuer,
};

#[path = "../tests/common/redis.rs"]
#[allow(dead_code, reason = "the tests' helper; the bench uses a part of it")]
mod redis_server;

use redis_server::RedisServer;

const SECRET: &[u8] = b"revocation bench secret, 32 bytes";

type Body = Empty<Bytes>;

fn inner() -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone {
    service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::new())) })
}

fn layer(revocation: Option<Revocation>) -> JwtAuthLayer<Value> {
    let builder = JwtAuthLayer::builder().key(Key::hmac(SECRET));
    match revocation {
        Some(revocation) => builder.revocation(revocation),
        None => builder,
    }
    .build()
    .expect("valid configuration")
}

/// The runtime, the Redis server, the request maker's token, and the rows:
/// name, revocation, and the mirrored connection of the `mirror_hit` row.
struct Setup {
    runtime: tokio::runtime::Runtime,
    redis: RedisServer,
    bearer: String,
    rows: Vec<(&'static str, Option<Revocation>)>,
    mirrored: RedisConnection,
}

fn setup() -> Setup {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let redis = runtime.block_on(RedisServer::start());
    let token = TokenIssuer::hmac(SECRET)
        .jti(true)
        .ttl(Duration::from_secs(3600))
        .build()
        .expect("an issuer")
        .issue(&json!({ "sub": "ada", "iss": "https://id.example.com" }))
        .expect("a token");
    let bearer = format!("Bearer {token}");
    let connect = |mirror: bool| {
        let mut builder = RedisConnection::builder(redis.url());
        if mirror {
            builder = builder.local_mirror(10_000);
        }
        runtime.block_on(builder.connect()).expect("connect")
    };
    let plain = connect(false);
    let mirrored = connect(true);
    let rows = vec![
        ("off", None),
        ("memory", Some(Revocation::new(MemoryRevocations::new()))),
        (
            "redis_round_trip",
            Some(Revocation::new(RedisRevocations::new(plain))),
        ),
        (
            "mirror_hit",
            Some(Revocation::new(RedisRevocations::new(mirrored.clone()))),
        ),
    ];
    Setup {
        runtime,
        redis,
        bearer,
        rows,
        mirrored,
    }
}

fn bench(c: &mut Criterion) {
    let Setup {
        runtime,
        redis,
        bearer,
        rows,
        mirrored,
    } = setup();
    let make = || {
        Request::get("/")
            .header(http::header::AUTHORIZATION, &bearer)
            .body(Body::new())
            .expect("valid request")
    };
    let mut group = c.benchmark_group("revocation");
    for (name, revocation) in rows {
        let service = layer(revocation).layer(inner());
        let status = |request| {
            runtime
                .block_on(service.clone().oneshot(request))
                .map(|response| response.status())
        };
        assert_eq!(status(make()), Ok(StatusCode::OK), "{name}");
        group.bench_function(name, |b| {
            b.iter_batched(make, |r| status(black_box(r)), BatchSize::SmallInput)
        });
    }
    group.finish();
    let stats = mirrored.mirror_stats().expect("a mirror");
    eprintln!(
        "mirror: {} keys answered locally, {} asked of Redis ({:.4} % misses)",
        stats.hits,
        stats.misses,
        100.0 * stats.misses as f64 / (stats.hits + stats.misses).max(1) as f64
    );
    drop(redis);
}

/// Sends `n` requests of `row` (`REVOCATION_REQUESTS=<row>:<n>`).
fn requests(row: &str, n: usize) {
    let Setup {
        runtime,
        redis,
        bearer,
        rows,
        ..
    } = setup();
    let (_, revocation) = rows
        .into_iter()
        .find(|(name, _)| *name == row)
        .unwrap_or_else(|| panic!("no row {row:?}"));
    let service = layer(revocation).layer(inner());
    for _ in 0..n {
        let request = Request::get("/")
            .header(http::header::AUTHORIZATION, &bearer)
            .body(Body::new())
            .expect("valid request");
        let response = runtime.block_on(service.clone().oneshot(request));
        assert_eq!(response.map(|r| r.status()), Ok(StatusCode::OK));
    }
    drop(redis);
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(spec) = std::env::var("REVOCATION_REQUESTS") {
        let (row, n) = spec.split_once(':').expect("<row>:<n>");
        requests(row, n.parse().expect("a count"));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
