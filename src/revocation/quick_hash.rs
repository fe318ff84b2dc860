//! [`Quick`]: the hasher of the revocation check's in-process tables.

use std::hash::{BuildHasher, Hasher, RandomState};

/// Hashes a table's keys a word at a time (the multiply-and-rotate of
/// rustc's `FxHasher`), from a seed of its own. The keys are tokens that
/// verified and their claims, which only a trusted issuer can choose, so
/// SipHash's resistance to chosen keys buys nothing here; it cost a lookup
/// four times the rest of it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Quick {
    seed: u64,
}

impl Default for Quick {
    fn default() -> Self {
        Self {
            seed: RandomState::new().hash_one(0u8),
        }
    }
}

impl BuildHasher for Quick {
    type Hasher = QuickHasher;

    fn build_hasher(&self) -> QuickHasher {
        QuickHasher(self.seed)
    }
}

pub(super) struct QuickHasher(u64);

impl QuickHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
}

impl Hasher for QuickHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply leaves its best bits high; the table indexes with
        // the low ones.
        self.0.rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::TokenInfo;

    fn token(jti: &str) -> TokenInfo {
        TokenInfo::new().with_jti(jti).with_subject("ada")
    }

    #[test]
    fn the_quick_hash_tells_tokens_apart() {
        let quick = Quick::default();
        let mut seen = HashSet::new();
        for i in 0..10_000 {
            let jti = format!("{i:032x}");
            assert!(seen.insert(quick.hash_one(token(&jti))));
            assert!(seen.insert(quick.hash_one(token(&jti).with_issuer("x"))));
        }
        // The low bits, which index the table, spread too.
        let low: HashSet<u64> = seen.iter().map(|h| h & 0xffff).collect();
        assert!(low.len() > 10_000, "{}", low.len());
        // Another seed, other hashes.
        assert_ne!(
            quick.hash_one(token("a")),
            Quick::default().hash_one(token("a"))
        );
    }

    #[test]
    fn texts_of_every_length_hash_apart() {
        let quick = Quick::default();
        let text = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl";
        let hashes: HashSet<u64> = (0..=text.len())
            .map(|n| quick.hash_one(&text[..n]))
            .collect();
        assert_eq!(hashes.len(), text.len() + 1);
    }
}
