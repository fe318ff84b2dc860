//! Verification keys: one [`Key`], or a [`KeySet`] read from a JWK Set document.

use std::fmt;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};

use crate::ConfigError;

/// A key that verifies token signatures, with its optional `kid` and the
/// algorithms it may be used with.
///
/// The key's family is fixed when it is made: a key made with [`Key::rsa_pem`]
/// is an RSA public key and can never verify an `HS256` token, whatever the token
/// says. When no algorithm is pinned with [`Key::with_algorithm`], the key allows
/// every algorithm of its family (for EC keys, the one of its curve; for HMAC
/// secrets, those its length allows: see [`Key::hmac`]).
///
/// ```
/// use tower_jwt_auth::Key;
/// use jsonwebtoken::Algorithm;
///
/// let key = Key::hmac(b"a secret of at least 32 bytes....").with_kid("2024-01");
/// assert_eq!(key.kid(), Some("2024-01"));
/// assert_eq!(key.algorithms(), [Algorithm::HS256]);
/// let long = Key::hmac([7; 64]).with_algorithm(Algorithm::HS512);
/// assert_eq!(long.algorithms(), [Algorithm::HS512]);
/// ```
#[derive(Clone)]
pub struct Key {
    pub(crate) decoding: DecodingKey,
    pub(crate) kid: Option<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    /// [`Key::hmac_legacy_short_secret`]: no length rule for this secret.
    pub(crate) legacy_short_secret: bool,
}

/// Why a JWK of another curve cannot be used.
const UNSUPPORTED_CURVE: &str = "its curve is not P-256, P-384 or Ed25519";

fn invalid(e: jsonwebtoken::errors::Error) -> ConfigError {
    ConfigError::InvalidKey(e)
}

/// The shortest secret an HMAC algorithm may use: its hash's output, as
/// RFC 7518 §3.2 requires ("a key of the same size as the hash output ... or
/// larger MUST be used"). `None` for other algorithms.
pub(crate) fn hmac_minimum(algorithm: Algorithm) -> Option<usize> {
    match algorithm {
        Algorithm::HS256 => Some(32),
        Algorithm::HS384 => Some(48),
        Algorithm::HS512 => Some(64),
        _ => None,
    }
}

/// The length of an HMAC key's secret; `None` for other keys.
pub(crate) fn hmac_length(key: &DecodingKey) -> Option<usize> {
    match (key.family(), key.kind()) {
        (AlgorithmFamily::Hmac, DecodingKeyKind::SecretOrDer(secret)) => Some(secret.len()),
        _ => None,
    }
}

impl Key {
    /// A key allowing every algorithm of its family; an HMAC secret, those its
    /// length allows (HS256 alone for a secret too short for any, which the
    /// build then refuses).
    fn with_family(decoding: DecodingKey) -> Self {
        let mut algorithms = decoding.family().algorithms().to_vec();
        if let Some(length) = hmac_length(&decoding) {
            algorithms.retain(|&a| hmac_minimum(a).is_some_and(|minimum| length >= minimum));
            if algorithms.is_empty() {
                algorithms.push(Algorithm::HS256);
            }
        }
        Self {
            decoding,
            kid: None,
            algorithms,
            legacy_short_secret: false,
        }
    }

    /// An HMAC secret, taken as raw bytes. It allows the algorithms whose
    /// hash its length covers: `HS256` from 32 bytes, `HS384` from 48,
    /// `HS512` from 64 (RFC 7518 §3.2: the secret MUST be at least as long as
    /// the hash output).
    ///
    /// Building the layer refuses a secret shorter than 32 bytes, or one
    /// [pinned](Key::with_algorithm) to an algorithm its length does not
    /// cover, with [`ConfigError::ShortHmacSecret`]. A legacy secret that
    /// cannot be replaced yet goes in with [`Key::hmac_legacy_short_secret`].
    ///
    /// ```
    /// use jsonwebtoken::Algorithm;
    /// use tower_jwt_auth::{ConfigError, JwtAuthLayer, Key};
    ///
    /// assert_eq!(Key::hmac([1; 48]).algorithms(), [Algorithm::HS256, Algorithm::HS384]);
    /// let short = JwtAuthLayer::<serde_json::Value>::builder().key(Key::hmac("short")).build();
    /// assert!(matches!(
    ///     short,
    ///     Err(ConfigError::ShortHmacSecret { algorithm: Algorithm::HS256, length: 5, minimum: 32 })
    /// ));
    /// ```
    pub fn hmac(secret: impl AsRef<[u8]>) -> Self {
        Self::with_family(DecodingKey::from_secret(secret.as_ref()))
    }

    /// **Dangerous: an HMAC secret of any length**, allowing `HS256`, `HS384`
    /// and `HS512` whatever its length (only an empty secret is still
    /// refused).
    ///
    /// RFC 7518 §3.2 says a secret shorter than the hash output MUST NOT be
    /// used: a short secret, often a password, can be found by trying
    /// candidates offline against a single token, and then every token can
    /// be forged. This is for tokens signed with such a secret by a system
    /// that cannot be changed yet; rotate to a random secret of at least 32
    /// bytes (64 for `HS512`) as soon as it can. A secret in base64 is decoded
    /// first (for example with the `base64` crate).
    ///
    /// ```
    /// use tower_jwt_auth::{JwtAuthLayer, Key};
    ///
    /// let legacy = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac_legacy_short_secret("changeme"))
    ///     .build();
    /// assert!(legacy.is_ok());
    /// ```
    pub fn hmac_legacy_short_secret(secret: impl AsRef<[u8]>) -> Self {
        let decoding = DecodingKey::from_secret(secret.as_ref());
        Self {
            algorithms: decoding.family().algorithms().to_vec(),
            decoding,
            kid: None,
            legacy_short_secret: true,
        }
    }

    /// An HMAC secret given in standard base64; the same length rule as
    /// [`Key::hmac`] applies to the decoded bytes.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] when `secret` is not valid base64.
    pub fn hmac_base64(secret: &str) -> Result<Self, ConfigError> {
        DecodingKey::from_base64_secret(secret)
            .map(Self::with_family)
            .map_err(invalid)
    }

    /// An RSA public key in PEM (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] when the PEM holds no RSA public key.
    pub fn rsa_pem(pem: &[u8]) -> Result<Self, ConfigError> {
        DecodingKey::from_rsa_pem(pem)
            .map(Self::with_family)
            .map_err(invalid)
    }

    /// An RSA public key in PKCS#1 DER (`RSAPublicKey`).
    pub fn rsa_der(der: &[u8]) -> Self {
        Self::with_family(DecodingKey::from_rsa_der(der))
    }

    /// An RSA public key from its base64url modulus and exponent (as in a JWK).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] when either is not valid base64url.
    pub fn rsa_components(n: &str, e: &str) -> Result<Self, ConfigError> {
        DecodingKey::from_rsa_components(n, e)
            .map(Self::with_family)
            .map_err(invalid)
    }

    /// An EC public key (P-256 or P-384) in PEM (`BEGIN PUBLIC KEY`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] when the PEM holds no EC public key of a
    /// supported curve.
    pub fn ec_pem(pem: &[u8]) -> Result<Self, ConfigError> {
        let key = DecodingKey::from_ec_pem(pem).map_err(invalid)?;
        Self::ec(key)
    }

    /// An EC public key as its uncompressed SEC1 point (`0x04 || x || y`):
    /// 65 bytes for P-256, 97 for P-384.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] when the length fits neither curve.
    pub fn ec_der(point: &[u8]) -> Result<Self, ConfigError> {
        Self::ec(DecodingKey::from_ec_der(point))
    }

    fn ec(key: DecodingKey) -> Result<Self, ConfigError> {
        // jsonwebtoken keeps the uncompressed point; its length names the curve.
        let algorithm = match key.try_get_as_bytes().map(<[u8]>::len) {
            Ok(65) => Algorithm::ES256,
            Ok(97) => Algorithm::ES384,
            _ => {
                return Err(invalid(
                    jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey.into(),
                ));
            }
        };
        Ok(Self {
            decoding: key,
            kid: None,
            algorithms: vec![algorithm],
            legacy_short_secret: false,
        })
    }

    /// An Ed25519 public key in PEM (`BEGIN PUBLIC KEY`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] when the PEM holds no Ed25519 public key.
    pub fn ed_pem(pem: &[u8]) -> Result<Self, ConfigError> {
        DecodingKey::from_ed_pem(pem)
            .map(Self::with_family)
            .map_err(invalid)
    }

    /// An Ed25519 public key as its 32 raw bytes.
    pub fn ed_der(raw: &[u8]) -> Self {
        Self::with_family(DecodingKey::from_ed_der(raw))
    }

    /// A key from a JWK. Its `kid` is kept, and its `alg`, when present, pins the
    /// algorithm. An `oct` key is an HMAC secret, with [`Key::hmac`]'s length
    /// rule.
    ///
    /// # Errors
    ///
    /// [`ConfigError::UnusableJwk`] for a key that cannot verify signatures
    /// here: no `kty` or an unknown one, a member its `kty` needs missing, a
    /// `use` other than `sig`, a curve other than P-256, P-384 or Ed25519, an
    /// `alg` that is unknown or outside the key's family or curve;
    /// [`ConfigError::InvalidKey`] for key material that does not decode
    /// (invalid base64url).
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, ConfigError> {
        let unusable = |reason| ConfigError::UnusableJwk {
            kid: jwk.common.key_id.clone(),
            reason,
        };
        if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
            return Err(unusable("its `use` is not `sig`"));
        }
        let curve = match &jwk.algorithm {
            AlgorithmParameters::EllipticCurve(p) => match p.curve {
                EllipticCurve::P256 => Some(Algorithm::ES256),
                EllipticCurve::P384 => Some(Algorithm::ES384),
                _ => return Err(unusable(UNSUPPORTED_CURVE)),
            },
            AlgorithmParameters::OctetKeyPair(p) if p.curve != EllipticCurve::Ed25519 => {
                return Err(unusable(UNSUPPORTED_CURVE));
            }
            // What fits no known key type: its `kty` and `crv` say why.
            AlgorithmParameters::Other(p) => {
                let text = |name| p.fields.get(name).and_then(serde_json::Value::as_str);
                return Err(unusable(match (text("kty"), text("crv")) {
                    (Some("EC" | "OKP"), Some(crv))
                        if !matches!(crv, "P-256" | "P-384" | "Ed25519") =>
                    {
                        UNSUPPORTED_CURVE
                    }
                    (Some("EC" | "RSA" | "oct" | "OKP"), _) => {
                        "a member its `kty` needs is missing or of the wrong type"
                    }
                    (Some(_), _) => "its `kty` is not EC, RSA, oct or OKP",
                    (None, _) => "it has no `kty`",
                }));
            }
            _ => None,
        };
        let decoding = DecodingKey::from_jwk(jwk).map_err(invalid)?;
        let mut key = match curve {
            Some(algorithm) => Self {
                decoding,
                kid: None,
                algorithms: vec![algorithm],
                legacy_short_secret: false,
            },
            None => Self::with_family(decoding),
        };
        key.kid = jwk.common.key_id.clone();
        if let Some(alg) = jwk.common.key_algorithm {
            let alg = Algorithm::try_from(alg)
                .map_err(|_| unusable("its `alg` is not a signature algorithm"))?;
            // An HMAC secret's length is judged at build time, as for a pin.
            let fits = match key.family() {
                AlgorithmFamily::Hmac => alg.family() == AlgorithmFamily::Hmac,
                _ => key.algorithms.contains(&alg),
            };
            if !fits {
                return Err(unusable("its `alg` does not fit its key type or curve"));
            }
            key.algorithms = vec![alg];
        }
        Ok(key)
    }

    /// A key from one JWK as JSON text (RFC 7517 §4), such as one key of a
    /// provider's document; see [`Key::from_jwk`] for what is kept.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidJwk`] when `json` is not a JSON object, or a
    /// member every JWK may have (`kid`, `use`, `alg`, ...) is of the wrong
    /// type; then [`Key::from_jwk`]'s errors.
    ///
    /// ```
    /// use jsonwebtoken::Algorithm;
    /// use tower_jwt_auth::{ConfigError, Key};
    ///
    /// let key = Key::from_jwk_json(br#"{
    ///     "kty": "EC", "crv": "P-256", "kid": "2024-01", "use": "sig",
    ///     "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
    ///     "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"
    /// }"#)?;
    /// assert_eq!((key.kid(), key.algorithms()), (Some("2024-01"), &[Algorithm::ES256][..]));
    ///
    /// let encryption = Key::from_jwk_json(br#"{
    ///     "kty": "EC", "crv": "P-256", "use": "enc",
    ///     "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
    ///     "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"
    /// }"#);
    /// assert!(matches!(
    ///     encryption,
    ///     Err(ConfigError::UnusableJwk { reason: "its `use` is not `sig`", .. })
    /// ));
    /// assert!(matches!(
    ///     Key::from_jwk_json(br#"{"kty":"EC","crv":"P-256"}"#),
    ///     Err(ConfigError::UnusableJwk { reason: "a member its `kty` needs is missing or of the wrong type", .. })
    /// ));
    /// assert!(matches!(Key::from_jwk_json(b"[]"), Err(ConfigError::InvalidJwk(_))));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn from_jwk_json(json: &[u8]) -> Result<Self, ConfigError> {
        let jwk: Jwk = serde_json::from_slice(json).map_err(ConfigError::InvalidJwk)?;
        Self::from_jwk(&jwk)
    }

    /// A ready-made `jsonwebtoken` key; it allows every algorithm of its family
    /// (for an EC key given as its uncompressed point, the one of its curve;
    /// for an HMAC secret, those its length allows, as for [`Key::hmac`])
    /// unless one is pinned with [`Key::with_algorithm`].
    pub fn from_decoding_key(key: DecodingKey) -> Self {
        if key.family() == AlgorithmFamily::Ec {
            // The point's length names the curve, as in `Key::ec`; other forms
            // keep both algorithms and each is tried against its curve.
            if let Ok(key) = Self::ec(key.clone()) {
                return key;
            }
        }
        Self::with_family(key)
    }

    /// Sets the key id that a token's `kid` header must name to use this key.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Pins the one algorithm this key verifies. Building the layer fails with
    /// [`ConfigError::AlgorithmMismatch`] when the algorithm is not of the key's
    /// family, and with [`ConfigError::ShortHmacSecret`] when an HMAC secret
    /// is shorter than the algorithm's hash output (see [`Key::hmac`]).
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithms = vec![algorithm];
        self
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithms this key may verify.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The key's family.
    pub fn family(&self) -> AlgorithmFamily {
        self.decoding.family()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("family", &self.decoding.family())
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .field("legacy_short_secret", &self.legacy_short_secret)
            .field("material", &"[redacted]")
            .finish()
    }
}

/// A static set of keys, typically a JWK Set document (RFC 7517 §5); each token's
/// `kid` chooses among them.
///
/// Keys that cannot verify signatures here (encryption keys, unsupported key
/// types or curves) are skipped, not fatal, and counted in
/// [`skipped`](KeySet::skipped): identity providers publish such keys beside
/// their signing keys.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    skipped: usize,
}

impl KeySet {
    /// Reads a JWK Set document (`{"keys": [...]}`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidJwkSet`] when the document is not a JSON object with
    /// a `keys` array.
    pub fn from_json(document: &[u8]) -> Result<Self, ConfigError> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let document: Document =
            serde_json::from_slice(document).map_err(ConfigError::InvalidJwkSet)?;
        let mut set = Self::default();
        for value in document.keys {
            match serde_json::from_value::<Jwk>(value)
                .ok()
                .and_then(|jwk| Key::from_jwk(&jwk).ok())
            {
                Some(key) => set.keys.push(key),
                None => set.skipped += 1,
            }
        }
        Ok(set)
    }

    /// The usable keys.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// How many keys of the document were skipped as unusable.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Drops the keys `keep` refuses, counting them as skipped.
    #[cfg(feature = "remote-jwks")]
    pub(crate) fn retain(&mut self, keep: impl FnMut(&Key) -> bool) {
        let before = self.keys.len();
        self.keys.retain(keep);
        self.skipped += before - self.keys.len();
    }
}

impl From<Key> for KeySet {
    fn from(key: Key) -> Self {
        Self {
            keys: vec![key],
            skipped: 0,
        }
    }
}

impl FromIterator<Key> for KeySet {
    fn from_iter<I: IntoIterator<Item = Key>>(iter: I) -> Self {
        Self {
            keys: iter.into_iter().collect(),
            skipped: 0,
        }
    }
}

impl IntoIterator for KeySet {
    type Item = Key;
    type IntoIter = std::vec::IntoIter<Key>;

    fn into_iter(self) -> Self::IntoIter {
        self.keys.into_iter()
    }
}
