//! [`JwtAuth`]: the middleware service.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::HeadOnly;
use super::config::Authenticator;
use super::deferred::{Deferred, Verdict, take_ready};
use super::future::ResponseFuture;
use super::layer::JwtAuthLayer;
use crate::answer::Answer;
use crate::body::ResponseBody;
use crate::response::{DefaultResponder, ErrorResponder};

/// Middleware that authenticates every request with a JSON Web Token.
///
/// Made by [`JwtAuthLayer`]; see the [crate documentation](crate) for the flow.
/// On success the request reaches the inner service untouched but for one added
/// extension, [`Claims<C>`](crate::Claims); on failure the
/// [`ErrorResponder`] answers and the inner service is not called.
///
/// With head sources only (`M` = [`HeadOnly`], the default), verification is
/// synchronous and happens in `call`: no boxed future, no clone of the inner
/// service, and `poll_ready` is the inner service's own. Only a request that
/// needs I/O first (a remote key set to fetch again for an unknown `kid`, a
/// revocation store to ask) waits in the future; it takes the ready inner
/// service along and leaves a clone, which is why the inner service must be
/// `Clone` (as axum's and hyper's services are). With a form source
/// (`M` = [`WithForm`](crate::WithForm)) the inner service receives
/// [`RequestBody<B>`](crate::RequestBody); see
/// [`JwtAuthBuilder::form_field`](crate::JwtAuthBuilder::form_field).
#[must_use]
pub struct JwtAuth<S, C, R = DefaultResponder, M = HeadOnly> {
    pub(crate) inner: S,
    pub(crate) authenticator: Arc<Authenticator<R>>,
    _marker: PhantomData<fn() -> (C, M)>,
}

impl<S, C, R, M> JwtAuth<S, C, R, M> {
    /// Wraps `inner` with the configuration of `layer`.
    pub fn new(inner: S, layer: &JwtAuthLayer<C, R, M>) -> Self {
        Self {
            inner,
            authenticator: layer.authenticator.clone(),
            _marker: PhantomData,
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

impl<S: Clone, C, R, M> Clone for JwtAuth<S, C, R, M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            authenticator: self.authenticator.clone(),
            _marker: PhantomData,
        }
    }
}

impl<S: fmt::Debug, C, R, M> fmt::Debug for JwtAuth<S, C, R, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("inner", &self.inner)
            .field("claims", &std::any::type_name::<C>())
            .finish_non_exhaustive()
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAuth<S, C, R, HeadOnly>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    R: ErrorResponder,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S, ReqBody, C, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        match self.authenticator.authenticate::<C, _>(&request) {
            Verdict::Ready(Ok(claims)) => {
                if let Some(claims) = claims {
                    request.extensions_mut().insert(claims);
                }
                ResponseFuture::answer(Answer::inner(self.inner.call(request)))
            }
            Verdict::Ready(Err(error)) => {
                ResponseFuture::answer(Answer::rejected(self.authenticator.reject(error)))
            }
            Verdict::Pending(check) => ResponseFuture::deferred(Deferred::new(
                check,
                take_ready(&mut self.inner),
                request,
                self.authenticator.clone(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;
    use http::{Request, Response, StatusCode};
    use http_body_util::{BodyExt, Full};
    use tower::{ServiceExt, service_fn};

    use crate::{AuthError, AuthErrorKind, Claims, JwtAuthLayer, Key, TokenIssuer};

    const SECRET: &[u8] = b"unit-test secret, 32 bytes long!";

    fn layer() -> JwtAuthLayer<serde_json::Value> {
        JwtAuthLayer::builder()
            .key(Key::hmac(SECRET))
            .build()
            .unwrap()
    }

    fn token() -> String {
        TokenIssuer::hmac(SECRET)
            .build()
            .unwrap()
            .issue(&serde_json::json!({ "sub": "ada" }))
            .unwrap()
    }

    #[tokio::test]
    async fn a_valid_token_reaches_the_inner_service_with_its_claims() {
        let echo = service_fn(|req: Request<Full<Bytes>>| async move {
            let claims = req.extensions().get::<Claims<serde_json::Value>>().cloned();
            Ok::<_, Infallible>(Response::new(Full::from(
                claims.unwrap().0["sub"].to_string(),
            )))
        });
        let req = Request::get("/")
            .header("authorization", format!("Bearer {}", token()))
            .body(Full::default())
            .unwrap();
        let res = tower::Layer::layer(&layer(), echo)
            .oneshot(req)
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "\"ada\"");
    }

    #[tokio::test]
    async fn a_refused_request_never_reaches_the_inner_service() {
        let calls = Arc::new(AtomicUsize::new(0));
        let inner = {
            let calls = calls.clone();
            service_fn(move |_: Request<Full<Bytes>>| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, Infallible>(Response::new(Full::<Bytes>::default())) }
            })
        };
        let service = tower::Layer::layer(&layer(), inner);
        for value in [None, Some("Bearer a.b.c"), Some("Bearer")] {
            let mut req = Request::get("/");
            if let Some(value) = value {
                req = req.header("authorization", value);
            }
            let res = service
                .clone()
                .oneshot(req.body(Full::default()).unwrap())
                .await
                .unwrap();
            assert_ne!(res.status(), StatusCode::OK);
            assert!(res.extensions().get::<AuthError>().is_some());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn the_error_kind_is_in_the_response_extensions() {
        let inner = service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
        });
        let req = Request::get("/").body(()).unwrap();
        let res = tower::Layer::layer(&layer(), inner)
            .oneshot(req)
            .await
            .unwrap();
        let error = res.extensions().get::<AuthError>().unwrap();
        assert_eq!(error.kind(), AuthErrorKind::MissingToken);
    }
}
