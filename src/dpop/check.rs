//! [`DpopCheck`]: the DPoP rules of RFC 9449 §7 as a check after
//! verification (`crate::checks`).
//!
//! For a token sent as `Authorization: DPoP`, in this order: the issuer takes
//! DPoP, the token is DPoP-bound (`cnf.jkt`), exactly one proof, the proof
//! itself (`proof.rs`), its key is the token's (`jkt`), the server's nonce
//! when nonces are on, and last the proof id, seen once (the only step that
//! may wait, for a shared store). For a token sent any other way: refused when
//! DPoP-bound (RFC 9449 §7.2) or where DPoP is required.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::CryptoProvider;
use serde::Deserialize;

use super::nonce::DpopNonces;
use super::proof::{self, Expected, ProofRules};
use super::replay::{ReplayAnswer, ReplayCheck};
use super::target::{self, Base};
use super::{Dpop, DpopMode};
use crate::checks::{Carrier, Head, Step, TokenCheck, VerifiedToken};
use crate::clock::SharedClock;
use crate::crypto::{self, constant_time_eq};
use crate::error::{AuthError, AuthErrorKind, AuthScheme, Challenge, ConfigError};
use crate::peer::TrustedProxies;

/// The header that carries the proof.
const DPOP: &str = "dpop";

/// The DPoP check of one layer, built once.
#[derive(Debug)]
pub(crate) struct DpopCheck {
    /// The layer's mode.
    mode: DpopMode,
    /// Trusted issuers whose mode differs from the layer's, by `iss`.
    by_issuer: Vec<(String, DpopMode)>,
    rules: ProofRules,
    provider: &'static CryptoProvider,
    base: Option<Base>,
    proxies: Option<TrustedProxies>,
    nonces: Option<DpopNonces>,
    replay: ReplayCheck,
    clock: SharedClock,
    /// The challenge of this check's refusals: under `DPoP`.
    challenge: Arc<Challenge>,
}

impl DpopCheck {
    /// The check `dpop` describes, for a layer whose trusted issuers set
    /// `by_issuer` modes of their own.
    ///
    /// # Errors
    ///
    /// An empty or symmetric list of algorithms, a zero proof age or length,
    /// a public URL that is not an absolute `http(s)` URL.
    pub(crate) fn new(
        dpop: Dpop,
        by_issuer: Vec<(String, DpopMode)>,
        provider: &'static CryptoProvider,
        clock: SharedClock,
        challenge: &Challenge,
    ) -> Result<Self, ConfigError> {
        if dpop.algorithms.is_empty() {
            return Err(ConfigError::Empty {
                setting: "dpop algorithms",
            });
        }
        if let Some(&symmetric) = dpop.algorithms.iter().find(|a| is_hmac(**a)) {
            return Err(ConfigError::SymmetricDpopAlgorithm {
                algorithm: symmetric,
            });
        }
        if dpop.max_age.is_zero() {
            return Err(ConfigError::Empty {
                setting: "dpop proof_max_age",
            });
        }
        if dpop.max_length == 0 {
            return Err(ConfigError::Empty {
                setting: "dpop max_proof_length",
            });
        }
        let base = dpop.public_url.as_deref().map(Base::parse).transpose()?;
        let by_issuer = by_issuer
            .into_iter()
            .filter(|(_, mode)| *mode != dpop.mode)
            .collect();
        Ok(Self {
            mode: dpop.mode,
            by_issuer,
            rules: ProofRules {
                algorithms: dpop.algorithms,
                max_age: dpop.max_age.as_secs(),
                skew: dpop.skew.as_secs(),
                max_length: dpop.max_length,
            },
            provider,
            base,
            proxies: dpop.trusted_proxies,
            nonces: dpop.nonces,
            replay: dpop.replay,
            clock,
            challenge: Arc::new(Challenge {
                scheme: AuthScheme::Dpop,
                ..challenge.clone()
            }),
        })
    }

    /// The mode for a token with claims `payload`: its issuer's, or the
    /// layer's.
    fn mode_of(&self, payload: &str) -> DpopMode {
        if self.by_issuer.is_empty() {
            return self.mode;
        }
        #[derive(Deserialize)]
        struct Issuer<'a> {
            #[serde(borrow)]
            iss: Option<Cow<'a, str>>,
        }
        // The verifier has read `iss` (it chose the issuer by it).
        let iss = serde_json::from_str::<Issuer<'_>>(payload)
            .ok()
            .and_then(|i| i.iss);
        iss.and_then(|iss| {
            self.by_issuer
                .iter()
                .find(|(name, _)| *name == iss)
                .map(|(_, mode)| *mode)
        })
        .unwrap_or(self.mode)
    }

    /// A refusal under the `DPoP` challenge (with a fresh nonce, when nonces
    /// are on: the client needs one for its next proof anyway).
    fn refuse(&self, kind: AuthErrorKind, description: &'static str) -> Step {
        Step::Refuse(self.error(AuthError::new(kind, description)))
    }

    fn error(&self, error: AuthError) -> AuthError {
        let challenge = match &self.nonces {
            Some(nonces) => Arc::new(Challenge {
                dpop_nonce: Some(nonces.issue(self.clock.now()).into()),
                ..Challenge::clone(&self.challenge)
            }),
            None => Arc::clone(&self.challenge),
        };
        error.with_challenge(challenge)
    }

    /// The URL a proof of this request must name, normalized.
    fn target_of(&self, head: Head<'_>) -> Option<String> {
        if self.base.is_none()
            && let Some(proxies) = &self.proxies
            && proxies.trusts(head.extensions)
            && let Some(forwarded) = target::forwarded(head.headers)
        {
            return target::of_forwarded(&head, &forwarded);
        }
        target::of_request(&head, self.base.as_ref())
    }

    /// The checks of a token sent with the `DPoP` scheme.
    fn check_proof(&self, token: &VerifiedToken<'_>, head: Head<'_>, jkt: &str) -> Step {
        let mut proofs = head.headers.get_all(DPOP).iter();
        let (Some(proof), None) = (proofs.next(), proofs.next()) else {
            return match head.headers.contains_key(DPOP) {
                true => self.refuse(AuthErrorKind::MalformedRequest, "more than one DPoP proof"),
                false => self.refuse(AuthErrorKind::InvalidDpopProof, "no DPoP proof"),
            };
        };
        let Ok(proof) = proof.to_str() else {
            return self.refuse(AuthErrorKind::MalformedRequest, "DPoP proof is not a JWT");
        };
        let Some(target) = self.target_of(head) else {
            return self.refuse(
                AuthErrorKind::InvalidDpopProof,
                "the request's URL cannot be known",
            );
        };
        let now = self.clock.now();
        let expected = Expected {
            method: head.method,
            target: &target,
            access_token: token.text,
            now,
        };
        let proof = match proof::verify(self.provider, proof, &self.rules, &expected) {
            Ok(proof) => proof,
            Err(error) => return Step::Refuse(self.error(error)),
        };
        if !constant_time_eq(proof.jkt.as_bytes(), jkt.as_bytes()) {
            return self.refuse(
                AuthErrorKind::TokenBindingMismatch,
                "DPoP proof key is not the token's",
            );
        }
        if let Some(nonces) = &self.nonces
            && !proof
                .nonce
                .as_deref()
                .is_some_and(|n| nonces.accepts(n, now))
        {
            return self.refuse(
                AuthErrorKind::UseDpopNonce,
                "DPoP proof without this server's current nonce",
            );
        }
        let Some(id) = replay_id(jkt, &proof.jti) else {
            return self.refuse(
                AuthErrorKind::ReplayCheckUnavailable,
                "no SHA-256 for the DPoP replay check",
            );
        };
        // Remembered for as long as the proof could be accepted.
        let expires_at = proof
            .iat
            .max(now)
            .saturating_add(self.rules.max_age)
            .saturating_add(self.rules.skew);
        match self.replay.check(&id, expires_at, now) {
            ReplayAnswer::Ready(Ok(())) => Step::Pass,
            ReplayAnswer::Ready(Err(error)) => Step::Refuse(self.error(error)),
            ReplayAnswer::Waiting(answer) => {
                let challenge = Arc::clone(&self.challenge);
                Step::Wait(Box::pin(async move {
                    answer
                        .await
                        .map_err(|error| error.with_challenge(challenge))?;
                    Ok(http::Extensions::new())
                }))
            }
        }
    }
}

impl TokenCheck for DpopCheck {
    fn check(&self, token: &VerifiedToken<'_>, head: Head<'_>) -> Step {
        let jkt = token.confirmation.and_then(|c| c.jkt.as_deref());
        let mode = self.mode_of(token.payload);
        match (token.carrier, jkt) {
            (Carrier::Dpop, _) if mode == DpopMode::Off => self.refuse(
                AuthErrorKind::TokenBindingMismatch,
                "this issuer's tokens are not taken with DPoP",
            ),
            (Carrier::Dpop, None) => self.refuse(
                AuthErrorKind::TokenBindingMismatch,
                "token sent with DPoP is not DPoP-bound",
            ),
            (Carrier::Dpop, Some(jkt)) => self.check_proof(token, head, jkt),
            (_, Some(_)) => self.refuse(
                AuthErrorKind::TokenBindingMismatch,
                "DPoP-bound token sent as a bearer token",
            ),
            (_, None) if mode == DpopMode::Required => {
                self.refuse(AuthErrorKind::DpopRequired, "DPoP required")
            }
            (_, None) => Step::Pass,
        }
    }
}

/// The id a proof is remembered by: base64url(SHA-256(jkt "." jti)), so that
/// one client's ids never collide with another's, and a store holds 43
/// characters whatever the `jti` was.
fn replay_id(jkt: &str, jti: &str) -> Option<String> {
    let mut input = Vec::with_capacity(jkt.len() + 1 + jti.len());
    input.extend_from_slice(jkt.as_bytes());
    input.push(b'.');
    input.extend_from_slice(jti.as_bytes());
    crypto::sha256(&input).map(|digest| URL_SAFE_NO_PAD.encode(digest))
}

fn is_hmac(algorithm: jsonwebtoken::Algorithm) -> bool {
    use jsonwebtoken::Algorithm::{HS256, HS384, HS512};
    matches!(algorithm, HS256 | HS384 | HS512)
}
