//! The asynchronous part of authentication, for the few requests that need it:
//! a key set to fetch again (a `kid` the remote JWK Set does not have yet), or a
//! revocation store to ask.
//!
//! Everything else is decided synchronously in `call`. A deferred request needs
//! an owned, ready inner service: the middleware moves its ready service into
//! the future and keeps a clone (tower-service's "be careful when cloning inner
//! services"), which is why the middleware's inner service must be `Clone`.

use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_util::future::BoxFuture;
use http::{Extensions, Request};
use tower_service::Service;

use super::config::Authenticator;
use crate::answer::Answer;
use crate::claims::Claims;
use crate::error::AuthError;
use crate::response::ErrorResponder;

/// What a deferred check resolves to.
pub(crate) type Pending<C> = BoxFuture<'static, Result<Grant<C>, AuthError>>;

/// The outcome of authentication for one request: `Ready` when it could be
/// decided at once, `Pending` when it needs I/O first.
pub(crate) enum Verdict<C> {
    Ready(Result<Option<Claims<C>>, AuthError>),
    #[cfg_attr(
        not(any(feature = "remote-jwks", feature = "revocation")),
        allow(dead_code, reason = "only remote keys and revocation defer")
    )]
    Pending(Pending<C>),
}

/// What an accepted request gains: its claims (none in optional mode without a
/// token) and any other extensions the checks produced.
pub(crate) struct Grant<C> {
    pub(crate) claims: Option<Claims<C>>,
    pub(crate) extensions: Extensions,
}

impl<C: Clone + Send + Sync + 'static> Grant<C> {
    #[cfg_attr(
        not(any(feature = "remote-jwks", feature = "revocation")),
        allow(dead_code, reason = "only remote keys and revocation defer")
    )]
    pub(crate) fn new(claims: Option<Claims<C>>) -> Self {
        Self {
            claims,
            extensions: Extensions::new(),
        }
    }

    fn apply(self, extensions: &mut Extensions) {
        if let Some(claims) = self.claims {
            extensions.insert(claims);
        }
        extensions.extend(self.extensions);
    }
}

/// A request waiting for its deferred check, with the ready service that will
/// take it.
pub(crate) struct Deferred<S, T, C, R> {
    check: Pending<C>,
    waiting: Option<(S, Request<T>)>,
    authenticator: Arc<Authenticator<R>>,
}

impl<S, T, C, R> Deferred<S, T, C, R>
where
    S: Service<Request<T>>,
    C: Clone + Send + Sync + 'static,
    R: ErrorResponder,
{
    pub(crate) fn new(
        check: Pending<C>,
        service: S,
        request: Request<T>,
        authenticator: Arc<Authenticator<R>>,
    ) -> Self {
        Self {
            check,
            waiting: Some((service, request)),
            authenticator,
        }
    }

    /// Polls the check; once it is done, calls the service or rejects.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Answer<S::Future>> {
        let outcome = ready!(self.check.as_mut().poll(cx));
        let (mut service, mut request) = self
            .waiting
            .take()
            .expect("deferred check polled after completion");
        Poll::Ready(match outcome {
            Ok(grant) => {
                grant.apply(request.extensions_mut());
                Answer::inner(service.call(request))
            }
            Err(error) => Answer::rejected(self.authenticator.reject(error)),
        })
    }
}

/// Moves the ready service out of `slot`, leaving a clone in its place.
pub(crate) fn take_ready<S: Clone>(slot: &mut S) -> S {
    let clone = slot.clone();
    std::mem::replace(slot, clone)
}
