//! Verification of one token: split, header, key, signature, claims.
//!
//! The order is fixed and every step fails closed:
//!
//! 1. the length, before anything is decoded; then, with a verified-token
//!    cache, the cache ([`cache`]: a hit skips to the end);
//! 2. exactly three base64url segments (no padding, no other characters);
//! 3. the header: `alg` in the allow-list (`none` can never be), no `crit`, the
//!    configured `typ`; `jku`, `x5u`, `jwk` and `x5c` are never read. With
//!    several trusted issuers, the (unverified) `iss` first chooses whose
//!    allow-list, keys and rules apply ([`trust`]);
//! 4. the keys whose `kid` and algorithm fit; the signature must verify with one.
//!    Keys of a remote set that has no key for the `kid` (or no keys yet) make
//!    the caller refetch once and verify again;
//! 5. the registered claims (time, issuer, audience, subject, required claims);
//! 6. the application's claims type.
//!
//! Steps 5 and 6 share one serde_json parse when they can: a light scan finds
//! the registered claims, and its verdict stands only once serde_json has
//! accepted the whole text as the claims type, that is, as well-formed JSON, on
//! which the scan and serde_json agree. Any other outcome is decided by
//! serde_json reading the registered claims first, in the order above.
//!
//! With the default aws-lc-rs provider, keys are parsed once, when the layer is
//! built ([`signature`]), or once per document of a remote key set; the header
//! and signature are decoded on the stack.

#[cfg(feature = "token-cache")]
pub(crate) mod cache;
mod claims;
mod header;
mod prepare;
mod signature;
pub(crate) mod trust;

use std::borrow::Cow;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::{DecodeSliceError, Engine as _};
use jsonwebtoken::Algorithm;
use jsonwebtoken::crypto::CryptoProvider;
use serde::de::{DeserializeOwned, DeserializeSeed};

use crate::clock::Clock;
use crate::error::{AuthError, AuthErrorKind};
use claims::{Registered, RegisteredSeed, audience_accepted, numeric_date, string_claim};
use header::{JoseHeader, same_media_type};
use signature::SignatureKey;
pub(crate) use signature::check_signature;
use trust::Trust;

pub(crate) use claims::MAX_EXTRA_REQUIRED;
pub(crate) use prepare::key_entries;

/// One key, ready for one algorithm.
pub(crate) struct KeyEntry {
    pub(crate) kid: Option<String>,
    pub(crate) algorithm: Algorithm,
    pub(crate) key: SignatureKey,
    /// Identifies the key across key-set refreshes.
    pub(crate) fingerprint: u64,
}

/// Decoded headers up to this size stay on the stack; a larger one (such as one
/// carrying an `x5c` chain, which is never read) is decoded into a `Vec`.
const HEADER_BUFFER: usize = 512;
/// The largest signature that stays on the stack: RSA-8192.
const SIGNATURE_BUFFER: usize = 1024;

/// Which claims must be present.
#[derive(Default)]
pub(crate) struct Required {
    pub(crate) exp: bool,
    pub(crate) nbf: bool,
    pub(crate) iat: bool,
    pub(crate) iss: bool,
    pub(crate) aud: bool,
    pub(crate) sub: bool,
    /// Other claim names, at most [`MAX_EXTRA_REQUIRED`].
    pub(crate) extra: Vec<String>,
}

/// Everything that decides whether a token is accepted, built once.
pub(crate) struct Verifier {
    pub(crate) provider: &'static CryptoProvider,
    /// Whom tokens may come from: one entry for a layer configured with keys,
    /// one per issuer for a layer with trusted issuers.
    pub(crate) trusts: Vec<Trust>,
    /// Whether the token's (unverified) `iss` chooses among `trusts`.
    pub(crate) by_issuer: bool,
    pub(crate) subject: Option<String>,
    pub(crate) required: Required,
    pub(crate) leeway: u64,
    pub(crate) typ: Option<String>,
    pub(crate) max_token_length: usize,
    pub(crate) clock: Arc<dyn Clock>,
    #[cfg(feature = "token-cache")]
    pub(crate) cache: Option<cache::TokenCache>,
    /// Whether verification also reads the token's identity for the
    /// revocation check.
    #[cfg(feature = "revocation")]
    pub(crate) token_info: bool,
}

/// A verified token.
#[derive(Debug)]
pub(crate) struct Verified<C> {
    pub(crate) claims: C,
    /// What the revocation check reads, when it is configured.
    #[cfg(feature = "revocation")]
    pub(crate) token: Option<crate::revocation::TokenInfo>,
}

/// Why a token was not verified, and, when a remote key set may know the key
/// after a refresh, which one to ask.
#[derive(Debug)]
pub(crate) struct VerifyError {
    pub(crate) error: AuthError,
    #[cfg(feature = "remote-jwks")]
    pub(crate) refresh: Option<crate::remote::RemoteKeySet>,
}

impl From<AuthError> for VerifyError {
    fn from(error: AuthError) -> Self {
        Self {
            error,
            #[cfg(feature = "remote-jwks")]
            refresh: None,
        }
    }
}

/// Decodes base64url into `buffer` when it surely fits, else into a new `Vec`.
fn decode_base64url<'b>(
    input: &str,
    buffer: &'b mut [u8],
) -> Result<Cow<'b, [u8]>, DecodeSliceError> {
    if base64::decoded_len_estimate(input.len()) <= buffer.len() {
        let len = URL_SAFE_NO_PAD.decode_slice(input, buffer)?;
        Ok(Cow::Borrowed(&buffer[..len]))
    } else {
        URL_SAFE_NO_PAD
            .decode(input)
            .map(Cow::Owned)
            .map_err(DecodeSliceError::DecodeError)
    }
}

fn malformed(what: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::MalformedToken, what)
}

fn malformed_because(
    what: &'static str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> AuthError {
    AuthError::with_source(AuthErrorKind::MalformedToken, what, e)
}

impl Verifier {
    /// Verifies `token` and returns its claims.
    pub(crate) fn verify<C>(&self, token: &str) -> Result<Verified<C>, VerifyError>
    where
        C: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        if token.len() > self.max_token_length {
            return Err(AuthError::new(AuthErrorKind::TokenTooLong, "token too long").into());
        }
        #[cfg(feature = "token-cache")]
        if let Some(cache) = &self.cache {
            if let Some(hit) = self.cached(cache, token) {
                return hit;
            }
            let (verified, provenance) = self.verify_fully::<C>(token)?;
            #[cfg(feature = "revocation")]
            let extra = verified.token.clone().map(|t| Arc::new(t) as _);
            #[cfg(not(feature = "revocation"))]
            let extra = None;
            cache.insert(token, &verified.claims, &provenance, extra);
            return Ok(verified);
        }
        self.verify_fully::<C>(token).map(|(verified, ..)| verified)
    }

    /// The cache's answer for `token`, if it has one. A hit first brings its
    /// issuer's remote key set up to date, which drops the entries of keys
    /// that left it, this one's perhaps.
    #[cfg(feature = "token-cache")]
    fn cached<C: Clone + 'static>(
        &self,
        cache: &cache::TokenCache,
        token: &str,
    ) -> Option<Result<Verified<C>, VerifyError>> {
        let now = self.clock.now() as f64;
        let leeway = self.leeway as f64;
        let mut lookup = cache.get::<C>(token, now, leeway);
        if let cache::Lookup::Hit { trust, .. } = lookup
            && self.trusts.get(trust).is_some_and(|t| {
                t.keys
                    .sync(self.provider, &|removed| cache.forget_keys(removed))
            })
        {
            lookup = cache.get::<C>(token, now, leeway);
        }
        match lookup {
            #[cfg_attr(not(feature = "revocation"), allow(unused_variables))]
            cache::Lookup::Hit { claims, extra, .. } => Some(Ok(Verified {
                claims,
                #[cfg(feature = "revocation")]
                token: extra.and_then(|e| e.downcast_ref().cloned()),
            })),
            cache::Lookup::Refused(error) => Some(Err(error.into())),
            cache::Lookup::Miss => None,
        }
    }

    /// Verifies `token` from scratch; also returns its validity period and the
    /// fingerprint of the key that verified it.
    fn verify_fully<C: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<(Verified<C>, Provenance), VerifyError> {
        let mut segments = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(malformed("token is not three segments").into());
        };
        let signed_part = &token[..header_b64.len() + 1 + payload_b64.len()];

        let mut header_buffer = [0; HEADER_BUFFER];
        let header_json = decode_base64url(header_b64, &mut header_buffer)
            .map_err(|e| malformed_because("header is not base64url", e))?;
        // serde_json does not check the UTF-8 of strings it skips: check it all
        // here (RFC 7515 §4: the header is UTF-8 JSON).
        let header_json = std::str::from_utf8(&header_json)
            .map_err(|e| malformed_because("header is not UTF-8", e))?;
        let header: JoseHeader<'_> = serde_json::from_str(header_json)
            .map_err(|e| malformed_because("header is not a JOSE header", e))?;
        let algorithm: Algorithm = header.alg.parse().map_err(|_| not_allowed())?;
        // One set of rules: the algorithm is checked first, as with static keys
        // it always was; with several issuers, once the issuer is known.
        let single = (!self.by_issuer).then(|| &self.trusts[0]);
        if single.is_some_and(|t| !t.algorithms.contains(&algorithm)) {
            return Err(not_allowed().into());
        }
        if header.crit {
            return Err(AuthError::new(
                AuthErrorKind::UnsupportedCritical,
                "unsupported critical header parameter",
            )
            .into());
        }
        if let Some(expected) = &self.typ
            && !header
                .typ
                .as_deref()
                .is_some_and(|t| same_media_type(t, expected))
        {
            return Err(AuthError::new(AuthErrorKind::InvalidType, "unexpected token type").into());
        }

        // With several issuers, the unverified `iss` chooses whose keys and
        // rules apply; the token is then verified by those alone.
        let mut payload = None;
        let (position, trust) = match single {
            Some(trust) => (0, trust),
            None => {
                let text = decode_payload(payload_b64)?;
                let (position, trust) = self.trust_of(&text)?;
                if !trust.algorithms.contains(&algorithm) {
                    return Err(not_allowed().into());
                }
                payload = Some(text);
                (position, trust)
            }
        };

        let mut signature_buffer = [0; SIGNATURE_BUFFER];
        let signature = decode_base64url(signature_b64, &mut signature_buffer)
            .map_err(|e| malformed_because("signature is not base64url", e))?;
        let key = trust.keys.check_signature(
            self.provider,
            header.kid.as_deref(),
            algorithm,
            signed_part.as_bytes(),
            &signature,
            &|removed| self.forget_keys(removed),
        )?;

        let payload = match payload {
            Some(payload) => payload,
            None => decode_payload(payload_b64)?,
        };
        let payload = payload.as_str();
        // The quick scan's verdict stands only once serde_json has accepted the
        // whole text as `C`; otherwise the full reader decides, in the order
        // of the module docs (registered claims, then the claims type).
        if let Some(registered) = claims::scan(payload, &self.required.extra)
            && let Ok(times) = self.check_registered_claims(trust, registered)
            && let Ok(claims) = serde_json::from_str(payload)
        {
            let provenance = Provenance {
                times,
                key,
                trust: position,
            };
            return Ok((self.verified(claims, payload)?, provenance));
        }
        let times = self.check_registered_claims(trust, self.read_registered_claims(payload)?)?;
        let claims = serde_json::from_str(payload).map_err(|e| {
            AuthError::with_source(
                AuthErrorKind::InvalidClaims,
                "claims do not match the expected shape",
                e,
            )
        })?;
        let provenance = Provenance {
            times,
            key,
            trust: position,
        };
        Ok((self.verified(claims, payload)?, provenance))
    }

    /// The verified token, with what the revocation check needs of it.
    #[cfg_attr(not(feature = "revocation"), allow(unused_variables))]
    fn verified<C>(&self, claims: C, payload: &str) -> Result<Verified<C>, AuthError> {
        Ok(Verified {
            claims,
            #[cfg(feature = "revocation")]
            token: if self.token_info {
                // Only a duplicate `jti` is left to refuse here: two readers
                // could disagree on which token this is.
                let token = crate::revocation::TokenInfo::from_payload(payload)
                    .ok_or_else(|| malformed("claim `jti` given twice"))?;
                Some(token)
            } else {
                None
            },
        })
    }

    /// Drops the cached tokens of keys that left a key set.
    #[cfg_attr(not(feature = "token-cache"), allow(unused_variables))]
    fn forget_keys(&self, removed: &[u64]) {
        #[cfg(feature = "token-cache")]
        if let Some(cache) = &self.cache {
            cache.forget_keys(removed);
        }
    }

    /// The trusted issuer named by the (not yet verified) claims.
    fn trust_of(&self, payload: &str) -> Result<(usize, &Trust), AuthError> {
        let registered = self.read_registered_claims(payload)?;
        let iss = registered
            .iss
            .ok_or_else(|| AuthError::new(AuthErrorKind::MissingClaim, "missing claim `iss`"))?;
        let iss = string_claim(iss, "claim `iss` is not a string")?;
        self.trusts
            .iter()
            .enumerate()
            .find(|(_, t)| t.issuers.iter().any(|i| *i == iss))
            .ok_or_else(|| AuthError::new(AuthErrorKind::InvalidIssuer, "issuer not accepted"))
    }
}

fn not_allowed() -> AuthError {
    AuthError::new(AuthErrorKind::AlgorithmNotAllowed, "algorithm not allowed")
}

/// The claims segment as UTF-8 text.
fn decode_payload(payload_b64: &str) -> Result<String, AuthError> {
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|e| malformed_because("claims are not base64url", e))?;
    String::from_utf8(payload).map_err(|e| malformed_because("claims are not UTF-8", e))
}

/// The validity period of a verified token.
#[derive(Clone, Copy, Default)]
pub(crate) struct Times {
    pub(crate) exp: Option<f64>,
    pub(crate) nbf: Option<f64>,
}

/// How a token was verified: its validity period, the fingerprint of the key
/// that verified it, and the position of its issuer among the layer's.
#[cfg_attr(not(feature = "token-cache"), allow(dead_code))]
pub(crate) struct Provenance {
    pub(crate) times: Times,
    pub(crate) key: u64,
    pub(crate) trust: usize,
}

impl Verifier {
    /// The registered claims, read by serde_json whatever the text holds.
    fn read_registered_claims<'p>(&self, payload: &'p str) -> Result<Registered<'p>, AuthError> {
        let mut json = serde_json::Deserializer::from_str(payload);
        RegisteredSeed {
            extra: &self.required.extra,
        }
        .deserialize(&mut json)
        .and_then(|claims| json.end().map(|()| claims))
        .map_err(|e| malformed_because("claims are not a JSON object", e))
    }

    fn check_registered_claims(
        &self,
        trust: &Trust,
        claims: Registered<'_>,
    ) -> Result<Times, AuthError> {
        let r = &self.required;
        // One bit per extra required claim, all of them set.
        let all_extra = match r.extra.len() {
            0 => 0,
            n => u64::MAX >> (64 - n),
        };
        for (needed, present, what) in [
            (r.exp, claims.exp.is_some(), "missing claim `exp`"),
            (r.nbf, claims.nbf.is_some(), "missing claim `nbf`"),
            (r.iat, claims.iat.is_some(), "missing claim `iat`"),
            // A configured issuer or audience can only be checked if present.
            (
                r.iss || !trust.issuers.is_empty(),
                claims.iss.is_some(),
                "missing claim `iss`",
            ),
            (
                r.aud || !trust.audiences.is_empty(),
                claims.aud.is_some(),
                "missing claim `aud`",
            ),
            (r.sub, claims.sub.is_some(), "missing claim `sub`"),
            (
                true,
                claims.extra_present == all_extra,
                "missing required claim",
            ),
        ] {
            if needed && !present {
                return Err(AuthError::new(AuthErrorKind::MissingClaim, what));
            }
        }

        // Whole seconds from the clock; NumericDates may be fractional (RFC 7519 §2).
        let now = self.clock.now() as f64;
        let leeway = self.leeway as f64;
        // RFC 7519 §4.1.4: `exp` is the first instant the token MUST NOT be accepted.
        let mut times = Times::default();
        if let Some(exp) = claims.exp {
            let exp = numeric_date(exp, "claim `exp` is not a number")?;
            if now >= exp + leeway {
                return Err(AuthError::new(AuthErrorKind::Expired, "token expired"));
            }
            times.exp = Some(exp);
        }
        if let Some(nbf) = claims.nbf {
            let nbf = numeric_date(nbf, "claim `nbf` is not a number")?;
            if now + leeway < nbf {
                return Err(AuthError::new(
                    AuthErrorKind::NotYetValid,
                    "token not yet valid",
                ));
            }
            times.nbf = Some(nbf);
        }
        if let Some(iat) = claims.iat {
            numeric_date(iat, "claim `iat` is not a number")?;
        }
        if let Some(iss) = claims.iss {
            let iss = string_claim(iss, "claim `iss` is not a string")?;
            if !trust.issuers.is_empty() && !trust.issuers.iter().any(|i| *i == iss) {
                return Err(AuthError::new(
                    AuthErrorKind::InvalidIssuer,
                    "issuer not accepted",
                ));
            }
        }
        if let Some(sub) = claims.sub {
            let sub = string_claim(sub, "claim `sub` is not a string")?;
            if self.subject.as_ref().is_some_and(|s| *s != sub) {
                return Err(AuthError::new(
                    AuthErrorKind::InvalidSubject,
                    "subject not accepted",
                ));
            }
        }
        if let Some(aud) = claims.aud {
            // RFC 7519 §4.1.3: a recipient that does not identify itself with a value
            // of a present `aud` MUST reject the token, so an `aud` is refused
            // when no audience is configured.
            if !audience_accepted(aud, &trust.audiences)? {
                return Err(AuthError::new(
                    AuthErrorKind::InvalidAudience,
                    "audience not accepted",
                ));
            }
        }
        Ok(times)
    }
}
