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
//! `replay-store`, on by default): `timed.rs` holds what needs it, and the
//! check's constructors that take such a store are its only other mention.

mod check;
mod memory;
mod timed;

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use self::check::{DEFAULT_REPLAY_TIMEOUT, ReplayAnswer, ReplayCheck};
pub use self::memory::{DEFAULT_REPLAY_CAPACITY, MemoryReplays};

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
