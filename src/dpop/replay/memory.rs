//! [`MemoryReplays`]: the ids of used DPoP proofs, kept in this process.

use std::collections::HashMap;
use std::fmt;
use std::future::ready;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{ReplayError, ReplayFuture, ReplayStore, digest};
use crate::clock::{Clock, DebugClock, SystemClock};

/// The default number of ids a [`MemoryReplays`] holds: 100 000.
///
/// Enough for about 1 600 new proofs a second with a proof window of a
/// minute; at most about 5.4 MB of memory (41 bytes an entry, in hash tables
/// no more than 8/7 full, rounded up to powers of two).
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// The fewest entries at which a shard looks for expired ones to drop.
const MIN_SWEEP: usize = 64;

/// The fewest ids a shard holds: a store smaller than two shards' worth is
/// one shard, whose capacity is then exact.
const MIN_SHARD_CAPACITY: usize = 4096;

/// The most shards a store is split into.
const MAX_SHARDS: usize = 16;

/// The ids of used DPoP proofs, in this process's memory: for one server,
/// and for tests.
///
/// Clones share the same entries (they sit behind an `Arc`). Every server
/// process has its own: use `RedisReplays` (feature `redis`) when a fleet
/// must refuse a proof used on any of its servers.
///
/// # Capacity
///
/// The store holds at most its [capacity](Self::with_capacity) of ids
/// (default [`DEFAULT_REPLAY_CAPACITY`]), each in 40 bytes (the digest and
/// its expiry). Size it to the new proofs a second times the proof window.
/// When it is full of ids that are still live, recording one more would mean
/// forgetting one, and so letting its proof be replayed: the store answers
/// [`ReplayError::Full`] instead, and the check's policy decides (by default
/// the request is refused with `503`). A client with a valid token can make
/// proofs as fast as it likes; what fills the store is the count of
/// requests, so rate-limit before this layer.
///
/// # Expiry
///
/// An entry is live until its `expires_at`; an expired one is never found,
/// and is dropped by a later write, in one sweep of its shard each time the
/// number of entries has doubled since the last sweep, or when the shard is
/// full. A full shard sweeps at most once per second of its clock (none of
/// its entries can expire before the earliest expiry it knows), so a full
/// store answers at once. Writes cost amortised constant time.
///
/// # Concurrency
///
/// A store of at least 8 192 ids is split into up to 16 shards, each behind
/// its own lock and holding an equal part of the capacity; an id's shard is
/// picked by a hash keyed at random per store, so no client can aim its ids
/// at one shard. Ids spread evenly: the first shard of a default store
/// fills when the store is 96 to 98 % full. A smaller store is one shard,
/// full at exactly its capacity.
///
/// ```
/// use tower_jwt_auth::{MemoryReplays, ReplayCheck, ReplayError};
///
/// let store = MemoryReplays::with_capacity(1);
/// let (a, b) = (
///     "hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg",
///     "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
/// );
/// let now = 1_700_000_000;
/// assert_eq!(store.first_use_now(a, now + 60, now), Ok(true));
/// assert_eq!(store.first_use_now(a, now + 60, now), Ok(false));
/// assert_eq!(store.first_use_now(b, now + 60, now), Err(ReplayError::Full));
/// // A minute later `a` has expired, and `b` takes its place.
/// assert_eq!(store.first_use_now(b, now + 120, now + 60), Ok(true));
///
/// let check = ReplayCheck::memory(store);
/// # let _ = check;
/// ```
#[derive(Clone)]
pub struct MemoryReplays {
    shared: Arc<Shards>,
    clock: Arc<dyn Clock>,
}

/// The entries of a store, split by id.
struct Shards {
    shards: Box<[Mutex<Shard>]>,
    /// Picks an id's shard; keyed at random.
    pick: RandomState,
    capacity: usize,
}

/// A part of the store: the live ids of some digests, and maybe expired ones
/// not yet dropped.
struct Shard {
    /// Digest to expiry (Unix seconds, exclusive).
    map: HashMap<[u8; 32], u64>,
    capacity: usize,
    /// The size at which the next write sweeps expired entries out.
    sweep_at: usize,
    /// No entry expires before this: a sweep before it would find nothing.
    earliest: u64,
    /// Sweeps so far, for the tests.
    sweeps: u64,
}

impl Shard {
    fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            capacity,
            sweep_at: MIN_SWEEP.min(capacity),
            earliest: u64::MAX,
            sweeps: 0,
        }
    }

    fn first_use(&mut self, key: [u8; 32], expires_at: u64, now: u64) -> Result<bool, ReplayError> {
        if let Some(expiry) = self.map.get_mut(&key) {
            if *expiry > now {
                return Ok(false);
            }
            // Expired: recorded anew, in its place.
            if expires_at > now {
                *expiry = expires_at;
                self.earliest = self.earliest.min(expires_at);
            }
            return Ok(true);
        }
        if expires_at <= now {
            // Gone as soon as written.
            return Ok(true);
        }
        if self.map.len() >= self.sweep_at && self.earliest <= now {
            self.sweep(now);
        }
        if self.map.len() >= self.capacity {
            return Err(ReplayError::Full);
        }
        self.map.insert(key, expires_at);
        self.earliest = self.earliest.min(expires_at);
        Ok(true)
    }

    /// Drops the expired entries, and sets when to look again.
    fn sweep(&mut self, now: u64) {
        let mut earliest = u64::MAX;
        self.map.retain(|_, &mut expiry| {
            let live = expiry > now;
            if live {
                earliest = earliest.min(expiry);
            }
            live
        });
        self.earliest = earliest;
        self.sweep_at = self
            .map
            .len()
            .saturating_mul(2)
            .max(MIN_SWEEP)
            .min(self.capacity);
        self.sweeps += 1;
    }
}

impl MemoryReplays {
    /// An empty store of [`DEFAULT_REPLAY_CAPACITY`] ids, on the system clock.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_REPLAY_CAPACITY)
    }

    /// An empty store of at most `capacity` ids (at least one). Memory grows
    /// with the entries, up to about 54 bytes an id at capacity.
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let count = (capacity / MIN_SHARD_CAPACITY).clamp(1, MAX_SHARDS);
        // A power of two, so that picking one is a mask.
        let count = 1 << count.ilog2();
        let (each, extra) = (capacity / count, capacity % count);
        let shards = (0..count)
            .map(|i| Mutex::new(Shard::new(each + usize::from(i < extra))))
            .collect();
        Self {
            shared: Arc::new(Shards {
                shards,
                pick: RandomState::new(),
                capacity,
            }),
            clock: Arc::new(SystemClock),
        }
    }

    /// The clock that decides expiry for [`ReplayStore::first_use`] (default
    /// [`SystemClock`]); [`first_use_now`](Self::first_use_now), which the
    /// check calls, is told the time by the layer's clock instead.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The most ids the store holds.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// The number of ids held, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.shared
            .shards
            .iter()
            .map(|shard| lock(shard).map.len())
            .sum()
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records `id` as used until `expires_at` unless it is recorded
    /// already, at `now` (both in Unix seconds): `Ok(true)` on its first use.
    /// The synchronous form of [`ReplayStore::first_use`], which the check
    /// calls: one lock, no allocation but the entry's.
    ///
    /// # Errors
    ///
    /// [`ReplayError::Full`] when the id's shard is full of live ids;
    /// [`ReplayError::NotADigest`] when `id` is not a base64url SHA-256
    /// digest.
    pub fn first_use_now(&self, id: &str, expires_at: u64, now: u64) -> Result<bool, ReplayError> {
        let key = digest(id)?;
        let shards = &self.shared.shards;
        let shard = match shards.len() {
            1 => &shards[0],
            count => {
                // The high half of the hash: the map hashes with keys of its own.
                let hash = self.shared.pick.hash_one(key) >> 32;
                // `count` is a power of two, at most 16: the mask fits.
                &shards[hash as usize & (count - 1)]
            }
        };
        lock(shard).first_use(key, expires_at, now)
    }
}

/// `shard`, locked.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // Nothing panics under the lock; should it ever, every write is one
    // insert or one assignment, so the map is whole: keep using it.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Default for MemoryReplays {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryReplays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Digests tell nothing, but there is no need to list them: count.
        f.debug_struct("MemoryReplays")
            .field("entries", &self.len())
            .field("capacity", &self.shared.capacity)
            .field("shards", &self.shared.shards.len())
            .field("clock", &DebugClock(&*self.clock))
            .finish()
    }
}

impl ReplayStore for MemoryReplays {
    fn first_use<'a>(&'a self, id: &'a str, expires_at: u64) -> ReplayFuture<'a> {
        let answer = self.first_use_now(id, expires_at, self.clock.now());
        Box::pin(ready(answer.map_err(Into::into)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    const NOW: u64 = 1_700_000_000;

    /// The digest id of `n`: any 32 bytes will do.
    fn id(n: u64) -> String {
        let mut bytes = [0; 32];
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        bytes[24..].copy_from_slice(&n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn sweeps(store: &MemoryReplays) -> u64 {
        store.shared.shards.iter().map(|s| lock(s).sweeps).sum()
    }

    #[test]
    fn the_first_use_is_true_and_the_next_false() {
        let store = MemoryReplays::new();
        assert_eq!(store.first_use_now(&id(1), NOW + 60, NOW), Ok(true));
        assert_eq!(store.first_use_now(&id(1), NOW + 60, NOW), Ok(false));
        // Another expiry changes nothing: the id is used.
        assert_eq!(store.first_use_now(&id(1), NOW + 600, NOW + 1), Ok(false));
        assert_eq!(store.first_use_now(&id(2), NOW + 60, NOW), Ok(true));
        // A clone shares the entries.
        assert_eq!(
            store.clone().first_use_now(&id(2), NOW + 60, NOW),
            Ok(false)
        );
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn an_entry_lives_until_its_expiry_and_then_frees_its_place() {
        let store = MemoryReplays::with_capacity(1);
        assert_eq!(store.first_use_now(&id(1), NOW + 60, NOW), Ok(true));
        assert_eq!(store.first_use_now(&id(1), NOW + 60, NOW + 59), Ok(false));
        assert_eq!(
            store.first_use_now(&id(2), NOW + 120, NOW + 59),
            Err(ReplayError::Full)
        );
        // At `expires_at` the entry is gone: the id is new again, and the
        // place is free for another.
        assert_eq!(store.first_use_now(&id(1), NOW + 120, NOW + 60), Ok(true));
        assert_eq!(store.first_use_now(&id(1), NOW + 120, NOW + 61), Ok(false));
        assert_eq!(store.first_use_now(&id(2), NOW + 200, NOW + 120), Ok(true));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn an_expiry_already_past_records_nothing() {
        let store = MemoryReplays::with_capacity(1);
        assert_eq!(store.first_use_now(&id(1), NOW, NOW), Ok(true));
        assert_eq!(store.first_use_now(&id(1), NOW - 1, NOW), Ok(true));
        assert!(store.is_empty());
        // Even when full, and an id still live stays used.
        assert_eq!(store.first_use_now(&id(2), NOW + 10, NOW), Ok(true));
        assert_eq!(store.first_use_now(&id(3), NOW, NOW), Ok(true));
        assert_eq!(store.first_use_now(&id(2), NOW, NOW), Ok(false));
    }

    #[test]
    fn a_full_store_refuses_and_forgets_nothing() {
        let store = MemoryReplays::with_capacity(100);
        assert_eq!(store.shared.shards.len(), 1);
        for n in 0..100 {
            assert_eq!(store.first_use_now(&id(n), NOW + 60 + n, NOW), Ok(true));
        }
        for n in 100..1100 {
            assert_eq!(
                store.first_use_now(&id(n), NOW + 60, NOW + 30),
                Err(ReplayError::Full)
            );
        }
        // Every live id is still used.
        for n in 0..100 {
            assert_eq!(store.first_use_now(&id(n), NOW + 60, NOW + 30), Ok(false));
        }
        // Once the earliest expires, one place is free.
        assert_eq!(store.first_use_now(&id(100), NOW + 90, NOW + 60), Ok(true));
        assert_eq!(
            store.first_use_now(&id(101), NOW + 90, NOW + 60),
            Err(ReplayError::Full)
        );
        assert_eq!(store.len(), 100);
        let error: Box<dyn std::error::Error> = ReplayError::Full.into();
        assert_eq!(error.to_string(), "replay store full");
    }

    #[test]
    fn a_full_store_sweeps_at_most_once_a_second() {
        let store = MemoryReplays::with_capacity(1000);
        for n in 0..1000 {
            assert_eq!(store.first_use_now(&id(n), NOW + 100, NOW), Ok(true));
        }
        let before = sweeps(&store);
        // Thousands of refusals in the same second, and in the seconds
        // before anything can expire: no sweep at all.
        for second in 0..100 {
            for n in 0..100 {
                let n = 1000 + second * 100 + n;
                let answer = store.first_use_now(&id(n), NOW + 200, NOW + second);
                assert_eq!(answer, Err(ReplayError::Full));
            }
        }
        assert_eq!(sweeps(&store), before);
        // At the expiry, one sweep empties it.
        assert_eq!(
            store.first_use_now(&id(5000), NOW + 200, NOW + 100),
            Ok(true)
        );
        assert_eq!(sweeps(&store), before + 1);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn sweeps_keep_memory_and_work_bounded() {
        let store = MemoryReplays::with_capacity(DEFAULT_REPLAY_CAPACITY);
        assert_eq!(store.shared.shards.len(), MAX_SHARDS);
        let mut now = NOW;
        let mut writes = 0u64;
        for round in 0..40u64 {
            for n in 0..5_000 {
                let id = id(round * 5_000 + n);
                assert_eq!(store.first_use_now(&id, now + 5, now), Ok(true));
                writes += 1;
            }
            // Every entry of this round expires before the next one.
            now += 10;
            assert!(store.len() <= 2 * 5_000 + MAX_SHARDS * MIN_SWEEP);
        }
        // Each sweep follows a doubling of its shard: few of them.
        let sweeps = sweeps(&store);
        assert!(sweeps * 50 < writes, "{sweeps} sweeps for {writes} writes");
    }

    #[test]
    fn shards_split_the_capacity_exactly() {
        for (capacity, shards) in [
            (0, 1),
            (1, 1),
            (8191, 1),
            (8192, 2),
            (DEFAULT_REPLAY_CAPACITY, 16),
            (usize::MAX, 16),
        ] {
            let store = MemoryReplays::with_capacity(capacity);
            let parts = &store.shared.shards;
            assert_eq!(parts.len(), shards, "{capacity}");
            let total: usize = parts.iter().map(|s| lock(s).capacity).sum();
            assert_eq!(total, capacity.max(1), "{capacity}");
            assert_eq!(store.capacity(), capacity.max(1));
        }
        // A full sharded store: every shard holds its part.
        let store = MemoryReplays::with_capacity(2 * MIN_SHARD_CAPACITY);
        let mut n = 0;
        while store.len() < store.capacity() {
            let _ = store.first_use_now(&id(n), NOW + 60, NOW);
            n += 1;
        }
        assert_eq!(
            store.first_use_now(&id(n), NOW + 60, NOW),
            Err(ReplayError::Full)
        );
    }

    #[test]
    fn eight_threads_racing_for_one_id_get_one_first_use() {
        let store = MemoryReplays::new();
        for round in 0..200 {
            let id = id(round);
            let gate = Barrier::new(8);
            let firsts = std::thread::scope(|scope| {
                let runs: Vec<_> = (0..8)
                    .map(|_| {
                        scope.spawn(|| {
                            gate.wait();
                            store.first_use_now(&id, NOW + 60, NOW).unwrap()
                        })
                    })
                    .collect();
                runs.into_iter()
                    .map(|run| run.join().unwrap())
                    .filter(|&first| first)
                    .count()
            });
            assert_eq!(firsts, 1, "round {round}");
        }
    }

    #[test]
    fn only_digests_are_ids() {
        let store = MemoryReplays::new();
        let good = "hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg";
        assert_eq!(store.first_use_now(good, NOW + 1, NOW), Ok(true));
        for bad in [
            "",
            "a-jti",
            // One character short, one too many.
            &good[..42],
            &format!("{good}A"),
            // Padding, standard base64, non-ASCII.
            "hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNyb=",
            "hF4wRIgJ4ryJWOsCW/x5UjXROwd6U9DDq70jhRcNybg",
            "hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNyé",
            // The same bytes spelt with unused bits set: not a second spelling.
            "hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybh",
        ] {
            assert_eq!(
                store.first_use_now(bad, NOW + 1, NOW),
                Err(ReplayError::NotADigest),
                "{bad}"
            );
        }
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn the_store_trait_answers_on_the_store_clock() {
        let store = MemoryReplays::new().clock(|| NOW);
        assert!(store.first_use(&id(1), NOW + 1).await.unwrap());
        assert!(!store.first_use(&id(1), NOW + 1).await.unwrap());
        let later = store.clone().clock(|| NOW + 1);
        assert!(later.first_use(&id(1), NOW + 2).await.unwrap());
        let error = store.first_use("nope", NOW + 1).await.unwrap_err();
        assert!(error.to_string().contains("digest"), "{error}");
    }

    #[test]
    fn debug_counts_and_lists_nothing() {
        let store = MemoryReplays::with_capacity(10).clock(|| NOW);
        store.first_use_now(&id(7), NOW + 1, NOW).unwrap();
        let debug = format!("{store:?}");
        assert!(debug.contains("entries: 1"), "{debug}");
        assert!(debug.contains("capacity: 10"), "{debug}");
        assert!(!debug.contains(&id(7)), "{debug}");
    }
}
