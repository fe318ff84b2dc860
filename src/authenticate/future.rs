//! [`ResponseFuture`]: the response future of [`JwtAuth`](crate::JwtAuth) with head sources.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::deferred::Deferred;
use crate::answer::Answer;
use crate::body::ResponseBody;
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
        Answer { #[pin] answer: Answer<F> },
        Deferred { deferred: Deferred<S, B, C, R> },
    }
}

impl<F, S, B, C, R> ResponseFuture<F, S, B, C, R> {
    pub(crate) fn answer(answer: Answer<F>) -> Self {
        Self {
            state: State::Answer { answer },
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
            let answer = match self.as_mut().project().state.project() {
                StateProj::Answer { answer } => return answer.poll(cx),
                StateProj::Deferred { deferred } => ready!(deferred.poll_next(cx)),
            };
            self.as_mut().project().state.set(State::Answer { answer });
        }
    }
}
