//! [`JwtAuthLayer`]: the layer that wraps services in [`JwtAuth`].

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use tower_layer::Layer;

use super::HeadOnly;
use super::config::Authenticator;
use super::service::JwtAuth;
use crate::resource_metadata::ResourceMetadataService;
use crate::response::DefaultResponder;

/// A [`Layer`] that wraps services in [`JwtAuth`].
///
/// `C` is the claims type handlers receive as [`Claims<C>`](crate::Claims); `R`
/// answers refused requests. Build one with [`JwtAuthLayer::builder`]. All of the
/// configuration sits behind one `Arc`: cloning the layer, or the services it
/// makes, only bumps a counter.
///
/// # Example
///
/// One layer wraps any number of services ([`Layer::layer`], or
/// `ServiceBuilder::layer`, or axum's `Router::layer`). A refused request
/// never reaches the service, and its response carries the typed
/// [`AuthError`](crate::AuthError):
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use http::{Request, Response, StatusCode};
/// use serde_json::{Value, json};
/// use tower::{Layer, ServiceExt, service_fn};
/// use tower_jwt_auth::{
///     AuthError, AuthErrorKind, Claims, Clock, JwtAuthLayer, Key, SystemClock, TokenIssuer,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = b"a secret of at least 32 bytes....";
/// let layer = JwtAuthLayer::<Value>::builder()
///     .key(Key::hmac(secret))
///     .build()?;
///
/// let hello = layer.layer(service_fn(|request: Request<String>| async move {
///     let Claims(claims) = request.extensions().get::<Claims<Value>>().unwrap();
///     Ok::<_, Infallible>(Response::new(format!("hello {}", claims["sub"])))
/// }));
///
/// // A token that expired an hour ago, well past the 60 s leeway.
/// let two_hours_ago = || SystemClock.now() - 2 * 3600;
/// let expired = TokenIssuer::hmac(secret)
///     .clock(two_hours_ago)
///     .ttl(Duration::from_secs(3600))
///     .build()?
///     .issue(&json!({ "sub": "ada" }))?;
/// let request = Request::get("/")
///     .header("authorization", format!("Bearer {expired}"))
///     .body(String::new())?;
/// let response = hello.clone().oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
/// let error = response.extensions().get::<AuthError>().unwrap();
/// assert_eq!(error.kind(), AuthErrorKind::Expired);
///
/// let valid = TokenIssuer::hmac(secret).build()?.issue(&json!({ "sub": "ada" }))?;
/// let request = Request::get("/")
///     .header("authorization", format!("Bearer {valid}"))
///     .body(String::new())?;
/// assert_eq!(hello.oneshot(request).await?.status(), StatusCode::OK);
/// # Ok(())
/// # }
/// ```
///
/// With axum, on a whole `Router` (`Router::layer`) or on some of its routes
/// (`route_layer`):
///
/// ```
/// use axum::routing::get;
/// use axum::{Extension, Router};
/// use http::{Request, StatusCode};
/// use serde::Deserialize;
/// use tower::ServiceExt;
/// use tower_jwt_auth::{Claims, JwtAuthLayer, Key, TokenIssuer};
///
/// #[derive(Clone, Deserialize)]
/// struct User {
///     sub: String,
/// }
///
/// async fn me(Extension(user): Extension<Claims<User>>) -> String {
///     user.sub.clone()
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = b"a secret of at least 32 bytes....";
/// let auth = JwtAuthLayer::<User>::builder().key(Key::hmac(secret)).build()?;
/// let app = Router::new()
///     .route("/me", get(me))
///     .route_layer(auth.clone()) // the routes above
///     .route("/health", get(|| async { "ok" }));
///
/// let token = TokenIssuer::hmac(secret).build()?.issue(&serde_json::json!({ "sub": "ada" }))?;
/// let me = Request::get("/me").header("authorization", format!("Bearer {token}"));
/// let response = app.clone().oneshot(me.body(axum::body::Body::empty())?).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// let anonymous = Request::get("/me").body(axum::body::Body::empty())?;
/// assert_eq!(app.clone().oneshot(anonymous).await?.status(), StatusCode::UNAUTHORIZED);
/// let health = Request::get("/health").body(axum::body::Body::empty())?;
/// assert_eq!(app.oneshot(health).await?.status(), StatusCode::OK);
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct JwtAuthLayer<C, R = DefaultResponder, M = HeadOnly> {
    pub(super) authenticator: Arc<Authenticator<C, R>>,
    _marker: PhantomData<fn() -> M>,
}

// `JwtAuthLayer::builder` is in builder.rs, beside the builder it starts.
impl<C, R, M> JwtAuthLayer<C, R, M> {
    pub(super) fn new(authenticator: Authenticator<C, R>) -> Self {
        Self {
            authenticator: Arc::new(authenticator),
            _marker: PhantomData,
        }
    }

    /// How many static keys (of the builder and of every trusted issuer) the
    /// build left out because none of their algorithms is
    /// [allowed](crate::JwtAuthBuilder::algorithms): a JWK Set often holds
    /// keys of several types, and `.algorithms([RS256])` keeps its RSA keys
    /// alone, as a remote key set does. 0 when no algorithms are set.
    ///
    /// ```
    /// use jsonwebtoken::Algorithm;
    /// use tower_jwt_auth::{JwtAuthLayer, Key};
    ///
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(b"a secret of at least 32 bytes...."))
    ///     .key(Key::hmac([7; 64]).with_algorithm(Algorithm::HS512))
    ///     .algorithms([Algorithm::HS512])
    ///     .build()?;
    /// assert_eq!(layer.skipped_keys(), 1);
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn skipped_keys(&self) -> usize {
        self.authenticator.skipped_keys()
    }

    /// The service that serves this layer's protected resource metadata
    /// (RFC 9728), or `None` when the layer publishes none (see
    /// [`JwtAuthBuilder::resource_metadata`](crate::JwtAuthBuilder::resource_metadata)).
    /// Route it at its [`path`](ResourceMetadataService::path), outside this
    /// layer; every clone serves the same document, written when the layer
    /// was built.
    pub fn resource_metadata_service(&self) -> Option<ResourceMetadataService> {
        self.authenticator
            .metadata()
            .map(|published| ResourceMetadataService::new(Arc::clone(published)))
    }
}

impl<C, R, M> Clone for JwtAuthLayer<C, R, M> {
    fn clone(&self) -> Self {
        Self {
            authenticator: self.authenticator.clone(),
            _marker: PhantomData,
        }
    }
}

impl<C, R, M> fmt::Debug for JwtAuthLayer<C, R, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JwtAuthLayer")
            .field(&self.authenticator)
            .finish()
    }
}

impl<S, C, R, M> Layer<S> for JwtAuthLayer<C, R, M> {
    type Service = JwtAuth<S, C, R, M>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth::new(inner, self)
    }
}
