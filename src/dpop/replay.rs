//! DPoP proof replay (RFC 9449 §11.1): the id of a proof may be used once
//! within the proof window, on every server that shares the store.
//!
//! - [`ReplayStore`] is where used ids are recorded: [`MemoryReplays`] for one
//!   process, `RedisReplays` (feature `redis`) for a fleet sharing one Redis.
//! - [`ReplayCheck`] is what the layer holds: a store, a timeout on a store
//!   that answers over the network, and the policy when the store cannot
//!   answer (fail closed by default).
//!
//! The ids are digests: the base64url (no padding) SHA-256 the DPoP check
//! derives from the proof, 43 characters. A store keeps nothing else, so
//! neither a proof nor a key can be read back from it, and the memory store
//! keeps each id in 32 bytes. A store refuses any other id
//! ([`ReplayError::NotADigest`]).
//!
//! The memory store answers at once: the check asks it in place, with no
//! future and no allocation but the entry. Any other store answers in a
//! future, which the check bounds with a timeout on tokio's timer (feature
//! `replay-store`, on by default; `timed.rs` is the only file that names it).

mod memory;
mod timed;

use std::error::Error as StdError;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::BoxFuture;

pub use self::memory::{DEFAULT_REPLAY_CAPACITY, MemoryReplays};
use crate::error::{AuthError, AuthErrorKind};

/// The default time a replay check may take: 100 ms, as for revocation: a
/// Redis `SET` on a local network answers in well under a millisecond, and
/// an unreachable store must not hold every request for long (this fires
/// before the Redis client's own response timeout).
///
/// Only a store other than [`MemoryReplays`] waits; the memory store answers
/// at once.
pub const DEFAULT_REPLAY_TIMEOUT: Duration = Duration::from_millis(100);

/// The future a [`ReplayStore`] returns: boxed, so that the trait is
/// object-safe and [`ReplayCheck`] can hold any store behind one `Arc`.
pub type ReplayFuture<'a> =
    Pin<Box<dyn Future<Output = Result<bool, Box<dyn StdError + Send + Sync>>> + Send + 'a>>;

/// Where the ids of used DPoP proofs are recorded, so that a proof is
/// accepted once (RFC 9449 §11.1).
///
/// One method: record an id unless it is recorded already, in one atomic
/// step, and tell which happened. Two servers that ask at the same moment
/// about the same id must get one `true` and one `false`; a store shared by a
/// fleet makes the whole fleet accept a proof once.
///
/// # The rules every store keeps
///
/// - `id` is the base64url SHA-256 digest (43 characters) that the DPoP
///   check derives; a store refuses anything else with
///   [`ReplayError::NotADigest`], and keeps nothing but the digest.
/// - An entry lasts until `expires_at` (Unix seconds), then is gone: the DPoP
///   check refuses a proof that old by its `iat` before it asks, so the
///   record is no longer needed. An `expires_at` already past records nothing
///   and answers `true`, unless the id is still recorded.
/// - A store that cannot record the id must fail (the memory store when it is
///   full, Redis when it is unreachable), never answer `true` while
///   forgetting another live entry: that would let a proof be replayed.
///   [`ReplayCheck`] turns the failure into its policy's answer.
///
/// A store of your own, over a database say (with the `replay-store`
/// feature, to give it to [`ReplayCheck`]):
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use tower_jwt_auth::{ReplayFuture, ReplayStore};
///
/// /// Never forgets: a real store would let entries expire.
/// #[derive(Default)]
/// struct Forever(Mutex<HashMap<String, u64>>);
///
/// impl ReplayStore for Forever {
///     fn first_use<'a>(&'a self, id: &'a str, expires_at: u64) -> ReplayFuture<'a> {
///         Box::pin(async move {
///             let mut used = self.0.lock().map_err(|_| "poisoned")?;
///             Ok(used.insert(id.to_owned(), expires_at).is_none())
///         })
///     }
/// }
///
/// # #[cfg(feature = "replay-store")]
/// let check = tower_jwt_auth::ReplayCheck::new(Forever::default());
/// ```
pub trait ReplayStore: Send + Sync + 'static {
    /// Records `id` as used until `expires_at` (seconds since the Unix
    /// epoch) unless it is recorded already; resolves to `true` when this was
    /// its first use.
    ///
    /// # Errors
    ///
    /// An `id` that is not a digest ([`ReplayError::NotADigest`]); a store
    /// that cannot record it ([`ReplayError::Full`], or the store's own
    /// failure).
    fn first_use<'a>(&'a self, id: &'a str, expires_at: u64) -> ReplayFuture<'a>;
}

/// Why a store could not answer, besides its own failures (a Redis error,
/// for `RedisReplays`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayError {
    /// The memory store is full of ids that are still live: recording
    /// another would mean forgetting one, which would let its proof be
    /// replayed. See [`MemoryReplays`] for its capacity.
    Full,
    /// The id is not the base64url SHA-256 digest (43 characters, without
    /// padding) that stores keep.
    NotADigest,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => "replay store full",
            Self::NotADigest => "replay id is not a base64url SHA-256 digest (43 characters)",
        })
    }
}

impl StdError for ReplayError {}

/// The length of a digest id: 32 bytes in base64url without padding.
pub(super) const DIGEST_ID_LENGTH: usize = 43;

/// The 32 bytes of a digest id, read strictly: 43 base64url characters whose
/// unused last bits are zero, so that each digest has one spelling.
pub(super) fn digest(id: &str) -> Result<[u8; 32], ReplayError> {
    if id.len() != DIGEST_ID_LENGTH {
        return Err(ReplayError::NotADigest);
    }
    // One byte of room: the decoder asks for its estimate (33 for 43
    // characters) before it counts exactly.
    let mut bytes = [0; 33];
    match URL_SAFE_NO_PAD.decode_slice(id, &mut bytes) {
        Ok(32) => {
            let mut digest = [0; 32];
            digest.copy_from_slice(&bytes[..32]);
            Ok(digest)
        }
        _ => Err(ReplayError::NotADigest),
    }
}

/// How the layer checks DPoP proof replay: a [`ReplayStore`], a timeout on
/// a store that answers over the network, and what to do when the store
/// cannot answer.
///
/// - The id was used before: the request is refused with
///   [`AuthErrorKind::DpopProofReplayed`] (`401`, `invalid_dpop_proof`,
///   "DPoP proof replayed").
/// - The store failed (a full [`MemoryReplays`], an unreachable Redis), or
///   did not answer within the [`timeout`](Self::timeout): by default the
///   check *fails closed*, and the request is refused with
///   [`AuthErrorKind::ReplayCheckUnavailable`] (`503`), the store's error as
///   its [`source`](std::error::Error::source). With
///   [`fail_open(true)`](Self::fail_open) the proof is accepted instead,
///   unrecorded: it could then be replayed until it expires.
///
/// With a [`MemoryReplays`] ([`ReplayCheck::memory`], or the
/// [`Default`]: one of [`DEFAULT_REPLAY_CAPACITY`] ids) the check is
/// synchronous. Any other store (`ReplayCheck::new` and
/// `ReplayCheck::from_arc`, feature `replay-store`, on by default) is asked
/// in a future, under the timeout, which needs a Tokio runtime with its time
/// driver enabled, as axum's and hyper's servers have.
///
/// # Logging
///
/// Store failures are logged once per outage, not once per request, as the
/// revocation check's are (feature `replay-store`): a `warn` event "DPoP
/// replay check failed" at the first failure, "DPoP replay store still
/// failing" at most every 10 s while it lasts, with the count of failed
/// checks, and an `info` event "DPoP replay store answers again" at its end;
/// never an id. The record is shared by clones; [`timeout`](Self::timeout)
/// and [`fail_open`](Self::fail_open) return a check with a record of its
/// own.
///
/// Cloning is cheap: everything sits behind one `Arc`.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{MemoryReplays, ReplayCheck};
///
/// let check = ReplayCheck::memory(MemoryReplays::with_capacity(1_000_000))
///     .timeout(Duration::from_millis(50))
///     .fail_open(false);
/// # let _ = check;
/// ```
#[derive(Clone)]
pub struct ReplayCheck {
    shared: Arc<Shared>,
}

/// The configuration of a [`ReplayCheck`] and the health of its store.
struct Shared {
    store: Store,
    timeout: Duration,
    fail_open: bool,
    health: timed::Health,
}

/// The store of a check: asked in place, or in a future.
#[derive(Clone)]
enum Store {
    Memory(MemoryReplays),
    #[allow(
        dead_code,
        reason = "made only by the constructors of timed.rs, which need its feature"
    )]
    Timed(timed::Timed),
}

/// The answer of [`ReplayCheck::check`]: at once, or in a future.
///
/// Either way, `Ok` when the proof may pass: its id was not used before, or
/// the store failed and the policy is to fail open. `.await` it to have the
/// answer whichever it is.
#[must_use = "the answer says whether the proof may pass"]
pub enum ReplayAnswer {
    /// Decided without waiting: the memory store, or an id no store would
    /// take.
    Ready(Result<(), AuthError>),
    /// The store's answer, within the check's timeout; the future owns what
    /// it needs (`'static`).
    Waiting(BoxFuture<'static, Result<(), AuthError>>),
}

impl IntoFuture for ReplayAnswer {
    type Output = Result<(), AuthError>;
    type IntoFuture = BoxFuture<'static, Result<(), AuthError>>;

    fn into_future(self) -> Self::IntoFuture {
        match self {
            Self::Ready(answer) => Box::pin(std::future::ready(answer)),
            Self::Waiting(waiting) => waiting,
        }
    }
}

impl fmt::Debug for ReplayAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready(answer) => f.debug_tuple("Ready").field(answer).finish(),
            Self::Waiting(_) => f.debug_tuple("Waiting").finish_non_exhaustive(),
        }
    }
}

/// The description of a refusal for a store failure.
const UNAVAILABLE: &str = "DPoP replay store unavailable";

/// The refusal of a replayed proof.
fn replayed() -> AuthError {
    AuthError::new(AuthErrorKind::DpopProofReplayed, "DPoP proof replayed")
}

/// A store failure as the check's error, before the policy.
fn unavailable(error: ReplayError) -> AuthError {
    AuthError::with_source(AuthErrorKind::ReplayCheckUnavailable, UNAVAILABLE, error)
}

impl ReplayCheck {
    /// Checks with `store`, in place, failing closed.
    pub fn memory(store: MemoryReplays) -> Self {
        Self::with(Store::Memory(store), DEFAULT_REPLAY_TIMEOUT, false)
    }

    /// A check with its own record of the store's health.
    fn with(store: Store, timeout: Duration, fail_open: bool) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                timeout,
                fail_open,
                health: timed::health(),
            }),
        }
    }

    /// The longest a store other than [`MemoryReplays`] may take to answer
    /// (default [`DEFAULT_REPLAY_TIMEOUT`], 100 ms); past it the store counts
    /// as failed. The memory store always answers at once.
    ///
    /// The result no longer shares the record of the store's health with
    /// `self` and its clones (see [Logging](Self#logging)).
    pub fn timeout(self, timeout: Duration) -> Self {
        let store = self.shared.store.clone();
        Self::with(store, timeout, self.shared.fail_open)
    }

    /// Whether a proof is accepted when the store fails or times out (default
    /// `false`: the request is refused with `503`).
    ///
    /// Failing open keeps the service up while the store is down or full, at
    /// the cost of accepting proofs unrecorded, which can then be replayed
    /// within their window; choose it only where that is the lesser harm.
    ///
    /// The result no longer shares the record of the store's health with
    /// `self` and its clones (see [Logging](Self#logging)).
    pub fn fail_open(self, yes: bool) -> Self {
        let store = self.shared.store.clone();
        Self::with(store, self.shared.timeout, yes)
    }

    /// The replay check of one proof id: records `id` until `expires_at`
    /// (Unix seconds) and answers `Ok` on its first use. `now` is the layer's
    /// clock, which the memory store expires its entries by; another store
    /// goes by its own (Redis's).
    ///
    /// The layer calls it for every DPoP proof; call it yourself to check
    /// ids elsewhere.
    ///
    /// ```
    /// use tower_jwt_auth::{AuthErrorKind, ReplayAnswer, ReplayCheck};
    ///
    /// let check = ReplayCheck::default();
    /// // The digest the DPoP check derives from a proof.
    /// let id = "hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg";
    /// let now = 1_700_000_000;
    /// assert!(matches!(check.check(id, now + 300, now), ReplayAnswer::Ready(Ok(()))));
    /// let ReplayAnswer::Ready(Err(error)) = check.check(id, now + 300, now + 1) else {
    ///     panic!("a replay");
    /// };
    /// assert_eq!(error.kind(), AuthErrorKind::DpopProofReplayed);
    /// ```
    ///
    /// # Errors
    ///
    /// [`AuthErrorKind::DpopProofReplayed`] for an id used before;
    /// [`AuthErrorKind::ReplayCheckUnavailable`] when the store failed or
    /// timed out (or `id` is not a digest) and the policy is to fail closed.
    pub fn check(&self, id: &str, expires_at: u64, now: u64) -> ReplayAnswer {
        let shared = &self.shared;
        match &shared.store {
            Store::Memory(memory) => {
                let answer = memory.first_use_now(id, expires_at, now);
                ReplayAnswer::Ready(shared.judge(answer.map_err(unavailable)))
            }
            Store::Timed(timed) => {
                // Checked here too, so that no task waits for a refusal.
                if let Err(error) = digest(id) {
                    return ReplayAnswer::Ready(shared.judge(Err(unavailable(error))));
                }
                let answer = timed.first_use(id.to_owned(), expires_at, shared.timeout);
                let shared = Arc::clone(shared);
                ReplayAnswer::Waiting(Box::pin(async move { shared.judge(answer.await) }))
            }
        }
    }
}

impl Shared {
    /// The policy's answer to the store's: `true` passes, `false` is a
    /// replay, an error is logged and refused or let through.
    fn judge(&self, answer: Result<bool, AuthError>) -> Result<(), AuthError> {
        match answer {
            Ok(first) => {
                self.health.answered(self.fail_open);
                if first { Ok(()) } else { Err(replayed()) }
            }
            Err(error) => {
                self.health.failed(&error, self.timeout, self.fail_open);
                if self.fail_open { Ok(()) } else { Err(error) }
            }
        }
    }
}

impl Default for ReplayCheck {
    /// A [`MemoryReplays`] of [`DEFAULT_REPLAY_CAPACITY`] ids, failing
    /// closed.
    fn default() -> Self {
        Self::memory(MemoryReplays::new())
    }
}

impl From<MemoryReplays> for ReplayCheck {
    fn from(store: MemoryReplays) -> Self {
        Self::memory(store)
    }
}

impl fmt::Debug for ReplayCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ReplayCheck");
        match &self.shared.store {
            Store::Memory(memory) => debug.field("store", memory),
            Store::Timed(_) => debug.field("store", &format_args!("dyn ReplayStore")),
        };
        debug
            .field("timeout", &self.shared.timeout)
            .field("fail_open", &self.shared.fail_open)
            .finish()
    }
}

#[cfg(test)]
mod tests;
