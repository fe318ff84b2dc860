//! [`Revocation`]: the store, the timeout and the failure policy of the check.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{RevocationStore, TokenInfo};
use crate::error::{AuthError, AuthErrorKind};

/// The default time a revocation check may take: 100 ms.
///
/// A Redis `MGET` on a local network answers in well under a millisecond, and
/// in a few milliseconds at a bad moment; 100 ms leaves room for a slow moment
/// of the store or the network, yet keeps an unreachable store from holding
/// every request for long (and fires before the Redis client's own 500 ms
/// response timeout).
pub const DEFAULT_REVOCATION_TIMEOUT: Duration = Duration::from_millis(100);

/// How the layer checks revocation: a [`RevocationStore`], a timeout on every
/// check, and what to do when the store cannot answer.
///
/// - The token was revoked: the request is refused with
///   [`AuthErrorKind::Revoked`] (`401`, `invalid_token`).
/// - The store failed, or did not answer within the
///   [`timeout`](Self::timeout): by default the check *fails closed*, and the
///   request is refused with [`AuthErrorKind::RevocationUnavailable`] (`503`),
///   the store's error as its [`source`](std::error::Error::source). With
///   [`fail_open(true)`](Self::fail_open) the token is let through instead.
///   Either way the failure is logged with a `tracing` `warn` event (target
///   `tower_jwt_auth`), which names the error but never the token or its claims.
///
/// Cloning is cheap: the store sits behind an `Arc`. The timeout needs a Tokio
/// runtime with its time driver enabled, as axum's and hyper's servers have.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{MemoryRevocations, Revocation};
///
/// let revocation = Revocation::new(MemoryRevocations::new())
///     .timeout(Duration::from_millis(50))
///     .fail_open(false);
/// # let _ = revocation;
/// ```
#[derive(Clone)]
pub struct Revocation {
    store: Arc<dyn RevocationStore>,
    timeout: Duration,
    fail_open: bool,
}

impl Revocation {
    /// Checks with `store`, within [`DEFAULT_REVOCATION_TIMEOUT`], failing
    /// closed.
    pub fn new(store: impl RevocationStore) -> Self {
        Self::from_arc(Arc::new(store))
    }

    /// Checks with a store that is already shared.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_jwt_auth::{MemoryRevocations, Revocation, RevocationStore};
    ///
    /// let store: Arc<dyn RevocationStore> = Arc::new(MemoryRevocations::new());
    /// let revocation = Revocation::from_arc(store.clone());
    /// # let _ = revocation;
    /// ```
    pub fn from_arc(store: Arc<dyn RevocationStore>) -> Self {
        Self {
            store,
            timeout: DEFAULT_REVOCATION_TIMEOUT,
            fail_open: false,
        }
    }

    /// The longest a check may take (default [`DEFAULT_REVOCATION_TIMEOUT`],
    /// 100 ms); past it the store counts as failed. A store that answers at
    /// once, like [`MemoryRevocations`](crate::MemoryRevocations), always
    /// answers, even with a zero timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether a token is let through when the store fails or times out
    /// (default `false`: the request is refused with `503`).
    ///
    /// Failing open keeps the service up while the store is down, at the cost
    /// of accepting revoked tokens until they expire; choose it only where
    /// that is the lesser harm.
    pub fn fail_open(mut self, yes: bool) -> Self {
        self.fail_open = yes;
        self
    }

    /// The revocation check of one verified token: `Ok` when it is not
    /// revoked, or when the store failed and the policy is to fail open.
    ///
    /// The layer calls it after verification; call it yourself to check a
    /// token elsewhere, on a long-lived connection for instance. The future
    /// owns what it needs (`'static`), so it can be kept or spawned.
    ///
    /// ```
    /// use tower_jwt_auth::{AuthErrorKind, MemoryRevocations, Revocation, RevocationStore, TokenInfo};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let store = MemoryRevocations::new();
    /// let revocation = Revocation::new(store.clone());
    /// let now = std::time::UNIX_EPOCH.elapsed()?.as_secs();
    /// let token = TokenInfo::new().with_jti("5f0c6d1e").with_expires_at(now + 600);
    ///
    /// assert!(revocation.check(token.clone()).await.is_ok());
    /// store.revoke(&token).await?;
    /// let error = revocation.check(token).await.unwrap_err();
    /// assert_eq!(error.kind(), AuthErrorKind::Revoked);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`AuthErrorKind::Revoked`] for a revoked token;
    /// [`AuthErrorKind::RevocationUnavailable`] when the store failed or timed
    /// out and the policy is to fail closed.
    pub fn check(
        &self,
        token: TokenInfo,
    ) -> impl Future<Output = Result<(), AuthError>> + Send + 'static {
        let store = Arc::clone(&self.store);
        let timeout = self.timeout;
        let fail_open = self.fail_open;
        async move {
            let error = match tokio::time::timeout(timeout, store.is_revoked(&token)).await {
                Ok(Ok(false)) => return Ok(()),
                Ok(Ok(true)) => {
                    return Err(AuthError::new(AuthErrorKind::Revoked, "token revoked"));
                }
                Ok(Err(error)) => AuthError::with_boxed_source(
                    AuthErrorKind::RevocationUnavailable,
                    "revocation store unavailable",
                    error,
                ),
                Err(elapsed) => AuthError::with_source(
                    AuthErrorKind::RevocationUnavailable,
                    "revocation check timed out",
                    elapsed,
                ),
            };
            let cause = std::error::Error::source(&error).map(ToString::to_string);
            tracing::warn!(
                target: "tower_jwt_auth",
                reason = error.description(),
                error = cause.as_deref().unwrap_or(""),
                timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                fail_open,
                "revocation check failed; {}",
                if fail_open { "token let through (fail open)" } else { "request refused (fail closed)" },
            );
            if fail_open { Ok(()) } else { Err(error) }
        }
    }
}

impl fmt::Debug for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation")
            .field("store", &format_args!("dyn RevocationStore"))
            .field("timeout", &self.timeout)
            .field("fail_open", &self.fail_open)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::future::{pending, ready};
    use std::io;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;
    use crate::revocation::{MemoryRevocations, RevocationFuture};

    /// A store that fails every call, or hangs on every call.
    struct Broken {
        hang: bool,
        calls: AtomicUsize,
    }

    impl Broken {
        fn failing() -> Self {
            Self {
                hang: false,
                calls: AtomicUsize::new(0),
            }
        }

        fn hanging() -> Self {
            Self {
                hang: true,
                calls: AtomicUsize::new(0),
            }
        }

        fn answer<'a, T: Send + 'a>(&'a self) -> RevocationFuture<'a, T> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if self.hang {
                Box::pin(pending())
            } else {
                Box::pin(ready(Err("connection refused".into())))
            }
        }
    }

    impl RevocationStore for Broken {
        fn is_revoked<'a>(&'a self, _: &'a TokenInfo) -> RevocationFuture<'a, bool> {
            self.answer()
        }
        fn revoke<'a>(&'a self, _: &'a TokenInfo) -> RevocationFuture<'a, ()> {
            self.answer()
        }
        fn revoke_subject<'a>(
            &'a self,
            _: Option<&'a str>,
            _: &'a str,
            _: u64,
            _: u64,
        ) -> RevocationFuture<'a, ()> {
            self.answer()
        }
    }

    /// Log lines written while the returned guard lives (this thread only).
    #[derive(Clone, Default)]
    struct Logs(Arc<Mutex<Vec<u8>>>);

    impl Logs {
        fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
            let logs = Self::default();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(logs.clone())
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .finish();
            let guard = tracing::subscriber::set_default(subscriber);
            // Another test of this binary may have met a callsite first, on a
            // thread without a subscriber, and cached "never" for it: ask again.
            tracing::callsite::rebuild_interest_cache();
            (logs, guard)
        }

        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
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

    fn token() -> TokenInfo {
        let now = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs();
        TokenInfo::new()
            .with_jti("secret-jti")
            .with_subject("secret-sub")
            .with_issued_at(now - 10)
            .with_expires_at(now + 600)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_token_not_revoked_passes_and_a_revoked_one_is_refused() {
        let store = MemoryRevocations::new();
        let revocation = Revocation::new(store.clone());
        revocation.check(token()).await.unwrap();
        store.revoke(&token()).await.unwrap();
        let error = revocation.check(token()).await.unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::Revoked);
        assert_eq!(error.status(), http::StatusCode::UNAUTHORIZED);
        assert_eq!(error.kind().error_code(), Some("invalid_token"));
        // A token that the store knows nothing of.
        revocation.check(TokenInfo::new()).await.unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_failing_store_fails_closed_by_default_and_is_logged() {
        let (logs, _guard) = Logs::capture();
        let error = Revocation::new(Broken::failing())
            .check(token())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::RevocationUnavailable);
        assert_eq!(error.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.description(), "revocation store unavailable");
        let source = std::error::Error::source(&error).unwrap().to_string();
        assert_eq!(source, "connection refused");

        let logs = logs.text();
        assert!(logs.contains("WARN"), "{logs}");
        assert!(logs.contains("connection refused"), "{logs}");
        assert!(logs.contains("fail closed"), "{logs}");
        assert!(!logs.contains("secret"), "no claim value in logs: {logs}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_failing_store_fails_open_when_configured_and_is_logged() {
        let (logs, _guard) = Logs::capture();
        Revocation::new(Broken::failing())
            .fail_open(true)
            .check(token())
            .await
            .unwrap();
        let logs = logs.text();
        assert!(logs.contains("WARN"), "{logs}");
        assert!(logs.contains("fail open"), "{logs}");
        assert!(logs.contains("fail_open=true"), "{logs}");
        assert!(!logs.contains("secret"), "no claim value in logs: {logs}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_hanging_store_times_out() {
        let (logs, _guard) = Logs::capture();
        let store = Arc::new(Broken::hanging());
        let revocation = Revocation::from_arc(store.clone()).timeout(Duration::from_millis(50));

        let start = Instant::now();
        let check = tokio::time::timeout(Duration::from_secs(5), revocation.check(token()));
        let error = check.await.expect("bounded").unwrap_err();
        let took = start.elapsed();
        assert_eq!(error.kind(), AuthErrorKind::RevocationUnavailable);
        assert_eq!(error.description(), "revocation check timed out");
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert_eq!(store.calls.load(Ordering::Relaxed), 1);
        assert!(logs.text().contains("timed out"), "{}", logs.text());

        let open = revocation.fail_open(true).check(token());
        tokio::time::timeout(Duration::from_secs(5), open)
            .await
            .expect("bounded")
            .unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_ready_store_answers_even_with_a_zero_timeout() {
        let store = MemoryRevocations::new();
        store.revoke(&token()).await.unwrap();
        let revocation = Revocation::new(store).timeout(Duration::ZERO);
        let error = revocation.check(token()).await.unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::Revoked);
    }

    #[test]
    fn the_check_is_send_and_static_and_revocation_is_clone_and_debug() {
        fn send_static<T: Send + 'static>(_: &T) {}
        let revocation = Revocation::new(MemoryRevocations::new());
        send_static(&revocation.check(token()));
        let debug = format!("{:?}", revocation.clone());
        assert!(debug.contains("timeout: 100ms"), "{debug}");
        assert!(debug.contains("fail_open: false"), "{debug}");
    }
}
