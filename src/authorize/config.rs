//! [`Config`]: the built configuration of a [`RequireLayer`](super::RequireLayer),
//! shared by the layer and its services behind one `Arc`.

use std::sync::Arc;

use bytes::Bytes;
use http::{Extensions, Request, Response};

use super::rule::Rules;
use crate::claims::Claims;
use crate::error::{AuthError, TokenChallenge};
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
        self.rules
            .check(claims)
            .map_err(|error| under_token_challenge(error, request.extensions()))?;
        Ok(claims)
    }
}

/// `error`, to be answered under the challenge the `JwtAuthLayer` in front
/// left in `extensions` (one that takes DPoP: the scheme the token came by),
/// if it left one.
pub(super) fn under_token_challenge(error: AuthError, extensions: &Extensions) -> AuthError {
    match extensions.get::<TokenChallenge>() {
        Some(TokenChallenge(challenge)) => error.with_challenge(Arc::clone(challenge)),
        None => error,
    }
}

impl<C, R: ErrorResponder> Config<C, R> {
    /// The response for a refused request, with the error in its extensions.
    pub(crate) fn refuse(&self, error: AuthError) -> Response<Bytes> {
        crate::response::refuse(&self.responder, error)
    }
}
