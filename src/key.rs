//! Verification keys: one [`Key`], or a [`KeySet`] read from a JWK Set document.

use std::fmt;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

use crate::ConfigError;

/// A key that verifies token signatures, with its optional `kid` and the
/// algorithms it may be used with.
///
/// The key's family is fixed when it is made: a key made with [`Key::rsa_pem`]
/// is an RSA public key and can never verify an `HS256` token, whatever the token
/// says. When no algorithm is pinned with [`Key::with_algorithm`], the key allows
/// every algorithm of its family (for EC keys, the one of its curve).
///
/// ```
/// use tower_jwt_auth::Key;
/// use jsonwebtoken::Algorithm;
///
/// let key = Key::hmac(b"a secret of at least 32 bytes....").with_kid("2024-01");
/// let pinned = Key::hmac(b"another secret of 32 bytes......").with_algorithm(Algorithm::HS512);
/// assert_eq!(key.kid(), Some("2024-01"));
/// ```
#[derive(Clone)]
pub struct Key {
    pub(crate) decoding: DecodingKey,
    pub(crate) kid: Option<String>,
    pub(crate) algorithms: Vec<Algorithm>,
}

fn invalid(e: jsonwebtoken::errors::Error) -> ConfigError {
    ConfigError::InvalidKey(e)
}

impl Key {
    fn with_family(decoding: DecodingKey) -> Self {
        let algorithms = decoding.family().algorithms().to_vec();
        Self {
            decoding,
            kid: None,
            algorithms,
        }
    }

    /// An HMAC secret (`HS256`, `HS384`, `HS512`), taken as raw bytes.
    pub fn hmac(secret: impl AsRef<[u8]>) -> Self {
        Self::with_family(DecodingKey::from_secret(secret.as_ref()))
    }

    /// An HMAC secret given in standard base64.
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
    /// algorithm.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] for a key type or curve that cannot verify
    /// signatures here (P-521, X25519, an unknown `kty`), a key whose `use` is not
    /// `sig`, an `alg` outside the key's family, or invalid base64url.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, ConfigError> {
        use jsonwebtoken::errors::ErrorKind;
        if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
            return Err(invalid(ErrorKind::InvalidKeyFormat.into()));
        }
        let decoding = DecodingKey::from_jwk(jwk).map_err(invalid)?;
        let mut key = match &jwk.algorithm {
            AlgorithmParameters::EllipticCurve(p) => {
                let algorithm = match p.curve {
                    EllipticCurve::P256 => Algorithm::ES256,
                    EllipticCurve::P384 => Algorithm::ES384,
                    _ => return Err(invalid(ErrorKind::InvalidEcdsaKey.into())),
                };
                Self {
                    decoding,
                    kid: None,
                    algorithms: vec![algorithm],
                }
            }
            AlgorithmParameters::OctetKeyPair(p) if p.curve != EllipticCurve::Ed25519 => {
                return Err(invalid(ErrorKind::InvalidEddsaKey.into()));
            }
            _ => Self::with_family(decoding),
        };
        key.kid = jwk.common.key_id.clone();
        if let Some(alg) = jwk.common.key_algorithm {
            let alg = Algorithm::try_from(alg).map_err(invalid)?;
            if !key.algorithms.contains(&alg) {
                return Err(invalid(ErrorKind::InvalidAlgorithm.into()));
            }
            key.algorithms = vec![alg];
        }
        Ok(key)
    }

    /// A ready-made `jsonwebtoken` key; it allows every algorithm of its family
    /// (for an EC key given as its uncompressed point, the one of its curve)
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
    /// family.
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
