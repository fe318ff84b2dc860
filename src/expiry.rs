//! [`TokenExpiry`]: when the accepted token expires, for connections that
//! outlive the request that opened them (a WebSocket, a server-sent event
//! stream).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// When the request's token expires: its `exp` claim, in the request
/// extensions of every accepted request of a layer built with
/// [`JwtAuthBuilder::token_expiry`](crate::JwtAuthBuilder::token_expiry).
///
/// The layer checks `exp` once, when the request arrives. A connection that
/// lives on after the handler accepted it (a WebSocket upgrade) must end
/// itself when its token does; this is the deadline to do it by:
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::TokenExpiry;
///
/// # async fn serve(expiry: TokenExpiry) {
/// // In the handler: `Extension(expiry): Extension<TokenExpiry>` with axum,
/// // or `request.extensions().get::<TokenExpiry>()`.
/// let closes = async {
///     match expiry.remaining() {
///         Some(remaining) => tokio::time::sleep(remaining).await,
///         None => std::future::pending().await, // no `exp`: never
///     }
/// };
/// tokio::select! {
///     () = closes => { /* send a close frame: "token expired" */ }
///     // () = connection => {}
/// }
/// # }
/// ```
///
/// `examples/websocket.rs` closes an axum WebSocket this way.
///
/// - The deadline is the `exp` claim itself (RFC 7519 §4.1.4: the first
///   instant the token must not be accepted), without the layer's
///   [leeway](crate::JwtAuthBuilder::leeway): a token the layer accepted
///   within its leeway has a deadline already passed.
/// - It is `None` when the token has no `exp` (a layer that does not
///   [require](crate::JwtAuthBuilder::required_claims) it), when the layer
///   [does not check it](crate::JwtAuthBuilder::dangerous_skip_exp_check),
///   or when it is beyond what a `SystemTime` holds.
/// - [`remaining`](Self::remaining) reads the system clock, not the layer's
///   [`Clock`](crate::Clock).
/// - Revocation is not a time: a connection that must end when its token is
///   revoked asks the revocation store (feature `revocation`) again from time
///   to time (the example does).
///
/// With the `axum` feature it is also an extractor, as
/// [`Claims`](crate::Claims) is: missing (no token in an optional layer, or a
/// layer without `token_expiry`), it answers `401` like the layer, and
/// `Option<TokenExpiry>` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenExpiry {
    deadline: Option<SystemTime>,
}

impl TokenExpiry {
    /// A token that expires at `deadline` (`None`: never), as the layer
    /// would insert it; for tests of handlers.
    pub fn new(deadline: Option<SystemTime>) -> Self {
        Self { deadline }
    }

    /// The token's expiry from its `exp` (seconds since the Unix epoch,
    /// perhaps fractional), `None` when it has none the layer checks.
    pub(crate) fn from_exp(exp: Option<f64>) -> Self {
        let deadline = exp
            .and_then(|exp| Duration::try_from_secs_f64(exp).ok())
            .and_then(|since_epoch| UNIX_EPOCH.checked_add(since_epoch));
        Self { deadline }
    }

    /// The instant the token expires, or `None` when it never does (as far
    /// as the layer checks).
    pub fn deadline(&self) -> Option<SystemTime> {
        self.deadline
    }

    /// How long the token has left by the system clock: zero once expired,
    /// `None` when it never expires.
    pub fn remaining(&self) -> Option<Duration> {
        let deadline = self.deadline?;
        Some(
            deadline
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO),
        )
    }
}

#[cfg(feature = "axum")]
mod extract {
    use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
    use http::request::Parts;

    use super::TokenExpiry;
    use crate::error::AuthError;

    impl<S: Send + Sync> FromRequestParts<S> for TokenExpiry {
        type Rejection = AuthError;

        async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AuthError> {
            parts
                .extensions
                .get::<Self>()
                .copied()
                .ok_or_else(AuthError::missing_token)
        }
    }

    impl<S: Send + Sync> OptionalFromRequestParts<S> for TokenExpiry {
        type Rejection = std::convert::Infallible;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Option<Self>, Self::Rejection> {
            Ok(parts.extensions.get::<Self>().copied())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_exp_and_none_when_it_cannot_be_one() {
        let at = |exp| TokenExpiry::from_exp(exp).deadline();
        assert_eq!(
            at(Some(1_700_000_000.5)),
            Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_500))
        );
        for exp in [
            None,
            Some(-1.0),
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(1e300),
        ] {
            assert_eq!(at(exp), None, "{exp:?}");
        }
    }

    #[test]
    fn remaining_counts_down_to_zero() {
        let past = TokenExpiry::new(Some(UNIX_EPOCH));
        assert_eq!(past.remaining(), Some(Duration::ZERO));
        let later = TokenExpiry::new(Some(SystemTime::now() + Duration::from_secs(60)));
        let left = later.remaining().unwrap();
        assert!(left > Duration::from_secs(50) && left <= Duration::from_secs(60));
        assert_eq!(TokenExpiry::new(None).remaining(), None);
    }

    #[cfg(feature = "axum")]
    #[tokio::test]
    async fn the_extractor_answers_like_the_claims_one() {
        use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};

        use crate::AuthErrorKind;

        let expiry = TokenExpiry::new(Some(UNIX_EPOCH));
        let (mut with, ()) = http::Request::new(()).into_parts();
        with.extensions.insert(expiry);
        let (mut without, ()) = http::Request::new(()).into_parts();

        let found = <TokenExpiry as FromRequestParts<()>>::from_request_parts(&mut with, &());
        assert_eq!(found.await.unwrap(), expiry);
        let missing = <TokenExpiry as FromRequestParts<()>>::from_request_parts(&mut without, &());
        assert_eq!(
            missing.await.unwrap_err().kind(),
            AuthErrorKind::MissingToken
        );
        let optional =
            <TokenExpiry as OptionalFromRequestParts<()>>::from_request_parts(&mut without, &());
        assert_eq!(optional.await.unwrap(), None);
    }
}
