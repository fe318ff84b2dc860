//! The keys of a feed's current version, made ready for verification once
//! ([`PreparedKeys`]): what every [`DynamicKeys`](super::key_source::DynamicKeys)
//! keeps between requests, whatever brings its keys (a remote JWK Set, key
//! files, a key ring).

use std::sync::{Arc, PoisonError, RwLock};

use crate::verify::KeyEntry;

/// The entries of the newest version prepared so far, by generation.
#[derive(Default)]
pub(crate) struct PreparedKeys {
    slot: RwLock<Option<(u64, Arc<[KeyEntry]>)>>,
}

impl PreparedKeys {
    /// The entries of `generation`, prepared by `prepare` unless they already
    /// are; whether this call installed them. `forget` receives the
    /// fingerprints of the keys of the older version that the new one lacks.
    pub(crate) fn get_or_prepare(
        &self,
        generation: u64,
        prepare: impl FnOnce() -> Vec<KeyEntry>,
        forget: &dyn Fn(&[u64]),
    ) -> (Arc<[KeyEntry]>, bool) {
        if let Some((prepared, entries)) =
            &*self.slot.read().unwrap_or_else(PoisonError::into_inner)
            && *prepared == generation
        {
            return (entries.clone(), false);
        }
        // Several requests may prepare the same new version at once; the
        // work is the same and the newest generation wins.
        let fresh: Arc<[KeyEntry]> = prepare().into();
        let mut slot = self.slot.write().unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some((current, entries)) if *current >= generation => (entries.clone(), false),
            old => {
                if let Some((_, old)) = old {
                    let removed: Vec<u64> = old
                        .iter()
                        .map(|e| e.fingerprint)
                        .filter(|f| !fresh.iter().any(|e| e.fingerprint == *f))
                        .collect();
                    forget(&removed);
                }
                *slot = Some((generation, fresh.clone()));
                (fresh, true)
            }
        }
    }

    /// Forgets every prepared entry (a feed whose keys were dropped), so
    /// that a token cache no longer accepts what they verified; whether
    /// there were any.
    #[allow(
        dead_code,
        reason = "only a remote key set drops all its keys (max_staleness), so only it clears"
    )]
    pub(crate) fn clear(&self, forget: &dyn Fn(&[u64])) -> bool {
        if self
            .slot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
        {
            return false;
        }
        let dropped = self
            .slot
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some((_, dropped)) = dropped else {
            return false;
        };
        let removed: Vec<u64> = dropped.iter().map(|e| e.fingerprint).collect();
        forget(&removed);
        true
    }
}
