//! Token location from arbitrary request heads: method, URI, up to 8 headers,
//! through a layer with every head source (bearer, a plain header, a header
//! with its own scheme, a cookie, a query parameter).
//!
//! An input is either structured (pieces of bytes, tokens and separators) or,
//! after `text:`, a request head as text, as the seeds are written:
//! `METHOD URI` then `name: value` lines, with `{valid}`-style placeholders
//! for the tokens (see `expand`).
//!
//! Properties: no panic; the status is 200, 400 or 401 (403 only for a cookie
//! token on an unsafe method: the CSRF check); a rejection carries its
//! `AuthError`; a 200 reached the inner service with the claims of a valid
//! token.

#![no_main]

use std::sync::LazyLock;

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use http::header::HeaderName;
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower::{Layer as _, Service as _, service_fn};
use tower_jwt_auth::{AuthErrorKind, Claims, JwtAuthLayer, Key, TokenSource};
use tower_jwt_auth_fuzz::{
    NOW, Piece, SECRET, Tokens, check_response, echo_extensions, expand, join, now,
};

#[derive(Arbitrary, Debug)]
struct Input {
    method: MethodChoice,
    uri: Vec<Piece>,
    headers: Vec<(Name, Vec<Piece>)>,
}

#[derive(Arbitrary, Debug)]
enum MethodChoice {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Other(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Name {
    Authorization,
    Cookie,
    XToken,
    XAuth,
    ContentType,
    Origin,
    SecFetchSite,
    Host,
    Other(Vec<u8>),
}

impl MethodChoice {
    fn method(&self) -> Option<Method> {
        Some(match self {
            Self::Get => Method::GET,
            Self::Head => Method::HEAD,
            Self::Post => Method::POST,
            Self::Put => Method::PUT,
            Self::Delete => Method::DELETE,
            Self::Patch => Method::PATCH,
            Self::Other(bytes) => Method::from_bytes(bytes).ok()?,
        })
    }
}

impl Name {
    fn header_name(&self) -> Option<HeaderName> {
        Some(match self {
            Self::Authorization => http::header::AUTHORIZATION,
            Self::Cookie => http::header::COOKIE,
            Self::XToken => HeaderName::from_static("x-token"),
            Self::XAuth => HeaderName::from_static("x-auth"),
            Self::ContentType => http::header::CONTENT_TYPE,
            Self::Origin => http::header::ORIGIN,
            Self::SecFetchSite => HeaderName::from_static("sec-fetch-site"),
            Self::Host => http::header::HOST,
            Self::Other(bytes) => HeaderName::from_bytes(bytes).ok()?,
        })
    }
}

struct Setup {
    tokens: Tokens,
    layer: JwtAuthLayer<Value>,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| Setup {
    tokens: Tokens::new(),
    layer: JwtAuthLayer::builder()
        .key(Key::hmac(SECRET))
        .clock(|| NOW)
        .source(TokenSource::bearer())
        .source(TokenSource::header(HeaderName::from_static("x-token")))
        .source(TokenSource::header_with_scheme(
            HeaderName::from_static("x-auth"),
            "JWT",
        ))
        .source(TokenSource::cookie("jwt"))
        .source(TokenSource::query("access_token"))
        .build()
        .expect("layer"),
});

const MAX_HEADERS: usize = 8;

/// A request head, or `None` when `http` itself refuses a part of it.
fn head(
    method: Option<Method>,
    uri: Vec<u8>,
    headers: impl Iterator<Item = (Option<HeaderName>, Vec<u8>)>,
) -> Option<Request<()>> {
    let mut request = Request::new(());
    *request.method_mut() = method?;
    *request.uri_mut() = Uri::from_maybe_shared(Bytes::from(uri)).ok()?;
    for (name, value) in headers.take(MAX_HEADERS) {
        let value = HeaderValue::from_bytes(&value).ok()?;
        request.headers_mut().append(name?, value);
    }
    Some(request)
}

fn structured(input: &Input, tokens: &Tokens) -> Option<Request<()>> {
    let headers =
        (input.headers.iter()).map(|(name, value)| (name.header_name(), join(value, tokens)));
    head(input.method.method(), join(&input.uri, tokens), headers)
}

/// `METHOD URI` on the first line, then `name: value` lines.
fn text(text: &[u8], tokens: &Tokens) -> Option<Request<()>> {
    let text = expand(text, tokens);
    let mut lines = text.split(|&b| b == b'\n');
    let first = lines.next()?;
    let space = first.iter().position(|&b| b == b' ')?;
    let headers = lines.filter(|line| !line.is_empty()).map(|line| {
        let colon = line.iter().position(|&b| b == b':').unwrap_or(line.len());
        let value = line.get(colon + 1..).unwrap_or_default().trim_ascii_start();
        (HeaderName::from_bytes(&line[..colon]).ok(), value.to_vec())
    });
    let method = Method::from_bytes(&first[..space]).ok();
    head(method, first[space + 1..].to_vec(), headers)
}

fuzz_target!(|data: &[u8]| {
    let setup = &*SETUP;
    let request = match data.strip_prefix(b"text:") {
        Some(rest) => text(rest, &setup.tokens),
        None => Input::arbitrary_take_rest(Unstructured::new(data))
            .ok()
            .and_then(|input| structured(&input, &setup.tokens)),
    };
    let Some(request) = request else {
        return;
    };
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    let mut service = setup.layer.layer(service_fn(echo_extensions));
    let response = now(service.call(request)).expect("infallible");
    let allowed = [
        StatusCode::OK,
        StatusCode::BAD_REQUEST,
        StatusCode::UNAUTHORIZED,
        StatusCode::FORBIDDEN,
    ];
    match check_response(&response, &allowed) {
        Some(AuthErrorKind::CrossSiteRequest) => assert!(unsafe_method),
        Some(kind) => assert_ne!(response.status(), StatusCode::FORBIDDEN, "{kind:?}"),
        None => {
            let claims = response
                .extensions()
                .get::<Claims<Value>>()
                .expect("a 200 without claims");
            let sub = claims.0["sub"].as_str();
            assert!(
                matches!(sub, Some("ada" | "bob")),
                "claims of no valid token"
            );
        }
    }
});
