//! What every target shares: the clock, the tokens, a no-op-waker executor,
//! an in-memory body, the response checks.
//!
//! No `arbitrary` here: tests/fuzz_regressions.rs includes this file to replay
//! kept inputs on the stable toolchain. Every target drives `JwtAuth` through `tower::Service::call` with static
//! keys and in-memory bodies, so every future completes at its first poll: they
//! are polled once with a no-op waker instead of paying for a runtime.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt as _, Full};
use tower_jwt_auth::{AuthError, AuthErrorKind, TokenIssuer};

/// The clock of every layer and issuer here, so that a crash input replays the
/// same way on any day.
pub const NOW: u64 = 1_800_000_000;

/// The HMAC secret of the `locate` and `form` targets.
pub const SECRET: &[u8] = b"fuzzing secret, at least 32 bytes";

/// Polls a future that must be ready at once.
pub fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("with static keys and in-memory bodies every future is ready"),
    }
}

/// Tokens the fuzzer can splice into its input: they make `200` reachable and
/// give the verify step something to chew on past the base64.
#[derive(Debug)]
pub struct Tokens {
    /// Valid, `sub` = "ada".
    pub valid: String,
    /// Valid, `sub` = "bob": a second token for the "two tokens" path.
    pub other: String,
    /// Correctly signed, expired.
    pub expired: String,
    /// `valid` with its signature's first byte changed.
    pub forged: String,
}

impl Tokens {
    /// Signs the tokens with [`SECRET`] at [`NOW`].
    pub fn new() -> Self {
        let issuer = |ttl| {
            TokenIssuer::hmac(SECRET)
                .clock(|| NOW)
                .ttl(std::time::Duration::from_secs(ttl))
                .build()
                .expect("issuer")
        };
        let long = issuer(3600);
        let issue = |sub| {
            long.issue(&serde_json::json!({ "sub": sub }))
                .expect("token")
        };
        let valid = issue("ada");
        // Expired by far more than the default leeway.
        let expired_issuer = TokenIssuer::hmac(SECRET)
            .clock(|| NOW - 7200)
            .build()
            .expect("issuer");
        let expired = expired_issuer
            .issue(&serde_json::json!({ "sub": "ada" }))
            .expect("token");
        let mut forged = valid.clone().into_bytes();
        let first_sig = valid.rfind('.').expect("three segments") + 1;
        forged[first_sig] = if forged[first_sig] == b'A' {
            b'B'
        } else {
            b'A'
        };
        Self {
            other: issue("bob"),
            valid,
            expired,
            forged: String::from_utf8(forged).expect("ASCII"),
        }
    }
}

impl Default for Tokens {
    fn default() -> Self {
        Self::new()
    }
}

/// `text` with the placeholders `{valid}`, `{other}`, `{expired}` and
/// `{forged}` replaced by the tokens: how the hand-written seeds of the `text:`
/// inputs carry tokens.
pub fn expand(text: &[u8], tokens: &Tokens) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    'outer: while let Some((&first, tail)) = rest.split_first() {
        for (name, token) in [
            (&b"{valid}"[..], &tokens.valid),
            (b"{other}", &tokens.other),
            (b"{expired}", &tokens.expired),
            (b"{forged}", &tokens.forged),
        ] {
            if let Some(after) = rest.strip_prefix(name) {
                out.extend_from_slice(token.as_bytes());
                rest = after;
                continue 'outer;
            }
        }
        out.push(first);
        rest = tail;
    }
    out
}

/// The inner service of the head-only targets: answers `200` and hands back
/// the request's extensions (and so the claims) in the response's.
pub async fn echo_extensions<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::default());
    *response.extensions_mut() = request.into_parts().0.extensions;
    Ok(response)
}

/// Checks what holds for every response of the layer: a rejection carries an
/// `AuthError` whose status it has, and anything else is the inner service's
/// `200`. Returns the error kind of a rejection.
pub fn check_response<B>(response: &Response<B>, allowed: &[StatusCode]) -> Option<AuthErrorKind> {
    let status = response.status();
    assert!(allowed.contains(&status), "unexpected status {status}");
    match response.extensions().get::<AuthError>() {
        Some(error) => {
            assert_eq!(status, error.kind().status(), "status of {error:?}");
            Some(error.kind())
        }
        None => {
            assert_eq!(status, StatusCode::OK, "a rejection without an AuthError");
            None
        }
    }
}

/// An in-memory request body in the given frames, optionally followed by
/// trailers or ending in an error.
#[derive(Debug)]
pub struct Chunks {
    frames: VecDeque<Bytes>,
    trailers: Option<HeaderMap>,
    fail: bool,
}

impl Chunks {
    /// `body` cut into frames of the given sizes (the rest in one last frame);
    /// a size of zero is an empty data frame.
    pub fn new(body: &Bytes, sizes: &[u16], trailers: Option<HeaderMap>, fail: bool) -> Self {
        let mut frames = VecDeque::new();
        let mut rest = body.clone();
        for &size in sizes {
            if rest.is_empty() {
                break;
            }
            frames.push_back(rest.split_to(usize::from(size).min(rest.len())));
        }
        if !rest.is_empty() {
            frames.push_back(rest);
        }
        Self {
            frames,
            trailers,
            fail,
        }
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = match self.frames.pop_front() {
            Some(data) => Some(Ok(Frame::data(data))),
            None if self.fail => {
                self.fail = false;
                Some(Err(std::io::Error::other("the client went away")))
            }
            None => self.trailers.take().map(|t| Ok(Frame::trailers(t))),
        };
        Poll::Ready(frame)
    }
}

/// Collects a body that is ready at once: its bytes and trailers.
pub fn collect<B: Body>(body: B) -> Result<(Bytes, Option<HeaderMap>), B::Error> {
    let collected = now(body.collect())?;
    let trailers = collected.trailers().cloned();
    Ok((collected.to_bytes(), trailers))
}
