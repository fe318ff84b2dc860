//! aws-lc-rs against RustCrypto, the measurement behind the default backend.
//!
//! Both backends run in the same process, on the same committed PyJWT fixtures
//! (tests/fixtures/pyjwt), so nothing depends on randomness at bench time.
//!
//! - `verify/<ALG>`: jsonwebtoken's signature check alone: the provider's
//!   `verifier_factory` (which parses the key) plus `verify`, as the layer does
//!   per request with any provider but jsonwebtoken's aws-lc one.
//! - `layer/<ALG>`: a whole `JwtAuth` request (bearer header, claims checks,
//!   `Claims<C>` insertion, inner `service_fn`) with each backend, so the
//!   backend's share of a full request is visible. With the aws-lc provider the
//!   layer parses keys once at build time, so this row includes that gain.
//!
//! `cargo bench --bench crypto_backends --all-features`; results in BENCHMARKS.md.

use std::convert::Infallible;
use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use serde::Deserialize;
use tower::{Layer as _, ServiceExt as _, service_fn};
use tower_jwt_auth::jsonwebtoken::crypto::{CryptoProvider, aws_lc, rust_crypto};
use tower_jwt_auth::jsonwebtoken::{Algorithm, DecodingKey};
use tower_jwt_auth::{Claims, JwtAuthLayer, Key};

mod common;
use common::now;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pyjwt");
const TOKENS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/pyjwt/tokens.json"
));
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api://tower-jwt-auth";
/// A fixed "now" between the fixtures' `nbf` and `exp`.
const NOW: u64 = 1_800_000_000;

const BACKENDS: [(&str, &CryptoProvider); 2] = [
    ("aws-lc-rs", &aws_lc::DEFAULT_PROVIDER),
    ("rust-crypto", &rust_crypto::DEFAULT_PROVIDER),
];

/// The fixture tokens measured: one per algorithm family (RSA is 2048-bit).
const CASES: [&str; 4] = ["HS256", "RS256", "ES256", "EdDSA"];

/// One algorithm's token and public key, from the fixtures.
struct Case {
    name: &'static str,
    algorithm: Algorithm,
    token: String,
    kid: Option<String>,
    key_file: Vec<u8>,
}

impl Case {
    fn load(name: &'static str) -> Self {
        let tokens: Vec<serde_json::Value> =
            serde_json::from_str(TOKENS).expect("tokens.json is a JSON array");
        let entry = tokens
            .into_iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no token named {name} in tokens.json"));
        assert_eq!(entry["expect"], "valid", "{name} must be a valid token");
        let field = |f: &str| entry[f].as_str().map(str::to_owned);
        let key_path = format!("{FIXTURES}/{}", field("key_file").expect("key_file"));
        Self {
            name,
            algorithm: field("alg").expect("alg").parse().expect("known alg"),
            token: field("token").expect("token"),
            kid: field("kid"),
            key_file: std::fs::read(&key_path)
                .unwrap_or_else(|e| panic!("cannot read {key_path}: {e}")),
        }
    }

    /// The signing input and the decoded signature.
    fn signed_parts(&self) -> (&[u8], Vec<u8>) {
        let (message, signature) = self.token.rsplit_once('.').expect("three segments");
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .expect("signature is base64url");
        (message.as_bytes(), signature)
    }

    fn decoding_key(&self) -> DecodingKey {
        let pem = &self.key_file;
        match self.algorithm {
            // The ASCII text of hmac_secret.txt is the secret itself.
            Algorithm::HS256 => DecodingKey::from_secret(pem),
            Algorithm::RS256 => DecodingKey::from_rsa_pem(pem).expect("RSA PEM"),
            Algorithm::ES256 => DecodingKey::from_ec_pem(pem).expect("EC PEM"),
            Algorithm::EdDSA => DecodingKey::from_ed_pem(pem).expect("Ed25519 PEM"),
            other => panic!("no bench case for {other:?}"),
        }
    }

    fn key(&self) -> Key {
        let pem = &self.key_file;
        let key = match self.algorithm {
            Algorithm::HS256 => Key::hmac(pem),
            Algorithm::RS256 => Key::rsa_pem(pem).expect("RSA PEM"),
            Algorithm::ES256 => Key::ec_pem(pem).expect("EC PEM"),
            Algorithm::EdDSA => Key::ed_pem(pem).expect("Ed25519 PEM"),
            other => panic!("no bench case for {other:?}"),
        };
        match &self.kid {
            Some(kid) => key.with_kid(kid),
            None => key,
        }
    }
}

/// jsonwebtoken's check: build the verifier from the key (parsing it), verify.
fn verify(
    provider: &CryptoProvider,
    alg: &Algorithm,
    key: &DecodingKey,
    msg: &[u8],
    sig: &Vec<u8>,
) -> bool {
    let verifier = (provider.verifier_factory)(alg, key).expect("the provider accepts the key");
    verifier.verify(msg, sig).is_ok()
}

fn bench_verify(c: &mut Criterion) {
    for name in CASES {
        let case = Case::load(name);
        let (message, signature) = case.signed_parts();
        let key = case.decoding_key();
        let mut group = c.benchmark_group(format!("verify/{}", case.name));
        for (backend, provider) in BACKENDS {
            // Measure the success path only: a failing check would be cheaper.
            assert!(
                verify(provider, &case.algorithm, &key, message, &signature),
                "{backend} does not verify the {name} fixture"
            );
            group.bench_function(backend, |b| {
                b.iter(|| {
                    verify(
                        provider,
                        black_box(&case.algorithm),
                        black_box(&key),
                        black_box(message),
                        black_box(&signature),
                    )
                })
            });
        }
        group.finish();
    }
}

/// The claims the layer decodes; a small struct, as a typical application has.
#[derive(Clone, Deserialize)]
struct User {
    sub: String,
    scope: String,
}

/// The inner service: 200 when the expected claims arrived, 418 otherwise.
async fn handler(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let found = request
        .extensions()
        .get::<Claims<User>>()
        .is_some_and(|user| user.0.sub == "user-42" && user.0.scope == "read write");
    let mut response = Response::new(Full::default());
    if !found {
        *response.status_mut() = StatusCode::IM_A_TEAPOT;
    }
    Ok(response)
}

fn bench_layer(c: &mut Criterion) {
    for name in CASES {
        let case = Case::load(name);
        let bearer = format!("Bearer {}", case.token);
        let request = || {
            Request::get("/")
                .header(http::header::AUTHORIZATION, &bearer)
                .body(Full::<Bytes>::default())
                .expect("valid request")
        };
        let mut group = c.benchmark_group(format!("layer/{}", case.name));
        for (backend, provider) in BACKENDS {
            let layer = JwtAuthLayer::<User>::builder()
                .key(case.key())
                .issuer(ISSUER)
                .audience(AUDIENCE)
                .clock(|| NOW)
                .crypto_provider(provider)
                .build()
                .expect("valid configuration");
            let service = layer.layer(service_fn(handler));
            let status = |request| now(service.clone().oneshot(request)).map(|r| r.status());
            assert_eq!(
                status(request()),
                Ok(StatusCode::OK),
                "{backend} refuses the {name} fixture"
            );
            // Building the request is the client's cost, not the layer's.
            group.bench_function(backend, |b| {
                b.iter_batched(
                    request,
                    |request| status(black_box(request)),
                    BatchSize::SmallInput,
                )
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_verify, bench_layer);
criterion_main!(benches);
