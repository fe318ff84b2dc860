//! Tokens in form bodies: [`JwtAuthBuilder::form_field`](crate::JwtAuthBuilder::form_field).
//!
//! # How the inner service sees the body
//!
//! A layer without a form source hands the inner service the request exactly as
//! it came, body type included: header-only users pay nothing for this feature.
//!
//! A layer with a form source may have to read the body to find the token, and
//! a body that was read cannot be put back into an arbitrary body type `B`. So
//! the inner service of such a layer receives `Request<RequestBody<B>>`:
//! [`RequestBody`] is either the untouched original body (the token came from
//! an earlier source, or the request is not a form) or the very bytes and
//! trailers that were read. Headers (`Content-Type`, `Content-Length`) and
//! extensions are unchanged, so handlers that parse the form again (axum's
//! `Form`, `Multipart`) work as before. axum's `Router` accepts any such body,
//! so `Router::layer` and `route_layer` work unchanged.
//!
//! # When the body is read
//!
//! Only when it must be: the form source comes before every source that found
//! a token in the head, and the `Content-Type` is
//! `application/x-www-form-urlencoded` (or `multipart/form-data` with the
//! `multipart` feature). A `Content-Length` over the limit is answered `413`
//! before any byte is read; a body that grows past it is stopped at the limit
//! and answered `413`. Neither ever reaches the inner service half-read.
//!
//! Reading needs an owned, ready inner service: the layer clones the inner
//! service and moves the ready one into the response future
//! (tower-service's "be careful when cloning inner services"), so form mode
//! needs `S: Clone`.

mod body;
mod future;
mod parse;
mod service;

pub use body::RequestBody;
pub use future::FormResponseFuture;

/// Marks a layer whose sources are all in the request head (headers and URI):
/// the inner service receives the request's own body type. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeadOnly;

/// Marks a layer with a form-field source: the inner service receives
/// [`RequestBody<B>`].
#[derive(Debug, Clone, Copy, Default)]
pub struct WithForm;
