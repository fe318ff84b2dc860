//! [`JwtAuthBuilder`]: the configuration of a [`JwtAuthLayer`], one
//! [`Settings`] value, checked once by [`build`](JwtAuthBuilder::build).

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use jsonwebtoken::crypto::CryptoProvider;

use super::config::Authenticator;
use super::layer::JwtAuthLayer;
use super::settings::{FormLimit, Settings};
use super::{HeadOnly, WithForm};
use crate::clock::{Clock, SharedClock};
use crate::csrf::CsrfPolicy;
use crate::error::ConfigError;
use crate::issuer::TrustedIssuer;
use crate::key::{Key, KeySet};
use crate::response::{DefaultResponder, ErrorResponder};
use crate::source::TokenSource;

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
    settings: Settings,
    responder: R,
    _marker: PhantomData<fn() -> (C, M)>,
}

impl<C> JwtAuthLayer<C> {
    /// Starts a configuration. At least one key is needed; everything else has a
    /// secure default (see [`JwtAuthBuilder`]).
    pub fn builder() -> JwtAuthBuilder<C> {
        JwtAuthBuilder {
            settings: Settings::default(),
            responder: DefaultResponder::new(),
            _marker: PhantomData,
        }
    }
}

impl<C, R, M> JwtAuthBuilder<C, R, M> {
    /// Adds a verification key.
    pub fn key(mut self, key: Key) -> Self {
        self.settings.issuer.keys.push(key);
        self
    }

    /// Adds several keys, such as a [`KeySet`] read from a JWK Set document.
    pub fn keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.settings.issuer.keys.extend(keys);
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
    /// builder too is a [`ConfigError::NotOnTrustedIssuer`]. Everything else (sources,
    /// required claims, leeway, `typ`, subject, clock) applies to all.
    pub fn trusted_issuer(mut self, issuer: TrustedIssuer) -> Self {
        self.settings.trusted.push(issuer.config);
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
    pub fn jwks(mut self, keys: crate::RemoteKeySet) -> Self {
        self.settings.issuer.feed = Some(std::sync::Arc::new(keys));
        self
    }

    /// Restricts the accepted algorithms. Without it, each key allows the
    /// algorithms of its family (or the one pinned by its JWK `alg` or
    /// [`Key::with_algorithm`]). `none` is never accepted, whatever is set here.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.settings.issuer.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Accepts tokens from this issuer; call again to accept several. Once set,
    /// `iss` must be present, a string, and one of them.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.settings.issuer.issuers.push(issuer.into());
        self
    }

    /// Accepts tokens for this audience; call again to accept several. Once set,
    /// `aud` must be present and name one of them.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.settings.issuer.audiences.push(audience.into());
        self
    }

    /// Accepts only tokens whose `sub` is this value.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.settings.rules.subject = Some(subject.into());
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
        self.settings.rules.required_claims = names.into_iter().map(Into::into).collect();
        self
    }

    /// Adds one claim to those that must be present.
    pub fn require_claim(mut self, name: impl Into<String>) -> Self {
        self.settings.rules.required_claims.push(name.into());
        self
    }

    /// The clock-skew allowance for `exp` and `nbf`, in whole seconds (default
    /// 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.settings.rules.leeway = leeway;
        self
    }

    /// Requires this `typ` header (compared per RFC 7515: case-insensitively, the
    /// `application/` prefix optional), such as `"JWT"` or `"at+jwt"` (RFC 9068).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.settings.rules.typ = Some(typ.into());
        self
    }

    /// The longest token that is decoded at all (default 8 KiB); longer ones are
    /// refused before any work.
    pub fn max_token_length(mut self, bytes: usize) -> Self {
        self.settings.rules.max_token_length = bytes;
        self
    }

    /// Where "now" comes from (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.settings.rules.clock = SharedClock::new(clock);
        self
    }

    /// Adds a token source. The first call replaces the default
    /// (`Authorization: Bearer`); sources are read in the order given.
    pub fn source(mut self, source: TokenSource) -> Self {
        self.settings.sources.push(source);
        self
    }

    /// Lets requests *without any token* through, without claims
    /// (`Option<Claims<C>>` in the handler). A request with a token that fails
    /// verification is still refused.
    pub fn optional(mut self, optional: bool) -> Self {
        self.settings.optional = optional;
        self
    }

    /// How a token taken from a cookie proves, on an unsafe method, that the
    /// request was not forged by another site (default:
    /// [`CsrfPolicy::same_origin`]). Other sources are never affected.
    pub fn csrf(mut self, policy: CsrfPolicy) -> Self {
        self.settings.csrf = policy;
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
    pub fn token_cache(mut self, capacity: usize) -> Self {
        self.settings.rules.token_cache = Some(capacity);
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
    pub fn revocation(mut self, revocation: crate::Revocation) -> Self {
        self.settings.revocation = Some(std::sync::Arc::new(revocation));
        self
    }

    /// Uses the `jsonwebtoken` crypto provider given, instead of the one this
    /// crate's features select.
    pub fn crypto_provider(mut self, provider: &'static CryptoProvider) -> Self {
        self.settings.provider = Some(provider);
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
            settings: self.settings,
            responder: responder(self.responder),
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
    /// - [`ConfigError::Empty`]: an empty issuer, audience, `typ` or trusted
    ///   issuer name, or a token cache of 0 entries;
    /// - [`ConfigError::TooMany`]: more than 64 required claims beyond the
    ///   registered ones;
    /// - [`ConfigError::NotOnTrustedIssuer`]: keys, issuers, audiences,
    ///   algorithms or a remote key set set on the builder of a layer with
    ///   [trusted issuers](Self::trusted_issuer);
    /// - [`ConfigError::DuplicateIssuer`]: an issuer trusted twice;
    /// - [`ConfigError::KeysAndKeySet`]: static keys and a remote key set for
    ///   the same issuer.
    pub fn build(self) -> Result<JwtAuthLayer<C, R, M>, ConfigError>
    where
        R: ErrorResponder,
    {
        Authenticator::new(self.settings, self.responder).map(JwtAuthLayer::new)
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
    /// The token field is decoded strictly (invalid percent-encoding or UTF-8 is
    /// `400`); two different values are `400`; an empty value is no token.
    /// Other fields are the application's business and are left alone.
    ///
    /// # When the body is read
    ///
    /// Only when it must be: the form source comes before every source that
    /// found a token in the head, and the `Content-Type` is
    /// `application/x-www-form-urlencoded` (or `multipart/form-data` with the
    /// `multipart` feature). A `Content-Length` over the
    /// [limit](JwtAuthBuilder::form_limit) is answered `413` before any byte is
    /// read; a body that grows past it is stopped at the limit and answered
    /// `413`. Neither ever reaches the inner service half-read. Reading waits
    /// in the response future, so the inner service must be `Clone` (see the
    /// [crate docs](crate#synchronous-and-deferred-requests)).
    ///
    /// # How the inner service sees the body
    ///
    /// A layer without a form source hands the inner service the request
    /// exactly as it came, body type included: header-only users pay nothing
    /// for this feature. A layer with one may have to read the body to find the
    /// token, and a body that was read cannot be put back into an arbitrary
    /// body type `B`. So its inner service receives
    /// `Request<`[`RequestBody<B>`](crate::RequestBody)`>`: either the
    /// untouched original body (the token came from an earlier source, or the
    /// request is not a form) or the very bytes and trailers that were read.
    /// Headers (`Content-Type`, `Content-Length`) and extensions are unchanged,
    /// so handlers that parse the form again (axum's `Form`, `Multipart`) work
    /// as before. axum's `Router` accepts any such body, so `Router::layer` and
    /// `route_layer` work unchanged.
    pub fn form_field(mut self, name: impl Into<String>) -> JwtAuthBuilder<C, R, WithForm> {
        self.settings
            .sources
            .push(TokenSource::form_field(name.into()));
        self.convert(|same| same)
    }
}

impl<C, R> JwtAuthBuilder<C, R, WithForm> {
    /// The largest form body that is read (default 64 KiB); a larger one is
    /// answered `413`.
    pub fn form_limit(mut self, bytes: usize) -> Self {
        self.settings.form_limit = FormLimit(bytes);
        self
    }
}

impl<C, R: fmt::Debug, M> fmt::Debug for JwtAuthBuilder<C, R, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthBuilder")
            .field("settings", &self.settings)
            .field("responder", &self.responder)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderName;

    use crate::test_helpers::SECRET;
    use crate::{ConfigError, CsrfPolicy, JwtAuthLayer, Key, TokenSource, TrustedIssuer};

    fn error(builder: super::JwtAuthBuilder<serde_json::Value>) -> String {
        format!("{:?}", builder.build().unwrap_err())
    }

    #[test]
    fn each_setting_is_checked_by_the_module_that_owns_it() {
        let builder = || JwtAuthLayer::<serde_json::Value>::builder().key(Key::hmac(SECRET));
        assert_eq!(error(JwtAuthLayer::builder()), "NoKeys");
        assert_eq!(
            error(builder().source(TokenSource::query(""))),
            r#"InvalidSourceName("")"#
        );
        assert_eq!(
            error(builder().issuer("")),
            r#"Empty { setting: "issuer" }"#
        );
        assert_eq!(error(builder().typ("")), r#"Empty { setting: "typ" }"#);
        assert_eq!(
            error(builder().required_claims((0..65).map(|i| format!("claim{i}")))),
            r#"TooMany { what: "required claims beyond the registered ones", max: 64 }"#
        );
        let trusted = || TrustedIssuer::new("https://a.example").key(Key::hmac(SECRET));
        assert_eq!(
            error(builder().trusted_issuer(trusted())),
            r#"NotOnTrustedIssuer { setting: "key" }"#
        );
        assert_eq!(
            error(
                JwtAuthLayer::builder()
                    .trusted_issuer(trusted())
                    .trusted_issuer(trusted())
            ),
            r#"DuplicateIssuer { issuer: "https://a.example" }"#
        );
        // Every variant's text names its cause.
        for (error, text) in [
            (ConfigError::Empty { setting: "typ" }, "`typ` is empty"),
            (
                ConfigError::NotOnTrustedIssuer { setting: "key" },
                "with trusted issuers, `key` is set on each `TrustedIssuer`, not on the builder",
            ),
            (
                ConfigError::DuplicateIssuer {
                    issuer: "https://a.example".into(),
                },
                r#"issuer "https://a.example" trusted twice"#,
            ),
            (
                ConfigError::KeysAndKeySet,
                "static keys and a remote key set for the same issuer: choose one",
            ),
            (
                ConfigError::TooMany {
                    what: "claim rules",
                    max: 64,
                },
                "more than 64 claim rules",
            ),
        ] {
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn the_builders_debug_shows_every_setting_but_no_secret() {
        let builder = JwtAuthLayer::<serde_json::Value>::builder()
            .key(Key::hmac(SECRET))
            .trusted_issuer(TrustedIssuer::new("https://a.example").key(Key::hmac(SECRET)))
            .source(TokenSource::header(HeaderName::from_static("x-token")))
            .csrf(CsrfPolicy::disabled())
            .audience("orders");
        let debug = format!("{builder:?}");
        for shown in [
            "https://a.example",
            "x-token",
            "orders",
            "enabled: false",
            "leeway",
        ] {
            assert!(debug.contains(shown), "{shown}: {debug}");
        }
        let secret = String::from_utf8_lossy(SECRET);
        assert!(!debug.contains(&*secret), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
    }
}
