//! The verified-token cache (feature `token-cache`): a client sends the same
//! token many times, and an asymmetric signature costs tens of microseconds to
//! check each time.
//!
//! - Keyed by the whole token text: never a truncated or weak hash, so one
//!   token can never be taken for another.
//! - Only tokens that passed every check are stored; a refusal is never cached.
//! - Every hit checks `exp` and `nbf` against the clock again, with the same
//!   rules as a full verification, so a cached token is refused from the
//!   instant a fresh verification would refuse it, and its entry is dropped.
//! - Entries remember the key that verified them; when a key leaves a remote
//!   key set, its entries are dropped with it.
//! - Bounded by a number of entries, evicted by `quick_cache`'s S3-FIFO policy.
//!
//! The claims are stored decoded (the application's `C`, behind `dyn Any`) and
//! cloned out on each hit.

use std::any::Any;
use std::sync::Arc;

use quick_cache::sync::Cache;

use crate::error::{AuthError, AuthErrorKind};

/// A verified token's decoded claims and what a hit must check again.
#[derive(Clone)]
pub(crate) struct Cached {
    claims: Arc<dyn Any + Send + Sync>,
    /// `exp` and `nbf` as read at verification (NumericDates may be fractional).
    exp: Option<f64>,
    nbf: Option<f64>,
    /// The fingerprint of the key that verified the signature, and the
    /// position of its issuer among the layer's.
    key: u64,
    trust: usize,
    /// Anything else the checks after verification need (the revocation
    /// check's view of the token).
    pub(crate) extra: Option<Arc<dyn Any + Send + Sync>>,
}

/// The cache itself.
pub(crate) struct TokenCache {
    entries: Cache<Box<str>, Cached>,
}

/// What a lookup found.
pub(crate) enum Lookup<C> {
    Hit {
        claims: C,
        extra: Option<Arc<dyn Any + Send + Sync>>,
        trust: usize,
    },
    /// A cached token that the clock now refuses.
    Refused(AuthError),
    Miss,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Cache::new(capacity),
        }
    }

    /// The claims of `token` if it is cached and still valid at `now`.
    pub(crate) fn get<C: Clone + 'static>(&self, token: &str, now: f64, leeway: f64) -> Lookup<C> {
        let Some(cached) = self.entries.get(token) else {
            return Lookup::Miss;
        };
        // RFC 7519 §4.1.4: `exp` is the first instant the token MUST NOT be
        // accepted (the rule of a full verification).
        let refusal = if cached.exp.is_some_and(|exp| now >= exp + leeway) {
            Some(AuthError::new(AuthErrorKind::Expired, "token expired"))
        } else if cached.nbf.is_some_and(|nbf| now + leeway < nbf) {
            Some(AuthError::new(
                AuthErrorKind::NotYetValid,
                "token not yet valid",
            ))
        } else {
            None
        };
        if let Some(error) = refusal {
            self.entries.remove(token);
            return Lookup::Refused(error);
        }
        match cached.claims.downcast_ref::<C>() {
            Some(claims) => Lookup::Hit {
                claims: claims.clone(),
                extra: cached.extra,
                trust: cached.trust,
            },
            None => Lookup::Miss,
        }
    }

    /// Stores a token that passed every check.
    pub(crate) fn insert<C: Clone + Send + Sync + 'static>(
        &self,
        token: &str,
        claims: &C,
        exp: Option<f64>,
        nbf: Option<f64>,
        (key, trust): super::VerifiedBy,
        extra: Option<Arc<dyn Any + Send + Sync>>,
    ) {
        self.entries.insert(
            token.into(),
            Cached {
                claims: Arc::new(claims.clone()),
                exp,
                nbf,
                key,
                trust,
                extra,
            },
        );
    }

    /// Drops the entries of tokens verified by a key whose fingerprint is in
    /// `removed`.
    pub(crate) fn forget_keys(&self, removed: &[u64]) {
        if !removed.is_empty() {
            self.entries
                .retain(|_, cached| !removed.contains(&cached.key));
        }
    }
}
