//! The form-field token source through real servers on 127.0.0.1: an axum
//! `Router` and a plain hyper server (`ServiceBuilder` + `service_fn`), both
//! with a handler that echoes the exact bytes it received. Urlencoded and
//! multipart forms, sent whole, streamed with a `Content-Length`, and chunked;
//! the limit with and without a declared length; clients that misbehave on the
//! wire; the order of the form and header sources.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::routing::any;
use axum::{Extension, Form, Json, Router};
use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, TRANSFER_ENCODING, WWW_AUTHENTICATE,
};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Body, Frame, Incoming};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tower::{BoxError, ServiceBuilder, ServiceExt, service_fn};
use tower_jwt_auth::{
    AuthError, AuthErrorKind, Claims, DefaultResponder, JwtAuthLayer, Key, RequestBody,
    TokenIssuer, TokenSource, WithForm,
};

mod common;

use common::{Reply, TIMEOUT, send};

// ---------------------------------------------------------------------------
// Configuration, tokens and the layer.
// ---------------------------------------------------------------------------

const SECRET: &[u8] = b"form integration secret 32 byte!";
/// The form limit of every layer here (the default is 64 KiB; smaller keeps
/// the many-chunk requests quick).
const LIMIT: usize = 16 * 1024;
/// The chunk size of streamed bodies: small and odd, so that chunks split
/// fields, `%XX` escapes and multipart boundaries.
const CHUNK: usize = 7;
const URLENCODED: &str = "application/x-www-form-urlencoded";
const CUSTOM: (&str, &str) = ("x-custom", "kept as sent");

#[derive(Clone, Debug, Deserialize)]
struct User {
    sub: String,
}

fn token(sub: &str) -> String {
    TokenIssuer::hmac(SECRET)
        .build()
        .expect("issuer")
        .issue(&serde_json::json!({ "sub": sub }))
        .expect("token")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The order of the two sources.
#[derive(Clone, Copy, Debug)]
enum Order {
    /// `Authorization: Bearer`, then the form: a header token means the body
    /// is never read.
    HeaderFirst,
    /// The form, then the header: the body is read, and a header token must
    /// agree with the form's.
    FormFirst,
}

fn layer(order: Order) -> JwtAuthLayer<User, DefaultResponder, WithForm> {
    let builder = JwtAuthLayer::<User>::builder().key(Key::hmac(SECRET));
    let builder = match order {
        Order::HeaderFirst => builder.source(TokenSource::bearer()).form_field("token"),
        Order::FormFirst => builder.form_field("token").source(TokenSource::bearer()),
    };
    builder.form_limit(LIMIT).build().expect("layer")
}

// ---------------------------------------------------------------------------
// The servers.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Backend {
    Axum,
    Hyper,
}

const BACKENDS: [Backend; 2] = [Backend::Axum, Backend::Hyper];

/// Put into the request extensions in front of the layer, to see that
/// extensions survive the reading of the body.
#[derive(Clone, Copy)]
struct Marker;

/// A server on an ephemeral port, stopped when dropped, and how often its
/// handlers ran.
struct Server {
    running: common::Server,
    calls: Arc<AtomicUsize>,
}

impl Server {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn url(&self, path: &str) -> String {
        self.running.url(path)
    }
}

async fn start(backend: Backend, order: Order) -> Server {
    start_with(backend, layer(order)).await
}

/// A server of `backend` behind `layer`.
async fn start_with(
    backend: Backend,
    layer: JwtAuthLayer<User, DefaultResponder, WithForm>,
) -> Server {
    let calls = Arc::new(AtomicUsize::new(0));
    let running = match backend {
        Backend::Axum => common::serve_axum(axum_app(layer, calls.clone())).await,
        Backend::Hyper => {
            let calls = calls.clone();
            let service = ServiceBuilder::new()
                .map_request(|mut request: Request<Incoming>| {
                    request.extensions_mut().insert(Marker);
                    request
                })
                .layer(layer)
                .service(service_fn(
                    move |request: Request<RequestBody<Incoming>>| {
                        let calls = calls.clone();
                        async move { Ok::<_, Infallible>(echo(&calls, request).await) }
                    },
                ));
            common::serve_hyper(service).await
        }
    };
    Server { running, calls }
}

/// `/echo` echoes; `/form` and `/multipart` parse the body again with axum's
/// extractors.
fn axum_app(
    layer: JwtAuthLayer<User, DefaultResponder, WithForm>,
    calls: Arc<AtomicUsize>,
) -> Router {
    async fn echo_route(
        State(calls): State<Arc<AtomicUsize>>,
        request: axum::extract::Request,
    ) -> Response<Full<Bytes>> {
        echo(&calls, request).await
    }
    Router::new()
        .route("/echo", any(echo_route))
        .route("/form", any(form_fields))
        .route("/multipart", any(multipart_fields))
        .layer(layer)
        .layer(Extension(Marker))
        .with_state(calls)
}

/// Answers with exactly the body it received; what else it saw goes into
/// `x-seen-*` headers.
async fn echo<B>(calls: &AtomicUsize, request: Request<B>) -> Response<Full<Bytes>>
where
    B: Body,
    B::Error: Display,
{
    calls.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = request.into_parts();
    let (body, trailers) = match body.collect().await {
        Ok(collected) => {
            let trailers = collected.trailers().cloned();
            (collected.to_bytes(), trailers)
        }
        Err(e) => {
            let mut response = Response::new(Full::from(format!("body error: {e}")));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return response;
        }
    };
    let mut response = Response::new(Full::new(body));
    let seen = response.headers_mut();
    for (name, from) in [
        ("x-seen-content-type", CONTENT_TYPE),
        ("x-seen-content-length", CONTENT_LENGTH),
        ("x-seen-transfer-encoding", TRANSFER_ENCODING),
        ("x-seen-custom", HeaderName::from_static(CUSTOM.0)),
    ] {
        if let Some(value) = parts.headers.get(from) {
            seen.insert(name, value.clone());
        }
    }
    for (name, value) in trailers.iter().flatten() {
        let seen_name = format!("x-seen-trailer-{name}");
        seen.insert(
            HeaderName::from_bytes(seen_name.as_bytes()).expect("header name"),
            value.clone(),
        );
    }
    if let Some(claims) = parts.extensions.get::<Claims<User>>() {
        seen.insert("x-seen-sub", claims.sub.parse().expect("header value"));
    }
    if parts.extensions.get::<Marker>().is_some() {
        seen.insert("x-seen-marker", "yes".parse().expect("header value"));
    }
    response
}

/// The form as axum's `Form` extractor reads it, with the subject.
async fn form_fields(
    State(calls): State<Arc<AtomicUsize>>,
    Extension(claims): Extension<Claims<User>>,
    Form(form): Form<HashMap<String, String>>,
) -> Json<serde_json::Value> {
    calls.fetch_add(1, Ordering::SeqCst);
    Json(serde_json::json!({ "sub": claims.sub, "form": form }))
}

/// Every field as axum's `Multipart` extractor reads it, with the subject.
async fn multipart_fields(
    State(calls): State<Arc<AtomicUsize>>,
    Extension(claims): Extension<Claims<User>>,
    mut multipart: axum::extract::Multipart,
) -> Result<Json<serde_json::Value>, (StatusCode, String)> {
    calls.fetch_add(1, Ordering::SeqCst);
    let broken = |e: axum::extract::multipart::MultipartError| (e.status(), e.body_text());
    let mut fields = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().map(str::to_owned);
        let file_name = field.file_name().map(str::to_owned);
        let data = field.bytes().await.map_err(broken)?;
        fields.push(serde_json::json!([name, file_name, data.to_vec()]));
    }
    Ok(Json(
        serde_json::json!({ "sub": claims.sub, "fields": fields }),
    ))
}

// ---------------------------------------------------------------------------
// The client side.
// ---------------------------------------------------------------------------

type ClientBody = UnsyncBoxBody<Bytes, BoxError>;

/// How a body goes over the wire.
#[derive(Clone, Copy, Debug)]
enum Sending {
    /// One frame, with the `Content-Length` hyper derives from it.
    Whole,
    /// `CHUNK`-byte frames with a `Content-Length` header.
    Streamed,
    /// `CHUNK`-byte frames, no length: `Transfer-Encoding: chunked`.
    Chunked,
}

const SENDINGS: [Sending; 3] = [Sending::Whole, Sending::Streamed, Sending::Chunked];

impl Sending {
    fn declares_length(self) -> bool {
        !matches!(self, Self::Chunked)
    }
}

fn whole(data: &[u8]) -> ClientBody {
    Full::new(Bytes::copy_from_slice(data))
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn chunks(data: &[u8], size: usize) -> ClientBody {
    let frames: Vec<Result<_, BoxError>> = data
        .chunks(size)
        .map(|chunk| Ok(Frame::data(Bytes::copy_from_slice(chunk))))
        .collect();
    StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
}

/// A body the test feeds frame by frame; the sender fails once the client
/// has dropped the body.
fn fed() -> (mpsc::Sender<Bytes>, ClientBody) {
    let (sender, receiver) = mpsc::channel::<Bytes>(1);
    let frames = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let data = receiver.recv().await?;
        Some((Ok::<_, BoxError>(Frame::data(data)), receiver))
    });
    (sender, StreamBody::new(frames).boxed_unsync())
}

/// A POST of `data` as `content_type`, sent as `sending` says, with the
/// custom header and `headers`.
fn post(
    url: String,
    content_type: &str,
    data: &[u8],
    sending: Sending,
    headers: &[(HeaderName, &str)],
) -> Request<ClientBody> {
    let mut request = Request::post(url)
        .header(CONTENT_TYPE, content_type)
        .header(CUSTOM.0, CUSTOM.1);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let body = match sending {
        Sending::Whole => whole(data),
        Sending::Streamed => {
            request = request.header(CONTENT_LENGTH, data.len());
            chunks(data, CHUNK)
        }
        Sending::Chunked => chunks(data, CHUNK),
    };
    request.body(body).expect("request")
}

/// POSTs a form to the echo route.
async fn post_form(
    server: &Server,
    content_type: &str,
    data: &[u8],
    sending: Sending,
    headers: &[(HeaderName, &str)],
) -> Reply {
    send(post(
        server.url("/echo"),
        content_type,
        data,
        sending,
        headers,
    ))
    .await
}

/// Reads one response from a raw connection: `None` when the server closed it
/// without answering.
async fn read_reply(stream: &mut TcpStream) -> Option<Reply> {
    let read = async {
        let mut buffer = Vec::new();
        let head_end = loop {
            if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) if buffer.is_empty() => return None,
                Ok(0) | Err(_) => panic!("truncated response head: {buffer:?}"),
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = std::str::from_utf8(&buffer[..head_end]).expect("ASCII head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().expect("status line");
        let status = status_line.split(' ').nth(1).expect("status code");
        let mut headers = HeaderMap::new();
        for line in lines.filter(|line| !line.is_empty()) {
            let (name, value) = line.split_once(':').expect("header line");
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                value.trim().parse().expect("header value"),
            );
        }
        // Every final response here has a length; `100 Continue` has no body.
        let length: usize = headers.get(CONTENT_LENGTH).map_or(0, |value| {
            value.to_str().expect("ASCII").parse().expect("a number")
        });
        let status: StatusCode = status.parse().expect("status");
        let mut body = buffer.split_off(head_end);
        while body.len() < length {
            let mut chunk = [0; 4096];
            let n = stream.read(&mut chunk).await.expect("read body");
            assert!(n > 0, "truncated response body");
            body.extend_from_slice(&chunk[..n]);
        }
        Some(Reply {
            status,
            headers,
            body: body.into(),
        })
    };
    tokio::time::timeout(TIMEOUT, read)
        .await
        .expect("no answer in time")
}

async fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(server.running.addr)
        .await
        .expect("connect")
}

// ---------------------------------------------------------------------------
// Forms.
// ---------------------------------------------------------------------------

/// Where the token field sits among the other fields.
#[derive(Clone, Copy, Debug)]
enum At {
    First,
    Middle,
    Last,
}

const POSITIONS: [At; 3] = [At::First, At::Middle, At::Last];

impl At {
    fn index(self, fields: usize) -> usize {
        match self {
            Self::First => 0,
            Self::Middle => fields / 2,
            Self::Last => fields,
        }
    }
}

/// The sizes of form bodies: a small one, and one a few bytes under the limit.
const SIZES: [Option<usize>; 2] = [None, Some(LIMIT - 3)];

/// Ordinary fields with characters that need encoding, plus a `pad` field of
/// `pad` bytes.
fn other_fields(pad: usize) -> Vec<(String, String)> {
    [
        ("name", "Ada Lovelace"),
        ("note", "50% & more = ü+ \"quoted\"\r\n"),
        ("pad", &"x".repeat(pad)),
        ("empty", ""),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into()
}

/// The fields of a form with `token` at `at`.
fn fields_with_token(token: &str, at: At, pad: usize) -> Vec<(String, String)> {
    let mut fields = other_fields(pad);
    fields.insert(at.index(fields.len()), ("token".into(), token.into()));
    fields
}

fn urlencode(fields: &[(String, String)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
        .into_bytes()
}

/// A urlencoded form with `token` at `at`, padded to exactly `size` bytes when
/// given.
fn urlencoded_form(token: &str, at: At, size: Option<usize>) -> (Vec<(String, String)>, Vec<u8>) {
    let unpadded = urlencode(&fields_with_token(token, at, 0)).len();
    let pad = size.map_or(0, |size| size - unpadded);
    let fields = fields_with_token(token, at, pad);
    let body = urlencode(&fields);
    if let Some(size) = size {
        assert_eq!(body.len(), size);
    }
    (fields, body)
}

// ---------------------------------------------------------------------------
// Assertions.
// ---------------------------------------------------------------------------

/// The handler ran with the exact bytes, the same `Content-Type` and
/// `Content-Length` (none when chunked), the custom header, the marker
/// extension and the claims of `sub`.
#[track_caller]
fn assert_echoed(reply: &Reply, content_type: &str, sent: &[u8], sending: Sending, sub: &str) {
    assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.text());
    assert!(
        reply.body == sent,
        "the echoed body differs from the sent one ({} vs {} bytes)",
        reply.body.len(),
        sent.len()
    );
    assert_eq!(reply.header("x-seen-content-type"), content_type);
    if sending.declares_length() {
        assert_eq!(
            reply.header("x-seen-content-length"),
            sent.len().to_string()
        );
    } else {
        assert_eq!(reply.header("x-seen-content-length"), "");
        assert_eq!(reply.header("x-seen-transfer-encoding"), "chunked");
    }
    assert_eq!(reply.header("x-seen-custom"), CUSTOM.1);
    assert_eq!(reply.header("x-seen-marker"), "yes");
    assert_eq!(reply.header("x-seen-sub"), sub);
}

/// A rejection by the default responder: status, JSON error code and
/// description, and the challenge that goes with them.
#[track_caller]
fn assert_refused(reply: &Reply, kind: AuthErrorKind, description: &str) {
    assert_eq!(reply.status, kind.status(), "body: {}", reply.text());
    let json = reply.json();
    let code = kind.error_code();
    assert_eq!(json["error"], code.unwrap_or("unauthorized"));
    assert_eq!(json["error_description"], description);
    let expected_challenge = match code {
        // Not an authentication failure: no challenge (RFC 6750 §3).
        _ if matches!(
            kind.status(),
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
        ) =>
        {
            String::new()
        }
        None => "Bearer".to_owned(),
        Some(code) => {
            format!("Bearer error=\"{code}\", error_description=\"{description}\"")
        }
    };
    assert_eq!(reply.header(WWW_AUTHENTICATE), expected_challenge);
}

#[track_caller]
fn assert_missing(reply: &Reply) {
    assert_refused(reply, AuthErrorKind::MissingToken, "no token");
}

#[track_caller]
fn assert_too_large(reply: &Reply) {
    assert_refused(reply, AuthErrorKind::FormTooLarge, "form body too large");
}

// ---------------------------------------------------------------------------
// Urlencoded forms that pass.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn urlencoded_forms_reach_the_handler_byte_for_byte() {
    let token = token("ada");
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        let mut requests = 0;
        for at in POSITIONS {
            for size in SIZES {
                let (_, body) = urlencoded_form(&token, at, size);
                for sending in SENDINGS {
                    let reply = post_form(&server, URLENCODED, &body, sending, &[]).await;
                    assert_echoed(&reply, URLENCODED, &body, sending, "ada");
                    requests += 1;
                }
            }
        }
        assert_eq!(server.calls(), requests, "{backend:?}");
    }
}

#[tokio::test]
async fn a_form_of_exactly_the_limit_passes_and_one_byte_more_is_413() {
    let token = token("ada");
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        for sending in SENDINGS {
            let (_, at_limit) = urlencoded_form(&token, At::Last, Some(LIMIT));
            let reply = post_form(&server, URLENCODED, &at_limit, sending, &[]).await;
            assert_echoed(&reply, URLENCODED, &at_limit, sending, "ada");

            let (_, over) = urlencoded_form(&token, At::First, Some(LIMIT + 1));
            let reply = post_form(&server, URLENCODED, &over, sending, &[]).await;
            assert_too_large(&reply);
        }
        assert_eq!(server.calls(), SENDINGS.len(), "{backend:?}");
    }
}

#[tokio::test]
async fn axum_form_extractor_parses_the_form_again() {
    let token = token("ada");
    let server = start(Backend::Axum, Order::HeaderFirst).await;
    for at in POSITIONS {
        for sending in SENDINGS {
            let (fields, body) = urlencoded_form(&token, at, None);
            let reply = send(post(server.url("/form"), URLENCODED, &body, sending, &[])).await;
            assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.text());
            let expected: HashMap<_, _> = fields.into_iter().collect();
            assert_eq!(
                reply.json(),
                serde_json::json!({ "sub": "ada", "form": expected })
            );
        }
    }
}

#[tokio::test]
async fn content_type_parameters_and_case_do_not_hide_a_form() {
    let token = token("ada");
    let content_type = "Application/X-WWW-Form-Urlencoded; charset=UTF-8";
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        let (_, body) = urlencoded_form(&token, At::Middle, None);
        let reply = post_form(&server, content_type, &body, Sending::Whole, &[]).await;
        assert_echoed(&reply, content_type, &body, Sending::Whole, "ada");
    }
}

#[tokio::test]
async fn only_the_token_field_is_judged_and_the_same_token_twice_passes() {
    let token = token("ada");
    let bodies = [
        // Other fields are the application's business, however broken.
        format!("x=%zz&y=%FF&z=%&token={token}").into_bytes(),
        [b"latin1=caf\xE9&token=".as_slice(), token.as_bytes()].concat(),
        // The name may be encoded too.
        format!("tok%65n={token}").into_bytes(),
        format!("token={token}&a=1&token={token}").into_bytes(),
        // An empty repeat is no second token.
        format!("token=&token={token}").into_bytes(),
    ];
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        for body in &bodies {
            let reply = post_form(&server, URLENCODED, body, Sending::Chunked, &[]).await;
            assert_echoed(&reply, URLENCODED, body, Sending::Chunked, "ada");
        }
        assert_eq!(server.calls(), bodies.len(), "{backend:?}");
    }
}

// ---------------------------------------------------------------------------
// Urlencoded forms that are refused.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_bad_token_field_is_a_bad_request_that_never_reaches_the_handler() {
    let ada = token("ada");
    let bob = token("bob");
    let percent = "invalid percent-encoding in the token field";
    let utf8 = "the token field is not UTF-8";
    let multiple = "more than one token in the request";
    let cases: [(Vec<u8>, AuthErrorKind, &str); 7] = [
        (b"token=%zz".to_vec(), AuthErrorKind::MalformedForm, percent),
        (
            b"a=1&token=abc%2".to_vec(),
            AuthErrorKind::MalformedForm,
            percent,
        ),
        (b"token=%FF%FE".to_vec(), AuthErrorKind::MalformedForm, utf8),
        (b"token=a\xFFb".to_vec(), AuthErrorKind::MalformedForm, utf8),
        (
            format!("token={ada}&token={bob}").into_bytes(),
            AuthErrorKind::MultipleTokens,
            multiple,
        ),
        (
            format!("token={ada}&x=1&token={ada}x").into_bytes(),
            AuthErrorKind::MultipleTokens,
            multiple,
        ),
        (
            b"token=not-a-jwt".to_vec(),
            AuthErrorKind::MalformedToken,
            "token is not three segments",
        ),
    ];
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        for (body, kind, description) in &cases {
            for sending in [Sending::Whole, Sending::Chunked] {
                let reply = post_form(&server, URLENCODED, body, sending, &[]).await;
                assert_refused(&reply, *kind, description);
            }
        }
        assert_eq!(server.calls(), 0, "{backend:?}");
    }
}

#[tokio::test]
async fn an_empty_or_absent_token_field_is_a_missing_token() {
    let bodies: [&[u8]; 5] = [b"", b"token=", b"token", b"token=&a=1&token=", b"a=1&b=2"];
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        for body in bodies {
            for sending in SENDINGS {
                let reply = post_form(&server, URLENCODED, body, sending, &[]).await;
                assert_missing(&reply);
            }
        }
        assert_eq!(server.calls(), 0, "{backend:?}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_a_form_is_not_searched() {
    let token = token("ada");
    let body = format!("token={token}");
    let json = serde_json::json!({ "token": token }).to_string();
    let cases = [
        ("text/plain", body.as_str()),
        ("application/json", json.as_str()),
        ("application/x-www-form-urlencodedx", body.as_str()),
        // Without the `multipart` feature, or without a boundary, not a form.
        ("multipart/form-data", body.as_str()),
    ];
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        for (content_type, body) in cases {
            let reply =
                post_form(&server, content_type, body.as_bytes(), Sending::Whole, &[]).await;
            assert_missing(&reply);
        }
        let no_content_type = Request::post(server.url("/echo"))
            .body(whole(body.as_bytes()))
            .expect("request");
        assert_missing(&send(no_content_type).await);
        assert_eq!(server.calls(), 0, "{backend:?}");
    }
}

#[tokio::test]
async fn a_get_with_a_form_content_type_and_no_body_is_a_missing_token() {
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        let request = Request::get(server.url("/echo"))
            .header(CONTENT_TYPE, URLENCODED)
            .body(whole(b""))
            .expect("request");
        assert_missing(&send(request).await);
        assert_eq!(server.calls(), 0, "{backend:?}");
    }
}

// ---------------------------------------------------------------------------
// The limit.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_declared_length_over_the_limit_is_413_before_any_body_byte() {
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        // Only the head is sent: the answer cannot have waited for the body.
        let mut stream = connect(&server).await;
        let head = format!(
            "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: {URLENCODED}\r\n\
             Content-Length: {}\r\n\r\n",
            1 << 30
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        let reply = read_reply(&mut stream).await.expect("an answer");
        assert_too_large(&reply);

        // The same through a client that sends the body.
        let (_, body) = urlencoded_form(&token("ada"), At::First, Some(4 * LIMIT));
        for sending in [Sending::Whole, Sending::Streamed] {
            let reply = post_form(&server, URLENCODED, &body, sending, &[]).await;
            assert_too_large(&reply);
        }
        assert_eq!(server.calls(), 0, "{backend:?}");
    }
}

#[tokio::test]
async fn a_chunked_body_growing_past_the_limit_is_413_without_waiting_for_its_end() {
    // The feeder would send this much in all; the answer must come long before.
    const MAX: usize = 1024 * LIMIT;
    let token = token("ada");
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        let (sender, body) = fed();
        let request = Request::post(server.url("/echo"))
            .header(CONTENT_TYPE, URLENCODED)
            .body(body)
            .expect("request");
        let first = Bytes::from(format!("token={token}&pad="));
        let feed = async move {
            let pad = Bytes::from(vec![b'x'; 512]);
            let mut sent = 0;
            let mut next = first;
            while sent < MAX && sender.send(next.clone()).await.is_ok() {
                sent += next.len();
                next = pad.clone();
            }
            sent
        };
        let (reply, sent) = tokio::join!(send(request), feed);
        assert_too_large(&reply);
        assert!(sent < MAX, "{backend:?}: the whole body was sent");
        assert_eq!(server.calls(), 0, "{backend:?}");
    }
}

// ---------------------------------------------------------------------------
// Clients that misbehave.
// ---------------------------------------------------------------------------

/// A form request whose body stops short of what its head announces: a
/// `Content-Length` of 1000 with about 100 bytes sent, or a chunk cut short.
fn cut_short(token: &str, chunked: bool) -> Vec<u8> {
    let partial = format!("token={token}&pad=xxxxxxxxxx");
    let head = format!("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: {URLENCODED}\r\n");
    let request = if chunked {
        let length = partial.len();
        format!("{head}Transfer-Encoding: chunked\r\n\r\n{length:x}\r\n{partial}\r\n400\r\nxx")
    } else {
        format!("{head}Content-Length: 1000\r\n\r\n{partial}")
    };
    request.into_bytes()
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_body_never_reaches_the_handler() {
    let token = token("ada");
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        for chunked in [false, true] {
            // Half-closed: the server sees the end of the stream mid-body and
            // can still answer.
            let mut stream = connect(&server).await;
            stream
                .write_all(&cut_short(&token, chunked))
                .await
                .expect("write");
            stream.shutdown().await.expect("shutdown");
            let reply = read_reply(&mut stream).await.expect("an answer");
            assert_refused(
                &reply,
                AuthErrorKind::UnreadableBody,
                "the form body could not be read",
            );

            // Fully closed: nobody to answer.
            let mut stream = connect(&server).await;
            stream
                .write_all(&cut_short(&token, chunked))
                .await
                .expect("write");
            drop(stream);
        }
        // And the server goes on serving.
        let (_, body) = urlencoded_form(&token, At::Middle, None);
        let reply = post_form(&server, URLENCODED, &body, Sending::Chunked, &[]).await;
        assert_echoed(&reply, URLENCODED, &body, Sending::Chunked, "ada");
        assert_eq!(server.calls(), 1, "{backend:?}");
    }
}

/// The form read timeout of the slow-client tests: short, so that they take
/// about a second each.
#[cfg(feature = "form-timeout")]
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1000);

#[cfg(feature = "form-timeout")]
fn timed_layer() -> JwtAuthLayer<User, DefaultResponder, WithForm> {
    JwtAuthLayer::<User>::builder()
        .key(Key::hmac(SECRET))
        .source(TokenSource::bearer())
        .form_field("token")
        .form_limit(LIMIT)
        .form_read_timeout(READ_TIMEOUT)
        .build()
        .expect("layer")
}

/// Attacking the demo: 2 000 connections that send a form body a byte at a
/// time held 2 000 descriptors until the clients stopped. The layer reads
/// the body, so it bounds its time: past the read timeout the answer is
/// `408`, the handler is never called, and the connection is let go while
/// the client still dribbles.
#[cfg(feature = "form-timeout")]
#[tokio::test]
async fn a_form_body_dribbled_past_the_read_timeout_is_408() {
    use std::time::{Duration, Instant};

    let form = format!("note=hi&token={}", token("ada"));
    let pause = Duration::from_millis(50);
    for backend in BACKENDS {
        let server = start_with(backend, timed_layer()).await;
        for chunked in [false, true] {
            let framing = if chunked {
                "Transfer-Encoding: chunked".to_owned()
            } else {
                format!("Content-Length: {}", form.len())
            };
            let head = format!(
                "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: {URLENCODED}\r\n{framing}\r\n\r\n"
            );
            // Chunked: one chunk announced whole, its bytes dribbled.
            let body = if chunked {
                format!("{:x}\r\n{form}\r\n0\r\n\r\n", form.len()).into_bytes()
            } else {
                form.clone().into_bytes()
            };
            // 50 ms a byte: the whole body would take several seconds.
            assert!(pause * body.len() as u32 > READ_TIMEOUT * 4);
            let started = Instant::now();
            let mut stream = connect(&server).await;
            let (mut read, mut write) = stream.split();
            write.write_all(head.as_bytes()).await.expect("write head");
            let dribbling = async {
                for &byte in &body {
                    tokio::time::sleep(pause).await;
                    if write.write_all(&[byte]).await.is_err() {
                        break;
                    }
                }
            };
            let answer = async {
                let mut buffer = Vec::new();
                let mut chunk = [0; 4096];
                // Until the server closes the connection (bounded by TIMEOUT).
                loop {
                    match read.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
                (buffer, started.elapsed())
            };
            let (buffer, elapsed) = tokio::select! {
                answer = answer => answer,
                () = dribbling => panic!("{backend:?}: the whole body was read"),
            };
            let context = format!("{backend:?} chunked={chunked}");
            let text = String::from_utf8_lossy(&buffer);
            assert!(text.starts_with("HTTP/1.1 408 "), "{context}: {text}");
            assert!(
                text.contains(r#""error_description":"the form body did not arrive in time""#),
                "{context}: {text}"
            );
            assert!(!text.contains("www-authenticate"), "{context}: {text}");
            // Not before the deadline; well before the body could end.
            assert!(elapsed >= READ_TIMEOUT, "{context}: {elapsed:?}");
            assert!(
                elapsed < pause * body.len() as u32,
                "{context}: {elapsed:?}"
            );
            drop(stream);
        }
        assert_eq!(server.calls(), 0, "{backend:?}");
    }
}

/// A slow client that keeps sending is not a dribbling one: a body that
/// arrives whole within the timeout is read and passed on.
#[cfg(feature = "form-timeout")]
#[tokio::test]
async fn a_slow_but_steady_form_within_the_read_timeout_passes() {
    use std::time::Duration;

    let (_, body) = urlencoded_form(&token("ada"), At::Middle, None);
    // About 300 ms in 10 frames, against a 1 s timeout.
    let frame = body.len().div_ceil(10);
    for backend in BACKENDS {
        let server = start_with(backend, timed_layer()).await;
        let (sender, client_body) = fed();
        let request = Request::post(server.url("/echo"))
            .header(CONTENT_TYPE, URLENCODED)
            .header(CONTENT_LENGTH, body.len())
            .header(CUSTOM.0, CUSTOM.1)
            .body(client_body)
            .expect("request");
        let feeding = {
            let body = body.clone();
            async move {
                for part in body.chunks(frame) {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    // A refused body is dropped: the reply tells why.
                    if sender.send(Bytes::copy_from_slice(part)).await.is_err() {
                        break;
                    }
                }
            }
        };
        let (reply, ()) = tokio::join!(send(request), feeding);
        assert_echoed(&reply, URLENCODED, &body, Sending::Streamed, "ada");
        assert_eq!(server.calls(), 1, "{backend:?}");
    }
}

/// The timeout is the layer's setting: `None` waits, `0` is refused.
#[cfg(feature = "form-timeout")]
#[test]
fn a_read_timeout_of_zero_is_a_configuration_error() {
    let builder = || {
        JwtAuthLayer::<User>::builder()
            .key(Key::hmac(SECRET))
            .form_field("token")
    };
    assert!(matches!(
        builder()
            .form_read_timeout(std::time::Duration::ZERO)
            .build(),
        Err(tower_jwt_auth::ConfigError::Empty {
            setting: "form_read_timeout"
        })
    ));
    assert!(builder().form_read_timeout(None).build().is_ok());
    let default = format!("{:?}", builder().build().expect("layer"));
    assert!(default.contains("timeout: Some(10s)"), "{default}");
}

#[tokio::test]
async fn a_connection_stays_usable_after_forms_read_or_refused() {
    let token = token("ada");
    let request = |body: &str, framing: &str| {
        format!(
            "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: {URLENCODED}\r\n{framing}\r\n\r\n{body}"
        )
    };
    let with_length = |body: &str| request(body, &format!("Content-Length: {}", body.len()));
    let chunked = |body: &str| {
        let framing = "Transfer-Encoding: chunked";
        request(&format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()), framing)
    };
    let good = format!("a=1&token={token}");
    // Read, refused after reading, read again, refused, read: one connection.
    let exchanges = [
        (with_length(&good), StatusCode::OK),
        (with_length("token=%zz"), StatusCode::BAD_REQUEST),
        (chunked(&good), StatusCode::OK),
        (chunked("a=1"), StatusCode::UNAUTHORIZED),
        (with_length(&good), StatusCode::OK),
    ];
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        let mut stream = connect(&server).await;
        for (request, status) in &exchanges {
            stream.write_all(request.as_bytes()).await.expect("write");
            let reply = read_reply(&mut stream).await.expect("an answer");
            assert_eq!(reply.status, *status, "{backend:?}: {}", reply.text());
            if *status == StatusCode::OK {
                assert_eq!(reply.text(), good);
            }
        }
        assert_eq!(server.calls(), 3, "{backend:?}");
    }
}

#[tokio::test]
async fn trailers_of_a_chunked_form_reach_the_handler() {
    let form = format!("token={}&a=1", token("ada"));
    let (first, rest) = form.split_at(10);
    let request = format!(
        "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: {URLENCODED}\r\n\
         Transfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n\
         {:x}\r\n{first}\r\n{:x}\r\n{rest}\r\n0\r\nx-checksum: abc123\r\n\r\n",
        first.len(),
        rest.len()
    );
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        let mut stream = connect(&server).await;
        stream.write_all(request.as_bytes()).await.expect("write");
        let reply = read_reply(&mut stream).await.expect("an answer");
        assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.text());
        assert_eq!(reply.text(), form);
        assert_eq!(reply.header("x-seen-sub"), "ada");
        assert_eq!(reply.header("x-seen-trailer-x-checksum"), "abc123");
    }
}

#[tokio::test]
async fn expect_100_continue_is_sent_only_for_a_form_that_is_read() {
    let (_, form) = urlencoded_form(&token("ada"), At::Last, None);
    let head = |length: usize| {
        format!(
            "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: {URLENCODED}\r\n\
             Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
        )
    };
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        // Within the limit: reading the body asks the client for it.
        let mut stream = connect(&server).await;
        stream
            .write_all(head(form.len()).as_bytes())
            .await
            .expect("write");
        let reply = read_reply(&mut stream).await.expect("an answer");
        assert_eq!(reply.status, StatusCode::CONTINUE);
        stream.write_all(&form).await.expect("write body");
        let reply = read_reply(&mut stream).await.expect("an answer");
        assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.text());
        assert!(reply.body == form);

        // Over the limit: refused at once, the body never asked for.
        let mut stream = connect(&server).await;
        stream
            .write_all(head(LIMIT + 1).as_bytes())
            .await
            .expect("write");
        let reply = read_reply(&mut stream).await.expect("an answer");
        assert_too_large(&reply);
        assert_eq!(server.calls(), 1, "{backend:?}");
    }
}

#[tokio::test]
async fn concurrent_forms_keep_their_own_bodies_and_claims() {
    const REQUESTS: usize = 16;
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        let exchanges = (0..REQUESTS).map(|i| {
            let sub = format!("user-{i}");
            let (_, body) = urlencoded_form(&token(&sub), POSITIONS[i % 3], Some(1000 + i));
            let request = post(server.url("/echo"), URLENCODED, &body, SENDINGS[i % 3], &[]);
            async move {
                let reply = send(request).await;
                assert_echoed(&reply, URLENCODED, &body, SENDINGS[i % 3], &sub);
            }
        });
        futures_util::future::join_all(exchanges).await;
        assert_eq!(server.calls(), REQUESTS, "{backend:?}");
    }
}

#[tokio::test]
async fn a_body_that_fails_mid_read_is_a_bad_request() {
    // A real server cannot be made to see a body error deterministically, so
    // the layer gets one straight from a body that yields it.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let service = ServiceBuilder::new()
        .layer(layer(Order::HeaderFirst))
        .service(service_fn(move |request: Request<RequestBody<_>>| {
            let calls = counter.clone();
            async move { Ok::<_, Infallible>(echo(&calls, request).await) }
        }));
    let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
        Ok(Frame::data(Bytes::from_static(b"a=1&tok"))),
        Err(std::io::Error::other("connection reset")),
    ];
    let request = Request::post("/")
        .header(CONTENT_TYPE, URLENCODED)
        .body(StreamBody::new(futures_util::stream::iter(frames)))
        .expect("request");
    let response = service.oneshot(request).await.expect("infallible");
    let error = response
        .extensions()
        .get::<AuthError>()
        .expect("the error in the extensions")
        .clone();
    assert_eq!(error.kind(), AuthErrorKind::UnreadableBody);
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let source = std::error::Error::source(&error).expect("the body error as source");
    assert_eq!(source.to_string(), "connection reset");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------
// The form source beside the header source.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn form_first_a_header_token_must_agree_with_the_form() {
    let ada = token("ada");
    let bob = token("bob");
    let (_, body) = urlencoded_form(&ada, At::Middle, None);
    let no_token = urlencode(&other_fields(10));
    let (agree, disagree) = (bearer(&ada), bearer(&bob));
    let agree = [(AUTHORIZATION, agree.as_str())];
    let disagree = [(AUTHORIZATION, disagree.as_str())];
    for backend in BACKENDS {
        let server = start(backend, Order::FormFirst).await;
        for sending in SENDINGS {
            let reply = post_form(&server, URLENCODED, &body, sending, &agree).await;
            assert_echoed(&reply, URLENCODED, &body, sending, "ada");

            let reply = post_form(&server, URLENCODED, &body, sending, &disagree).await;
            assert_refused(
                &reply,
                AuthErrorKind::MultipleTokens,
                "more than one token in the request",
            );

            // The body is read and holds no token: the header's is used.
            let reply = post_form(&server, URLENCODED, &no_token, sending, &disagree).await;
            assert_echoed(&reply, URLENCODED, &no_token, sending, "bob");
        }
        // The form comes first, so even with a header token the body must be
        // read, and the limit applies.
        let (_, big) = urlencoded_form(&ada, At::Last, Some(LIMIT + 1));
        for sending in SENDINGS {
            let reply = post_form(&server, URLENCODED, &big, sending, &agree).await;
            assert_too_large(&reply);
        }
        assert_eq!(server.calls(), 2 * SENDINGS.len(), "{backend:?}");
    }
}

#[tokio::test]
async fn header_first_a_header_token_means_the_body_is_never_read() {
    let ada = token("ada");
    let bob = token("bob");
    let authorization = bearer(&bob);
    let header = [(AUTHORIZATION, authorization.as_str())];
    let big = urlencoded_form(&ada, At::First, Some(3 * LIMIT)).1;
    let bodies: [Vec<u8>; 4] = [
        // Each of these would be refused if the body were read.
        b"token=%zz".to_vec(),
        format!("token={ada}&token={bob}").into_bytes(),
        format!("token={ada}").into_bytes(),
        big,
    ];
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        for body in &bodies {
            for sending in SENDINGS {
                let reply = post_form(&server, URLENCODED, body, sending, &header).await;
                assert_echoed(&reply, URLENCODED, body, sending, "bob");
            }
        }
        // Not even the head-only over-limit check applies.
        let mut stream = connect(&server).await;
        let request = format!(
            "POST /echo HTTP/1.1\r\nHost: test\r\nAuthorization: {authorization}\r\n\
             Content-Type: {URLENCODED}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            bodies[3].len()
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        stream.write_all(&bodies[3]).await.expect("write body");
        let reply = read_reply(&mut stream).await.expect("an answer");
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body == bodies[3]);
        assert_eq!(
            server.calls(),
            bodies.len() * SENDINGS.len() + 1,
            "{backend:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Multipart forms (the `multipart` feature).
// ---------------------------------------------------------------------------

#[cfg(feature = "multipart")]
mod multipart {
    use super::*;

    const BOUNDARY: &str = "----tower-jwt-auth-7MA4YWxkTrZu0gW";

    fn content_type() -> String {
        format!("multipart/form-data; boundary={BOUNDARY}")
    }

    struct Part {
        name: &'static str,
        file_name: Option<&'static str>,
        data: Vec<u8>,
    }

    fn text(name: &'static str, value: &str) -> Part {
        Part {
            name,
            file_name: None,
            data: value.as_bytes().to_vec(),
        }
    }

    /// Binary bytes, CRLFs, and text that looks like the boundary without
    /// being a delimiter (a delimiter is CRLF, `--`, the whole boundary).
    fn file(size: usize) -> Part {
        let mut data: Vec<u8> = (0..=255).collect();
        data.extend_from_slice(b"\r\n\r\n--");
        data.extend_from_slice(&BOUNDARY.as_bytes()[..BOUNDARY.len() - 1]);
        data.extend_from_slice(b"\r\nnot a delimiter: x--");
        data.extend_from_slice(BOUNDARY.as_bytes());
        data.extend_from_slice(b"--\r\n");
        data.resize(data.len().max(size), b'\r');
        Part {
            name: "upload",
            file_name: Some("blob.bin"),
            data,
        }
    }

    fn encode(parts: &[Part]) -> Vec<u8> {
        let mut body = Vec::new();
        for part in parts {
            body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            let disposition = match part.file_name {
                Some(file) => format!(
                    "Content-Disposition: form-data; name=\"{}\"; filename=\"{file}\"\r\n\
                     Content-Type: application/octet-stream\r\n",
                    part.name
                ),
                None => format!("Content-Disposition: form-data; name=\"{}\"\r\n", part.name),
            };
            body.extend_from_slice(disposition.as_bytes());
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(&part.data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        body
    }

    /// A multipart form with the token at `at`, of about `size` bytes (the
    /// file grows to fill it).
    fn form(token: &str, at: At, size: Option<usize>) -> (Vec<Part>, Vec<u8>) {
        let build = |file_size| {
            let mut parts = vec![text("name", "Ada"), file(file_size), text("note", "ü\r\n")];
            parts.insert(at.index(parts.len()), text("token", token));
            parts
        };
        let unpadded = encode(&build(0));
        let parts = build(size.map_or(0, |size| size - unpadded.len() + file(0).data.len()));
        let body = encode(&parts);
        if let Some(size) = size {
            assert_eq!(body.len(), size);
        }
        (parts, body)
    }

    #[tokio::test]
    async fn multipart_forms_reach_the_handler_byte_for_byte() {
        let token = token("ada");
        let content_type = content_type();
        for backend in BACKENDS {
            let server = start(backend, Order::HeaderFirst).await;
            let mut requests = 0;
            for at in POSITIONS {
                for size in SIZES {
                    let (_, body) = form(&token, at, size);
                    for sending in SENDINGS {
                        let reply = post_form(&server, &content_type, &body, sending, &[]).await;
                        assert_echoed(&reply, &content_type, &body, sending, "ada");
                        requests += 1;
                    }
                }
            }
            assert_eq!(server.calls(), requests, "{backend:?}");
        }
    }

    #[tokio::test]
    async fn axum_multipart_extractor_sees_every_field() {
        let token = token("ada");
        let content_type = content_type();
        let server = start(Backend::Axum, Order::HeaderFirst).await;
        for at in POSITIONS {
            for size in SIZES {
                let (parts, body) = form(&token, at, size);
                let expected: Vec<_> = parts
                    .iter()
                    .map(|p| serde_json::json!([p.name, p.file_name, p.data]))
                    .collect();
                for sending in SENDINGS {
                    let url = server.url("/multipart");
                    let reply = send(post(url, &content_type, &body, sending, &[])).await;
                    assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.text());
                    assert_eq!(
                        reply.json(),
                        serde_json::json!({ "sub": "ada", "fields": expected })
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn a_quoted_boundary_a_preamble_and_an_epilogue_are_understood() {
        let content_type = format!("Multipart/Form-Data; charset=utf-8; boundary=\"{BOUNDARY}\"");
        let (parts, form) = form(&token("ada"), At::Last, None);
        let body = [b"a preamble\r\n".as_slice(), &form, b"an epilogue\r\n"].concat();
        let expected: Vec<_> = parts
            .iter()
            .map(|p| serde_json::json!([p.name, p.file_name, p.data]))
            .collect();
        for backend in BACKENDS {
            let server = start(backend, Order::HeaderFirst).await;
            let reply = post_form(&server, &content_type, &body, Sending::Chunked, &[]).await;
            assert_echoed(&reply, &content_type, &body, Sending::Chunked, "ada");
        }
        let server = start(Backend::Axum, Order::HeaderFirst).await;
        let url = server.url("/multipart");
        let reply = send(post(url, &content_type, &body, Sending::Whole, &[])).await;
        assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.text());
        assert_eq!(
            reply.json(),
            serde_json::json!({ "sub": "ada", "fields": expected })
        );
    }

    #[tokio::test]
    async fn a_multipart_form_over_the_limit_is_413() {
        let token = token("ada");
        let content_type = content_type();
        for backend in BACKENDS {
            let server = start(backend, Order::HeaderFirst).await;
            let (_, at_limit) = form(&token, At::Last, Some(LIMIT));
            let (_, over) = form(&token, At::First, Some(LIMIT + 1));
            for sending in SENDINGS {
                let reply = post_form(&server, &content_type, &at_limit, sending, &[]).await;
                assert_echoed(&reply, &content_type, &at_limit, sending, "ada");
                let reply = post_form(&server, &content_type, &over, sending, &[]).await;
                assert_too_large(&reply);
            }
            assert_eq!(server.calls(), SENDINGS.len(), "{backend:?}");
        }
    }

    #[tokio::test]
    async fn bad_multipart_token_fields_are_refused() {
        let ada = token("ada");
        let bob = token("bob");
        let content_type = content_type();
        let truncated = {
            let mut body = encode(&[text("token", &ada), file(0)]);
            body.truncate(body.len() - 10);
            body
        };
        let cases: [(Vec<u8>, AuthErrorKind, &str); 5] = [
            (
                encode(&[text("token", &ada), file(0), text("token", &bob)]),
                AuthErrorKind::MultipleTokens,
                "more than one token in the request",
            ),
            (
                encode(&[
                    file(0),
                    Part {
                        name: "token",
                        file_name: None,
                        data: b"a\xFFb".to_vec(),
                    },
                ]),
                AuthErrorKind::MalformedForm,
                "the token field is not UTF-8",
            ),
            (
                truncated,
                AuthErrorKind::MalformedForm,
                "invalid multipart body",
            ),
            (
                encode(&[text("name", "Ada"), text("token", "")]),
                AuthErrorKind::MissingToken,
                "no token",
            ),
            (
                encode(&[text("name", "Ada")]),
                AuthErrorKind::MissingToken,
                "no token",
            ),
        ];
        for backend in BACKENDS {
            let server = start(backend, Order::HeaderFirst).await;
            for (body, kind, description) in &cases {
                for sending in [Sending::Whole, Sending::Chunked] {
                    let reply = post_form(&server, &content_type, body, sending, &[]).await;
                    assert_refused(&reply, *kind, description);
                }
            }
            // The same token twice is one token.
            let body = encode(&[text("token", &ada), file(0), text("token", &ada)]);
            let reply = post_form(&server, &content_type, &body, Sending::Chunked, &[]).await;
            assert_echoed(&reply, &content_type, &body, Sending::Chunked, "ada");
            assert_eq!(server.calls(), 1, "{backend:?}");
        }
    }

    /// RFC 2046 §5.1.1: a boundary has 1 to 70 characters. An empty one used
    /// to be handed to the parser, which accepted the body; now such a form
    /// is a 400 before a byte of it is read. (None at all is no form: see
    /// `a_body_that_is_not_a_form_is_not_searched`.)
    #[tokio::test]
    async fn a_boundary_that_is_empty_or_over_70_characters_is_400() {
        let token = token("ada");
        let body_with = |boundary: &str| {
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n\
                 {token}\r\n--{boundary}--\r\n"
            )
            .into_bytes()
        };
        let seventy = "7".repeat(70);
        let seventy_one = "7".repeat(71);
        let refused = [
            ("multipart/form-data; boundary=".to_owned(), body_with("")),
            (
                "multipart/form-data; boundary=\"\"".to_owned(),
                body_with(""),
            ),
            (
                format!("multipart/form-data; boundary={seventy_one}"),
                body_with(&seventy_one),
            ),
        ];
        let accepted = format!("multipart/form-data; boundary={seventy}");
        for backend in BACKENDS {
            let server = start(backend, Order::HeaderFirst).await;
            for (content_type, body) in &refused {
                for sending in SENDINGS {
                    let reply = post_form(&server, content_type, body, sending, &[]).await;
                    assert_refused(
                        &reply,
                        AuthErrorKind::MalformedForm,
                        "the multipart boundary is empty or over 70 characters",
                    );
                }
            }
            // Before reading: a body that never comes is not waited for.
            let mut stream = connect(&server).await;
            let head = format!(
                "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: {}\r\n\
                 Content-Length: 1000\r\n\r\n",
                refused[0].0
            );
            stream.write_all(head.as_bytes()).await.expect("write");
            let reply = read_reply(&mut stream).await.expect("an answer");
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{backend:?}");
            // A header token means the body is never read, nor judged.
            let header = bearer(&token);
            let reply = post_form(
                &server,
                &refused[0].0,
                &refused[0].1,
                Sending::Whole,
                &[(AUTHORIZATION, &header)],
            )
            .await;
            assert_echoed(&reply, &refused[0].0, &refused[0].1, Sending::Whole, "ada");
            // 70 characters is a boundary.
            let body = body_with(&seventy);
            let reply = post_form(&server, &accepted, &body, Sending::Chunked, &[]).await;
            assert_echoed(&reply, &accepted, &body, Sending::Chunked, "ada");
            assert_eq!(server.calls(), 2, "{backend:?}");
        }
    }

    #[tokio::test]
    async fn form_first_a_header_token_must_agree_with_the_multipart_form() {
        let ada = token("ada");
        let bob = token("bob");
        let content_type = content_type();
        let (_, body) = form(&ada, At::Middle, None);
        for backend in BACKENDS {
            let server = start(backend, Order::FormFirst).await;
            let header = bearer(&ada);
            let reply = post_form(
                &server,
                &content_type,
                &body,
                Sending::Chunked,
                &[(AUTHORIZATION, &header)],
            )
            .await;
            assert_echoed(&reply, &content_type, &body, Sending::Chunked, "ada");
            let header = bearer(&bob);
            let reply = post_form(
                &server,
                &content_type,
                &body,
                Sending::Chunked,
                &[(AUTHORIZATION, &header)],
            )
            .await;
            assert_refused(
                &reply,
                AuthErrorKind::MultipleTokens,
                "more than one token in the request",
            );
            assert_eq!(server.calls(), 1, "{backend:?}");
        }
    }
}

/// Without the feature a multipart body is not a form: it is passed on
/// unread, and its token field counts for nothing.
#[cfg(not(feature = "multipart"))]
#[tokio::test]
async fn without_the_multipart_feature_a_multipart_body_is_not_read() {
    let boundary = "XyZ";
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let token = token("ada");
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n{token}\r\n\
         --{boundary}--\r\n"
    );
    for backend in BACKENDS {
        let server = start(backend, Order::HeaderFirst).await;
        let reply = post_form(&server, &content_type, body.as_bytes(), Sending::Whole, &[]).await;
        assert_missing(&reply);
        let header = bearer(&token);
        let reply = post_form(
            &server,
            &content_type,
            body.as_bytes(),
            Sending::Chunked,
            &[(AUTHORIZATION, &header)],
        )
        .await;
        assert_echoed(
            &reply,
            &content_type,
            body.as_bytes(),
            Sending::Chunked,
            "ada",
        );
        assert_eq!(server.calls(), 1, "{backend:?}");
    }
}
