//! A DPoP request (RFC 9449) against a bearer request and against what a
//! DPoP request cannot avoid, in one run; and the replay check alone, with
//! the memory store and with Redis.
//!
//! - `dpop/ES256-proof+RS256-token`: one request with `Authorization: DPoP`
//!   and a `DPoP` proof through `JwtAuth` (`Dpop::required().public_url(..)`,
//!   a `MemoryReplays` of 2^18 ids), `oneshot` on a clone of a prebuilt
//!   service around an empty `service_fn`; the access token is RS256
//!   (2048-bit) and bound to the proof's P-256 key by `cnf.jkt`;
//! - `bearer/RS256`: the same token without `cnf`, as `Authorization:
//!   Bearer`, through the same layer without DPoP;
//! - `floor`: what the DPoP request cannot avoid, with jsonwebtoken's own
//!   calls: `decode` of the access token (`iss`, `aud` checked), the proof's
//!   header read (`decode_header`) and its `jwk` made a key
//!   (`DecodingKey::from_jwk`), `decode` of the proof, one SHA-256 of the
//!   access token (aws-lc-rs), for `ath`; `floor-part/token` and `floor-part/proof`
//!   are its two halves (the access token's `decode`; the rest);
//! - `replay/memory/{first_use_now,check}` and `replay/redis/check`: one new
//!   proof id recorded, in a `MemoryReplays` (directly, and through
//!   `ReplayCheck::check`) and in Redis (`RedisReplays` through
//!   `ReplayCheck`, one `SET NX EXAT` round trip on 127.0.0.1, driven by a
//!   current-thread tokio runtime). Redis needs the `redis` feature and a
//!   `redis-server` on the `PATH`; the bench starts its own on a free port
//!   and kills it at the end, and prints a note instead without either.
//!
//! Proofs must be fresh: the layer records every proof id, and refuses one
//! seen before. Each DPoP request is built (its proof signed, with a new
//! `jti`) in `iter_batched`'s setup, outside the measurement. The layer's
//! clock moves one second every 1 024 proofs, and each proof's `iat` is the
//! clock when it was signed, so the replay store holds about 67 000 live
//! ids (a minute's window and the 5 s skew at 1 024 proofs a second) and
//! sweeps the expired ones as a busy server's does. Every other input is
//! made once. Each row's input is checked (200, `Ok`, a replay refused)
//! before it is timed; the futures of the layer complete in their first
//! poll, so they are polled once with a no-op waker.
//!
//! `cargo bench --bench dpop --all-features`; results in BENCHMARKS.md,
//! "DPoP (RFC 9449)".

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Empty;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use tower::{Layer as _, Service, ServiceExt as _, service_fn};
use tower_jwt_auth::{
    Dpop, JwtAuthBuilder, JwtAuthLayer, Key, MemoryReplays, ReplayAnswer, ReplayCheck,
};

mod common;
use common::now;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dpop");
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api://tower-jwt-auth";
/// The URL clients call the API by, and the resource the proofs name.
const PUBLIC_URL: &str = "https://api.example";
const PATH: &str = "/orders";
/// The layer's clock at the first proof.
const NOW: u64 = 1_800_000_000;
/// Proofs per second of the layer's clock.
const PER_SECOND: u64 = 1024;
/// Ids the layer's memory store holds: more than the ~67 000 live ones.
const REPLAY_CAPACITY: usize = 1 << 18;

type Body = Empty<Bytes>;

/// The issuer's RSA key and the client's P-256 key (test fixtures).
struct Keys {
    rsa: EncodingKey,
    rsa_public: DecodingKey,
    ec: EncodingKey,
    /// The client's public key as a proof carries it.
    ec_jwk: Value,
    /// Its RFC 7638 thumbprint, `cnf.jkt`.
    jkt: String,
}

impl Keys {
    fn load() -> Self {
        let read = |name: &str| {
            let path = format!("{FIXTURES}/{name}");
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
        };
        let rsa = EncodingKey::from_rsa_pem(&read("rsa2048.pem")).expect("an RSA key");
        let ec = EncodingKey::from_ec_pem(&read("ec_p256.pem")).expect("a P-256 key");
        let public = |key, alg| Jwk::from_encoding_key(key, alg).expect("a public JWK");
        let rsa_public =
            DecodingKey::from_jwk(&public(&rsa, Algorithm::RS256)).expect("an RSA public key");
        let ec_jwk = serde_json::to_value(public(&ec, Algorithm::ES256)).expect("JSON");
        let (x, y) = (ec_jwk["x"].as_str().unwrap(), ec_jwk["y"].as_str().unwrap());
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let jkt = URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()));
        let ec_jwk = json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y });
        Self {
            rsa,
            rsa_public,
            ec,
            ec_jwk,
            jkt,
        }
    }

    /// An RS256 access token, bound to the client's key when `bound`.
    fn access_token(&self, bound: bool) -> String {
        let mut claims = json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "ada",
            "client_id": "bench-client",
            "scope": "orders:read orders:write",
            "iat": NOW,
            "exp": 4_102_444_800u64,
        });
        if bound {
            claims["cnf"] = json!({ "jkt": self.jkt });
        }
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.rsa).expect("a token")
    }

    /// The layer's key: the issuer's public key.
    fn builder(&self, clock: Arc<AtomicU64>) -> JwtAuthBuilder<Value> {
        JwtAuthLayer::builder()
            .key(Key::from_decoding_key(self.rsa_public.clone()).with_algorithm(Algorithm::RS256))
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .clock(move || clock.load(Ordering::Relaxed))
    }
}

/// Signs proofs of the client's key for `GET PUBLIC_URL/orders`, each with a
/// new `jti`, moving the layer's clock on.
struct Proofs<'k> {
    keys: &'k Keys,
    header: String,
    ath: String,
    clock: Arc<AtomicU64>,
    made: u64,
}

impl<'k> Proofs<'k> {
    fn new(keys: &'k Keys, access_token: &str, clock: Arc<AtomicU64>) -> Self {
        let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": keys.ec_jwk });
        Self {
            keys,
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
            ath: URL_SAFE_NO_PAD.encode(digest(&SHA256, access_token.as_bytes())),
            clock,
            made: 0,
        }
    }

    fn next(&mut self) -> String {
        let iat = NOW + self.made / PER_SECOND;
        self.clock.store(iat, Ordering::Relaxed);
        // 16 bytes, as random ids usually are; distinct for every proof.
        let jti = (u128::from(self.made) * 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835).to_le_bytes();
        self.made += 1;
        let claims = json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": "GET",
            "htu": format!("{PUBLIC_URL}{PATH}"),
            "iat": iat,
            "ath": self.ath,
        });
        let signed = format!(
            "{}.{}",
            self.header,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature =
            jsonwebtoken::crypto::sign(signed.as_bytes(), &self.keys.ec, Algorithm::ES256)
                .expect("a signature");
        format!("{signed}.{signature}")
    }
}

fn inner() -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone {
    service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::new())) })
}

/// One request through a clone of `service` (as a server does), polled once.
fn status<S, B>(service: &S, request: Request<Body>) -> Result<StatusCode, Infallible>
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
{
    now(service.clone().oneshot(request)).map(|response| response.status())
}

fn request(authorization: &HeaderValue, proof: Option<String>) -> Request<Body> {
    let mut request = Request::get(PATH).header(AUTHORIZATION, authorization.clone());
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    request.body(Body::new()).expect("valid request")
}

fn requests(c: &mut Criterion) {
    // jsonwebtoken's own calls (the floor, signing) on aws-lc-rs, whichever
    // other backend the features enable.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let keys = Keys::load();
    let clock = Arc::new(AtomicU64::new(NOW));

    let bound = keys.access_token(true);
    let dpop = keys
        .builder(clock.clone())
        .dpop(
            Dpop::required()
                .public_url(PUBLIC_URL)
                .replay(ReplayCheck::memory(MemoryReplays::with_capacity(
                    REPLAY_CAPACITY,
                ))),
        )
        .build()
        .expect("valid configuration")
        .layer(inner());
    let authorization = HeaderValue::try_from(format!("DPoP {bound}")).unwrap();
    let mut proofs = Proofs::new(&keys, &bound, clock.clone());
    let proof = proofs.next();
    assert_eq!(
        status(&dpop, request(&authorization, Some(proof.clone()))),
        Ok(StatusCode::OK)
    );
    assert_eq!(
        status(&dpop, request(&authorization, Some(proof))),
        Ok(StatusCode::UNAUTHORIZED),
        "a replayed proof"
    );
    c.bench_function("dpop/ES256-proof+RS256-token", |b| {
        b.iter_batched(
            || request(&authorization, Some(proofs.next())),
            |r| status(&dpop, black_box(r)),
            BatchSize::SmallInput,
        )
    });
    println!("(DPoP: {} proofs signed and checked)", proofs.made);

    let bearer_token = keys.access_token(false);
    let bearer = keys
        .builder(clock.clone())
        .build()
        .expect("valid configuration")
        .layer(inner());
    let authorization = HeaderValue::try_from(format!("Bearer {bearer_token}")).unwrap();
    assert_eq!(
        status(&bearer, request(&authorization, None)),
        Ok(StatusCode::OK)
    );
    c.bench_function("bearer/RS256", |b| {
        b.iter_batched(
            || request(&authorization, None),
            |r| status(&bearer, black_box(r)),
            BatchSize::SmallInput,
        )
    });

    let proof = Proofs::new(&keys, &bound, clock).next();
    let mut token_validation = Validation::new(Algorithm::RS256);
    token_validation.set_issuer(&[ISSUER]);
    token_validation.set_audience(&[AUDIENCE]);
    let mut proof_validation = Validation::new(Algorithm::ES256);
    proof_validation.required_spec_claims.clear();
    proof_validation.validate_exp = false;
    let token_part = |token: &str| {
        jsonwebtoken::decode::<Value>(token, &keys.rsa_public, &token_validation)
            .ok()
            .map(|data| data.claims)
    };
    let proof_part = |token: &str, proof: &str| -> Option<(Value, [u8; 32])> {
        let header = jsonwebtoken::decode_header(proof).ok()?;
        let key = DecodingKey::from_jwk(header.jwk.as_ref()?).ok()?;
        let claims = jsonwebtoken::decode::<Value>(proof, &key, &proof_validation).ok()?;
        let ath = digest(&SHA256, token.as_bytes()).as_ref().try_into().ok()?;
        Some((claims.claims, ath))
    };
    let floor = |token: &str, proof: &str| Some((token_part(token)?, proof_part(token, proof)?));
    assert!(
        floor(&bound, &proof).is_some(),
        "the floor refuses its input"
    );
    c.bench_function("floor", |b| {
        b.iter(|| floor(black_box(&bound), black_box(&proof)))
    });
    // Its two halves, to set beside the bearer request and the difference.
    c.bench_function("floor-part/token", |b| {
        b.iter(|| token_part(black_box(&bound)))
    });
    c.bench_function("floor-part/proof", |b| {
        b.iter(|| proof_part(black_box(&bound), black_box(&proof)))
    });
}

/// `count` distinct proof ids, as the DPoP check derives them (43
/// base64url characters of a SHA-256 digest); here from a counter.
fn id(n: u64) -> String {
    let mut bytes = [0; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let word = n.wrapping_add(i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

fn replay(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay");
    // As in benches/replay.rs: time moves one second every 4 096 ids, and
    // each id lives a second, so about 4 000 are live.
    const PER_SECOND: u64 = 4096;
    let nth = |n: u64| {
        let now = NOW + n / PER_SECOND;
        (id(n), now + 1, now)
    };

    let store = MemoryReplays::new();
    let mut n = 0;
    group.bench_function("memory/first_use_now", |b| {
        b.iter_batched(
            || {
                n += 1;
                nth(n)
            },
            // The id is handed back, to be dropped outside the measurement.
            |(id, expires, now)| (store.first_use_now(black_box(&id), expires, now), id),
            BatchSize::SmallInput,
        )
    });

    let check = ReplayCheck::memory(MemoryReplays::new());
    let mut n = 0;
    group.bench_function("memory/check", |b| {
        b.iter_batched(
            || {
                n += 1;
                nth(n)
            },
            |(id, expires, now)| match check.check(black_box(&id), expires, now) {
                ReplayAnswer::Ready(answer) => (answer.is_ok(), id),
                ReplayAnswer::Waiting(_) => unreachable!("the memory store answers at once"),
            },
            BatchSize::SmallInput,
        )
    });

    redis(&mut group);
    group.finish();
}

#[cfg(not(feature = "redis"))]
fn redis(_: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    println!("replay/redis/check skipped: built without the `redis` feature (use --all-features)");
}

#[cfg(feature = "redis")]
fn redis(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    use std::time::{SystemTime, UNIX_EPOCH};
    use tower_jwt_auth::RedisReplays;

    let Some(server) = redis_server::RedisServer::start() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let store = runtime
        .block_on(RedisReplays::connect(server.url()))
        .expect("the bench's Redis");
    let check = ReplayCheck::new(store);
    let ask = |id: &str, expires_at: u64| match check.check(id, expires_at, 0) {
        ReplayAnswer::Ready(answer) => answer.is_ok(),
        ReplayAnswer::Waiting(answer) => runtime.block_on(answer).is_ok(),
    };
    // Redis expires its keys by its own clock: each lives a few seconds.
    let soon = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 5
    };
    assert!(ask(&id(u64::MAX), soon()), "a first use");
    assert!(!ask(&id(u64::MAX), soon()), "a replay");
    let mut n = 0;
    group.bench_function("redis/check", |b| {
        b.iter_batched(
            || {
                n += 1;
                (id(n), soon())
            },
            |(id, expires_at)| (ask(black_box(&id), expires_at), id),
            BatchSize::SmallInput,
        )
    });
    drop(server);
}

#[cfg(feature = "redis")]
mod redis_server {
    use std::net::{Ipv4Addr, TcpListener, TcpStream};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// A `redis-server` of the bench's own on 127.0.0.1, without
    /// persistence; killed when dropped.
    pub struct RedisServer {
        child: Child,
        port: u16,
    }

    impl RedisServer {
        /// `None`, with a note, when `redis-server` is not installed.
        pub fn start() -> Option<Self> {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let spawned = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let child = match spawned {
                Ok(child) => child,
                Err(error) => {
                    println!("replay/redis/check skipped: cannot start redis-server ({error})");
                    return None;
                }
            };
            let server = Self { child, port };
            let deadline = Instant::now() + Duration::from_secs(10);
            while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(server)
        }

        pub fn url(&self) -> String {
            format!("redis://127.0.0.1:{}/", self.port)
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

criterion_group!(benches, requests, replay);
criterion_main!(benches);
