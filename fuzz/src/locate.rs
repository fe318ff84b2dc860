//! The `locate` target's harness: a layer with every head source (bearer, a
//! plain header, a header with its own scheme, a cookie, a query parameter),
//! the request heads, and the properties.

use std::sync::LazyLock;

use bytes::Bytes;
use http::header::HeaderName;
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use serde_json::Value;
use tower::{Layer as _, Service as _, service_fn};
use tower_jwt_auth::{AuthErrorKind, Claims, JwtAuthLayer, Key, TokenSource};

use crate::common::{NOW, SECRET, Tokens, check_response, echo_extensions, expand, now};

/// At most this many headers per request.
pub const MAX_HEADERS: usize = 8;

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

/// The tokens the inputs can splice in.
pub fn tokens() -> &'static Tokens {
    &SETUP.tokens
}

/// A request head, or `None` when `http` itself refuses a part of it.
pub fn head(
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

/// A `text:` input: `METHOD URI` on the first line, then `name: value` lines,
/// with `{valid}`-style placeholders for the tokens.
pub fn text(text: &[u8]) -> Option<Request<()>> {
    let text = expand(text, tokens());
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

/// Sends `request` through the layer and checks the properties: the status is
/// 200, 400 or 401 (403 only for a cookie token on an unsafe method: the CSRF
/// check); a rejection carries its `AuthError`; a 200 reached the inner
/// service with the claims of a valid token.
pub fn check(request: Request<()>) {
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    let mut service = SETUP.layer.layer(service_fn(echo_extensions));
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
}

/// Runs a `text:` input; `false` for any other.
pub fn replay(data: &[u8]) -> bool {
    let Some(rest) = data.strip_prefix(b"text:") else {
        return false;
    };
    if let Some(request) = text(rest) {
        check(request);
    }
    true
}
