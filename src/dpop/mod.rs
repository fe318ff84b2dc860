//! DPoP, resource-server side (RFC 9449): tokens bound to a key the client
//! proves it holds, with each request.
//!
//! A DPoP-bound access token carries the thumbprint of the client's public key
//! in `cnf.jkt`. The client sends it as `Authorization: DPoP <token>`, with a
//! `DPoP` header holding a *proof*: a short-lived JWT signed by that key,
//! naming the request's method (`htm`) and URL (`htu`), the time (`iat`), a
//! unique id (`jti`) and the hash of the access token (`ath`). A token copied
//! from a log or a proxy is useless without the private key.
//!
//! [`Dpop`] is the configuration; [`JwtAuthBuilder::dpop`](crate::JwtAuthBuilder::dpop)
//! plugs it into a layer as a check after verification (`check.rs`). The
//! parts, each in its own file:
//!
//! - `proof.rs`: one proof, parsed and verified (RFC 9449 §4.3);
//! - `target.rs`: the URL a proof must name, and its normal form
//!   (RFC 3986 §6);
//! - `nonce.rs`: [`DpopNonces`], the server's nonces (RFC 9449 §9);
//! - `replay.rs`: [`ReplayStore`], proof ids seen once (RFC 9449 §11.1), in
//!   memory ([`MemoryReplays`]) or, with the `redis` feature, in Redis
//!   (`replay_redis.rs`).

mod check;
mod nonce;
mod proof;
mod replay;
#[cfg(feature = "redis")]
mod replay_redis;
mod target;

use std::fmt;
use std::time::Duration;

use jsonwebtoken::Algorithm;

pub(crate) use self::check::DpopCheck;
pub use self::nonce::{DEFAULT_NONCE_ROTATION, DpopNonces};
pub use self::replay::{
    DEFAULT_REPLAY_CAPACITY, DEFAULT_REPLAY_TIMEOUT, MemoryReplays, ReplayAnswer, ReplayCheck,
    ReplayError, ReplayFuture, ReplayStore,
};
#[cfg(feature = "redis")]
pub use self::replay_redis::RedisReplays;
use crate::error::{AuthScheme, Challenge};
use crate::peer::TrustedProxies;

/// The default age a proof may have: 60 seconds after its `iat`.
pub const DEFAULT_PROOF_MAX_AGE: Duration = Duration::from_secs(60);

/// The default tolerance for a proof made by a clock ahead of the server's:
/// 5 seconds.
pub const DEFAULT_PROOF_CLOCK_SKEW: Duration = Duration::from_secs(5);

/// The default largest proof read: 8 KiB.
pub const DEFAULT_MAX_PROOF_LENGTH: usize = 8 * 1024;

/// Whether a layer (or a trusted issuer) takes DPoP-bound tokens.
///
/// Whatever the mode, a DPoP-bound token (one whose `cnf` has `jkt`) sent as
/// a bearer token is refused (RFC 9449 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DpopMode {
    /// No DPoP: bearer tokens only; `Authorization: DPoP` is not a token of
    /// this layer (for a trusted issuer: refused).
    Off,
    /// Bearer tokens, and DPoP-bound tokens with their proofs.
    Allowed,
    /// DPoP-bound tokens with their proofs only; a bearer token is refused
    /// ([`AuthErrorKind::DpopRequired`](crate::AuthErrorKind::DpopRequired)).
    Required,
}

/// How a layer checks DPoP proofs (RFC 9449), for
/// [`JwtAuthBuilder::dpop`](crate::JwtAuthBuilder::dpop).
///
/// A DPoP-bound access token carries the thumbprint of the client's public
/// key in `cnf.jkt`. The client sends it as `Authorization: DPoP <token>`,
/// with a `DPoP` header holding a *proof*: a short-lived JWT signed by that
/// key, naming the request's method (`htm`) and URL (`htu`), the time
/// (`iat`), a unique id (`jti`) and the hash of the access token (`ath`). A
/// token copied from a log or a proxy is useless without the private key; a
/// proof copied with it is refused the second time.
///
/// ```
/// use std::time::Duration;
/// use jsonwebtoken::Algorithm;
/// use tower_jwt_auth::{Dpop, JwtAuthLayer, Key};
///
/// let layer = JwtAuthLayer::<serde_json::Value>::builder()
///     .key(Key::hmac(b"an example secret of 32 bytes...."))
///     .dpop(
///         Dpop::required()
///             .algorithms([Algorithm::ES256, Algorithm::EdDSA])
///             .public_url("https://api.example.com")
///             .proof_max_age(Duration::from_secs(30)),
///     )
///     .build()?;
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct Dpop {
    pub(crate) mode: DpopMode,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) max_age: Duration,
    pub(crate) skew: Duration,
    pub(crate) max_length: usize,
    pub(crate) public_url: Option<String>,
    pub(crate) trusted_proxies: Option<TrustedProxies>,
    pub(crate) nonces: Option<DpopNonces>,
    pub(crate) replay: ReplayCheck,
}

impl Dpop {
    fn with_mode(mode: DpopMode) -> Self {
        Self {
            mode,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            max_age: DEFAULT_PROOF_MAX_AGE,
            skew: DEFAULT_PROOF_CLOCK_SKEW,
            max_length: DEFAULT_MAX_PROOF_LENGTH,
            public_url: None,
            trusted_proxies: None,
            nonces: None,
            replay: ReplayCheck::default(),
        }
    }

    /// Bearer tokens and DPoP-bound tokens ([`DpopMode::Allowed`]): for an
    /// API moving its clients to DPoP.
    pub fn allowed() -> Self {
        Self::with_mode(DpopMode::Allowed)
    }

    /// DPoP-bound tokens only ([`DpopMode::Required`]).
    pub fn required() -> Self {
        Self::with_mode(DpopMode::Required)
    }

    /// The algorithms a proof may be signed with (the `algs` of the
    /// challenge). Asymmetric ones only: an HMAC algorithm fails the build.
    /// By default ES256, ES384, EdDSA, PS256, PS384, PS512, RS256, RS384 and
    /// RS512.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How old a proof may be: its `iat` no earlier than this before now.
    /// Default [`DEFAULT_PROOF_MAX_AGE`], 60 s; whole seconds, at least one
    /// (less fails the build). Every proof id is remembered
    /// this long (plus the skew) by the replay store, so a longer window costs
    /// memory in proportion.
    pub fn proof_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// How far in the future a proof's `iat` may be (a client clock ahead of
    /// the server's). Default [`DEFAULT_PROOF_CLOCK_SKEW`], 5 s.
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// The largest proof read, in bytes; longer ones are refused unread.
    /// Default [`DEFAULT_MAX_PROOF_LENGTH`], 8 KiB.
    pub fn max_proof_length(mut self, bytes: usize) -> Self {
        self.max_length = bytes;
        self
    }

    /// The URL clients call this API by, such as
    /// `https://api.example.com` or `https://example.com/api` (a path prefix
    /// that a proxy strips before the request reaches this server): a proof's
    /// `htu` must be this URL followed by the request's path.
    ///
    /// **Set it behind any proxy or TLS terminator.** Without it, the URL is
    /// taken from the request itself: the `https` or `http` of an absolute
    /// request URI (HTTP/2), else `http`, and the host from the URI or the
    /// `Host` header. That is right only for a server that clients reach
    /// directly over plain HTTP; behind TLS termination every proof names
    /// `https://` and is refused. Checked when the layer is built.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// Takes the URL clients used from the `Forwarded` (RFC 7239) or
    /// `X-Forwarded-Proto` / `X-Forwarded-Host` headers, but only of
    /// requests whose peer (see [`PeerAddr`](crate::PeerAddr)) is one of
    /// `proxies`; from any other peer those headers are ignored.
    ///
    /// **These headers are whatever the client wrote unless a proxy you run
    /// replaced them**: trust only proxies that overwrite them. A
    /// [`public_url`](Self::public_url) is simpler and safer where the URL is
    /// fixed, and wins when both are set.
    pub fn forwarded_from(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = Some(proxies);
        self
    }

    /// Requires a nonce of this server's in every proof (RFC 9449 §9): a
    /// proof without one, or with one too old, is answered `401
    /// use_dpop_nonce` with a fresh nonce in `DPoP-Nonce`, which the client
    /// puts into its next proof. Nonces bound how long a proof made in advance
    /// (by malware on the client, say) stays usable.
    pub fn nonces(mut self, nonces: DpopNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// Where proof ids are remembered, to refuse a proof used twice, and
    /// what happens when that store cannot answer. By default a
    /// [`MemoryReplays`] of this layer: enough for one server. A fleet
    /// behind a load balancer must share one (`RedisReplays`, feature
    /// `redis`), or a proof captured on its way to one server can be played
    /// to another.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::{Dpop, MemoryReplays, ReplayCheck};
    ///
    /// let dpop = Dpop::allowed().replay(
    ///     ReplayCheck::memory(MemoryReplays::with_capacity(1_000_000))
    ///         .timeout(Duration::from_millis(50))
    ///         .fail_open(false),
    /// );
    /// # let _ = dpop;
    /// ```
    pub fn replay(mut self, replay: ReplayCheck) -> Self {
        self.replay = replay;
        self
    }
}

impl Dpop {
    /// What the challenges of a layer with this DPoP configuration (and
    /// these trusted issuers' own modes) offer: `Bearer` unless every mode
    /// requires DPoP, and `DPoP` with the algorithms unless every mode is
    /// off.
    pub(crate) fn challenge(&self, by_issuer: &[(String, DpopMode)]) -> Challenge {
        let modes = || std::iter::once(self.mode).chain(by_issuer.iter().map(|(_, mode)| *mode));
        // EdDSA with an Ed25519 key is also offered by its RFC 9864 name,
        // which proofs may carry instead.
        let algorithms = self
            .algorithms
            .iter()
            .flat_map(|algorithm| match algorithm {
                Algorithm::EdDSA => vec!["EdDSA".to_owned(), "Ed25519".to_owned()],
                other => vec![format!("{other:?}")],
            })
            .collect::<Vec<_>>()
            .join(" ");
        Challenge {
            scheme: AuthScheme::Bearer,
            bearer: modes().any(|mode| mode != DpopMode::Required),
            dpop_algorithms: modes()
                .any(|mode| mode != DpopMode::Off)
                .then(|| algorithms.into()),
            dpop_nonce: None,
            resource_metadata: None,
        }
    }
}

/// The proof algorithms accepted unless configured: every asymmetric one.
const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
];

impl fmt::Debug for Dpop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dpop")
            .field("mode", &self.mode)
            .field("algorithms", &self.algorithms)
            .field("max_age", &self.max_age)
            .field("skew", &self.skew)
            .field("max_length", &self.max_length)
            .field("public_url", &self.public_url)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("nonces", &self.nonces)
            .field("replay", &self.replay)
            .finish()
    }
}
