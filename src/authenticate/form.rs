//! Form mode: the `Service` impl of [`JwtAuth`] with a form source, and its
//! [`FormResponseFuture`], which reads the body when it must (what users see
//! of this is documented on `JwtAuthBuilder::form_field`). After the read, the
//! flow is the head mode's: the same [`Verdict`] starts the same
//! [`ResponseFuture`], with the body's token.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http::{HeaderMap, Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::WithForm;
use super::config::Authenticator;
use super::deadline::Deadline;
use super::future::{Grant, ResponseFuture, Verdict};
use super::request_body::RequestBody;
use super::service::JwtAuth;
use crate::answer::take_ready;
use crate::body::ResponseBody;
use crate::checks::Carrier;
use crate::error::{AuthError, AuthErrorKind, BoxError};
use crate::response::ErrorResponder;
use crate::source::form::{FormKind, form_field, form_kind};

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAuth<S, C, R, WithForm>
where
    S: Service<Request<RequestBody<ReqBody>>, Response = Response<ResBody>> + Clone,
    ReqBody: Body<Data = Bytes>,
    ReqBody::Error: Into<BoxError>,
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    R: ErrorResponder,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = FormResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        self.authenticator.scrub(&mut request);
        let authenticator = &self.authenticator;
        if authenticator.lets_through(&request) {
            let preflight = Verdict::Pass(());
            return FormResponseFuture::started(
                preflight.start(&mut self.inner, request.map(RequestBody::untouched)),
            );
        }
        let located = match authenticator.sources.locate(&request) {
            Ok(located) => located,
            Err(error) => {
                let refused = Verdict::<()>::Refuse(authenticator.refuse(error));
                return FormResponseFuture::started(
                    refused.start(&mut self.inner, request.map(RequestBody::untouched)),
                );
            }
        };
        // The body is read only when no source before the form source found a
        // token and the request is a form.
        let read_form = authenticator.sources.form().and_then(|form| {
            (located.position > form.position)
                .then(|| form_kind(request.headers()))
                .flatten()
                .map(|kind| (form, kind))
        });
        let head_carrier = authenticator.sources.carrier(located.position);
        let Some((form, kind)) = read_form else {
            let verdict =
                authenticator.claims(located.token.as_deref(), head_carrier, (&request).into());
            authenticator.remove_tokens(&mut request);
            return FormResponseFuture::started(
                verdict.start(&mut self.inner, request.map(RequestBody::untouched)),
            );
        };
        // A form that cannot be parsed (a multipart boundary RFC 2046 does
        // not allow) is refused before a byte is read.
        let kind = match kind {
            Ok(kind) => kind,
            Err(error) => {
                let refused = Verdict::<()>::Refuse(authenticator.refuse(error));
                return FormResponseFuture::started(
                    refused.start(&mut self.inner, request.map(RequestBody::untouched)),
                );
            }
        };
        let declared = declared_length(request.headers());
        if declared.is_some_and(|length| length > form.limit as u64) {
            let refused = Verdict::<()>::Refuse(authenticator.refuse(too_large()));
            return FormResponseFuture::started(
                refused.start(&mut self.inner, request.map(RequestBody::untouched)),
            );
        }
        let head_token = located.token.map(Cow::into_owned);
        authenticator.remove_tokens(&mut request);
        let (field, limit) = (form.field.clone(), form.limit);
        let deadline = Deadline::after(form.timeout);
        let (parts, body) = request.into_parts();
        let read = Read {
            parts,
            // The ready service goes into the future; a fresh clone stays here.
            service: take_ready(&mut self.inner),
            authenticator: self.authenticator.clone(),
            kind,
            field,
            limit,
            head_token,
            head_carrier,
            buffer: Buffer::new(declared.map_or(0, |length| length as usize)),
            trailers: None,
        };
        FormResponseFuture::reading(body, deadline, read)
    }
}

/// The `Content-Length`, when there is a valid one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn too_large() -> AuthError {
    AuthError::new(AuthErrorKind::FormTooLarge, "form body too large")
}

fn timed_out() -> AuthError {
    AuthError::new(
        AuthErrorKind::FormReadTimeout,
        "the form body did not arrive in time",
    )
}

pin_project! {
    /// The response future of [`JwtAuth`](crate::JwtAuth) with a form source.
    ///
    /// A named state machine, no box of its own: for requests whose token may
    /// be in the form, the reading of the body (bounded by the form limit and,
    /// with the `form-timeout` feature, the form read timeout); then, as for
    /// every request, a [`ResponseFuture`].
    pub struct FormResponseFuture<S, B>
    where
        S: Service<Request<RequestBody<B>>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<RequestBody<B>>>,
    {
        Reading {
            #[pin]
            body: B,
            #[pin]
            deadline: Deadline,
            read: Option<Read<S>>,
        },
        Started { #[pin] future: ResponseFuture<S, RequestBody<B>> },
    }
}

impl<S, B> FormResponseFuture<S, B>
where
    S: Service<Request<RequestBody<B>>>,
{
    fn started(future: ResponseFuture<S, RequestBody<B>>) -> Self {
        Self {
            state: State::Started { future },
        }
    }

    fn reading(body: B, deadline: Deadline, read: Read<S>) -> Self {
        Self {
            state: State::Reading {
                body,
                deadline,
                read: Some(read),
            },
        }
    }
}

impl<S, B> fmt::Debug for FormResponseFuture<S, B>
where
    S: Service<Request<RequestBody<B>>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FormResponseFuture").finish_non_exhaustive()
    }
}

/// What the reading state carries besides the body.
struct Read<S> {
    parts: Parts,
    /// The ready inner service, swapped out of the middleware.
    service: S,
    /// The layer, with its claims type and responder erased: after the read,
    /// this request is as slow as a deferred one anyway.
    authenticator: Arc<dyn AfterRead>,
    kind: FormKind,
    field: Arc<str>,
    limit: usize,
    /// A token found in the head by a source after the form source.
    head_token: Option<String>,
    /// How the head carried that token (a cookie's needs the CSRF check).
    head_carrier: Carrier,
    buffer: Buffer,
    trailers: Option<HeaderMap>,
}

/// The authentication of a request whose body was read, for any claims type
/// and responder.
trait AfterRead: Send + Sync + 'static {
    /// The verdict on `token`; an accepted request's claims go into `parts`.
    fn verdict(
        self: Arc<Self>,
        token: Option<&str>,
        carrier: Carrier,
        parts: &mut Parts,
    ) -> Verdict<()>;

    fn refuse(&self, error: AuthError) -> Response<Bytes>;
}

impl<C, R> AfterRead for Authenticator<C, R>
where
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    R: ErrorResponder,
{
    fn verdict(
        self: Arc<Self>,
        token: Option<&str>,
        carrier: Carrier,
        parts: &mut Parts,
    ) -> Verdict<()> {
        match self.claims(token, carrier, (&*parts).into()) {
            Verdict::Pass(accepted) => {
                if let Some(forwarded) = accepted.grant(&mut parts.extensions) {
                    forwarded.apply(&mut parts.headers);
                }
                Verdict::Pass(())
            }
            Verdict::Refuse(response) => Verdict::Refuse(response),
            Verdict::Wait(check) => Verdict::Wait(check),
        }
    }

    fn refuse(&self, error: AuthError) -> Response<Bytes> {
        Authenticator::refuse(self, error)
    }
}

impl<S, B, ResBody> Future for FormResponseFuture<S, B>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>> + Clone,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let future = match self.as_mut().project().state.project() {
                StateProj::Started { future } => return future.poll(cx),
                StateProj::Reading {
                    mut body,
                    deadline,
                    read,
                } => {
                    let state = read
                        .as_mut()
                        .expect("FormResponseFuture polled after completion");
                    // The body first: one that is complete wins over a
                    // deadline that passed meanwhile.
                    let outcome = match poll_read(body.as_mut(), state, cx) {
                        Poll::Ready(outcome) => outcome,
                        Poll::Pending if deadline.poll_passed(cx) => Err(timed_out()),
                        Poll::Pending => return Poll::Pending,
                    };
                    // Starting the rest drops the body, and with it the
                    // connection's unread remainder.
                    finish(read.take().expect("taken once"), outcome)
                }
            };
            self.as_mut().project().state.set(State::Started { future });
        }
    }
}

/// Reads the body into the buffer, up to the limit.
fn poll_read<B, S>(
    mut body: Pin<&mut B>,
    read: &mut Read<S>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), AuthError>>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let limit = read.limit;
    loop {
        match ready!(body.as_mut().poll_frame(cx)) {
            None => return Poll::Ready(Ok(())),
            Some(Err(e)) => {
                return Poll::Ready(Err(AuthError::with_boxed_source(
                    AuthErrorKind::UnreadableBody,
                    "the form body could not be read",
                    e.into(),
                )));
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    if read.buffer.len() + data.len() > limit {
                        return Poll::Ready(Err(too_large()));
                    }
                    read.buffer.push(data);
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        read.trailers
                            .get_or_insert_with(HeaderMap::new)
                            .extend(trailers);
                    }
                }
            },
        }
    }
}

/// The body is read (or failed to be): find the token, verify it, and start
/// the rest of the flow with the same bytes.
fn finish<S, B>(read: Read<S>, outcome: Result<(), AuthError>) -> ResponseFuture<S, RequestBody<B>>
where
    S: Service<Request<RequestBody<B>>> + Clone,
{
    let Read {
        mut parts,
        mut service,
        authenticator,
        kind,
        field,
        head_token,
        head_carrier,
        buffer,
        trailers,
        ..
    } = read;
    let data = buffer.into_bytes();
    let token = outcome.and_then(|()| match (form_field(&kind, &data, &field)?, head_token) {
        (Some(form), Some(head)) if form != head => Err(AuthError::new(
            AuthErrorKind::MultipleTokens,
            "more than one token in the request",
        )),
        (Some(form), _) => Ok((Some(form), Carrier::Bearer)),
        (None, head) => Ok((head, head_carrier)),
    });
    let verdict = match token {
        Ok((token, carrier)) => authenticator.verdict(token.as_deref(), carrier, &mut parts),
        Err(error) => Verdict::Refuse(authenticator.refuse(error)),
    };
    // The clone `start` leaves behind for a waiting request is dropped here:
    // this future owned the ready service.
    let request = Request::from_parts(parts, RequestBody::buffered(data, trailers));
    verdict.start(&mut service, request)
}

/// The body read so far. Most forms arrive in one frame: that frame is kept as
/// it is, without a copy; only a body of several frames is copied together.
struct Buffer {
    first: Bytes,
    joined: Option<BytesMut>,
    /// The declared length, to size the copy.
    capacity: usize,
}

impl Buffer {
    fn new(capacity: usize) -> Self {
        Self {
            first: Bytes::new(),
            joined: None,
            capacity,
        }
    }

    fn len(&self) -> usize {
        self.joined.as_ref().map_or(self.first.len(), BytesMut::len)
    }

    fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        if self.first.is_empty() && self.joined.is_none() {
            self.first = data;
            return;
        }
        let first = &self.first;
        let capacity = self.capacity;
        self.joined
            .get_or_insert_with(|| {
                let mut joined = BytesMut::with_capacity(capacity.max(first.len()));
                joined.extend_from_slice(first);
                joined
            })
            .extend_from_slice(&data);
    }

    fn into_bytes(self) -> Bytes {
        match self.joined {
            Some(joined) => joined.freeze(),
            None => self.first,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http::{Request, Response, StatusCode};
    use http_body_util::{BodyExt, Full};
    use tower::{ServiceExt, service_fn};

    use crate::test_helpers::{SECRET, token};
    use crate::{AuthError, AuthErrorKind, Claims, JwtAuthLayer, Key, RequestBody, TokenSource};

    /// Echoes the body it received, prefixed with the claims' `sub`.
    async fn call(
        body: String,
        content_type: &str,
        limit: usize,
    ) -> (StatusCode, Bytes, Option<AuthErrorKind>) {
        let layer = JwtAuthLayer::<serde_json::Value>::builder()
            .key(Key::hmac(SECRET))
            .source(TokenSource::bearer())
            .form_field("token")
            .form_limit(limit)
            .build()
            .unwrap();
        let echo = service_fn(|req: Request<RequestBody<Full<Bytes>>>| async move {
            let sub = req
                .extensions()
                .get::<Claims<serde_json::Value>>()
                .unwrap()
                .0["sub"]
                .clone();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!(
                "{sub}|{}",
                String::from_utf8_lossy(&body)
            )))))
        });
        let req = Request::post("/")
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let res = tower::Layer::layer(&layer, echo)
            .oneshot(req)
            .await
            .unwrap();
        let kind = res.extensions().get::<AuthError>().map(AuthError::kind);
        let status = res.status();
        (
            status,
            res.into_body().collect().await.unwrap().to_bytes(),
            kind,
        )
    }

    #[tokio::test]
    async fn the_form_token_is_verified_and_the_body_passed_on_unchanged() {
        let body = format!("a=1&token={}&b=%20x", token());
        let (status, echoed, _) =
            call(body.clone(), "application/x-www-form-urlencoded", 1024).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(echoed, format!("\"ada\"|{body}"));
    }

    #[tokio::test]
    async fn over_the_limit_is_413_and_a_bad_token_field_is_400() {
        let body = format!("token={}&pad={}", token(), "x".repeat(2048));
        let (status, _, kind) = call(body, "application/x-www-form-urlencoded", 1024).await;
        assert_eq!(
            (status, kind),
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                Some(AuthErrorKind::FormTooLarge)
            )
        );
        let (status, _, kind) = call(
            "token=%zz".into(),
            "application/x-www-form-urlencoded",
            1024,
        )
        .await;
        assert_eq!(
            (status, kind),
            (StatusCode::BAD_REQUEST, Some(AuthErrorKind::MalformedForm))
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_a_form_is_not_read() {
        let (status, _, kind) = call(format!("token={}", token()), "text/plain", 1024).await;
        assert_eq!(
            (status, kind),
            (StatusCode::UNAUTHORIZED, Some(AuthErrorKind::MissingToken))
        );
    }

    /// Both ways through a form-mode layer (the head token decides, or the
    /// body is read) hand the inner service the subprotocol list without
    /// the token's entry.
    #[tokio::test]
    async fn the_websocket_token_entry_is_removed_in_form_mode_too() {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;

        let layer = JwtAuthLayer::<serde_json::Value>::builder()
            .key(Key::hmac(SECRET))
            .source(TokenSource::websocket_protocol())
            .form_field("token")
            .build()
            .unwrap();
        let seen = service_fn(|req: Request<RequestBody<Full<Bytes>>>| async move {
            let protocols = req.headers().get("sec-websocket-protocol").cloned();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                protocols.map(|p| p.as_bytes().to_vec()).unwrap_or_default(),
            ))))
        });
        let token = token();
        let entry = format!(
            "base64url.bearer.authorization.k8s.io.{}",
            URL_SAFE_NO_PAD.encode(&token)
        );
        let head = Request::get("/ws").header("sec-websocket-protocol", format!("chat, {entry}"));
        // The same token in the form as well: one token, the body read.
        let form = Request::post("/ws")
            .header("sec-websocket-protocol", format!("{entry}, chat"))
            .header("content-type", "application/x-www-form-urlencoded");
        for (request, body) in [(head, String::new()), (form, format!("token={token}"))] {
            let response = tower::Layer::layer(&layer, seen)
                .oneshot(request.body(Full::new(Bytes::from(body))).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, "chat");
        }
    }
}
