//! The built configuration, shared by the layer and every service behind one
//! `Arc`, and the two things it does per request: authenticate and reject.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use serde::de::DeserializeOwned;

use crate::claims::Claims;
use crate::error::AuthError;
use crate::response::ErrorResponder;
use crate::source::{self, TokenSource};
use crate::verify::Verifier;

pub(crate) struct Authenticator<R> {
    pub(crate) verifier: Verifier,
    pub(crate) sources: Vec<TokenSource>,
    /// The form source, in layers that have one.
    pub(crate) form: Option<FormSource>,
    pub(crate) optional: bool,
    pub(crate) responder: R,
}

/// Where the form source sits among the sources, and how it reads.
pub(crate) struct FormSource {
    pub(crate) position: usize,
    pub(crate) field: Arc<str>,
    pub(crate) limit: usize,
}

impl<R: ErrorResponder> Authenticator<R> {
    /// The claims of the request's token; `None` only in optional mode when the
    /// request has no token.
    pub(crate) fn authenticate<C: DeserializeOwned, B>(
        &self,
        request: &Request<B>,
    ) -> Result<Option<Claims<C>>, AuthError> {
        let token = source::locate(&self.sources, request)?.token;
        self.claims(token.as_deref())
    }

    /// The claims of `token`; without one, `None` in optional mode, else the
    /// missing-token error.
    pub(crate) fn claims<C: DeserializeOwned>(
        &self,
        token: Option<&str>,
    ) -> Result<Option<Claims<C>>, AuthError> {
        match token {
            Some(token) => self.verifier.verify(token).map(|c| Some(Claims(c))),
            None if self.optional => Ok(None),
            None => Err(AuthError::missing_token()),
        }
    }

    /// The response for a refused request, with the error in its extensions.
    pub(crate) fn reject(&self, error: AuthError) -> Response<Bytes> {
        let mut response = self.responder.respond(&error);
        #[cfg(feature = "tracing")]
        tracing::debug!(
            target: "tower_jwt_auth",
            kind = ?error.kind(),
            reason = error.description(),
            status = response.status().as_u16(),
            "request refused",
        );
        response.extensions_mut().insert(error);
        response
    }
}
