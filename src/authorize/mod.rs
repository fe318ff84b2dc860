//! Authorization requirements over the verified claims:
//! [`RequireLayer`](crate::RequireLayer).
//!
//! [`JwtAuthLayer`](crate::JwtAuthLayer) answers "who is this?" once for the
//! whole application; a `RequireLayer` answers "may they do this?" per route
//! (axum's `route_layer`) or per service, behind it: required scopes, roles, a
//! claim value, a predicate over the claims, an asynchronous predicate. A
//! request short of a requirement is answered `403` with
//! `WWW-Authenticate: Bearer error="insufficient_scope"` and, for scopes, the
//! required `scope` (RFC 6750 §3.1), through an [`ErrorResponder`] like every
//! other refusal, with the [`AuthError`] in the response extensions. A step-up
//! requirement (RFC 9470: an `acr` among
//! [`acr_values`](crate::RequireBuilder::acr_values), an `auth_time` within
//! [`max_age`](crate::RequireBuilder::max_age)) is answered `401
//! insufficient_user_authentication` instead, with the requirement in the
//! challenge.
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use serde::{Deserialize, Serialize};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_jwt_auth::{AuthError, AuthErrorKind, JwtAuthLayer, Key, RequireLayer, TokenIssuer};
//!
//! #[derive(Clone, Deserialize, Serialize)]
//! struct User {
//!     sub: String,
//!     scope: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = b"a secret of at least 32 bytes....";
//! let service = ServiceBuilder::new()
//!     .layer(JwtAuthLayer::<User>::builder().key(Key::hmac(secret)).build()?)
//!     .layer(RequireLayer::<User>::builder().scope("orders:read").build()?)
//!     .service(service_fn(|_: Request<Full<Bytes>>| async {
//!         Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("orders")))
//!     }));
//!
//! let issuer = TokenIssuer::hmac(secret).build()?;
//! let call = |scope: &str| {
//!     let token = issuer.issue(&serde_json::json!({ "sub": "ada", "scope": scope }));
//!     let request = Request::get("/orders")
//!         .header("authorization", format!("Bearer {}", token.unwrap()))
//!         .body(Full::default());
//!     service.clone().oneshot(request.unwrap())
//! };
//!
//! let response = call("profile orders:read").await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! let response = call("profile").await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! assert_eq!(
//!     response.headers()["www-authenticate"],
//!     r#"Bearer error="insufficient_scope", error_description="insufficient scope", scope="orders:read""#,
//! );
//! let error = response.extensions().get::<AuthError>().unwrap();
//! assert_eq!(error.kind(), AuthErrorKind::InsufficientScope);
//! assert_eq!(error.required_scope(), Some("orders:read"));
//! # Ok(())
//! # }
//! ```
//!
//! With synchronous rules only, the check runs inside `call` and the claims are
//! read in place (see [`RequireLayer`](crate::RequireLayer), "How claims are
//! read", and the [crate docs](crate#synchronous-and-deferred-requests)).
//!
//! [`ErrorResponder`]: crate::ErrorResponder
//! [`AuthError`]: crate::AuthError

mod config;
mod future;
mod layer;
pub(crate) mod lookup;
mod rule;
mod service;
mod step_up;

pub use future::{AsyncRequireFuture, RequireFuture};
pub use layer::{RequireBuilder, RequireLayer};
pub(crate) use rule::is_scope_token;
pub use service::Require;

/// Marks a [`RequireLayer`] whose rules are all synchronous: the check runs in
/// `call`, and the inner service need not be `Clone`. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOnly;

/// Marks a [`RequireLayer`] with an
/// [asynchronous predicate](RequireBuilder::async_predicate): its service needs
/// a `Clone` inner service.
#[derive(Debug, Clone, Copy, Default)]
pub struct WithAsync;
