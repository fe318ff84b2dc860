//! [`JwtAuthLayer`]: the layer that wraps services in [`JwtAuth`].

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use tower_layer::Layer;

use super::HeadOnly;
use super::config::Authenticator;
use super::service::JwtAuth;
use crate::response::DefaultResponder;

/// A [`Layer`] that wraps services in [`JwtAuth`].
///
/// `C` is the claims type handlers receive as [`Claims<C>`](crate::Claims); `R`
/// answers refused requests. Build one with [`JwtAuthLayer::builder`]. All of the
/// configuration sits behind one `Arc`: cloning the layer, or the services it
/// makes, only bumps a counter.
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
