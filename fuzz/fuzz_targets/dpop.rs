//! DPoP through the public API: a layer with `JwtAuthBuilder::dpop`, in the
//! configuration the input picks, and up to four requests in a row (so that a
//! proof id can be played twice) carrying `Authorization: DPoP` or `Bearer`
//! and zero, one or several `DPoP` headers. The harness and the properties
//! (the verdict of every request recomputed independently) are in
//! `src/dpop.rs`.
//!
//! A proof is either raw bytes; or a header and claims as JSON text that the
//! harness signs with a real P-256 key (text mutations reach the claim
//! checks); or built from parts: each header member and claim right, missing,
//! a chosen wrong variant (a near miss of the request's URI, `iat` at the
//! window's edges, a stale or forged nonce, a `jwk` with a private member, of
//! another type or curve, `oct`, `alg` none, HS256 or unknown) or any JSON
//! (odd types, deep nesting), extra members (duplicates), and a signature by
//! any fixture key, an HMAC, random bytes or none; or an earlier proof of the
//! same input, played again.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use http::header::{AUTHORIZATION, HOST};
use http::{HeaderName, Method, Request};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower_jwt_auth::jsonwebtoken::{Algorithm, EncodingKey, crypto};
use tower_jwt_auth_fuzz::common::NOW;
use tower_jwt_auth_fuzz::dpop::{
    self, Algorithms, Config, KeyName, Known, PUBLIC_URLS, Peer, TokenName,
};

#[derive(Arbitrary, Debug)]
struct Input {
    config: ConfigChoice,
    requests: Vec<RequestChoice>,
}

#[derive(Arbitrary, Debug)]
struct ConfigChoice {
    allowed: bool,
    nonces: bool,
    public_url: Option<u8>,
    forwarded: bool,
    algorithms: AlgorithmsChoice,
    short_proofs: bool,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum AlgorithmsChoice {
    Default,
    Es256,
    NoEs256,
}

#[derive(Arbitrary, Debug)]
struct RequestChoice {
    method: MethodChoice,
    uri: UriChoice,
    host: HostChoice,
    peer: PeerChoice,
    forwarded: Vec<(ForwardedName, ForwardedValue)>,
    scheme: SchemeChoice,
    token: TokenChoice,
    proofs: Vec<ProofChoice>,
}

#[derive(Arbitrary, Debug, Clone)]
enum MethodChoice {
    Get,
    Post,
    Delete,
    Patch,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum UriChoice {
    Root,
    Orders,
    OrdersQuery,
    DotSegments,
    Encoded,
    Absolute { https: bool },
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum HostChoice {
    None,
    Api,
    ApiPort,
    Upper,
    Two,
    Raw(String),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum PeerChoice {
    Unknown,
    Trusted,
    Untrusted,
}

#[derive(Arbitrary, Debug)]
enum ForwardedName {
    Forwarded,
    Proto,
    Host,
    Prefix,
}

#[derive(Arbitrary, Debug)]
enum ForwardedValue {
    Https,
    Http,
    ApiHost,
    OtherHost,
    Prefix,
    Element,
    List,
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum SchemeChoice {
    Dpop,
    DpopLowercase,
    Bearer,
    Basic,
    None,
}

#[derive(Arbitrary, Debug)]
enum TokenChoice {
    BoundA,
    BoundB,
    Unbound,
    Expired,
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum ProofChoice {
    Raw(Vec<u8>),
    Signed {
        key: KeyChoice,
        header: String,
        claims: String,
    },
    Parts(Box<Parts>),
    /// The proof of request `n % earlier` of this input, again.
    Again(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum KeyChoice {
    A,
    B,
    P384,
    Ed25519,
    Rsa,
}

/// A member: right for the request, missing, a chosen variant, or any JSON.
#[derive(Arbitrary, Debug)]
enum Slot<T> {
    Right,
    Missing,
    Is(T),
    Any(Val),
}

#[derive(Arbitrary, Debug)]
struct Parts {
    typ: Slot<Typ>,
    alg: Slot<AlgName>,
    jwk: Slot<JwkChoice>,
    crit: Option<Val>,
    header_extra: Vec<(Name, Val)>,
    jti: Slot<Jti>,
    htm: Slot<MethodChoice>,
    htu: Slot<Htu>,
    iat: Slot<Iat>,
    ath: Slot<Ath>,
    nonce: Slot<NonceChoice>,
    claims_extra: Vec<(Name, Val)>,
    signature: Signature,
    layout: Layout,
}

#[derive(Arbitrary, Debug)]
enum Typ {
    Uppercase,
    Application,
    Jwt,
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum AlgName {
    Es384,
    EdDsa,
    Ed25519,
    Rs256,
    Ps256,
    Hs256,
    None,
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum JwkChoice {
    Of(KeyChoice),
    WithPrivate(KeyChoice, Private),
    Oct,
    /// A's coordinates under another curve, or another key type.
    OtherCurve,
    OtherKty,
    WithMembers(KeyChoice, Vec<(Name, Val)>),
    Members(Vec<(Name, Val)>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Private {
    D,
    P,
    Q,
    Dp,
    Dq,
    Qi,
    Oth,
    K,
}

#[derive(Arbitrary, Debug)]
enum Jti {
    Numbered(u8),
    Empty,
    Long(u16),
    Text(String),
}

/// Near misses of the request's URI.
#[derive(Arbitrary, Debug)]
enum Htu {
    Uppercase,
    DefaultPort,
    Query,
    Fragment,
    DotSegments,
    PercentEncoded,
    TrailingSlash,
    OtherPath,
    OtherHost,
    OtherScheme,
    OtherPort,
    Userinfo,
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum Iat {
    Offset(i16),
    Fraction(i16, u8),
    AsString(i16),
    Float(f64),
    Int(i64),
}

#[derive(Arbitrary, Debug)]
enum Ath {
    OfOtherToken,
    Padded,
    StandardAlphabet,
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum NonceChoice {
    Previous,
    Stale,
    Next,
    Forged,
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum Name {
    Typ,
    Alg,
    Jwk,
    Crit,
    Jti,
    Htm,
    Htu,
    Iat,
    Ath,
    Nonce,
    Kty,
    Crv,
    X,
    Y,
    D,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Now(i16),
    Str(String),
    /// The request's own URI, method, `ath` or nonce, maybe in the wrong member.
    Target,
    Method,
    Ath,
    Nonce,
    Array(Vec<Val>),
    Object(Vec<(Name, Val)>),
    Deep(u16),
}

#[derive(Arbitrary, Debug)]
enum Signature {
    Key(KeyChoice),
    /// Signed by key A with the algorithm the proof does not name.
    Es384WithA,
    Hmac(Secret),
    Bytes(Vec<u8>),
    Text(String),
    Empty,
}

#[derive(Arbitrary, Debug)]
enum Secret {
    Jwk,
    Token,
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Layout {
    Compact,
    Padded,
    StandardAlphabet,
    TwoSegments,
    FourSegments,
    Spaces,
}

impl KeyChoice {
    fn name(self) -> KeyName {
        match self {
            Self::A => KeyName::A,
            Self::B => KeyName::B,
            Self::P384 => KeyName::P384,
            Self::Ed25519 => KeyName::Ed25519,
            Self::Rsa => KeyName::Rsa,
        }
    }
}

impl MethodChoice {
    fn method(&self) -> Option<Method> {
        Some(match self {
            Self::Get => Method::GET,
            Self::Post => Method::POST,
            Self::Delete => Method::DELETE,
            Self::Patch => Method::PATCH,
            Self::Other(name) => Method::from_bytes(name.as_bytes()).ok()?,
        })
    }

    fn text(&self) -> String {
        match self {
            Self::Other(name) => name.clone(),
            other => other.method().map(|m| m.to_string()).unwrap_or_default(),
        }
    }
}

/// What the values of a proof may refer to: its request.
struct Context {
    method: String,
    /// The request's URI in its normal form, or a likely one.
    target: String,
    token: String,
    nonce: String,
}

fn json_string(text: &str) -> String {
    Value::from(text).to_string()
}

/// Writes JSON by hand, so that objects can repeat a name.
fn write_val(out: &mut String, val: &Val, context: &Context, depth: usize) {
    if depth > 64 {
        out.push_str("null");
        return;
    }
    match val {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Int(n) => out.push_str(&n.to_string()),
        Val::Float(f) => out.push_str(&Value::from(*f).to_string()),
        Val::Now(offset) => out.push_str(&(NOW as i64 + i64::from(*offset)).to_string()),
        Val::Str(text) => out.push_str(&json_string(text)),
        Val::Target => out.push_str(&json_string(&context.target)),
        Val::Method => out.push_str(&json_string(&context.method)),
        Val::Ath => out.push_str(&json_string(&dpop::ath(&context.token))),
        Val::Nonce => out.push_str(&json_string(&context.nonce)),
        Val::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_val(out, item, context, depth + 1);
            }
            out.push(']');
        }
        Val::Object(members) => {
            let members: Vec<(String, String)> = members
                .iter()
                .map(|(name, val)| (name.as_str().to_owned(), val_text(val, context, depth + 1)))
                .collect();
            out.push_str(&object(&members));
        }
        // Past serde_json's recursion limit of 128.
        Val::Deep(n) => {
            let n = usize::from(*n % 4096);
            out.push_str(&"[".repeat(n));
            out.push_str(&"]".repeat(n));
        }
    }
}

fn val_text(val: &Val, context: &Context, depth: usize) -> String {
    let mut out = String::new();
    write_val(&mut out, val, context, depth);
    out
}

/// An object of already written members, in order.
fn object(members: &[(String, String)]) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_string(name));
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
    out
}

impl Name {
    fn as_str(&self) -> &str {
        match self {
            Self::Typ => "typ",
            Self::Alg => "alg",
            Self::Jwk => "jwk",
            Self::Crit => "crit",
            Self::Jti => "jti",
            Self::Htm => "htm",
            Self::Htu => "htu",
            Self::Iat => "iat",
            Self::Ath => "ath",
            Self::Nonce => "nonce",
            Self::Kty => "kty",
            Self::Crv => "crv",
            Self::X => "x",
            Self::Y => "y",
            Self::D => "d",
            Self::Other(name) => name,
        }
    }
}

impl Private {
    fn name(self) -> &'static str {
        match self {
            Self::D => "d",
            Self::P => "p",
            Self::Q => "q",
            Self::Dp => "dp",
            Self::Dq => "dq",
            Self::Qi => "qi",
            Self::Oth => "oth",
            Self::K => "k",
        }
    }
}

/// The members of a key's public JWK, written.
fn jwk_members(key: KeyChoice) -> Vec<(String, String)> {
    let jwk = &dpop::signer(key.name()).jwk;
    jwk.as_object()
        .expect("jwk object")
        .iter()
        .map(|(name, value)| (name.clone(), value.to_string()))
        .collect()
}

fn with_member(mut members: Vec<(String, String)>, name: &str, value: &str) -> String {
    members.push((name.to_owned(), value.to_owned()));
    object(&members)
}

fn replace_member(members: &[(String, String)], name: &str, value: &str) -> String {
    let members: Vec<(String, String)> = members
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                if n == name {
                    value.to_owned()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    object(&members)
}

/// Writes one slot: `right` for `Right`, nothing for `Missing`.
fn slot<T>(
    slot: &Slot<T>,
    right: impl FnOnce() -> String,
    chosen: impl FnOnce(&T) -> String,
    context: &Context,
) -> Option<String> {
    match slot {
        Slot::Right => Some(right()),
        Slot::Missing => None,
        Slot::Is(value) => Some(chosen(value)),
        Slot::Any(val) => Some(val_text(val, context, 0)),
    }
}

/// A near miss of `target`, a normalized `http(s)` URI.
fn near_miss(target: &str, htu: &Htu) -> String {
    let (scheme, rest) = target.split_once("://").unwrap_or(("https", target));
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let default_port = if scheme == "https" { 443 } else { 80 };
    match htu {
        Htu::Uppercase => format!(
            "{}://{}{path}",
            scheme.to_uppercase(),
            authority.to_uppercase()
        ),
        Htu::DefaultPort if !authority.contains(':') => {
            format!("{scheme}://{authority}:{default_port}{path}")
        }
        Htu::DefaultPort => target.to_owned(),
        Htu::Query => format!("{target}?a=b&c"),
        Htu::Fragment => format!("{target}#frag"),
        Htu::DotSegments => format!("{scheme}://{authority}/x/..{path}"),
        Htu::PercentEncoded => format!(
            "{scheme}://{authority}{}",
            path.replace('o', "%6F").replace('a', "%61")
        ),
        Htu::TrailingSlash => format!("{target}/"),
        Htu::OtherPath => format!("{scheme}://{authority}/other"),
        Htu::OtherHost => format!("{scheme}://evil.example{path}"),
        Htu::OtherScheme => {
            let other = if scheme == "https" { "http" } else { "https" };
            format!("{other}://{authority}{path}")
        }
        Htu::OtherPort => format!("{scheme}://{authority}:8443{path}"),
        Htu::Userinfo => format!("{scheme}://user@{authority}{path}"),
        Htu::Text(text) => text.clone(),
    }
}

fn encode(layout: &Layout, bytes: &[u8]) -> String {
    match layout {
        Layout::Padded => URL_SAFE.encode(bytes),
        Layout::StandardAlphabet => STANDARD.encode(bytes),
        _ => URL_SAFE_NO_PAD.encode(bytes),
    }
}

/// The proof of `parts` for a request of `context`.
fn build(parts: &Parts, context: &Context) -> String {
    let mut header = Vec::new();
    let push = |members: &mut Vec<(String, String)>, name: &str, value: Option<String>| {
        if let Some(value) = value {
            members.push((name.to_owned(), value));
        }
    };
    let typ = slot(
        &parts.typ,
        || json_string("dpop+jwt"),
        |typ| {
            json_string(match typ {
                Typ::Uppercase => "DPOP+JWT",
                Typ::Application => "application/dpop+jwt",
                Typ::Jwt => "JWT",
                Typ::Text(text) => text,
            })
        },
        context,
    );
    push(&mut header, "typ", typ);
    let alg = slot(
        &parts.alg,
        || json_string("ES256"),
        |alg| {
            json_string(match alg {
                AlgName::Es384 => "ES384",
                AlgName::EdDsa => "EdDSA",
                AlgName::Ed25519 => "Ed25519",
                AlgName::Rs256 => "RS256",
                AlgName::Ps256 => "PS256",
                AlgName::Hs256 => "HS256",
                AlgName::None => "none",
                AlgName::Text(text) => text,
            })
        },
        context,
    );
    push(&mut header, "alg", alg);
    let jwk = slot(
        &parts.jwk,
        || object(&jwk_members(KeyChoice::A)),
        |jwk| match jwk {
            JwkChoice::Of(key) => object(&jwk_members(*key)),
            JwkChoice::WithPrivate(key, private) => {
                with_member(jwk_members(*key), private.name(), "\"AQAB\"")
            }
            JwkChoice::Oct => object(&[
                ("kty".into(), json_string("oct")),
                ("k".into(), json_string("c2VjcmV0")),
            ]),
            JwkChoice::OtherCurve => replace_member(&jwk_members(KeyChoice::A), "crv", "\"P-384\""),
            JwkChoice::OtherKty => replace_member(&jwk_members(KeyChoice::A), "kty", "\"OKP\""),
            JwkChoice::WithMembers(key, extra) => {
                let mut members = jwk_members(*key);
                for (name, val) in extra {
                    members.push((name.as_str().to_owned(), val_text(val, context, 1)));
                }
                object(&members)
            }
            JwkChoice::Members(members) => {
                let members: Vec<(String, String)> = members
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), val_text(v, context, 1)))
                    .collect();
                object(&members)
            }
        },
        context,
    );
    push(&mut header, "jwk", jwk);
    if let Some(crit) = &parts.crit {
        header.push(("crit".into(), val_text(crit, context, 0)));
    }
    for (name, val) in &parts.header_extra {
        header.push((name.as_str().to_owned(), val_text(val, context, 0)));
    }

    let mut claims = Vec::new();
    let jti = slot(
        &parts.jti,
        || json_string("jti-0"),
        |jti| match jti {
            Jti::Numbered(n) => json_string(&format!("jti-{}", n % 4)),
            Jti::Empty => json_string(""),
            Jti::Long(n) => json_string(&"j".repeat(usize::from(*n % 512))),
            Jti::Text(text) => json_string(text),
        },
        context,
    );
    push(&mut claims, "jti", jti);
    let htm = slot(
        &parts.htm,
        || json_string(&context.method),
        |method| json_string(&method.text()),
        context,
    );
    push(&mut claims, "htm", htm);
    let htu = slot(
        &parts.htu,
        || json_string(&context.target),
        |htu| json_string(&near_miss(&context.target, htu)),
        context,
    );
    push(&mut claims, "htu", htu);
    let iat = slot(
        &parts.iat,
        || NOW.to_string(),
        |iat| match iat {
            Iat::Offset(offset) => (NOW as i64 + i64::from(*offset)).to_string(),
            Iat::Fraction(offset, fraction) => {
                format!("{}.{fraction:03}", NOW as i64 + i64::from(*offset))
            }
            Iat::AsString(offset) => format!("\"{}\"", NOW as i64 + i64::from(*offset)),
            Iat::Float(f) => Value::from(*f).to_string(),
            Iat::Int(n) => n.to_string(),
        },
        context,
    );
    push(&mut claims, "iat", iat);
    let ath = slot(
        &parts.ath,
        || json_string(&dpop::ath(&context.token)),
        |ath| match ath {
            Ath::OfOtherToken => json_string(&dpop::ath(dpop::token(TokenName::BoundB))),
            Ath::Padded => json_string(&format!("{}=", dpop::ath(&context.token))),
            Ath::StandardAlphabet => json_string(
                &dpop::ath(&context.token)
                    .replace('-', "+")
                    .replace('_', "/"),
            ),
            Ath::Text(text) => json_string(text),
        },
        context,
    );
    push(&mut claims, "ath", ath);
    let window = dpop::current_window();
    let nonce = slot(
        &parts.nonce,
        || json_string(&context.nonce),
        |nonce| match nonce {
            NonceChoice::Previous => json_string(&dpop::nonce(window - 1)),
            NonceChoice::Stale => json_string(&dpop::nonce(window - 2)),
            NonceChoice::Next => json_string(&dpop::nonce(window + 1)),
            NonceChoice::Forged => {
                let mut forged = context.nonce.clone().into_bytes();
                forged[20] = if forged[20] == b'A' { b'B' } else { b'A' };
                json_string(&String::from_utf8(forged).expect("ASCII"))
            }
            NonceChoice::Text(text) => json_string(text),
        },
        context,
    );
    push(&mut claims, "nonce", nonce);
    for (name, val) in &parts.claims_extra {
        claims.push((name.as_str().to_owned(), val_text(val, context, 0)));
    }

    let signing_input = format!(
        "{}.{}",
        encode(&parts.layout, object(&header).as_bytes()),
        encode(&parts.layout, object(&claims).as_bytes())
    );
    let signature = match &parts.signature {
        Signature::Key(key) => {
            let signed = dpop::signer(key.name()).sign_segments(&signing_input);
            signed.rsplit('.').next().unwrap_or_default().to_owned()
        }
        Signature::Es384WithA => {
            // ES384 with a P-256 key: jsonwebtoken refuses, so nothing.
            let key = &dpop::signer(KeyName::A).key;
            crypto::sign(signing_input.as_bytes(), key, Algorithm::ES384).unwrap_or_default()
        }
        Signature::Hmac(secret) => {
            let secret = match secret {
                Secret::Jwk => dpop::signer(KeyName::A).jwk.to_string().into_bytes(),
                Secret::Token => context.token.clone().into_bytes(),
                Secret::Bytes(bytes) => bytes.clone(),
            };
            crypto::sign(
                signing_input.as_bytes(),
                &EncodingKey::from_secret(&secret),
                Algorithm::HS256,
            )
            .unwrap_or_default()
        }
        Signature::Bytes(bytes) => encode(&parts.layout, bytes),
        Signature::Text(text) => text.clone(),
        Signature::Empty => String::new(),
    };
    match parts.layout {
        Layout::TwoSegments => signing_input,
        Layout::FourSegments => format!("{signing_input}.{signature}.e30"),
        Layout::Spaces => format!(" {signing_input}.{signature} "),
        _ => format!("{signing_input}.{signature}"),
    }
}

fn config(choice: &ConfigChoice) -> Config {
    Config {
        required: !choice.allowed,
        nonces: choice.nonces,
        public_url: choice
            .public_url
            .map(|n| PUBLIC_URLS[usize::from(n) % PUBLIC_URLS.len()]),
        forwarded: choice.forwarded,
        algorithms: match choice.algorithms {
            AlgorithmsChoice::Default => Algorithms::Default,
            AlgorithmsChoice::Es256 => Algorithms::Es256,
            AlgorithmsChoice::NoEs256 => Algorithms::NoEs256,
        },
        short_proofs: choice.short_proofs,
    }
}

/// The request of `choice`, its proofs made for it, and the proofs sent by
/// earlier requests in `earlier`.
fn request(
    config: &Config,
    choice: &RequestChoice,
    earlier: &mut Vec<Vec<u8>>,
) -> Option<Request<()>> {
    let method = choice.method.method()?;
    let uri: &[u8] = match &choice.uri {
        UriChoice::Root => b"/",
        UriChoice::Orders => b"/orders",
        UriChoice::OrdersQuery => b"/orders?page=2#top",
        UriChoice::DotSegments => b"/a/../orders/./",
        UriChoice::Encoded => b"/%7Eada/%2f%41",
        UriChoice::Absolute { https: true } => b"https://API.example:443/orders",
        UriChoice::Absolute { https: false } => b"http://api.example:8080/orders",
        UriChoice::Raw(text) => text.as_bytes(),
    };
    let token = match &choice.token {
        TokenChoice::BoundA => dpop::token(TokenName::BoundA).to_owned(),
        TokenChoice::BoundB => dpop::token(TokenName::BoundB).to_owned(),
        TokenChoice::Unbound => dpop::token(TokenName::Unbound).to_owned(),
        TokenChoice::Expired => dpop::token(TokenName::Expired).to_owned(),
        TokenChoice::Text(text) => text.clone(),
    };
    let mut headers: Vec<(HeaderName, Vec<u8>)> = Vec::new();
    let scheme = match choice.scheme {
        SchemeChoice::Dpop => Some("DPoP"),
        SchemeChoice::DpopLowercase => Some("dpop"),
        SchemeChoice::Bearer => Some("Bearer"),
        SchemeChoice::Basic => Some("Basic"),
        SchemeChoice::None => None,
    };
    if let Some(scheme) = scheme {
        headers.push((AUTHORIZATION, format!("{scheme} {token}").into_bytes()));
    }
    let hosts: Vec<&[u8]> = match &choice.host {
        HostChoice::None => vec![],
        HostChoice::Api => vec![b"api.example"],
        HostChoice::ApiPort => vec![b"api.example:8080"],
        HostChoice::Upper => vec![b"API.Example:80"],
        HostChoice::Two => vec![b"api.example", b"evil.example"],
        HostChoice::Raw(text) => vec![text.as_bytes()],
    };
    headers.extend(hosts.into_iter().map(|h| (HOST, h.to_vec())));
    for (name, value) in choice.forwarded.iter().take(3) {
        let name = HeaderName::from_static(match name {
            ForwardedName::Forwarded => "forwarded",
            ForwardedName::Proto => "x-forwarded-proto",
            ForwardedName::Host => "x-forwarded-host",
            ForwardedName::Prefix => "x-forwarded-prefix",
        });
        let value: &[u8] = match value {
            ForwardedValue::Https => b"https",
            ForwardedValue::Http => b"http",
            ForwardedValue::ApiHost => b"api.example",
            ForwardedValue::OtherHost => b"evil.example",
            ForwardedValue::Prefix => b"/api/",
            ForwardedValue::Element => b"proto=https;host=api.example",
            ForwardedValue::List => b"for=1.2.3.4;host=evil.example, proto=https;host=api.example",
            ForwardedValue::Raw(text) => text.as_bytes(),
        };
        headers.push((name, value.to_vec()));
    }
    let peer = match choice.peer {
        PeerChoice::Unknown => Peer::Unknown,
        PeerChoice::Trusted => Peer::Trusted,
        PeerChoice::Untrusted => Peer::Untrusted,
    };
    // The head without proofs, to know what they must name.
    let head = dpop::request(method.clone(), uri, peer, headers.clone())?;
    let target = match dpop::expected_target(config, &head) {
        Known::Sure(Some(target)) => target,
        _ => "https://api.example/orders".to_owned(),
    };
    let context = Context {
        method: method.to_string(),
        target,
        token: token.trim().to_owned(),
        nonce: dpop::nonce(dpop::current_window()),
    };
    let mut proofs = Vec::new();
    for proof in choice.proofs.iter().take(3) {
        let bytes = match proof {
            ProofChoice::Raw(bytes) => bytes.clone(),
            ProofChoice::Signed {
                key,
                header,
                claims,
            } => dpop::signer(key.name())
                .sign(header.as_bytes(), claims.as_bytes())
                .into_bytes(),
            ProofChoice::Parts(parts) => build(parts, &context).into_bytes(),
            ProofChoice::Again(n) if !earlier.is_empty() => {
                earlier[usize::from(*n) % earlier.len()].clone()
            }
            ProofChoice::Again(_) => continue,
        };
        proofs.push(bytes);
    }
    earlier.extend(proofs.iter().cloned());
    let dpop = HeaderName::from_static("dpop");
    headers.extend(proofs.into_iter().map(|p| (dpop.clone(), p)));
    dpop::request(method, uri, peer, headers)
}

fuzz_target!(|data: &[u8]| {
    if dpop::replay(data) {
        return;
    }
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let config = config(&input.config);
    let mut earlier = Vec::new();
    let requests = input
        .requests
        .iter()
        .take(dpop::MAX_REQUESTS)
        .filter_map(|choice| request(&config, choice, &mut earlier))
        .collect();
    dpop::run(&config, requests);
});
