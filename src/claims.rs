//! [`Claims<C>`]: the verified claims, as the layer hands them to the handler.

use std::ops::{Deref, DerefMut};

/// The verified claims of the request's token, inserted into the request
/// extensions by [`JwtAuth`](crate::JwtAuth).
///
/// `C` is the application's own `Deserialize` type, or `serde_json::Value`. Read
/// it with `request.extensions().get::<Claims<C>>()`, or, with the `axum`
/// feature, as an extractor (`Claims<C>`, or `Option<Claims<C>>` on routes where
/// the layer is [optional](crate::JwtAuthBuilder::optional)). The extractor
/// answers like the layer (401, `WWW-Authenticate: Bearer`) when there are no
/// claims; the type must be the layer's `C`.
///
/// It is a type of this crate rather than `jsonwebtoken::TokenData`, so that an
/// application naming another jsonwebtoken version still finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Claims<C>(pub C);

impl<C> Claims<C> {
    /// The claims.
    pub fn into_inner(self) -> C {
        self.0
    }
}

impl<C> Deref for Claims<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.0
    }
}

impl<C> DerefMut for Claims<C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.0
    }
}

#[cfg(feature = "axum")]
mod extract {
    use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
    use axum_core::response::{IntoResponse, Response};
    use http::request::Parts;

    use super::Claims;
    use crate::error::AuthError;
    use crate::response::{DefaultResponder, ErrorResponder};

    impl<S, C> FromRequestParts<S> for Claims<C>
    where
        S: Send + Sync,
        C: Clone + Send + Sync + 'static,
    {
        type Rejection = AuthError;

        async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AuthError> {
            parts
                .extensions
                .get::<Self>()
                .cloned()
                .ok_or_else(AuthError::missing_token)
        }
    }

    impl<S, C> OptionalFromRequestParts<S> for Claims<C>
    where
        S: Send + Sync,
        C: Clone + Send + Sync + 'static,
    {
        type Rejection = std::convert::Infallible;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Option<Self>, Self::Rejection> {
            Ok(parts.extensions.get::<Self>().cloned())
        }
    }

    /// The default RFC 6750 answer, with the error in the response extensions.
    impl IntoResponse for AuthError {
        fn into_response(self) -> Response {
            let mut response = DefaultResponder::default()
                .respond(&self)
                .map(axum_core::body::Body::from);
            response.extensions_mut().insert(self);
            response
        }
    }
}
