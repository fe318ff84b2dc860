//! [`Authenticator`]: the built configuration, shared by the layer and every
//! service behind one `Arc`, and what it does per request: find the token,
//! verify it, run the checks after verification, refuse.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{Extensions, Request, Response};
use serde::de::DeserializeOwned;

use super::future::{Pending, Verdict};
use super::settings::Settings;
use crate::checks::{Carrier, Checks, Head, Outcome, Proves, TokenCheck, VerifiedToken};
use crate::claims::Claims;
use crate::crypto;
use crate::dpop::DpopCheck;
use crate::error::{AuthError, AuthScheme, Challenge, ConfigError};
use crate::mtls::CertificateBinding;
use crate::response::{ErrorResponder, refuse};
use crate::source::{Sources, TokenSource};
use crate::verify::{Verified, Verifier, VerifyError};

/// Everything a layer decides with, checked once. `C` is the claims type.
pub(crate) struct Authenticator<C, R> {
    verifier: Verifier,
    pub(super) sources: Sources,
    optional: bool,
    /// The checks after verification, in order.
    checks: Checks,
    /// What the challenges of a layer that takes DPoP offer; `None`: plain
    /// `Bearer`.
    challenge: Option<Challenges>,
    responder: R,
    _claims: PhantomData<fn() -> C>,
}

impl<C, R> Authenticator<C, R> {
    /// Checks `settings`, prepares the keys, and chooses the crypto provider
    /// (making it jsonwebtoken's process default when none was).
    ///
    /// # Errors
    ///
    /// No crypto provider; the verifier's errors ([`Verifier::new`]); an
    /// invalid source name; a certificate binding without SHA-256.
    pub(super) fn new(settings: Settings, responder: R) -> Result<Self, ConfigError> {
        let provider = crypto::select(settings.provider)?;
        let clock = settings.rules.clock.clone();
        let verifier = Verifier::new(provider, settings.issuer, settings.trusted, settings.rules)?;
        let mut sources = settings.sources;
        let (dpop, challenge) = match settings.dpop {
            Some(dpop) => {
                let challenge = dpop.challenge(&settings.dpop_by_issuer);
                if challenge.dpop_algorithms.is_some() {
                    // The default bearer source stays, beside the DPoP scheme:
                    // a bearer token where DPoP is required gets its own answer.
                    if sources.is_empty() {
                        sources.push(TokenSource::bearer());
                    }
                    sources.push(TokenSource::dpop());
                }
                let check =
                    DpopCheck::new(dpop, settings.dpop_by_issuer, provider, clock, &challenge)?;
                let challenges = Challenges {
                    dpop: Arc::new(Challenge {
                        scheme: AuthScheme::Dpop,
                        ..challenge.clone()
                    }),
                    bearer: Arc::new(challenge),
                };
                (
                    Some(Arc::new(check) as Arc<dyn TokenCheck>),
                    Some(challenges),
                )
            }
            None => match settings.dpop_by_issuer.first() {
                Some((issuer, _)) => {
                    return Err(ConfigError::NeedsSetting {
                        setting: "TrustedIssuer::dpop",
                        needs: "JwtAuthBuilder::dpop",
                        issuer: issuer.clone(),
                    });
                }
                None => (None, None),
            },
        };
        let sources = Sources::new(sources, settings.form_limit.0, settings.form_read_timeout.0)?;
        // The order of `checks`' module docs.
        let csrf = sources
            .has_cookie()
            .then(|| Arc::new(settings.csrf) as Arc<dyn TokenCheck>);
        let binding = settings
            .certificate_binding
            .map(CertificateBinding::into_check)
            .transpose()?;
        let proves = Proves {
            jkt: dpop.is_some(),
            x5t_s256: binding.is_some(),
        };
        let checks = Checks::new([csrf, binding, dpop, settings.revocation], proves);
        Ok(Self {
            verifier,
            sources,
            optional: settings.optional,
            checks,
            challenge,
            responder,
            _claims: PhantomData,
        })
    }
}

impl<C, R> Authenticator<C, R> {
    /// Removes the headers `request`'s peer may not send (a forwarded client
    /// certificate from a peer that is not a trusted proxy), first thing.
    pub(super) fn scrub<B>(&self, request: &mut Request<B>) {
        self.checks.scrub(request);
    }

    /// See [`JwtAuthLayer::skipped_keys`](super::JwtAuthLayer::skipped_keys).
    pub(super) fn skipped_keys(&self) -> usize {
        self.verifier.skipped_keys()
    }
}

impl<C, R> Authenticator<C, R>
where
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    R: ErrorResponder,
{
    /// The verdict on a request whose token, if any, is in its head.
    pub(super) fn authenticate<B>(
        self: &Arc<Self>,
        request: &Request<B>,
    ) -> Verdict<Option<Claims<C>>> {
        match self.sources.locate(request) {
            Ok(located) => {
                let carrier = self.sources.carrier(located.position);
                self.claims(located.token.as_deref(), carrier, request.into())
            }
            Err(error) => Verdict::Refuse(self.refuse(error)),
        }
    }

    /// The verdict on `token`; without one, no claims in optional mode, else
    /// the missing-token refusal.
    pub(super) fn claims(
        self: &Arc<Self>,
        token: Option<&str>,
        carrier: Carrier,
        head: Head<'_>,
    ) -> Verdict<Option<Claims<C>>> {
        let Some(token) = token else {
            return if self.optional {
                Verdict::Pass(None)
            } else {
                Verdict::Refuse(self.refuse(AuthError::missing_token()))
            };
        };
        match self.verifier.verify::<C>(token) {
            Ok(verified) => self.after_verify(verified, token, carrier, head),
            Err(VerifyError {
                retry: Some(refresh),
                ..
            }) => self.after_refresh(refresh, token, carrier, head),
            Err(rejected) => Verdict::Refuse(self.refuse_as(rejected.error, carrier)),
        }
    }

    /// The checks after verification, then the claims.
    fn after_verify(
        self: &Arc<Self>,
        verified: Verified<C>,
        token: &str,
        carrier: Carrier,
        head: Head<'_>,
    ) -> Verdict<Option<Claims<C>>> {
        let claims = Claims(verified.claims);
        let token = VerifiedToken {
            text: token,
            payload: verified.payload.as_str(),
            carrier,
            confirmation: None,
            may_be_bound: verified.may_be_bound,
        };
        match self.checks.run(&token, head) {
            Outcome::Pass => Verdict::Pass(Some(claims)),
            Outcome::Refuse(error) => Verdict::Refuse(self.refuse_as(error, carrier)),
            Outcome::Wait(check) => Verdict::Wait(self.defer(carrier, async move {
                let mut extensions = check.await?;
                extensions.insert(claims);
                Ok(extensions)
            })),
        }
    }

    /// A token whose key a feed may bring: waits for the refresh (shared with
    /// every request that needs it, rate-limited), then verifies once more; a
    /// key still missing is then a refusal.
    fn after_refresh(
        self: &Arc<Self>,
        refresh: BoxFuture<'static, ()>,
        token: &str,
        carrier: Carrier,
        head: Head<'_>,
    ) -> Verdict<Option<Claims<C>>> {
        let this = Arc::clone(self);
        let token = token.to_owned();
        let head = crate::checks::OwnedHead::from(head);
        Verdict::Wait(Box::pin(async move {
            refresh.await;
            let verified = match this.verifier.verify::<C>(&token) {
                Ok(verified) => verified,
                Err(rejected) => return Err(this.refuse_as(rejected.error, carrier)),
            };
            match this.after_verify(verified, &token, carrier, head.as_head()) {
                Verdict::Pass(claims) => Ok(extensions_with(claims)),
                Verdict::Refuse(response) => Err(response),
                Verdict::Wait(check) => check.await,
            }
        }))
    }

    /// `work`, whose refusal this layer's responder answers.
    fn defer(
        self: &Arc<Self>,
        carrier: Carrier,
        work: impl Future<Output = Result<Extensions, AuthError>> + Send + 'static,
    ) -> Pending {
        let this = Arc::clone(self);
        Box::pin(async move { work.await.map_err(|error| this.refuse_as(error, carrier)) })
    }
}

impl<C, R: ErrorResponder> Authenticator<C, R> {
    /// The response for a refused request, with the error in its extensions.
    pub(super) fn refuse(&self, error: AuthError) -> Response<Bytes> {
        self.refuse_as(error, Carrier::Bearer)
    }

    /// The response for a refused request whose token came by `carrier`: in
    /// a layer that takes DPoP, the challenge offers it, and the error goes
    /// under the `DPoP` scheme when the token came with it (RFC 9449 §7.1),
    /// unless the check that refused chose the challenge itself.
    fn refuse_as(&self, error: AuthError, carrier: Carrier) -> Response<Bytes> {
        let error = match &self.challenge {
            Some(challenges) if error.challenge().is_none() => {
                let challenge = match carrier {
                    Carrier::Dpop => &challenges.dpop,
                    Carrier::Bearer | Carrier::Cookie => &challenges.bearer,
                };
                error.with_challenge(Arc::clone(challenge))
            }
            _ => error,
        };
        refuse(&self.responder, error)
    }
}

/// The challenges of a layer that takes DPoP: for a token that came as a
/// bearer token (or none), and for one that came with the `DPoP` scheme.
#[derive(Debug)]
struct Challenges {
    bearer: Arc<Challenge>,
    dpop: Arc<Challenge>,
}

/// Extensions holding `claims`, if any.
fn extensions_with<C: Clone + Send + Sync + 'static>(claims: Option<Claims<C>>) -> Extensions {
    let mut extensions = Extensions::new();
    if let Some(claims) = claims {
        extensions.insert(claims);
    }
    extensions
}

impl<C, R> fmt::Debug for Authenticator<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("claims", &std::any::type_name::<C>())
            .field("sources", &self.sources)
            .field("verifier", &self.verifier)
            .field("optional", &self.optional)
            .field("checks", &self.checks)
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}
