//! [`FormResponseFuture`]: reads the form body when it must, then calls the
//! inner service.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::request::Parts;
use http::{HeaderMap, Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::body::RequestBody;
use super::parse::{FormKind, form_field};
use crate::authenticator::Authenticator;
use crate::body::ResponseBody;
use crate::deferred::{Deferred, Verdict};
use crate::error::{AuthError, AuthErrorKind, BoxError};
use crate::future::Answer;
use crate::response::ErrorResponder;

pin_project! {
    /// The response future of [`JwtAuth`](crate::JwtAuth) with a form source.
    ///
    /// A named state machine, no box: the inner service's future; a ready
    /// rejection; or, for requests whose token may be in the form, the reading of
    /// the body (bounded by the form limit) followed by the call.
    pub struct FormResponseFuture<F, S, B, C, R> {
        #[pin]
        state: State<F, S, B, C, R>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, B, C, R> {
        Answer { #[pin] answer: Answer<F> },
        Reading {
            #[pin]
            body: B,
            read: Option<Read<S, R>>,
        },
        Deferred { deferred: Deferred<S, RequestBody<B>, C, R> },
    }
}

/// What the reading state carries besides the body.
pub(crate) struct Read<S, R> {
    pub(crate) parts: Parts,
    /// The ready inner service, swapped out of the middleware.
    pub(crate) service: S,
    pub(crate) authenticator: Arc<Authenticator<R>>,
    pub(crate) kind: FormKind,
    pub(crate) field: Arc<str>,
    pub(crate) limit: usize,
    /// A token found in the head by a source after the form source.
    pub(crate) head_token: Option<String>,
    /// Whether that token came from a cookie (and so needs the CSRF check).
    pub(crate) head_from_cookie: bool,
    pub(crate) buffer: Buffer,
    pub(crate) trailers: Option<HeaderMap>,
}

impl<F, S, B, C, R> FormResponseFuture<F, S, B, C, R> {
    pub(crate) fn answer(answer: Answer<F>) -> Self {
        Self::with(State::Answer { answer })
    }

    pub(crate) fn reading(body: B, read: Read<S, R>) -> Self {
        Self::with(State::Reading {
            body,
            read: Some(read),
        })
    }

    pub(crate) fn deferred(deferred: Deferred<S, RequestBody<B>, C, R>) -> Self {
        Self::with(State::Deferred { deferred })
    }

    fn with(state: State<F, S, B, C, R>) -> Self {
        Self { state }
    }
}

impl<F, S, B, C, R> std::fmt::Debug for FormResponseFuture<F, S, B, C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormResponseFuture").finish_non_exhaustive()
    }
}

impl<S, B, C, R, ResBody> Future for FormResponseFuture<S::Future, S, B, C, R>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    R: ErrorResponder,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Answer { answer } => return answer.poll(cx),
                StateProj::Deferred { deferred } => State::Answer {
                    answer: ready!(deferred.poll_next(cx)),
                },
                StateProj::Reading { mut body, read } => {
                    let state = read
                        .as_mut()
                        .expect("FormResponseFuture polled after completion");
                    match ready!(poll_read(body.as_mut(), state, cx)) {
                        Ok(()) => {
                            let read = read.take().expect("taken once");
                            finish::<_, _, C, _, _>(read)
                        }
                        Err(error) => {
                            let read = read.take().expect("taken once");
                            State::Answer {
                                answer: Answer::rejected(read.authenticator.reject(error)),
                            }
                        }
                    }
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}

/// Reads the body into the buffer, up to the limit.
fn poll_read<B, S, R>(
    mut body: Pin<&mut B>,
    read: &mut Read<S, R>,
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

/// The body read so far. Most forms arrive in one frame: that frame is kept as
/// it is, without a copy; only a body of several frames is copied together.
pub(crate) struct Buffer {
    first: Bytes,
    joined: Option<BytesMut>,
    /// The declared length, to size the copy.
    capacity: usize,
}

impl Buffer {
    pub(crate) fn new(capacity: usize) -> Self {
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

pub(crate) fn too_large() -> AuthError {
    AuthError::new(AuthErrorKind::FormTooLarge, "form body too large")
}

/// The body is read: find the token, verify it, and call the inner service with
/// the same bytes.
fn finish<S, B, C, R, F>(read: Read<S, R>) -> State<F, S, B, C, R>
where
    S: Service<Request<RequestBody<B>>, Future = F>,
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    R: ErrorResponder,
{
    let Read {
        parts,
        mut service,
        authenticator,
        kind,
        field,
        limit: _,
        head_token,
        head_from_cookie,
        buffer,
        trailers,
    } = read;
    let data = buffer.into_bytes();
    let verdict = match form_field(&kind, &data, &field).and_then(|form_token| {
        match (form_token, head_token) {
            (Some(form), Some(head)) if form != head => Err(AuthError::new(
                AuthErrorKind::MultipleTokens,
                "more than one token in the request",
            )),
            (Some(form), _) => Ok((Some(form), false)),
            (None, head) => Ok((head, head_from_cookie)),
        }
    }) {
        Ok((token, from_cookie)) => {
            authenticator.claims::<C>(token.as_deref(), from_cookie, (&parts).into())
        }
        Err(error) => Verdict::Ready(Err(error)),
    };
    let request = || Request::from_parts(parts, RequestBody::buffered(data, trailers));
    match verdict {
        Verdict::Ready(Ok(claims)) => {
            let mut request = request();
            if let Some(claims) = claims {
                request.extensions_mut().insert(claims);
            }
            State::Answer {
                answer: Answer::inner(service.call(request)),
            }
        }
        Verdict::Ready(Err(error)) => State::Answer {
            answer: Answer::rejected(authenticator.reject(error)),
        },
        Verdict::Pending(check) => State::Deferred {
            deferred: Deferred::new(check, service, request(), authenticator),
        },
    }
}
