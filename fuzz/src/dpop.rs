//! The `dpop` target's harness: layers with `JwtAuthBuilder::dpop` in the
//! configurations an input picks (required or allowed, a public URL or the
//! request's own, nonces, proxies trusted for `Forwarded`), requests with
//! `Authorization: DPoP` (or `Bearer`) and any number of `DPoP` headers, and
//! the properties. The expected verdict of every request is recomputed here
//! from the request itself, independently of `src/dpop/`: its own reading of
//! the proof's JSON, its own URI normal form (RFC 3986 §6), its own nonces
//! (an HMAC through jsonwebtoken) and SHA-256 (the `sha2` crate).
//!
//! The access tokens are HS256, bound (`cnf.jkt`) to one of two P-256 keys of
//! tests/fixtures/dpop/; proofs are signed with those keys, or with the P-384,
//! Ed25519 and RSA fixture keys, or not at all.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{AUTHORIZATION, HOST, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body::Body;
use serde::de::{MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest as _, Sha256};
use tower::{Layer as _, Service as _, service_fn};
use tower_jwt_auth::jsonwebtoken::jwk::Jwk;
use tower_jwt_auth::jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, crypto};
use tower_jwt_auth::{
    AuthError, AuthErrorKind, Claims, Dpop, DpopNonces, JwtAuthLayer, Key, PeerAddr, TokenIssuer,
    TrustedProxies,
};

use crate::common::{NOW, SECRET, collect, echo_extensions, now};

/// The secret of the layers' nonces.
pub const NONCE_SECRET: &[u8] = b"the fuzzed layers' nonce secret!";
/// Their window: the default, 5 minutes.
pub const NONCE_PERIOD: u64 = 300;
/// The label of the nonce MACs (`src/dpop/nonce.rs` documents the format).
const NONCE_LABEL: &[u8] = b"tower-jwt-auth DPoP nonce v1\0";
/// The proxies of a `forwarded_from` layer.
pub const PROXIES: &str = "10.0.0.0/8";
/// A peer among them, and one outside.
pub const TRUSTED_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
pub const UNTRUSTED_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
/// The defaults of `Dpop`: a proof's age and the clock skew, in seconds.
const MAX_AGE: u64 = 60;
const SKEW: u64 = 5;
/// The default longest proof, and the short one an input may choose.
const MAX_PROOF: usize = 8 * 1024;
pub const SHORT_PROOF: usize = 600;
/// At most this many requests per input, and headers per request.
pub const MAX_REQUESTS: usize = 4;
pub const MAX_HEADERS: usize = 10;

const EC256_PEM: &[u8] = include_bytes!("../../tests/fixtures/dpop/ec_p256.pem");
const EC256_OTHER_PEM: &[u8] = include_bytes!("../../tests/fixtures/dpop/ec_p256_other.pem");
const EC384_PEM: &[u8] = include_bytes!("../../tests/fixtures/dpop/ec_p384.pem");
const ED_PEM: &[u8] = include_bytes!("../../tests/fixtures/dpop/ed25519.pem");
const RSA_PEM: &[u8] = include_bytes!("../../tests/fixtures/dpop/rsa2048.pem");

/// A key the harness signs proofs with, and its public JWK.
pub struct Signer {
    pub algorithm: Algorithm,
    pub key: EncodingKey,
    /// The public JWK, without `alg`.
    pub jwk: Value,
}

impl Signer {
    fn new(algorithm: Algorithm, key: EncodingKey) -> Self {
        let jwk = Jwk::from_encoding_key(&key, algorithm).expect("public jwk");
        let mut jwk = serde_json::to_value(jwk).expect("jwk json");
        jwk.as_object_mut().expect("object").remove("alg");
        Self {
            algorithm,
            key,
            jwk,
        }
    }

    /// `header.claims.signature`, the signature this key's over the first two
    /// segments as given.
    pub fn sign_segments(&self, signing_input: &str) -> String {
        let signature = crypto::sign(signing_input.as_bytes(), &self.key, self.algorithm)
            .expect("signing with a fixture key");
        format!("{signing_input}.{signature}")
    }

    /// A proof of `header` and `claims`, JSON text or not.
    pub fn sign(&self, header: &[u8], claims: &[u8]) -> String {
        self.sign_segments(&format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        ))
    }

    /// A P-256 key's `x` and `y`.
    fn coordinates(&self) -> (&str, &str) {
        (
            self.jwk["x"].as_str().unwrap_or_default(),
            self.jwk["y"].as_str().unwrap_or_default(),
        )
    }

    /// RFC 7638, written out for P-256 keys.
    fn thumbprint(&self) -> String {
        let (x, y) = self.coordinates();
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// The keys a proof can be signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyName {
    /// P-256: the key the usual tokens are bound to.
    A,
    /// Another P-256 key: `Tokens::bound_b`'s.
    B,
    P384,
    Ed25519,
    Rsa,
}

/// The access tokens an input can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenName {
    /// Bound to key A.
    BoundA,
    /// Bound to key B.
    BoundB,
    /// Not bound: a bearer token.
    Unbound,
    /// Bound to key A, expired.
    Expired,
}

pub struct Setup {
    pub keys: [(KeyName, Signer); 5],
    pub tokens: [(TokenName, String); 4],
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    // Building a layer installs the crypto provider jsonwebtoken's free
    // functions use.
    let _ = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .build()
        .expect("layer");
    let ec = |pem| EncodingKey::from_ec_pem(pem).expect("ec key");
    let keys = [
        (KeyName::A, Signer::new(Algorithm::ES256, ec(EC256_PEM))),
        (
            KeyName::B,
            Signer::new(Algorithm::ES256, ec(EC256_OTHER_PEM)),
        ),
        (KeyName::P384, Signer::new(Algorithm::ES384, ec(EC384_PEM))),
        (
            KeyName::Ed25519,
            Signer::new(
                Algorithm::EdDSA,
                EncodingKey::from_ed_pem(ED_PEM).expect("ed key"),
            ),
        ),
        (
            KeyName::Rsa,
            Signer::new(
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(RSA_PEM).expect("rsa key"),
            ),
        ),
    ];
    let issue = |at: u64, claims: Value| {
        TokenIssuer::hmac(SECRET)
            .clock(move || at)
            .build()
            .expect("issuer")
            .issue(&claims)
            .expect("token")
    };
    let jkt = |i: usize| keys[i].1.thumbprint();
    let tokens = [
        (
            TokenName::BoundA,
            issue(
                NOW,
                serde_json::json!({ "sub": "ada", "cnf": { "jkt": jkt(0) } }),
            ),
        ),
        (
            TokenName::BoundB,
            issue(
                NOW,
                serde_json::json!({ "sub": "bob", "cnf": { "jkt": jkt(1) } }),
            ),
        ),
        (
            TokenName::Unbound,
            issue(NOW, serde_json::json!({ "sub": "eve" })),
        ),
        (
            TokenName::Expired,
            issue(
                NOW - 7200,
                serde_json::json!({ "sub": "ada", "cnf": { "jkt": jkt(0) } }),
            ),
        ),
    ];
    Setup { keys, tokens }
});

/// A fixture key.
pub fn signer(name: KeyName) -> &'static Signer {
    &SETUP.keys.iter().find(|(n, _)| *n == name).expect("key").1
}

/// An access token.
pub fn token(name: TokenName) -> &'static str {
    &SETUP
        .tokens
        .iter()
        .find(|(n, _)| *n == name)
        .expect("token")
        .1
}

/// The key a valid token sent as `text` is bound to, `None` for an unbound
/// valid token; `Err` for a text that is no valid token.
fn token_binding(text: &str) -> Result<Option<KeyName>, ()> {
    match SETUP
        .tokens
        .iter()
        .find(|(_, t)| t == text)
        .map(|(n, _)| *n)
    {
        Some(TokenName::BoundA) => Ok(Some(KeyName::A)),
        Some(TokenName::BoundB) => Ok(Some(KeyName::B)),
        Some(TokenName::Unbound) => Ok(None),
        Some(TokenName::Expired) | None => Err(()),
    }
}

/// base64url(SHA-256(token)): the `ath` of a proof sent with `token`.
pub fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// The nonce of window `window`: its number, then the first 16 bytes of an
/// HMAC-SHA256 of the label and number, computed here through jsonwebtoken's
/// HS256.
pub fn nonce(window: u64) -> String {
    let mut message = NONCE_LABEL.to_vec();
    message.extend_from_slice(&window.to_be_bytes());
    let mac = crypto::sign(
        &message,
        &EncodingKey::from_secret(NONCE_SECRET),
        Algorithm::HS256,
    )
    .expect("hmac");
    let mac = URL_SAFE_NO_PAD.decode(mac).expect("base64url");
    let mut bytes = window.to_be_bytes().to_vec();
    bytes.extend_from_slice(&mac[..16]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The window of the clock.
pub fn current_window() -> u64 {
    NOW / NONCE_PERIOD
}

/// The public URLs an input may configure.
pub const PUBLIC_URLS: [&str; 3] = [
    "https://api.example",
    "https://Example.COM:443/api/",
    "http://api.example:8080",
];

/// Which proof algorithms a layer takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithms {
    Default,
    Es256,
    /// ES384 and EdDSA: no ES256.
    NoEs256,
}

/// A layer's DPoP configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub required: bool,
    pub nonces: bool,
    /// One of [`PUBLIC_URLS`].
    pub public_url: Option<&'static str>,
    /// Trusts [`PROXIES`] for the forwarding headers.
    pub forwarded: bool,
    pub algorithms: Algorithms,
    /// [`SHORT_PROOF`] instead of the default.
    pub short_proofs: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            required: true,
            nonces: false,
            public_url: Some(PUBLIC_URLS[0]),
            forwarded: false,
            algorithms: Algorithms::Default,
            short_proofs: false,
        }
    }
}

impl Config {
    fn layer(&self) -> JwtAuthLayer<Value> {
        let mut dpop = if self.required {
            Dpop::required()
        } else {
            Dpop::allowed()
        };
        if self.nonces {
            dpop = dpop.nonces(DpopNonces::new(NONCE_SECRET).expect("nonces"));
        }
        if let Some(url) = self.public_url {
            dpop = dpop.public_url(url);
        }
        if self.forwarded {
            dpop = dpop.forwarded_from(TrustedProxies::new([PROXIES]).expect("proxies"));
        }
        match self.algorithms {
            Algorithms::Default => {}
            Algorithms::Es256 => dpop = dpop.algorithms([Algorithm::ES256]),
            Algorithms::NoEs256 => dpop = dpop.algorithms([Algorithm::ES384, Algorithm::EdDSA]),
        }
        if self.short_proofs {
            dpop = dpop.max_proof_length(SHORT_PROOF);
        }
        JwtAuthLayer::builder()
            .key(Key::hmac(SECRET))
            .clock(|| NOW)
            .dpop(dpop)
            .build()
            .expect("layer")
    }

    fn takes_es256(&self) -> bool {
        self.algorithms != Algorithms::NoEs256
    }

    fn max_proof(&self) -> usize {
        if self.short_proofs {
            SHORT_PROOF
        } else {
            MAX_PROOF
        }
    }
}

/// What the harness can tell: a value, or that it does not know (a corner
/// of the URI syntax it leaves to the layer). Where the harness is unsure,
/// only "200 means every other check held" is asserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known<T> {
    Sure(T),
    Unsure,
}

// ---------------------------------------------------------------------------
// The URI normal form, written out again from RFC 3986 §6 and §5.2.4.
// ---------------------------------------------------------------------------

/// `uri`, an absolute `http(s)` URI, in the normal form of RFC 3986 §6.2.2
/// and §6.2.3 without query and fragment; `Sure(None)` when it is not one;
/// `Unsure` for IPv6 literals and percent-encoded hosts.
pub fn normal_uri(uri: &str) -> Known<Option<String>> {
    use Known::{Sure, Unsure};
    if uri.len() > 4096 {
        return Unsure;
    }
    if !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return Sure(None);
    }
    let Some(colon) = uri.find(':') else {
        return Sure(None);
    };
    let scheme = uri[..colon].to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Sure(None),
    };
    let Some(rest) = uri[colon + 1..].strip_prefix("//") else {
        return Sure(None);
    };
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let rest = &rest[authority_len..];
    let path_len = rest.find(['?', '#']).unwrap_or(rest.len());
    let (path, tail) = rest.split_at(path_len);
    if !percent_encodings_valid(tail) {
        return Sure(None);
    }
    if authority.contains('@') {
        return Sure(None);
    }
    if authority.starts_with('[') || authority.contains('%') {
        return Unsure;
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| unreserved(b) || b"!$&'()*+,;=".contains(&b));
    if !host_ok {
        return Sure(None);
    }
    let port = match port {
        None | Some("") => None,
        Some(port) if port.bytes().all(|b| b.is_ascii_digit()) => {
            match port.trim_start_matches('0') {
                "" => Some(0),
                digits if digits.len() <= 5 => match digits.parse::<u32>() {
                    Ok(n) if n <= 65535 => Some(n),
                    _ => return Sure(None),
                },
                _ => return Sure(None),
            }
        }
        Some(_) => return Sure(None),
    };
    let mut out = format!("{scheme}://{}", host.to_ascii_lowercase());
    if let Some(port) = port.filter(|&p| p != default_port) {
        out.push_str(&format!(":{port}"));
    }
    let Some(path) = normal_path_characters(path) else {
        return Sure(None);
    };
    let path = remove_dot_segments(&path);
    out.push_str(if path.is_empty() { "/" } else { &path });
    Sure(Some(out))
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn percent_encodings_valid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || (bytes.get(i + 1).copied().and_then(hex_value).is_some()
                && bytes.get(i + 2).copied().and_then(hex_value).is_some())
    })
}

/// The path with percent-encodings of unreserved characters decoded, the
/// others in uppercase, and the visible characters a path may not hold
/// encoded; `None` for a broken percent-encoding.
fn normal_path_characters(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (byte, encoded) = if b == b'%' {
            let high = hex_value(*bytes.get(i + 1)?)?;
            let low = hex_value(*bytes.get(i + 2)?)?;
            i += 3;
            (high * 16 + low, true)
        } else {
            i += 1;
            (b, false)
        };
        let allowed_raw = unreserved(byte) || b"!$&'()*+,;=:@".contains(&byte) || byte == b'/';
        if unreserved(byte) || (!encoded && allowed_raw) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    Some(out)
}

/// RFC 3986 §5.2.4, step by step, on an input buffer.
fn remove_dot_segments(path: &str) -> String {
    let mut input = path.to_owned();
    let mut output = String::new();
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest.to_owned();
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest.to_owned();
        } else if input.starts_with("/./") {
            input = input[2..].to_owned();
        } else if input == "/." {
            input = "/".to_owned();
        } else if input.starts_with("/../") || input == "/.." {
            input = format!("/{}", &input[if input == "/.." { 3 } else { 4 }..]);
            match output.rfind('/') {
                Some(last) => output.truncate(last),
                None => output.clear(),
            }
        } else if input == "." || input == ".." {
            input.clear();
        } else {
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            output.push_str(&input[..end]);
            input = input[end..].to_owned();
        }
    }
    output
}

// ---------------------------------------------------------------------------
// The request's target, as the harness expects it.
// ---------------------------------------------------------------------------

/// The one value of header `name`, when it has exactly one line of text.
fn single<'r>(request: &'r Request<()>, name: &str) -> Result<Option<&'r str>, ()> {
    let mut values = request.headers().get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(value), None) => value.to_str().map(Some).map_err(|_| ()),
        _ => Err(()),
    }
}

/// What a trusted proxy said: `Unsure` for anything but one line per header
/// of plain values (lists, quoted strings: left to the unit tests).
struct Forwarding {
    proto: Option<String>,
    host: Option<String>,
    prefix: Option<String>,
}

fn forwarding(request: &Request<()>) -> Known<Option<Forwarding>> {
    let names = [
        "forwarded",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-prefix",
    ];
    let mut values = Vec::new();
    for name in names {
        match single(request, name) {
            Ok(value) if value.is_none_or(|v| !v.contains([',', '"'])) => values.push(value),
            _ => return Known::Unsure,
        }
    }
    if values.iter().all(Option::is_none) {
        return Known::Sure(None);
    }
    let trim = |v: &str| v.trim_matches([' ', '\t']).to_owned();
    let (proto, host) = match values[0] {
        Some(element) => {
            let mut proto = None;
            let mut host = None;
            for pair in element.split(';') {
                let Some((name, value)) = pair.trim_matches([' ', '\t']).split_once('=') else {
                    return Known::Unsure;
                };
                let slot = match name.to_ascii_lowercase().as_str() {
                    "proto" => &mut proto,
                    "host" => &mut host,
                    _ => return Known::Unsure,
                };
                if slot.is_some() || value.is_empty() || !value.bytes().all(is_tchar) {
                    return Known::Unsure;
                }
                *slot = Some(value.to_owned());
            }
            (proto, host)
        }
        None => (values[1].map(trim), values[2].map(trim)),
    };
    Known::Sure(Some(Forwarding {
        proto,
        host,
        prefix: values[3].map(trim),
    }))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The normal form of the URI a proof of `request` must name; `Sure(None)`
/// when it cannot be known, and the layer refuses every proof.
pub fn expected_target(config: &Config, request: &Request<()>) -> Known<Option<String>> {
    use Known::{Sure, Unsure};
    let path = match request.uri().path() {
        "" => "/",
        path if path.starts_with('/') => path,
        _ => return Sure(None),
    };
    if let Some(base) = config.public_url {
        return normal_uri(&format!("{}{path}", base.trim_end_matches('/')));
    }
    let trusted = config.forwarded
        && request
            .extensions()
            .get::<PeerAddr>()
            .is_some_and(|peer| peer.0.ip() == TRUSTED_PEER);
    let forwarded = if trusted {
        match forwarding(request) {
            Sure(forwarded) => forwarded,
            Unsure => return Unsure,
        }
    } else {
        None
    };
    let (proto, host, prefix) = match &forwarded {
        Some(f) => (f.proto.as_deref(), f.host.as_deref(), f.prefix.as_deref()),
        None => (None, None, None),
    };
    let scheme = match proto.or(request.uri().scheme_str()) {
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => "https",
        Some(scheme) if scheme.eq_ignore_ascii_case("http") => "http",
        Some(_) => return Sure(None),
        None => "http",
    };
    let authority = match host {
        Some(host) => host,
        None => match request.uri().authority() {
            Some(authority) => authority.as_str(),
            None => match single(request, "host") {
                Ok(Some(host)) => host,
                _ => return Sure(None),
            },
        },
    };
    if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return Sure(None);
    }
    let prefix = match prefix {
        None => "",
        Some(prefix) if prefix.starts_with('/') && !prefix.contains(['?', '#']) => {
            prefix.trim_end_matches('/')
        }
        Some(_) => return Sure(None),
    };
    normal_uri(&format!("{scheme}://{authority}{prefix}{path}"))
}

// ---------------------------------------------------------------------------
// The expected verdict.
// ---------------------------------------------------------------------------

/// Why a request must be refused, or that it may pass.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Pass,
    Refuse(&'static str),
    /// Passes only if the layer's URI normal form agrees on a corner the
    /// harness does not decide.
    Unsure,
}

/// The members of one JSON object, in order, as raw JSON; `None` for text
/// that is not one object.
fn members(text: &[u8]) -> Option<Vec<(String, Box<RawValue>)>> {
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(String, Box<RawValue>)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    struct Object(Vec<(String, Box<RawValue>)>);
    impl<'de> serde::Deserialize<'de> for Object {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(Members).map(Object)
        }
    }
    let text = std::str::from_utf8(text).ok()?;
    serde_json::from_str::<Object>(text).ok().map(|o| o.0)
}

/// The one member `name` of `object`: `Err` when given twice.
fn member<'o>(object: &'o [(String, Box<RawValue>)], name: &str) -> Result<Option<&'o str>, ()> {
    let mut found = object
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.get());
    match (found.next(), found.next()) {
        (first, None) => Ok(first),
        _ => Err(()),
    }
}

fn as_string(raw: &str) -> Option<String> {
    serde_json::from_str::<String>(raw).ok()
}

/// The verdict on `proof` for a request whose token is bound to `key`, and
/// the proof's `jti` when it is one.
fn proof_verdict(
    config: &Config,
    request: &Request<()>,
    token: &str,
    key: KeyName,
    proof: &HeaderValue,
    target: &Known<Option<String>>,
) -> (Verdict, Option<String>) {
    use Verdict::{Pass, Refuse, Unsure};
    let Ok(proof) = proof.to_str() else {
        return (Refuse("not text"), None);
    };
    if proof.len() > config.max_proof() {
        return (Refuse("too long"), None);
    }
    let segments: Vec<&str> = proof.split('.').collect();
    let [header_b64, claims_b64, signature_b64] = segments[..] else {
        return (Refuse("not three segments"), None);
    };
    let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).ok();
    let (Some(header), Some(claims), Some(signature)) = (
        decode(header_b64),
        decode(claims_b64),
        decode(signature_b64),
    ) else {
        return (Refuse("not base64url"), None);
    };
    let (Some(header), Some(claims)) = (members(&header), members(&claims)) else {
        return (Refuse("not JSON objects"), None);
    };
    // Every member a reader cares about, once.
    let header_names = ["typ", "alg", "jwk", "crit"];
    let claim_names = ["jti", "htm", "htu", "iat", "ath", "nonce"];
    let Ok(h) = header_names
        .map(|n| member(&header, n))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
    else {
        return (Refuse("duplicate header member"), None);
    };
    let Ok(c) = claim_names
        .map(|n| member(&claims, n))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
    else {
        return (Refuse("duplicate claim"), None);
    };
    let [typ, alg, jwk, crit] = h[..] else {
        unreachable!()
    };
    let [jti, htm, htu, iat, ath_claim, nonce_claim] = c[..] else {
        unreachable!()
    };

    let typ_ok = typ.and_then(as_string).is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t == "dpop+jwt" || t == "application/dpop+jwt"
    });
    if !typ_ok {
        return (Refuse("typ"), None);
    }
    // The token is bound to a P-256 key: only ES256 can match it.
    if alg.and_then(as_string).as_deref() != Some("ES256") || !config.takes_es256() {
        return (Refuse("alg"), None);
    }
    if crit.is_some() {
        return (Refuse("crit"), None);
    }
    let Some(jwk) = jwk.and_then(|j| members(j.as_bytes())) else {
        return (Refuse("jwk not an object"), None);
    };
    let jwk_names = [
        "kty", "crv", "x", "y", "d", "p", "q", "dp", "dq", "qi", "oth", "k", "n", "e",
    ];
    let Ok(j) = jwk_names
        .map(|n| member(&jwk, n))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
    else {
        return (Refuse("duplicate jwk member"), None);
    };
    if j[4..12].iter().any(Option::is_some) {
        return (Refuse("private jwk"), None);
    }
    let string = |raw: Option<&str>| raw.and_then(as_string);
    let (x, y) = signer(key).coordinates();
    if string(j[0]).as_deref() != Some("EC")
        || string(j[1]).as_deref() != Some("P-256")
        || string(j[2]).as_deref() != Some(x)
        || string(j[3]).as_deref() != Some(y)
    {
        return (Refuse("not the token's key"), None);
    }
    let public = DecodingKey::from_ec_components(x, y).expect("fixture key");
    let signed = &proof[..header_b64.len() + 1 + claims_b64.len()];
    let verifies = crypto::verify(
        &URL_SAFE_NO_PAD.encode(&signature),
        signed.as_bytes(),
        &public,
        Algorithm::ES256,
    )
    .unwrap_or(false);
    if !verifies {
        return (Refuse("signature"), None);
    }

    let Some(jti) = jti
        .and_then(as_string)
        .filter(|j| !j.is_empty() && j.len() <= 256)
    else {
        return (Refuse("jti"), None);
    };
    if htm.and_then(as_string).as_deref() != Some(request.method().as_str()) {
        return (Refuse("htm"), Some(jti));
    }
    let Some(htu) = htu.and_then(as_string) else {
        return (Refuse("htu not a string"), Some(jti));
    };
    let mut verdict = Pass;
    match (normal_uri(&htu), target) {
        (Known::Sure(None), _) | (_, Known::Sure(None)) => {
            return (Refuse("htu or target unknown"), Some(jti));
        }
        (Known::Sure(Some(htu)), Known::Sure(Some(target))) if htu != *target => {
            return (Refuse("htu"), Some(jti));
        }
        (Known::Sure(_), Known::Sure(_)) => {}
        _ => verdict = Unsure,
    }
    let iat = iat.and_then(|raw| serde_json::from_str::<f64>(raw).ok());
    let Some(iat) = iat.filter(|i| i.is_finite()) else {
        return (Refuse("iat not a number"), Some(jti));
    };
    if iat < (NOW - MAX_AGE) as f64 || iat > (NOW + SKEW) as f64 {
        return (Refuse("iat out of the window"), Some(jti));
    }
    if ath_claim.and_then(as_string) != Some(ath(token)) {
        return (Refuse("ath"), Some(jti));
    }
    let nonce_claim = match nonce_claim {
        None => None,
        Some(raw) => match as_string(raw) {
            Some(n) => Some(n),
            None => return (Refuse("nonce not a string"), Some(jti)),
        },
    };
    if config.nonces {
        let window = current_window();
        let fresh = [nonce(window), nonce(window - 1)];
        if !nonce_claim.is_some_and(|n| fresh.contains(&n)) {
            return (Refuse("nonce"), Some(jti));
        }
    }
    (verdict, Some(jti))
}

/// The verdict on `request`, given the (key, jti) pairs accepted before.
fn verdict(
    config: &Config,
    request: &Request<()>,
    used: &HashSet<(KeyName, String)>,
) -> (Verdict, Option<(KeyName, String)>) {
    use Verdict::{Pass, Refuse};
    // The values under a scheme of this layer (`Basic` is nobody's here).
    let ours = |value: &&HeaderValue| {
        let bytes = value.as_bytes();
        ["bearer ", "dpop "].iter().any(|scheme| {
            bytes
                .get(..scheme.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(scheme.as_bytes()))
        })
    };
    // Each `(scheme, token)`; the same token twice is one token, found by
    // the bearer source first when it came under both schemes.
    let mut found = Vec::new();
    for value in request.headers().get_all(AUTHORIZATION).iter().filter(ours) {
        let Some((scheme, token)) = value.to_str().ok().and_then(|a| a.split_once(' ')) else {
            return (Refuse("not text"), None);
        };
        found.push((scheme.to_ascii_lowercase(), token.trim_matches([' ', '\t'])));
    }
    let Some(&(_, token)) = found.first() else {
        return (Refuse("no token"), None);
    };
    if found.iter().any(|(_, t)| *t != token) {
        return (Refuse("two tokens"), None);
    }
    let scheme = if found.iter().any(|(s, _)| s == "bearer") {
        "bearer"
    } else {
        "dpop"
    };
    let Ok(binding) = token_binding(token) else {
        return (Refuse("no valid token"), None);
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        return match (binding, config.required) {
            (None, false) => (Pass, None),
            _ => (Refuse("bearer"), None),
        };
    }
    if !scheme.eq_ignore_ascii_case("dpop") {
        return (Refuse("another scheme"), None);
    }
    let Some(key) = binding else {
        return (Refuse("DPoP with an unbound token"), None);
    };
    let mut proofs = request.headers().get_all("dpop").iter();
    let (Some(proof), None) = (proofs.next(), proofs.next()) else {
        return (Refuse("not one proof"), None);
    };
    let target = expected_target(config, request);
    match proof_verdict(config, request, token, key, proof, &target) {
        (verdict @ (Pass | Verdict::Unsure), Some(jti)) => {
            if used.contains(&(key, jti.clone())) {
                (Refuse("replayed"), None)
            } else {
                (verdict, Some((key, jti)))
            }
        }
        (verdict, _) => (verdict, None),
    }
}

// ---------------------------------------------------------------------------
// Running requests, and the properties.
// ---------------------------------------------------------------------------

/// Sends `requests` in order through one layer configured as `config`, and
/// checks the properties of each answer:
///
/// - no panic; the status is 200, 400, 401 or 503;
/// - 200 exactly when the harness's own verdict is that the request passes
///   (where it is unsure of a URI corner: 200 only if every other check
///   held), and then the inner service got the token's claims;
/// - a refusal carries an `AuthError` of its status; a 400 or 401 has a
///   `WWW-Authenticate` challenge, all of them under `DPoP` where the layer
///   requires DPoP, one of them where it allows it;
/// - with nonces, a `DPoP-Nonce` is the current one, and a `use_dpop_nonce`
///   refusal has one;
/// - neither the token nor a proof appears in the answer.
pub fn run(config: &Config, requests: Vec<Request<()>>) -> Vec<StatusCode> {
    let layer = config.layer();
    let mut used = HashSet::new();
    let mut statuses = Vec::new();
    for request in requests.into_iter().take(MAX_REQUESTS) {
        let (expected, accepted_id) = verdict(config, &request, &used);
        let secrets: Vec<Vec<u8>> = secrets(&request);
        let described = format!("{request:?}");
        let mut service = layer.layer(service_fn(echo_extensions));
        let response = now(service.call(request)).expect("infallible");
        let status = response.status();
        statuses.push(status);
        match (&expected, status) {
            (Verdict::Pass | Verdict::Unsure, StatusCode::OK) => {
                if let Some(id) = accepted_id {
                    used.insert(id);
                }
                let claims = response.extensions().get::<Claims<Value>>();
                assert!(claims.is_some(), "a 200 without claims");
            }
            (Verdict::Pass, _) => panic!(
                "refused a valid request ({:?}): {described}",
                response.extensions().get::<AuthError>()
            ),
            (Verdict::Refuse(why), StatusCode::OK) => {
                panic!("accepted a request that must be refused ({why}): {described}")
            }
            _ => check_refusal(config, &response),
        }
        check_no_secret(response, &secrets);
    }
    statuses
}

/// The texts that must never be in an answer: the token and each proof,
/// when they have a JWT's shape (two dots: no text of an answer has them)
/// and are long enough not to be in an answer by chance. Without the dots a
/// fuzzed "token" can be a piece of the challenge itself (`algs="ES256
/// ES384 ...`), as fuzz/regressions/dpop/token-is-challenge-text found.
fn secrets(request: &Request<()>) -> Vec<Vec<u8>> {
    let jwt_like =
        |text: &[u8]| text.len() >= 64 && text.iter().filter(|&&b| b == b'.').count() >= 2;
    let token = request
        .headers()
        .get_all(AUTHORIZATION)
        .iter()
        .filter_map(|a| a.as_bytes().splitn(2, |&b| b == b' ').nth(1));
    let proofs = request
        .headers()
        .get_all("dpop")
        .iter()
        .map(HeaderValue::as_bytes);
    token
        .chain(proofs)
        .map(<[u8]>::trim_ascii)
        .filter(|text| jwt_like(text))
        .map(<[u8]>::to_vec)
        .collect()
}

fn check_refusal<B>(config: &Config, response: &Response<B>) {
    let status = response.status();
    assert!(
        [
            StatusCode::BAD_REQUEST,
            StatusCode::UNAUTHORIZED,
            StatusCode::SERVICE_UNAVAILABLE
        ]
        .contains(&status),
        "unexpected status {status}"
    );
    let error = response
        .extensions()
        .get::<AuthError>()
        .expect("a refusal without an AuthError");
    assert_eq!(status, error.kind().status(), "status of {error:?}");
    let challenges: Vec<&str> = response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|c| c.to_str().expect("a challenge in text"))
        .collect();
    if status != StatusCode::SERVICE_UNAVAILABLE {
        assert!(!challenges.is_empty(), "a {status} without a challenge");
        if config.required {
            assert!(
                challenges.iter().all(|c| c.starts_with("DPoP ")),
                "a challenge other than DPoP where it is required: {challenges:?}"
            );
        } else {
            assert!(
                challenges.iter().any(|c| c.starts_with("DPoP ")),
                "no DPoP challenge where it is allowed: {challenges:?}"
            );
        }
    }
    let given = response.headers().get("dpop-nonce");
    if config.nonces {
        if let Some(given) = given {
            assert_eq!(
                given.as_bytes(),
                nonce(current_window()).as_bytes(),
                "a DPoP-Nonce other than the current one"
            );
        }
        if error.kind() == AuthErrorKind::UseDpopNonce {
            assert!(given.is_some(), "use_dpop_nonce without a nonce");
        }
    } else {
        assert!(given.is_none(), "a DPoP-Nonce without nonces");
    }
}

fn check_no_secret<B: Body>(response: Response<B>, secrets: &[Vec<u8>]) {
    let (parts, body) = response.into_parts();
    let Ok((body, _)) = collect(body) else {
        panic!("an answer whose body fails");
    };
    let contains =
        |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    for secret in secrets {
        assert!(!contains(&body, secret), "a token or proof in the body");
        for value in parts.headers.values() {
            assert!(
                !contains(value.as_bytes(), secret),
                "a token or proof in a header"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Requests, and the text inputs.
// ---------------------------------------------------------------------------

/// Where a request comes from.
#[derive(Debug, Clone, Copy)]
pub enum Peer {
    Unknown,
    Trusted,
    Untrusted,
}

/// A request head with these parts, or `None` when `http` refuses one; at
/// most [`MAX_HEADERS`] headers, and only those that are valid values.
pub fn request(
    method: Method,
    uri: &[u8],
    peer: Peer,
    headers: impl IntoIterator<Item = (HeaderName, Vec<u8>)>,
) -> Option<Request<()>> {
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = Uri::from_maybe_shared(Bytes::copy_from_slice(uri)).ok()?;
    for (name, value) in headers.into_iter().take(MAX_HEADERS) {
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            request.headers_mut().append(name, value);
        }
    }
    let address = |ip| PeerAddr(SocketAddr::new(ip, 40_000));
    match peer {
        Peer::Unknown => {}
        Peer::Trusted => {
            request.extensions_mut().insert(address(TRUSTED_PEER));
        }
        Peer::Untrusted => {
            request.extensions_mut().insert(address(UNTRUSTED_PEER));
        }
    }
    Some(request)
}

/// `text` with `{bound}`, `{bound-b}`, `{unbound}`, `{expired}`, `{ath}`
/// (of the token bound to A), `{nonce}`, `{now}`, `{jwk}` and `{jwk-b}` (the
/// public keys A and B), `{x}` and `{y}` (A's coordinates) replaced.
pub fn expand(text: &str) -> String {
    text.replace("{bound}", token(TokenName::BoundA))
        .replace("{bound-b}", token(TokenName::BoundB))
        .replace("{unbound}", token(TokenName::Unbound))
        .replace("{expired}", token(TokenName::Expired))
        .replace("{ath}", &ath(token(TokenName::BoundA)))
        .replace("{nonce}", &nonce(current_window()))
        .replace("{now}", &NOW.to_string())
        .replace("{jwk}", &signer(KeyName::A).jwk.to_string())
        .replace("{jwk-b}", &signer(KeyName::B).jwk.to_string())
        .replace("{x}", signer(KeyName::A).coordinates().0)
        .replace("{y}", signer(KeyName::A).coordinates().1)
}

/// A configuration from words: `allowed`, `nonces`, `forwarded`,
/// `no-public-url`, `public-url=N` (an index of [`PUBLIC_URLS`]),
/// `es256`, `no-es256`, `short`.
fn config_of(line: &str) -> Config {
    let mut config = Config::default();
    for word in line.split_whitespace() {
        match word {
            "allowed" => config.required = false,
            "nonces" => config.nonces = true,
            "forwarded" => config.forwarded = true,
            "no-public-url" => config.public_url = None,
            "es256" => config.algorithms = Algorithms::Es256,
            "no-es256" => config.algorithms = Algorithms::NoEs256,
            "short" => config.short_proofs = true,
            _ => {
                if let Some(n) = word.strip_prefix("public-url=") {
                    let n = n.parse::<usize>().unwrap_or(0) % PUBLIC_URLS.len();
                    config.public_url = Some(PUBLIC_URLS[n]);
                }
            }
        }
    }
    config
}

/// A request in text: `[peer] METHOD URI` (peer `trusted` or `untrusted`),
/// then `name: value` lines.
fn request_of(text: &str) -> Option<Request<()>> {
    let mut lines = text.lines();
    let mut first = lines.next()?.split_whitespace();
    let mut word = first.next()?;
    let peer = match word {
        "trusted" => Peer::Trusted,
        "untrusted" => Peer::Untrusted,
        _ => Peer::Unknown,
    };
    if !matches!(peer, Peer::Unknown) {
        word = first.next()?;
    }
    let method = Method::from_bytes(word.as_bytes()).ok()?;
    let uri = first.next()?;
    let headers = lines.filter_map(|line| {
        let (name, value) = line.split_once(':')?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).ok()?;
        Some((name, value.trim_start().as_bytes().to_vec()))
    });
    request(method, uri.as_bytes(), peer, headers)
}

/// Runs a `text:` input (a configuration line, then requests in text
/// separated by blank lines, with the placeholders of [`expand`]) or a
/// `signed:` one (`<header>\n<claims>[\n<configuration line>]`, JSON text
/// with the placeholders, signed with key A and sent as the proof of
/// `GET /orders` on `Host: api.example` with the token bound to A, to the
/// default configuration unless the line changes it); `false` for any
/// other.
pub fn replay(data: &[u8]) -> bool {
    statuses(data).is_some()
}

/// Runs a `text:` or `signed:` input as [`replay`] does: the status of each
/// request, `None` for any other input.
pub fn statuses(data: &[u8]) -> Option<Vec<StatusCode>> {
    if let Some(text) = data.strip_prefix(b"text:") {
        let Ok(text) = std::str::from_utf8(text) else {
            return Some(Vec::new());
        };
        let text = expand(text);
        let (config, requests) = text.split_once('\n').unwrap_or((&text, ""));
        let requests = requests.split("\n\n").filter_map(request_of).collect();
        return Some(run(&config_of(config), requests));
    }
    let rest = data.strip_prefix(b"signed:")?;
    let Ok(rest) = std::str::from_utf8(rest) else {
        return Some(Vec::new());
    };
    let rest = expand(rest);
    let mut lines = rest.splitn(3, '\n');
    let (header, claims) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    let config = config_of(lines.next().unwrap_or(""));
    let proof = signer(KeyName::A).sign(header.as_bytes(), claims.as_bytes());
    let authorization = format!("DPoP {}", token(TokenName::BoundA));
    let headers = [
        (AUTHORIZATION, authorization.into_bytes()),
        (HOST, b"api.example".to_vec()),
        (HeaderName::from_static("dpop"), proof.into_bytes()),
    ];
    let request = request(Method::GET, b"/orders", Peer::Unknown, headers)?;
    Some(run(&config, vec![request]))
}
