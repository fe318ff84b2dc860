//! [`ResponseFuture`]: the inner service's future, a ready rejection, or a
//! request waiting for a deferred check.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::deferred::{Deferred, Next};
use crate::response::ErrorResponder;

pin_project! {
    /// The response future of [`JwtAuth`](crate::JwtAuth) with head sources. No
    /// box on the common path: either the inner service's future, or the
    /// rejection, ready at once. A request that needs I/O before it can be
    /// decided (a remote key set to fetch again, a revocation store to ask)
    /// first waits for that check, then calls the inner service.
    pub struct ResponseFuture<F, S, B, C, R> {
        #[pin]
        state: State<F, S, B, C, R>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, B, C, R> {
        Inner { #[pin] future: F },
        Rejected { response: Option<Response<Bytes>> },
        Deferred { deferred: Deferred<S, B, C, R> },
    }
}

impl<F, S, B, C, R> ResponseFuture<F, S, B, C, R> {
    pub(crate) fn inner(future: F) -> Self {
        Self {
            state: State::Inner { future },
        }
    }

    pub(crate) fn rejected(response: Response<Bytes>) -> Self {
        Self {
            state: State::Rejected {
                response: Some(response),
            },
        }
    }

    pub(crate) fn deferred(deferred: Deferred<S, B, C, R>) -> Self {
        Self {
            state: State::Deferred { deferred },
        }
    }
}

impl<F, S, B, C, R> std::fmt::Debug for ResponseFuture<F, S, B, C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, B, C, R, ResBody> Future for ResponseFuture<S::Future, S, B, C, R>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    C: Clone + Send + Sync + 'static,
    R: ErrorResponder,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Inner { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                }
                StateProj::Deferred { deferred } => match ready!(deferred.poll_next(cx)) {
                    Next::Call(future) => State::Inner { future },
                    Next::Rejected(response) => State::Rejected {
                        response: Some(response),
                    },
                },
            };
            self.as_mut().project().state.set(next);
        }
    }
}
