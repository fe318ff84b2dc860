//! [`TokenIssuer`]: signs tokens for a login endpoint.
//!
//! - `signing_key`: [`SigningKey`], a private key with its public JWK and `kid`;
//! - `ring`: [`KeyRing`], the next, current and retired keys of an issuer
//!   that rotates them, and the timing rules that make rotations invisible;
//! - `jwks`: [`JwkSetService`], the ring's public JWK Set over HTTP;
//! - `feed`: the ring as the verifier's source of keys, for a service that
//!   verifies its own tokens (`JwtAuthBuilder::key_ring`).

mod feed;
mod jwks;
mod ring;
mod signing_key;

pub use jwks::JwkSetService;
pub use ring::{DEFAULT_JWKS_MAX_AGE, KeyRing, KeyRingBuilder, RotateError};
pub use signing_key::SigningKey;

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::clock::{Clock, DebugClock, SystemClock};
use crate::crypto;
use crate::error::ConfigError;
use crate::key::hmac_minimum;

/// Signs the application's claims into a token with a time to live: the Rust form
/// of the classic `create_token(payload, timeout)`.
///
/// Every token gets `iat` (now) and `exp` (now + TTL), and `iss`, `aud` and a
/// unique `jti` when configured; these override claims of the same name in the
/// application's payload. The header is `{"alg": …, "typ": "JWT"}`, plus `kid`
/// when set.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::TokenIssuer;
///
/// let issuer = TokenIssuer::hmac(b"a secret of at least 32 bytes....")
///     .ttl(Duration::from_secs(60))
///     .issuer("https://login.example")
///     .build()?;
/// let token = issuer.issue(&serde_json::json!({ "sub": "ada" }))?;
/// assert_eq!(token.split('.').count(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TokenIssuer {
    inner: Arc<Settings>,
    provider: &'static CryptoProvider,
}

struct Settings {
    keys: Keys,
    /// [`TokenIssuer::hmac_legacy_short_secret`]: no length rule.
    legacy_short_secret: bool,
    kid: Option<String>,
    ttl: Duration,
    issuer: Option<String>,
    audiences: Vec<String>,
    jti: bool,
    clock: Arc<dyn Clock>,
    provider: Option<&'static CryptoProvider>,
}

/// What an issuer signs with.
enum Keys {
    /// One key, for its lifetime.
    One {
        key: EncodingKey,
        algorithm: Algorithm,
    },
    /// The current key of a ring, whichever it is at each token.
    Ring(KeyRing),
}

/// Configures a [`TokenIssuer`].
#[must_use]
pub struct TokenIssuerBuilder {
    settings: Settings,
}

/// Why a token could not be issued.
#[derive(Debug)]
#[non_exhaustive]
pub enum IssueError {
    /// The claims do not serialize to a JSON object.
    Claims(serde_json::Error),
    /// The claims serialized to something other than a JSON object.
    NotAnObject,
    /// The signature failed (a key that does not fit its algorithm).
    Signing(jsonwebtoken::errors::Error),
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Claims(e) => write!(f, "claims do not serialize: {e}"),
            Self::NotAnObject => f.write_str("claims are not a JSON object"),
            Self::Signing(e) => write!(f, "signing failed: {e}"),
        }
    }
}

impl std::error::Error for IssueError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Claims(e) => Some(e),
            Self::Signing(e) => Some(e),
            Self::NotAnObject => None,
        }
    }
}

/// A token and the CSRF value inside it, from [`TokenIssuer::issue_with_csrf`].
#[derive(Clone)]
pub struct IssuedToken {
    /// The signed token.
    pub token: String,
    /// The value of its `csrf` claim, for the client to send back.
    pub csrf: String,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[redacted]")
            .field("csrf", &"[redacted]")
            .finish()
    }
}

/// The default time to live: 15 minutes.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);

impl TokenIssuer {
    /// Signs with an HMAC secret and `HS256`. The secret must have at least
    /// 32 bytes (RFC 7518 §3.2, as for [`Key::hmac`](crate::Key::hmac)):
    /// [`build`](TokenIssuerBuilder::build) refuses a shorter one with
    /// [`ConfigError::ShortHmacSecret`].
    pub fn hmac(secret: impl AsRef<[u8]>) -> TokenIssuerBuilder {
        Self::builder(EncodingKey::from_secret(secret.as_ref()), Algorithm::HS256)
    }

    /// **Dangerous:** signs with an HMAC secret of any length and `HS256`, for
    /// a legacy secret that the verifiers of these tokens still use; see
    /// [`Key::hmac_legacy_short_secret`](crate::Key::hmac_legacy_short_secret)
    /// for the risk. Rotate to a random secret of 32 bytes or more.
    pub fn hmac_legacy_short_secret(secret: impl AsRef<[u8]>) -> TokenIssuerBuilder {
        let mut builder = Self::hmac(secret);
        builder.settings.legacy_short_secret = true;
        builder
    }

    /// Signs with `key` and `algorithm` (an RSA, EC or Ed25519 private key from
    /// `jsonwebtoken::EncodingKey`, or an HMAC secret at least as long as the
    /// algorithm's hash output: 32 bytes for `HS256`, 48 for `HS384`, 64 for
    /// `HS512`).
    pub fn builder(key: EncodingKey, algorithm: Algorithm) -> TokenIssuerBuilder {
        Self::with_keys(Keys::One { key, algorithm })
    }

    /// Signs with the current key of `ring`: each token's header names the
    /// key's algorithm and `kid` (a [`kid`](TokenIssuerBuilder::kid) set on
    /// the builder is not used), and a [`KeyRing::rotate`] applies from the
    /// next token on. Serve the ring's public keys with
    /// [`KeyRing::jwk_set_service`].
    ///
    /// ```
    /// use jsonwebtoken::Algorithm;
    /// use tower_jwt_auth::{KeyRing, SigningKey, TokenIssuer};
    ///
    /// # let pem = || rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap().serialize_pem();
    /// let key = |pem: String| SigningKey::from_pem(Algorithm::EdDSA, pem.as_bytes());
    /// let ring = KeyRing::builder(key(pem())?, key(pem())?).build();
    /// let issuer = TokenIssuer::key_ring(ring.clone()).issuer("https://login.example").build()?;
    /// let token = issuer.issue(&serde_json::json!({ "sub": "ada" }))?;
    /// let header = jsonwebtoken::decode_header(&token)?;
    /// assert_eq!(header.kid.as_deref(), Some(ring.current_kid().as_str()));
    /// assert_eq!(header.alg, Algorithm::EdDSA);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn key_ring(ring: KeyRing) -> TokenIssuerBuilder {
        Self::with_keys(Keys::Ring(ring))
    }

    fn with_keys(keys: Keys) -> TokenIssuerBuilder {
        TokenIssuerBuilder {
            settings: Settings {
                keys,
                legacy_short_secret: false,
                kid: None,
                ttl: DEFAULT_TTL,
                issuer: None,
                audiences: Vec::new(),
                jti: false,
                clock: Arc::new(SystemClock),
                provider: None,
            },
        }
    }

    /// Signs `claims` with the configured time to live.
    ///
    /// # Errors
    ///
    /// [`IssueError`] when the claims are not a JSON object.
    pub fn issue<T: Serialize + ?Sized>(&self, claims: &T) -> Result<String, IssueError> {
        self.issue_with_ttl(claims, self.inner.ttl)
    }

    /// Signs `claims` with a time to live of `ttl`.
    ///
    /// # Errors
    ///
    /// [`IssueError`] when the claims are not a JSON object.
    pub fn issue_with_ttl<T: Serialize + ?Sized>(
        &self,
        claims: &T,
        ttl: Duration,
    ) -> Result<String, IssueError> {
        self.sign(&self.claims(claims, ttl)?)
    }

    /// Signs `claims` with a fresh CSRF value in the claim `csrf` (see
    /// [`CsrfPolicy::double_submit`](crate::CsrfPolicy::double_submit)), and
    /// hands the value back: put the token in an `HttpOnly` cookie and give the
    /// value to the page, which sends it back in the `X-CSRF-Token` header.
    ///
    /// # Errors
    ///
    /// [`IssueError`] when the claims are not a JSON object.
    pub fn issue_with_csrf<T: Serialize + ?Sized>(
        &self,
        claims: &T,
    ) -> Result<IssuedToken, IssueError> {
        let mut map = self.claims(claims, self.inner.ttl)?;
        let csrf = random_hex();
        map.insert(crate::csrf::DEFAULT_CSRF_CLAIM.into(), csrf.as_str().into());
        Ok(IssuedToken {
            token: self.sign(&map)?,
            csrf,
        })
    }

    /// The application's claims with the registered ones added.
    fn claims<T: Serialize + ?Sized>(
        &self,
        claims: &T,
        ttl: Duration,
    ) -> Result<Map<String, Value>, IssueError> {
        let s = &*self.inner;
        let Value::Object(mut map) = serde_json::to_value(claims).map_err(IssueError::Claims)?
        else {
            return Err(IssueError::NotAnObject);
        };
        let now = s.clock.now();
        map.insert("iat".into(), now.into());
        map.insert("exp".into(), now.saturating_add(ttl.as_secs()).into());
        if let Some(issuer) = &s.issuer {
            map.insert("iss".into(), issuer.as_str().into());
        }
        match s.audiences.as_slice() {
            [] => {}
            [one] => {
                map.insert("aud".into(), one.as_str().into());
            }
            many => {
                map.insert("aud".into(), many.into());
            }
        }
        if s.jti {
            map.insert("jti".into(), random_hex().into());
        }
        Ok(map)
    }

    fn sign(&self, claims: &Map<String, Value>) -> Result<String, IssueError> {
        let s = &*self.inner;
        // The ring's current key, held for this token even if the ring
        // rotates meanwhile; it learns the `exp` first, so that it stays
        // published until this token has expired.
        let ring_key;
        let (key, algorithm, kid) = match &s.keys {
            Keys::One { key, algorithm } => (key, *algorithm, s.kid.as_deref()),
            Keys::Ring(ring) => {
                ring_key = ring.current();
                let exp = claims.get("exp").and_then(Value::as_u64);
                ring_key.signs_until(exp.unwrap_or(u64::MAX));
                let signing = &ring_key.key;
                (
                    signing.encoding_key(),
                    signing.algorithm(),
                    Some(signing.kid()),
                )
            }
        };
        let mut header = Map::new();
        header.insert(
            "alg".into(),
            serde_json::to_value(algorithm).map_err(IssueError::Claims)?,
        );
        header.insert("typ".into(), "JWT".into());
        if let Some(kid) = kid {
            header.insert("kid".into(), kid.into());
        }
        let mut token = URL_SAFE_NO_PAD.encode(Value::Object(header).to_string());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(Value::Object(claims.clone()).to_string(), &mut token);
        let signer =
            (self.provider.signer_factory)(&algorithm, key).map_err(IssueError::Signing)?;
        let signature = signer.try_sign(token.as_bytes()).map_err(|e| {
            IssueError::Signing(jsonwebtoken::errors::ErrorKind::Signing(e.to_string()).into())
        })?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

/// 128 random bits in hex, for `jti` and CSRF values: from the operating
/// system's generator, through the crypto backend in use.
fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(feature = "aws-lc-rs")]
fn fill_random(bytes: &mut [u8]) {
    if aws_lc_rs::rand::fill(bytes).is_err() {
        fill_fallback(bytes);
    }
}

#[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
fn fill_random(bytes: &mut [u8]) {
    if getrandom::getrandom(bytes).is_err() {
        fill_fallback(bytes);
    }
}

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
fn fill_random(bytes: &mut [u8]) {
    // Without a backend no issuer can be built; this only keeps the build whole.
    fill_fallback(bytes);
}

/// Should the system generator ever fail: keyed SipHashes (randomly keyed per
/// process by the standard library) over a counter and the time. Unique, and
/// hard to guess from outside, though not a cryptographic generator.
#[cfg_attr(
    any(feature = "aws-lc-rs", feature = "rust-crypto"),
    allow(dead_code, reason = "used only if the system generator fails")
)]
fn fill_fallback(bytes: &mut [u8]) {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    for chunk in bytes.chunks_mut(8) {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u128(nanos);
        let word = h.finish().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

impl TokenIssuerBuilder {
    /// The time to live of issued tokens (default 15 minutes).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.settings.ttl = ttl;
        self
    }

    /// Sets `iss` on every token.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.settings.issuer = Some(issuer.into());
        self
    }

    /// Adds an audience to `aud` (a string for one, an array for several).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.settings.audiences.push(audience.into());
        self
    }

    /// Sets the `kid` header (not used with a [key ring](TokenIssuer::key_ring),
    /// whose keys name themselves).
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.settings.kid = Some(kid.into());
        self
    }

    /// Gives every token a unique `jti` (128 bits, hex), for revocation.
    pub fn jti(mut self, jti: bool) -> Self {
        self.settings.jti = jti;
        self
    }

    /// Where "now" comes from (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.settings.clock = Arc::new(clock);
        self
    }

    /// Uses this `jsonwebtoken` crypto provider instead of the one this crate's
    /// features select.
    pub fn crypto_provider(mut self, provider: &'static CryptoProvider) -> Self {
        self.settings.provider = Some(provider);
        self
    }

    /// Checks that the key can sign with the algorithm, and builds the issuer.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoCryptoProvider`] without a backend;
    /// [`ConfigError::AlgorithmMismatch`] when the key is not of the algorithm's
    /// family; [`ConfigError::ShortHmacSecret`] for an HMAC secret shorter
    /// than the algorithm's hash output; [`ConfigError::InvalidKey`] when the
    /// provider refuses the key.
    pub fn build(self) -> Result<TokenIssuer, ConfigError> {
        let s = self.settings;
        let provider = crypto::select(s.provider)?;
        let (key, algorithm) = match &s.keys {
            Keys::One { key, algorithm } => (key, *algorithm),
            // A ring's keys were checked when they were made; the provider
            // may be another one: check that it signs with the current key.
            Keys::Ring(ring) => {
                let current = ring.current();
                let signing = &current.key;
                (provider.signer_factory)(&signing.algorithm(), signing.encoding_key())
                    .map_err(ConfigError::InvalidKey)?;
                return Ok(TokenIssuer {
                    inner: Arc::new(s),
                    provider,
                });
            }
        };
        if key.family() != algorithm.family() {
            return Err(ConfigError::AlgorithmMismatch(format!(
                "{algorithm:?} cannot sign with a {:?} key",
                key.family()
            )));
        }
        if let Some(minimum) = hmac_minimum(algorithm)
            && !s.legacy_short_secret
            && key.as_bytes().len() < minimum
        {
            return Err(ConfigError::ShortHmacSecret {
                algorithm,
                length: key.as_bytes().len(),
                minimum,
            });
        }
        let signer = (provider.signer_factory)(&algorithm, key).map_err(ConfigError::InvalidKey)?;
        // A key that parses may still fail to sign (a truncated RSA key): find out now.
        signer.try_sign(b"tower-jwt-auth key check").map_err(|e| {
            ConfigError::InvalidKey(jsonwebtoken::errors::ErrorKind::Signing(e.to_string()).into())
        })?;
        Ok(TokenIssuer {
            inner: Arc::new(s),
            provider,
        })
    }
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &*self.inner;
        f.debug_struct("TokenIssuer")
            .field("keys", &s.keys)
            .field("legacy_short_secret", &s.legacy_short_secret)
            .field("kid", &s.kid)
            .field("ttl", &s.ttl)
            .field("issuer", &s.issuer)
            .field("audiences", &s.audiences)
            .field("jti", &s.jti)
            .field("clock", &DebugClock(&*s.clock))
            .finish()
    }
}

impl fmt::Debug for TokenIssuerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuerBuilder")
            .field("keys", &self.settings.keys)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::One { algorithm, .. } => f
                .debug_struct("One")
                .field("algorithm", algorithm)
                .field("key", &"[redacted]")
                .finish(),
            Self::Ring(ring) => f.debug_tuple("Ring").field(ring).finish(),
        }
    }
}
