//! How long a fetched document stays fresh, from its `Cache-Control` header,
//! and when to refresh it.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::time::Duration;

use headers::{CacheControl, HeaderMapExt};
use http::HeaderMap;

/// The bounds and default of a document's lifetime.
#[derive(Debug, Clone, Copy)]
pub(super) struct CachePolicy {
    pub(super) min: Duration,
    pub(super) max: Duration,
    pub(super) default: Duration,
}

impl CachePolicy {
    /// The lifetime of a document answered with `headers`: its
    /// `Cache-Control: max-age`, or the default when the header is absent,
    /// unreadable, has no `max-age`, or says `no-cache` or `no-store`; in every
    /// case bounded to `[min, max]`.
    ///
    /// `no-cache` and `no-store` do not mean "fetch for every token" here: that
    /// would let the identity provider (or whoever sits in front of it) turn
    /// each request into a fetch. `s-maxage` is for shared caches; this is a
    /// private one.
    pub(super) fn lifetime(&self, headers: &HeaderMap) -> Duration {
        let max_age = headers
            .typed_get::<CacheControl>()
            .filter(|cc| !cc.no_cache() && !cc.no_store())
            .and_then(|cc| cc.max_age());
        max_age.unwrap_or(self.default).clamp(self.min, self.max)
    }
}

/// When to refresh a document of this lifetime: at a random point between
/// 80 % and 90 % of it, so that the new document is in place before the old
/// one expires, and a fleet of servers that started together does not fetch
/// together.
pub(super) fn refresh_delay(lifetime: Duration) -> Duration {
    lifetime.mul_f64(0.8 + 0.1 * unit_random())
}

/// A number in `[0, 1)`, different at each call: enough to spread timers
/// (std's `RandomState` is seeded from the system's random source; each one
/// has new keys).
pub(super) fn unit_random() -> f64 {
    let bits = RandomState::new().build_hasher().finish() >> 11;
    // 53 bits, exactly representable in an f64.
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use http::header::CACHE_CONTROL;

    const POLICY: CachePolicy = CachePolicy {
        min: Duration::from_secs(60),
        max: Duration::from_secs(24 * 3600),
        default: Duration::from_secs(300),
    };

    fn lifetime(values: &[&'static str]) -> Duration {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(CACHE_CONTROL, HeaderValue::from_static(value));
        }
        POLICY.lifetime(&headers)
    }

    #[test]
    fn max_age_is_taken_within_the_bounds() {
        assert_eq!(lifetime(&["max-age=600"]), Duration::from_secs(600));
        assert_eq!(
            lifetime(&["public, max-age=3600, must-revalidate"]),
            Duration::from_secs(3600)
        );
        assert_eq!(
            lifetime(&["private", "max-age=120"]),
            Duration::from_secs(120)
        );
        assert_eq!(lifetime(&["max-age=1"]), POLICY.min);
        assert_eq!(lifetime(&["max-age=0"]), POLICY.min);
        assert_eq!(lifetime(&["max-age=31536000"]), POLICY.max);
        assert_eq!(lifetime(&["max-age=18446744073709551615"]), POLICY.max);
    }

    #[test]
    fn no_cache_no_store_absent_or_unreadable_give_the_default() {
        assert_eq!(lifetime(&[]), POLICY.default);
        assert_eq!(lifetime(&["no-cache"]), POLICY.default);
        assert_eq!(lifetime(&["no-store, max-age=600"]), POLICY.default);
        assert_eq!(lifetime(&["max-age=600", "no-cache"]), POLICY.default);
        assert_eq!(lifetime(&["public"]), POLICY.default);
        assert_eq!(lifetime(&["max-age=soon"]), POLICY.default);
        assert_eq!(lifetime(&["s-maxage=600"]), POLICY.default);
        // Too large for a u64: not a max-age headers can read.
        assert_eq!(
            lifetime(&["max-age=99999999999999999999999"]),
            POLICY.default
        );
    }

    #[test]
    fn the_default_is_bounded_too() {
        let policy = CachePolicy {
            default: Duration::from_secs(10),
            ..POLICY
        };
        assert_eq!(policy.lifetime(&HeaderMap::new()), POLICY.min);
    }

    #[test]
    fn refresh_comes_at_80_to_90_percent() {
        let lifetime = Duration::from_secs(1000);
        for _ in 0..1000 {
            let delay = refresh_delay(lifetime);
            assert!(delay >= Duration::from_secs(800), "{delay:?}");
            assert!(delay < Duration::from_secs(900), "{delay:?}");
        }
        let a = unit_random();
        assert!((0.0..1.0).contains(&a));
        assert!((0..10).any(|_| unit_random() != a), "not random");
    }
}
