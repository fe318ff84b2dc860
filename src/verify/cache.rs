//! The verified-token cache (feature `token-cache`): a client sends the same
//! token many times, and an asymmetric signature costs tens of microseconds to
//! check each time.
//!
//! - Keyed by the whole token text: never a truncated or weak hash, so one
//!   token can never be taken for another.
//! - Only tokens that passed every check of the verifier are stored; a refusal
//!   is never cached. (The checks after verification, which depend on the
//!   request or on shared state, run on every request.)
//! - Every hit checks `exp` and `nbf` against the clock again, with the same
//!   rules as a full verification, so a cached token is refused from the
//!   instant a fresh verification would refuse it, and its entry is dropped.
//! - Entries remember the key that verified them; when a key leaves a remote
//!   key set, its entries are dropped with it.
//! - Bounded by a number of entries, evicted by `quick_cache`'s S3-FIFO policy.
//!
//! The claims are stored decoded (the application's `C`, behind `dyn Any`)
//! and cloned out on each hit, with the payload text the checks read.
//!
//! Without the feature, [`TokenCache`] is an empty enum: the verifier's
//! `Option<TokenCache>` is then always `None`, its branches compile away, and
//! no call site needs a `cfg`.

use std::sync::Arc;

#[cfg(not(feature = "token-cache"))]
pub(crate) use self::off::TokenCache;
#[cfg(feature = "token-cache")]
pub(crate) use self::on::TokenCache;
use super::claims::Times;
use crate::error::AuthError;

/// How a token was verified: its validity period, the fingerprint of the key
/// that verified it, and the position of its issuer among the layer's.
#[cfg_attr(not(feature = "token-cache"), allow(dead_code))]
pub(crate) struct Provenance {
    times: Times,
    key: u64,
    trust: usize,
}

impl Provenance {
    pub(crate) fn new(times: Times, key: u64, trust: usize) -> Self {
        Self { times, key, trust }
    }
}

/// What a lookup found.
#[cfg_attr(not(feature = "token-cache"), allow(dead_code))]
pub(crate) enum Lookup<C> {
    Hit {
        claims: C,
        payload: Arc<str>,
        trust: usize,
    },
    /// A cached token that the clock now refuses.
    Refused(AuthError),
    Miss,
}

#[cfg(feature = "token-cache")]
mod on {
    use std::any::Any;
    use std::sync::Arc;

    use quick_cache::sync::Cache;

    use super::{Lookup, Provenance};
    use crate::error::{AuthError, AuthErrorKind, ConfigError};

    /// A verified token's decoded claims and what a hit must check again.
    #[derive(Clone)]
    struct Cached {
        claims: Arc<dyn Any + Send + Sync>,
        payload: Arc<str>,
        /// `exp` and `nbf` as read at verification (NumericDates may be
        /// fractional).
        exp: Option<f64>,
        nbf: Option<f64>,
        /// The fingerprint of the key that verified the signature, and the
        /// position of its issuer among the layer's.
        key: u64,
        trust: usize,
    }

    /// The cache itself.
    pub(crate) struct TokenCache {
        entries: Cache<Box<str>, Cached>,
    }

    impl TokenCache {
        /// A cache of `capacity` entries, when one is configured.
        ///
        /// # Errors
        ///
        /// A cache of 0 entries.
        pub(crate) fn new(capacity: Option<usize>) -> Result<Option<Self>, ConfigError> {
            match capacity {
                None => Ok(None),
                Some(0) => Err(ConfigError::Empty {
                    setting: "token_cache",
                }),
                Some(capacity) => Ok(Some(Self {
                    entries: Cache::new(capacity),
                })),
            }
        }

        /// The claims of `token` if it is cached and still valid at `now`.
        pub(crate) fn get<C: Clone + 'static>(
            &self,
            token: &str,
            now: f64,
            leeway: f64,
        ) -> Lookup<C> {
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
                    payload: cached.payload,
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
            payload: &str,
            provenance: &Provenance,
        ) {
            self.entries.insert(
                token.into(),
                Cached {
                    claims: Arc::new(claims.clone()),
                    payload: payload.into(),
                    exp: provenance.times.exp,
                    nbf: provenance.times.nbf,
                    key: provenance.key,
                    trust: provenance.trust,
                },
            );
        }

        /// Drops the entries of tokens verified by a key whose fingerprint is
        /// in `removed`.
        pub(crate) fn forget_keys(&self, removed: &[u64]) {
            if !removed.is_empty() {
                self.entries
                    .retain(|_, cached| !removed.contains(&cached.key));
            }
        }
    }
}

#[cfg(not(feature = "token-cache"))]
mod off {
    use super::{Lookup, Provenance};
    use crate::error::ConfigError;

    /// No cache without the feature: no value of this type exists.
    pub(crate) enum TokenCache {}

    impl TokenCache {
        pub(crate) fn new(_capacity: Option<usize>) -> Result<Option<Self>, ConfigError> {
            Ok(None)
        }

        pub(crate) fn get<C>(&self, _: &str, _: f64, _: f64) -> Lookup<C> {
            match *self {}
        }

        pub(crate) fn insert<C>(&self, _: &str, _: &C, _: &str, _: &Provenance) {
            match *self {}
        }

        pub(crate) fn forget_keys(&self, _: &[u64]) {
            match *self {}
        }
    }
}
