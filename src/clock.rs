//! Where "now" comes from, so that expiry can be tested without sleeping.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The default clock-skew leeway for `exp` and `nbf`: 60 seconds.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// A source of the current time, in seconds since the Unix epoch.
///
/// [`SystemClock`] is the default. Any `Fn() -> u64` closure is a clock too,
/// which is how tests move time forward:
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let now = Arc::new(AtomicU64::new(1_700_000_000));
/// let clock = { let now = now.clone(); move || now.load(Ordering::Relaxed) };
/// # let _ = tower_jwt_auth::JwtAuthLayer::<serde_json::Value>::builder().clock(clock);
/// now.fetch_add(3600, Ordering::Relaxed); // an hour later
/// ```
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        // A clock set before 1970 is treated as 1970: every token with an `exp`
        // still verifies against a sane value instead of panicking.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

impl<F> Clock for F
where
    F: Fn() -> u64 + Send + Sync + 'static,
{
    fn now(&self) -> u64 {
        self()
    }
}

pub(crate) struct DebugClock<'a>(pub(crate) &'a dyn Clock);

impl fmt::Debug for DebugClock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock(now = {})", self.0.now())
    }
}

/// A clock shared by the configuration, printed by `Debug` as its reading.
#[derive(Clone)]
pub(crate) struct SharedClock(Arc<dyn Clock>);

impl SharedClock {
    pub(crate) fn new(clock: impl Clock) -> Self {
        Self(Arc::new(clock))
    }

    pub(crate) fn now(&self) -> u64 {
        self.0.now()
    }
}

impl Default for SharedClock {
    fn default() -> Self {
        Self::new(SystemClock)
    }
}

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        DebugClock(&*self.0).fmt(f)
    }
}
