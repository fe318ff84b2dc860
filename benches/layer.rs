//! The layer against its floors, in one run.
//!
//! - `authorized/<ALG>/layer`: one request with an `Authorization: Bearer` token
//!   through `JwtAuth` (`tower::ServiceExt::oneshot`, empty `service_fn` inner
//!   service, claims decoded into a `serde_json::Value`);
//! - `authorized/<ALG>/jsonwebtoken_decode`: a bare `jsonwebtoken::decode` with a
//!   prebuilt `DecodingKey` and `Validation` (same `iss`, `aud`, `nbf`);
//! - `authorized/<ALG>/floor`: the work no verifier can skip. HS256: base64url of
//!   the signature and the claims, HMAC-SHA256 with a prebuilt aws-lc key, one
//!   `serde_json` parse of the claims. RS256, ES256, EdDSA: one verify with an
//!   already-parsed aws-lc public key;
//! - `authorized/inner_only`: the bare inner service;
//! - `rejected/{expired,bad_signature,missing}`: HS256 requests the layer refuses;
//! - `cached/<ALG>/{hit,uncached}` (with `--features token-cache`): the same
//!   request through a layer with a verified-token cache holding the token, and
//!   through the same layer without one;
//! - `key_ring/ES256/{static_key,ring}`: a token of a `KeyRing` (a P-256 key,
//!   two published), verified by a layer on the same public key given as a
//!   static `Key`, and by a layer on the ring (`JwtAuthBuilder::key_ring`).
//!
//! Inputs are the committed PyJWT fixtures (tests/fixtures/pyjwt; RSA is 2048-bit).
//! Requests are built outside the measurement (`iter_batched`) in every row that
//! takes one. The futures complete at once (static keys, ready inner service), so
//! they are polled once with a no-op waker instead of paying for a runtime.
//!
//! `cargo bench --bench layer --features token-cache`; results in
//! BENCHMARKS.md, "Layer vs. floors" and "Verified-token cache".

use std::convert::Infallible;
use std::hint::black_box;

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
    VerificationAlgorithm,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tower::{Layer as _, Service, ServiceExt as _, service_fn};
use tower_jwt_auth::{JwtAuthBuilder, JwtAuthLayer, Key};

mod common;
use common::now;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pyjwt");
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api://tower-jwt-auth";
/// A fixed "now" between the fixtures' `nbf` and `exp`.
const NOW: u64 = 1_800_000_000;

type Body = Empty<Bytes>;

/// One fixture token and its public key (or secret).
struct Fixture {
    algorithm: Algorithm,
    token: String,
    kid: Option<String>,
    key_file: Vec<u8>,
}

impl Fixture {
    fn load(name: &str) -> Self {
        let path = format!("{FIXTURES}/tokens.json");
        let tokens: Vec<Value> = serde_json::from_slice(&read(&path)).expect("tokens.json");
        let entry = tokens
            .into_iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no token named {name} in tokens.json"));
        let field = |f: &str| entry[f].as_str().map(str::to_owned);
        Self {
            algorithm: field("alg").expect("alg").parse().expect("known alg"),
            token: field("token").expect("token"),
            kid: field("kid"),
            key_file: read(&format!("{FIXTURES}/{}", field("key_file").expect("key"))),
        }
    }

    fn decoding_key(&self) -> DecodingKey {
        let file = &self.key_file;
        match self.algorithm {
            // The ASCII text of hmac_secret.txt is the secret itself.
            Algorithm::HS256 => DecodingKey::from_secret(file),
            Algorithm::RS256 => DecodingKey::from_rsa_pem(file).expect("RSA PEM"),
            Algorithm::ES256 => DecodingKey::from_ec_pem(file).expect("EC PEM"),
            Algorithm::EdDSA => DecodingKey::from_ed_pem(file).expect("Ed25519 PEM"),
            other => panic!("no bench case for {other:?}"),
        }
    }

    fn layer(&self) -> JwtAuthLayer<Value> {
        self.builder().build().expect("valid configuration")
    }

    fn builder(&self) -> JwtAuthBuilder<Value> {
        let key = Key::from_decoding_key(self.decoding_key()).with_algorithm(self.algorithm);
        let key = match &self.kid {
            Some(kid) => key.with_kid(kid),
            None => key,
        };
        JwtAuthLayer::builder()
            .key(key)
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .clock(|| NOW)
    }

    fn validation(&self) -> Validation {
        let mut validation = Validation::new(self.algorithm);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.validate_nbf = true;
        validation
    }

    /// The signing input, the base64url claims and the base64url signature.
    fn parts(&self) -> (&str, &str, &str) {
        let (message, signature) = self.token.rsplit_once('.').expect("three segments");
        let (_, payload) = message.split_once('.').expect("three segments");
        (message, payload, signature)
    }
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn request(token: Option<&str>) -> impl Fn() -> Request<Body> + '_ {
    let bearer = token.map(|t| format!("Bearer {t}"));
    move || {
        let mut request = Request::get("/");
        if let Some(bearer) = &bearer {
            request = request.header(http::header::AUTHORIZATION, bearer);
        }
        request.body(Body::new()).expect("valid request")
    }
}

fn inner() -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone {
    service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::new())) })
}

/// Measures one request per iteration through `service` (a clone each time, as
/// a server does), after checking that it gets `expected`.
fn bench_requests<S, B>(
    c: &mut Criterion,
    id: &str,
    service: S,
    make: impl Fn() -> Request<Body>,
    expected: StatusCode,
) where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
{
    let status = |request| now(service.clone().oneshot(request)).map(|r| r.status());
    assert_eq!(status(make()), Ok(expected), "{id}");
    c.bench_function(id, |b| {
        b.iter_batched(&make, |r| status(black_box(r)), BatchSize::SmallInput)
    });
}

/// The work an HS256 check cannot avoid, hand-rolled.
fn hs256_floor(key: &hmac::Key, message: &str, payload: &str, signature: &str) -> Option<Value> {
    let mut mac = [0; 32];
    let len = URL_SAFE_NO_PAD.decode_slice(signature, &mut mac).ok()?;
    hmac::verify(key, message.as_bytes(), &mac[..len]).ok()?;
    let claims = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&claims).ok()
}

fn bench_floor(c: &mut Criterion, id: &str, fixture: &Fixture) {
    let (message, payload, signature) = fixture.parts();
    let key = fixture.decoding_key();
    if fixture.algorithm == Algorithm::HS256 {
        let secret = key.try_get_as_bytes().expect("a secret");
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        assert!(hs256_floor(&key, message, payload, signature).is_some());
        c.bench_function(id, |b| {
            b.iter(|| hs256_floor(&key, black_box(message), payload, signature))
        });
        return;
    }
    let algorithm: &'static dyn VerificationAlgorithm = match fixture.algorithm {
        Algorithm::RS256 => &RSA_PKCS1_2048_8192_SHA256,
        Algorithm::ES256 => &ECDSA_P256_SHA256_FIXED,
        Algorithm::EdDSA => &ED25519,
        other => panic!("no floor for {other:?}"),
    };
    let public = ParsedPublicKey::new(algorithm, key.try_get_as_bytes().expect("DER"))
        .expect("a valid public key");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    assert!(public.verify_sig(message.as_bytes(), &signature).is_ok());
    c.bench_function(id, |b| {
        b.iter(|| public.verify_sig(black_box(message.as_bytes()), &signature))
    });
}

fn authorized(c: &mut Criterion) {
    for alg in ["HS256", "RS256", "ES256", "EdDSA"] {
        let fixture = Fixture::load(alg);
        let service = fixture.layer().layer(inner());
        let make = request(Some(&fixture.token));
        bench_requests(
            c,
            &format!("authorized/{alg}/layer"),
            service,
            make,
            StatusCode::OK,
        );

        let key = fixture.decoding_key();
        let validation = fixture.validation();
        let decode = |token: &str| jsonwebtoken::decode::<Value>(token, &key, &validation);
        assert!(decode(&fixture.token).is_ok(), "jsonwebtoken refuses {alg}");
        c.bench_function(&format!("authorized/{alg}/jsonwebtoken_decode"), |b| {
            b.iter(|| decode(black_box(&fixture.token)))
        });

        bench_floor(c, &format!("authorized/{alg}/floor"), &fixture);
    }
    bench_requests(
        c,
        "authorized/inner_only",
        inner(),
        request(None),
        StatusCode::OK,
    );
}

fn rejected(c: &mut Criterion) {
    let valid = Fixture::load("HS256");
    let expired = Fixture::load("HS256-expired");
    // The same token with the first signature character changed: same length,
    // still base64url, wrong MAC.
    let (message, signature) = valid.token.rsplit_once('.').expect("three segments");
    let first = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{message}.{first}{}", &signature[1..]);
    let service = valid.layer().layer(inner());
    for (case, token) in [
        ("expired", Some(expired.token.as_str())),
        ("bad_signature", Some(tampered.as_str())),
        ("missing", None),
    ] {
        bench_requests(
            c,
            &format!("rejected/{case}"),
            service.clone(),
            request(token),
            StatusCode::UNAUTHORIZED,
        );
    }
}

/// A hit of the verified-token cache against a full verification, per
/// algorithm, in the same run.
#[cfg(feature = "token-cache")]
fn cached(c: &mut Criterion) {
    for alg in ["HS256", "RS256", "ES256", "EdDSA"] {
        let fixture = Fixture::load(alg);
        let cached = fixture
            .builder()
            .token_cache(1024)
            .build()
            .expect("valid configuration")
            .layer(inner());
        for (case, service) in [
            ("hit", cached),
            ("uncached", fixture.layer().layer(inner())),
        ] {
            bench_requests(
                c,
                &format!("cached/{alg}/{case}"),
                service,
                request(Some(&fixture.token)),
                StatusCode::OK,
            );
        }
    }
}

#[cfg(not(feature = "token-cache"))]
fn cached(_: &mut Criterion) {}

/// A layer on a key ring against one on the same key given statically.
fn key_ring(c: &mut Criterion) {
    use tower_jwt_auth::{KeyRing, SigningKey, TokenIssuer};
    let key = || {
        let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .expect("P-256 key")
            .serialize_pem();
        SigningKey::from_pem(Algorithm::ES256, pem.as_bytes()).expect("ES256 key")
    };
    let current = key();
    let public = Key::from_jwk(current.public_jwk()).expect("the ring's public key");
    let ring = KeyRing::builder(current, key()).build();
    let token = TokenIssuer::key_ring(ring.clone())
        .build()
        .expect("issuer")
        .issue(&serde_json::json!({ "sub": "ada" }))
        .expect("token");
    let layer = |builder: JwtAuthBuilder<Value>| {
        builder
            .algorithms([Algorithm::ES256])
            .build()
            .expect("valid configuration")
            .layer(inner())
    };
    for (case, service) in [
        ("static_key", layer(JwtAuthLayer::builder().key(public))),
        (
            "ring",
            layer(JwtAuthLayer::builder().key_ring(ring.clone())),
        ),
    ] {
        bench_requests(
            c,
            &format!("key_ring/ES256/{case}"),
            service,
            request(Some(&token)),
            StatusCode::OK,
        );
    }
}

criterion_group!(benches, authorized, rejected, cached, key_ring);
criterion_main!(benches);
