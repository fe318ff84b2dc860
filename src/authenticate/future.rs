//! [`Verdict`]: what authentication decided for one request, and
//! [`ResponseFuture`], where a verdict goes: the inner service's future, a
//! ready rejection, or a wait for a deferred check with the ready service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{Extensions, Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::answer::{Answer, take_ready};
use crate::body::ResponseBody;
use crate::checks::{AddTo as _, Gain};
use crate::claims::Claims;
use crate::error::TokenChallenge;
use crate::expiry::TokenExpiry;

use super::forward::ClaimHeaders;

/// A check that needs I/O: it resolves to what the request gains (its claims
/// among them), or to the response that refuses it. The claims type and the
/// responder are inside the box, so the futures that wait for it need neither.
pub(crate) type Pending = BoxFuture<'static, Result<Extensions, Response<Bytes>>>;

/// What authentication decided for one request.
pub(crate) enum Verdict<G> {
    /// Accepted, now: `G` goes into the request extensions.
    Pass(G),
    /// Refused, now.
    Refuse(Response<Bytes>),
    /// To be decided after some I/O.
    Wait(Pending),
}

/// What an accepted request gains in its extensions (and headers).
pub(crate) trait Grant {
    /// Inserts the extensions; returns the forwarded headers, for the
    /// caller to set.
    fn grant(self, extensions: &mut Extensions) -> Option<Box<ClaimHeaders>>;

    /// For a request that waits: the forwarded headers go into `extensions`
    /// too, which the response future sets as headers before the call.
    fn grant_deferred(self, extensions: &mut Extensions)
    where
        Self: Sized,
    {
        if let Some(forwarded) = self.grant(extensions) {
            extensions.insert(*forwarded);
        }
    }
}

/// An accepted token: its claims, and, in a layer that takes DPoP, the
/// challenge under which the layers behind refuse it; in a layer built with
/// `token_expiry`, when it expires; in a layer that forwards claims as
/// headers, those headers; what a check that answered at once adds.
pub(crate) struct Accepted<C> {
    pub(crate) claims: Claims<C>,
    pub(crate) challenge: Option<TokenChallenge>,
    pub(crate) expiry: Option<TokenExpiry>,
    pub(crate) forwarded: Option<Box<ClaimHeaders>>,
    pub(crate) gain: Option<Gain>,
}

/// Its claims (and challenge); nothing in optional mode without a token.
impl<C: Clone + Send + Sync + 'static> Grant for Option<Accepted<C>> {
    // Inlined as the claims' insert was before `Accepted`: out of line, it
    // cost the fast path a call and a `memcpy` (BENCHMARKS.md, step-up).
    #[inline]
    fn grant(self, extensions: &mut Extensions) -> Option<Box<ClaimHeaders>> {
        let Accepted {
            claims,
            challenge,
            expiry,
            forwarded,
            gain,
        } = self?;
        extensions.insert(claims);
        if let Some(challenge) = challenge {
            extensions.insert(challenge);
        }
        if let Some(expiry) = expiry {
            extensions.insert(expiry);
        }
        if let Some(gain) = gain {
            gain.add_to(extensions);
        }
        forwarded
    }
}

/// Nothing more: the claims are in already.
impl Grant for () {
    fn grant(self, _: &mut Extensions) -> Option<Box<ClaimHeaders>> {
        None
    }
}

impl<G: Grant> Verdict<G> {
    /// Starts the response future: calls the ready `service` with the accepted
    /// `request`, holds the refusal, or moves the ready service into the
    /// future to wait for the check, leaving a clone in its place.
    pub(crate) fn start<S, B>(
        self,
        service: &mut S,
        mut request: Request<B>,
    ) -> ResponseFuture<S, B>
    where
        S: Service<Request<B>> + Clone,
    {
        let state = match self {
            Self::Pass(grant) => {
                if let Some(forwarded) = grant.grant(request.extensions_mut()) {
                    forwarded.apply(request.headers_mut());
                }
                State::Answer {
                    answer: Answer::inner(service.call(request)),
                }
            }
            Self::Refuse(response) => State::Answer {
                answer: Answer::rejected(response),
            },
            Self::Wait(check) => State::Deferred {
                check,
                waiting: Some((take_ready(service), request)),
            },
        };
        ResponseFuture { state }
    }
}

pin_project! {
    /// The response future of [`JwtAuth`](crate::JwtAuth) with head sources.
    ///
    /// No box on the common path: the inner service's future, or the
    /// rejection, ready at once. A request that needs I/O before it can be
    /// decided (a remote key set to fetch again, a revocation store to ask)
    /// first waits for that check, then calls the inner service; see the
    /// [crate docs](crate#synchronous-and-deferred-requests).
    pub struct ResponseFuture<S, B>
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
        Deferred {
            check: Pending,
            // The ready inner service and the request, until the call.
            waiting: Option<(S, Request<B>)>,
        },
    }
}

impl<S: Service<Request<B>>, B> fmt::Debug for ResponseFuture<S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let answer = match self.as_mut().project().state.project() {
                StateProj::Answer { answer } => return answer.poll(cx),
                StateProj::Deferred { check, waiting } => {
                    let outcome = ready!(check.as_mut().poll(cx));
                    let (mut service, mut request) = waiting
                        .take()
                        .expect("ResponseFuture polled after completion");
                    match outcome {
                        Ok(mut extensions) => {
                            if let Some(forwarded) = extensions.remove::<ClaimHeaders>() {
                                forwarded.apply(request.headers_mut());
                            }
                            request.extensions_mut().extend(extensions);
                            Answer::inner(service.call(request))
                        }
                        Err(response) => Answer::rejected(response),
                    }
                }
            };
            self.as_mut().project().state.set(State::Answer { answer });
        }
    }
}
