//! The response futures of [`Require`](super::Require): [`RequireFuture`] for
//! synchronous rules, [`AsyncRequireFuture`] with asynchronous predicates.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::rule::{Check, not_met};
use super::service::Config;
use crate::answer::Answer;
use crate::body::ResponseBody;
use crate::claims::Claims;
use crate::error::AuthError;
use crate::response::ErrorResponder;

pin_project! {
    /// The response future of [`Require`](super::Require) with synchronous
    /// rules only. No box: the inner service's future, or the rejection,
    /// ready at once.
    pub struct RequireFuture<F> {
        #[pin]
        answer: Answer<F>,
    }
}

impl<F> RequireFuture<F> {
    pub(crate) fn inner(future: F) -> Self {
        Self {
            answer: Answer::inner(future),
        }
    }

    pub(crate) fn rejected(response: Response<Bytes>) -> Self {
        Self {
            answer: Answer::rejected(response),
        }
    }
}

impl<F> fmt::Debug for RequireFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for RequireFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().answer.poll(cx)
    }
}

pin_project! {
    /// The response future of [`Require`](super::Require) with asynchronous
    /// predicates: runs them one after the other (the predicate's own future is
    /// boxed), then calls the inner service it owns; or the inner service's
    /// future, when the request needed no asynchronous check; or the
    /// rejection.
    pub struct AsyncRequireFuture<F, S, B, C, R> {
        #[pin]
        state: State<F, S, B, C, R>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, B, C, R> {
        Answer { #[pin] answer: Answer<F> },
        Checking {
            check: Check,
            // The next asynchronous predicate.
            next: usize,
            // The ready inner service and the request, until the call.
            call: Option<(S, Request<B>)>,
            config: Arc<Config<C, R>>,
        },
    }
}

impl<F, S, B, C, R> AsyncRequireFuture<F, S, B, C, R> {
    pub(crate) fn inner(future: F) -> Self {
        Self::answer(Answer::inner(future))
    }

    pub(crate) fn rejected(response: Response<Bytes>) -> Self {
        Self::answer(Answer::rejected(response))
    }

    fn answer(answer: Answer<F>) -> Self {
        Self {
            state: State::Answer { answer },
        }
    }

    /// Awaits `check` (the first asynchronous predicate), then the others, then
    /// calls `service` (which must be ready) with `request`.
    pub(crate) fn checking(
        check: Check,
        service: S,
        request: Request<B>,
        config: Arc<Config<C, R>>,
    ) -> Self {
        Self {
            state: State::Checking {
                check,
                next: 1,
                call: Some((service, request)),
                config,
            },
        }
    }
}

impl<F, S, B, C, R> fmt::Debug for AsyncRequireFuture<F, S, B, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRequireFuture").finish_non_exhaustive()
    }
}

impl<S, B, C, R, ResBody> Future for AsyncRequireFuture<S::Future, S, B, C, R>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    C: Send + Sync + 'static,
    R: ErrorResponder,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Answer { answer } => return answer.poll(cx),
                StateProj::Checking {
                    check,
                    next,
                    call,
                    config,
                } => {
                    if !ready!(check.as_mut().poll(cx)) {
                        Answer::rejected(config.reject(not_met()))
                    } else {
                        let (_, request) = call
                            .as_ref()
                            .expect("AsyncRequireFuture polled after completion");
                        // `call` found the claims, and nothing else holds the
                        // request: they are still there.
                        let following = request
                            .extensions()
                            .get::<Claims<C>>()
                            .map(|Claims(claims)| config.rules.async_check(*next, claims));
                        match following {
                            None => Answer::rejected(config.reject(AuthError::missing_token())),
                            Some(Some(following)) => {
                                *check = following;
                                *next += 1;
                                continue;
                            }
                            Some(None) => {
                                let (mut service, request) = call.take().expect("taken once");
                                Answer::inner(service.call(request))
                            }
                        }
                    }
                }
            };
            self.as_mut()
                .project()
                .state
                .set(State::Answer { answer: next });
        }
    }
}
