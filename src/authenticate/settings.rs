//! [`Settings`]: everything a [`JwtAuthBuilder`](super::JwtAuthBuilder) was
//! told, held once, checked by [`Authenticator::new`](super::config::Authenticator::new).

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::crypto::CryptoProvider;

use crate::checks::TokenCheck;
use crate::csrf::CsrfPolicy;
use crate::dpop::{Dpop, DpopMode};
use crate::mtls::CertificateBinding;
use crate::resource_metadata::ResourceMetadata;
use crate::source::TokenSource;
use crate::verify::{IssuerConfig, Rules};

/// The default limit of a form body read for its token: 64 KiB.
pub const DEFAULT_FORM_LIMIT: usize = 64 * 1024;

/// The settings of a layer, as given. A new setting is one field here, its
/// default in `Default`, and one setter.
#[derive(Debug, Default)]
pub(crate) struct Settings {
    /// The keys and rules of a layer configured directly.
    pub(super) issuer: IssuerConfig,
    /// The issuers of a layer with trusted issuers (then `issuer` stays empty).
    pub(super) trusted: Vec<IssuerConfig>,
    /// Everything else the verifier checks.
    pub(super) rules: Rules,
    /// Empty for the default, `Authorization: Bearer`.
    pub(super) sources: Vec<TokenSource>,
    pub(super) form_limit: FormLimit,
    /// How long a form body may take to arrive; `None`: for ever.
    pub(super) form_read_timeout: FormReadTimeout,
    pub(super) optional: bool,
    /// Whether accepted requests gain their token's `TokenExpiry`.
    pub(super) token_expiry: bool,
    pub(super) csrf: CsrfPolicy,
    /// The certificate binding (RFC 8705), after CSRF, before revocation.
    pub(super) certificate_binding: Option<CertificateBinding>,
    /// The revocation check (feature `revocation`), the last check after
    /// verification.
    pub(super) revocation: Option<Arc<dyn TokenCheck>>,
    /// DPoP, when the layer takes it (its default mode and proof rules).
    pub(super) dpop: Option<Dpop>,
    /// Trusted issuers whose DPoP mode is their own, by name.
    pub(super) dpop_by_issuer: Vec<(String, DpopMode)>,
    /// `None`: the one of this crate's features.
    pub(super) provider: Option<&'static CryptoProvider>,
    /// The JWT access token profile (RFC 9068): its `typ` and claims are
    /// added to `rules` at build time.
    pub(super) access_token_profile: bool,
    /// The protected resource metadata (RFC 9728) the layer publishes.
    pub(super) resource_metadata: Option<ResourceMetadata>,
    /// Claims forwarded as request headers: (claim path, header), in order.
    pub(super) claim_headers: Vec<(String, http::HeaderName)>,
    /// The header of the verified payload, base64url.
    pub(super) payload_header: Option<http::HeaderName>,
    /// CORS preflights pass without a token.
    pub(super) bypass_cors_preflight: bool,
}

/// The form limit, 64 KiB unless set.
#[derive(Debug, Clone, Copy)]
pub(super) struct FormLimit(pub(super) usize);

impl Default for FormLimit {
    fn default() -> Self {
        Self(DEFAULT_FORM_LIMIT)
    }
}

/// The form read's deadline: 10 s with the `form-timeout` feature, none
/// without it, unless set.
#[derive(Debug, Clone, Copy)]
pub(super) struct FormReadTimeout(pub(super) Option<Duration>);

impl Default for FormReadTimeout {
    fn default() -> Self {
        Self(super::deadline::DEFAULT)
    }
}
