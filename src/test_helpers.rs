//! What the unit tests share: a secret and a token made with it, an inner
//! service that echoes what it was given, one that must never be called, and
//! a capture of the log lines.

use std::convert::Infallible;
use std::future::Ready;
use std::io;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower_service::Service;
use tracing_subscriber::fmt::MakeWriter;

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

/// Log lines written while the returned guard lives (this thread only).
#[allow(dead_code, reason = "only the tests of some features capture logs")]
#[derive(Clone, Default)]
pub(crate) struct Logs(Arc<Mutex<Vec<u8>>>);

#[allow(dead_code, reason = "only the tests of some features capture logs")]
impl Logs {
    pub(crate) fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let (logs, _, guard) = Self::capture_with_dispatch();
        (logs, guard)
    }

    /// Also the subscriber, for futures that run on other threads
    /// (`WithSubscriber::with_subscriber`).
    pub(crate) fn capture_with_dispatch()
    -> (Self, tracing::Dispatch, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        let dispatch = tracing::Dispatch::new(subscriber);
        // The default of this thread too: when it is the only subscriber
        // alive, tracing asks this thread's default alone which callsites
        // are wanted, even for events sent on other threads.
        let guard = tracing::dispatcher::set_default(&dispatch);
        // Another test of this binary may have met a callsite first, on a
        // thread without a subscriber, and cached "never" for it: ask again.
        tracing::callsite::rebuild_interest_cache();
        (logs, dispatch, guard)
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Everything captured so far, which is then forgotten.
    pub(crate) fn take(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut *self.0.lock().unwrap())).into_owned()
    }
}

impl io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}
