//! One DPoP proof (RFC 9449 §4), checked as a resource server must (§4.3,
//! §7.1), in the order of §4.3:
//!
//! 1. the length, before anything is decoded;
//! 2. a JWT: three base64url segments, a header and claims that are JSON
//!    objects (else the request is malformed, not the proof); no member this
//!    module reads given twice (serde_json would keep the last one silently,
//!    and another parser the first);
//! 3. the header: `typ` is `dpop+jwt`, `alg` an allowed asymmetric
//!    algorithm, no `crit`, and a `jwk` that is a public key (no private
//!    member, not `oct`) of the family and curve of `alg`;
//! 4. the signature, with that key;
//! 5. the claims: a `jti`, `htm` the request's method, `htu` its target URI
//!    (both normalized, [`target`](super::target)), `iat` within the
//!    accepted window, `ath` the hash of the access token.
//!
//! The caller checks the rest: a single `DPoP` header, the `nonce` against
//! its own, the replay of `jti`, and that the proof's key is the one the
//! token is bound to (`cnf.jkt`, against [`Proof::jkt`]).
//!
//! Each refusal has a fixed description that names its cause and never
//! holds input. Headers and claims are decoded on the stack up to a few
//! kilobytes; nesting is never recursed into (serde_json skips values
//! without recursion), so deep JSON cannot exhaust the stack.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::target;
use crate::crypto::constant_time_eq;
use crate::error::{AuthError, AuthErrorKind};
use crate::thumbprint::{PublicJwk, jwk_thumbprint};
use crate::verify::{SignatureKey, same_media_type};

/// The longest `jti` accepted, in bytes: enough for any unique identifier,
/// and a bound on what a replay store keeps per proof.
pub(crate) const MAX_JTI_LENGTH: usize = 256;

/// Decoded headers up to this size stay on the stack: an RSA-8192 `jwk`
/// fits.
const HEADER_BUFFER: usize = 2048;
/// Decoded claims up to this size stay on the stack.
const CLAIMS_BUFFER: usize = 1024;
/// The largest signature that stays on the stack: RSA-8192.
const SIGNATURE_BUFFER: usize = 1024;

/// What a proof must satisfy, beyond the request it came with: configured
/// once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProofRules {
    /// The algorithms a proof may use; asymmetric ones only (an HMAC one is
    /// refused here anyway).
    pub(crate) algorithms: Vec<Algorithm>,
    /// How far in the past `iat` may be, in seconds.
    pub(crate) max_age: u64,
    /// How far in the future `iat` may be, in seconds (clock skew).
    pub(crate) skew: u64,
    /// The longest proof accepted, in bytes of its compact serialization.
    pub(crate) max_length: usize,
}

/// The request a proof must name.
#[derive(Clone, Copy)]
pub(crate) struct Expected<'a> {
    /// The request's method.
    pub(crate) method: &'a http::Method,
    /// The request's target URI, normalized by
    /// [`target::of_request`](super::target::of_request) or
    /// [`target::of_forwarded`](super::target::of_forwarded): no query, no
    /// fragment.
    pub(crate) target: &'a str,
    /// The access token sent with the proof, as sent.
    pub(crate) access_token: &'a str,
    /// Seconds since the Unix epoch.
    pub(crate) now: u64,
}

impl fmt::Debug for Expected<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expected")
            .field("method", self.method)
            .field("target", &self.target)
            .field("access_token", &"[redacted]")
            .field("now", &self.now)
            .finish()
    }
}

/// A proof that holds, with what the caller checks next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key, for `cnf.jkt`.
    pub(crate) jkt: String,
    /// The proof's identifier, for the replay check.
    pub(crate) jti: String,
    /// When the proof was made (seconds since the Unix epoch, rounded down).
    pub(crate) iat: u64,
    /// The nonce the proof carries, for the caller to compare with its own.
    pub(crate) nonce: Option<String>,
}

/// Checks `proof`, the text of a request's `DPoP` header, against `rules`
/// and the request `expected`, in the order of the module docs.
///
/// # Errors
///
/// [`AuthErrorKind::MalformedRequest`] when the proof is not a JWT (not
/// three base64url segments, a header or claims that are not a JSON
/// object); [`AuthErrorKind::InvalidDpopProof`] for anything else, with a
/// description that names the check.
pub(crate) fn verify(
    provider: &'static CryptoProvider,
    proof: &str,
    rules: &ProofRules,
    expected: &Expected<'_>,
) -> Result<Proof, AuthError> {
    if proof.len() > rules.max_length {
        return Err(invalid("DPoP proof too long"));
    }
    let mut segments = proof.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(not_a_jwt());
    };
    let signed = proof
        .get(..header_b64.len() + 1 + claims_b64.len())
        .ok_or_else(not_a_jwt)?;
    let mut header_buffer = [0u8; HEADER_BUFFER];
    let header = decode(header_b64, &mut header_buffer).ok_or_else(not_a_jwt)?;
    let mut claims_buffer = [0u8; CLAIMS_BUFFER];
    let claims = decode(claims_b64, &mut claims_buffer).ok_or_else(not_a_jwt)?;
    let mut signature_buffer = [0u8; SIGNATURE_BUFFER];
    let signature = decode(signature_b64, &mut signature_buffer).ok_or_else(not_a_jwt)?;

    const HEADER_NOT_JSON: &str = "DPoP proof header is not a JSON object";
    const CLAIMS_NOT_JSON: &str = "DPoP proof claims are not a JSON object";
    let malformed = |description| (AuthErrorKind::MalformedRequest, description);
    let header = std::str::from_utf8(&header)
        .map_err(|_| AuthError::new(AuthErrorKind::MalformedRequest, HEADER_NOT_JSON))?;
    let [typ, alg, jwk, crit] = read_members(header, &HEADER, malformed(HEADER_NOT_JSON))?;
    let claims = std::str::from_utf8(&claims)
        .map_err(|_| AuthError::new(AuthErrorKind::MalformedRequest, CLAIMS_NOT_JSON))?;
    let [jti, htm, htu, iat, ath, nonce] =
        read_members(claims, &CLAIMS, malformed(CLAIMS_NOT_JSON))?;

    // The header.
    if !typ
        .and_then(string)
        .is_some_and(|typ| same_media_type(&typ, "dpop+jwt"))
    {
        return Err(invalid("DPoP proof `typ` is not dpop+jwt"));
    }
    let alg = alg.ok_or_else(|| invalid("DPoP proof has no `alg`"))?;
    let algorithm = string(alg)
        .and_then(|alg| algorithm_named(&alg))
        .filter(|alg| alg.family() != AlgorithmFamily::Hmac && rules.algorithms.contains(alg))
        .ok_or_else(|| invalid("DPoP proof algorithm not allowed"))?;
    if crit.is_some() {
        return Err(invalid("DPoP proof has a critical header parameter"));
    }
    let jwk = jwk.ok_or_else(|| invalid("DPoP proof has no `jwk`"))?;
    let key = ProofKey::read(jwk, algorithm)?;

    // The signature.
    let prepared = SignatureKey::prepare(provider, algorithm, &key.decoding)
        .map_err(|_| invalid(KEY_INVALID))?;
    if !prepared.verify(provider, algorithm, signed.as_bytes(), &signature) {
        return Err(invalid("DPoP proof signature does not verify"));
    }

    // The claims.
    let jti = jti.ok_or_else(|| invalid("DPoP proof has no `jti`"))?;
    let jti = string(jti)
        .filter(|jti| !jti.is_empty() && jti.len() <= MAX_JTI_LENGTH)
        .ok_or_else(|| invalid("DPoP proof `jti` is not a string of 1 to 256 bytes"))?;
    let htm = htm.ok_or_else(|| invalid("DPoP proof has no `htm`"))?;
    let htm = string(htm).ok_or_else(|| invalid("DPoP proof `htm` is not a string"))?;
    // Methods are case-sensitive (RFC 9110 §9.1).
    if htm != expected.method.as_str() {
        return Err(invalid("DPoP proof `htm` is not the request's method"));
    }
    let htu = htu.ok_or_else(|| invalid("DPoP proof has no `htu`"))?;
    let htu = string(htu).ok_or_else(|| invalid("DPoP proof `htu` is not a string"))?;
    let htu =
        target::normalize(&htu).ok_or_else(|| invalid("DPoP proof `htu` is not an http(s) URI"))?;
    if htu != expected.target {
        return Err(invalid("DPoP proof `htu` is not the request's URI"));
    }
    let iat = iat.ok_or_else(|| invalid("DPoP proof has no `iat`"))?;
    let iat = numeric_date(iat).ok_or_else(|| invalid("DPoP proof `iat` is not a number"))?;
    if iat < expected.now.saturating_sub(rules.max_age) as f64 {
        return Err(invalid("DPoP proof `iat` is too old"));
    }
    if iat > expected.now.saturating_add(rules.skew) as f64 {
        return Err(invalid("DPoP proof `iat` is in the future"));
    }
    let ath = ath.ok_or_else(|| invalid("DPoP proof has no `ath`"))?;
    let ath = string(ath).ok_or_else(|| invalid("DPoP proof `ath` is not a string"))?;
    if !access_token_hash_is(expected.access_token, &ath)? {
        return Err(invalid("DPoP proof `ath` does not match the access token"));
    }
    let nonce = match nonce {
        Some(nonce) => Some(
            string(nonce)
                .ok_or_else(|| invalid("DPoP proof `nonce` is not a string"))?
                .into_owned(),
        ),
        None => None,
    };

    let jkt = jwk_thumbprint(&key.public()).ok_or_else(no_sha256)?;
    Ok(Proof {
        jkt,
        jti: jti.into_owned(),
        // Within the window, so a finite number from 0 up: the cast floors.
        iat: iat as u64,
        nonce,
    })
}

fn invalid(description: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidDpopProof, description)
}

fn not_a_jwt() -> AuthError {
    AuthError::new(AuthErrorKind::MalformedRequest, "DPoP proof is not a JWT")
}

/// Without a SHA-256 (a build without a crypto backend), `ath` and the
/// thumbprint cannot be computed, and no proof holds.
fn no_sha256() -> AuthError {
    invalid("DPoP proof cannot be checked: no SHA-256 in this build")
}

const KEY_INVALID: &str = "DPoP proof `jwk` is not a valid public key";

/// Decodes base64url into `buffer` when it surely fits, else into a new
/// `Vec`.
fn decode<'b>(input: &str, buffer: &'b mut [u8]) -> Option<Cow<'b, [u8]>> {
    if base64::decoded_len_estimate(input.len()) <= buffer.len() {
        let len = URL_SAFE_NO_PAD.decode_slice(input, &mut *buffer).ok()?;
        let buffer: &'b [u8] = buffer;
        buffer.get(..len).map(Cow::Borrowed)
    } else {
        URL_SAFE_NO_PAD.decode(input).ok().map(Cow::Owned)
    }
}

/// The value of a member as a string: borrowed when it has no escapes,
/// `None` when it is not a string.
fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    serde_json::from_str::<&str>(raw.get())
        .map(Cow::Borrowed)
        .or_else(|_| serde_json::from_str::<String>(raw.get()).map(Cow::Owned))
        .ok()
}

/// A NumericDate (RFC 7519 §2): any JSON number, fractional or negative.
fn numeric_date(raw: &RawValue) -> Option<f64> {
    let text = raw.get();
    // The usual case, a plain integer, without serde_json.
    if (1..=15).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u64>().ok().map(|n| n as f64);
    }
    serde_json::from_str::<serde_json::Number>(text)
        .ok()?
        .as_f64()
        .filter(|n| n.is_finite())
}

/// Whether `ath` is the base64url SHA-256 of `access_token` (RFC 9449
/// §4.2), compared in constant time.
fn access_token_hash_is(access_token: &str, ath: &str) -> Result<bool, AuthError> {
    let digest = crate::crypto::sha256(access_token.as_bytes()).ok_or_else(no_sha256)?;
    let mut encoded = [0u8; 43];
    Ok(URL_SAFE_NO_PAD
        .encode_slice(digest, &mut encoded)
        .is_ok_and(|len| len == encoded.len() && constant_time_eq(&encoded, ath.as_bytes())))
}

/// The algorithm a proof's `alg` names: jsonwebtoken's names, and
/// `Ed25519`, the fully specified name of RFC 9864 that DPoP clients (the
/// `dpop` library among them) now write for what RFC 8037 called `EdDSA`
/// with an Ed25519 key; the key is checked to be Ed25519 either way.
fn algorithm_named(alg: &str) -> Option<Algorithm> {
    match alg {
        "Ed25519" => Some(Algorithm::EdDSA),
        _ => alg.parse().ok(),
    }
}

/// The proof's `jwk`, read and checked against the algorithm.
struct ProofKey<'a> {
    kty: &'static str,
    crv: Option<&'static str>,
    x: Option<Cow<'a, str>>,
    y: Option<Cow<'a, str>>,
    n: Option<Cow<'a, str>>,
    e: Option<Cow<'a, str>>,
    decoding: DecodingKey,
}

impl<'a> ProofKey<'a> {
    /// Reads `jwk`: a public key (no private member, not `oct`) of the
    /// family and curve of `algorithm`, its members well-formed.
    fn read(jwk: &'a RawValue, algorithm: Algorithm) -> Result<Self, AuthError> {
        let not_object = (
            AuthErrorKind::InvalidDpopProof,
            "DPoP proof `jwk` is not a JSON object",
        );
        let [kty, crv, x, y, n, e, private @ ..] = read_members(jwk.get(), &JWK, not_object)?;
        if private.iter().any(Option::is_some) {
            return Err(invalid("DPoP proof `jwk` holds a private key"));
        }
        let kty = kty
            .and_then(string)
            .ok_or_else(|| invalid("DPoP proof `jwk` has no string `kty`"))?;
        if kty == "oct" {
            return Err(invalid("DPoP proof `jwk` is a symmetric key"));
        }
        // The key type, curve and coordinate size `algorithm` needs.
        let (family, curve, size) = match algorithm {
            Algorithm::ES256 => ("EC", Some("P-256"), 32usize),
            Algorithm::ES384 => ("EC", Some("P-384"), 48),
            Algorithm::EdDSA => ("OKP", Some("Ed25519"), 32),
            _ if algorithm.family() == AlgorithmFamily::Rsa => ("RSA", None, 0),
            _ => return Err(does_not_fit()),
        };
        if kty != family
            || curve.is_some_and(|curve| crv.and_then(string).as_deref() != Some(curve))
        {
            return Err(does_not_fit());
        }
        let member = |raw: Option<&'a RawValue>| {
            raw.and_then(string)
                .ok_or_else(|| invalid("DPoP proof `jwk` lacks a member its `kty` needs"))
        };
        let key_invalid = |_| invalid(KEY_INVALID);
        // base64url without padding of `size` bytes; decoding then also
        // refuses a non-canonical last character.
        let sized = |coordinate: Cow<'a, str>| {
            if coordinate.len() == (size * 4).div_ceil(3) {
                Ok(coordinate)
            } else {
                Err(invalid(KEY_INVALID))
            }
        };
        let (decoding, x, y, n, e) = match family {
            "EC" => {
                let (x, y) = (sized(member(x)?)?, sized(member(y)?)?);
                let decoding = DecodingKey::from_ec_components(&x, &y).map_err(key_invalid)?;
                (decoding, Some(x), Some(y), None, None)
            }
            "OKP" => {
                let x = sized(member(x)?)?;
                let decoding = DecodingKey::from_ed_components(&x).map_err(key_invalid)?;
                (decoding, Some(x), None, None, None)
            }
            _ => {
                let (n, e) = (member(n)?, member(e)?);
                let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(key_invalid)?;
                check_rsa_size(&decoding)?;
                (decoding, None, None, Some(n), Some(e))
            }
        };
        Ok(Self {
            kty: family,
            crv: curve,
            x,
            y,
            n,
            e,
            decoding,
        })
    }

    /// The members its thumbprint covers.
    fn public(&self) -> PublicJwk<'_> {
        PublicJwk {
            kty: self.kty,
            crv: self.crv,
            x: self.x.as_deref(),
            y: self.y.as_deref(),
            n: self.n.as_deref(),
            e: self.e.as_deref(),
        }
    }
}

fn does_not_fit() -> AuthError {
    invalid("DPoP proof `jwk` does not fit its algorithm")
}

/// An RSA key of 2048 to 8192 bits, without leading zeros: what aws-lc-rs
/// verifies, so that both backends accept the same keys.
fn check_rsa_size(key: &DecodingKey) -> Result<(), AuthError> {
    let DecodingKeyKind::RsaModulusExponent { n, e } = key.kind() else {
        return Err(invalid(KEY_INVALID));
    };
    let no_leading_zero = |bytes: &[u8]| bytes.first().is_some_and(|&b| b != 0);
    if !(no_leading_zero(n) && no_leading_zero(e) && e.len() <= 8 && n.len() <= 1024) {
        return Err(invalid(KEY_INVALID));
    }
    if n.len() < 256 {
        return Err(invalid("DPoP proof RSA key is shorter than 2048 bits"));
    }
    Ok(())
}

/// The members of one JSON object a reader wants, and the description of
/// each given twice.
struct Wanted<const N: usize> {
    names: [&'static str; N],
    twice: [&'static str; N],
}

const HEADER: Wanted<4> = Wanted {
    names: ["typ", "alg", "jwk", "crit"],
    twice: [
        "DPoP proof header `typ` given twice",
        "DPoP proof header `alg` given twice",
        "DPoP proof header `jwk` given twice",
        "DPoP proof header `crit` given twice",
    ],
};

const CLAIMS: Wanted<6> = Wanted {
    names: ["jti", "htm", "htu", "iat", "ath", "nonce"],
    twice: [
        "DPoP proof claim `jti` given twice",
        "DPoP proof claim `htm` given twice",
        "DPoP proof claim `htu` given twice",
        "DPoP proof claim `iat` given twice",
        "DPoP proof claim `ath` given twice",
        "DPoP proof claim `nonce` given twice",
    ],
};

/// The public members a key type needs, then every private one (RFC 7518
/// §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
const JWK: Wanted<14> = Wanted {
    names: [
        "kty", "crv", "x", "y", "n", "e", "d", "p", "q", "dp", "dq", "qi", "oth", "k",
    ],
    twice: [
        "DPoP proof `jwk` member `kty` given twice",
        "DPoP proof `jwk` member `crv` given twice",
        "DPoP proof `jwk` member `x` given twice",
        "DPoP proof `jwk` member `y` given twice",
        "DPoP proof `jwk` member `n` given twice",
        "DPoP proof `jwk` member `e` given twice",
        "DPoP proof `jwk` member `d` given twice",
        "DPoP proof `jwk` member `p` given twice",
        "DPoP proof `jwk` member `q` given twice",
        "DPoP proof `jwk` member `dp` given twice",
        "DPoP proof `jwk` member `dq` given twice",
        "DPoP proof `jwk` member `qi` given twice",
        "DPoP proof `jwk` member `oth` given twice",
        "DPoP proof `jwk` member `k` given twice",
    ],
};

/// Reads the wanted members of the JSON object `text` as raw JSON, skipping
/// the others; a wanted member given twice is refused with its own
/// description ([`AuthErrorKind::InvalidDpopProof`]), anything else that is
/// not one JSON object with `otherwise`.
fn read_members<'a, const N: usize>(
    text: &'a str,
    wanted: &Wanted<N>,
    otherwise: (AuthErrorKind, &'static str),
) -> Result<[Option<&'a RawValue>; N], AuthError> {
    let duplicate = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    MembersSeed {
        names: &wanted.names,
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|members| deserializer.end().map(|()| members))
    .map_err(
        |e| match duplicate.get().and_then(|i| wanted.twice.get(i)) {
            Some(description) => {
                AuthError::with_source(AuthErrorKind::InvalidDpopProof, description, e)
            }
            None => AuthError::with_source(otherwise.0, otherwise.1, e),
        },
    )
}

/// Reads an object's members named in `names`; the position of one given
/// twice goes into `duplicate`, and fails the read.
struct MembersSeed<'c, const N: usize> {
    names: &'c [&'static str; N],
    duplicate: &'c Cell<Option<usize>>,
}

impl<'de, const N: usize> DeserializeSeed<'de> for MembersSeed<'_, N> {
    type Value = [Option<&'de RawValue>; N];

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for MembersSeed<'_, N> {
    type Value = [Option<&'de RawValue>; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = [None; N];
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            let position = self.names.iter().position(|n| *n == name);
            match position.and_then(|i| found.get_mut(i).map(|slot| (i, slot))) {
                Some((i, Some(_))) => {
                    self.duplicate.set(Some(i));
                    return Err(A::Error::custom("member given twice"));
                }
                Some((_, slot)) => *slot = Some(map.next_value::<&'de RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// A member name: borrowed from the JSON text unless it has escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Name<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(all(test, any(feature = "aws-lc-rs", feature = "rust-crypto")))]
mod tests {
    use http::Method;
    use jsonwebtoken::EncodingKey;
    use jsonwebtoken::jwk::Jwk;
    use serde_json::{Value, json};

    use super::*;

    const NOW: u64 = 1_700_000_000;
    const TOKEN: &str = "an-access-token.of.sorts";
    const TARGET: &str = "https://api.example.com/orders";

    fn provider() -> &'static CryptoProvider {
        crate::crypto::select(None).unwrap()
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/dpop/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(path).unwrap()
    }

    /// A key pair of the fixtures, and its public JWK as JSON.
    struct Signer {
        algorithm: Algorithm,
        key: EncodingKey,
        jwk: Value,
    }

    fn signer(algorithm: Algorithm) -> Signer {
        signer_from(algorithm, "")
    }

    fn signer_from(algorithm: Algorithm, other: &str) -> Signer {
        let key = match algorithm {
            Algorithm::ES256 => EncodingKey::from_ec_pem(&fixture(&format!("ec_p256{other}.pem"))),
            Algorithm::ES384 => EncodingKey::from_ec_pem(&fixture("ec_p384.pem")),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(&fixture("ed25519.pem")),
            _ => EncodingKey::from_rsa_pem(&fixture("rsa2048.pem")),
        }
        .unwrap();
        // `Jwk::from_encoding_key` asks jsonwebtoken's process default.
        provider();
        let jwk = Jwk::from_encoding_key(&key, algorithm).unwrap();
        let mut jwk = serde_json::to_value(jwk).unwrap();
        jwk.as_object_mut().unwrap().remove("alg");
        Signer {
            algorithm,
            key,
            jwk,
        }
    }

    impl Signer {
        fn header(&self) -> Value {
            json!({ "typ": "dpop+jwt", "alg": self.algorithm, "jwk": self.jwk })
        }

        /// A proof of `header` and `claims`, given as JSON text.
        fn sign_text(&self, header: &str, claims: &str) -> String {
            let mut proof = URL_SAFE_NO_PAD.encode(header);
            proof.push('.');
            URL_SAFE_NO_PAD.encode_string(claims, &mut proof);
            let signer = (provider().signer_factory)(&self.algorithm, &self.key).unwrap();
            let signature = signer.try_sign(proof.as_bytes()).unwrap();
            proof.push('.');
            URL_SAFE_NO_PAD.encode_string(signature, &mut proof);
            proof
        }

        fn sign(&self, header: &Value, claims: &Value) -> String {
            self.sign_text(&header.to_string(), &claims.to_string())
        }

        /// A good proof for the expected request.
        fn proof(&self) -> String {
            self.sign(&self.header(), &claims())
        }

        fn jkt(&self) -> String {
            let jwk: Jwk = serde_json::from_value(self.jwk.clone()).unwrap();
            jwk_thumbprint(&PublicJwk::of_jwk(&jwk).unwrap()).unwrap()
        }
    }

    fn ath(token: &str) -> String {
        URL_SAFE_NO_PAD.encode(crate::crypto::sha256(token.as_bytes()).unwrap())
    }

    fn claims() -> Value {
        json!({
            "jti": "proof-1",
            "htm": "GET",
            "htu": TARGET,
            "iat": NOW,
            "ath": ath(TOKEN),
        })
    }

    fn rules() -> ProofRules {
        ProofRules {
            algorithms: vec![
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
                Algorithm::RS256,
                Algorithm::PS256,
            ],
            max_age: 300,
            skew: 60,
            max_length: 8 * 1024,
        }
    }

    fn expected() -> Expected<'static> {
        Expected {
            method: &Method::GET,
            target: TARGET,
            access_token: TOKEN,
            now: NOW,
        }
    }

    fn check(proof: &str) -> Result<Proof, (AuthErrorKind, &'static str)> {
        check_with(proof, &rules(), &expected())
    }

    fn check_with(
        proof: &str,
        rules: &ProofRules,
        expected: &Expected<'_>,
    ) -> Result<Proof, (AuthErrorKind, &'static str)> {
        verify(provider(), proof, rules, expected).map_err(|e| (e.kind(), e.description()))
    }

    fn refused(description: &'static str) -> Result<Proof, (AuthErrorKind, &'static str)> {
        Err((AuthErrorKind::InvalidDpopProof, description))
    }

    fn malformed(description: &'static str) -> Result<Proof, (AuthErrorKind, &'static str)> {
        Err((AuthErrorKind::MalformedRequest, description))
    }

    /// RFC 9449 §7.1 (Figure 13): the example proof of a resource request,
    /// and §4.2 (Figure 3)'s proof of a token request, which has no `ath`.
    #[test]
    fn the_rfc_example_proofs() {
        const HEADER: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19";
        let resource = format!(
            "{HEADER}.{}.{}",
            "eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9",
            "2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
        );
        let target = target::normalize("https://resource.example.org/protectedresource").unwrap();
        let expected = Expected {
            method: &Method::GET,
            target: &target,
            access_token: "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU",
            now: 1_562_262_618,
        };
        assert_eq!(
            check_with(&resource, &rules(), &expected),
            Ok(Proof {
                jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into(),
                jti: "e1j3V_bKic8-LAEB".into(),
                iat: 1_562_262_618,
                nonce: None,
            })
        );
        let other_token = Expected {
            access_token: "another token",
            ..expected
        };
        assert_eq!(
            check_with(&resource, &rules(), &other_token),
            refused("DPoP proof `ath` does not match the access token")
        );

        let token_request = format!(
            "{HEADER}.{}.{}",
            "eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ",
            "2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
        );
        let expected = Expected {
            method: &Method::POST,
            target: "https://server.example.com/token",
            ..expected
        };
        assert_eq!(
            check_with(&token_request, &rules(), &expected),
            refused("DPoP proof has no `ath`")
        );
    }

    #[test]
    fn proofs_of_each_algorithm_family_verify() {
        for algorithm in [
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
            Algorithm::RS256,
            Algorithm::PS256,
        ] {
            let signer = signer(algorithm);
            let proof = check(&signer.proof()).unwrap_or_else(|e| panic!("{algorithm:?}: {e:?}"));
            assert_eq!(
                proof,
                Proof {
                    jkt: signer.jkt(),
                    jti: "proof-1".into(),
                    iat: NOW,
                    nonce: None,
                },
                "{algorithm:?}"
            );
        }
    }

    #[test]
    fn what_a_good_proof_may_vary() {
        let signer = signer(Algorithm::ES256);
        let mut claims = claims();
        claims["nonce"] = json!("n-1");
        claims["iat"] = json!(NOW as f64 - 0.5);
        // The `htu` of another spelling, with a query and a fragment.
        claims["htu"] = json!("HTTPS://API.example.com:443/./orders?page=2#top");
        claims["extra"] = json!({"nested": [1, 2, {"x": null}]});
        let mut header = signer.header();
        header["typ"] = json!("application/DPoP+JWT");
        header["kid"] = json!("ignored");
        header["jwk"]["kid"] = json!("ignored too");
        let proof = check(&signer.sign(&header, &claims)).unwrap();
        assert_eq!((proof.iat, proof.nonce.as_deref()), (NOW - 1, Some("n-1")));

        // Escapes are the same text once read.
        let text = format!(
            r#"{{"jti":"proof-1","\u0068tm":"G\u0045T","htu":"{TARGET}","iat":{NOW},"ath":"{}"}}"#,
            ath(TOKEN)
        );
        assert!(check(&signer.sign_text(&signer.header().to_string(), &text)).is_ok());

        // The edges of the window.
        for iat in [NOW - 300, NOW + 60] {
            let mut claims = self::claims();
            claims["iat"] = json!(iat);
            assert!(
                check(&signer.sign(&signer.header(), &claims)).is_ok(),
                "{iat}"
            );
        }
    }

    #[test]
    fn proofs_that_are_not_jwts_are_malformed_requests() {
        let proof = signer(Algorithm::ES256).proof();
        let (header, rest) = proof.split_once('.').unwrap();
        let (claims, signature) = rest.split_once('.').unwrap();
        let json = |text: &str| URL_SAFE_NO_PAD.encode(text);
        let not_jwt = malformed("DPoP proof is not a JWT");
        let header_not_json = malformed("DPoP proof header is not a JSON object");
        let claims_not_json = malformed("DPoP proof claims are not a JSON object");
        for (proof, outcome) in [
            (String::new(), &not_jwt),
            (format!("{header}.{claims}"), &not_jwt),
            (format!("{proof}.{signature}"), &not_jwt),
            (format!("{header}={}.{claims}.{signature}", ""), &not_jwt),
            (format!("{header}.{claims}.{signature}="), &not_jwt),
            (format!("{header}.{claims}.a+b"), &not_jwt),
            (
                format!("{}.{claims}.{signature}", json("[]")),
                &header_not_json,
            ),
            (
                format!("{}.{claims}.{signature}", json("{")),
                &header_not_json,
            ),
            (
                format!("{}.{claims}.{signature}", json("{} {}")),
                &header_not_json,
            ),
            (
                format!("{}.{claims}.{signature}", json("\"dpop\"")),
                &header_not_json,
            ),
            (
                format!(
                    "{}.{claims}.{signature}",
                    URL_SAFE_NO_PAD.encode([0x7b, 0xff, 0x7d])
                ),
                &header_not_json,
            ),
            (
                format!("{header}.{}.{signature}", json("null")),
                &claims_not_json,
            ),
            (
                format!("{header}.{}.{signature}", json(r#"{"a":}"#)),
                &claims_not_json,
            ),
            (
                format!("{header}.{}.{signature}", json(&"[".repeat(200))),
                &claims_not_json,
            ),
        ] {
            assert_eq!(&check(&proof), outcome, "{proof}");
        }
    }

    #[test]
    fn header_refusals() {
        let signer = signer(Algorithm::ES256);
        let with = |name: &str, value: Value| {
            let mut header = signer.header();
            header[name] = value;
            signer.sign(&header, &claims())
        };
        let without = |name: &str| {
            let mut header = signer.header();
            header.as_object_mut().unwrap().remove(name);
            signer.sign(&header, &claims())
        };
        let typ = refused("DPoP proof `typ` is not dpop+jwt");
        let alg = refused("DPoP proof algorithm not allowed");
        for (proof, outcome) in [
            (without("typ"), &typ),
            (with("typ", json!("JWT")), &typ),
            (with("typ", json!("dpop+jwt ")), &typ),
            (with("typ", json!(["dpop+jwt"])), &typ),
            (without("alg"), &refused("DPoP proof has no `alg`")),
            (with("alg", json!("none")), &alg),
            (with("alg", json!("HS256")), &alg),
            (with("alg", json!("es256")), &alg),
            (with("alg", json!(256)), &alg),
            (with("alg", json!("RS512")), &alg),
            (
                with("crit", json!(["exp"])),
                &refused("DPoP proof has a critical header parameter"),
            ),
            (
                with("crit", json!(null)),
                &refused("DPoP proof has a critical header parameter"),
            ),
            (without("jwk"), &refused("DPoP proof has no `jwk`")),
            (
                with("jwk", json!("key")),
                &refused("DPoP proof `jwk` is not a JSON object"),
            ),
            (
                with("jwk", json!([])),
                &refused("DPoP proof `jwk` is not a JSON object"),
            ),
        ] {
            assert_eq!(&check(&proof), outcome, "{proof}");
        }
    }

    #[test]
    fn alg_none_and_hmac_proofs_are_refused() {
        let header = |alg: &str, jwk: Value| {
            URL_SAFE_NO_PAD.encode(json!({"typ": "dpop+jwt", "alg": alg, "jwk": jwk}).to_string())
        };
        let encoded_claims = URL_SAFE_NO_PAD.encode(claims().to_string());
        let jwk = signer(Algorithm::ES256).jwk;
        let none = format!("{}.{encoded_claims}.", header("none", jwk));
        assert_eq!(check(&none), refused("DPoP proof algorithm not allowed"));

        // An HMAC proof whose `jwk` is the secret: refused by its `alg`, and
        // by its key whatever `alg` says.
        let secret = b"a secret of at least 32 bytes....";
        let oct = json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(secret)});
        let hmac = Signer {
            algorithm: Algorithm::HS256,
            key: EncodingKey::from_secret(secret),
            jwk: oct.clone(),
        };
        assert_eq!(
            check(&hmac.proof()),
            refused("DPoP proof algorithm not allowed")
        );
        let mut rules = rules();
        rules.algorithms.push(Algorithm::HS256);
        assert_eq!(
            check_with(&hmac.proof(), &rules, &expected()),
            refused("DPoP proof algorithm not allowed")
        );
        let es256 = signer(Algorithm::ES256);
        let mut header = es256.header();
        header["jwk"] = oct;
        assert_eq!(
            check(&es256.sign(&header, &claims())),
            refused("DPoP proof `jwk` holds a private key")
        );
        header["jwk"] = json!({"kty": "oct"});
        assert_eq!(
            check(&es256.sign(&header, &claims())),
            refused("DPoP proof `jwk` is a symmetric key")
        );
    }

    #[test]
    fn key_refusals() {
        let es256 = signer(Algorithm::ES256);
        let with_jwk = |signer: &Signer, jwk: Value| {
            let mut header = signer.header();
            header["jwk"] = jwk;
            signer.sign(&header, &claims())
        };
        let changed = |signer: &Signer, name: &str, value: Value| {
            let mut jwk = signer.jwk.clone();
            jwk[name] = value;
            with_jwk(signer, jwk)
        };
        let removed = |signer: &Signer, name: &str| {
            let mut jwk = signer.jwk.clone();
            jwk.as_object_mut().unwrap().remove(name);
            with_jwk(signer, jwk)
        };
        let private = refused("DPoP proof `jwk` holds a private key");
        let fit = refused("DPoP proof `jwk` does not fit its algorithm");
        let lacks = refused("DPoP proof `jwk` lacks a member its `kty` needs");
        let bad = refused(KEY_INVALID);
        let rsa = signer(Algorithm::RS256);
        let ed = signer(Algorithm::EdDSA);
        let p384 = signer(Algorithm::ES384);
        let cases = [
            (changed(&es256, "d", json!("AAAA")), &private),
            (changed(&rsa, "p", json!("AAAA")), &private),
            (changed(&rsa, "qi", json!(null)), &private),
            (changed(&rsa, "oth", json!([])), &private),
            (changed(&ed, "d", json!("AAAA")), &private),
            (
                removed(&es256, "kty"),
                &refused("DPoP proof `jwk` has no string `kty`"),
            ),
            (
                changed(&es256, "kty", json!(1)),
                &refused("DPoP proof `jwk` has no string `kty`"),
            ),
            (changed(&es256, "kty", json!("RSA")), &fit),
            (changed(&es256, "kty", json!("ec")), &fit),
            (changed(&es256, "crv", json!("P-384")), &fit),
            (removed(&es256, "crv"), &fit),
            (changed(&ed, "crv", json!("Ed448")), &fit),
            (changed(&ed, "kty", json!("EC")), &fit),
            // A P-384 key claiming P-256.
            (
                with_jwk(
                    &es256,
                    json!({"kty": "EC", "crv": "P-256", "x": p384.jwk["x"], "y": p384.jwk["y"]}),
                ),
                &bad,
            ),
            (removed(&es256, "y"), &lacks),
            (changed(&es256, "x", json!(7)), &lacks),
            (removed(&rsa, "e"), &lacks),
            (changed(&es256, "x", json!("!".repeat(43))), &bad),
            (
                changed(
                    &es256,
                    "x",
                    json!(format!("{}=", &es256.jwk["x"].as_str().unwrap()[..42])),
                ),
                &bad,
            ),
            (
                changed(&rsa, "n", json!(URL_SAFE_NO_PAD.encode([0xC5; 128]))),
                &refused("DPoP proof RSA key is shorter than 2048 bits"),
            ),
            (
                changed(&rsa, "n", json!(URL_SAFE_NO_PAD.encode([0xC5; 1025]))),
                &bad,
            ),
            (changed(&rsa, "e", json!("AAEAAQ")), &bad),
        ];
        for (proof, outcome) in cases {
            assert_eq!(&check(&proof), outcome, "{proof}");
        }
        // A point that is not on the curve: aws-lc-rs finds it when it
        // parses the key, RustCrypto only when it is asked to verify.
        let off_curve = check(&changed(&es256, "y", es256.jwk["x"].clone()));
        assert!(
            off_curve == bad || off_curve == refused("DPoP proof signature does not verify"),
            "{off_curve:?}"
        );
        // Signed by another key than its `jwk`.
        let other = signer_from(Algorithm::ES256, "_other");
        assert_eq!(
            check(&with_jwk(&other, es256.jwk.clone())),
            refused("DPoP proof signature does not verify")
        );
        let mut proof = es256.proof();
        let last = proof.pop().unwrap();
        proof.push(if last == 'A' { 'Q' } else { 'A' });
        assert_eq!(
            check(&proof),
            refused("DPoP proof signature does not verify")
        );
    }

    #[test]
    fn claim_refusals() {
        let signer = signer(Algorithm::ES256);
        let with = |name: &str, value: Value| {
            let mut claims = claims();
            claims[name] = value;
            signer.sign(&signer.header(), &claims)
        };
        let without = |name: &str| {
            let mut claims = claims();
            claims.as_object_mut().unwrap().remove(name);
            signer.sign(&signer.header(), &claims)
        };
        let jti = refused("DPoP proof `jti` is not a string of 1 to 256 bytes");
        let htu = refused("DPoP proof `htu` is not the request's URI");
        let not_uri = refused("DPoP proof `htu` is not an http(s) URI");
        let iat = refused("DPoP proof `iat` is not a number");
        let old = refused("DPoP proof `iat` is too old");
        let future = refused("DPoP proof `iat` is in the future");
        let ath_mismatch = refused("DPoP proof `ath` does not match the access token");
        for (proof, outcome) in [
            (without("jti"), &refused("DPoP proof has no `jti`")),
            (with("jti", json!("")), &jti),
            (with("jti", json!(1)), &jti),
            (with("jti", json!("j".repeat(257))), &jti),
            (without("htm"), &refused("DPoP proof has no `htm`")),
            (
                with("htm", json!(["GET"])),
                &refused("DPoP proof `htm` is not a string"),
            ),
            (
                with("htm", json!(1)),
                &refused("DPoP proof `htm` is not a string"),
            ),
            (
                with("htm", json!("get")),
                &refused("DPoP proof `htm` is not the request's method"),
            ),
            (
                with("htm", json!("POST")),
                &refused("DPoP proof `htm` is not the request's method"),
            ),
            (without("htu"), &refused("DPoP proof has no `htu`")),
            (
                with("htu", json!(null)),
                &refused("DPoP proof `htu` is not a string"),
            ),
            (with("htu", json!("/orders")), &not_uri),
            (with("htu", json!("ftp://api.example.com/orders")), &not_uri),
            (
                with("htu", json!("https://user@api.example.com/orders")),
                &not_uri,
            ),
            (with("htu", json!("https://api.example.com/orders/")), &htu),
            (with("htu", json!("http://api.example.com/orders")), &htu),
            (
                with("htu", json!("https://api.example.com:8443/orders")),
                &htu,
            ),
            (with("htu", json!("https://api.example.com/Orders")), &htu),
            (without("iat"), &refused("DPoP proof has no `iat`")),
            (with("iat", json!(NOW.to_string())), &iat),
            (with("iat", json!(null)), &iat),
            (with("iat", json!(NOW - 301)), &old),
            (with("iat", json!(-1)), &old),
            (with("iat", json!(i64::MIN)), &old),
            (with("iat", json!(NOW + 61)), &future),
            (with("iat", json!(u64::MAX)), &future),
            (with("iat", json!(1e300)), &future),
            (without("ath"), &refused("DPoP proof has no `ath`")),
            (
                with("ath", json!(1)),
                &refused("DPoP proof `ath` is not a string"),
            ),
            (with("ath", json!(ath("another token"))), &ath_mismatch),
            (
                with("ath", json!(format!("{}=", ath(TOKEN)))),
                &ath_mismatch,
            ),
            (with("ath", json!(&ath(TOKEN)[..42])), &ath_mismatch),
            (with("ath", json!("")), &ath_mismatch),
            (
                with("nonce", json!(7)),
                &refused("DPoP proof `nonce` is not a string"),
            ),
        ] {
            assert_eq!(&check(&proof), outcome, "{proof}");
        }
        // A float `iat` within the window is a time like any other; one
        // past it, or out of any range, is refused.
        assert!(check(&with("iat", json!(NOW as f64 + 0.25))).is_ok());
        let text = |iat: &str| {
            format!(
                r#"{{"jti":"j","htm":"GET","htu":"{TARGET}","iat":{iat},"ath":"{}"}}"#,
                ath(TOKEN)
            )
        };
        for (iat, outcome) in [
            ("1e400", &iat),
            ("-1e400", &iat),
            ("-0", &old),
            ("1.6999e9", &old),
        ] {
            let proof = signer.sign_text(&signer.header().to_string(), &text(iat));
            assert_eq!(&check(&proof), outcome, "{iat}");
        }
    }

    #[test]
    fn duplicate_members_are_refused() {
        let signer = signer(Algorithm::ES256);
        let jwk = signer.jwk.to_string();
        let header = signer.header().to_string();
        let claims = claims().to_string();
        let body = |claims: &str| claims.strip_suffix('}').unwrap().to_owned();
        for (header, claims, description) in [
            (
                format!(r#"{{"typ":"dpop+jwt","alg":"ES256","alg":"ES256","jwk":{jwk}}}"#),
                claims.clone(),
                "DPoP proof header `alg` given twice",
            ),
            (
                format!(r#"{{"typ":"dpop+jwt","t\u0079p":"dpop+jwt","alg":"ES256","jwk":{jwk}}}"#),
                claims.clone(),
                "DPoP proof header `typ` given twice",
            ),
            (
                format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{jwk},"jwk":{jwk}}}"#),
                claims.clone(),
                "DPoP proof header `jwk` given twice",
            ),
            (
                format!(
                    r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{},"x":"{}"}}}}"#,
                    jwk.strip_suffix('}').unwrap(),
                    signer.jwk["x"].as_str().unwrap()
                ),
                claims.clone(),
                "DPoP proof `jwk` member `x` given twice",
            ),
            (
                header.clone(),
                format!(r#"{},"htu":"https://evil.example/"}}"#, body(&claims)),
                "DPoP proof claim `htu` given twice",
            ),
            (
                header.clone(),
                format!(r#"{},"iat":{NOW}}}"#, body(&claims)),
                "DPoP proof claim `iat` given twice",
            ),
            (
                header.clone(),
                format!(r#"{},"nonce":"a","nonce":"b"}}"#, body(&claims)),
                "DPoP proof claim `nonce` given twice",
            ),
        ] {
            let proof = signer.sign_text(&header, &claims);
            assert_eq!(check(&proof), refused(description), "{header} {claims}");
        }
        // Members nothing reads may repeat.
        let claims = format!(r#"{},"x":1,"x":2}}"#, body(&claims));
        assert!(check(&signer.sign_text(&header, &claims)).is_ok());
    }

    #[test]
    fn hostile_sizes_and_nesting() {
        let signer = signer(Algorithm::ES256);
        // 9 KiB: refused before anything is decoded.
        let mut claims = claims();
        claims["pad"] = json!("p".repeat(9 * 1024));
        let long = signer.sign(&signer.header(), &claims);
        assert_eq!(check(&long), refused("DPoP proof too long"));
        assert_eq!(check(&"a".repeat(1 << 20)), refused("DPoP proof too long"));

        // 200-deep arrays: skipped where nothing reads them, refused where
        // a string is needed, never recursed into.
        let deep = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let text = |extra: &str| {
            format!(
                r#"{{"jti":"j","htm":"GET","htu":"{TARGET}","iat":{NOW},"ath":"{}",{extra}}}"#,
                ath(TOKEN)
            )
        };
        let header = signer.header().to_string();
        let ok = signer.sign_text(&header, &text(&format!(r#""deep":{}"#, deep(200))));
        assert!(check(&ok).is_ok());
        let htm = format!(
            r#"{{"jti":"j","htm":{},"htu":"{TARGET}","iat":{NOW},"ath":"{}"}}"#,
            deep(200),
            ath(TOKEN)
        );
        assert_eq!(
            check(&signer.sign_text(&header, &htm)),
            refused("DPoP proof `htm` is not a string")
        );
        let nested_jwk = format!(
            r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{},"deep":{}}}}}"#,
            signer.jwk.to_string().strip_suffix('}').unwrap(),
            deep(200)
        );
        assert!(check(&signer.sign_text(&nested_jwk, &text(r#""a":1"#))).is_ok());

        // Far deeper than serde_json's recursion limit, in a larger proof.
        let rules = ProofRules {
            max_length: 1 << 20,
            ..rules()
        };
        let deepest = signer.sign_text(&header, &text(&format!(r#""deep":{}"#, deep(100_000))));
        assert!(check_with(&deepest, &rules, &expected()).is_ok());
        let unclosed = signer.sign_text(&header, &"[".repeat(100_000));
        assert_eq!(
            check_with(&unclosed, &rules, &expected()),
            malformed("DPoP proof claims are not a JSON object")
        );
        let objects = signer.sign_text(
            &header,
            &format!("{}{}", r#"{"a":"#.repeat(50_000), "}".repeat(50_000)),
        );
        assert_eq!(
            check_with(&objects, &rules, &expected()),
            malformed("DPoP proof claims are not a JSON object")
        );
    }

    #[test]
    fn the_access_token_is_redacted_in_debug() {
        let debug = format!("{:?}", expected());
        assert!(
            !debug.contains(TOKEN) && debug.contains("[redacted]"),
            "{debug}"
        );
    }
}
