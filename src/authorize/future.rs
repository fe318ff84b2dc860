//! The response futures of [`Require`](super::Require): [`RequireFuture`] for
//! synchronous rules, [`AsyncRequireFuture`] with asynchronous predicates.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Extensions, Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::config::{Config, under_token_challenge};
use super::rule::{Check, not_met};
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
    pub struct AsyncRequireFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<B>>,
    {
        Answer { #[pin] answer: Answer<S::Future> },
        Checking {
            check: Check,
            // The next asynchronous predicate.
            next: usize,
            // The ready inner service and the request, until the call.
            call: Option<(S, Request<B>)>,
            rules: Arc<dyn AsyncRules>,
        },
    }
}

/// The asynchronous predicates of a layer and its responder, for any claims
/// type: the future that runs them is already waiting, so one virtual call
/// per predicate costs nothing that counts, and the future needs neither
/// type.
pub(crate) trait AsyncRules: Send + Sync + 'static {
    /// Predicate `index` over the request's claims, if there is one; the
    /// missing-token error when the request has no claims.
    fn next(&self, index: usize, extensions: &Extensions) -> Result<Option<Check>, AuthError>;

    fn refuse(&self, error: AuthError) -> Response<Bytes>;
}

impl<C, R> AsyncRules for Config<C, R>
where
    C: Send + Sync + 'static,
    R: ErrorResponder,
{
    fn next(&self, index: usize, extensions: &Extensions) -> Result<Option<Check>, AuthError> {
        let Claims(claims) = extensions
            .get::<Claims<C>>()
            .ok_or_else(AuthError::missing_token)?;
        Ok(self.rules.async_check(index, claims))
    }

    fn refuse(&self, error: AuthError) -> Response<Bytes> {
        Config::refuse(self, error)
    }
}

impl<S, B> AsyncRequireFuture<S, B>
where
    S: Service<Request<B>>,
{
    pub(crate) fn inner(future: S::Future) -> Self {
        Self::answer(Answer::inner(future))
    }

    pub(crate) fn rejected(response: Response<Bytes>) -> Self {
        Self::answer(Answer::rejected(response))
    }

    fn answer(answer: Answer<S::Future>) -> Self {
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
        rules: Arc<dyn AsyncRules>,
    ) -> Self {
        Self {
            state: State::Checking {
                check,
                next: 1,
                call: Some((service, request)),
                rules,
            },
        }
    }
}

impl<S, B> fmt::Debug for AsyncRequireFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRequireFuture").finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Future for AsyncRequireFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
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
                    rules,
                } => {
                    let passed = ready!(check.as_mut().poll(cx));
                    let (_, request) = call
                        .as_ref()
                        .expect("AsyncRequireFuture polled after completion");
                    let refuse = |error| {
                        let error = under_token_challenge(error, request.extensions());
                        Answer::rejected(rules.refuse(error))
                    };
                    if !passed {
                        refuse(not_met())
                    } else {
                        // `call` found the claims, and nothing else holds the
                        // request: they are still there.
                        match rules.next(*next, request.extensions()) {
                            Err(error) => refuse(error),
                            Ok(Some(following)) => {
                                *check = following;
                                *next += 1;
                                continue;
                            }
                            Ok(None) => {
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
