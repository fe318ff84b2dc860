//! Token revocation: a check consulted after a token has verified, by the
//! token's identity (its `jti`, or a digest of the whole token when it has
//! none) and by "every token of this subject issued before T" (logout
//! everywhere).
//!
//! - [`RevocationStore`] is where revocations live: [`MemoryRevocations`] for
//!   one process and tests, `RedisRevocations` (feature `redis`) for many
//!   servers sharing one Redis (or a Redis Cluster, feature `redis-cluster`),
//!   optionally with a local mirror of its answers.
//! - [`Revocation`] is what the layer holds: a store, a timeout on every check
//!   and the policy when the store cannot answer (fail closed by default).
//! - [`TokenInfo`] is what a store knows of a token: its `jti`, `sub`, `iss`,
//!   `iat` and `exp`, and the digest of a token without `jti`.
//!
//! What "revoked" means is documented on [`RevocationStore`].

mod after_verify;
mod check;
mod key;
#[cfg(feature = "redis")]
mod local_answers;
mod memory;
mod quick_hash;
#[cfg(feature = "redis")]
mod redis;
mod remembered;
#[cfg(test)]
mod test_support;
mod token;

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;

pub use self::check::{DEFAULT_REMEMBERED_TOKENS, DEFAULT_REVOCATION_TIMEOUT, Revocation};
pub use self::key::MAX_ID_LENGTH;
pub use self::memory::MemoryRevocations;
#[cfg(feature = "redis")]
pub use self::redis::RedisRevocations;
// For the other Redis store (DPoP replay): the same connection settings, and
// the same latest expiry.
#[cfg(feature = "redis")]
pub(crate) use self::key::MAX_EXPIRY;
pub use self::token::TokenInfo;

/// The future a [`RevocationStore`] returns: boxed, so that the trait is
/// object-safe and [`Revocation`] can hold any store behind one `Arc`.
///
/// A store of your own, over a database say, returns one from each method:
///
/// ```
/// use tower_jwt_auth::{RevocationFuture, RevocationStore, TokenInfo};
///
/// /// Revokes nothing, and refuses to: a real store would ask its database.
/// struct Nothing;
///
/// impl RevocationStore for Nothing {
///     fn is_revoked<'a>(&'a self, _: &'a TokenInfo) -> RevocationFuture<'a, bool> {
///         Box::pin(async { Ok(false) })
///     }
///
///     fn revoke<'a>(&'a self, _: &'a TokenInfo) -> RevocationFuture<'a, ()> {
///         Box::pin(async { Err("this store is read-only".into()) })
///     }
///
///     fn revoke_subject<'a>(
///         &'a self,
///         _issuer: Option<&'a str>,
///         _subject: &'a str,
///         _before: u64,
///         _until: u64,
///     ) -> RevocationFuture<'a, ()> {
///         Box::pin(async { Err("this store is read-only".into()) })
///     }
/// }
///
/// let revocation = tower_jwt_auth::Revocation::new(Nothing);
/// # let _ = revocation;
/// ```
pub type RevocationFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, Box<dyn StdError + Send + Sync>>> + Send + 'a>>;

/// Where revocations are kept, and asked about.
///
/// The check after verification calls [`is_revoked`](Self::is_revoked); the
/// application calls [`revoke`](Self::revoke) (logout) and
/// [`revoke_subject`](Self::revoke_subject) (logout everywhere, a password
/// change, a banned account). Every implementation keeps to the rules below.
///
/// Errors are the store's own failures (unreachable, malformed data) or a
/// request that cannot be honoured (a token without `exp`); [`Revocation`]
/// turns a failure of `is_revoked` into its policy's answer.
///
/// # What "revoked" means
///
/// A token is revoked when
///
/// - the token itself was revoked: by its `jti`, for the same issuer (`iss`;
///   two issuers' `jti`s never collide), or, for a token without `jti`, by its
///   [`token_digest`](TokenInfo::token_digest) (the SHA-256 of the whole token,
///   which the layer sets; see [A token without
///   `jti`](TokenInfo#a-token-without-jti)), or
/// - its subject was revoked, for the same issuer, with a `before` later than the
///   token's `iat`.
///
/// A store of your own keeps a token's own entry under its `jti` when it has
/// one and under its digest otherwise, in two separate namespaces, and keeps
/// the digest, never the token.
///
/// ## Tokens without `iat` and "log out everywhere"
///
/// A subject revocation compares `iat`. A token without `iat` under a subject
/// revocation counts as revoked, whenever it was made: nothing tells it was
/// issued afterwards, so the check fails safe. What that means for an issuer
/// that sets no `iat`:
///
/// - it can: log out every token of the subject at once, those made before the
///   call and any still in use;
/// - it cannot: tell a token made *after* the call from the earlier ones. Until
///   the entry expires (`until` plus the leeway), every token of the subject
///   without `iat` is refused, the new ones after a fresh login too;
/// - and the entry lasts only until `until`: a token without `iat` whose `exp`
///   is later is accepted again once the entry is gone. Pass an `until` no
///   earlier than the `exp` of the tokens it must cover (the longest lifetime
///   such an issuer gives), or revoke each token by itself as well.
///
/// A token with neither its own entry nor a subject revocation is not revoked.
///
/// Every entry expires: a token's own entry with its `exp`, a subject entry at
/// the `until` given when it was written, both plus the store's *leeway* (by
/// default [`DEFAULT_LEEWAY`](crate::DEFAULT_LEEWAY), like the layer's), because
/// the layer still accepts a token for that long after its `exp`. A store
/// therefore never holds more than the revocations of tokens that could still be
/// accepted. By `jti` or subject, issuers, subjects and `jti`s longer than
/// [`MAX_ID_LENGTH`] bytes cannot be revoked (the store says so with an
/// error), so they are never found revoked that way either; a digest entry
/// holds no issuer.
///
/// ```
/// use tower_jwt_auth::{MemoryRevocations, RevocationStore, TokenInfo};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let store = MemoryRevocations::new();
/// let now = std::time::UNIX_EPOCH.elapsed()?.as_secs();
/// let token = TokenInfo::new()
///     .with_jti("5f0c6d1e")
///     .with_subject("ada")
///     .with_issued_at(now)
///     .with_expires_at(now + 3600);
///
/// assert!(!store.is_revoked(&token).await?);
/// store.revoke(&token).await?;
/// assert!(store.is_revoked(&token).await?);
/// # Ok(())
/// # }
/// ```
pub trait RevocationStore: Send + Sync + 'static {
    /// Whether `token` is revoked, by itself (its `jti`, else its digest) or by
    /// its subject.
    fn is_revoked<'a>(&'a self, token: &'a TokenInfo) -> RevocationFuture<'a, bool>;

    /// Whether `token` is revoked, when the store can tell at once, without
    /// I/O: `None` when it cannot, and the check then awaits
    /// [`is_revoked`](Self::is_revoked). The layer asks this first, on every
    /// check, so an answer here costs a request no future, no timer and no
    /// wait. Provided: always `None`.
    ///
    /// [`MemoryRevocations`] answers every check here; `RedisRevocations`
    /// answers from its connection's local mirror, when it has one and holds
    /// the token's answer. An answer must be as true as `is_revoked`'s would
    /// be: a store that keeps answers locally says `None` for one it cannot
    /// vouch for. Answers given here are counted in the check's metrics, but
    /// not as news of the store's health (see [`Revocation`]), and are given
    /// even while its circuit breaker is open: a local answer does not wait
    /// for the store.
    ///
    /// ```
    /// use tower_jwt_auth::{MemoryRevocations, RevocationStore, TokenInfo};
    ///
    /// let store = MemoryRevocations::new();
    /// let token = TokenInfo::new().with_jti("5f0c6d1e").with_expires_at(u64::MAX / 2);
    /// assert_eq!(store.is_revoked_now(&token), Some(false));
    /// ```
    fn is_revoked_now(&self, token: &TokenInfo) -> Option<bool> {
        let _ = token;
        None
    }

    /// Revokes this token by itself: by its `jti` (and issuer), or, when it has
    /// no `jti`, by its [`token_digest`](TokenInfo::token_digest). The entry
    /// expires with the token's `exp` (plus the store's leeway); a token
    /// already past both is not written, and `Ok`.
    ///
    /// Every token the layer accepts can be revoked so, whether or not it has a
    /// `jti`, as long as it has an `exp` (and the build has a crypto backend
    /// feature, for the digest).
    ///
    /// # Errors
    ///
    /// A token without `exp`, or with neither `jti` nor digest, or with a `jti`
    /// or `iss` longer than [`MAX_ID_LENGTH`], cannot be revoked this way
    /// (revoke its subject instead); and the store's own failures.
    fn revoke<'a>(&'a self, token: &'a TokenInfo) -> RevocationFuture<'a, ()>;

    /// Revokes every token of `subject` (from `issuer`) issued before `before`
    /// (Unix seconds, compared with `iat`: a token issued in that same second
    /// stays valid, so pass `now + 1` to include it). The entry is kept until
    /// `until` (plus the store's leeway): pass `before` plus the longest
    /// lifetime of a token (for tokens without `iat`, see [Tokens without
    /// `iat`](Self#tokens-without-iat-and-log-out-everywhere)). A second call
    /// for the same subject keeps the later `before` and the later `until`. An
    /// `until` already past is not written, and `Ok`.
    ///
    /// # Errors
    ///
    /// A `subject` or `issuer` longer than [`MAX_ID_LENGTH`], and the store's
    /// own failures.
    fn revoke_subject<'a>(
        &'a self,
        issuer: Option<&'a str>,
        subject: &'a str,
        before: u64,
        until: u64,
    ) -> RevocationFuture<'a, ()>;
}
