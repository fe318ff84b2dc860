//! The `verify` target's harness: tokens in `Authorization: Bearer` against
//! the PyJWT fixture keys (an HMAC secret, RSA, P-256, P-384, Ed25519) with
//! `iss` and `aud` configured, once as PEM keys and once as the JWK Set; and
//! the properties.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, StatusCode};
use serde_json::Value;
use tower::{Layer as _, Service as _, service_fn};
use tower_jwt_auth::jsonwebtoken::{Algorithm, EncodingKey, crypto};
use tower_jwt_auth::{Claims, JwtAuthLayer, Key, KeySet};

use crate::common::{NOW, check_response, echo_extensions, now};

pub const ISSUER: &str = "https://issuer.example";
pub const AUDIENCE: &str = "api://tower-jwt-auth";
/// The layers' leeway: the default.
pub const LEEWAY: f64 = 60.0;

pub const HMAC_SECRET: &[u8] = include_bytes!("../../tests/fixtures/pyjwt/hmac_secret.txt");
pub const RSA_PEM: &[u8] = include_bytes!("../../tests/fixtures/pyjwt/rsa_public.pem");
pub const RSA_DER: &[u8] = include_bytes!("../../tests/fixtures/pyjwt/rsa_public.der");
pub const EC256_PEM: &[u8] = include_bytes!("../../tests/fixtures/pyjwt/ec_p256_public.pem");
pub const EC384_PEM: &[u8] = include_bytes!("../../tests/fixtures/pyjwt/ec_p384_public.pem");
pub const ED_PEM: &[u8] = include_bytes!("../../tests/fixtures/pyjwt/ed25519_public.pem");
pub const JWKS: &[u8] = include_bytes!("../../tests/fixtures/pyjwt/jwks.json");
pub const TOKENS: &str = include_str!("../../tests/fixtures/pyjwt/tokens.json");

/// The HMAC algorithms the harness signs with.
#[derive(Debug, Clone, Copy)]
pub enum HmacAlg {
    Hs256,
    Hs384,
    Hs512,
}

impl HmacAlg {
    pub fn algorithm(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::Hs384 => Algorithm::HS384,
            Self::Hs512 => Algorithm::HS512,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
        }
    }
}

/// A token of tokens.json.
pub struct Fixture {
    pub token: String,
    pub valid: bool,
}

struct Setup {
    fixtures: Vec<Fixture>,
    layers: [JwtAuthLayer<Value>; 2],
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let configured = |keys: Vec<Key>| {
        JwtAuthLayer::builder()
            .keys(keys)
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .clock(|| NOW)
            .build()
            .expect("layer")
    };
    let pem_keys = vec![
        Key::hmac(HMAC_SECRET),
        Key::rsa_pem(RSA_PEM).expect("rsa"),
        Key::ec_pem(EC256_PEM).expect("p-256"),
        Key::ec_pem(EC384_PEM).expect("p-384"),
        Key::ed_pem(ED_PEM).expect("ed25519"),
    ];
    let jwks_keys = KeySet::from_json(JWKS)
        .expect("jwks")
        .keys()
        .iter()
        .cloned()
        .chain([Key::hmac(HMAC_SECRET)])
        .collect();
    let fixtures = serde_json::from_str::<Vec<Value>>(TOKENS)
        .expect("tokens.json")
        .into_iter()
        .map(|entry| Fixture {
            token: entry["token"].as_str().expect("token").to_owned(),
            valid: entry["expect"] == "valid",
        })
        .collect();
    Setup {
        fixtures,
        // Built first: building installs the crypto provider that `crypto::sign` uses.
        layers: [configured(pem_keys), configured(jwks_keys)],
    }
});

/// The tokens of tokens.json.
pub fn fixtures() -> &'static [Fixture] {
    &SETUP.fixtures
}

/// The value of a time claim, which must be a JSON number.
fn number(value: &Value) -> f64 {
    value.as_f64().expect("a time claim that is not a number")
}

/// What a 200 must mean, whatever the token: the claims the application sees
/// meet the configured policy.
fn check_policy(claims: &Value) {
    let now = NOW as f64;
    let exp = claims.get("exp").expect("a 200 without exp");
    assert!(now < number(exp) + LEEWAY, "accepted after exp: {exp}");
    if let Some(nbf) = claims.get("nbf") {
        assert!(now >= number(nbf) - LEEWAY, "accepted before nbf: {nbf}");
    }
    if let Some(iat) = claims.get("iat") {
        assert!(iat.is_number(), "iat of the wrong type: {iat}");
    }
    assert_eq!(claims.get("iss"), Some(&Value::from(ISSUER)), "iss");
    let aud = claims.get("aud").expect("a 200 without aud");
    let audiences = match aud {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    assert!(
        audiences.contains(&&Value::from(AUDIENCE)),
        "aud without the configured audience: {aud}"
    );
    if let Some(sub) = claims.get("sub") {
        assert!(sub.is_string(), "sub of the wrong type: {sub}");
    }
}

/// What a 200 for a token the harness signed must mean for its header.
fn check_header(header: &[u8], alg: HmacAlg) {
    let header: Value = serde_json::from_slice(header).expect("an accepted header is JSON");
    assert_eq!(header.get("alg"), Some(&Value::from(alg.name())), "alg");
    assert!(header.get("crit").is_none(), "crit accepted");
}

/// Sends `token` through both layers and checks the properties: the status is
/// 400 or 401, except 200 for a valid fixture token, or for a token signed
/// with the real HMAC secret (`real`: the algorithm it was signed with, and
/// its header); and a 200 always means the claims the application sees meet
/// the policy, and the header of a token signed here names its algorithm and
/// has no `crit`.
pub fn run(token: &str, real: Option<(HmacAlg, &[u8])>) {
    let setup = &*SETUP;
    let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) else {
        return;
    };
    for layer in &setup.layers {
        let request = Request::get("/")
            .header(AUTHORIZATION, value.clone())
            .body(())
            .expect("request");
        let response =
            now(layer.layer(service_fn(echo_extensions)).call(request)).expect("infallible");
        let allowed = [
            StatusCode::OK,
            StatusCode::BAD_REQUEST,
            StatusCode::UNAUTHORIZED,
        ];
        if check_response(&response, &allowed).is_some() {
            continue;
        }
        let claims = response
            .extensions()
            .get::<Claims<Value>>()
            .expect("a 200 without claims");
        let valid_fixture = setup.fixtures.iter().any(|f| f.valid && f.token == token);
        match real {
            Some((alg, header)) => check_header(header, alg),
            None => assert!(valid_fixture, "accepted a token nobody signed: {token}"),
        }
        check_policy(&claims.0);
    }
}

/// A token of `header` and `claims` signed with the real secret, with the
/// algorithm the header names when it is an HMAC one (else HS256).
pub fn signed(header: &[u8], claims: &[u8]) -> Option<(String, HmacAlg)> {
    let named = serde_json::from_slice::<Value>(header).ok();
    let alg = match named.as_ref().and_then(|h| h.get("alg")?.as_str()) {
        Some("HS384") => HmacAlg::Hs384,
        Some("HS512") => HmacAlg::Hs512,
        _ => HmacAlg::Hs256,
    };
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = EncodingKey::from_secret(HMAC_SECRET);
    let signature = crypto::sign(input.as_bytes(), &key, alg.algorithm()).ok()?;
    Some((format!("{input}.{signature}"), alg))
}

/// Runs a `text:` (a token) or `signed:` (`<header>\n<claims>`, signed here
/// with the real secret) input; `false` for any other.
pub fn replay(data: &[u8]) -> bool {
    if let Some(text) = data.strip_prefix(b"text:") {
        if let Ok(token) = std::str::from_utf8(text) {
            run(token, None);
        }
        return true;
    }
    let Some(rest) = data.strip_prefix(b"signed:") else {
        return false;
    };
    let newline = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let (header, claims) = (
        &rest[..newline],
        rest.get(newline + 1..).unwrap_or_default(),
    );
    if let Some((token, alg)) = signed(header, claims) {
        run(&token, Some((alg, header)));
    }
    true
}
