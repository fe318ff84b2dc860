//! [`JwtAuth`]: the middleware service.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use crate::authenticator::Authenticator;
use crate::body::ResponseBody;
use crate::future::ResponseFuture;
use crate::layer::JwtAuthLayer;
use crate::response::{DefaultResponder, ErrorResponder};

/// Middleware that authenticates every request with a JSON Web Token.
///
/// Made by [`JwtAuthLayer`]; see the [crate documentation](crate) for the flow.
/// On success the request reaches the inner service untouched but for one added
/// extension, [`Claims<C>`](crate::Claims); on failure the
/// [`ErrorResponder`] answers and the inner service is not called.
///
/// Verification is synchronous and happens in `call`: no boxed future, no clone
/// of the inner service, and `poll_ready` is the inner service's own.
#[must_use]
pub struct JwtAuth<S, C, R = DefaultResponder> {
    inner: S,
    authenticator: Arc<Authenticator<R>>,
    _claims: PhantomData<fn() -> C>,
}

impl<S, C, R> JwtAuth<S, C, R> {
    /// Wraps `inner` with the configuration of `layer`.
    pub fn new(inner: S, layer: &JwtAuthLayer<C, R>) -> Self {
        Self {
            inner,
            authenticator: layer.authenticator.clone(),
            _claims: PhantomData,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, C, R> Clone for JwtAuth<S, C, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            authenticator: self.authenticator.clone(),
            _claims: PhantomData,
        }
    }
}

impl<S: fmt::Debug, C, R> fmt::Debug for JwtAuth<S, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("inner", &self.inner)
            .field("claims", &std::any::type_name::<C>())
            .finish_non_exhaustive()
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAuth<S, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    R: ErrorResponder,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        match self.authenticator.authenticate::<C, _>(&request) {
            Ok(claims) => {
                if let Some(claims) = claims {
                    request.extensions_mut().insert(claims);
                }
                ResponseFuture::inner(self.inner.call(request))
            }
            Err(error) => ResponseFuture::rejected(self.authenticator.reject(error)),
        }
    }
}
