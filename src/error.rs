//! The errors of this crate: [`AuthError`] for a request that was refused, and
//! [`ConfigError`] for a configuration that cannot work.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// Why a request was refused.
///
/// An opaque value: match on [`AuthError::kind`], read the precise
/// [`description`](AuthError::description), and find the underlying
/// `jsonwebtoken` or JSON error, when there is one, through
/// [`std::error::Error::source`]. The responder receives it, and the layer inserts
/// a clone into the extensions of every rejection response, so outer layers and
/// tests can read the reason.
#[derive(Clone)]
pub struct AuthError {
    kind: AuthErrorKind,
    description: &'static str,
    source: Option<Arc<dyn StdError + Send + Sync>>,
    /// What the route requires, for the challenge, when a scope or step-up
    /// requirement failed. One thin pointer for both keeps this error, and
    /// every `Result` that carries it on the request path, small.
    requirement: Option<Arc<Requirement>>,
    /// What the challenge of the answer offers (schemes, DPoP algorithms, a
    /// nonce); `None`: a plain `Bearer` challenge.
    challenge: Option<Arc<Challenge>>,
}

/// The authentication scheme a refusal is reported under (RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthScheme {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP` (RFC 9449).
    Dpop,
}

/// What a refusal's challenge offers beyond `Bearer`; set on the errors of a
/// layer that accepts DPoP, and by the DPoP check on its own errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The scheme that carries the error code.
    pub(crate) scheme: AuthScheme,
    /// Whether the layer accepts bearer tokens (a `Bearer` challenge).
    pub(crate) bearer: bool,
    /// The DPoP proof algorithms the layer accepts, space-separated, when it
    /// accepts DPoP (a `DPoP` challenge with `algs`).
    pub(crate) dpop_algorithms: Option<Arc<str>>,
    /// A nonce for the client's next DPoP proof (the `DPoP-Nonce` header).
    pub(crate) dpop_nonce: Option<Arc<str>>,
    /// The URL of the layer's protected resource metadata (RFC 9728 §5.1),
    /// for the `resource_metadata` of every challenge.
    pub(crate) resource_metadata: Option<Arc<str>>,
}

impl Challenge {
    /// The challenge of a layer without DPoP that publishes its metadata at
    /// `resource_metadata`: `Bearer`, with that URL.
    pub(crate) fn bearer_with_metadata(resource_metadata: Arc<str>) -> Self {
        Self {
            scheme: AuthScheme::Bearer,
            bearer: true,
            dpop_algorithms: None,
            dpop_nonce: None,
            resource_metadata: Some(resource_metadata),
        }
    }
}

/// The challenge of the `JwtAuthLayer` that accepted a request's token, left
/// in the request extensions by a layer that takes DPoP, so that the refusals
/// of the layers behind it (a `RequireLayer`) go under the scheme the token
/// came by, as the `JwtAuthLayer`'s own do (RFC 9449 §7.1).
#[derive(Debug, Clone)]
pub(crate) struct TokenChallenge(pub(crate) Arc<Challenge>);

/// What a route requires that a refused token lacked, for the challenge: its
/// scopes (RFC 6750 §3, `insufficient_scope`), or what it requires of the
/// user's authentication (RFC 9470 §3, `insufficient_user_authentication`).
/// Built once with the `RequireLayer`, shared by its errors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Requirement {
    /// The required scopes, space-separated.
    pub(crate) scope: Option<Box<str>>,
    /// The accepted `acr` values, space-separated, in order of preference.
    pub(crate) acr_values: Option<Box<str>>,
    /// The oldest authentication accepted, in seconds.
    pub(crate) max_age: Option<u64>,
}

/// The cause of an [`AuthError`], one variant per cause.
///
/// New causes may be added in minor releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No token in any configured source.
    MissingToken,
    /// The request carries two different tokens (two sources, or one source twice).
    MultipleTokens,
    /// The request is malformed: an `Authorization` header with the right scheme
    /// but no or an unusable credential, a header value that is not visible ASCII.
    MalformedRequest,
    /// The token is longer than the configured maximum; it was not decoded.
    TokenTooLong,
    /// The token is not a JWS compact serialization: wrong number of segments,
    /// invalid base64url, invalid UTF-8 or JSON in the header or the claims.
    MalformedToken,
    /// The `alg` of the header is unknown, `none`, or not allowed by the configuration.
    AlgorithmNotAllowed,
    /// The header has a `crit` parameter; this crate understands no extension
    /// (RFC 7515 §4.1.11).
    UnsupportedCritical,
    /// The header's `typ` is not the configured one.
    InvalidType,
    /// No configured key fits the token's `kid` and `alg`.
    UnknownKey,
    /// The signature does not verify with any fitting key.
    InvalidSignature,
    /// The clock has reached `exp` (plus the leeway).
    Expired,
    /// The clock has not yet reached `nbf` (minus the leeway).
    NotYetValid,
    /// A required claim is absent.
    MissingClaim,
    /// A registered claim (`exp`, `nbf`, `iat`, `iss`, `aud`, `sub`) has the wrong JSON type.
    InvalidClaimType,
    /// `iss` is not one of the accepted issuers.
    InvalidIssuer,
    /// `aud` names none of the accepted audiences.
    InvalidAudience,
    /// `sub` is not the expected subject.
    InvalidSubject,
    /// The claims do not deserialize into the application's claims type.
    InvalidClaims,
    /// The form body is larger than the configured limit (`413`), declared by
    /// `Content-Length` or found while reading.
    FormTooLarge,
    /// The form body could not be read: the client's stream failed or ended early.
    UnreadableBody,
    /// The form body did not arrive whole within the form read timeout
    /// (`JwtAuthBuilder::form_read_timeout`, feature `form-timeout`): `408`.
    FormReadTimeout,
    /// The form body is not a valid form: bad percent-encoding, invalid UTF-8,
    /// a broken multipart body, a multipart boundary that is empty or longer
    /// than 70 characters.
    MalformedForm,
    /// A token from a cookie on an unsafe method failed the CSRF check (`403`);
    /// see [`CsrfPolicy`](crate::CsrfPolicy).
    CrossSiteRequest,
    /// The token is valid but does not meet an authorization requirement of the
    /// route: a scope, a role, a claim value or a predicate (`403`,
    /// `insufficient_scope`, RFC 6750 §3.1).
    InsufficientScope,
    /// The token is valid, but the user's authentication behind it falls
    /// short of a step-up requirement of the route (RFC 9470): its `acr` is
    /// not one of the accepted ones, or its `auth_time` is older than the
    /// route's `max_age` (or in the future); a missing or mistyped claim falls
    /// short too (`401`, `insufficient_user_authentication`, with the
    /// requirement in [`AuthError::acr_values`] and [`AuthError::max_age`]).
    InsufficientUserAuthentication,
    /// The token was revoked: by its `jti` (by the digest of the whole token
    /// when it has none), or as one of the tokens of its subject issued before
    /// a given time.
    Revoked,
    /// The revocation store could not answer in time and the policy is to fail
    /// closed (`503`).
    RevocationUnavailable,
    /// No key set is available yet: the remote JWK Set has not been fetched
    /// (`503`).
    KeysUnavailable,
    /// The DPoP proof (RFC 9449 §4.3) is missing or does not hold: its `typ`,
    /// algorithm, key, signature, `htm`, `htu`, `iat`, `ath` or `nonce`
    /// (`401`, `invalid_dpop_proof`). A proof that is not a JWT at all, or
    /// two `DPoP` headers, are a [`MalformedRequest`](Self::MalformedRequest).
    InvalidDpopProof,
    /// The DPoP proof's `jti` was seen before within the proof window: a
    /// replayed proof (`401`, `invalid_dpop_proof`).
    DpopProofReplayed,
    /// The resource server requires a nonce it issued in the DPoP proof, and
    /// the proof has none or an old one (`401`, `use_dpop_nonce`, with a
    /// fresh nonce in the `DPoP-Nonce` header: RFC 9449 §9).
    UseDpopNonce,
    /// A bearer token where DPoP is required (`401`, `invalid_token`, with a
    /// `DPoP` challenge only).
    DpopRequired,
    /// The token is bound to a key or a certificate (its `cnf` claim, RFC 7800)
    /// that the request does not prove: a DPoP-bound token sent as `Bearer`
    /// (RFC 9449 §7.2), a DPoP proof signed by another key than `cnf.jkt`,
    /// a `DPoP` token without `cnf.jkt`, a certificate-bound token (RFC 8705
    /// §3) without the client certificate whose SHA-256 is `cnf["x5t#S256"]`,
    /// or a bound token where the layer checks no such binding (`401`,
    /// `invalid_token`).
    TokenBindingMismatch,
    /// The DPoP replay store could not answer in time and the policy is to
    /// fail closed (`503`).
    ReplayCheckUnavailable,
    /// The authorization server said the opaque token is not active (RFC 7662
    /// §2.2: `active` is not the JSON boolean `true`): unknown, expired,
    /// revoked, or not for this resource server (`401`, `invalid_token`).
    InactiveToken,
    /// The authorization server's introspection endpoint could not decide
    /// about an opaque token: unreachable, too slow, an error status (our
    /// client's credentials refused among them), or an answer that is not a
    /// JSON object (`503`: never the client's fault).
    IntrospectionUnavailable,
}

impl AuthErrorKind {
    /// A stable `snake_case` name of the kind (`"missing_token"`,
    /// `"expired"`, `"invalid_signature"` ...): the variant's name, for
    /// logs and metric labels. A name never changes once released; a new
    /// kind brings a new name.
    ///
    /// ```
    /// use tower_jwt_auth::AuthErrorKind;
    ///
    /// assert_eq!(AuthErrorKind::MissingToken.as_str(), "missing_token");
    /// assert_eq!(AuthErrorKind::DpopProofReplayed.as_str(), "dpop_proof_replayed");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::MultipleTokens => "multiple_tokens",
            Self::MalformedRequest => "malformed_request",
            Self::TokenTooLong => "token_too_long",
            Self::MalformedToken => "malformed_token",
            Self::AlgorithmNotAllowed => "algorithm_not_allowed",
            Self::UnsupportedCritical => "unsupported_critical",
            Self::InvalidType => "invalid_type",
            Self::UnknownKey => "unknown_key",
            Self::InvalidSignature => "invalid_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::MissingClaim => "missing_claim",
            Self::InvalidClaimType => "invalid_claim_type",
            Self::InvalidIssuer => "invalid_issuer",
            Self::InvalidAudience => "invalid_audience",
            Self::InvalidSubject => "invalid_subject",
            Self::InvalidClaims => "invalid_claims",
            Self::FormTooLarge => "form_too_large",
            Self::UnreadableBody => "unreadable_body",
            Self::FormReadTimeout => "form_read_timeout",
            Self::MalformedForm => "malformed_form",
            Self::CrossSiteRequest => "cross_site_request",
            Self::InsufficientScope => "insufficient_scope",
            Self::InsufficientUserAuthentication => "insufficient_user_authentication",
            Self::Revoked => "revoked",
            Self::RevocationUnavailable => "revocation_unavailable",
            Self::KeysUnavailable => "keys_unavailable",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::DpopProofReplayed => "dpop_proof_replayed",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::DpopRequired => "dpop_required",
            Self::TokenBindingMismatch => "token_binding_mismatch",
            Self::ReplayCheckUnavailable => "replay_check_unavailable",
            Self::InactiveToken => "inactive_token",
            Self::IntrospectionUnavailable => "introspection_unavailable",
        }
    }

    /// The HTTP status the default responder answers with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MultipleTokens
            | Self::MalformedRequest
            | Self::UnreadableBody
            | Self::MalformedForm => StatusCode::BAD_REQUEST,
            Self::FormTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::FormReadTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::CrossSiteRequest | Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::RevocationUnavailable
            | Self::KeysUnavailable
            | Self::ReplayCheckUnavailable
            | Self::IntrospectionUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The RFC 6750 error code, or `None` when the request carried no token
    /// (RFC 6750 §3.1: no error code then) or the server could not decide
    /// (`503`).
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            Self::MissingToken => None,
            Self::MultipleTokens
            | Self::MalformedRequest
            | Self::UnreadableBody
            | Self::MalformedForm
            | Self::FormTooLarge
            | Self::FormReadTimeout
            | Self::CrossSiteRequest => Some("invalid_request"),
            Self::InsufficientScope => Some("insufficient_scope"),
            Self::InsufficientUserAuthentication => Some("insufficient_user_authentication"),
            Self::InvalidDpopProof | Self::DpopProofReplayed => Some("invalid_dpop_proof"),
            Self::UseDpopNonce => Some("use_dpop_nonce"),
            // The server could not decide: nothing is wrong with the request.
            Self::RevocationUnavailable
            | Self::KeysUnavailable
            | Self::ReplayCheckUnavailable
            | Self::IntrospectionUnavailable => None,
            _ => Some("invalid_token"),
        }
    }

    /// Whether the token could not be decoded, or its signature did not verify
    /// (what PyJWT calls a `DecodeError`), as opposed to a decoded token whose
    /// claims are refused.
    pub fn is_undecodable(self) -> bool {
        matches!(
            self,
            Self::TokenTooLong | Self::MalformedToken | Self::InvalidSignature
        )
    }
}

impl AuthError {
    pub(crate) fn new(kind: AuthErrorKind, description: &'static str) -> Self {
        Self {
            kind,
            description,
            source: None,
            requirement: None,
            challenge: None,
        }
    }

    pub(crate) fn with_source(
        kind: AuthErrorKind,
        description: &'static str,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            description,
            source: Some(Arc::new(source)),
            requirement: None,
            challenge: None,
        }
    }

    pub(crate) fn with_boxed_source(
        kind: AuthErrorKind,
        description: &'static str,
        source: BoxError,
    ) -> Self {
        Self {
            kind,
            description,
            source: Some(Arc::from(source)),
            requirement: None,
            challenge: None,
        }
    }

    pub(crate) fn missing_token() -> Self {
        Self::new(AuthErrorKind::MissingToken, "no token")
    }

    /// An [`InsufficientScope`](AuthErrorKind::InsufficientScope) error; with
    /// the route's scopes when a scope requirement failed.
    pub(crate) fn insufficient_scope(
        description: &'static str,
        required_scope: Option<Arc<Requirement>>,
    ) -> Self {
        Self {
            requirement: required_scope,
            ..Self::new(AuthErrorKind::InsufficientScope, description)
        }
    }

    /// An [`InsufficientUserAuthentication`](AuthErrorKind::InsufficientUserAuthentication)
    /// error, whose challenge names the whole requirement.
    pub(crate) fn insufficient_user_authentication(
        description: &'static str,
        requirement: Arc<Requirement>,
    ) -> Self {
        Self {
            requirement: Some(requirement),
            ..Self::new(AuthErrorKind::InsufficientUserAuthentication, description)
        }
    }

    /// This error, answered under `challenge` (the DPoP check's errors, and
    /// every refusal of a layer that accepts DPoP).
    pub(crate) fn with_challenge(mut self, challenge: Arc<Challenge>) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// The challenge this error is answered under, if not plain `Bearer`.
    pub(crate) fn challenge(&self) -> Option<&Arc<Challenge>> {
        self.challenge.as_ref()
    }

    /// The cause.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// A short, fixed, client-safe description of the cause, such as
    /// `"token expired"`. Never contains the token or claim values.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// The HTTP status of this error; see [`AuthErrorKind::status`].
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The scopes the route requires, space-separated (`"orders:read orders:write"`),
    /// when the request was refused for a missing scope
    /// ([`InsufficientScope`](AuthErrorKind::InsufficientScope) from a
    /// [`RequireLayer`](crate::RequireLayer) scope rule); `None` otherwise. The
    /// default responder sends it as the challenge's `scope` (RFC 6750 §3).
    pub fn required_scope(&self) -> Option<&str> {
        self.requirement.as_ref()?.scope.as_deref()
    }

    /// The authentication context class references the route accepts in the
    /// token's `acr` claim, space-separated in order of preference
    /// (`"urn:example:mfa urn:example:phr"`), when the request was refused
    /// by a step-up requirement that has them
    /// ([`InsufficientUserAuthentication`](AuthErrorKind::InsufficientUserAuthentication)
    /// from a [`RequireLayer`](crate::RequireLayer) with
    /// [`acr_values`](crate::RequireBuilder::acr_values)); `None` otherwise.
    /// The default responder sends it as the challenge's `acr_values`
    /// (RFC 9470 §3), whichever of the step-up rules failed.
    pub fn acr_values(&self) -> Option<&str> {
        self.requirement.as_ref()?.acr_values.as_deref()
    }

    /// The greatest age the route accepts of the user's authentication (the
    /// token's `auth_time`), in whole seconds, when the request was refused
    /// by a step-up requirement that has one
    /// ([`InsufficientUserAuthentication`](AuthErrorKind::InsufficientUserAuthentication)
    /// from a [`RequireLayer`](crate::RequireLayer) with
    /// [`max_age`](crate::RequireBuilder::max_age)); `None` otherwise. The
    /// default responder sends its seconds as the challenge's `max_age`
    /// (RFC 9470 §3), whichever of the step-up rules failed.
    pub fn max_age(&self) -> Option<Duration> {
        self.requirement.as_ref()?.max_age.map(Duration::from_secs)
    }

    /// The scheme whose challenge carries this error's code: [`AuthScheme::Dpop`]
    /// for the errors of a DPoP proof, and for any refusal of a token sent
    /// with the `DPoP` scheme; [`AuthScheme::Bearer`] otherwise.
    pub fn scheme(&self) -> AuthScheme {
        self.challenge
            .as_ref()
            .map_or(AuthScheme::Bearer, |c| c.scheme)
    }

    /// Whether the layer that refused accepts bearer tokens, and so answers
    /// with a `Bearer` challenge: `false` only where DPoP is required.
    pub fn bearer_accepted(&self) -> bool {
        self.challenge.as_ref().is_none_or(|c| c.bearer)
    }

    /// The DPoP proof algorithms the layer accepts, space-separated
    /// (`"ES256 EdDSA"`), when it accepts DPoP: the default responder sends a
    /// `DPoP` challenge with them as `algs` (RFC 9449 §7.1).
    pub fn dpop_algorithms(&self) -> Option<&str> {
        self.challenge.as_ref()?.dpop_algorithms.as_deref()
    }

    /// A nonce the client must put in its next DPoP proof, for the
    /// `DPoP-Nonce` response header (RFC 9449 §9); set on
    /// [`UseDpopNonce`](AuthErrorKind::UseDpopNonce) errors and on other
    /// refusals of a layer that requires nonces.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.challenge.as_ref()?.dpop_nonce.as_deref()
    }

    /// The URL of the refusing layer's protected resource metadata
    /// (RFC 9728), when it publishes one
    /// ([`JwtAuthBuilder::resource_metadata`](crate::JwtAuthBuilder::resource_metadata)):
    /// the default responder sends it as the `resource_metadata` of every
    /// challenge (RFC 9728 §5.1), so that a client can find how to get a
    /// token. A custom responder can do the same; the URL is checked at
    /// build time to be a quoted-string as it is.
    pub fn resource_metadata(&self) -> Option<&str> {
        self.challenge.as_ref()?.resource_metadata.as_deref()
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("kind", &self.kind)
            .field("description", &self.description)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .field("requirement", &self.requirement)
            .field("challenge", &self.challenge)
            .finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description)
    }
}

impl StdError for AuthError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

/// A configuration that cannot work, found when a layer, a key or an issuer is
/// built.
///
/// Every check that can be made once is made at build time, so that no request
/// ever meets a configuration problem. Each variant names one cause and
/// carries what identifies it; new causes may be added in minor releases.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// No verification key was configured.
    NoKeys,
    /// A key could not be read (PEM, DER or JWK); the `jsonwebtoken` error says why.
    InvalidKey(jsonwebtoken::errors::Error),
    /// A JWK Set document could not be parsed.
    InvalidJwkSet(serde_json::Error),
    /// A JWK could not be read as one ([`Key::from_jwk_json`](crate::Key::from_jwk_json)):
    /// not JSON, no or an unknown `kty`, a member missing or of the wrong
    /// type.
    InvalidJwk(serde_json::Error),
    /// A well-formed JWK that cannot verify signatures here
    /// ([`Key::from_jwk`](crate::Key::from_jwk)).
    UnusableJwk {
        /// Its `kid`, if it has one.
        kid: Option<String>,
        /// Why: its `use` is not `sig`, its curve is not supported, its `alg`
        /// is unknown or does not fit its key type or curve.
        reason: &'static str,
    },
    /// An HMAC secret is shorter than the hash output of an algorithm it is
    /// to verify or sign with. RFC 7518 §3.2: a secret at least as long as
    /// the hash output MUST be used (32 bytes for `HS256`, 48 for `HS384`, 64
    /// for `HS512`). A secret that cannot be replaced yet goes in with
    /// [`Key::hmac_legacy_short_secret`](crate::Key::hmac_legacy_short_secret)
    /// or [`TokenIssuer::hmac_legacy_short_secret`](crate::TokenIssuer::hmac_legacy_short_secret).
    ShortHmacSecret {
        /// The algorithm: the one pinned, or `HS256` for a secret too short
        /// for any.
        algorithm: jsonwebtoken::Algorithm,
        /// The secret's length in bytes.
        length: usize,
        /// The shortest length the algorithm allows.
        minimum: usize,
    },
    /// None of the static keys can verify any of the
    /// [allowed algorithms](crate::JwtAuthBuilder::algorithms): each was
    /// skipped (as a remote key set skips them), and none is left.
    NoKeyForAlgorithms {
        /// The allowed algorithms.
        algorithms: Vec<jsonwebtoken::Algorithm>,
        /// How many keys were skipped.
        skipped: usize,
    },
    /// An [allowed algorithm](crate::JwtAuthBuilder::algorithms) that none of
    /// the static keys can verify: every token using it would be refused, so
    /// it is a mistake (a missing key, or an HMAC secret too short for it).
    UnverifiableAlgorithm {
        /// The algorithm.
        algorithm: jsonwebtoken::Algorithm,
    },
    /// The algorithm cannot be used with the key (for example `HS256` with an RSA
    /// public key), or the allow-list is empty.
    AlgorithmMismatch(String),
    /// A cookie or query parameter name, or a header prefix, is empty or not a valid token.
    InvalidSourceName(String),
    /// No `jsonwebtoken` crypto backend is available: enable the `aws-lc-rs` or
    /// `rust-crypto` feature of this crate, or pass a provider with
    /// `JwtAuthBuilder::crypto_provider`.
    NoCryptoProvider,
    /// A value that cannot be empty is: an issuer, an audience, the `typ`, a
    /// trusted issuer's name, the allowed algorithms of static keys, a role,
    /// the roles of `any_role`, the values of `acr_values`, a token cache of 0
    /// entries, a list of trusted proxies, the resource metadata's
    /// authorization servers or a name of one of its fields.
    Empty {
        /// What is empty, as the builder method that set it names it
        /// (`"issuer"`, `"audience"`, `"typ"`, `"trusted_issuer"`,
        /// `"algorithms"`, `"role"`, `"any_role"`, `"acr_values"`,
        /// `"token_cache"`, `"form_read_timeout"`, `"trusted_proxies"`,
        /// `"authorization_servers"`, `"field"`).
        setting: &'static str,
    },
    /// An entry of [`TrustedProxies`](crate::TrustedProxies) is not an IP
    /// address or a CIDR block, or its prefix is too long, or its address
    /// has bits set beyond the prefix (`10.1.2.3/8`).
    InvalidTrustedProxy {
        /// The entry as given.
        entry: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A setting needs SHA-256 from this crate's crypto backend features
    /// (`aws-lc-rs` or `rust-crypto`), and this build has neither; a
    /// provider given with `JwtAuthBuilder::crypto_provider` does not bring
    /// one.
    NeedsBackendFeature {
        /// The builder method that set it (`"certificate_binding"`).
        setting: &'static str,
    },
    /// A layer with [trusted issuers](crate::TrustedIssuer) takes its keys,
    /// issuers, audiences, algorithms and key sets that change (remote, files,
    /// a key ring) from them: this one was set on the builder instead.
    NotOnTrustedIssuer {
        /// The builder method that set it (`"key"`, `"issuer"`, `"audience"`,
        /// `"algorithms"`, `"jwks"`, `"key_files"`, `"key_ring"`).
        setting: &'static str,
    },
    /// The same issuer is trusted twice.
    DuplicateIssuer {
        /// Its name.
        issuer: String,
    },
    /// One issuer has both static keys and a key set that changes (a remote
    /// key set, key files, a key ring): choose one.
    KeysAndKeySet,
    /// More of something than can be checked.
    TooMany {
        /// What there are too many of (`"required claims beyond the registered
        /// ones"`, `"distinct scopes"`, `"distinct roles"`, `"claim rules"`,
        /// `"acr values"`).
        what: &'static str,
        /// The most there may be.
        max: usize,
    },
    /// A required scope is not an RFC 6749 §3.3 scope-token (visible ASCII, no
    /// space, quote or backslash).
    InvalidScope {
        /// The scope as given.
        scope: String,
    },
    /// An accepted `acr` value of a step-up requirement
    /// ([`RequireBuilder::acr_values`](crate::RequireBuilder::acr_values)) is
    /// empty or not a single word of visible ASCII without quotes or
    /// backslashes: the challenge's `acr_values` is a space-separated list in
    /// a quoted string (RFC 9470 §3).
    InvalidAcrValue {
        /// The value as given.
        value: String,
    },
    /// The JWT access token profile
    /// ([`JwtAuthBuilder::jwt_access_token_profile`](crate::JwtAuthBuilder::jwt_access_token_profile))
    /// needs a setting that is missing: RFC 9068 §4 has the resource server
    /// validate `iss` and `aud`, so the layer needs an
    /// [`issuer`](crate::JwtAuthBuilder::issuer) and an
    /// [`audience`](crate::JwtAuthBuilder::audience) (with trusted issuers,
    /// each one an audience); and its `typ` is `at+jwt`.
    AccessTokenProfile {
        /// What is missing or in conflict, as the builder method names it
        /// (`"issuer"`, `"audience"`, `"typ"`).
        setting: &'static str,
        /// The trusted issuer it is missing for, if it is one's.
        issuer: Option<String>,
    },
    /// A header given to
    /// [`claim_to_header`](crate::JwtAuthBuilder::claim_to_header) or
    /// [`forward_payload`](crate::JwtAuthBuilder::forward_payload) is one the
    /// layer reads a token from (one of its token sources), a CSRF
    /// double-submit value, or a forwarded client certificate: every client
    /// copy of a forwarded header is removed before the layer reads the
    /// request.
    ForwardHeaderIsRead {
        /// The header.
        header: http::HeaderName,
    },
    /// A header given to
    /// [`claim_to_header`](crate::JwtAuthBuilder::claim_to_header) or
    /// [`forward_payload`](crate::JwtAuthBuilder::forward_payload) is one that
    /// carries credentials, is hop-by-hop, frames or routes the message, or
    /// that CORS or proxies use (`authorization`, `cookie`, `host`,
    /// `content-length`, `transfer-encoding`, `connection`, `origin`,
    /// `x-forwarded-for`, ...).
    ReservedForwardHeader {
        /// The header.
        header: http::HeaderName,
        /// Why it is reserved.
        reason: &'static str,
    },
    /// The same header given twice to
    /// [`claim_to_header`](crate::JwtAuthBuilder::claim_to_header) or
    /// [`forward_payload`](crate::JwtAuthBuilder::forward_payload).
    DuplicateForwardHeader {
        /// The header.
        header: http::HeaderName,
    },
    /// A claim path is empty, has an empty segment or too many segments.
    InvalidClaimPath {
        /// The path as given.
        path: String,
        /// The most segments a path may have.
        max_segments: usize,
    },
    /// A public URL of the service (the base of the target URIs DPoP proofs
    /// name) is not an absolute `http` or `https` URL with a host, or has
    /// userinfo, a query or a fragment.
    InvalidPublicUrl {
        /// The URL as given.
        url: String,
    },
    /// The secret of [`DpopNonces::new`](crate::DpopNonces::new) is shorter than the 32 bytes of its
    /// HMAC-SHA256 output (RFC 2104 §3).
    ShortNonceSecret {
        /// The secret's length in bytes.
        length: usize,
        /// The shortest length allowed.
        minimum: usize,
    },
    /// The operating system's random generator failed, so no random secret
    /// could be made ([`DpopNonces::random`](crate::DpopNonces::random)).
    RandomUnavailable,
    /// A DPoP proof algorithm is symmetric (`HS256`, ...): a proof must be
    /// signed by a public key the token is bound to (RFC 9449 §4.3).
    SymmetricDpopAlgorithm {
        /// The algorithm given.
        algorithm: jsonwebtoken::Algorithm,
    },
    /// A URL of the protected resource metadata (RFC 9728) cannot be used:
    /// the [`ResourceMetadata`](crate::ResourceMetadata)'s `resource`, or an
    /// issuer of its `authorization_servers` (given, or the layer's own
    /// issuers when none is given).
    InvalidMetadataUrl {
        /// The metadata field it is for (`"resource"`,
        /// `"authorization_servers"`).
        field: &'static str,
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A field given with [`ResourceMetadata::field`](crate::ResourceMetadata::field)
    /// is one the layer computes from its own configuration (`resource`,
    /// `authorization_servers`, `scopes_supported`,
    /// `bearer_methods_supported`, and the DPoP and certificate-binding
    /// fields): set it with its own method, or change the layer.
    ReservedMetadataField {
        /// The field's name.
        name: String,
    },
    /// A setting of a trusted issuer needs a setting of the layer that is
    /// missing ([`TrustedIssuer::dpop`](crate::TrustedIssuer::dpop) without
    /// [`JwtAuthBuilder::dpop`](crate::JwtAuthBuilder::dpop)).
    NeedsSetting {
        /// The setting given.
        setting: &'static str,
        /// The setting it needs.
        needs: &'static str,
        /// The trusted issuer it was given for.
        issuer: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoKeys => f.write_str("no verification key configured"),
            Self::InvalidKey(e) => write!(f, "invalid key: {e}"),
            Self::InvalidJwkSet(e) => write!(f, "invalid JWK Set: {e}"),
            Self::InvalidJwk(e) => write!(f, "invalid JWK: {e}"),
            Self::UnusableJwk { kid, reason } => match kid {
                Some(kid) => write!(
                    f,
                    "the JWK with kid {kid:?} cannot verify signatures: {reason}"
                ),
                None => write!(f, "the JWK cannot verify signatures: {reason}"),
            },
            Self::ShortHmacSecret {
                algorithm,
                length,
                minimum,
            } => write!(
                f,
                "an HMAC secret of {length} bytes is too short for {algorithm:?}, which needs \
                 {minimum} or more (RFC 7518 §3.2); for a legacy secret, use \
                 `hmac_legacy_short_secret`"
            ),
            Self::NoKeyForAlgorithms {
                algorithms,
                skipped,
            } => write!(
                f,
                "none of the {skipped} keys can verify any of the allowed algorithms {algorithms:?}"
            ),
            Self::UnverifiableAlgorithm { algorithm } => write!(
                f,
                "{algorithm:?} is allowed but no key can verify it (an HMAC secret serves \
                 HS256 from 32 bytes, HS384 from 48, HS512 from 64)"
            ),
            Self::AlgorithmMismatch(s) => write!(f, "algorithm mismatch: {s}"),
            Self::InvalidSourceName(s) => write!(f, "invalid token source name: {s:?}"),
            Self::NoCryptoProvider => f.write_str(
                "no jsonwebtoken crypto backend: enable the `aws-lc-rs` or `rust-crypto` \
                 feature of tower-jwt-auth, or set one with `crypto_provider`",
            ),
            Self::Empty { setting } => write!(f, "`{setting}` is empty"),
            Self::InvalidTrustedProxy { entry, reason } => {
                write!(f, "trusted proxy {entry:?}: {reason}")
            }
            Self::NeedsBackendFeature { setting } => write!(
                f,
                "`{setting}` needs SHA-256 from the `aws-lc-rs` or `rust-crypto` feature of \
                 tower-jwt-auth"
            ),
            Self::NotOnTrustedIssuer { setting } => write!(
                f,
                "with trusted issuers, `{setting}` is set on each `TrustedIssuer`, not on the builder"
            ),
            Self::DuplicateIssuer { issuer } => write!(f, "issuer {issuer:?} trusted twice"),
            Self::KeysAndKeySet => {
                f.write_str(
                    "static keys and a key set that changes (`jwks`, `key_files`, `key_ring`) for the same issuer: choose one",
                )
            }
            Self::TooMany { what, max } => write!(f, "more than {max} {what}"),
            Self::InvalidScope { scope } => write!(
                f,
                "scope {scope:?} is not an RFC 6749 scope-token (no spaces, quotes or \
                 backslashes; visible ASCII only)"
            ),
            Self::InvalidAcrValue { value } => write!(
                f,
                "acr value {value:?} is not one word of visible ASCII without quotes or \
                 backslashes"
            ),
            Self::AccessTokenProfile {
                setting: "typ",
                issuer: _,
            } => f.write_str(
                "the JWT access token profile (RFC 9068) requires `typ` \"at+jwt\"; another \
                 `typ` is set",
            ),
            Self::AccessTokenProfile { setting, issuer } => match issuer {
                Some(issuer) => write!(
                    f,
                    "the JWT access token profile (RFC 9068 §4) needs `{setting}` for trusted \
                     issuer {issuer:?}: the resource server must validate it"
                ),
                None => write!(
                    f,
                    "the JWT access token profile (RFC 9068 §4) needs `{setting}`: the resource \
                     server must validate it"
                ),
            },
            Self::ForwardHeaderIsRead { header } => write!(
                f,
                "`{header}` cannot receive claims: the layer reads a token, CSRF value or certificate from it"
            ),
            Self::ReservedForwardHeader { header, reason } => {
                write!(f, "`{header}` cannot receive claims: {reason}")
            }
            Self::DuplicateForwardHeader { header } => {
                write!(f, "`{header}` receives claims twice")
            }
            Self::InvalidClaimPath { path, max_segments } => write!(
                f,
                "claim path {path:?} is empty, has an empty segment or more than \
                 {max_segments} segments"
            ),
            Self::InvalidPublicUrl { url } => write!(
                f,
                "public URL {url:?} is not an absolute http(s) URL with a host and no \
                 userinfo, query or fragment"
            ),
            Self::ShortNonceSecret { length, minimum } => write!(
                f,
                "a DPoP nonce secret of {length} bytes is too short: it needs {minimum} or more"
            ),
            Self::RandomUnavailable => {
                f.write_str("the operating system's random generator failed")
            }
            Self::SymmetricDpopAlgorithm { algorithm } => write!(
                f,
                "{algorithm:?} cannot sign DPoP proofs: they are signed with a public key"
            ),
            Self::InvalidMetadataUrl { field, url, reason } => write!(
                f,
                "the resource metadata's `{field}` URL {url:?} cannot be used: {reason}"
            ),
            Self::ReservedMetadataField { name } => write!(
                f,
                "the resource metadata field {name:?} is computed by the layer: it cannot be \
                 set with `ResourceMetadata::field`"
            ),
            Self::NeedsSetting {
                setting,
                needs,
                issuer,
            } => write!(f, "{setting} (for issuer {issuer:?}) needs {needs}"),
        }
    }
}

impl StdError for ConfigError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::InvalidKey(e) => Some(e),
            Self::InvalidJwkSet(e) | Self::InvalidJwk(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::{AuthError, AuthErrorKind};
    use crate::response::{DefaultResponder, ErrorResponder};

    #[test]
    fn an_auth_error_stays_small() {
        // It rides in every `Result` of the verification path: a field more
        // showed as instructions per request (BENCHMARKS.md, step-up).
        assert!(std::mem::size_of::<AuthError>() <= 56);
    }

    #[test]
    fn a_form_read_timeout_is_408_without_a_challenge() {
        let kind = AuthErrorKind::FormReadTimeout;
        assert_eq!(kind.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(kind.error_code(), Some("invalid_request"));
        assert!(!kind.is_undecodable());
        let response = DefaultResponder::new().respond(&AuthError::new(kind, "late"));
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert!(!response.headers().contains_key("www-authenticate"));
        assert_eq!(
            response.body().as_ref(),
            br#"{"error":"invalid_request","error_description":"late"}"#
        );
    }
}
