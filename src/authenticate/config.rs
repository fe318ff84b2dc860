//! The built configuration, shared by the layer and every service behind one
//! `Arc`, and the two things it does per request: authenticate and reject.

use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Method, Request, Response, Uri};
use serde::de::DeserializeOwned;

#[cfg(any(feature = "remote-jwks", feature = "revocation"))]
use super::deferred::Grant;
use super::deferred::Verdict;
use crate::claims::Claims;
use crate::csrf::CsrfPolicy;
use crate::error::AuthError;
use crate::response::ErrorResponder;
use crate::source::{self, Kind, TokenSource};
use crate::verify::{Verified, Verifier};

pub(crate) struct Authenticator<R> {
    pub(crate) verifier: Verifier,
    pub(crate) sources: Vec<TokenSource>,
    /// The form source, in layers that have one.
    pub(crate) form: Option<FormSource>,
    pub(crate) optional: bool,
    pub(crate) csrf: CsrfPolicy,
    pub(crate) responder: R,
    #[cfg(feature = "revocation")]
    pub(crate) revocation: Option<crate::revocation::Revocation>,
}

/// What the checks after verification read of a request.
#[derive(Clone, Copy)]
pub(crate) struct Head<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
}

impl<'a, B> From<&'a Request<B>> for Head<'a> {
    fn from(request: &'a Request<B>) -> Self {
        Self {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
        }
    }
}

impl<'a> From<&'a Parts> for Head<'a> {
    fn from(parts: &'a Parts) -> Self {
        Self {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
        }
    }
}

/// A copy of [`Head`] for a check that runs after `call` returned.
#[cfg(feature = "remote-jwks")]
struct OwnedHead {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

#[cfg(feature = "remote-jwks")]
impl<'a> From<&'a OwnedHead> for Head<'a> {
    fn from(head: &'a OwnedHead) -> Self {
        Self {
            method: &head.method,
            uri: &head.uri,
            headers: &head.headers,
        }
    }
}

#[cfg(feature = "remote-jwks")]
impl From<Head<'_>> for OwnedHead {
    fn from(head: Head<'_>) -> Self {
        Self {
            method: head.method.clone(),
            uri: head.uri.clone(),
            headers: head.headers.clone(),
        }
    }
}

/// Where the form source sits among the sources, and how it reads.
pub(crate) struct FormSource {
    pub(crate) position: usize,
    pub(crate) field: Arc<str>,
    pub(crate) limit: usize,
}

impl<R: ErrorResponder> Authenticator<R> {
    /// The claims of the request's token; `None` only in optional mode when the
    /// request has no token.
    pub(crate) fn authenticate<C, B>(self: &Arc<Self>, request: &Request<B>) -> Verdict<C>
    where
        C: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        match source::locate(&self.sources, request) {
            Ok(located) => {
                let from_cookie = self.is_cookie(located.position);
                self.claims(located.token.as_deref(), from_cookie, request.into())
            }
            Err(error) => Verdict::Ready(Err(error)),
        }
    }

    /// Whether the source at `position` is a cookie.
    pub(crate) fn is_cookie(&self, position: usize) -> bool {
        matches!(
            self.sources.get(position),
            Some(TokenSource(Kind::Cookie(_)))
        )
    }

    /// The claims of `token`; without one, `None` in optional mode, else the
    /// missing-token error. A token from a cookie must also pass the CSRF policy.
    pub(crate) fn claims<C>(
        self: &Arc<Self>,
        token: Option<&str>,
        from_cookie: bool,
        head: Head<'_>,
    ) -> Verdict<C>
    where
        C: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let Some(token) = token else {
            return Verdict::Ready(if self.optional {
                Ok(None)
            } else {
                Err(AuthError::missing_token())
            });
        };
        let verified = match self.verifier.verify::<C>(token) {
            Ok(verified) => verified,
            #[cfg(feature = "remote-jwks")]
            Err(crate::verify::VerifyError {
                refresh: Some(keys),
                ..
            }) => return self.after_refresh(keys, token, from_cookie, head),
            Err(rejected) => return Verdict::Ready(Err(rejected.error)),
        };
        self.after_verify(verified, token, from_cookie.then_some(head))
    }

    /// The last steps for a verified token: the CSRF policy for a token from a
    /// cookie (`csrf` is then the request's head), and the revocation check,
    /// when one is configured (its answer also puts the token's [`TokenInfo`]
    /// into the request extensions, for a logout handler to revoke).
    ///
    /// [`TokenInfo`]: crate::TokenInfo
    fn after_verify<C>(
        &self,
        verified: Verified<C>,
        token: &str,
        csrf: Option<Head<'_>>,
    ) -> Verdict<C>
    where
        C: Clone + Send + Sync + 'static,
    {
        if let Some(head) = csrf
            && let Err(error) = self.csrf.check(token, head.method, head.uri, head.headers)
        {
            return Verdict::Ready(Err(error));
        }
        #[cfg(feature = "revocation")]
        if let Some(revocation) = &self.revocation {
            let Some(token) = verified.token else {
                // The verifier reads it whenever revocation is configured.
                return Verdict::Ready(Err(AuthError::new(
                    crate::error::AuthErrorKind::RevocationUnavailable,
                    "token identity unavailable",
                )));
            };
            let check = revocation.check(token.clone());
            return Verdict::Pending(Box::pin(async move {
                check.await?;
                let mut grant = Grant::new(Some(Claims(verified.claims)));
                grant.extensions.insert(token);
                Ok(grant)
            }));
        }
        Verdict::Ready(Ok(Some(Claims(verified.claims))))
    }

    /// A token whose key a remote key set may bring: waits for the refresh
    /// (shared with every request that needs it, rate-limited), then verifies
    /// once more; a key still missing is then a refusal.
    #[cfg(feature = "remote-jwks")]
    fn after_refresh<C>(
        self: &Arc<Self>,
        keys: crate::remote::RemoteKeySet,
        token: &str,
        from_cookie: bool,
        head: Head<'_>,
    ) -> Verdict<C>
    where
        C: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let this = self.clone();
        let token = token.to_owned();
        let csrf_head = from_cookie.then(|| OwnedHead::from(head));
        Verdict::Pending(Box::pin(async move {
            keys.refresh_for_unknown_key().await;
            let verified = this
                .verifier
                .verify::<C>(&token)
                .map_err(|rejected| rejected.error)?;
            match this.after_verify(verified, &token, csrf_head.as_ref().map(Head::from)) {
                Verdict::Ready(claims) => claims.map(Grant::new),
                Verdict::Pending(check) => check.await,
            }
        }))
    }

    /// The response for a refused request, with the error in its extensions.
    pub(crate) fn reject(&self, error: AuthError) -> Response<Bytes> {
        crate::response::refuse(&self.responder, error)
    }
}
