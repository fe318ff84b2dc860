//! A fixed workload for instruction counting (`valgrind --tool=callgrind`),
//! which, unlike wall time, repeats exactly on a shared, noisy machine:
//! `instructions <layer|decode> <requests>`.
//!
//! - `layer`: requests with an HS256 bearer token through `JwtAuthLayer`
//!   (claims into a `serde_json::Value`) around an empty inner service;
//! - `decode`: the same token through a bare `jsonwebtoken::decode` with a
//!   prepared `DecodingKey`, the floor every JWT middleware stands on.
//!
//! `scripts/instructions.sh` runs each mode at two sizes and divides the
//! difference, which leaves out start-up and key preparation.

use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};
use tower_jwt_auth::{JwtAuthLayer, Key, TokenIssuer};

const SECRET: &[u8] = b"instruction count secret, 32 bytes or more";

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(mode), Some(requests)) = (args.next(), args.next()) else {
        eprintln!("usage: instructions <layer|decode> <requests>");
        std::process::exit(2);
    };
    let requests: u32 = requests.parse().expect("a number of requests");
    let token = TokenIssuer::hmac(SECRET)
        .build()
        .expect("an HMAC issuer")
        .issue(&json!({ "sub": "ada", "scope": "orders:read orders:write", "tenant": 7 }))
        .expect("a token");
    match mode.as_str() {
        "layer" => layer(&token, requests),
        "decode" => decode(&token, requests),
        other => {
            eprintln!("unknown mode {other:?}: layer or decode");
            std::process::exit(2);
        }
    }
}

fn layer(token: &str, requests: u32) {
    let layer = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .build()
        .expect("a layer");
    let mut service = layer.layer(tower::service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(()))
    }));
    let bearer = format!("Bearer {token}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        for _ in 0..requests {
            let request = Request::get("/")
                .header("authorization", &bearer)
                .body(())
                .expect("a request");
            let ready = service.ready().await.expect("infallible");
            let response = ready.call(request).await.expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
        }
    });
}

fn decode(token: &str, requests: u32) {
    let key = DecodingKey::from_secret(SECRET);
    let validation = Validation::new(Algorithm::HS256);
    for _ in 0..requests {
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).expect("a valid token");
        assert_eq!(data.claims["sub"], "ada");
    }
}
