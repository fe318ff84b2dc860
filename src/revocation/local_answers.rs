//! [`LocalAnswers`]: the "not revoked" answers a `RedisRevocations` on a
//! connection with a local mirror gives without I/O
//! ([`RevocationStore::is_revoked_now`](super::RevocationStore::is_revoked_now)).
//!
//! The redis crate's cache answers a key without a round trip, but only
//! through a command and a future; this table answers a whole check (both of
//! its keys) with one lookup. It is kept by the same invalidations: every
//! push that may make an answer stale (an invalidation of any key the
//! connection tracks, a lost connection) moves the connection's
//! *generation*, and an answer holds only in the generation it was asked in.
//! That is coarse (one revoked token empties the table, and the checks go
//! back to the redis crate's cache key by key) but never staler than that
//! cache. Each answer also lasts at most half the mirror's staleness bound
//! after it was asked for, the redis crate's cache holding the other half
//! (see `Mirror::tier_lifetime`).

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::TokenInfo;
use super::quick_hash::Quick;

/// Tokens known not revoked, and until when.
#[derive(Debug)]
pub(super) struct LocalAnswers {
    table: RwLock<Table>,
    max_entries: usize,
    lifetime: Duration,
}

#[derive(Debug, Default)]
struct Table {
    /// The generation every answer here was asked in.
    generation: u64,
    answers: HashMap<TokenInfo, Answer, Quick>,
}

#[derive(Debug, Clone, Copy)]
struct Answer {
    /// Past this, the answer is not given.
    until: Instant,
    /// The Redis keys it stands for (for `MirrorStats::hits`).
    keys: u8,
}

impl LocalAnswers {
    /// At most `max_entries` answers, each kept at most `lifetime` after it
    /// was asked for.
    pub(super) fn new(lifetime: Duration, max_entries: NonZeroUsize) -> Self {
        Self {
            table: RwLock::default(),
            max_entries: max_entries.get(),
            lifetime,
        }
    }

    /// The number of Redis keys behind the answer "not revoked" for `token`,
    /// when the table holds one of `generation` that is still good at `now`.
    pub(super) fn not_revoked(
        &self,
        token: &TokenInfo,
        generation: u64,
        now: Instant,
    ) -> Option<u8> {
        // No code panics while holding the lock; should one ever, the table
        // is still whole (every change is one insert, retain or clear).
        let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
        if table.generation != generation {
            return None;
        }
        let answer = table.answers.get(token)?;
        (now < answer.until).then_some(answer.keys)
    }

    /// Keeps "not revoked" for `token`, read from `keys` Redis keys by a
    /// request sent at `asked`, in generation `asked_in`, if that is still
    /// the connection's generation (`current`): a push since then may have
    /// been about these keys, and the answer is not kept.
    pub(super) fn keep(
        &self,
        token: &TokenInfo,
        keys: usize,
        asked: Instant,
        asked_in: u64,
        current: impl Fn() -> u64,
    ) {
        let until = asked + self.lifetime;
        let now = Instant::now();
        if until <= now || current() != asked_in {
            return;
        }
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        // Under the lock: no answer of a newer generation is thrown away for
        // an older one.
        if current() != asked_in {
            return;
        }
        if table.generation != asked_in {
            table.answers.clear();
            table.generation = asked_in;
        }
        if table.answers.len() >= self.max_entries {
            table.answers.retain(|_, answer| answer.until > now);
            // Still full: every answer is in use; start over rather than
            // sweep the table again at the next insert.
            if table.answers.len() >= self.max_entries {
                table.answers.clear();
            }
        }
        let keys = u8::try_from(keys).unwrap_or(u8::MAX);
        table.answers.insert(token.clone(), Answer { until, keys });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.read().unwrap().answers.len()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn token(jti: &str) -> TokenInfo {
        TokenInfo::new()
            .with_jti(jti)
            .with_subject("ada")
            .with_expires_at(1 << 40)
    }

    fn answers(max: usize) -> LocalAnswers {
        LocalAnswers::new(Duration::from_secs(10), NonZeroUsize::new(max).unwrap())
    }

    #[test]
    fn an_answer_holds_in_its_generation_until_its_lifetime_ends() {
        let table = answers(10);
        let asked = Instant::now();
        let (a, b) = (token("a"), token("b"));
        assert_eq!(table.not_revoked(&a, 0, asked), None);
        table.keep(&a, 2, asked, 0, || 0);
        assert_eq!(table.not_revoked(&a, 0, asked), Some(2));
        assert_eq!(table.not_revoked(&b, 0, asked), None);
        // Another token of the same subject, or the same jti elsewhere, is
        // another answer.
        assert_eq!(
            table.not_revoked(&a.clone().with_issuer("x"), 0, asked),
            None
        );
        // Past its lifetime, counted from when it was asked for.
        let late = asked + Duration::from_secs(10);
        assert_eq!(
            table.not_revoked(&a, 0, late - Duration::from_millis(1)),
            Some(2)
        );
        assert_eq!(table.not_revoked(&a, 0, late), None);
        // In a later generation (a push came): nothing.
        assert_eq!(table.not_revoked(&a, 1, asked), None);
    }

    #[test]
    fn an_answer_asked_before_a_push_is_not_kept() {
        let table = answers(10);
        let now = Instant::now();
        // The generation moved while the request was out.
        table.keep(&token("a"), 2, now, 3, || 4);
        assert_eq!(table.len(), 0);
        // Moved between the first look and the lock.
        let calls = Cell::new(0);
        let moving = || {
            calls.set(calls.get() + 1);
            if calls.get() == 1 { 3 } else { 4 }
        };
        table.keep(&token("a"), 2, now, 3, moving);
        assert_eq!(table.len(), 0);
        // Asked long ago: already past its lifetime.
        table.keep(&token("a"), 2, now - Duration::from_secs(11), 3, || 3);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn a_new_generation_empties_the_table() {
        let table = answers(10);
        let now = Instant::now();
        table.keep(&token("a"), 2, now, 0, || 0);
        table.keep(&token("b"), 2, now, 1, || 1);
        assert_eq!(table.len(), 1);
        assert_eq!(table.not_revoked(&token("a"), 1, now), None);
        assert_eq!(table.not_revoked(&token("b"), 1, now), Some(2));
    }

    #[test]
    fn the_table_never_holds_more_than_its_bound() {
        let table = answers(100);
        let now = Instant::now();
        for i in 0..1_000 {
            table.keep(&token(&i.to_string()), 1, now, 0, || 0);
            assert!(table.len() <= 100);
        }
        // The last one is always kept.
        assert_eq!(table.not_revoked(&token("999"), 0, now), Some(1));
        // Expired answers make room first; the others stay.
        let table = answers(2);
        let lifetime = Duration::from_secs(10);
        let asked = Instant::now() - lifetime + Duration::from_millis(5);
        table.keep(&token("old"), 1, asked, 0, || 0);
        table.keep(&token("new"), 1, Instant::now(), 0, || 0);
        std::thread::sleep((asked + lifetime).saturating_duration_since(Instant::now()));
        table.keep(&token("third"), 1, Instant::now(), 0, || 0);
        let now = Instant::now();
        assert_eq!(table.len(), 2);
        assert_eq!(table.not_revoked(&token("new"), 0, now), Some(1));
        assert_eq!(table.not_revoked(&token("third"), 0, now), Some(1));
    }
}
