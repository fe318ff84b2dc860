//! The authentication middleware: [`JwtAuthLayer`] and its builder, the
//! [`JwtAuth`] service and its response futures.
//!
//! - `builder.rs` holds the settings as given ([`settings`]), `config.rs`
//!   checks them once into the `Authenticator` every service shares, and runs
//!   the flow per request: locate, verify, the checks after verification
//!   (`crate::checks`), refuse.
//! - `service.rs` is the head mode's `Service` impl, `form.rs` the form mode's
//!   (which first reads the body, within `deadline.rs`'s time). Both end in one [`Verdict`](future::Verdict),
//!   which `future.rs` turns into a [`ResponseFuture`]: the inner service's
//!   future, a ready rejection, or a wait for a deferred check.
//! - Why the inner service must be `Clone`, and which requests box a future,
//!   is said once, in the crate docs ("Synchronous and deferred requests").

mod builder;
mod config;
mod deadline;
mod form;
mod forward;
mod future;
mod layer;
mod profile;
mod request_body;
mod service;
mod settings;

pub use builder::JwtAuthBuilder;
#[cfg(feature = "form-timeout")]
pub use deadline::DEFAULT_FORM_READ_TIMEOUT;
pub use form::FormResponseFuture;
pub use future::ResponseFuture;
pub use layer::JwtAuthLayer;
pub use request_body::RequestBody;
pub use service::JwtAuth;
pub use settings::DEFAULT_FORM_LIMIT;

/// Marks a layer whose sources are all in the request head (headers and URI):
/// the inner service receives the request's own body type. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeadOnly;

/// Marks a layer with a form-field source: the inner service receives
/// [`RequestBody<B>`].
#[derive(Debug, Clone, Copy, Default)]
pub struct WithForm;
