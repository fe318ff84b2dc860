//! [`Config`]: the built configuration of a [`RequireLayer`](super::RequireLayer),
//! shared by the layer and its services behind one `Arc`.

use bytes::Bytes;
use http::{Request, Response};

use super::rule::Rules;
use crate::claims::Claims;
use crate::error::AuthError;
use crate::response::ErrorResponder;

/// The built configuration of a [`RequireLayer`], shared behind one `Arc`.
pub(crate) struct Config<C, R> {
    pub(super) rules: Rules<C>,
    pub(super) responder: R,
}

impl<C: Send + Sync + 'static, R> Config<C, R> {
    /// The claims of `request`, checked against every synchronous rule.
    pub(super) fn check<'a, B>(&self, request: &'a Request<B>) -> Result<&'a C, AuthError> {
        let Claims(claims) = request
            .extensions()
            .get::<Claims<C>>()
            .ok_or_else(AuthError::missing_token)?;
        self.rules.check(claims)?;
        Ok(claims)
    }
}

impl<C, R: ErrorResponder> Config<C, R> {
    /// The response for a refused request, with the error in its extensions.
    pub(crate) fn refuse(&self, error: AuthError) -> Response<Bytes> {
        crate::response::refuse(&self.responder, error)
    }
}
