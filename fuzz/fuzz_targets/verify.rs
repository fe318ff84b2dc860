//! The whole verify path with arbitrary tokens in `Authorization: Bearer`,
//! against the PyJWT fixture keys with `iss` and `aud` configured. The harness
//! and the properties are in `src/verify.rs`.
//!
//! A token is either raw text (`text:` inputs, such as the seeds: fixture
//! tokens), or a header and claims as JSON text that the harness signs with the
//! real HMAC secret (`signed:<header>\n<claims>`: text mutations of the JSON
//! reach the claims checks), or built from parts: a JOSE header and claims (raw
//! JSON bytes, or objects with duplicate names, odd types, times near the
//! clock), a signature (random bytes, a fixture token's, or an HMAC computed
//! here with the fixture secret or with a public key's bytes: key confusion),
//! and a layout (padding, the standard alphabet, two or four segments).

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower_jwt_auth::jsonwebtoken::{EncodingKey, crypto};
use tower_jwt_auth_fuzz::common::NOW;
use tower_jwt_auth_fuzz::verify::{
    self, AUDIENCE, EC256_PEM, ED_PEM, HMAC_SECRET, HmacAlg, ISSUER, JWKS, RSA_DER, RSA_PEM,
};

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
    Hmac(HmacChoice, Secret),
    /// Not base64 at all.
    Text(String),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum HmacChoice {
    Hs256,
    Hs384,
    Hs512,
}

impl HmacChoice {
    fn alg(self) -> HmacAlg {
        match self {
            Self::Hs256 => HmacAlg::Hs256,
            Self::Hs384 => HmacAlg::Hs384,
            Self::Hs512 => HmacAlg::Hs512,
        }
    }
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

/// A token built from `parts`, and whether it was signed with the real HMAC
/// secret (then, with the algorithm it was signed with).
fn build(parts: &Parts) -> Option<(String, Option<HmacAlg>)> {
    let fixtures = verify::fixtures();
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
            let alg = alg.alg();
            let key = EncodingKey::from_secret(secret.bytes());
            if secret.bytes() == HMAC_SECRET {
                real = Some(alg);
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

fuzz_target!(|data: &[u8]| {
    if verify::replay(data) {
        return;
    }
    let Ok(parts) = Parts::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    if let Some((token, real)) = build(&parts) {
        let header = parts.header.bytes();
        verify::run(&token, real.map(|alg| (alg, header.as_slice())));
    }
});
