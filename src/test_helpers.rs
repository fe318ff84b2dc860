//! What the unit tests share: a secret and a token made with it, an inner
//! service that echoes what it was given, and one that must never be called.

use std::convert::Infallible;
use std::future::Ready;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower_service::Service;

use crate::{Claims, TokenIssuer};

/// An HMAC secret of 32 bytes.
pub(crate) const SECRET: &[u8] = b"unit-test secret, 32 bytes long!";

/// A token for `{"sub": "ada"}` signed with [`SECRET`], valid for the default
/// time to live.
pub(crate) fn token() -> String {
    TokenIssuer::hmac(SECRET)
        .build()
        .unwrap()
        .issue(&serde_json::json!({ "sub": "ada" }))
        .unwrap()
}

/// Answers `200` with the `sub` of the request's `Claims<serde_json::Value>`
/// (`-` without claims) as its body.
#[derive(Clone, Debug)]
pub(crate) struct Echo;

impl<B> Service<Request<B>> for Echo {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let sub = request
            .extensions()
            .get::<Claims<serde_json::Value>>()
            .map_or("-".to_owned(), |claims| claims.0["sub"].to_string());
        std::future::ready(Ok(Response::new(Full::from(sub))))
    }
}

/// Panics when called: for requests that must be refused before the inner
/// service.
#[derive(Clone, Debug)]
pub(crate) struct MustNotBeCalled;

impl<B> Service<Request<B>> for MustNotBeCalled {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        panic!("the inner service was called for a request that must be refused")
    }
}
