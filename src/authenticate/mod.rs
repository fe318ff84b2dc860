//! The authentication middleware: [`JwtAuthLayer`], its builder, the
//! [`JwtAuth`] service and its response futures.

mod config;
mod deferred;
mod form;
mod future;
mod layer;
mod request_body;
mod service;

pub use form::FormResponseFuture;
pub use future::ResponseFuture;
pub use layer::{DEFAULT_FORM_LIMIT, DEFAULT_MAX_TOKEN_LENGTH, JwtAuthBuilder, JwtAuthLayer};
pub use request_body::RequestBody;
pub use service::JwtAuth;

/// Marks a layer whose sources are all in the request head (headers and URI):
/// the inner service receives the request's own body type. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeadOnly;

/// Marks a layer with a form-field source: the inner service receives
/// [`RequestBody<B>`].
#[derive(Debug, Clone, Copy, Default)]
pub struct WithForm;
