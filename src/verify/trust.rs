//! [`IssuerConfig`]: one issuer's keys and rules as configured, and [`Trust`]:
//! the same, checked and ready.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::Algorithm;
use jsonwebtoken::crypto::CryptoProvider;

use super::introspect::Introspect;
use super::key_source::{KeyFeed, KeySource, OpenFeed};
use super::prepare::{StaticEntries, key_entries};
use crate::error::ConfigError;
use crate::key::Key;

/// One issuer's keys and rules, as configured: the builder's own, for a layer
/// configured directly, or one [`TrustedIssuer`](crate::TrustedIssuer)'s.
#[derive(Debug, Clone, Default)]
pub(crate) struct IssuerConfig {
    /// The accepted `iss` values; empty for any.
    pub(crate) issuers: Vec<String>,
    pub(crate) keys: Vec<Key>,
    pub(crate) audiences: Vec<String>,
    /// `None`: those of the keys (or the feed's default).
    pub(crate) algorithms: Option<Vec<Algorithm>>,
    /// Keys that come from elsewhere, instead of `keys`.
    pub(crate) feed: Option<Arc<dyn KeyFeed>>,
    /// Where this issuer's opaque tokens are introspected; with it, the
    /// issuer needs no keys (then it accepts no JWT).
    pub(crate) introspection: Option<Arc<dyn Introspect>>,
}

impl IssuerConfig {
    /// The builder method of the first setting made, if any: a layer with
    /// trusted issuers must not have its own.
    pub(crate) fn first_setting(&self) -> Option<&'static str> {
        [
            (!self.keys.is_empty()).then_some("key"),
            (!self.issuers.is_empty()).then_some("issuer"),
            (!self.audiences.is_empty()).then_some("audience"),
            self.algorithms.is_some().then_some("algorithms"),
            self.feed.as_ref().map(|feed| feed.setting()),
            self.introspection.is_some().then_some("introspection"),
        ]
        .into_iter()
        .flatten()
        .next()
    }
}

/// The keys and rules for tokens of one issuer (or, in a layer configured
/// with keys directly, of every accepted issuer), checked and ready.
pub(crate) struct Trust {
    /// The accepted `iss` values; empty for "any".
    pub(super) issuers: Vec<String>,
    pub(super) audiences: Vec<String>,
    /// The algorithms its tokens may use: those of its static keys, or of its
    /// feed.
    pub(super) algorithms: Vec<Algorithm>,
    pub(super) keys: KeySource,
    /// Static keys left out because they fit none of the allowed algorithms.
    pub(super) skipped_keys: usize,
}

impl Trust {
    /// Checks `config` and prepares its keys for `provider`.
    ///
    /// # Errors
    ///
    /// Static keys and a feed together ([`ConfigError::KeysAndKeySet`]); the
    /// errors of the static keys ([`key_entries`]) or of the feed; an empty
    /// issuer or audience.
    pub(super) fn new(
        provider: &'static CryptoProvider,
        config: IssuerConfig,
    ) -> Result<Self, ConfigError> {
        let IssuerConfig {
            issuers,
            keys,
            audiences,
            algorithms,
            feed,
            introspection,
        } = config;
        let mut skipped_keys = 0;
        let (algorithms, keys) = match feed {
            Some(_) if !keys.is_empty() => return Err(ConfigError::KeysAndKeySet),
            // An issuer of opaque tokens only: every JWT names an algorithm
            // it does not allow.
            None if keys.is_empty() && introspection.is_some() => {
                (Vec::new(), KeySource::Static(Vec::new()))
            }
            Some(feed) => {
                let OpenFeed { algorithms, keys } = feed.open(provider, algorithms)?;
                (algorithms, KeySource::Dynamic(keys))
            }
            None => {
                let StaticEntries { entries, skipped } =
                    key_entries(provider, keys, algorithms.as_deref())?;
                skipped_keys = skipped;
                let mut algorithms = Vec::new();
                for entry in &entries {
                    if !algorithms.contains(&entry.algorithm) {
                        algorithms.push(entry.algorithm);
                    }
                }
                (algorithms, KeySource::Static(entries))
            }
        };
        for (values, setting) in [(&issuers, "issuer"), (&audiences, "audience")] {
            if values.iter().any(String::is_empty) {
                return Err(ConfigError::Empty { setting });
            }
        }
        Ok(Self {
            issuers,
            audiences,
            algorithms,
            keys,
            skipped_keys,
        })
    }
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust")
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("algorithms", &self.algorithms)
            .field("keys", &self.keys.len())
            .field("skipped_keys", &self.skipped_keys)
            .finish()
    }
}
