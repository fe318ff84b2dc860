//! [`JwtAuthLayer`] and its builder, [`JwtAuthBuilder`].

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use jsonwebtoken::crypto::CryptoProvider;
use tower_layer::Layer;

use super::config::{Authenticator, FormSource};
use super::service::JwtAuth;
use super::{HeadOnly, WithForm};
use crate::clock::{Clock, DEFAULT_LEEWAY, DebugClock, SystemClock};
use crate::crypto;
use crate::csrf::CsrfPolicy;
use crate::error::ConfigError;
use crate::issuer::TrustedIssuer;
use crate::key::{Key, KeySet};
use crate::response::{DefaultResponder, ErrorResponder};
use crate::source::{Kind, TokenSource};
use crate::verify::trust::{KeySource, Trust};
use crate::verify::{KeyEntry, MAX_EXTRA_REQUIRED, Required, Verifier, key_entries};

/// The default maximum token length: 8 KiB.
pub const DEFAULT_MAX_TOKEN_LENGTH: usize = 8 * 1024;

/// The default limit of a form body read for its token: 64 KiB.
pub const DEFAULT_FORM_LIMIT: usize = 64 * 1024;

/// A [`Layer`] that wraps services in [`JwtAuth`].
///
/// `C` is the claims type handlers receive as [`Claims<C>`](crate::Claims); `R`
/// answers refused requests. Build one with [`JwtAuthLayer::builder`]. All of the
/// configuration sits behind one `Arc`: cloning the layer, or the services it
/// makes, only bumps a counter.
#[must_use]
pub struct JwtAuthLayer<C, R = DefaultResponder, M = HeadOnly> {
    pub(crate) authenticator: Arc<Authenticator<R>>,
    _marker: PhantomData<fn() -> (C, M)>,
}

impl<C> JwtAuthLayer<C> {
    /// Starts a configuration. At least one key is needed; everything else has a
    /// secure default (see [`JwtAuthBuilder`]).
    pub fn builder() -> JwtAuthBuilder<C> {
        JwtAuthBuilder::new()
    }
}

impl<C, R, M> Clone for JwtAuthLayer<C, R, M> {
    fn clone(&self) -> Self {
        Self {
            authenticator: self.authenticator.clone(),
            _marker: PhantomData,
        }
    }
}

impl<C, R, M> fmt::Debug for JwtAuthLayer<C, R, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.authenticator;
        f.debug_struct("JwtAuthLayer")
            .field("claims", &std::any::type_name::<C>())
            .field("sources", &a.sources)
            .field(
                "issuers",
                &a.verifier
                    .trusts
                    .iter()
                    .map(|t| (&t.issuers, &t.algorithms, t.keys.len()))
                    .collect::<Vec<_>>(),
            )
            .field("optional", &a.optional)
            .finish_non_exhaustive()
    }
}

impl<S, C, R, M> Layer<S> for JwtAuthLayer<C, R, M> {
    type Service = JwtAuth<S, C, R, M>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth::new(inner, self)
    }
}

/// The configuration of a [`JwtAuthLayer`], checked once by
/// [`build`](JwtAuthBuilder::build).
///
/// Defaults: the `Authorization: Bearer` source; the algorithms of the keys;
/// `exp` required; a 60 s leeway; tokens up to 8 KiB; any `typ`; no `iss`,
/// `aud` or `sub` check (but a token that *has* an `aud` is refused unless one
/// of its values is configured, as RFC 7519 §4.1.3 asks); the system clock; the
/// [`DefaultResponder`]; every request must carry a token.
#[must_use]
pub struct JwtAuthBuilder<C, R = DefaultResponder, M = HeadOnly> {
    keys: Vec<Key>,
    algorithms: Option<Vec<Algorithm>>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    subject: Option<String>,
    required_claims: Vec<String>,
    leeway: Duration,
    typ: Option<String>,
    max_token_length: usize,
    clock: Arc<dyn Clock>,
    sources: Vec<TokenSource>,
    optional: bool,
    responder: R,
    provider: Option<&'static CryptoProvider>,
    form_limit: usize,
    csrf: CsrfPolicy,
    trusted: Vec<TrustedIssuer>,
    #[cfg(feature = "token-cache")]
    token_cache: Option<usize>,
    #[cfg(feature = "remote-jwks")]
    jwks: Option<crate::remote::RemoteKeySet>,
    #[cfg(feature = "revocation")]
    revocation: Option<crate::revocation::Revocation>,
    _marker: PhantomData<fn() -> (C, M)>,
}

impl<C> JwtAuthBuilder<C> {
    fn new() -> Self {
        Self {
            keys: Vec::new(),
            algorithms: None,
            issuers: Vec::new(),
            audiences: Vec::new(),
            subject: None,
            required_claims: vec!["exp".to_owned()],
            leeway: DEFAULT_LEEWAY,
            typ: None,
            max_token_length: DEFAULT_MAX_TOKEN_LENGTH,
            clock: Arc::new(SystemClock),
            sources: Vec::new(),
            optional: false,
            responder: DefaultResponder::new(),
            provider: None,
            form_limit: DEFAULT_FORM_LIMIT,
            csrf: CsrfPolicy::default(),
            trusted: Vec::new(),
            #[cfg(feature = "token-cache")]
            token_cache: None,
            #[cfg(feature = "remote-jwks")]
            jwks: None,
            #[cfg(feature = "revocation")]
            revocation: None,
            _marker: PhantomData,
        }
    }
}

impl<C, R, M> JwtAuthBuilder<C, R, M> {
    /// Adds a verification key.
    pub fn key(mut self, key: Key) -> Self {
        self.keys.push(key);
        self
    }

    /// Adds several keys, such as a [`KeySet`] read from a JWK Set document.
    pub fn keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.keys.extend(keys);
        self
    }

    /// Adds every usable key of a JWK Set.
    pub fn key_set(self, set: KeySet) -> Self {
        self.keys(set)
    }

    /// Accepts tokens from `issuer`, with its own keys, audiences and
    /// algorithms; call again for each issuer. The token's `iss` chooses the
    /// issuer, whose configuration alone then verifies it (see
    /// [`TrustedIssuer`]). A layer with trusted issuers takes its keys,
    /// issuers, audiences and algorithms only from them: setting those on the
    /// builder too is a [`ConfigError::Invalid`]. Everything else (sources,
    /// required claims, leeway, `typ`, subject, clock) applies to all.
    pub fn trusted_issuer(mut self, issuer: TrustedIssuer) -> Self {
        self.trusted.push(issuer);
        self
    }

    /// Takes the keys from a remote JWK Set, such as an OpenID Connect
    /// provider's (instead of static keys).
    ///
    /// The keys of the set's current document verify synchronously, like
    /// static keys. A token whose `kid` the set lacks waits for one refetch
    /// (shared by all such requests and rate-limited: see
    /// [`RemoteKeySet`](crate::RemoteKeySet)) and is then verified once more; a
    /// `kid` still unknown is `401`. Until the first document has arrived,
    /// requests wait for that fetch too, and are answered `503`
    /// ([`AuthErrorKind::KeysUnavailable`](crate::AuthErrorKind::KeysUnavailable))
    /// if it fails.
    ///
    /// Every asymmetric algorithm is allowed unless [`algorithms`](Self::algorithms)
    /// narrows them; HMAC keys in the document are never used.
    #[cfg(feature = "remote-jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote-jwks")))]
    pub fn jwks(mut self, keys: crate::remote::RemoteKeySet) -> Self {
        self.jwks = Some(keys);
        self
    }

    /// Restricts the accepted algorithms. Without it, each key allows the
    /// algorithms of its family (or the one pinned by its JWK `alg` or
    /// [`Key::with_algorithm`]). `none` is never accepted, whatever is set here.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Accepts tokens from this issuer; call again to accept several. Once set,
    /// `iss` must be present, a string, and one of them.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Accepts tokens for this audience; call again to accept several. Once set,
    /// `aud` must be present and name one of them.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accepts only tokens whose `sub` is this value.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Replaces the set of claims that must be present (default: `exp`). Any
    /// claim name may be given, up to 64 beyond the registered ones; a claim
    /// whose value is `null` counts as absent.
    pub fn required_claims<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        self.required_claims = names.into_iter().map(Into::into).collect();
        self
    }

    /// Adds one claim to those that must be present.
    pub fn require_claim(mut self, name: impl Into<String>) -> Self {
        self.required_claims.push(name.into());
        self
    }

    /// The clock-skew allowance for `exp` and `nbf`, in whole seconds (default
    /// 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Requires this `typ` header (compared per RFC 7515: case-insensitively, the
    /// `application/` prefix optional), such as `"JWT"` or `"at+jwt"` (RFC 9068).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// The longest token that is decoded at all (default 8 KiB); longer ones are
    /// refused before any work.
    pub fn max_token_length(mut self, bytes: usize) -> Self {
        self.max_token_length = bytes;
        self
    }

    /// Where "now" comes from (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Adds a token source. The first call replaces the default
    /// (`Authorization: Bearer`); sources are read in the order given.
    pub fn source(mut self, source: TokenSource) -> Self {
        self.sources.push(source);
        self
    }

    /// Lets requests *without any token* through, without claims
    /// (`Option<Claims<C>>` in the handler). A request with a token that fails
    /// verification is still refused.
    pub fn optional(mut self, optional: bool) -> Self {
        self.optional = optional;
        self
    }

    /// How a token taken from a cookie proves, on an unsafe method, that the
    /// request was not forged by another site (default:
    /// [`CsrfPolicy::same_origin`]). Other sources are never affected.
    pub fn csrf(mut self, policy: CsrfPolicy) -> Self {
        self.csrf = policy;
        self
    }

    /// Keeps up to `capacity` verified tokens, so that a token sent again is
    /// not verified again: a hit costs a hash of the token and a clone of its
    /// claims instead of a signature check (tens of microseconds for RS256 and
    /// ES256; see `BENCHMARKS.md`).
    ///
    /// Entries are keyed by the whole token; only tokens that passed every
    /// check are kept; `exp` and `nbf` are checked against the clock on every
    /// hit, with the same leeway; and the entries of a key that leaves a remote
    /// key set go with it. Checks that depend on the request (CSRF) or on
    /// shared state (revocation) run on every request, hit or not.
    #[cfg(feature = "token-cache")]
    #[cfg_attr(docsrs, doc(cfg(feature = "token-cache")))]
    pub fn token_cache(mut self, capacity: usize) -> Self {
        self.token_cache = Some(capacity);
        self
    }

    /// Asks `revocation`'s store, after verification, whether the token was
    /// revoked (by its `jti`, or all tokens of its subject issued before a
    /// time); a revoked token is `401`
    /// ([`AuthErrorKind::Revoked`](crate::AuthErrorKind::Revoked)), a store
    /// that fails or does not answer within the timeout is `503` unless the
    /// policy is to fail open (see [`Revocation`](crate::Revocation)).
    ///
    /// Each accepted request then also carries the token's
    /// [`TokenInfo`](crate::TokenInfo) in its extensions, for a logout
    /// handler to pass to [`RevocationStore::revoke`](crate::RevocationStore::revoke).
    /// The check is asynchronous: it needs a tokio runtime with its time
    /// driver, and requests wait for it in the response future.
    #[cfg(feature = "revocation")]
    #[cfg_attr(docsrs, doc(cfg(feature = "revocation")))]
    pub fn revocation(mut self, revocation: crate::revocation::Revocation) -> Self {
        self.revocation = Some(revocation);
        self
    }

    /// Uses the `jsonwebtoken` crypto provider given, instead of the one this
    /// crate's features select.
    pub fn crypto_provider(mut self, provider: &'static CryptoProvider) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Answers refused requests with `responder` instead of the
    /// [`DefaultResponder`].
    pub fn responder<R2: ErrorResponder>(self, responder: R2) -> JwtAuthBuilder<C, R2, M> {
        self.convert(|_| responder)
    }

    /// The same configuration in another mode, with the responder `responder`
    /// makes of the current one.
    fn convert<R2, M2>(self, responder: impl FnOnce(R) -> R2) -> JwtAuthBuilder<C, R2, M2> {
        JwtAuthBuilder {
            keys: self.keys,
            algorithms: self.algorithms,
            issuers: self.issuers,
            audiences: self.audiences,
            subject: self.subject,
            required_claims: self.required_claims,
            leeway: self.leeway,
            typ: self.typ,
            max_token_length: self.max_token_length,
            clock: self.clock,
            sources: self.sources,
            optional: self.optional,
            responder: responder(self.responder),
            provider: self.provider,
            form_limit: self.form_limit,
            csrf: self.csrf,
            trusted: self.trusted,
            #[cfg(feature = "token-cache")]
            token_cache: self.token_cache,
            #[cfg(feature = "remote-jwks")]
            jwks: self.jwks,
            #[cfg(feature = "revocation")]
            revocation: self.revocation,
            _marker: PhantomData,
        }
    }

    /// Checks the configuration and builds the layer.
    ///
    /// It also makes the chosen crypto provider `jsonwebtoken`'s process default
    /// when none was installed, so that the application's own `jsonwebtoken`
    /// calls cannot meet its "no provider" panic either.
    ///
    /// # Errors
    ///
    /// - [`ConfigError::NoCryptoProvider`]: no backend feature and no provider;
    /// - [`ConfigError::NoKeys`]: no key;
    /// - [`ConfigError::InvalidKey`]: a key that its algorithms cannot use;
    /// - [`ConfigError::AlgorithmMismatch`]: a pinned algorithm outside its key's
    ///   family, or a key that fits none of the [allowed](Self::algorithms) ones;
    /// - [`ConfigError::InvalidSourceName`]: an empty or invalid source name;
    /// - [`ConfigError::Invalid`]: more than 64 extra required claims, or an empty
    ///   issuer, audience or `typ`.
    pub fn build(self) -> Result<JwtAuthLayer<C, R, M>, ConfigError>
    where
        R: ErrorResponder,
    {
        let provider = self
            .provider
            .or_else(crypto::feature_provider)
            .ok_or(ConfigError::NoCryptoProvider)?;
        crypto::install_process_default(provider);

        let by_issuer = !self.trusted.is_empty();
        let trusts = if by_issuer {
            if !self.keys.is_empty()
                || !self.issuers.is_empty()
                || !self.audiences.is_empty()
                || self.algorithms.is_some()
            {
                return Err(ConfigError::Invalid(
                    "with trusted issuers, keys, issuers, audiences and algorithms are set \
                     on each `TrustedIssuer`, not on the builder"
                        .into(),
                ));
            }
            let mut trusts: Vec<Trust> = Vec::new();
            for issuer in self.trusted {
                if issuer.issuer.is_empty() {
                    return Err(ConfigError::Invalid("empty trusted issuer name".into()));
                }
                if trusts.iter().any(|t| t.issuers.contains(&issuer.issuer)) {
                    return Err(ConfigError::Invalid(format!(
                        "issuer {:?} trusted twice",
                        issuer.issuer
                    )));
                }
                let keys = KeysConfig {
                    keys: issuer.keys,
                    algorithms: issuer.algorithms,
                    #[cfg(feature = "remote-jwks")]
                    jwks: issuer.jwks,
                };
                trusts.push(keys.trust(provider, vec![issuer.issuer], issuer.audiences)?);
            }
            trusts
        } else {
            let keys = KeysConfig {
                keys: self.keys,
                algorithms: self.algorithms,
                #[cfg(feature = "remote-jwks")]
                jwks: self.jwks,
            };
            vec![keys.trust(provider, self.issuers, self.audiences)?]
        };
        if trusts
            .iter()
            .flat_map(|t| t.issuers.iter().chain(&t.audiences))
            .chain(&self.typ)
            .any(String::is_empty)
        {
            return Err(ConfigError::Invalid("empty issuer, audience or typ".into()));
        }

        let mut sources = self.sources;
        if sources.is_empty() {
            sources.push(TokenSource::bearer());
        }
        for source in &sources {
            source.validate()?;
        }

        let mut required = Required::default();
        for name in self.required_claims {
            match name.as_str() {
                "exp" => required.exp = true,
                "nbf" => required.nbf = true,
                "iat" => required.iat = true,
                "iss" => required.iss = true,
                "aud" => required.aud = true,
                "sub" => required.sub = true,
                _ if !required.extra.contains(&name) => required.extra.push(name),
                _ => {}
            }
        }
        // A configured subject can only be checked if present (issuers and
        // audiences are per trusted issuer: see `check_registered_claims`).
        required.sub |= self.subject.is_some();
        if required.extra.len() > MAX_EXTRA_REQUIRED {
            return Err(ConfigError::Invalid(format!(
                "at most {MAX_EXTRA_REQUIRED} required claims beyond the registered ones"
            )));
        }

        let verifier = Verifier {
            provider,
            trusts,
            by_issuer,
            subject: self.subject,
            required,
            leeway: self.leeway.as_secs(),
            typ: self.typ,
            max_token_length: self.max_token_length,
            clock: self.clock,
            #[cfg(feature = "token-cache")]
            cache: match self.token_cache {
                Some(0) => return Err(ConfigError::Invalid("a token cache of 0 entries".into())),
                Some(capacity) => Some(crate::verify::cache::TokenCache::new(capacity)),
                None => None,
            },
            #[cfg(feature = "revocation")]
            token_info: self.revocation.is_some(),
        };
        let form = sources
            .iter()
            .enumerate()
            .find_map(|(position, source)| match &source.0 {
                Kind::Form(field) => Some(FormSource {
                    position,
                    field: field.as_str().into(),
                    limit: self.form_limit,
                }),
                _ => None,
            });
        Ok(JwtAuthLayer {
            authenticator: Arc::new(Authenticator {
                verifier,
                sources,
                form,
                optional: self.optional,
                csrf: self.csrf,
                responder: self.responder,
                #[cfg(feature = "revocation")]
                revocation: self.revocation,
            }),
            _marker: PhantomData,
        })
    }
}

impl<C, R> JwtAuthBuilder<C, R, HeadOnly> {
    /// Adds a form-field source: the token is the value of field `name` of an
    /// `application/x-www-form-urlencoded` body (and `multipart/form-data`,
    /// with the `multipart` feature), as classic HTML forms send it. It takes
    /// its place in the order of sources like any other, and like any other
    /// replaces the default bearer source: add [`TokenSource::bearer`] too to
    /// keep it.
    ///
    /// The body is read only when no earlier source found a token and the
    /// request is a form, up to [`form_limit`](JwtAuthBuilder::form_limit)
    /// bytes; the inner service then receives [`RequestBody<B>`](crate::RequestBody)
    /// with exactly the bytes that were sent. The inner service must be `Clone`.
    /// See the [`form` module docs](crate::RequestBody) for the details.
    ///
    /// The token field is decoded strictly (invalid percent-encoding or UTF-8 is
    /// `400`); two different values are `400`; an empty value is no token.
    pub fn form_field(mut self, name: impl Into<String>) -> JwtAuthBuilder<C, R, WithForm> {
        self.sources.push(TokenSource(Kind::Form(name.into())));
        self.convert(|same| same)
    }
}

impl<C, R> JwtAuthBuilder<C, R, WithForm> {
    /// The largest form body that is read (default 64 KiB); a larger one is
    /// answered `413`.
    pub fn form_limit(mut self, bytes: usize) -> Self {
        self.form_limit = bytes;
        self
    }
}

impl<C, R: fmt::Debug, M> fmt::Debug for JwtAuthBuilder<C, R, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthBuilder")
            .field("keys", &self.keys)
            .field("algorithms", &self.algorithms)
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("subject", &self.subject)
            .field("required_claims", &self.required_claims)
            .field("leeway", &self.leeway)
            .field("typ", &self.typ)
            .field("max_token_length", &self.max_token_length)
            .field("clock", &DebugClock(&*self.clock))
            .field("sources", &self.sources)
            .field("optional", &self.optional)
            .field("responder", &self.responder)
            .field("form_limit", &self.form_limit)
            .field("csrf", &self.csrf)
            .finish_non_exhaustive()
    }
}

/// Where one trust's keys come from, as configured.
struct KeysConfig {
    keys: Vec<Key>,
    algorithms: Option<Vec<Algorithm>>,
    #[cfg(feature = "remote-jwks")]
    jwks: Option<crate::remote::RemoteKeySet>,
}

impl KeysConfig {
    /// The trust: static keys allow the algorithms the keys allow; a remote
    /// set allows the configured ones, or every asymmetric one.
    fn trust(
        self,
        provider: &'static CryptoProvider,
        issuers: Vec<String>,
        audiences: Vec<String>,
    ) -> Result<Trust, ConfigError> {
        #[cfg(feature = "remote-jwks")]
        if let Some(set) = self.jwks {
            use crate::verify::trust::{REMOTE_ALGORITHMS, RemoteKeys};
            if !self.keys.is_empty() {
                return Err(ConfigError::Invalid(
                    "static keys and a remote key set for the same issuer: choose one".into(),
                ));
            }
            let algorithms = self
                .algorithms
                .unwrap_or_else(|| REMOTE_ALGORITHMS.to_vec());
            if algorithms.is_empty() {
                return Err(ConfigError::AlgorithmMismatch(
                    "no algorithm allowed".into(),
                ));
            }
            if let Some(bad) = algorithms.iter().find(|a| !REMOTE_ALGORITHMS.contains(a)) {
                return Err(ConfigError::AlgorithmMismatch(format!(
                    "{bad:?} cannot be verified with keys from a URL"
                )));
            }
            return Ok(Trust {
                issuers,
                audiences,
                keys: KeySource::Remote(RemoteKeys::new(set, algorithms.clone())),
                algorithms,
            });
        }
        let keys: Vec<KeyEntry> = key_entries(provider, self.keys, self.algorithms.as_deref())?;
        let mut algorithms = Vec::new();
        for entry in &keys {
            if !algorithms.contains(&entry.algorithm) {
                algorithms.push(entry.algorithm);
            }
        }
        Ok(Trust {
            issuers,
            audiences,
            algorithms,
            keys: KeySource::Static(keys),
        })
    }
}
