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

use super::forward::{Forward, is_preflight};
use super::future::{Accepted, Grant, Pending, Verdict};
use super::settings::Settings;
use crate::checks::{Carrier, Checks, Head, Outcome, Proves, TokenCheck, VerifiedToken};
use crate::claims::Claims;
use crate::crypto;
use crate::dpop::DpopCheck;
use crate::error::{AuthError, AuthScheme, Challenge, ConfigError, TokenChallenge};
use crate::expiry::TokenExpiry;
use crate::metrics;
use crate::mtls::CertificateBinding;
use crate::resource_metadata::{LayerFacts, Published, ResourceMetadata};
use crate::response::{ErrorResponder, refuse};
use crate::source::{Sources, TokenSource};
use crate::verify::introspect::PendingIntrospection;
use crate::verify::{IssuerConfig, Verified, Verifier, VerifyError};

/// Everything a layer decides with, checked once. `C` is the claims type.
pub(crate) struct Authenticator<C, R> {
    verifier: Verifier,
    pub(super) sources: Sources,
    optional: bool,
    /// Whether an accepted request gains its token's [`TokenExpiry`].
    token_expiry: bool,
    /// The checks after verification, in order.
    checks: Checks,
    /// Claims forwarded as headers, when configured.
    forward: Option<Forward>,
    /// CORS preflights pass without a token.
    bypass_cors_preflight: bool,
    /// What the challenges of a layer that takes DPoP offer; `None`: plain
    /// `Bearer`.
    challenge: Option<Challenges>,
    /// The protected resource metadata document, when the layer publishes
    /// one.
    metadata: Option<Arc<Published>>,
    responder: R,
    _claims: PhantomData<fn() -> C>,
}

impl<C, R> Authenticator<C, R> {
    /// Checks `settings`, prepares the keys, and chooses the crypto provider
    /// (making it jsonwebtoken's process default when none was).
    ///
    /// # Errors
    ///
    /// The JWT access token profile without an issuer or audience; no crypto
    /// provider; the verifier's errors ([`Verifier::new`]); an invalid source
    /// name; a certificate binding without SHA-256; resource metadata that
    /// cannot be published (its URLs, scopes or fields).
    pub(super) fn new(mut settings: Settings, responder: R) -> Result<Self, ConfigError> {
        if settings.access_token_profile {
            super::profile::apply(&mut settings.rules, &settings.issuer, &settings.trusted)?;
        }
        let provider = crypto::select(settings.provider)?;
        metrics::describe();
        let clock = settings.rules.clock.clone();
        // Checked first: every challenge below names its URL.
        let metadata = settings
            .resource_metadata
            .map(ResourceMetadata::check)
            .transpose()?;
        let metadata_url = metadata.as_ref().map(|m| Arc::clone(m.url()));
        let issuers = match &metadata {
            Some(_) => issuer_names(&settings.issuer, &settings.trusted),
            None => Vec::new(),
        };
        settings.rules.note_identity = settings.revocation.is_some();
        let verifier = Verifier::new(provider, settings.issuer, settings.trusted, settings.rules)?;
        let mut sources = settings.sources;
        let (dpop, challenge) = match settings.dpop {
            Some(dpop) => {
                let mut challenge = dpop.challenge(&settings.dpop_by_issuer);
                challenge.resource_metadata = metadata_url;
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
                // Without DPoP, a challenge of the layer's own only to name
                // its metadata.
                None => (
                    None,
                    metadata_url.map(|url| {
                        let bearer = Arc::new(Challenge::bearer_with_metadata(url));
                        Challenges {
                            dpop: Arc::clone(&bearer),
                            bearer,
                        }
                    }),
                ),
            },
        };
        let sources = Sources::new(sources, settings.form_limit.0, settings.form_read_timeout.0)?;
        let certificate_header = settings
            .certificate_binding
            .as_ref()
            .and_then(CertificateBinding::header)
            .cloned();
        let csrf_header = sources
            .has_cookie()
            .then(|| settings.csrf.header().cloned())
            .flatten();
        let forward = Forward::new(
            settings.claim_headers,
            settings.payload_header,
            sources
                .header_names()
                .chain(certificate_header.as_ref())
                .chain(csrf_header.as_ref()),
        )?;
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
        let metadata = match metadata {
            Some(metadata) => {
                let facts = layer_facts(issuers, challenge.as_ref(), &sources, proves);
                Some(Arc::new(metadata.publish(facts)?))
            }
            None => None,
        };
        let checks = Checks::new([csrf, binding, dpop, settings.revocation], proves);
        Ok(Self {
            verifier,
            sources,
            optional: settings.optional,
            token_expiry: settings.token_expiry,
            checks,
            forward,
            bypass_cors_preflight: settings.bypass_cors_preflight,
            challenge,
            metadata,
            responder,
            _claims: PhantomData,
        })
    }
}

impl<C, R> Authenticator<C, R> {
    /// Removes the headers `request`'s peer may not send (a forwarded client
    /// certificate from a peer that is not a trusted proxy, any copy of the
    /// headers the layer forwards claims in), first thing.
    pub(super) fn scrub<B>(&self, request: &mut Request<B>) {
        if let Some(forward) = &self.forward {
            forward.strip(request.headers_mut());
        }
        self.checks.scrub(request);
    }

    /// Takes the token entries out of `request`'s `Sec-WebSocket-Protocol`
    /// list once the token is read, in a layer with a WebSocket subprotocol
    /// source (see [`TokenSource::websocket_protocol_with_prefix`]); nothing
    /// in any other.
    #[inline]
    pub(super) fn remove_tokens<B>(&self, request: &mut Request<B>) {
        self.sources.remove_tokens(request.headers_mut());
    }

    /// Whether `request` is a CORS preflight that passes without a token.
    #[inline]
    pub(super) fn lets_through<B>(&self, request: &Request<B>) -> bool {
        self.bypass_cors_preflight && is_preflight(request)
    }

    /// See [`JwtAuthLayer::skipped_keys`](super::JwtAuthLayer::skipped_keys).
    pub(super) fn skipped_keys(&self) -> usize {
        self.verifier.skipped_keys()
    }

    /// The metadata document, when the layer publishes one.
    pub(super) fn metadata(&self) -> Option<&Arc<Published>> {
        self.metadata.as_ref()
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
    ) -> Verdict<Option<Accepted<C>>> {
        if self.lets_through(request) {
            return Verdict::Pass(None);
        }
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
    ) -> Verdict<Option<Accepted<C>>> {
        let Some(token) = token else {
            return if self.optional {
                metrics::anonymous();
                Verdict::Pass(None)
            } else {
                Verdict::Refuse(self.refuse(AuthError::missing_token()))
            };
        };
        let decide = || match self.verifier.verify::<C>(token) {
            Ok(verified) => self.after_verify(verified, token, carrier, head),
            Err(VerifyError {
                retry: Some(refresh),
                ..
            }) => self.after_refresh(refresh, token, carrier, head),
            Err(VerifyError {
                introspection: Some(pending),
                ..
            }) => self.after_introspection(pending, token, carrier, head),
            Err(rejected) => Verdict::Refuse(self.refuse_as(rejected.error, carrier)),
        };
        // Through `timed`: a verdict held in a local and then returned cost
        // the fast path a `memcpy`, even with nothing to record.
        metrics::timed(decide, |verdict, started| match verdict {
            Verdict::Wait(pending) => metrics::decided_later(started, pending),
            decided => metrics::decided(started, matches!(decided, Verdict::Pass(_))),
        })
    }

    /// The checks after verification, then the claims.
    fn after_verify(
        self: &Arc<Self>,
        verified: Verified<C>,
        token: &str,
        carrier: Carrier,
        head: Head<'_>,
    ) -> Verdict<Option<Accepted<C>>> {
        let claims = Claims(verified.claims);
        // Made only for a token the checks do not refuse.
        let forwarded = || match &self.forward {
            Some(forward) => forward.headers(verified.payload.as_str()),
            None => None,
        };
        let token = VerifiedToken {
            text: token,
            payload: verified.payload.as_str(),
            carrier,
            confirmation: None,
            may_be_bound: verified.may_be_bound,
            identity: verified.identity,
        };
        let issuer = verified.issuer;
        match self.checks.run(&token, head) {
            // Built here, not before the checks: moved across them, it cost
            // the fast path a `memcpy` (BENCHMARKS.md, step-up).
            Outcome::Pass(gain) => {
                metrics::accepted(self.verifier.issuer_labels(), issuer);
                Verdict::Pass(Some(Accepted {
                    claims,
                    challenge: self.token_challenge(carrier),
                    expiry: self.token_expiry(&token),
                    forwarded: forwarded(),
                    gain,
                }))
            }
            Outcome::Refuse(error) => Verdict::Refuse(self.refuse_as(error, carrier)),
            Outcome::Wait(check) => {
                let accepted = Accepted {
                    claims,
                    challenge: self.token_challenge(carrier),
                    expiry: self.token_expiry(&token),
                    forwarded: forwarded(),
                    gain: None,
                };
                let acceptance = metrics::Acceptance::new(self.verifier.issuer_labels(), issuer);
                Verdict::Wait(self.defer(carrier, async move {
                    let mut extensions = check.await?;
                    acceptance.record();
                    Some(accepted).grant_deferred(&mut extensions);
                    Ok(extensions)
                }))
            }
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
    ) -> Verdict<Option<Accepted<C>>> {
        let this = Arc::clone(self);
        let token = token.to_owned();
        let head = crate::checks::OwnedHead::from(head);
        Verdict::Wait(Box::pin(async move {
            refresh.await;
            let verified = match this.verifier.verify::<C>(&token) {
                Ok(verified) => verified,
                Err(rejected) => return Err(this.refuse_as(rejected.error, carrier)),
            };
            this.finish(verified, &token, carrier, head.as_head()).await
        }))
    }

    /// An opaque token that the cache could not decide: waits for the
    /// authorization server's answer (shared with every request that carries
    /// the same token), checks its claims, then runs the checks after
    /// verification as for a JWT.
    fn after_introspection(
        self: &Arc<Self>,
        pending: PendingIntrospection,
        token: &str,
        carrier: Carrier,
        head: Head<'_>,
    ) -> Verdict<Option<Accepted<C>>> {
        let this = Arc::clone(self);
        let token = token.to_owned();
        let head = crate::checks::OwnedHead::from(head);
        Verdict::Wait(Box::pin(async move {
            let verified = match pending.answer.await {
                Ok(payload) => this.verifier.introspected::<C>(pending.trust, payload),
                Err(error) => Err(error),
            };
            let verified = verified.map_err(|error| this.refuse_as(error, carrier))?;
            this.finish(verified, &token, carrier, head.as_head()).await
        }))
    }

    /// What a token verified after a wait gains: the checks after
    /// verification and the grant, as [`after_verify`](Self::after_verify)
    /// gives a token verified at once.
    async fn finish(
        self: &Arc<Self>,
        verified: Verified<C>,
        token: &str,
        carrier: Carrier,
        head: Head<'_>,
    ) -> Result<Extensions, Response<Bytes>> {
        match self.after_verify(verified, token, carrier, head) {
            Verdict::Pass(accepted) => {
                let mut extensions = Extensions::new();
                accepted.grant_deferred(&mut extensions);
                Ok(extensions)
            }
            Verdict::Refuse(response) => Err(response),
            Verdict::Wait(check) => check.await,
        }
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
    /// In a layer that takes DPoP, the challenge of a token that came by
    /// `carrier`, for the layers behind; `None` (nothing to insert) in any
    /// other.
    #[inline]
    fn token_challenge(&self, carrier: Carrier) -> Option<TokenChallenge> {
        let challenges = self.challenge.as_ref()?;
        Some(TokenChallenge(Arc::clone(challenges.of(carrier))))
    }

    /// In a layer built with `token_expiry`, when the accepted `token`
    /// expires; `None` (nothing to insert) in any other.
    #[inline]
    fn token_expiry(&self, token: &VerifiedToken<'_>) -> Option<TokenExpiry> {
        self.token_expiry
            .then(|| TokenExpiry::from_exp(self.verifier.expiry(token.payload)))
    }

    /// The response for a refused request, with the error in its extensions.
    pub(super) fn refuse(&self, error: AuthError) -> Response<Bytes> {
        self.refuse_as(error, Carrier::Bearer)
    }

    /// The response for a refused request whose token came by `carrier`: in
    /// a layer that takes DPoP, the challenge offers it, and the error goes
    /// under the `DPoP` scheme when the token came with it (RFC 9449 §7.1),
    /// unless the check that refused chose the challenge itself.
    fn refuse_as(&self, error: AuthError, carrier: Carrier) -> Response<Bytes> {
        metrics::refused(error.kind());
        let error = match &self.challenge {
            Some(challenges) if error.challenge().is_none() => {
                error.with_challenge(Arc::clone(challenges.of(carrier)))
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

impl Challenges {
    /// The one of a token that came by `carrier`.
    fn of(&self, carrier: Carrier) -> &Arc<Challenge> {
        match carrier {
            Carrier::Dpop => &self.dpop,
            Carrier::Bearer | Carrier::Cookie => &self.bearer,
        }
    }
}

/// What a layer with these `issuers`, `challenges`, `sources` and checks
/// that prove `proves` says of itself in its resource metadata.
fn layer_facts(
    issuers: Vec<String>,
    challenges: Option<&Challenges>,
    sources: &Sources,
    proves: Proves,
) -> LayerFacts {
    let bearer = challenges.is_none_or(|c| c.bearer.bearer);
    let dpop_algorithms = challenges.and_then(|c| c.bearer.dpop_algorithms.clone());
    LayerFacts {
        issuers,
        bearer_methods: if bearer {
            sources.bearer_methods()
        } else {
            Vec::new()
        },
        dpop_required: dpop_algorithms.is_some() && !bearer,
        dpop_algorithms,
        certificate_bound: proves.x5t_s256,
    }
}

/// The issuers a layer accepts, by name: its own, then its trusted
/// issuers'.
fn issuer_names(own: &IssuerConfig, trusted: &[IssuerConfig]) -> Vec<String> {
    std::iter::once(own)
        .chain(trusted)
        .flat_map(|issuer| issuer.issuers.iter().cloned())
        .collect()
}

impl<C, R> fmt::Debug for Authenticator<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("claims", &std::any::type_name::<C>())
            .field("sources", &self.sources)
            .field("verifier", &self.verifier)
            .field("optional", &self.optional)
            .field("checks", &self.checks)
            .field("forward", &self.forward)
            .field("bypass_cors_preflight", &self.bypass_cors_preflight)
            .field("challenge", &self.challenge)
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}
