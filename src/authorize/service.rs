//! [`Require`]: the service that holds a request's claims against the rules.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::config::Config;
use super::future::{AsyncRequireFuture, RequireFuture};
use super::layer::RequireLayer;
use super::rule::Check;
use super::{SyncOnly, WithAsync};
use crate::answer::take_ready;
use crate::body::ResponseBody;
use crate::response::{DefaultResponder, ErrorResponder};

/// Middleware that lets a request through only when its
/// [`Claims<C>`](crate::Claims) meet the rules of its [`RequireLayer`].
///
/// Made by [`RequireLayer`]; see there for the rules and answers. With
/// synchronous rules only (`M` = [`SyncOnly`], the default) the check happens
/// in `call`; with an
/// [asynchronous predicate](super::RequireBuilder::async_predicate) (`M` =
/// [`WithAsync`]) the inner service must be `Clone`: see the
/// [crate docs](crate#synchronous-and-deferred-requests).
#[must_use]
pub struct Require<S, C, R = DefaultResponder, M = SyncOnly> {
    inner: S,
    config: Arc<Config<C, R>>,
    _marker: PhantomData<fn() -> M>,
}

impl<S, C, R, M> Require<S, C, R, M> {
    /// Wraps `inner` with the requirements of `layer`.
    pub fn new(inner: S, layer: &RequireLayer<C, R, M>) -> Self {
        Self {
            inner,
            config: layer.config.clone(),
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

impl<S: Clone, C, R, M> Clone for Require<S, C, R, M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
            _marker: PhantomData,
        }
    }
}

impl<S: fmt::Debug, C, R, M> fmt::Debug for Require<S, C, R, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Require")
            .field("inner", &self.inner)
            .field("claims", &std::any::type_name::<C>())
            .field("rules", &self.config.rules)
            .finish_non_exhaustive()
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for Require<S, C, R, SyncOnly>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: Send + Sync + 'static,
    R: ErrorResponder,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = RequireFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        match self.config.check(&request) {
            Ok(_) => RequireFuture::inner(self.inner.call(request)),
            Err(error) => RequireFuture::rejected(self.config.refuse(error)),
        }
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for Require<S, C, R, WithAsync>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    C: Send + Sync + 'static,
    R: ErrorResponder,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = AsyncRequireFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let first: Result<Option<Check>, _> = self
            .config
            .check(&request)
            .map(|claims| self.config.rules.async_check(0, claims));
        match first {
            Err(error) => AsyncRequireFuture::rejected(self.config.refuse(error)),
            Ok(None) => AsyncRequireFuture::inner(self.inner.call(request)),
            Ok(Some(check)) => {
                // The ready service goes into the future; a fresh clone stays here.
                let service = take_ready(&mut self.inner);
                AsyncRequireFuture::checking(check, service, request, self.config.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::future::{Ready, ready};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};
    use std::time::Duration;

    use bytes::Bytes;
    use http::{Request, Response, StatusCode};
    use http_body_util::{BodyExt, Full};
    use serde_json::{Value, json};
    use tower::{Layer, Service, ServiceExt, service_fn};

    use crate::{AuthError, AuthErrorKind, Claims, RequireLayer};

    fn request(claims: Option<Value>) -> Request<Full<Bytes>> {
        let mut request = Request::get("/").body(Full::default()).unwrap();
        if let Some(claims) = claims {
            request.extensions_mut().insert(Claims(claims));
        }
        request
    }

    /// Answers "ok" and counts its calls.
    fn echo(
        calls: &Arc<AtomicUsize>,
    ) -> impl Service<
        Request<Full<Bytes>>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future = impl Send,
    > + Clone {
        let calls = calls.clone();
        service_fn(move |_: Request<Full<Bytes>>| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Infallible>(Response::new(Full::from("ok"))) }
        })
    }

    #[tokio::test]
    async fn claims_that_meet_the_rules_reach_the_inner_service() {
        let calls = Arc::new(AtomicUsize::new(0));
        let layer = RequireLayer::<Value>::builder().scope("a").build().unwrap();
        let response = layer
            .layer(echo(&calls))
            .oneshot(request(Some(json!({ "scope": "a" }))))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "ok");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_refused_request_is_403_and_never_reaches_the_inner_service() {
        let calls = Arc::new(AtomicUsize::new(0));
        let layer = RequireLayer::<Value>::builder()
            .scopes(["a", "b"])
            .build()
            .unwrap();
        let response = layer
            .layer(echo(&calls))
            .oneshot(request(Some(json!({ "scope": "a" }))))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let error = response.extensions().get::<AuthError>().unwrap();
        assert_eq!(error.kind(), AuthErrorKind::InsufficientScope);
        assert_eq!(error.required_scope(), Some("a b"));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn no_claims_is_a_missing_token_not_a_missing_right() {
        let calls = Arc::new(AtomicUsize::new(0));
        let sync = RequireLayer::<Value>::builder().build().unwrap();
        let response = sync
            .layer(echo(&calls))
            .oneshot(request(None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let error = response.extensions().get::<AuthError>().unwrap();
        assert_eq!(error.kind(), AuthErrorKind::MissingToken);

        let with_async = RequireLayer::<Value>::builder()
            .async_predicate(|_: &Value| async { true })
            .build()
            .unwrap();
        let response = with_async
            .layer(echo(&calls))
            .oneshot(request(None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(calls.load(Ordering::SeqCst), 0);

        // Claims of another type are not these claims.
        let mut other = request(None);
        other.extensions_mut().insert(Claims("a string"));
        let response = sync.layer(echo(&calls)).oneshot(other).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn predicates_see_the_claims_type_itself() {
        #[derive(Clone)]
        struct User {
            admin: bool,
        }
        let calls = Arc::new(AtomicUsize::new(0));
        let inner = {
            let calls = calls.clone();
            service_fn(move |_: Request<()>| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, Infallible>(Response::new(Full::<Bytes>::default())) }
            })
        };
        // No `Serialize` needed for predicates only.
        let service = RequireLayer::<User>::builder()
            .predicate(|user: &User| user.admin)
            .build()
            .unwrap()
            .layer(inner);
        for (admin, status) in [(true, StatusCode::OK), (false, StatusCode::FORBIDDEN)] {
            let mut request = Request::new(());
            request.extensions_mut().insert(Claims(User { admin }));
            let response = service.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), status);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn async_predicates_run_in_order_after_the_sync_rules() {
        let calls = Arc::new(AtomicUsize::new(0));
        let checks = Arc::new(AtomicUsize::new(0));
        let counted = |answer: &'static str| {
            let checks = checks.clone();
            move |claims: &Value| {
                let pass = claims[answer] == true;
                let checks = checks.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    checks.fetch_add(1, Ordering::SeqCst);
                    pass
                }
            }
        };
        let service = RequireLayer::<Value>::builder()
            .scope("a")
            .async_predicate(counted("first"))
            .async_predicate(counted("second"))
            .build()
            .unwrap()
            .layer(echo(&calls));
        let cases = [
            (
                json!({ "scope": "a", "first": true, "second": true }),
                200,
                2,
            ),
            (json!({ "scope": "a", "first": true }), 403, 2),
            (json!({ "scope": "a", "second": true }), 403, 1),
            // The sync rule fails first: no asynchronous check at all.
            (json!({ "first": true, "second": true }), 403, 0),
        ];
        for (claims, status, expected_checks) in cases {
            checks.store(0, Ordering::SeqCst);
            let response = service
                .clone()
                .oneshot(request(Some(claims.clone())))
                .await
                .unwrap();
            assert_eq!(response.status(), status, "{claims}");
            assert_eq!(checks.load(Ordering::SeqCst), expected_checks, "{claims}");
            if status == 403 {
                let error = response.extensions().get::<AuthError>().unwrap();
                assert_eq!(error.kind(), AuthErrorKind::InsufficientScope);
            }
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// A service that must be polled ready before each call; a clone starts
    /// unready.
    struct MustBeReady {
        ready: bool,
        polls: Arc<AtomicUsize>,
    }

    impl Clone for MustBeReady {
        fn clone(&self) -> Self {
            Self {
                ready: false,
                polls: self.polls.clone(),
            }
        }
    }

    impl<B> Service<Request<B>> for MustBeReady {
        type Response = Response<Full<Bytes>>;
        type Error = Infallible;
        type Future = Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            self.ready = true;
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<B>) -> Self::Future {
            assert!(self.ready, "called without poll_ready");
            self.ready = false;
            ready(Ok(Response::new(Full::default())))
        }
    }

    #[tokio::test]
    async fn readiness_is_the_inner_services_and_the_ready_one_is_called() {
        let polls = Arc::new(AtomicUsize::new(0));
        let inner = MustBeReady {
            ready: false,
            polls: polls.clone(),
        };
        let mut sync = RequireLayer::<Value>::builder()
            .scope("a")
            .build()
            .unwrap()
            .layer(inner.clone());
        let mut with_async = RequireLayer::<Value>::builder()
            .async_predicate(|_: &Value| async {
                tokio::task::yield_now().await;
                true
            })
            .build()
            .unwrap()
            .layer(inner);
        for _ in 0..3 {
            let claims = Some(json!({ "scope": "a" }));
            let response = ServiceExt::<Request<Full<Bytes>>>::ready(&mut sync)
                .await
                .unwrap()
                .call(request(claims.clone()));
            assert_eq!(response.await.unwrap().status(), StatusCode::OK);
            let response = ServiceExt::<Request<Full<Bytes>>>::ready(&mut with_async)
                .await
                .unwrap()
                .call(request(claims));
            assert_eq!(response.await.unwrap().status(), StatusCode::OK);
        }
        assert_eq!(polls.load(Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn the_configured_responder_answers() {
        let layer = RequireLayer::<Value>::builder()
            .role("admin")
            .responder(|error: &AuthError| {
                Response::builder()
                    .status(StatusCode::IM_A_TEAPOT)
                    .body(Bytes::from(error.description()))
                    .unwrap()
            })
            .build()
            .unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let response = layer
            .layer(echo(&calls))
            .oneshot(request(Some(json!({ "roles": ["user"] }))))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
        assert!(response.extensions().get::<AuthError>().is_some());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "missing role");
    }
}
