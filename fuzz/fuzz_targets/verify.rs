//! The whole verify path with arbitrary tokens in `Authorization: Bearer`,
//! against the PyJWT fixture keys (an HMAC secret, RSA, P-256, P-384, Ed25519)
//! with `iss` and `aud` configured: once as PEM keys, once as the JWK Set.
//!
//! A token is either raw text (`text:` inputs, such as the seeds: fixture
//! tokens) or built from parts: a JOSE header and claims (raw JSON bytes, or
//! objects with duplicate names, odd types, times near the clock), a signature
//! (random bytes, a fixture token's, or an HMAC the harness computes with the
//! fixture secret or with a public key's bytes: key confusion), and a layout
//! (padding, the standard alphabet, two or four segments).
//!
//! Properties: no panic; the status is 400 or 401, except 200 for a fixture
//! token that is valid, or a token the harness signed with the real HMAC
//! secret; and a 200 always means the claims the application sees meet the
//! policy (`exp` in the future, `nbf` reached, `iss` and `aud` as configured,
//! registered claims of the right JSON type), and a harness-signed token's
//! header names the algorithm it was signed with and has no `crit`.

#![no_main]

use std::sync::LazyLock;

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower::{Layer as _, Service as _, service_fn};
use tower_jwt_auth::jsonwebtoken::{Algorithm, EncodingKey, crypto};
use tower_jwt_auth::{Claims, JwtAuthLayer, Key, KeySet};
use tower_jwt_auth_fuzz::{NOW, check_response, echo_extensions, now};

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api://tower-jwt-auth";
/// The layers' leeway: the default.
const LEEWAY: f64 = 60.0;

const HMAC_SECRET: &[u8] = include_bytes!("../../tests/fixtures/pyjwt/hmac_secret.txt");
const RSA_PEM: &[u8] = include_bytes!("../../tests/fixtures/pyjwt/rsa_public.pem");
const RSA_DER: &[u8] = include_bytes!("../../tests/fixtures/pyjwt/rsa_public.der");
const EC256_PEM: &[u8] = include_bytes!("../../tests/fixtures/pyjwt/ec_p256_public.pem");
const EC384_PEM: &[u8] = include_bytes!("../../tests/fixtures/pyjwt/ec_p384_public.pem");
const ED_PEM: &[u8] = include_bytes!("../../tests/fixtures/pyjwt/ed25519_public.pem");
const JWKS: &[u8] = include_bytes!("../../tests/fixtures/pyjwt/jwks.json");
const TOKENS: &str = include_str!("../../tests/fixtures/pyjwt/tokens.json");

#[derive(Arbitrary, Debug)]
struct Parts {
    header: Json,
    claims: Json,
    signature: Signature,
    layout: Layout,
}

#[derive(Arbitrary, Debug)]
enum Json {
    Raw(Vec<u8>),
    Object(Vec<(Name, Val)>),
}

/// Names with a meaning in a JOSE header or in the claims.
#[derive(Arbitrary, Debug)]
enum Name {
    Alg,
    Kid,
    Typ,
    Crit,
    Jku,
    Jwk,
    X5u,
    B64,
    Exp,
    Nbf,
    Iat,
    Iss,
    Aud,
    Sub,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    /// The clock plus this many seconds: `exp` and `nbf` at their boundaries.
    Time(i16),
    /// The same, as a JSON string: a number in the wrong type.
    TimeString(i16),
    Str(Text),
    Array(Vec<Val>),
    Object(Vec<(Name, Val)>),
}

#[derive(Arbitrary, Debug)]
enum Text {
    Alg(Alg),
    Issuer,
    Audience,
    Kid(u8),
    Other(String),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Alg {
    Hs256,
    Hs384,
    Hs512,
    Rs256,
    Ps256,
    Es256,
    Es384,
    EdDsa,
    None,
    NoneCapital,
}

#[derive(Arbitrary, Debug)]
enum Signature {
    Bytes(Vec<u8>),
    /// The signature segment of fixture token `n`.
    Fixture(u8),
    /// An HMAC over the signing input, computed here.
    Hmac(HmacAlg, Secret),
    /// Not base64 at all.
    Text(String),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum HmacAlg {
    Hs256,
    Hs384,
    Hs512,
}

/// The HMAC secret the harness signs with: the real one, or the bytes of a
/// public key (the classic RS256-to-HS256 confusion), or anything else.
#[derive(Arbitrary, Debug)]
enum Secret {
    Real,
    RsaPem,
    RsaDer,
    Ec256Pem,
    EdPem,
    Jwks,
    Empty,
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Layout {
    Compact,
    Padded,
    StandardAlphabet,
    TwoSegments,
    FourSegments(Vec<u8>),
}

impl Alg {
    fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::EdDsa => "EdDSA",
            Self::None => "none",
            Self::NoneCapital => "None",
        }
    }
}

impl HmacAlg {
    fn algorithm(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::Hs384 => Algorithm::HS384,
            Self::Hs512 => Algorithm::HS512,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
        }
    }
}

impl Secret {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Real => HMAC_SECRET,
            Self::RsaPem => RSA_PEM,
            Self::RsaDer => RSA_DER,
            Self::Ec256Pem => EC256_PEM,
            Self::EdPem => ED_PEM,
            Self::Jwks => JWKS,
            Self::Empty => b"",
            Self::Bytes(bytes) => bytes,
        }
    }
}

/// Writes JSON by hand, so that objects can repeat a name.
fn write_json(out: &mut String, val: &Val, depth: usize) {
    // Deep enough to pass the decoder's own nesting limit; bounded for the stack.
    if depth > 200 {
        out.push_str("null");
        return;
    }
    match val {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Int(n) => out.push_str(&n.to_string()),
        Val::Uint(n) => out.push_str(&n.to_string()),
        // NaN and infinities have no JSON form: serde_json writes `null`.
        Val::Float(f) => out.push_str(&serde_json::Value::from(*f).to_string()),
        Val::Time(offset) => out.push_str(&time(*offset).to_string()),
        Val::TimeString(offset) => out.push_str(&format!("\"{}\"", time(*offset))),
        Val::Str(text) => out.push_str(&Value::from(text.as_str()).to_string()),
        Val::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item, depth + 1);
            }
            out.push(']');
        }
        Val::Object(fields) => write_object(out, fields, depth),
    }
}

fn write_object(out: &mut String, fields: &[(Name, Val)], depth: usize) {
    out.push('{');
    for (i, (name, val)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::from(name.as_str()).to_string());
        out.push(':');
        write_json(out, val, depth + 1);
    }
    out.push('}');
}

fn time(offset: i16) -> i64 {
    NOW as i64 + i64::from(offset)
}

impl Name {
    fn as_str(&self) -> &str {
        match self {
            Self::Alg => "alg",
            Self::Kid => "kid",
            Self::Typ => "typ",
            Self::Crit => "crit",
            Self::Jku => "jku",
            Self::Jwk => "jwk",
            Self::X5u => "x5u",
            Self::B64 => "b64",
            Self::Exp => "exp",
            Self::Nbf => "nbf",
            Self::Iat => "iat",
            Self::Iss => "iss",
            Self::Aud => "aud",
            Self::Sub => "sub",
            Self::Other(name) => name,
        }
    }
}

impl Text {
    fn as_str(&self) -> &str {
        const KIDS: [&str; 5] = ["rsa-1", "ec256-1", "ec384-1", "ed-1", "../../etc/passwd"];
        match self {
            Self::Alg(alg) => alg.name(),
            Self::Issuer => ISSUER,
            Self::Audience => AUDIENCE,
            Self::Kid(n) => KIDS[usize::from(*n) % KIDS.len()],
            Self::Other(text) => text,
        }
    }
}

impl Json {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Raw(bytes) => bytes.clone(),
            Self::Object(fields) => {
                let mut out = String::new();
                write_object(&mut out, fields, 0);
                out.into_bytes()
            }
        }
    }
}

struct Fixture {
    token: String,
    valid: bool,
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

/// A token built from `parts`, and whether it was signed with the real HMAC
/// secret (then, with the algorithm it was signed with).
fn build(parts: &Parts, fixtures: &[Fixture]) -> Option<(String, Option<HmacAlg>)> {
    let encode = |bytes: &[u8]| match parts.layout {
        Layout::Padded => URL_SAFE.encode(bytes),
        Layout::StandardAlphabet => STANDARD.encode(bytes),
        _ => URL_SAFE_NO_PAD.encode(bytes),
    };
    let signing_input = format!(
        "{}.{}",
        encode(&parts.header.bytes()),
        encode(&parts.claims.bytes())
    );
    let mut real = None;
    let signature = match &parts.signature {
        Signature::Bytes(bytes) => encode(bytes),
        Signature::Fixture(n) => {
            let token = &fixtures[usize::from(*n) % fixtures.len()].token;
            token.rsplit('.').next()?.to_owned()
        }
        Signature::Hmac(alg, secret) => {
            let key = EncodingKey::from_secret(secret.bytes());
            if secret.bytes() == HMAC_SECRET {
                real = Some(*alg);
            }
            crypto::sign(signing_input.as_bytes(), &key, alg.algorithm()).ok()?
        }
        Signature::Text(text) => text.clone(),
    };
    let token = match &parts.layout {
        Layout::TwoSegments => signing_input,
        Layout::FourSegments(extra) => format!("{signing_input}.{signature}.{}", encode(extra)),
        _ => format!("{signing_input}.{signature}"),
    };
    Some((token, real))
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

fn run(token: &str, real: Option<(HmacAlg, &[u8])>, setup: &Setup) {
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

fuzz_target!(|data: &[u8]| {
    let setup = &*SETUP;
    if let Some(text) = data.strip_prefix(b"text:") {
        if let Ok(token) = std::str::from_utf8(text) {
            run(token, None, setup);
        }
        return;
    }
    let Ok(parts) = Parts::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    if let Some((token, real)) = build(&parts, &setup.fixtures) {
        let header = parts.header.bytes();
        run(&token, real.map(|alg| (alg, header.as_slice())), setup);
    }
});
