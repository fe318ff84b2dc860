//! [`Revocation`]: the store, the timeout and the failure policy of the check,
//! which tells its record of the store's health (`crate::outage`) of every
//! answer and failure of the store.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::remembered::RememberedTokens;
use super::{RevocationStore, TokenInfo};
use crate::breaker::{Admission, Breaker, CircuitBreaker};
use crate::error::{AuthError, AuthErrorKind};
use crate::metrics::{self, RevocationResult};
use crate::outage::{Health, Words};

/// How the outage events name this check.
const WORDS: Words = Words {
    check: "revocation",
    asks: "store",
    item: "token",
    fallback: None,
};

/// The default time a revocation check may take: 100 ms.
///
/// A Redis `MGET` on a local network answers in well under a millisecond, and
/// in a few milliseconds at a bad moment; 100 ms leaves room for a slow moment
/// of the store or the network, yet keeps an unreachable store from holding
/// every request for long (and fires before the Redis client's own 500 ms
/// response timeout).
pub const DEFAULT_REVOCATION_TIMEOUT: Duration = Duration::from_millis(100);

/// How many tokens' identities a [`Revocation`] remembers by default: 4 096
/// (see [`remember_tokens`](Revocation::remember_tokens)).
pub const DEFAULT_REMEMBERED_TOKENS: usize = 4_096;

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
///
/// # Logging
///
/// Store failures are logged once per outage, not once per request, with
/// `tracing` events (target `tower_jwt_auth`) that name the error and the
/// policy but never the token or its claims:
///
/// - the first failure after a healthy period: a `warn` event, "revocation
///   check failed", with the `reason`, the store's `error`, `timeout_ms`,
///   `fail_open` and `failed_checks`;
/// - while the store keeps failing, at most one `warn` every 10 seconds,
///   "revocation store still failing", with `failed_checks` (the failed checks
///   since the last event) and `outage_ms` (the time since the first failure);
/// - the first check that the store answers again: an `info` event,
///   "revocation store answers again", with `failed_checks` (all the failed
///   checks of the outage) and `outage_ms`.
///
/// Events are at least 10 seconds apart, so a store that flaps between
/// failing and answering is not logged at every flap: a failure within 10
/// seconds of the last event is counted quietly, and told in the next event's
/// `failed_checks`.
///
/// This record of the store's health is shared by clones, so the layer and
/// every clone of it count one outage together. [`timeout`](Self::timeout) and
/// [`fail_open`](Self::fail_open) return a `Revocation` with a record of its
/// own, since its events speak for another policy. A check that the store
/// answers costs one atomic load for this record.
///
/// # Circuit breaker
///
/// A store that hangs would make every request wait the whole timeout. After
/// 5 failures or timeouts in a row (by default; see
/// [`circuit_breaker`](Self::circuit_breaker)) the check stops asking it: for
/// a cool-down of 5 s every check gets the policy's answer at once (`503`
/// "revocation store circuit open", or the token let through when failing
/// open); then one probe asks the store, and its answer closes the breaker
/// while its failure opens it again. The opening is logged once per outage
/// (`warn`, "revocation circuit breaker open"), the checks answered at once
/// are counted in the outage's summaries, and the closing is logged (`info`,
/// "revocation circuit breaker closed"). While closed it costs one atomic
/// load per check.
///
/// # Answers without a wait
///
/// A store that can answer in memory ([`MemoryRevocations`](crate::MemoryRevocations),
/// `RedisRevocations` from its local mirror) says so in
/// [`RevocationStore::is_revoked_now`]; such a check costs no future, no
/// timer and no wait. And the check remembers the identities of the last
/// tokens it read ([`remember_tokens`](Self::remember_tokens)), so a token
/// sent again is not read again.
///
/// Cloning is cheap: everything sits behind one `Arc`. The timeout needs a
/// Tokio runtime with its time driver enabled, as axum's and hyper's servers
/// have.
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
    shared: Arc<Shared>,
}

/// The configuration of a [`Revocation`] and the health of its store.
struct Shared {
    store: Arc<dyn RevocationStore>,
    timeout: Duration,
    fail_open: bool,
    health: Health,
    breaker: Breaker,
    remembered: RememberedTokens,
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
        Self::with(
            store,
            DEFAULT_REVOCATION_TIMEOUT,
            false,
            CircuitBreaker::default(),
            DEFAULT_REMEMBERED_TOKENS,
        )
    }

    /// A `Revocation` with its own record of the store's health and its own
    /// breaker.
    fn with(
        store: Arc<dyn RevocationStore>,
        timeout: Duration,
        fail_open: bool,
        breaker: CircuitBreaker,
        remembered: usize,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                timeout,
                fail_open,
                health: Health::new(WORDS),
                breaker: Breaker::new(breaker),
                remembered: RememberedTokens::new(remembered),
            }),
        }
    }

    /// When the check stops asking a store that keeps failing or hanging,
    /// and for how long (default [`CircuitBreaker::default`]: after 5
    /// failures or timeouts in a row, for 5 s; see
    /// [Circuit breaker](Self#circuit-breaker)).
    /// [`CircuitBreaker::disabled`] asks the store on every check.
    ///
    /// The result no longer shares the record of the store's health, nor
    /// the breaker's state, with `self` and its clones.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::{CircuitBreaker, MemoryRevocations, Revocation};
    ///
    /// let revocation = Revocation::new(MemoryRevocations::new())
    ///     .circuit_breaker(CircuitBreaker::new(10, Duration::from_secs(2)));
    /// # let _ = revocation;
    /// ```
    pub fn circuit_breaker(self, breaker: CircuitBreaker) -> Self {
        let shared = &self.shared;
        Self::with(
            Arc::clone(&shared.store),
            shared.timeout,
            shared.fail_open,
            breaker,
            shared.remembered.max_entries(),
        )
    }

    /// The longest a check may take (default [`DEFAULT_REVOCATION_TIMEOUT`],
    /// 100 ms); past it the store counts as failed. A store that answers at
    /// once, like [`MemoryRevocations`](crate::MemoryRevocations), always
    /// answers, even with a zero timeout.
    ///
    /// The result no longer shares the record of the store's health with
    /// `self` and its clones (see [Logging](Self#logging)).
    pub fn timeout(self, timeout: Duration) -> Self {
        let shared = &self.shared;
        Self::with(
            Arc::clone(&shared.store),
            timeout,
            shared.fail_open,
            shared.breaker.config(),
            shared.remembered.max_entries(),
        )
    }

    /// Whether a token is let through when the store fails or times out
    /// (default `false`: the request is refused with `503`).
    ///
    /// Failing open keeps the service up while the store is down, at the cost
    /// of accepting revoked tokens until they expire; choose it only where
    /// that is the lesser harm.
    ///
    /// The result no longer shares the record of the store's health with
    /// `self` and its clones (see [Logging](Self#logging)).
    pub fn fail_open(self, yes: bool) -> Self {
        let shared = &self.shared;
        Self::with(
            Arc::clone(&shared.store),
            shared.timeout,
            yes,
            shared.breaker.config(),
            shared.remembered.max_entries(),
        )
    }

    /// How many tokens' identities the check remembers, by the token as
    /// sent (default [`DEFAULT_REMEMBERED_TOKENS`], 4 096; `0` remembers
    /// none): a token sent again is not read again. A token's identity (its
    /// `jti`, `sub`, `iss`, `iat` and `exp`, and the digest of a token without
    /// `jti`) follows from its text, so a remembered one is never stale; the
    /// store is asked every time all the same. Each token costs about its
    /// length plus 250 bytes (its `TokenInfo`, shared with the requests and
    /// the store's table of answers), so about 5 MB for 4 096 tokens of 1 KB;
    /// a full table forgets half its tokens.
    ///
    /// The result no longer shares the record of the store's health, the
    /// breaker's state and the remembered tokens with `self` and its clones.
    ///
    /// ```
    /// use tower_jwt_auth::{MemoryRevocations, Revocation};
    ///
    /// let revocation = Revocation::new(MemoryRevocations::new()).remember_tokens(50_000);
    /// # let _ = revocation;
    /// ```
    pub fn remember_tokens(self, max_tokens: usize) -> Self {
        let shared = &self.shared;
        Self::with(
            Arc::clone(&shared.store),
            shared.timeout,
            shared.fail_open,
            shared.breaker.config(),
            max_tokens,
        )
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
        let now = self.check_now(&token);
        let shared = Arc::clone(&self.shared);
        async move {
            match now {
                Some(answer) => answer,
                None => shared.ask(token).await,
            }
        }
    }

    /// The store's answer for `token` when it has one without I/O
    /// ([`RevocationStore::is_revoked_now`]): not timed, not news of the
    /// store's health, and not held back by an open breaker (a local answer
    /// waits for nothing). `None`: ask with [`check_later`](Self::check_later).
    pub(crate) fn check_now(&self, token: &TokenInfo) -> Option<Result<(), AuthError>> {
        let started = metrics::start();
        let revoked = self.shared.store.is_revoked_now(token)?;
        Some(answered(started, revoked))
    }

    /// The identity of `token` (as sent), when remembered.
    pub(crate) fn remembered(&self, token: &str) -> Option<TokenInfo> {
        self.shared.remembered.get(token)
    }

    /// Remembers `info` as the identity of `token` (as sent).
    pub(crate) fn remember(&self, token: &str, info: &TokenInfo) {
        self.shared.remembered.put(token, info);
    }

    /// The check of a token that [`check_now`](Self::check_now) could not
    /// answer: the store is asked, within the timeout, behind the breaker.
    pub(crate) fn check_later(
        &self,
        token: TokenInfo,
    ) -> impl Future<Output = Result<(), AuthError>> + Send + 'static {
        let shared = Arc::clone(&self.shared);
        async move { shared.ask(token).await }
    }
}

impl Shared {
    /// Asks the store, within the timeout, behind the breaker.
    async fn ask(&self, token: TokenInfo) -> Result<(), AuthError> {
        let started = metrics::start();
        let ticket = match self.breaker.admit() {
            Admission::Ask(ticket) => ticket,
            Admission::Refuse => {
                metrics::revocation_check(started, RevocationResult::CircuitOpen);
                let error = AuthError::new(
                    AuthErrorKind::RevocationUnavailable,
                    "revocation store circuit open",
                );
                return self.fallback(error);
            }
        };
        let answer = tokio::time::timeout(self.timeout, self.store.is_revoked(&token));
        let error = match answer.await {
            Ok(Ok(revoked)) => {
                if let Some(transition) = ticket.answered() {
                    self.health.breaker(transition, self.fail_open);
                }
                self.health.answered(self.fail_open);
                return answered(started, revoked);
            }
            Ok(Err(error)) => {
                metrics::revocation_check(started, RevocationResult::Failed);
                AuthError::with_boxed_source(
                    AuthErrorKind::RevocationUnavailable,
                    "revocation store unavailable",
                    error,
                )
            }
            Err(elapsed) => {
                metrics::revocation_check(started, RevocationResult::TimedOut);
                AuthError::with_source(
                    AuthErrorKind::RevocationUnavailable,
                    "revocation check timed out",
                    elapsed,
                )
            }
        };
        let transition = ticket.failed();
        let answer = self.fallback(error);
        if let Some(transition) = transition {
            self.health.breaker(transition, self.fail_open);
        }
        answer
    }

    /// The policy's answer when the store gave none, counted as a failed
    /// check.
    fn fallback(&self, error: AuthError) -> Result<(), AuthError> {
        self.health.failed(&error, self.timeout, self.fail_open);
        if self.fail_open { Ok(()) } else { Err(error) }
    }
}

/// The check's result when the store answered, at once or later, counted.
fn answered(started: metrics::Started, revoked: bool) -> Result<(), AuthError> {
    if revoked {
        metrics::revocation_check(started, RevocationResult::Revoked);
        Err(AuthError::new(AuthErrorKind::Revoked, "token revoked"))
    } else {
        metrics::revocation_check(started, RevocationResult::NotRevoked);
        Ok(())
    }
}

impl fmt::Debug for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation")
            .field("store", &format_args!("dyn RevocationStore"))
            .field("timeout", &self.shared.timeout)
            .field("fail_open", &self.shared.fail_open)
            .field("circuit_breaker", &self.shared.breaker.config())
            .field("remember_tokens", &self.shared.remembered.max_entries())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    use super::*;
    use crate::breaker::DEFAULT_BREAKER_COOL_DOWN;
    use crate::revocation::MemoryRevocations;
    use crate::revocation::test_support::{Switch, token};
    use crate::test_helpers::Logs;

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
        let error = Revocation::from_arc(Switch::down())
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
        Revocation::from_arc(Switch::down())
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
        let store = Switch::hanging();
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

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_store_that_answers_again_is_logged_once() {
        let (logs, _guard) = Logs::capture();
        let store = Switch::down();
        let revocation = Revocation::from_arc(store.clone());
        for _ in 0..3 {
            revocation.check(token()).await.unwrap_err();
        }
        store.set_down(false);
        revocation.check(token()).await.unwrap();
        revocation.check(token()).await.unwrap();
        let logged = logs.take();
        let again: Vec<_> = logged
            .lines()
            .filter(|line| line.contains("revocation store answers again"))
            .collect();
        assert_eq!(again.len(), 1, "{logged}");
        assert!(again[0].contains("failed_checks=3"), "{logged}");
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn clones_share_the_outage_and_a_new_policy_has_its_own() {
        let (logs, _guard) = Logs::capture();
        let closed = Revocation::from_arc(Switch::down());
        let twin = closed.clone();
        let open = closed.clone().fail_open(true);
        closed.check(token()).await.unwrap_err();
        twin.check(token()).await.unwrap_err();
        let logged = logs.take();
        assert_eq!(logged.matches("WARN").count(), 1, "{logged}");
        assert!(logged.contains("revocation check failed"), "{logged}");
        assert!(logged.contains("fail closed"), "{logged}");

        open.check(token()).await.unwrap();
        let logged = logs.take();
        assert_eq!(logged.matches("WARN").count(), 1, "{logged}");
        assert!(logged.contains("token let through (fail open)"), "{logged}");
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_hanging_store_opens_the_breaker_and_a_probe_closes_it() {
        let (logs, _guard) = Logs::capture();
        let store = Switch::hanging();
        let revocation = Revocation::from_arc(store.clone());
        let calls = || store.calls.load(Ordering::Relaxed);
        // Five timeouts in a row, each waited out.
        for _ in 0..5 {
            let error = revocation.check(token()).await.unwrap_err();
            assert_eq!(error.description(), "revocation check timed out");
        }
        assert_eq!(calls(), 5);
        // Open: answered at once, the store not asked, no time spent.
        let start = tokio::time::Instant::now();
        for _ in 0..100 {
            let error = revocation.check(token()).await.unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::RevocationUnavailable);
            assert_eq!(error.description(), "revocation store circuit open");
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(calls(), 5);
        // Clones share the breaker; a new policy has its own.
        revocation.clone().check(token()).await.unwrap_err();
        assert_eq!(calls(), 5);
        let logged = logs.take();
        let opened: Vec<_> = logged
            .lines()
            .filter(|line| line.contains("revocation circuit breaker open"))
            .collect();
        assert_eq!(opened.len(), 1, "{logged}");
        assert!(opened[0].contains("WARN"), "{logged}");
        assert!(opened[0].contains("failures_in_a_row=5"), "{logged}");
        assert!(opened[0].contains("cool_down_ms=5000"), "{logged}");
        assert!(
            opened[0].contains("requests refused (fail closed)"),
            "{logged}"
        );
        // Never once per request: two warnings in all (the outage, the breaker).
        assert_eq!(logged.matches("WARN").count(), 2, "{logged}");
        let open = revocation.clone().fail_open(true);
        open.check(token()).await.unwrap();
        assert_eq!(calls(), 6);
        logs.take();

        // The cool-down over, the probe is the one check that asks; it
        // still hangs, so the breaker opens again, quietly.
        tokio::time::advance(DEFAULT_BREAKER_COOL_DOWN).await;
        let probe = revocation.check(token());
        let others = async {
            // While the probe is out, the others are answered at once.
            for _ in 0..10 {
                revocation.check(token()).await.unwrap_err();
            }
            assert_eq!(calls(), 7);
        };
        let (probe, ()) = tokio::join!(probe, others);
        assert_eq!(
            probe.unwrap_err().description(),
            "revocation check timed out"
        );
        revocation.check(token()).await.unwrap_err();
        assert_eq!(calls(), 7);
        assert!(!logs.take().contains("circuit breaker"));

        // The store is back: the next probe closes the breaker.
        store.set_down(false);
        tokio::time::advance(DEFAULT_BREAKER_COOL_DOWN).await;
        revocation.check(token()).await.unwrap();
        assert_eq!(calls(), 8);
        revocation.check(token()).await.unwrap();
        assert_eq!(calls(), 9);
        let logged = logs.take();
        let closed: Vec<_> = logged
            .lines()
            .filter(|line| line.contains("revocation circuit breaker closed"))
            .collect();
        assert_eq!(closed.len(), 1, "{logged}");
        assert!(closed[0].contains("INFO"), "{logged}");
        let again: Vec<_> = logged
            .lines()
            .filter(|line| line.contains("revocation store answers again"))
            .collect();
        assert_eq!(again.len(), 1, "{logged}");
        // Every check answered without the store is counted: 5 timeouts,
        // 101 + 10 + 1 refused at once, the failed probe.
        assert!(again[0].contains("failed_checks=118"), "{logged}");
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_disabled_breaker_asks_the_store_every_time() {
        let store = Switch::hanging();
        let revocation =
            Revocation::from_arc(store.clone()).circuit_breaker(CircuitBreaker::disabled());
        for _ in 0..20 {
            let error = revocation.check(token()).await.unwrap_err();
            assert_eq!(error.description(), "revocation check timed out");
        }
        assert_eq!(store.calls.load(Ordering::Relaxed), 20);
        // A breaker of its own size.
        let store = Switch::down();
        let revocation = Revocation::from_arc(store.clone())
            .circuit_breaker(CircuitBreaker::new(2, Duration::from_secs(1)));
        for _ in 0..10 {
            revocation.check(token()).await.unwrap_err();
        }
        assert_eq!(store.calls.load(Ordering::Relaxed), 2);
        store.set_down(false);
        tokio::time::advance(Duration::from_secs(1)).await;
        revocation.check(token()).await.unwrap();
        revocation.check(token()).await.unwrap();
        assert_eq!(store.calls.load(Ordering::Relaxed), 4);
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
