//! Form bodies: arbitrary bytes (with tokens and form syntax spliced in), cut
//! into arbitrary frames, under several content types, through a layer with a
//! bearer source and the form field `token` (limit 4 KiB).
//!
//! An input is either structured, or after `text:` three parts as the seeds
//! are written: the `Content-Type` line, the `Authorization` line (empty for
//! none), and the body, with `{valid}`-style placeholders for the tokens (see
//! `expand`), sent in one frame with its exact `Content-Length`.
//!
//! Properties: no panic; the status is 200, 400, 401 or 413; a rejection
//! carries its `AuthError`; a 200 reached the inner service with claims and
//! exactly the body (and trailers, or the body's error) that was sent.

#![no_main]

use std::sync::LazyLock;

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower::{Layer as _, Service as _, service_fn};
use tower_jwt_auth::{
    Claims, DefaultResponder, JwtAuthLayer, Key, RequestBody, TokenSource, WithForm,
};
use tower_jwt_auth_fuzz::{
    Chunks, NOW, Piece, SECRET, Tokens, check_response, collect, expand, join, now,
};

const LIMIT: usize = 4096;

#[derive(Arbitrary, Debug)]
struct Input {
    body: Vec<Piece>,
    chunks: Vec<u16>,
    content_type: ContentType,
    length: Length,
    bearer: Option<Vec<Piece>>,
    trailers: bool,
    fail: bool,
}

#[derive(Arbitrary, Debug)]
enum ContentType {
    UrlEncoded,
    UrlEncodedCharset,
    Multipart,
    MultipartBoundary(Vec<u8>),
    TextPlain,
    Raw(Vec<u8>),
}

/// The `Content-Length` header: absent, right, or any number.
#[derive(Arbitrary, Debug)]
enum Length {
    Absent,
    Exact,
    Any(u32),
}

impl ContentType {
    fn value(&self) -> Vec<u8> {
        match self {
            Self::UrlEncoded => b"application/x-www-form-urlencoded".to_vec(),
            Self::UrlEncodedCharset => b"application/x-www-form-urlencoded; charset=UTF-8".to_vec(),
            Self::Multipart => b"multipart/form-data; boundary=BOUNDARY".to_vec(),
            Self::MultipartBoundary(boundary) => {
                [&b"multipart/form-data; boundary="[..], boundary].concat()
            }
            Self::TextPlain => b"text/plain".to_vec(),
            Self::Raw(bytes) => bytes.clone(),
        }
    }
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

/// Reads the whole body and hands it back, with the request's extensions.
async fn echo(
    request: Request<RequestBody<Chunks>>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
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

/// One request, from either kind of input.
struct Case {
    content_type: Vec<u8>,
    length: Length,
    bearer: Option<Vec<u8>>,
    body: Bytes,
    chunks: Vec<u16>,
    trailers: bool,
    fail: bool,
}

impl Case {
    fn structured(input: Input, tokens: &Tokens) -> Self {
        Self {
            content_type: input.content_type.value(),
            length: input.length,
            bearer: input.bearer.map(|pieces| join(&pieces, tokens)),
            body: Bytes::from(join(&input.body, tokens)),
            chunks: input.chunks,
            trailers: input.trailers,
            fail: input.fail,
        }
    }

    fn text(text: &[u8], tokens: &Tokens) -> Option<Self> {
        let text = expand(text, tokens);
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
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_bytes(&self.content_type).ok()?,
        );
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

fuzz_target!(|data: &[u8]| {
    let setup = &*SETUP;
    let case = match data.strip_prefix(b"text:") {
        Some(text) => Case::text(text, &setup.tokens),
        None => Input::arbitrary_take_rest(Unstructured::new(data))
            .ok()
            .map(|input| Case::structured(input, &setup.tokens)),
    };
    let Some(request) = case.as_ref().and_then(Case::request) else {
        return;
    };
    let case = case.expect("built the request");

    let mut service = setup.layer.layer(service_fn(echo));
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
            assert_eq!(
                *echoed_trailers,
                case.trailers.then(trailers),
                "trailers changed"
            );
        }
        None => assert!(case.fail, "the body failed without a client error"),
    }
});
