//! The `form` target's harness: a layer with a bearer source and the form
//! field `token` (limit 4 KiB), an inner service that reads the whole body,
//! and the properties.

use std::convert::Infallible;
use std::sync::LazyLock;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use tower::{Layer as _, Service as _, service_fn};
use tower_jwt_auth::{
    Claims, DefaultResponder, JwtAuthLayer, Key, RequestBody, TokenSource, WithForm,
};

use crate::common::{Chunks, NOW, SECRET, Tokens, check_response, collect, expand, now};

/// The layer's form limit.
pub const LIMIT: usize = 4096;

/// The `Content-Length` header: absent, right, or any number.
#[derive(Debug, Clone, Copy)]
pub enum Length {
    Absent,
    Exact,
    Any(u32),
}

/// One request.
#[derive(Debug)]
pub struct Case {
    pub content_type: Vec<u8>,
    pub length: Length,
    pub bearer: Option<Vec<u8>>,
    pub body: Bytes,
    /// The sizes of the body's frames; the rest comes in one last frame.
    pub chunks: Vec<u16>,
    pub trailers: bool,
    /// Whether the body ends in an error instead of its end.
    pub fail: bool,
}

/// What the inner service read from the body: its bytes and trailers, or
/// `None` when the body failed.
#[derive(Clone)]
struct Seen(Option<(Bytes, Option<HeaderMap>)>);

struct Setup {
    tokens: Tokens,
    layer: JwtAuthLayer<Value, DefaultResponder, WithForm>,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| Setup {
    tokens: Tokens::new(),
    layer: JwtAuthLayer::builder()
        .key(Key::hmac(SECRET))
        .clock(|| NOW)
        .source(TokenSource::bearer())
        .form_field("token")
        .form_limit(LIMIT)
        .build()
        .expect("layer"),
});

/// The tokens the inputs can splice in.
pub fn tokens() -> &'static Tokens {
    &SETUP.tokens
}

/// Reads the whole body and hands it back, with the request's extensions.
async fn echo(request: Request<RequestBody<Chunks>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let mut response = Response::new(Full::default());
    *response.extensions_mut() = parts.extensions;
    response.extensions_mut().insert(Seen(collect(body).ok()));
    Ok(response)
}

fn trailers() -> HeaderMap {
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", HeaderValue::from_static("fuzz"));
    trailers
}

impl Case {
    /// A `text:` input: the `Content-Type` line, the `Authorization` line
    /// (empty for none), and the body, with `{valid}`-style placeholders for
    /// the tokens; sent in one frame with its exact `Content-Length`.
    pub fn text(text: &[u8]) -> Option<Self> {
        let text = expand(text, tokens());
        let mut parts = text.splitn(3, |&b| b == b'\n');
        let content_type = parts.next()?.to_vec();
        let bearer = Some(parts.next()?.to_vec()).filter(|line| !line.is_empty());
        Some(Self {
            content_type,
            length: Length::Exact,
            bearer,
            body: Bytes::copy_from_slice(parts.next().unwrap_or_default()),
            chunks: Vec::new(),
            trailers: false,
            fail: false,
        })
    }

    /// The request, or `None` when `http` refuses a header value.
    fn request(&self) -> Option<Request<Chunks>> {
        let mut request = Request::post("/");
        let headers = request.headers_mut().expect("valid so far");
        let content_type = HeaderValue::from_bytes(&self.content_type).ok()?;
        headers.insert(CONTENT_TYPE, content_type);
        match self.length {
            Length::Absent => {}
            Length::Exact => {
                headers.insert(CONTENT_LENGTH, self.body.len().into());
            }
            Length::Any(n) => {
                headers.insert(CONTENT_LENGTH, n.into());
            }
        }
        if let Some(bearer) = &self.bearer {
            headers.insert(AUTHORIZATION, HeaderValue::from_bytes(bearer).ok()?);
        }
        let trailers = self.trailers.then(trailers);
        let body = Chunks::new(&self.body, &self.chunks, trailers, self.fail);
        Some(request.body(body).expect("valid request"))
    }
}

/// Sends `case` through the layer and checks the properties: the status is
/// 200, 400, 401 or 413; a rejection carries its `AuthError`; a 200 reached
/// the inner service with claims and exactly the body (and trailers, or the
/// body's error) that was sent.
pub fn check(case: &Case) {
    let Some(request) = case.request() else {
        return;
    };
    let mut service = SETUP.layer.layer(service_fn(echo));
    let response = now(service.call(request)).expect("infallible");
    let allowed = [
        StatusCode::OK,
        StatusCode::BAD_REQUEST,
        StatusCode::UNAUTHORIZED,
        StatusCode::PAYLOAD_TOO_LARGE,
    ];
    if check_response(&response, &allowed).is_some() {
        return;
    }
    assert!(
        response.extensions().get::<Claims<Value>>().is_some(),
        "a 200 without claims"
    );
    let Seen(seen) = response
        .extensions()
        .get::<Seen>()
        .expect("inner service ran");
    match seen {
        Some((echoed, echoed_trailers)) => {
            assert!(!case.fail, "the body's error was lost");
            assert_eq!(*echoed, case.body, "the inner service saw another body");
            let sent_trailers = case.trailers.then(trailers);
            assert_eq!(*echoed_trailers, sent_trailers, "trailers changed");
        }
        None => assert!(case.fail, "the body failed without a client error"),
    }
}

/// Runs a `text:` input; `false` for any other.
pub fn replay(data: &[u8]) -> bool {
    let Some(rest) = data.strip_prefix(b"text:") else {
        return false;
    };
    if let Some(case) = Case::text(rest) {
        check(&case);
    }
    true
}
