//! [`JwtAuth`]: the middleware service, and its `Service` impl with head
//! sources (the form mode's is in `form.rs`).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::HeadOnly;
use super::config::Authenticator;
use super::future::ResponseFuture;
use super::layer::JwtAuthLayer;
use crate::body::ResponseBody;
use crate::response::{DefaultResponder, ErrorResponder};

/// Middleware that authenticates every request with a JSON Web Token.
///
/// Made by [`JwtAuthLayer`]; see the [crate documentation](crate) for the flow.
/// On success the request reaches the inner service untouched but for one added
/// extension, [`Claims<C>`](crate::Claims) (in a layer that
/// [takes DPoP](crate::JwtAuthBuilder::dpop), also a private one: the
/// challenge the [`RequireLayer`](crate::RequireLayer)s behind answer under;
/// with [`token_expiry`](crate::JwtAuthBuilder::token_expiry),
/// [`TokenExpiry`](crate::TokenExpiry));
/// on failure the
/// [`ErrorResponder`] answers and the inner service is not called. (With a
/// [certificate binding from a proxy header](crate::CertificateBinding::from_proxy_header),
/// that header is removed from every request whose peer is not a trusted
/// proxy; with a [WebSocket subprotocol source](crate::TokenSource::websocket_protocol_with_prefix),
/// the token's entries are removed from `Sec-WebSocket-Protocol`. With
/// [claims forwarded as headers](crate::JwtAuthBuilder::claim_to_header),
/// every client copy of those headers is removed from every request, and an
/// accepted one gains them, set from its token.)
///
/// With head sources only (`M` = [`HeadOnly`], the default) the inner service
/// receives the request's own body type; with a form source
/// (`M` = [`WithForm`](crate::WithForm)), [`RequestBody<B>`](crate::RequestBody).
/// The inner service must be `Clone`, for the requests that wait for I/O: see
/// the [crate docs](crate#synchronous-and-deferred-requests).
#[must_use]
pub struct JwtAuth<S, C, R = DefaultResponder, M = HeadOnly> {
    pub(super) inner: S,
    pub(super) authenticator: Arc<Authenticator<C, R>>,
    _marker: PhantomData<fn() -> M>,
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
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        self.authenticator.scrub(&mut request);
        let verdict = self.authenticator.authenticate(&request);
        self.authenticator.remove_tokens(&mut request);
        verdict.start(&mut self.inner, request)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::{Request, StatusCode};
    use http_body_util::{BodyExt, Full};
    use tower::{Layer, ServiceExt};

    use crate::test_helpers::{Echo, MustNotBeCalled, SECRET, token};
    use crate::{AuthError, AuthErrorKind, JwtAuthLayer, Key};

    fn layer() -> JwtAuthLayer<serde_json::Value> {
        JwtAuthLayer::builder()
            .key(Key::hmac(SECRET))
            .build()
            .unwrap()
    }

    fn request(authorization: Option<&str>) -> Request<Full<Bytes>> {
        let mut request = Request::get("/");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.body(Full::default()).unwrap()
    }

    #[tokio::test]
    async fn a_valid_token_reaches_the_inner_service_with_its_claims() {
        let bearer = format!("Bearer {}", token());
        let response = layer()
            .layer(Echo)
            .oneshot(request(Some(&bearer)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "\"ada\"");
    }

    #[tokio::test]
    async fn a_refused_request_never_reaches_the_inner_service() {
        let service = layer().layer(MustNotBeCalled);
        for (value, kind) in [
            (None, AuthErrorKind::MissingToken),
            (Some("Bearer a.b.c"), AuthErrorKind::MalformedToken),
            (Some("Bearer"), AuthErrorKind::MalformedRequest),
        ] {
            let response = service.clone().oneshot(request(value)).await.unwrap();
            assert_ne!(response.status(), StatusCode::OK);
            let error = response.extensions().get::<AuthError>().unwrap();
            assert_eq!(error.kind(), kind, "{value:?}");
        }
    }

    /// `TokenExpiry` only when asked for, and without a deadline when `exp`
    /// is not checked.
    #[tokio::test]
    async fn the_token_expiry_is_inserted_when_asked_for() {
        use std::convert::Infallible;
        use std::time::{Duration, SystemTime};

        use http::Response;
        use tower::service_fn;

        use crate::TokenExpiry;

        let expiry_of = |builder: crate::JwtAuthBuilder<serde_json::Value>| async move {
            let inner = service_fn(|request: Request<Full<Bytes>>| async move {
                // Handed back in the response's extensions.
                let mut response = Response::new(Full::<Bytes>::default());
                if let Some(expiry) = request.extensions().get::<TokenExpiry>() {
                    response.extensions_mut().insert(*expiry);
                }
                Ok::<_, Infallible>(response)
            });
            let bearer = format!("Bearer {}", token());
            let layer = builder.key(Key::hmac(SECRET)).build().unwrap();
            let response = layer.layer(inner).oneshot(request(Some(&bearer))).await;
            response.unwrap().extensions().get::<TokenExpiry>().copied()
        };
        assert_eq!(expiry_of(JwtAuthLayer::builder()).await, None);
        let expiry = expiry_of(JwtAuthLayer::builder().token_expiry(true)).await;
        let deadline = expiry.unwrap().deadline().unwrap();
        // The issuer's default time to live is 15 minutes.
        let left = deadline.duration_since(SystemTime::now()).unwrap();
        assert!(left > Duration::from_secs(800) && left <= Duration::from_secs(900));
        let unchecked = JwtAuthLayer::builder()
            .token_expiry(true)
            .dangerous_skip_exp_check();
        assert_eq!(expiry_of(unchecked).await, Some(TokenExpiry::new(None)));
    }
}
