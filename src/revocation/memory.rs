//! [`MemoryRevocations`]: revocations kept in this process.

use std::collections::HashMap;
use std::fmt;
use std::future::ready;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use super::key::{self, Layout, Refused};
use super::{RevocationFuture, RevocationStore, TokenInfo};
use crate::clock::DEFAULT_LEEWAY;
use crate::clock::{Clock, DebugClock, SystemClock};

/// The fewest entries at which the store looks for expired ones to drop.
const MIN_PRUNE: usize = 64;

/// Revocations kept in this process's memory: for one server, and for tests.
///
/// Clones share the same entries (they sit behind an `Arc`), so the layer's
/// [`Revocation`](crate::Revocation) and the application's logout handler can
/// each hold one. Entries are forgotten once they expire: expired ones are never
/// found, and are dropped on a later write, in one sweep each time the number
/// of entries has doubled since the last sweep. Memory stays within about
/// twice the live entries, and a write costs amortised constant time.
///
/// Every server process has its own: use `RedisRevocations` (feature `redis`)
/// when several servers must agree.
///
/// ```
/// use tower_jwt_auth::{MemoryRevocations, Revocation, RevocationStore, TokenInfo};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let store = MemoryRevocations::new();
/// // The layer checks with one handle...
/// let revocation = Revocation::new(store.clone());
/// # let _ = revocation;
/// // ...and the logout handler revokes with another.
/// let now = std::time::UNIX_EPOCH.elapsed()?.as_secs();
/// let token = TokenInfo::new().with_jti("5f0c6d1e").with_expires_at(now + 600);
/// store.revoke(&token).await?;
/// assert!(store.is_revoked(&token).await?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryRevocations {
    entries: Arc<RwLock<Entries>>,
    clock: Arc<dyn Clock>,
    leeway: u64,
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, Entry>,
    /// The size at which the next write sweeps expired entries out.
    prune_at: usize,
}

#[derive(Clone, Copy)]
struct Entry {
    /// Unix seconds from which the entry is gone.
    expires: u64,
    /// For a subject entry, the `before` time; `None` for a token's own entry
    /// (`jti` or digest).
    before: Option<u64>,
}

impl MemoryRevocations {
    /// An empty store, on the system clock, with the default leeway.
    pub fn new() -> Self {
        Self {
            entries: Arc::new(RwLock::new(Entries {
                map: HashMap::new(),
                prune_at: MIN_PRUNE,
            })),
            clock: Arc::new(SystemClock),
            leeway: DEFAULT_LEEWAY.as_secs(),
        }
    }

    /// How long entries are kept past their expiry, in whole seconds (default
    /// [`DEFAULT_LEEWAY`](crate::DEFAULT_LEEWAY), 60 s). Set it to the layer's
    /// [`leeway`](crate::JwtAuthBuilder::leeway): the layer accepts a token for
    /// that long after its `exp`, so its revocation must last as long.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.as_secs();
        self
    }

    /// The clock that decides expiry (default [`SystemClock`]); tests move time
    /// with it.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The number of entries held, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.read(|entries| entries.map.len())
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read<T>(&self, f: impl FnOnce(&Entries) -> T) -> T {
        // No code panics while holding the lock; should one ever, the map is
        // still whole (every write is one insert), so keep using it.
        f(&self.entries.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn write(&self, name: String, entry: Entry) {
        let now = self.clock.now();
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.map.len() >= entries.prune_at {
            entries.map.retain(|_, e| e.expires > now);
            entries.prune_at = (entries.map.len() * 2).max(MIN_PRUNE);
        }
        let merged = match (entries.map.get(&name), entry.before) {
            // A later `before` covers more tokens; a later expiry lasts longer.
            (Some(old), Some(before)) if old.expires > now => Entry {
                expires: old.expires.max(entry.expires),
                before: Some(old.before.map_or(before, |b| b.max(before))),
            },
            (Some(old), None) if old.expires > now => Entry {
                expires: old.expires.max(entry.expires),
                before: None,
            },
            _ => entry,
        };
        entries.map.insert(name, merged);
    }

    fn check(&self, token: &TokenInfo) -> bool {
        let (identity, subject) = key::entry_names("", Layout::Flat, token);
        if identity.is_none() && subject.is_none() {
            return false;
        }
        let now = self.clock.now();
        self.read(|entries| {
            let live = |name: &Option<String>| {
                name.as_ref()
                    .and_then(|n| entries.map.get(n))
                    .filter(|e| e.expires > now)
                    .copied()
            };
            live(&identity).is_some()
                || live(&subject)
                    .and_then(|e| e.before)
                    .is_some_and(|before| key::subject_covers(before, token.issued_at()))
        })
    }

    fn revoke_now(&self, token: &TokenInfo) -> Result<(), Refused> {
        let (name, expires) = key::identity_entry("", Layout::Flat, token, self.leeway)?;
        if expires > self.clock.now() {
            self.write(
                name,
                Entry {
                    expires,
                    before: None,
                },
            );
        }
        Ok(())
    }

    fn revoke_subject_now(
        &self,
        issuer: Option<&str>,
        subject: &str,
        before: u64,
        until: u64,
    ) -> Result<(), Refused> {
        let (name, expires) =
            key::subject_entry("", Layout::Flat, issuer, subject, until, self.leeway)?;
        if expires > self.clock.now() {
            let before = Some(before);
            self.write(name, Entry { expires, before });
        }
        Ok(())
    }
}

impl Default for MemoryRevocations {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The entries name subjects and token ids: count them, never list them.
        f.debug_struct("MemoryRevocations")
            .field("entries", &self.len())
            .field("leeway", &Duration::from_secs(self.leeway))
            .field("clock", &DebugClock(&*self.clock))
            .finish()
    }
}

impl RevocationStore for MemoryRevocations {
    fn is_revoked<'a>(&'a self, token: &'a TokenInfo) -> RevocationFuture<'a, bool> {
        Box::pin(ready(Ok(self.check(token))))
    }

    fn is_revoked_now(&self, token: &TokenInfo) -> Option<bool> {
        Some(self.check(token))
    }

    fn revoke<'a>(&'a self, token: &'a TokenInfo) -> RevocationFuture<'a, ()> {
        Box::pin(ready(self.revoke_now(token).map_err(Into::into)))
    }

    fn revoke_subject<'a>(
        &'a self,
        issuer: Option<&'a str>,
        subject: &'a str,
        before: u64,
        until: u64,
    ) -> RevocationFuture<'a, ()> {
        let result = self.revoke_subject_now(issuer, subject, before, until);
        Box::pin(ready(result.map_err(Into::into)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    const NOW: u64 = 1_700_000_000;

    /// A store on a clock the test moves, and the clock.
    fn store() -> (MemoryRevocations, Arc<AtomicU64>) {
        let now = Arc::new(AtomicU64::new(NOW));
        let clock = {
            let now = now.clone();
            move || now.load(Ordering::Relaxed)
        };
        let store = MemoryRevocations::new()
            .clock(clock)
            .leeway(Duration::from_secs(10));
        (store, now)
    }

    fn token(jti: &str) -> TokenInfo {
        TokenInfo::new()
            .with_jti(jti)
            .with_subject("ada")
            .with_issued_at(NOW - 10)
            .with_expires_at(NOW + 100)
    }

    async fn revoked(store: &MemoryRevocations, token: &TokenInfo) -> bool {
        store.is_revoked(token).await.unwrap()
    }

    #[tokio::test]
    async fn a_revoked_jti_is_revoked_until_exp_plus_leeway() {
        let (store, now) = store();
        let t = token("a");
        assert!(!revoked(&store, &t).await);
        store.revoke(&t).await.unwrap();
        assert!(revoked(&store, &t).await);
        assert!(!revoked(&store, &token("b")).await);
        // A clone sees the same entries.
        assert!(revoked(&store.clone(), &t).await);

        now.store(NOW + 100, Ordering::Relaxed); // exp: still within the leeway
        assert!(revoked(&store, &t).await);
        now.store(NOW + 109, Ordering::Relaxed);
        assert!(revoked(&store, &t).await);
        now.store(NOW + 110, Ordering::Relaxed);
        assert!(!revoked(&store, &t).await);
    }

    #[tokio::test]
    async fn jtis_are_namespaced_by_issuer() {
        let (store, _) = store();
        let a = token("same").with_issuer("https://a.example");
        let b = token("same").with_issuer("https://b.example");
        let none = token("same");
        store.revoke(&a).await.unwrap();
        assert!(revoked(&store, &a).await);
        assert!(!revoked(&store, &b).await);
        assert!(!revoked(&store, &none).await);
        let forged = token("b:4:same").with_issuer("https://a.example:1");
        assert!(!revoked(&store, &forged).await);
    }

    #[tokio::test]
    async fn tokens_that_cannot_be_revoked_by_jti_say_why() {
        let (store, _) = store();
        let no_jti = TokenInfo::new().with_expires_at(NOW + 100);
        let error = store.revoke(&no_jti).await.unwrap_err();
        assert!(error.to_string().contains("without `jti`"), "{error}");
        let no_exp = TokenInfo::new().with_jti("a");
        let error = store.revoke(&no_exp).await.unwrap_err();
        assert!(error.to_string().contains("without `exp`"), "{error}");
        let long = token(&"x".repeat(key::MAX_ID_LENGTH + 1));
        assert!(store.revoke(&long).await.is_err());
        // Never revoked, so never found revoked: not an error.
        assert!(!revoked(&store, &long).await);
        assert!(store.is_empty());
    }

    #[tokio::test]
    #[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
    async fn a_token_without_jti_is_revoked_by_its_digest_and_only_it() {
        let (store, now) = store();
        let text = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.secret-signature";
        let t = TokenInfo::new()
            .with_subject("ada")
            .with_expires_at(NOW + 100)
            .with_digest_of(text);
        assert!(!revoked(&store, &t).await);
        store.revoke(&t).await.unwrap();
        assert!(revoked(&store, &t).await);
        // Another token of the same subject, and the same claims without a
        // digest, are not revoked.
        let other = t.clone().with_digest_of("another.token.text");
        assert!(!revoked(&store, &other).await);
        assert!(!revoked(&store, &TokenInfo::new().with_subject("ada")).await);
        // The entry is named by the digest, never by the token.
        let names: Vec<String> = store.read(|e| e.map.keys().cloned().collect());
        assert_eq!(names, [format!("sha256:{}", t.token_digest().unwrap())]);
        assert!(!names[0].contains("secret-signature"));
        // It expires with the token, plus the leeway.
        now.store(NOW + 109, Ordering::Relaxed);
        assert!(revoked(&store, &t).await);
        now.store(NOW + 110, Ordering::Relaxed);
        assert!(!revoked(&store, &t).await);
    }

    #[tokio::test]
    async fn an_expired_token_is_not_written() {
        let (store, _) = store();
        let gone = token("a").with_expires_at(NOW - 10);
        store.revoke(&gone).await.unwrap();
        assert!(store.is_empty());
        // Expired, but the layer still accepts it within its leeway: written.
        let late = token("b").with_expires_at(NOW - 9);
        store.revoke(&late).await.unwrap();
        assert_eq!(store.len(), 1);
        assert!(revoked(&store, &late).await);
    }

    #[tokio::test]
    async fn a_subject_revocation_covers_tokens_issued_before() {
        let (store, now) = store();
        store
            .revoke_subject(None, "ada", NOW, NOW + 100)
            .await
            .unwrap();
        let t = |iat: Option<u64>| {
            let t = TokenInfo::new().with_subject("ada");
            match iat {
                Some(iat) => t.with_issued_at(iat),
                None => t,
            }
        };
        assert!(revoked(&store, &t(Some(NOW - 1))).await);
        assert!(!revoked(&store, &t(Some(NOW))).await);
        assert!(!revoked(&store, &t(Some(NOW + 1))).await);
        assert!(revoked(&store, &t(None)).await, "unknown iat fails safe");
        // Another subject, another issuer: not covered.
        let other = TokenInfo::new().with_subject("bob").with_issued_at(0);
        assert!(!revoked(&store, &other).await);
        let issued = t(Some(0)).with_issuer("https://a.example");
        assert!(!revoked(&store, &issued).await);
        // A token with a jti is covered too.
        assert!(revoked(&store, &token("any")).await);

        now.store(NOW + 110, Ordering::Relaxed);
        assert!(!revoked(&store, &t(None)).await);
    }

    #[tokio::test]
    async fn subject_revocations_keep_the_later_before_and_until() {
        let (store, now) = store();
        let at = |iat| TokenInfo::new().with_subject("ada").with_issued_at(iat);
        store
            .revoke_subject(None, "ada", NOW + 50, NOW + 200)
            .await
            .unwrap();
        // An older revocation arriving late changes nothing.
        store
            .revoke_subject(None, "ada", NOW, NOW + 100)
            .await
            .unwrap();
        assert!(revoked(&store, &at(NOW + 49)).await);
        now.store(NOW + 150, Ordering::Relaxed);
        assert!(revoked(&store, &at(NOW + 49)).await);
        // A past `until` is not written.
        store
            .revoke_subject(None, "bob", NOW, NOW + 100)
            .await
            .unwrap();
        assert!(!revoked(&store, &at(0).with_subject("bob")).await);
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn expired_entries_are_swept_so_memory_stays_bounded() {
        let (store, now) = store();
        for round in 0..50u64 {
            let t = now.load(Ordering::Relaxed);
            for i in 0..100 {
                let token = TokenInfo::new()
                    .with_jti(format!("{round}-{i}"))
                    .with_expires_at(t + 5);
                store.revoke(&token).await.unwrap();
            }
            // Every entry of this round expires before the next one.
            now.fetch_add(20, Ordering::Relaxed);
            assert!(store.len() <= 2 * 100 + MIN_PRUNE, "{}", store.len());
        }
    }

    #[tokio::test]
    async fn debug_shows_no_entry() {
        let (store, _) = store();
        let token = TokenInfo::new()
            .with_jti("secret-id")
            .with_expires_at(NOW + 1);
        store.revoke(&token).await.unwrap();
        let debug = format!("{store:?}");
        assert!(debug.contains("entries: 1"), "{debug}");
        assert!(!debug.contains("secret-id"), "{debug}");
    }
}
