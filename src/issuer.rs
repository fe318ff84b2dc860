//! [`TrustedIssuer`]: one of several issuers a layer accepts tokens from.

use jsonwebtoken::Algorithm;

use crate::dpop::DpopMode;
use crate::key::{Key, KeySet};
use crate::verify::IssuerConfig;

/// One issuer whose tokens a layer accepts, with its own keys, audiences and
/// algorithms, as Envoy's `jwt_authn` providers.
///
/// A layer with trusted issuers reads the token's `iss` claim first, *before*
/// verifying anything, only to choose the issuer; the token is then verified
/// with that issuer's keys and rules alone, so a key of one issuer can never
/// vouch for a token that names another. A token without `iss`, or naming an
/// issuer that is not trusted, is refused.
///
/// ```
/// use tower_jwt_auth::{JwtAuthLayer, Key, TrustedIssuer};
///
/// let layer = JwtAuthLayer::<serde_json::Value>::builder()
///     .trusted_issuer(
///         TrustedIssuer::new("https://login.example.com")
///             .key(Key::hmac(b"the first issuer's 32-byte secret"))
///             .audience("orders-api"),
///     )
///     .trusted_issuer(
///         TrustedIssuer::new("https://partners.example.org")
///             .key(Key::hmac(b"the second issuer's 32-byte secret"))
///             .audience("orders-api"),
///     )
///     .build()?;
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
///
/// The settings mean what the builder's of the same name mean
/// ([`JwtAuthBuilder::key`](crate::JwtAuthBuilder::key) and the following),
/// for this issuer's tokens only.
#[derive(Debug, Clone)]
#[must_use]
pub struct TrustedIssuer {
    pub(crate) config: IssuerConfig,
    /// This issuer's DPoP mode, when it differs from the layer's.
    pub(crate) dpop: Option<DpopMode>,
}

impl TrustedIssuer {
    /// An issuer, named exactly as its tokens' `iss` claim names it.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            config: IssuerConfig {
                issuers: vec![issuer.into()],
                ..IssuerConfig::default()
            },
            dpop: None,
        }
    }

    /// Whether this issuer's tokens are taken with DPoP, when it differs
    /// from the layer's [`Dpop`](crate::Dpop) mode: an issuer that binds all
    /// its tokens can require DPoP while another's bearer tokens stay
    /// accepted. Needs [`JwtAuthBuilder::dpop`](crate::JwtAuthBuilder::dpop)
    /// on the layer (the proof rules are the layer's), else the build fails
    /// with [`ConfigError::NeedsSetting`](crate::ConfigError::NeedsSetting).
    pub fn dpop(mut self, mode: DpopMode) -> Self {
        self.dpop = Some(mode);
        self
    }

    /// Adds a verification key of this issuer.
    pub fn key(mut self, key: Key) -> Self {
        self.config.keys.push(key);
        self
    }

    /// Adds several keys of this issuer.
    pub fn keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.config.keys.extend(keys);
        self
    }

    /// Adds every usable key of a JWK Set of this issuer.
    pub fn key_set(self, set: KeySet) -> Self {
        self.keys(set)
    }

    /// Takes this issuer's keys from a remote JWK Set (instead of static
    /// keys); see [`JwtAuthBuilder::jwks`](crate::JwtAuthBuilder::jwks).
    #[cfg(feature = "remote-jwks")]
    pub fn jwks(mut self, keys: crate::RemoteKeySet) -> Self {
        self.config.feed = Some(std::sync::Arc::new(keys));
        self
    }

    /// Takes this issuer's keys from files read again while the layer runs
    /// (instead of static keys); see
    /// [`JwtAuthBuilder::key_files`](crate::JwtAuthBuilder::key_files).
    #[cfg(feature = "key-files")]
    pub fn key_files(mut self, keys: crate::KeyFiles) -> Self {
        self.config.feed = Some(std::sync::Arc::new(keys));
        self
    }

    /// Takes this issuer's keys from a [`KeyRing`](crate::KeyRing) of this
    /// process (instead of static keys); see
    /// [`JwtAuthBuilder::key_ring`](crate::JwtAuthBuilder::key_ring).
    pub fn key_ring(mut self, ring: crate::KeyRing) -> Self {
        self.config.feed = Some(std::sync::Arc::new(ring));
        self
    }

    /// Introspects this issuer's opaque tokens (RFC 7662); see
    /// [`JwtAuthBuilder::introspection`](crate::JwtAuthBuilder::introspection).
    /// With it, the issuer needs no keys (it then accepts no JWT).
    ///
    /// An opaque token names no issuer, so at most one trusted issuer may
    /// introspect: every token that is not a JWS compact serialization goes
    /// to it, and [`build`](crate::JwtAuthBuilder::build) fails with
    /// [`ConfigError::TooMany`](crate::ConfigError::TooMany) when two do. An
    /// `iss` in its introspection responses must be this issuer's name.
    #[cfg(feature = "introspection")]
    pub fn introspection(mut self, introspection: crate::Introspection) -> Self {
        self.config.introspection = Some(std::sync::Arc::new(introspection));
        self
    }

    /// Accepts this issuer's tokens for this audience; call again for several.
    /// Once set, `aud` must be present and name one of them.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.config.audiences.push(audience.into());
        self
    }

    /// Restricts the algorithms of this issuer's tokens (by default, those of
    /// its keys).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.config.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// The issuer's name.
    pub fn issuer(&self) -> &str {
        self.config.issuers.first().map_or("", String::as_str)
    }
}
