//! Verification of one token: split, header, key, signature, claims.
//!
//! The order is fixed and every step fails closed:
//!
//! 1. the length, before anything is decoded; then, with introspection
//!    configured, a token that is not a JWS compact serialization goes to the
//!    authorization server ([`introspect`]) and its answer to step 5; then,
//!    with a verified-token cache, the cache ([`cache`]: a hit skips to the
//!    end);
//! 2. exactly three base64url segments (no padding, no other characters);
//! 3. the header: `alg` in the allow-list (`none` can never be), no `crit`, the
//!    configured `typ`; `jku`, `x5u`, `jwk` and `x5c` are never read. With
//!    several trusted issuers, the (unverified) `iss` first chooses whose
//!    allow-list, keys and rules apply ([`trust`]);
//! 4. the keys whose `kid` and algorithm fit; the signature must verify with one
//!    ([`signature`]). Keys of a feed that has no key for the `kid` (or no keys
//!    yet) make the caller refresh once and verify again ([`key_source`]);
//! 5. the registered claims (time, issuer, audience, subject, required claims:
//!    [`claims`]);
//! 6. the application's claims type.
//!
//! Steps 5 and 6 share one serde_json parse when they can: a light scan finds
//! the registered claims, and its verdict stands only once serde_json has
//! accepted the whole text as the claims type, that is, as well-formed JSON, on
//! which the scan and serde_json agree. Any other outcome is decided by
//! serde_json reading the registered claims first, in the order above.
//!
//! With the default aws-lc-rs provider, keys are parsed once, when the layer is
//! built ([`signature`]), or once per set of a feed; the header and signature
//! are decoded on the stack.
//!
//! The key types, from the configuration to the check: a [`Key`](crate::Key)
//! (public, as given) becomes one [`KeyEntry`] per algorithm it may verify
//! ([`prepare`]); a [`KeySource`](key_source::KeySource) holds the entries of
//! one issuer, static or from a feed; a [`Trust`](trust::Trust) is one issuer's
//! keys and rules, made from its [`IssuerConfig`].

mod cache;
mod claims;
mod header;
pub(crate) mod introspect;
pub(crate) mod key_source;
pub(crate) mod prepare;
pub(crate) mod prepared_keys;
mod signature;
mod trust;

// The member walk of the quick scan, for the revocation check's own reading.
#[cfg(feature = "revocation")]
pub(crate) use claims::members;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::{DecodeSliceError, Engine as _};
use futures_util::future::BoxFuture;
use jsonwebtoken::Algorithm;
use jsonwebtoken::crypto::CryptoProvider;
use serde::de::DeserializeOwned;

use crate::clock::{DEFAULT_LEEWAY, SharedClock};
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::metrics;
use cache::{Lookup, Provenance, TokenCache};
use claims::{ClaimRules, Registered, TimeChecks, read_registered, string_claim};
use header::JoseHeader;
use introspect::{Introspected, Introspecting, PendingIntrospection, is_compact_jws};
use trust::Trust;

pub(crate) use claims::IdentitySpans;
pub(crate) use header::same_media_type;
pub(crate) use signature::{SignatureKey, check_signature};
pub(crate) use trust::IssuerConfig;

/// The default maximum token length: 8 KiB.
pub const DEFAULT_MAX_TOKEN_LENGTH: usize = 8 * 1024;

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

/// The verifier's settings beyond each issuer's keys and rules, as configured.
#[derive(Debug)]
pub(crate) struct Rules {
    pub(crate) subject: Option<String>,
    pub(crate) required_claims: Vec<String>,
    pub(crate) leeway: Duration,
    pub(crate) typ: Option<String>,
    pub(crate) max_token_length: usize,
    pub(crate) clock: SharedClock,
    /// The capacity of the verified-token cache, if there is one.
    pub(crate) token_cache: Option<usize>,
    /// `JwtAuthBuilder::dangerous_skip_exp_check`: a present `exp` is not
    /// compared with the clock.
    pub(crate) skip_exp_check: bool,
    /// `JwtAuthBuilder::dangerous_skip_nbf_check`: a present `nbf` is not
    /// compared with the clock.
    pub(crate) skip_nbf_check: bool,
    /// Whether a check after verification reads the token's identity (the
    /// revocation check): then the verifier notes where its claims are.
    pub(crate) note_identity: bool,
}

impl Default for Rules {
    /// `exp` required, `exp` and `nbf` compared with the clock, a 60 s
    /// leeway, tokens up to 8 KiB, any `typ`, the system clock, no cache.
    fn default() -> Self {
        Self {
            subject: None,
            required_claims: vec!["exp".to_owned()],
            leeway: DEFAULT_LEEWAY,
            typ: None,
            max_token_length: DEFAULT_MAX_TOKEN_LENGTH,
            clock: SharedClock::default(),
            token_cache: None,
            skip_exp_check: false,
            skip_nbf_check: false,
            note_identity: false,
        }
    }
}

/// Everything that decides whether a token is accepted, built once.
pub(crate) struct Verifier {
    provider: &'static CryptoProvider,
    /// Whom tokens may come from: one entry for a layer configured with keys,
    /// one per issuer for a layer with trusted issuers.
    trusts: Vec<Trust>,
    /// Whether the token's (unverified) `iss` chooses among `trusts`.
    by_issuer: bool,
    claims: ClaimRules,
    typ: Option<String>,
    max_token_length: usize,
    cache: Option<TokenCache>,
    /// Where opaque tokens go: at most one issuer introspects.
    introspection: Option<Introspecting>,
    /// The `issuer` label of each trusted issuer (none for a layer
    /// configured with keys); empty without the `metrics` feature.
    issuer_labels: metrics::IssuerLabels,
    /// See [`Rules::note_identity`].
    note_identity: bool,
}

/// A verified token.
#[derive(Debug)]
pub(crate) struct Verified<C> {
    pub(crate) claims: C,
    /// The claims as JSON text, for the checks after verification.
    pub(crate) payload: Payload,
    /// `false` when the verifier read every top-level claim name and none
    /// is `cnf`: the token is bound to nothing. `true` when one is, or
    /// the verifier did not read them (a token cache hit).
    pub(crate) may_be_bound: bool,
    /// The issuer whose keys and rules verified it, for the metrics (empty
    /// without the `metrics` feature).
    pub(crate) issuer: metrics::IssuerIndex,
    /// Where the claims that identify it are in `payload`, for the
    /// revocation check; `None` when the verifier did not read them (a token
    /// cache hit) or one was named twice.
    pub(crate) identity: Option<claims::IdentitySpans>,
}

/// What the verifier read of the claims besides their validity: whether one
/// is named `cnf`, and where the claims that identify the token are.
struct Read {
    cnf: bool,
    identity: Option<claims::IdentitySpans>,
}

/// The verified claims' JSON text: decoded for this request, or shared with
/// the token cache.
#[derive(Debug)]
pub(crate) enum Payload {
    Decoded(String),
    Cached(Arc<str>),
}

impl Payload {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Decoded(text) => text,
            Self::Cached(text) => text,
        }
    }
}

/// Why a token was not verified, and, when a feed may know its key after a
/// refresh, that refresh; or, for an opaque token, the introspection to wait
/// for.
pub(crate) struct VerifyError {
    pub(crate) error: AuthError,
    pub(crate) retry: Option<BoxFuture<'static, ()>>,
    pub(crate) introspection: Option<PendingIntrospection>,
}

impl From<AuthError> for VerifyError {
    fn from(error: AuthError) -> Self {
        Self {
            error,
            retry: None,
            introspection: None,
        }
    }
}

impl fmt::Debug for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyError")
            .field("error", &self.error)
            .field("retry", &self.retry.is_some())
            .field("introspection", &self.introspection.is_some())
            .finish()
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
    /// The verifier of a layer configured with `single` (its own keys and
    /// rules), or, when `trusted` is not empty, with those trusted issuers.
    ///
    /// # Errors
    ///
    /// A setting of `single` beside trusted issuers
    /// ([`ConfigError::NotOnTrustedIssuer`]); a trusted issuer without a name
    /// or trusted twice; the errors of each issuer's keys and rules
    /// ([`Trust`]); an empty `typ`; too many required claims; a token cache of
    /// 0 entries.
    pub(crate) fn new(
        provider: &'static CryptoProvider,
        single: IssuerConfig,
        trusted: Vec<IssuerConfig>,
        rules: Rules,
    ) -> Result<Self, ConfigError> {
        let by_issuer = !trusted.is_empty();
        let introspection = introspection_of(&single, &trusted)?;
        let trusts = if by_issuer {
            if let Some(setting) = single.first_setting() {
                return Err(ConfigError::NotOnTrustedIssuer { setting });
            }
            let mut trusts: Vec<Trust> = Vec::with_capacity(trusted.len());
            for issuer in trusted {
                // A trusted issuer has exactly one name (`TrustedIssuer::new`).
                let name = issuer.issuers.first().map_or("", String::as_str);
                if name.is_empty() {
                    return Err(ConfigError::Empty {
                        setting: "trusted_issuer",
                    });
                }
                if trusts.iter().any(|t| t.issuers.iter().any(|i| i == name)) {
                    return Err(ConfigError::DuplicateIssuer {
                        issuer: name.to_owned(),
                    });
                }
                trusts.push(Trust::new(provider, issuer)?);
            }
            trusts
        } else {
            vec![Trust::new(provider, single)?]
        };
        if rules.typ.as_deref() == Some("") {
            return Err(ConfigError::Empty { setting: "typ" });
        }
        // A trusted issuer has exactly one name.
        let issuer_labels = if by_issuer {
            let names = trusts
                .iter()
                .map(|t| t.issuers.first().map_or("", String::as_str));
            metrics::IssuerLabels::new(names)
        } else {
            metrics::IssuerLabels::none()
        };
        Ok(Self {
            provider,
            trusts,
            by_issuer,
            claims: ClaimRules::new(
                rules.required_claims,
                rules.subject,
                rules.leeway,
                rules.clock,
                TimeChecks {
                    exp: !rules.skip_exp_check,
                    nbf: !rules.skip_nbf_check,
                },
            )?,
            typ: rules.typ,
            max_token_length: rules.max_token_length,
            cache: TokenCache::new(rules.token_cache)?,
            introspection,
            issuer_labels,
            note_identity: rules.note_identity,
        })
    }

    /// The `issuer` labels of the metrics.
    pub(crate) fn issuer_labels(&self) -> &metrics::IssuerLabels {
        &self.issuer_labels
    }

    /// How many static keys were left out because they fit none of the
    /// allowed algorithms, over all issuers.
    pub(crate) fn skipped_keys(&self) -> usize {
        self.trusts.iter().map(|t| t.skipped_keys).sum()
    }

    /// Verifies `token` and returns its claims.
    pub(crate) fn verify<C>(&self, token: &str) -> Result<Verified<C>, VerifyError>
    where
        C: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        if token.len() > self.max_token_length {
            return Err(AuthError::new(AuthErrorKind::TokenTooLong, "token too long").into());
        }
        if let Some(introspecting) = &self.introspection
            && !is_compact_jws(token)
        {
            return self.introspect(introspecting, token);
        }
        let Some(cache) = &self.cache else {
            return self.verify_fully::<C>(token).map(|(verified, ..)| verified);
        };
        if let Some(hit) = self.cached(cache, token) {
            return hit;
        }
        let (verified, provenance) = self.verify_fully::<C>(token)?;
        cache.insert(
            token,
            &verified.claims,
            verified.payload.as_str(),
            &provenance,
        );
        Ok(verified)
    }

    /// Step 1 for an opaque token: the authorization server's answer from
    /// the cache, checked at once, or the introspection to wait for (then
    /// [`introspected`](Self::introspected)).
    #[cold]
    fn introspect<C>(
        &self,
        introspecting: &Introspecting,
        token: &str,
    ) -> Result<Verified<C>, VerifyError>
    where
        C: DeserializeOwned,
    {
        let trust = introspecting.trust;
        match introspecting
            .introspection
            .introspect(token, self.claims.now())
        {
            Introspected::Ready(answer) => Ok(self.introspected(trust, answer?)?),
            Introspected::Wait(answer) => Err(VerifyError {
                error: AuthError::new(
                    AuthErrorKind::IntrospectionUnavailable,
                    "token introspection did not answer",
                ),
                retry: None,
                introspection: Some(PendingIntrospection { trust, answer }),
            }),
        }
    }

    /// Steps 5 and 6 for the claims of an active opaque token, as the
    /// authorization server gave them, by the rules of the issuer at `trust`.
    /// RFC 7662 §2.2 makes `iss` optional: a response without it is taken as
    /// the introspecting issuer's; one with it must name an accepted issuer.
    pub(crate) fn introspected<C: DeserializeOwned>(
        &self,
        trust: usize,
        payload: Arc<str>,
    ) -> Result<Verified<C>, AuthError> {
        let issuer = metrics::IssuerIndex::new(trust);
        let trust = self
            .trusts
            .get(trust)
            .ok_or_else(|| AuthError::new(AuthErrorKind::InvalidIssuer, "issuer not accepted"))?;
        let registered = self.read_registered_claims(&payload)?;
        let issuers: &[String] = match registered.iss {
            Some(_) => &trust.issuers,
            None => &[],
        };
        let cnf = registered.cnf;
        let identity = self.identity_of(&payload, &registered);
        self.claims.check(issuers, &trust.audiences, registered)?;
        let claims = serde_json::from_str(&payload).map_err(|e| {
            AuthError::with_source(
                AuthErrorKind::InvalidClaims,
                "claims do not match the expected shape",
                e,
            )
        })?;
        Ok(Verified {
            claims,
            payload: Payload::Cached(payload),
            may_be_bound: cnf,
            issuer,
            identity,
        })
    }

    /// The cache's answer for `token`, if it has one. A hit first brings its
    /// issuer's feed up to date, which drops the entries of keys that left it,
    /// this one's perhaps.
    fn cached<C: Clone + 'static>(
        &self,
        cache: &TokenCache,
        token: &str,
    ) -> Option<Result<Verified<C>, VerifyError>> {
        let (now, leeway) = self.claims.now_and_leeway();
        let mut lookup = cache.get::<C>(token, now, leeway);
        if let Lookup::Hit { trust, .. } = lookup
            && self
                .trusts
                .get(trust)
                .is_some_and(|t| t.keys.sync(&|removed| cache.forget_keys(removed)))
        {
            lookup = cache.get::<C>(token, now, leeway);
        }
        match lookup {
            Lookup::Hit {
                claims,
                payload,
                trust,
            } => {
                metrics::token_cache(metrics::CacheLookup::Hit);
                Some(Ok(Verified {
                    claims,
                    payload: Payload::Cached(payload),
                    may_be_bound: true,
                    issuer: metrics::IssuerIndex::new(trust),
                    identity: None,
                }))
            }
            Lookup::Refused(error) => {
                metrics::token_cache(metrics::CacheLookup::Expired);
                Some(Err(error.into()))
            }
            Lookup::Miss => {
                metrics::token_cache(metrics::CacheLookup::Miss);
                None
            }
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
        let header = JoseHeader::parse(header_json)?;
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
        let (claims, times, read) = self.read_claims(trust, &payload)?;
        let provenance = Provenance::new(times, key, position);
        let verified = Verified {
            claims,
            // The spans stay true: moving the `String` leaves its bytes where
            // they are.
            payload: Payload::Decoded(payload),
            may_be_bound: read.cnf,
            issuer: metrics::IssuerIndex::new(position),
            identity: read.identity,
        };
        Ok((verified, provenance))
    }

    /// Steps 5 and 6: the registered claims, checked against `trust`, and the
    /// claims type. The quick scan's verdict stands only once serde_json has
    /// accepted the whole text as `C`; otherwise the full reader decides, in
    /// the order of the module docs. Also tells whether a top-level claim is
    /// named `cnf` (either reader sees every name, escapes resolved), and
    /// where the claims that identify the token are.
    fn read_claims<C: DeserializeOwned>(
        &self,
        trust: &Trust,
        payload: &str,
    ) -> Result<(C, claims::Times, Read), AuthError> {
        let check = |registered: Registered<'_>| {
            let read = Read {
                cnf: registered.cnf,
                identity: self.identity_of(payload, &registered),
            };
            self.claims
                .check(&trust.issuers, &trust.audiences, registered)
                .map(|times| (times, read))
        };
        if let Some(registered) = claims::scan(payload, &self.claims.required.extra)
            && let Ok((times, read)) = check(registered)
            && let Ok(claims) = serde_json::from_str(payload)
        {
            return Ok((claims, times, read));
        }
        let (times, read) = check(self.read_registered_claims(payload)?)?;
        let claims = serde_json::from_str(payload).map_err(|e| {
            AuthError::with_source(
                AuthErrorKind::InvalidClaims,
                "claims do not match the expected shape",
                e,
            )
        })?;
        Ok((claims, times, read))
    }

    /// Where the claims that identify the token are in `payload`, when a
    /// check reads them.
    fn identity_of(
        &self,
        payload: &str,
        registered: &Registered<'_>,
    ) -> Option<claims::IdentitySpans> {
        match self.note_identity {
            true => claims::IdentitySpans::of(payload, registered),
            false => None,
        }
    }

    /// Drops the cached tokens of keys that left a key set.
    fn forget_keys(&self, removed: &[u64]) {
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

    /// The registered claims, read by serde_json whatever the text holds.
    /// The `exp` of a verified token's claims (`payload`, as [`Verified`]
    /// holds them) as its checks compared it: `None` when it has none, or
    /// when `exp` is not compared. Read again, for the layers that hand it to
    /// the handler; the fast path does not pay for it.
    pub(crate) fn expiry(&self, payload: &str) -> Option<f64> {
        let exp = self.read_registered_claims(payload).ok()?.exp?;
        self.claims.expiry(exp)
    }

    fn read_registered_claims<'p>(&self, payload: &'p str) -> Result<Registered<'p>, AuthError> {
        read_registered(payload, &self.claims.required.extra)
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("trusts", &self.trusts)
            .field("by_issuer", &self.by_issuer)
            .field("claims", &self.claims)
            .field("typ", &self.typ)
            .field("max_token_length", &self.max_token_length)
            .field("cache", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

/// The issuer whose opaque tokens are introspected, and where: the layer's
/// own, or the one trusted issuer configured with introspection.
///
/// # Errors
///
/// More than one trusted issuer with introspection: an opaque token names no
/// issuer, so it could not be told which to ask.
fn introspection_of(
    single: &IssuerConfig,
    trusted: &[IssuerConfig],
) -> Result<Option<Introspecting>, ConfigError> {
    let introspecting = |(trust, issuer): (usize, &IssuerConfig)| {
        let introspection = Arc::clone(issuer.introspection.as_ref()?);
        Some(Introspecting {
            trust,
            introspection,
        })
    };
    if trusted.is_empty() {
        return Ok(introspecting((0, single)));
    }
    let mut found = trusted.iter().enumerate().filter_map(introspecting);
    let first = found.next();
    if found.next().is_some() {
        return Err(ConfigError::TooMany {
            what: "trusted issuer with introspection (an opaque token names no issuer)",
            max: 1,
        });
    }
    Ok(first)
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

#[cfg(test)]
mod tests {
    use super::introspect::Introspect;
    use super::*;
    use crate::Key;
    use crate::test_helpers::{SECRET, token};

    fn config(keys: Vec<Key>) -> IssuerConfig {
        IssuerConfig {
            keys,
            ..IssuerConfig::default()
        }
    }

    fn trusted(name: &str) -> IssuerConfig {
        IssuerConfig {
            issuers: vec![name.to_owned()],
            ..config(vec![Key::hmac(SECRET)])
        }
    }

    fn build(single: IssuerConfig, trusted: Vec<IssuerConfig>, rules: Rules) -> ConfigError {
        let provider = crate::crypto::select(None).unwrap();
        Verifier::new(provider, single, trusted, rules).unwrap_err()
    }

    #[test]
    fn a_verifier_is_built_from_its_settings() {
        let provider = crate::crypto::select(None).unwrap();
        let verifier = Verifier::new(
            provider,
            config(vec![Key::hmac(SECRET)]),
            Vec::new(),
            Rules::default(),
        )
        .unwrap();
        let claims = verifier
            .verify::<serde_json::Value>(&token())
            .unwrap()
            .claims;
        assert_eq!(claims["sub"], "ada");
        assert!(format!("{verifier:?}").contains("HS256"));
    }

    /// Answers every token with the same claims, at once.
    #[derive(Debug)]
    struct Fixed(&'static str);

    impl Introspect for Fixed {
        fn introspect(&self, _token: &str, _now: u64) -> Introspected {
            Introspected::Ready(Ok(Arc::from(self.0)))
        }
    }

    fn introspecting(claims: &'static str) -> IssuerConfig {
        IssuerConfig {
            introspection: Some(Arc::new(Fixed(claims))),
            ..IssuerConfig::default()
        }
    }

    #[test]
    fn an_opaque_token_is_introspected_and_its_claims_pass_the_claim_rules() {
        let provider = crate::crypto::select(None).unwrap();
        let verify = |issuer: IssuerConfig, token: &str| {
            Verifier::new(provider, issuer, Vec::new(), Rules::default())
                .unwrap()
                .verify::<serde_json::Value>(token)
                .map(|verified| verified.claims["sub"].clone())
                .map_err(|e| e.error.description())
        };
        let good = r#"{"active":true,"sub":"ada","exp":99999999999,"aud":"api","iss":"as"}"#;
        let with = |claims: &'static str| IssuerConfig {
            audiences: vec!["api".to_owned()],
            issuers: vec!["as".to_owned()],
            ..introspecting(claims)
        };
        // No keys needed; the claims are the answer's.
        assert_eq!(verify(with(good), "opaque").unwrap(), "ada");
        // A JWT is not introspected: this issuer has no keys for it.
        assert_eq!(verify(with(good), &token()), Err("algorithm not allowed"));
        let jwt_too = IssuerConfig {
            keys: vec![Key::hmac(SECRET)],
            ..introspecting(r#"{"sub":"opaque","exp":99999999999}"#)
        };
        assert_eq!(verify(jwt_too, &token()).unwrap(), "ada");
        // The JWT rules, with `iss` optional.
        for (claims, refusal) in [
            (r#"{"sub":"a","exp":99999999999,"aud":"api"}"#, None),
            (r#"{"sub":"a","exp":1,"aud":"api"}"#, Some("token expired")),
            (r#"{"sub":"a","aud":"api"}"#, Some("missing claim `exp`")),
            (
                r#"{"sub":"a","exp":99999999999,"aud":"x"}"#,
                Some("audience not accepted"),
            ),
            (
                r#"{"sub":"a","exp":99999999999,"aud":"api","iss":"x"}"#,
                Some("issuer not accepted"),
            ),
        ] {
            assert_eq!(verify(with(claims), "opaque").err(), refusal, "{claims}");
        }
    }

    #[test]
    fn each_refusal_of_the_settings_names_its_cause() {
        let rules = Rules::default;
        let cases: Vec<(ConfigError, &str)> = vec![
            (build(config(Vec::new()), Vec::new(), rules()), "NoKeys"),
            (
                build(
                    IssuerConfig {
                        audiences: vec![String::new()],
                        ..config(vec![Key::hmac(SECRET)])
                    },
                    Vec::new(),
                    rules(),
                ),
                "Empty { setting: \"audience\" }",
            ),
            (
                build(
                    config(vec![Key::hmac(SECRET)]),
                    Vec::new(),
                    Rules {
                        typ: Some(String::new()),
                        ..rules()
                    },
                ),
                "Empty { setting: \"typ\" }",
            ),
            (
                build(
                    config(vec![Key::hmac(SECRET)]),
                    Vec::new(),
                    Rules {
                        required_claims: (0..65).map(|i| format!("c{i}")).collect(),
                        ..rules()
                    },
                ),
                "TooMany",
            ),
            (
                build(config(vec![Key::hmac(SECRET)]), vec![trusted("a")], rules()),
                "NotOnTrustedIssuer { setting: \"key\" }",
            ),
            (
                build(IssuerConfig::default(), vec![trusted("")], rules()),
                "Empty { setting: \"trusted_issuer\" }",
            ),
            (
                build(
                    IssuerConfig::default(),
                    vec![trusted("a"), trusted("a")],
                    rules(),
                ),
                "DuplicateIssuer { issuer: \"a\" }",
            ),
            (
                build(
                    IssuerConfig::default(),
                    vec![
                        IssuerConfig {
                            issuers: vec!["a".to_owned()],
                            ..introspecting("{}")
                        },
                        IssuerConfig {
                            issuers: vec!["b".to_owned()],
                            ..introspecting("{}")
                        },
                    ],
                    rules(),
                ),
                "TooMany",
            ),
            (
                build(introspecting("{}"), vec![trusted("a")], rules()),
                "NotOnTrustedIssuer { setting: \"introspection\" }",
            ),
        ];
        for (error, expected) in cases {
            assert!(format!("{error:?}").starts_with(expected), "{error:?}");
            assert!(!error.to_string().is_empty());
        }
    }
}
