//! [`Config`]: every setting of a remote JWK Set, with its default and its
//! range check; and [`Source`], where the keys come from once checked.

use std::time::Duration;

use super::backup::BackupStore;
use super::cache_policy::CachePolicy;
use super::egress::ProxySetting;
use super::error::{RemoteKeyError, RemoteKeyErrorKind};
use super::url::Target;

/// Every setting, checked.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(super) cache: CachePolicy,
    pub(super) unknown_kid_interval: Duration,
    pub(super) unknown_kid_burst: u32,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_document_size: usize,
    pub(super) max_keys: usize,
    pub(super) fail_fast: bool,
    pub(crate) allow_http: bool,
    pub(crate) root_certificates: Vec<Vec<u8>>,
    pub(crate) proxy: ProxySetting,
    /// Where the last good document is kept for a start while the provider
    /// is down, if anywhere.
    pub(super) backup: Option<BackupStore>,
    /// How long after the last good fetch keys are still used;
    /// `Duration::MAX`: forever.
    pub(super) max_staleness: Duration,
}

/// The default lower bound of a document's lifetime: 60 s.
const DEFAULT_MIN_AGE: Duration = Duration::from_secs(60);
/// The default upper bound of a document's lifetime: 24 h.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// The default lifetime of a document without a usable `max-age`: 5 min.
const DEFAULT_DEFAULT_AGE: Duration = Duration::from_secs(5 * 60);
/// The default maximum staleness: 24 h, as long as the longest lifetime a
/// document may have by default (see `RemoteKeySetBuilder::max_staleness`).
const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(24 * 60 * 60);

impl Default for Config {
    fn default() -> Self {
        Self {
            cache: CachePolicy {
                min: DEFAULT_MIN_AGE,
                max: DEFAULT_MAX_AGE,
                default: DEFAULT_DEFAULT_AGE,
            },
            unknown_kid_interval: Duration::from_secs(30),
            unknown_kid_burst: 2,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_document_size: 256 * 1024,
            max_keys: 64,
            fail_fast: true,
            allow_http: false,
            root_certificates: Vec::new(),
            proxy: ProxySetting::Environment,
            backup: None,
            max_staleness: DEFAULT_MAX_STALENESS,
        }
    }
}

impl Config {
    /// Refuses a setting out of range, with the setter's name.
    pub(crate) fn check(&self) -> Result<(), RemoteKeyError> {
        let invalid = |detail: &'static str| {
            Err(RemoteKeyError::new(
                RemoteKeyErrorKind::InvalidConfig,
                detail,
            ))
        };
        if self.cache.min < Duration::from_secs(1) {
            return invalid("cache_bounds: the minimum lifetime must be at least one second");
        }
        if self.cache.min > self.cache.max {
            return invalid("cache_bounds: the minimum lifetime is above the maximum");
        }
        if self.connect_timeout.is_zero() {
            return invalid("connect_timeout must not be zero");
        }
        if self.timeout.is_zero() {
            return invalid("timeout must not be zero");
        }
        if self.max_document_size == 0 {
            return invalid("max_document_size must not be zero");
        }
        if self.max_keys == 0 {
            return invalid("max_keys must not be zero");
        }
        if self.unknown_kid_burst == 0 {
            return invalid("unknown_kid_burst must not be zero");
        }
        if self.max_staleness < self.cache.min {
            return invalid(
                "max_staleness must be at least the minimum lifetime of cache_bounds \
                 (keys would be dropped before their refresh)",
            );
        }
        Ok(())
    }
}

/// Where keys come from, checked.
#[derive(Debug)]
pub(super) enum Source {
    Jwks(Target),
    /// The issuer, and the URLs where its metadata may be, in order.
    Discovery {
        issuer: String,
        urls: Vec<Target>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_out_of_range_are_refused() {
        let bad = [
            Config {
                cache: CachePolicy {
                    min: Duration::from_millis(500),
                    ..Config::default().cache
                },
                ..Config::default()
            },
            Config {
                cache: CachePolicy {
                    min: Duration::from_secs(120),
                    max: Duration::from_secs(60),
                    ..Config::default().cache
                },
                ..Config::default()
            },
            Config {
                timeout: Duration::ZERO,
                ..Config::default()
            },
            Config {
                connect_timeout: Duration::ZERO,
                ..Config::default()
            },
            Config {
                max_document_size: 0,
                ..Config::default()
            },
            Config {
                max_keys: 0,
                ..Config::default()
            },
            Config {
                unknown_kid_burst: 0,
                ..Config::default()
            },
            Config {
                max_staleness: Duration::from_secs(59),
                ..Config::default()
            },
        ];
        for config in bad {
            let error = config.check().unwrap_err();
            assert_eq!(
                error.kind(),
                RemoteKeyErrorKind::InvalidConfig,
                "{config:?}"
            );
        }
        Config::default().check().unwrap();
    }
}
