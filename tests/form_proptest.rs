//! A property test of the form-field source: random urlencoded forms, with or
//! without a token field at a random place, written with minimal or full
//! percent-encoding, cut into random frames (empty ones included), with or
//! without a `Content-Length` and trailers. The inner service echoes what it
//! received.
//!
//! Properties: the request is accepted exactly when the form holds the token
//! (otherwise 401, no token); an accepted request reaches the inner service
//! with the very bytes and trailers that were sent.

use std::convert::Infallible;
use std::sync::OnceLock;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;
use tower::{Layer, ServiceExt, service_fn};
use tower_jwt_auth::{
    AuthError, AuthErrorKind, Claims, DefaultResponder, JwtAuthLayer, Key, RequestBody,
    TokenIssuer, WithForm,
};

const SECRET: &[u8] = b"form proptest secret, 32 bytes!!";

type Frames = std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>;
type ChunkedBody = StreamBody<futures_util::stream::Iter<Frames>>;

/// Issued once: signing is not what is tested here.
fn token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        TokenIssuer::hmac(SECRET)
            .build()
            .expect("issuer")
            .issue(&serde_json::json!({ "sub": "ada" }))
            .expect("token")
    })
}

fn layer() -> &'static JwtAuthLayer<serde_json::Value, DefaultResponder, WithForm> {
    static LAYER: OnceLock<JwtAuthLayer<serde_json::Value, DefaultResponder, WithForm>> =
        OnceLock::new();
    LAYER.get_or_init(|| {
        JwtAuthLayer::<serde_json::Value>::builder()
            .key(Key::hmac(SECRET))
            .form_field("token")
            .build()
            .expect("layer")
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

/// How a name or value is written.
#[derive(Clone, Copy, Debug)]
enum Encoding {
    /// What browsers send: `+` for spaces, `%XX` only where needed.
    Minimal,
    /// Every byte as `%XX`, even letters.
    EveryByte,
}

fn encode(text: &str, how: Encoding) -> String {
    match how {
        Encoding::Minimal => form_urlencoded::byte_serialize(text.as_bytes()).collect(),
        Encoding::EveryByte => text.bytes().map(|b| format!("%{b:02X}")).collect(),
    }
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![Just(Encoding::Minimal), Just(Encoding::EveryByte)]
}

/// Any text, including the characters that need encoding.
fn text() -> impl Strategy<Value = String> {
    let interesting = prop_oneof![
        prop::sample::select(vec!['&', '=', '+', '%', ' ', 'ü', '\r', '\n', '€', '😀']),
        any::<char>(),
        prop::char::range('a', 'z'),
    ];
    prop::collection::vec(interesting, 0..12).prop_map(String::from_iter)
}

/// One `name=value` pair that is not the token field.
fn field() -> impl Strategy<Value = String> {
    (text(), encoding(), text(), encoding())
        .prop_filter("not the token field", |(name, ..)| name != "token")
        .prop_map(|(name, name_how, value, value_how)| {
            format!("{}={}", encode(&name, name_how), encode(&value, value_how))
        })
}

/// Cuts `body` into data frames of the sizes given, in turn (a zero makes an
/// empty frame), then the trailers.
fn frames(body: &[u8], sizes: &[usize], trailers: Option<HeaderMap>) -> ChunkedBody {
    let mut frames = Vec::new();
    let mut rest = body;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        frames.push(Ok(Frame::data(Bytes::copy_from_slice(chunk))));
        rest = tail;
    }
    frames.extend(trailers.map(|t| Ok(Frame::trailers(t))));
    StreamBody::new(futures_util::stream::iter(frames))
}

/// What the inner service saw, echoed: the body, and the subject and trailer
/// in headers.
async fn echo(
    request: Request<RequestBody<ChunkedBody>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let sub = request
        .extensions()
        .get::<Claims<serde_json::Value>>()
        .and_then(|claims| claims.0["sub"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let collected = request.into_body().collect().await?;
    let trailer = collected
        .trailers()
        .and_then(|t| t.get("x-check").cloned())
        .unwrap_or(HeaderValue::from_static(""));
    let mut response = Response::new(Full::new(collected.to_bytes()));
    response
        .headers_mut()
        .insert("x-sub", sub.parse().expect("header value"));
    response.headers_mut().insert("x-trailer", trailer);
    Ok(response)
}

/// One generated request.
#[derive(Debug)]
struct Case {
    body: Vec<u8>,
    has_token: bool,
    sizes: Vec<usize>,
    declare_length: bool,
    trailer: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(field(), 0..20),
        prop::option::of((any::<Index>(), encoding(), encoding())),
        prop::collection::vec(0usize..=24, 1..6),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(mut fields, token_at, mut sizes, declare_length, trailer)| {
                if let Some((at, name_how, value_how)) = token_at {
                    let field = format!(
                        "{}={}",
                        encode("token", name_how),
                        encode(token(), value_how)
                    );
                    fields.insert(at.index(fields.len() + 1), field);
                }
                // Some frame must carry data, or the body would never end.
                if sizes.iter().all(|&size| size == 0) {
                    sizes.push(1);
                }
                Case {
                    body: fields.join("&").into_bytes(),
                    has_token: token_at.is_some(),
                    sizes,
                    declare_length,
                    trailer,
                }
            },
        )
}

/// What came back through the layer.
struct Outcome {
    status: StatusCode,
    kind: Option<AuthErrorKind>,
    body: Bytes,
    sub: String,
    trailer: String,
}

fn run(case: &Case) -> Outcome {
    let trailers = case.trailer.then(|| {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-check", HeaderValue::from_static("ok"));
        trailers
    });
    let mut request = Request::post("/").header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    if case.declare_length {
        request = request.header(CONTENT_LENGTH, case.body.len());
    }
    let request = request
        .body(frames(&case.body, &case.sizes, trailers))
        .expect("request");
    runtime().block_on(async {
        let service = layer().layer(service_fn(echo));
        let response = service.oneshot(request).await.expect("infallible");
        let header = |name| {
            response
                .headers()
                .get(name)
                .map_or("", |v| v.to_str().expect("ASCII"))
                .to_owned()
        };
        let (sub, trailer) = (header("x-sub"), header("x-trailer"));
        let status = response.status();
        let kind = response
            .extensions()
            .get::<AuthError>()
            .map(AuthError::kind);
        let body = response.into_body().collect().await.expect("body");
        Outcome {
            status,
            kind,
            body: body.to_bytes(),
            sub,
            trailer,
        }
    })
}

proptest! {
    // Moderate: each case is a full pass through the layer. No regression
    // files: a failing case is printed, shrunk, in the test output.
    #![proptest_config(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn the_token_is_found_exactly_when_present_and_the_body_is_kept(case in case()) {
        let outcome = run(&case);
        if case.has_token {
            prop_assert_eq!(outcome.status, StatusCode::OK, "{:?}", outcome.kind);
            prop_assert_eq!(&outcome.body[..], &case.body[..]);
            prop_assert_eq!(outcome.sub, "ada");
            prop_assert_eq!(outcome.trailer, if case.trailer { "ok" } else { "" });
        } else {
            prop_assert_eq!(outcome.status, StatusCode::UNAUTHORIZED);
            prop_assert_eq!(outcome.kind, Some(AuthErrorKind::MissingToken));
        }
    }
}
