//! [`Budget`]: how many fetches tokens with unknown key ids may still start.
//!
//! A token bucket of its own for those fetches alone: the first fetch, the
//! background refresh and [`RemoteKeySet::refresh`](super::RemoteKeySet::refresh)
//! never spend it. So a key published a moment after any fetch is fetched by
//! the first token that names it, while a flood of made-up key ids starts at
//! most `burst` fetches at once and then one per interval.

use std::time::Duration;

use tokio::time::Instant;

/// The fetches left for unknown key ids, refilled one per `interval` up to
/// `burst`.
#[derive(Debug)]
pub(super) struct Budget {
    burst: u32,
    interval: Duration,
    available: u32,
    /// The instant from which the next fetch is earned.
    refilled_at: Instant,
}

impl Budget {
    /// A full budget.
    pub(super) fn new(burst: u32, interval: Duration, now: Instant) -> Self {
        Self {
            burst,
            interval,
            available: burst,
            refilled_at: now,
        }
    }

    /// Spends one fetch if there is one at `now`; a zero interval never runs
    /// out.
    pub(super) fn spend(&mut self, now: Instant) -> bool {
        if self.interval.is_zero() {
            return true;
        }
        if self.available < self.burst {
            let since = now.saturating_duration_since(self.refilled_at);
            let earned = since.as_nanos() / self.interval.as_nanos();
            if earned > 0 {
                let earned = u32::try_from(earned).unwrap_or(u32::MAX);
                self.available = self.available.saturating_add(earned).min(self.burst);
                // Whole intervals only, so that none of the time is lost.
                self.refilled_at = if self.available == self.burst {
                    now
                } else {
                    self.refilled_at + self.interval * earned
                };
            }
        } else {
            // Full: a fetch spent now is earned back one interval from now.
            self.refilled_at = now;
        }
        if self.available == 0 {
            return false;
        }
        self.available -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_full_budget_spends_its_burst_then_one_per_interval() {
        let start = Instant::now();
        let mut budget = Budget::new(2, 30 * SECOND, start);
        assert!(budget.spend(start));
        assert!(budget.spend(start + SECOND));
        assert!(!budget.spend(start + 2 * SECOND), "the burst is spent");
        assert!(!budget.spend(start + 29 * SECOND));
        assert!(budget.spend(start + 30 * SECOND), "one earned back");
        assert!(!budget.spend(start + 31 * SECOND));
        assert!(budget.spend(start + 60 * SECOND));
    }

    #[test]
    fn a_quiet_time_refills_up_to_the_burst_and_no_further() {
        let start = Instant::now();
        let mut budget = Budget::new(2, 30 * SECOND, start);
        assert!(budget.spend(start) && budget.spend(start));
        let later = start + 3600 * SECOND;
        assert!(budget.spend(later) && budget.spend(later));
        assert!(!budget.spend(later), "two, not 120");
    }

    #[test]
    fn over_any_window_a_flood_gets_the_burst_plus_one_per_interval() {
        let start = Instant::now();
        let interval = 10 * SECOND;
        let mut budget = Budget::new(3, interval, start);
        // A request every 100 ms for five minutes.
        let spent = (0..3000)
            .filter(|i| budget.spend(start + Duration::from_millis(100 * i)))
            .count();
        assert_eq!(spent, 3 + 299 / 10, "{spent}");
    }

    #[test]
    fn a_zero_interval_never_runs_out() {
        let start = Instant::now();
        let mut budget = Budget::new(1, Duration::ZERO, start);
        assert!((0..100).all(|_| budget.spend(start)));
    }
}
