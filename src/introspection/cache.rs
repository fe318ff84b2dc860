//! [`AnswerCache`]: the authorization server's answers, by the SHA-256 of the
//! token, with their lifetimes ([`Lifetimes`]), and one introspection at a
//! time per token (`quick_cache`'s placeholder: the first request that misses
//! asks, the others wait for its answer).

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use quick_cache::sync::Cache;

use super::client::Answer;
use crate::error::AuthError;

/// What an answer means for the requests that carry the token.
#[derive(Clone)]
pub(super) enum Verdict {
    /// Active: its claims, as the JSON text of the response.
    Active(Arc<str>),
    Inactive,
    /// The authorization server could not decide.
    Unavailable(AuthError),
}

/// An answer, and the first second (by the layer's clock) it no longer holds:
/// at or before the time it was decided, an answer not kept.
#[derive(Clone)]
pub(super) struct Entry {
    pub(super) verdict: Verdict,
    pub(super) until: u64,
}

/// How long answers are kept, in whole seconds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Lifetimes {
    /// The longest an active token's answer is kept, whatever its `exp`.
    pub(super) max_active: u64,
    /// How long an inactive token's answer is kept.
    pub(super) inactive: u64,
}

impl Lifetimes {
    /// The first second at which `answer`, received at `now`, must be asked
    /// again; `now` for an answer that is not kept (a failure, an active
    /// token without `exp`). An active token's ends at its `exp` (RFC 7662
    /// §4: a cached answer must not outlive the token) and `max_active` from
    /// now, whichever comes first.
    pub(super) fn until(&self, answer: &Answer, now: u64) -> u64 {
        match answer {
            Answer::Active { exp: Some(exp), .. } => {
                // Rounded down: the whole second of `exp` is already too late.
                let exp = exp.floor().clamp(0.0, u64::MAX as f64) as u64;
                exp.min(now.saturating_add(self.max_active))
            }
            Answer::Active { exp: None, .. } | Answer::Unavailable(_) => now,
            Answer::Inactive => now.saturating_add(self.inactive),
        }
    }

    /// What `answer`, received at `now`, means, and until when it holds.
    pub(super) fn entry(&self, answer: Answer, now: u64) -> Entry {
        let until = self.until(&answer, now);
        let verdict = match answer {
            Answer::Active { payload, .. } => Verdict::Active(payload),
            Answer::Inactive => Verdict::Inactive,
            Answer::Unavailable(error) => Verdict::Unavailable(error),
        };
        Entry { verdict, until }
    }
}

/// The answers, bounded in entries.
pub(super) struct AnswerCache {
    entries: Cache<[u8; 32], Entry>,
    lifetimes: Lifetimes,
}

impl AnswerCache {
    /// A cache of at most `capacity` answers (at least 1).
    pub(super) fn new(capacity: usize, lifetimes: Lifetimes) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
            lifetimes,
        }
    }

    /// The answer for the token whose digest is `key`, if one holds at `now`.
    pub(super) fn get(&self, key: &[u8; 32], now: u64) -> Option<Verdict> {
        self.entries
            .get(key)
            .filter(|entry| entry.until > now)
            .map(|entry| entry.verdict)
    }

    /// How long answers are kept.
    pub(super) fn lifetimes(&self) -> Lifetimes {
        self.lifetimes
    }

    /// The answer for `key`: the one that holds, else the one a request
    /// already asking receives, else `ask`'s (an answer and its lifetime:
    /// [`Lifetimes::entry`], or a shared cache's), which is then kept until
    /// its `until`. Waiting requests receive it even when it is not kept.
    pub(super) async fn resolve(
        &self,
        key: [u8; 32],
        now: u64,
        ask: impl Future<Output = Entry>,
    ) -> Verdict {
        // An answer that no longer holds must not be handed out as current.
        self.entries.remove_if(&key, |entry| entry.until <= now);
        match self.entries.get_value_or_guard_async(&key).await {
            Ok(entry) => entry.verdict,
            Err(guard) => {
                let entry = ask.await;
                let verdict = entry.verdict.clone();
                // Inserted even when it no longer holds, so that the requests
                // waiting on the placeholder receive it (`get` and the next
                // `resolve` ignore it). Err only if the placeholder was taken
                // over (the entry removed meanwhile): the answer still holds
                // for this request.
                let _ = guard.insert(entry);
                verdict
            }
        }
    }
}

impl fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnswerCache")
            .field("capacity", &self.entries.capacity())
            .field("entries", &self.entries.len())
            .field("lifetimes", &self.lifetimes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::error::AuthErrorKind;

    const NOW: u64 = 1_700_000_000;

    fn cache() -> AnswerCache {
        AnswerCache::new(
            100,
            Lifetimes {
                max_active: 60,
                inactive: 5,
            },
        )
    }

    fn active(exp: Option<f64>) -> Answer {
        Answer::Active {
            payload: Arc::from(r#"{"active":true}"#),
            exp,
        }
    }

    fn unavailable() -> Answer {
        Answer::Unavailable(AuthError::new(
            AuthErrorKind::IntrospectionUnavailable,
            "down",
        ))
    }

    /// The verdict's name, for assertions.
    fn name(verdict: Option<Verdict>) -> &'static str {
        match verdict {
            Some(Verdict::Active(_)) => "active",
            Some(Verdict::Inactive) => "inactive",
            Some(Verdict::Unavailable(_)) => "unavailable",
            None => "miss",
        }
    }

    /// Resolves `answer` for `key` at `now`; how many times it was asked.
    async fn ask(cache: &AnswerCache, key: u8, now: u64, answer: Answer) -> (Verdict, usize) {
        let asked = AtomicUsize::new(0);
        let verdict = cache
            .resolve([key; 32], now, async {
                asked.fetch_add(1, Ordering::SeqCst);
                cache.lifetimes().entry(answer, now)
            })
            .await;
        (verdict, asked.load(Ordering::SeqCst))
    }

    #[test]
    fn an_active_token_is_kept_until_its_exp_and_never_beyond_the_maximum() {
        let lifetimes = cache().lifetimes;
        // exp within the maximum: until exp (a fraction rounded down).
        assert_eq!(
            lifetimes.until(&active(Some((NOW + 30) as f64)), NOW),
            NOW + 30
        );
        assert_eq!(
            lifetimes.until(&active(Some(NOW as f64 + 30.9)), NOW),
            NOW + 30
        );
        // exp beyond it: the maximum.
        assert_eq!(
            lifetimes.until(&active(Some((NOW + 3600) as f64)), NOW),
            NOW + 60
        );
        // exp passed, absurd or absent: not kept.
        assert_eq!(
            lifetimes.until(&active(Some((NOW - 1) as f64)), NOW),
            NOW - 1
        );
        assert_eq!(lifetimes.until(&active(Some(-1e300)), NOW), 0);
        assert_eq!(lifetimes.until(&active(Some(1e300)), NOW), NOW + 60);
        assert_eq!(lifetimes.until(&active(None), NOW), NOW);
        // Inactive: briefly; a failure: not at all.
        assert_eq!(lifetimes.until(&Answer::Inactive, NOW), NOW + 5);
        assert_eq!(lifetimes.until(&unavailable(), NOW), NOW);
    }

    #[tokio::test]
    async fn answers_hold_for_their_lifetime_by_the_clock_given() {
        let cache = cache();
        let (verdict, asked) = ask(&cache, 1, NOW, active(Some((NOW + 30) as f64))).await;
        assert_eq!((name(Some(verdict)), asked), ("active", 1));
        assert_eq!(name(cache.get(&[1; 32], NOW + 29)), "active");
        assert_eq!(name(cache.get(&[1; 32], NOW + 30)), "miss");
        // Within its lifetime the cached answer is used, not asked again.
        let (_, asked) = ask(&cache, 1, NOW + 10, Answer::Inactive).await;
        assert_eq!(asked, 0);
        // Once it expired, the token is asked about again.
        let (verdict, asked) = ask(&cache, 1, NOW + 30, Answer::Inactive).await;
        assert_eq!((name(Some(verdict)), asked), ("inactive", 1));
        assert_eq!(name(cache.get(&[1; 32], NOW + 34)), "inactive");
        assert_eq!(name(cache.get(&[1; 32], NOW + 35)), "miss");
    }

    #[tokio::test]
    async fn failures_and_tokens_without_exp_are_not_kept() {
        let cache = cache();
        for (key, answer, expected) in [
            (2, unavailable(), "unavailable"),
            (3, active(None), "active"),
        ] {
            let (verdict, asked) = ask(&cache, key, NOW, answer).await;
            assert_eq!((name(Some(verdict)), asked), (expected, 1));
            assert_eq!(name(cache.get(&[key; 32], NOW)), "miss");
            let (_, asked) = ask(&cache, key, NOW, Answer::Inactive).await;
            assert_eq!(asked, 1, "asked again");
        }
    }

    #[tokio::test]
    async fn concurrent_requests_for_one_token_share_one_introspection() {
        let cache = Arc::new(cache());
        let asked = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (cache, asked, mut released) = (cache.clone(), asked.clone(), released.clone());
            tasks.push(tokio::spawn(async move {
                let ask = async {
                    asked.fetch_add(1, Ordering::SeqCst);
                    let _ = released.wait_for(|r| *r).await;
                    cache.lifetimes().entry(unavailable(), NOW)
                };
                name(Some(cache.resolve([4; 32], NOW, ask).await))
            }));
        }
        // Let every task reach the cache before the one asking is answered.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        release.send(true).unwrap();
        for task in tasks {
            assert_eq!(task.await.unwrap(), "unavailable");
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        assert_eq!(name(cache.get(&[4; 32], NOW)), "miss");
    }

    #[test]
    fn the_cache_is_bounded_in_entries() {
        let cache = AnswerCache::new(0, cache().lifetimes);
        assert_eq!(cache.entries.capacity(), 1);
    }
}
