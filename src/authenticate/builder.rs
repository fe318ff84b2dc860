//! [`JwtAuthBuilder`]: the configuration of a [`JwtAuthLayer`], one
//! [`Settings`] value, checked once by [`build`](JwtAuthBuilder::build).

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use http::HeaderName;
use jsonwebtoken::Algorithm;
use jsonwebtoken::crypto::CryptoProvider;

use super::config::Authenticator;
use super::layer::JwtAuthLayer;
#[cfg(feature = "form-timeout")]
use super::settings::FormReadTimeout;
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
///
/// ```
/// # use std::convert::Infallible;
/// # use bytes::Bytes;
/// # use http::{Request, Response, StatusCode};
/// # use http_body_util::Full;
/// # use tower::{Layer, ServiceExt, service_fn};
/// # /// The status `layer` answers `request` with (the inner service says 200).
/// # async fn status<R: tower_jwt_auth::ErrorResponder>(
/// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
/// #     request: http::request::Builder,
/// # ) -> StatusCode {
/// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
/// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
/// #     });
/// #     let request = request.body(Full::default()).unwrap();
/// #     layer.layer(inner).oneshot(request).await.unwrap().status()
/// # }
/// # fn bearer(token: &str) -> http::request::Builder {
/// #     Request::get("/").header("authorization", format!("Bearer {token}"))
/// # }
/// use serde_json::json;
/// use tower_jwt_auth::{JwtAuthLayer, Key, TokenIssuer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = b"a secret of at least 32 bytes....";
/// let layer = JwtAuthLayer::<serde_json::Value>::builder()
///     .key(Key::hmac(secret))
///     .build()?;
/// let issuer = TokenIssuer::hmac(secret).build()?;
/// assert_eq!(status(&layer, bearer(&issuer.issue(&json!({ "sub": "ada" }))?)).await, StatusCode::OK);
/// // No token: 401. A token for some audience, when none is configured: 401.
/// assert_eq!(status(&layer, Request::get("/")).await, StatusCode::UNAUTHORIZED);
/// let elsewhere = TokenIssuer::hmac(secret).audience("billing").build()?;
/// assert_eq!(status(&layer, bearer(&elsewhere.issue(&json!({}))?)).await, StatusCode::UNAUTHORIZED);
/// # Ok(())
/// # }
/// ```
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
    ///
    /// Keys are the first group of settings: [`key`](Self::key),
    /// [`keys`](Self::keys), [`key_set`](Self::key_set),
    /// [`trusted_issuer`](Self::trusted_issuer), `jwks` (feature `remote-jwks`),
    /// `key_files` (feature `key-files`) and
    /// [`algorithms`](Self::algorithms). Keys with a `kid` are chosen by the
    /// token's `kid`, so that a new key can join before the old one leaves:
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # /// The status `layer` answers `request` with (the inner service says 200).
    /// # async fn status<R: tower_jwt_auth::ErrorResponder>(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
    /// #     request: http::request::Builder,
    /// # ) -> StatusCode {
    /// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap().status()
    /// # }
    /// # fn bearer(token: &str) -> http::request::Builder {
    /// #     Request::get("/").header("authorization", format!("Bearer {token}"))
    /// # }
    /// use serde_json::json;
    /// use tower_jwt_auth::{JwtAuthLayer, Key, TokenIssuer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let january = b"the secret of January, 32 bytes..";
    /// let february = b"the secret of February, 32 bytes.";
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(january).with_kid("2024-01"))
    ///     .key(Key::hmac(february).with_kid("2024-02"))
    ///     .build()?;
    /// let sign = |secret: &[u8], kid: &str| -> Result<String, Box<dyn std::error::Error>> {
    ///     Ok(TokenIssuer::hmac(secret).kid(kid).build()?.issue(&json!({}))?)
    /// };
    /// assert_eq!(status(&layer, bearer(&sign(february, "2024-02")?)).await, StatusCode::OK);
    /// assert_eq!(status(&layer, bearer(&sign(january, "2024-01")?)).await, StatusCode::OK);
    /// // The `kid` names the key: January's secret cannot pass for February's.
    /// assert_eq!(status(&layer, bearer(&sign(january, "2024-02")?)).await, StatusCode::UNAUTHORIZED);
    /// # Ok(())
    /// # }
    /// ```
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
        if let (Some(mode), Some(name)) = (issuer.dpop, issuer.config.issuers.first()) {
            self.settings.dpop_by_issuer.push((name.clone(), mode));
        }
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
    ///
    /// Built with `fail_fast(false)`, the set starts empty, and a request that
    /// needs keys before the first document has arrived is answered `503`:
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # /// The status `layer` answers `request` with (the inner service says 200).
    /// # async fn status<R: tower_jwt_auth::ErrorResponder>(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
    /// #     request: http::request::Builder,
    /// # ) -> StatusCode {
    /// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap().status()
    /// # }
    /// # fn bearer(token: &str) -> http::request::Builder {
    /// #     Request::get("/").header("authorization", format!("Bearer {token}"))
    /// # }
    /// use tower_jwt_auth::{JwtAuthLayer, RemoteKeySet};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// // A port nobody listens on, as an identity provider that is down.
    /// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    /// let keys = RemoteKeySet::builder(format!("http://127.0.0.1:{port}/jwks.json"))
    ///     .fail_fast(false)
    ///     .build()
    ///     .await?;
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder().jwks(keys).build()?;
    /// // An RS256 token (`{"alg":"RS256"}.{}`): its key cannot be fetched.
    /// let token = "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl";
    /// assert_eq!(status(&layer, bearer(token)).await, StatusCode::SERVICE_UNAVAILABLE);
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "remote-jwks")]
    pub fn jwks(mut self, keys: crate::RemoteKeySet) -> Self {
        self.settings.issuer.feed = Some(std::sync::Arc::new(keys));
        self
    }

    /// Takes the keys from files that are read again while the layer runs
    /// (instead of static keys), such as a Kubernetes Secret mounted as a
    /// volume: see `KeyFiles` (feature `key-files`).
    ///
    /// The keys of the current version verify synchronously, like static
    /// keys; a new version is taken atomically by the first request after
    /// the poll that found it, and a broken one leaves the last good keys in
    /// use. The algorithms are those the files may hold unless
    /// [`algorithms`](Self::algorithms) narrows them.
    ///
    /// ```
    /// use jsonwebtoken::Algorithm;
    /// use tower_jwt_auth::{JwtAuthLayer, KeyFiles, KeyFilesErrorKind};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = std::env::temp_dir().join(format!("key-files-builder-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let secret = dir.join("hmac-secret");
    /// std::fs::write(&secret, "a secret of at least 32 bytes....")?;
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key_files(KeyFiles::hmac(&secret).build()?)
    ///     .algorithms([Algorithm::HS256])
    ///     .build()?;
    ///
    /// // A file that is not there is an error at build time, not a server
    /// // without keys.
    /// let missing = KeyFiles::pem(dir.join("missing.pem"), Algorithm::RS256).build();
    /// assert_eq!(missing.unwrap_err().kind(), KeyFilesErrorKind::Unreadable);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "key-files")]
    pub fn key_files(mut self, keys: crate::KeyFiles) -> Self {
        self.settings.issuer.feed = Some(std::sync::Arc::new(keys));
        self
    }

    /// Takes the keys from a [`KeyRing`](crate::KeyRing) of this process
    /// (instead of static keys): a service that issues tokens with the ring
    /// and verifies them too follows each rotation at once, with no JWK Set
    /// to fetch. The ring's published keys (next, current and retired)
    /// verify; a key the ring dropped no longer does. A `kid` the ring lacks
    /// is `401` at once.
    ///
    /// Every asymmetric algorithm is allowed unless
    /// [`algorithms`](Self::algorithms) narrows them. Another service
    /// verifies the same tokens through the ring's JWK Set
    /// ([`KeyRing::jwk_set_service`](crate::KeyRing::jwk_set_service)) and a
    /// remote key set (feature `remote-jwks`).
    ///
    /// ```
    /// use jsonwebtoken::Algorithm;
    /// use tower_jwt_auth::{JwtAuthLayer, KeyRing, SigningKey, TokenIssuer};
    ///
    /// # let pem = || rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap().serialize_pem();
    /// let key = |pem: String| SigningKey::from_pem(Algorithm::ES256, pem.as_bytes());
    /// let ring = KeyRing::builder(key(pem())?, key(pem())?).build();
    /// let issuer = TokenIssuer::key_ring(ring.clone()).build()?;
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key_ring(ring)
    ///     .algorithms([Algorithm::ES256])
    ///     .build()?;
    /// # let _ = (issuer, layer);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn key_ring(mut self, ring: crate::KeyRing) -> Self {
        self.settings.issuer.feed = Some(std::sync::Arc::new(ring));
        self
    }

    /// Sends opaque access tokens to an authorization server's introspection
    /// endpoint (RFC 7662) instead of verifying them as JWTs.
    ///
    /// A token of three base64url segments (a JWS compact serialization) is
    /// verified as a JWT with this layer's keys, if it has any (a layer with
    /// introspection needs none); any other token is introspected. The
    /// active token's claims (the members of the response) then pass the
    /// same rules as a JWT's: `exp` and `nbf` with the leeway, the
    /// [`issuer`](Self::issuer) when the response names one (RFC 7662 makes
    /// `iss` optional), the [`audience`](Self::audience), the
    /// [`required_claims`](Self::required_claims) (`exp` by default), then
    /// the checks after verification (CSRF, the token's binding from `cnf`,
    /// DPoP, revocation), and become the request's [`Claims<C>`](crate::Claims).
    /// An inactive token is `401`
    /// ([`InactiveToken`](crate::AuthErrorKind::InactiveToken)); an
    /// authorization server that fails or is slow is `503`
    /// ([`IntrospectionUnavailable`](crate::AuthErrorKind::IntrospectionUnavailable)).
    /// Answers are cached: see [`Introspection`](crate::Introspection).
    ///
    /// With [`trusted_issuer`](Self::trusted_issuer)s, set it on the one
    /// issuer whose opaque tokens are taken instead
    /// ([`TrustedIssuer::introspection`](crate::TrustedIssuer::introspection)).
    ///
    /// ```
    /// use tower_jwt_auth::{Introspection, JwtAuthLayer};
    ///
    /// let introspection = Introspection::builder("https://login.example.com/oauth2/introspect")
    ///     .client_secret_basic("orders-api", "the client secret")
    ///     .build()?;
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .introspection(introspection)
    ///     .audience("https://orders.example.com")
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "introspection")]
    pub fn introspection(mut self, introspection: crate::Introspection) -> Self {
        self.settings.issuer.introspection = Some(std::sync::Arc::new(introspection));
        self
    }

    /// Restricts the accepted algorithms. Without it, each key allows the
    /// algorithms of its family (or the one pinned by its JWK `alg` or
    /// [`Key::with_algorithm`]). `none` is never accepted, whatever is set here.
    ///
    /// A static key that fits none of them is left out, as a remote key set
    /// leaves it out, and counted in [`JwtAuthLayer::skipped_keys`]: a JWK Set
    /// with RSA and EC keys and `.algorithms([RS256])` keeps its RSA keys.
    /// Building fails when no key is left
    /// ([`ConfigError::NoKeyForAlgorithms`]), when an algorithm given here has
    /// no key that can verify it ([`ConfigError::UnverifiableAlgorithm`]: it
    /// would refuse every token), or when the list is empty.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.settings.issuer.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Accepts tokens from this issuer; call again to accept several. Once set,
    /// `iss` must be present, a string, and one of them.
    ///
    /// With [`audience`](Self::audience) and [`subject`](Self::subject), the
    /// claims that say whom a token is from and for:
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # /// The status `layer` answers `request` with (the inner service says 200).
    /// # async fn status<R: tower_jwt_auth::ErrorResponder>(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
    /// #     request: http::request::Builder,
    /// # ) -> StatusCode {
    /// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap().status()
    /// # }
    /// # fn bearer(token: &str) -> http::request::Builder {
    /// #     Request::get("/").header("authorization", format!("Bearer {token}"))
    /// # }
    /// use serde_json::json;
    /// use tower_jwt_auth::{JwtAuthLayer, Key, TokenIssuer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(secret))
    ///     .issuer("https://login.example")
    ///     .audience("orders")
    ///     .build()?;
    /// let token = |issuer: &str, audience: &str| -> Result<String, Box<dyn std::error::Error>> {
    ///     let builder = TokenIssuer::hmac(secret).issuer(issuer).audience(audience);
    ///     Ok(builder.build()?.issue(&json!({ "sub": "ada" }))?)
    /// };
    /// assert_eq!(status(&layer, bearer(&token("https://login.example", "orders")?)).await, StatusCode::OK);
    /// assert_eq!(status(&layer, bearer(&token("https://login.example", "billing")?)).await, StatusCode::UNAUTHORIZED);
    /// assert_eq!(status(&layer, bearer(&token("https://other.example", "orders")?)).await, StatusCode::UNAUTHORIZED);
    /// # Ok(())
    /// # }
    /// ```
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.settings.issuer.issuers.push(issuer.into());
        self
    }

    /// Accepts tokens for this audience; call again to accept several. Once set,
    /// `aud` must be present and name one of them.
    ///
    /// For an OAuth 2 resource server, the audience is its **resource
    /// indicator** (RFC 8707): the URI clients send as `resource` in their
    /// token request (`resource=https://api.example.com`), which the
    /// authorization server puts in the token's `aud` (RFC 9068 §3). Use the
    /// same string, exactly, here and in the protected resource metadata.
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
    /// whose value is `null` counts as absent. `[]` requires none; owned
    /// names go in as `names.iter().map(String::as_str)`, or one by one with
    /// [`require_claim`](Self::require_claim).
    ///
    /// A claim that is not required is still checked when present: an `exp`
    /// that has passed is refused whether `exp` is required or not (see
    /// [`dangerous_skip_exp_check`](Self::dangerous_skip_exp_check) to stop
    /// that).
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # /// The status `layer` answers `request` with (the inner service says 200).
    /// # async fn status<R: tower_jwt_auth::ErrorResponder>(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
    /// #     request: http::request::Builder,
    /// # ) -> StatusCode {
    /// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap().status()
    /// # }
    /// # fn bearer(token: &str) -> http::request::Builder {
    /// #     Request::get("/").header("authorization", format!("Bearer {token}"))
    /// # }
    /// use tower_jwt_auth::{JwtAuthLayer, Key};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(secret))
    ///     .required_claims([]) // not even `exp`
    ///     .require_claim("sub")
    ///     .build()?;
    /// // Tokens without `exp`, signed by hand (the TokenIssuer always sets one).
    /// let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    /// let key = jsonwebtoken::EncodingKey::from_secret(secret);
    /// let forever = jsonwebtoken::encode(&header, &serde_json::json!({ "sub": "ada" }), &key)?;
    /// assert_eq!(status(&layer, bearer(&forever)).await, StatusCode::OK);
    /// let anonymous = jsonwebtoken::encode(&header, &serde_json::json!({}), &key)?;
    /// assert_eq!(status(&layer, bearer(&anonymous)).await, StatusCode::UNAUTHORIZED);
    /// # Ok(())
    /// # }
    /// ```
    pub fn required_claims<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        self.settings.rules.required_claims = names.into_iter().map(str::to_owned).collect();
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

    /// **Dangerous: accepts expired tokens.** A present `exp` is no longer
    /// compared with the clock (it must still be a number); whether one must
    /// be present stays the business of
    /// [`required_claims`](Self::required_claims), which requires it by
    /// default.
    ///
    /// A token that leaks then works for ever: nothing but a key rotation or
    /// a revocation check (the `revocation` feature) ends it. Use it only where
    /// something else bounds the life of a token, or in tests; the default,
    /// the check, is what RFC 7519 §4.1.4 asks for. The verified-token cache,
    /// if any, stops comparing `exp` too.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # /// The status `layer` answers `request` with (the inner service says 200).
    /// # async fn status<R: tower_jwt_auth::ErrorResponder>(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
    /// #     request: http::request::Builder,
    /// # ) -> StatusCode {
    /// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap().status()
    /// # }
    /// # fn bearer(token: &str) -> http::request::Builder {
    /// #     Request::get("/").header("authorization", format!("Bearer {token}"))
    /// # }
    /// use serde_json::json;
    /// use tower_jwt_auth::{JwtAuthLayer, Key, TokenIssuer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// // Issued at 1 000 000 for 15 minutes, presented at 2 000 000.
    /// let issuer = TokenIssuer::hmac(secret).clock(|| 1_000_000).build()?;
    /// let old = issuer.issue(&json!({}))?;
    /// let builder = || {
    ///     JwtAuthLayer::<serde_json::Value>::builder()
    ///         .key(Key::hmac(secret))
    ///         .clock(|| 2_000_000)
    /// };
    /// assert_eq!(status(&builder().build()?, bearer(&old)).await, StatusCode::UNAUTHORIZED);
    /// let lenient = builder().dangerous_skip_exp_check().build()?;
    /// assert_eq!(status(&lenient, bearer(&old)).await, StatusCode::OK);
    /// # Ok(())
    /// # }
    /// ```
    pub fn dangerous_skip_exp_check(mut self) -> Self {
        self.settings.rules.skip_exp_check = true;
        self
    }

    /// **Dangerous: accepts tokens before their `nbf`.** A present `nbf` is no
    /// longer compared with the clock (it must still be a number).
    ///
    /// `nbf` is how an issuer says a token is not valid *yet* (one minted in
    /// advance, or for a delayed grant); skipping it honours such a token
    /// early. Use it only for issuers known to set a wrong `nbf`, and prefer a
    /// larger [`leeway`](Self::leeway) for mere clock skew. The verified-token
    /// cache, if any, stops comparing `nbf` too.
    pub fn dangerous_skip_nbf_check(mut self) -> Self {
        self.settings.rules.skip_nbf_check = true;
        self
    }

    /// Requires this `typ` header (compared per RFC 7515: case-insensitively, the
    /// `application/` prefix optional), such as `"JWT"` or `"at+jwt"` (RFC 9068).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.settings.rules.typ = Some(typ.into());
        self
    }

    /// The JWT access token profile (RFC 9068) in one call: what a resource
    /// server checks of the access tokens an OAuth 2.0 authorization server
    /// issues as JWTs (Keycloak, Auth0, Okta, Entra ID, oidc-provider, ...).
    ///
    /// When the layer is built, it adds to the other settings, in whatever
    /// order they were made:
    ///
    /// - `typ` must be `at+jwt` (RFC 9068 §2.1, §4; `application/at+jwt` and
    ///   any case too, RFC 7515 §4.1.9), so that an ID token or another JWT
    ///   of the same issuer and keys cannot pass for an access token;
    /// - the claims RFC 9068 §2.2 makes mandatory are
    ///   [required](Self::required_claims): `iss`, `exp`, `aud`, `sub`,
    ///   `client_id`, `iat`, `jti`, besides any others required.
    ///
    /// RFC 9068 §4 has the resource server validate `iss` and `aud`, so the
    /// layer needs an [`issuer`](Self::issuer) and an [`audience`](Self::audience)
    /// (the resource indicator the client asks its tokens for, RFC 8707), or,
    /// with [trusted issuers](Self::trusted_issuer), an audience on each;
    /// else [`build`](Self::build) fails with
    /// [`ConfigError::AccessTokenProfile`] naming what is missing. A
    /// [`typ`](Self::typ) other than `at+jwt` fails the same way.
    ///
    /// What it does not do: the signature, `exp`, `nbf`, `iss` and `aud`
    /// checks are the layer's own, with or without the profile (RFC 9068 §4
    /// asks for no more). It does not require the optional claims: `auth_time`
    /// and `acr` (step-up: [`RequireBuilder::acr_values`](crate::RequireBuilder::acr_values)
    /// and [`max_age`](crate::RequireBuilder::max_age)), `scope` (a
    /// space-separated string, RFC 9068 §2.2.3: [`RequireBuilder::scope`](crate::RequireBuilder::scope)),
    /// or `groups`, `roles` and `entitlements` (RFC 9068 §2.2.3.1, arrays of
    /// strings: [`RequireBuilder::role`](crate::RequireBuilder::role) with
    /// [`roles_claim`](crate::RequireBuilder::roles_claim)). The algorithms
    /// are those of the keys, as always: an authorization server signs with
    /// asymmetric keys (RFC 9068 §4 refuses `none`, which this crate never
    /// takes).
    ///
    /// The required claims are the layer's rules, so they apply to the
    /// tokens it introspects (feature `introspection`) too: an authorization
    /// server whose introspection answers lack one of them (RFC 7662 makes
    /// them all optional) needs a layer without the profile for its opaque
    /// tokens.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # /// The status `layer` answers `request` with (the inner service says 200).
    /// # async fn status<R: tower_jwt_auth::ErrorResponder>(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
    /// #     request: http::request::Builder,
    /// # ) -> StatusCode {
    /// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap().status()
    /// # }
    /// # fn bearer(token: &str) -> http::request::Builder {
    /// #     Request::get("/").header("authorization", format!("Bearer {token}"))
    /// # }
    /// use jsonwebtoken::{Algorithm, EncodingKey, Header};
    /// use serde_json::json;
    /// use tower_jwt_auth::{ConfigError, JwtAuthLayer, Key};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(secret))
    ///     .issuer("https://login.example")
    ///     .audience("https://api.example")
    ///     .jwt_access_token_profile()
    ///     .build()?;
    ///
    /// let now = std::time::UNIX_EPOCH.elapsed()?.as_secs();
    /// let claims = json!({
    ///     "iss": "https://login.example", "aud": "https://api.example",
    ///     "sub": "ada", "client_id": "app", "iat": now, "exp": now + 300,
    ///     "jti": "a1b2c3", "scope": "orders:read",
    /// });
    /// let sign = |typ: &str| {
    ///     let header = Header { typ: Some(typ.to_owned()), ..Header::new(Algorithm::HS256) };
    ///     jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret))
    /// };
    /// assert_eq!(status(&layer, bearer(&sign("at+jwt")?)).await, StatusCode::OK);
    /// // The same claims as a plain JWT: not an access token.
    /// assert_eq!(status(&layer, bearer(&sign("JWT")?)).await, StatusCode::UNAUTHORIZED);
    ///
    /// // Without an audience, the profile cannot work.
    /// let error = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(secret))
    ///     .issuer("https://login.example")
    ///     .jwt_access_token_profile()
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(error, ConfigError::AccessTokenProfile { setting: "audience", .. }));
    /// # Ok(())
    /// # }
    /// ```
    pub fn jwt_access_token_profile(mut self) -> Self {
        self.settings.access_token_profile = true;
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
    ///
    /// Sources are read in order, and the first one replaces the default
    /// bearer source; see also [`optional`](Self::optional) and, for HTML forms,
    /// [`form_field`](Self::form_field):
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # /// The status `layer` answers `request` with (the inner service says 200).
    /// # async fn status<R: tower_jwt_auth::ErrorResponder>(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
    /// #     request: http::request::Builder,
    /// # ) -> StatusCode {
    /// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap().status()
    /// # }
    /// # fn bearer(token: &str) -> http::request::Builder {
    /// #     Request::get("/").header("authorization", format!("Bearer {token}"))
    /// # }
    /// use serde_json::json;
    /// use tower_jwt_auth::{JwtAuthLayer, Key, TokenIssuer, TokenSource};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(secret))
    ///     .source(TokenSource::cookie("session"))
    ///     .source(TokenSource::query("access_token"))
    ///     .build()?;
    /// let token = TokenIssuer::hmac(secret).build()?.issue(&json!({}))?;
    /// let cookie = Request::get("/").header("cookie", format!("theme=dark; session={token}"));
    /// assert_eq!(status(&layer, cookie).await, StatusCode::OK);
    /// assert_eq!(status(&layer, Request::get(format!("/?access_token={token}"))).await, StatusCode::OK);
    /// // Not a source of this layer.
    /// assert_eq!(status(&layer, bearer(&token)).await, StatusCode::UNAUTHORIZED);
    /// # Ok(())
    /// # }
    /// ```
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

    /// Inserts the accepted token's [`TokenExpiry`](crate::TokenExpiry)
    /// (its `exp`) into the request extensions beside its claims, for
    /// handlers whose connection outlives the request, such as a WebSocket
    /// that must close when its token expires (see
    /// [`TokenSource::websocket_protocol`]). Off by default: it costs an
    /// extension per request.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// use std::time::Duration;
    /// use serde_json::json;
    /// use tower_jwt_auth::{JwtAuthLayer, Key, TokenExpiry, TokenIssuer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(secret))
    ///     .token_expiry(true)
    ///     .build()?;
    /// let inner = service_fn(|request: Request<Full<Bytes>>| async move {
    ///     let expiry = request.extensions().get::<TokenExpiry>().unwrap();
    ///     let remaining = expiry.remaining().unwrap(); // `exp` is an hour ahead
    ///     assert!(remaining > Duration::from_secs(3590) && remaining <= Duration::from_secs(3600));
    ///     Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// });
    /// let token = TokenIssuer::hmac(secret)
    ///     .build()?
    ///     .issue_with_ttl(&json!({}), Duration::from_secs(3600))?;
    /// let request = Request::get("/")
    ///     .header("authorization", format!("Bearer {token}"))
    ///     .body(Full::default())?;
    /// layer.layer(inner).oneshot(request).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn token_expiry(mut self, insert: bool) -> Self {
        self.settings.token_expiry = insert;
        self
    }

    /// Forwards the claim at `claim` to the inner service as the request
    /// header `header` (Envoy's `claim_to_headers`); call again for each
    /// claim. `claim` is a top-level claim name or a dotted path into nested
    /// objects (`realm_access.roles`), as in
    /// [`RequireBuilder::claim_eq`](crate::RequireBuilder::claim_eq).
    ///
    /// # Values
    ///
    /// | claim | header value |
    /// |---|---|
    /// | a string of visible ASCII characters and spaces, no space at either end | the string |
    /// | a number, a boolean | its JSON text (`42`, `1.5`, `true`) |
    /// | an array of such numbers, booleans and non-empty strings without `,` | the elements joined by `,` (`a,b,3`); `[]` is an empty value |
    /// | anything else: an object, `null`, a string with control or non-ASCII characters (or a space at either end), an array with any such element | **no header**, and a `debug` event (feature `tracing`) naming the header, never the value |
    /// | no claim at that path | no header |
    ///
    /// A value is never passed raw and never altered: the inner service sees
    /// the claim exactly, or not at all. For every claim whatever its value,
    /// forward the whole payload with [`forward_payload`](Self::forward_payload).
    ///
    /// # Stripping
    ///
    /// Every client copy of `header` is removed from *every* request before
    /// the layer reads it: accepted, refused, let through without a token
    /// ([`optional`](Self::optional),
    /// [`bypass_cors_preflight`](Self::bypass_cors_preflight)), and also when
    /// the token has no such claim. So a header the inner service sees was
    /// set by this layer, from a verified token. A layer without forwarded
    /// headers does none of this work.
    ///
    /// # Errors
    ///
    /// At [`build`](Self::build): an invalid path
    /// ([`ConfigError::InvalidClaimPath`]); a header a token, a CSRF
    /// double-submit value or a forwarded client certificate is read from
    /// ([`ConfigError::ForwardHeaderIsRead`]);
    /// a header that carries credentials, is hop-by-hop, frames or routes the
    /// message, or that CORS or proxies use
    /// ([`ConfigError::ReservedForwardHeader`]); the same header twice
    /// ([`ConfigError::DuplicateForwardHeader`]); more than 64 claims
    /// ([`ConfigError::TooMany`]).
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{HeaderMap, Request, Response};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # /// The headers the inner service receives from `layer` for `request`.
    /// # async fn upstream<R: tower_jwt_auth::ErrorResponder>(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
    /// #     request: http::request::Builder,
    /// # ) -> HeaderMap {
    /// #     let inner = service_fn(|request: Request<Full<Bytes>>| async move {
    /// #         let mut response = Response::new(Full::<Bytes>::default());
    /// #         *response.headers_mut() = request.headers().clone();
    /// #         Ok::<_, Infallible>(response)
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap().headers().clone()
    /// # }
    /// use http::HeaderName;
    /// use serde_json::json;
    /// use tower_jwt_auth::{JwtAuthLayer, Key, TokenIssuer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(secret))
    ///     .claim_to_header("sub", HeaderName::from_static("x-jwt-sub"))
    ///     .claim_to_header("realm_access.roles", HeaderName::from_static("x-jwt-roles"))
    ///     .claim_to_header("name", HeaderName::from_static("x-jwt-name"))
    ///     .build()?;
    /// let token = TokenIssuer::hmac(secret).build()?.issue(&json!({
    ///     "sub": "ada",
    ///     "realm_access": { "roles": ["admin", "billing"] },
    ///     "name": "Zoë", // not ASCII: not forwarded
    /// }))?;
    /// let headers = upstream(
    ///     &layer,
    ///     Request::get("/")
    ///         .header("authorization", format!("Bearer {token}"))
    ///         .header("x-jwt-name", "forged by the client"),
    /// )
    /// .await;
    /// assert_eq!(headers["x-jwt-sub"], "ada");
    /// assert_eq!(headers["x-jwt-roles"], "admin,billing");
    /// assert!(headers.get("x-jwt-name").is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn claim_to_header(mut self, claim: impl Into<String>, header: HeaderName) -> Self {
        self.settings.claim_headers.push((claim.into(), header));
        self
    }

    /// Forwards the whole verified payload (the claims as JSON text, as the
    /// token carried them) to the inner service as the request header
    /// `header`, base64url-encoded without padding (RFC 4648 §5), as Envoy's
    /// `forward_payload_header` does. A second call replaces the header.
    ///
    /// Client copies are removed from every request, and the same names are
    /// refused, as for [`claim_to_header`](Self::claim_to_header).
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{HeaderMap, Request, Response};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # /// The headers the inner service receives from `layer` for `request`.
    /// # async fn upstream<R: tower_jwt_auth::ErrorResponder>(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
    /// #     request: http::request::Builder,
    /// # ) -> HeaderMap {
    /// #     let inner = service_fn(|request: Request<Full<Bytes>>| async move {
    /// #         let mut response = Response::new(Full::<Bytes>::default());
    /// #         *response.headers_mut() = request.headers().clone();
    /// #         Ok::<_, Infallible>(response)
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap().headers().clone()
    /// # }
    /// use base64::Engine;
    /// use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    /// use http::HeaderName;
    /// use serde_json::{Value, json};
    /// use tower_jwt_auth::{JwtAuthLayer, Key, TokenIssuer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(secret))
    ///     .forward_payload(HeaderName::from_static("x-jwt-payload"))
    ///     .build()?;
    /// let token = TokenIssuer::hmac(secret).build()?.issue(&json!({ "name": "Zoë" }))?;
    /// let headers = upstream(&layer, Request::get("/").header("authorization", format!("Bearer {token}"))).await;
    /// let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&headers["x-jwt-payload"])?)?;
    /// assert_eq!(payload["name"], "Zoë");
    /// # Ok(())
    /// # }
    /// ```
    pub fn forward_payload(mut self, header: HeaderName) -> Self {
        self.settings.payload_header = Some(header);
        self
    }

    /// Lets CORS preflight requests through to the inner service without a
    /// token (Envoy's `bypass_cors_preflight`); off by default.
    ///
    /// A preflight is an `OPTIONS` request with both an `Origin` and an
    /// `Access-Control-Request-Method` header, as browsers send it before a
    /// cross-origin request with an `Authorization` header, and *without*
    /// credentials (Fetch standard): with this off, such a request is
    /// answered `401`, and the browser never sends the real one. It reaches
    /// the inner service without claims (and without any
    /// [forwarded header](Self::claim_to_header), which are still removed). An
    /// `OPTIONS` request without both headers is authenticated as any other.
    ///
    /// Turn it on when the inner service (or the upstream of a proxy) answers
    /// preflights itself. Often simpler: put tower-http's `CorsLayer`
    /// *in front of* this layer, which answers preflights before they reach
    /// it (see the crate docs, "CORS"). A [`RequireLayer`](crate::RequireLayer)
    /// behind this layer refuses a request without claims, preflights
    /// included.
    pub fn bypass_cors_preflight(mut self, bypass: bool) -> Self {
        self.settings.bypass_cors_preflight = bypass;
        self
    }

    /// How a token taken from a cookie proves, on an unsafe method, that the
    /// request was not forged by another site (default:
    /// [`CsrfPolicy::same_origin`]). Other sources are never affected.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # /// The status `layer` answers `request` with (the inner service says 200).
    /// # async fn status<R: tower_jwt_auth::ErrorResponder>(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
    /// #     request: http::request::Builder,
    /// # ) -> StatusCode {
    /// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap().status()
    /// # }
    /// # fn bearer(token: &str) -> http::request::Builder {
    /// #     Request::get("/").header("authorization", format!("Bearer {token}"))
    /// # }
    /// use serde_json::json;
    /// use tower_jwt_auth::{CsrfPolicy, JwtAuthLayer, Key, TokenIssuer, TokenSource};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(secret))
    ///     .source(TokenSource::cookie("session"))
    ///     .csrf(CsrfPolicy::same_origin().trust_origin("https://app.example"))
    ///     .build()?;
    /// let token = TokenIssuer::hmac(secret).build()?.issue(&json!({}))?;
    /// let post = |origin| {
    ///     Request::post("https://api.example/orders")
    ///         .header("cookie", format!("session={token}"))
    ///         .header("origin", origin)
    /// };
    /// assert_eq!(status(&layer, post("https://app.example")).await, StatusCode::OK);
    /// assert_eq!(status(&layer, post("https://api.example")).await, StatusCode::OK);
    /// assert_eq!(status(&layer, post("https://evil.example")).await, StatusCode::FORBIDDEN);
    /// # Ok(())
    /// # }
    /// ```
    pub fn csrf(mut self, policy: CsrfPolicy) -> Self {
        self.settings.csrf = policy;
        self
    }

    /// Accepts a certificate-bound token (RFC 8705 §3, `cnf["x5t#S256"]`) only
    /// with the client certificate it is bound to, read from the TLS
    /// connection or from a trusted proxy's header as `binding` says; see
    /// [`CertificateBinding`](crate::CertificateBinding), whose docs show
    /// both. Without it, every certificate-bound token is refused.
    ///
    /// [`build`](Self::build) fails with
    /// [`ConfigError::NeedsBackendFeature`] in a build without the
    /// `aws-lc-rs` and `rust-crypto` features (no SHA-256).
    pub fn certificate_binding(mut self, binding: crate::CertificateBinding) -> Self {
        self.settings.certificate_binding = Some(binding);
        self
    }

    /// Takes DPoP-bound tokens (RFC 9449): `Authorization: DPoP <token>` with
    /// a `DPoP` proof header, checked as [`Dpop`](crate::Dpop) says, beside
    /// bearer tokens ([`Dpop::allowed`](crate::Dpop::allowed)) or instead of
    /// them ([`Dpop::required`](crate::Dpop::required)).
    ///
    /// The proof is checked after the token has verified: `typ`, algorithm,
    /// public key and signature, `htm` and `htu` against this request,
    /// `iat` within the window, `ath` against the token, the token's
    /// `cnf.jkt` against the proof's key, the server's nonce when
    /// [nonces](crate::Dpop::nonces) are on, and last the proof's `jti`,
    /// which is accepted once ([replay store](crate::Dpop::replay)). A
    /// DPoP-bound token sent as a bearer token is refused in every mode
    /// (RFC 9449 §7.2), as it is by a layer without DPoP. Refusals carry a
    /// `DPoP` challenge with the accepted algorithms (see
    /// [`DefaultResponder`](crate::DefaultResponder)).
    ///
    /// A proof names the URL the client called: behind a proxy or a TLS
    /// terminator, set [`public_url`](crate::Dpop::public_url).
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # async fn answer(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value>,
    /// #     request: http::request::Builder,
    /// # ) -> Response<tower_jwt_auth::ResponseBody<Full<Bytes>>> {
    /// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap()
    /// # }
    /// use serde_json::json;
    /// use tower_jwt_auth::{Dpop, JwtAuthLayer, Key, TokenIssuer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(secret))
    ///     .dpop(Dpop::required().public_url("https://api.example.com"))
    ///     .build()?;
    /// // A bearer token, where DPoP is required: refused, with a DPoP challenge.
    /// let token = TokenIssuer::hmac(secret).build()?.issue(&json!({ "sub": "ada" }))?;
    /// let bearer = Request::get("/").header("authorization", format!("Bearer {token}"));
    /// let response = answer(&layer, bearer).await;
    /// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    /// assert_eq!(
    ///     response.headers()["www-authenticate"],
    ///     "DPoP error=\"invalid_token\", error_description=\"DPoP required\", \
    ///      algs=\"ES256 ES384 EdDSA Ed25519 PS256 PS384 PS512 RS256 RS384 RS512\""
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn dpop(mut self, dpop: crate::Dpop) -> Self {
        self.settings.dpop = Some(dpop);
        self
    }

    /// Publishes the layer's protected resource metadata (RFC 9728): a JSON
    /// document, written from `metadata` and this layer's own settings (see
    /// [`ResourceMetadata`](crate::ResourceMetadata) for each field), that
    /// tells clients which authorization servers issue its tokens, which
    /// scopes exist and how to send a token.
    ///
    /// Every challenge of the layer then names the document's URL as
    /// `resource_metadata` (RFC 9728 §5.1), on `Bearer` and `DPoP`
    /// challenges alike: a client refused with `401` finds there where to
    /// get a token. [`JwtAuthLayer::resource_metadata_service`](crate::JwtAuthLayer::resource_metadata_service)
    /// serves the document; route it at its well-known path, outside the
    /// layer. [`build`](Self::build) checks the URLs, scopes and fields.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// use tower_jwt_auth::{JwtAuthLayer, Key, ResourceMetadata};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(b"a secret of at least 32 bytes...."))
    ///     .issuer("https://login.example")
    ///     .resource_metadata(ResourceMetadata::new("https://api.example/mcp"))
    ///     .build()?;
    /// # let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #     Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// # });
    /// let request = Request::get("/mcp").body(Full::<Bytes>::default())?;
    /// let response = layer.layer(inner).oneshot(request).await?;
    /// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    /// assert_eq!(
    ///     response.headers()["www-authenticate"],
    ///     "Bearer resource_metadata=\"https://api.example/.well-known/oauth-protected-resource/mcp\""
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn resource_metadata(mut self, metadata: crate::ResourceMetadata) -> Self {
        self.settings.resource_metadata = Some(metadata);
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
    ///
    /// A hit still meets the clock:
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # /// The status `layer` answers `request` with (the inner service says 200).
    /// # async fn status<R: tower_jwt_auth::ErrorResponder>(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
    /// #     request: http::request::Builder,
    /// # ) -> StatusCode {
    /// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap().status()
    /// # }
    /// # fn bearer(token: &str) -> http::request::Builder {
    /// #     Request::get("/").header("authorization", format!("Bearer {token}"))
    /// # }
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::time::Duration;
    /// use serde_json::json;
    /// use tower_jwt_auth::{JwtAuthLayer, Key, TokenIssuer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// let now = Arc::new(AtomicU64::new(1_000_000));
    /// let clock = now.clone();
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(secret))
    ///     .clock(move || clock.load(Ordering::SeqCst))
    ///     .token_cache(10_000)
    ///     .build()?;
    /// let issuer = TokenIssuer::hmac(secret).ttl(Duration::from_secs(60)).clock(|| 1_000_000);
    /// let token = issuer.build()?.issue(&json!({}))?;
    /// assert_eq!(status(&layer, bearer(&token)).await, StatusCode::OK); // verified, kept
    /// assert_eq!(status(&layer, bearer(&token)).await, StatusCode::OK); // a hit
    /// // Past `exp` and the 60 s leeway, the cached token is refused like any other.
    /// now.store(1_000_120, Ordering::SeqCst);
    /// assert_eq!(status(&layer, bearer(&token)).await, StatusCode::UNAUTHORIZED);
    /// # Ok(())
    /// # }
    /// ```
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
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # /// The status `layer` answers `request` with (the inner service says 200).
    /// # async fn status<R: tower_jwt_auth::ErrorResponder>(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
    /// #     request: http::request::Builder,
    /// # ) -> StatusCode {
    /// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap().status()
    /// # }
    /// # fn bearer(token: &str) -> http::request::Builder {
    /// #     Request::get("/").header("authorization", format!("Bearer {token}"))
    /// # }
    /// use serde_json::json;
    /// use tower_jwt_auth::{
    ///     JwtAuthLayer, Key, MemoryRevocations, Revocation, RevocationStore, TokenInfo, TokenIssuer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// let store = MemoryRevocations::new();
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(secret))
    ///     .revocation(Revocation::new(store.clone()))
    ///     .build()?;
    /// let token = TokenIssuer::hmac(secret).build()?.issue(&json!({ "jti": "t-1" }))?;
    /// assert_eq!(status(&layer, bearer(&token)).await, StatusCode::OK);
    /// // Logout: in a handler, the TokenInfo comes from the request's extensions.
    /// let far = 4_102_444_800;
    /// store.revoke(&TokenInfo::new().with_jti("t-1").with_expires_at(far)).await?;
    /// assert_eq!(status(&layer, bearer(&token)).await, StatusCode::UNAUTHORIZED);
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "revocation")]
    pub fn revocation(mut self, revocation: crate::Revocation) -> Self {
        self.settings.revocation = Some(std::sync::Arc::new(revocation));
        self
    }

    /// Uses the `jsonwebtoken` crypto provider given, instead of the one this
    /// crate's features select.
    ///
    /// A provider of one's own is called for every signature check (the
    /// features' aws-lc-rs provider is faster: its keys are prepared once):
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # /// The status `layer` answers `request` with (the inner service says 200).
    /// # async fn status<R: tower_jwt_auth::ErrorResponder>(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
    /// #     request: http::request::Builder,
    /// # ) -> StatusCode {
    /// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap().status()
    /// # }
    /// # fn bearer(token: &str) -> http::request::Builder {
    /// #     Request::get("/").header("authorization", format!("Bearer {token}"))
    /// # }
    /// use std::sync::LazyLock;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier};
    /// use jsonwebtoken::{Algorithm, DecodingKey};
    /// use serde_json::json;
    /// use tower_jwt_auth::{JwtAuthLayer, Key, TokenIssuer};
    /// # #[cfg(feature = "aws-lc-rs")]
    /// # use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER as BASE;
    /// # #[cfg(not(feature = "aws-lc-rs"))]
    /// # use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER as BASE;
    ///
    /// static CHECKS: AtomicUsize = AtomicUsize::new(0);
    ///
    /// fn counting(
    ///     algorithm: &Algorithm,
    ///     key: &DecodingKey,
    /// ) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    ///     CHECKS.fetch_add(1, Ordering::SeqCst);
    ///     (BASE.verifier_factory)(algorithm, key)
    /// }
    ///
    /// /// The backend's provider, counting the signatures it checks.
    /// static COUNTING: LazyLock<CryptoProvider> =
    ///     LazyLock::new(|| CryptoProvider { verifier_factory: counting, ..BASE.clone() });
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(secret))
    ///     .crypto_provider(&COUNTING)
    ///     .build()?;
    /// let before = CHECKS.load(Ordering::SeqCst); // building checked the key
    /// let token = TokenIssuer::hmac(secret).build()?.issue(&json!({}))?;
    /// assert_eq!(status(&layer, bearer(&token)).await, StatusCode::OK);
    /// assert_eq!(CHECKS.load(Ordering::SeqCst) - before, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn crypto_provider(mut self, provider: &'static CryptoProvider) -> Self {
        self.settings.provider = Some(provider);
        self
    }

    /// Answers refused requests with `responder` instead of the
    /// [`DefaultResponder`].
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// # /// The status `layer` answers `request` with (the inner service says 200).
    /// # async fn status<R: tower_jwt_auth::ErrorResponder>(
    /// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
    /// #     request: http::request::Builder,
    /// # ) -> StatusCode {
    /// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// #     });
    /// #     let request = request.body(Full::default()).unwrap();
    /// #     layer.layer(inner).oneshot(request).await.unwrap().status()
    /// # }
    /// # fn bearer(token: &str) -> http::request::Builder {
    /// #     Request::get("/").header("authorization", format!("Bearer {token}"))
    /// # }
    /// use serde_json::json;
    /// use tower_jwt_auth::{AuthError, JwtAuthLayer, Key};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(b"a secret of at least 32 bytes...."))
    ///     .responder(|error: &AuthError| {
    ///         let body = json!({ "code": 1003, "error": error.description() });
    ///         let mut response = Response::new(Bytes::from(body.to_string()));
    ///         // The seed application's format: 200, and a code in the body.
    ///         *response.status_mut() = StatusCode::OK;
    ///         response
    ///     })
    ///     .build()?;
    /// # let inner = service_fn(|_: Request<Full<Bytes>>| async {
    /// #     Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// # });
    /// # let request = Request::get("/").body(Full::<Bytes>::default())?;
    /// let response = layer.layer(inner).oneshot(request).await?;
    /// assert_eq!(response.status(), StatusCode::OK);
    /// // The error is in the extensions, whatever the responder answers.
    /// assert!(response.extensions().get::<AuthError>().is_some());
    /// # Ok(())
    /// # }
    /// ```
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
    ///   family;
    /// - [`ConfigError::ShortHmacSecret`]: an HMAC secret shorter than the hash
    ///   of an algorithm it allows (see [`Key::hmac`]);
    /// - [`ConfigError::NoKeyForAlgorithms`]: no static key fits the
    ///   [allowed algorithms](Self::algorithms);
    /// - [`ConfigError::UnverifiableAlgorithm`]: an allowed algorithm that no
    ///   static key can verify;
    /// - [`ConfigError::InvalidSourceName`]: an empty or invalid source name;
    /// - [`ConfigError::InvalidClaimPath`], [`ConfigError::ForwardHeaderIsRead`],
    ///   [`ConfigError::ReservedForwardHeader`],
    ///   [`ConfigError::DuplicateForwardHeader`]: a claim or header of
    ///   [`claim_to_header`](Self::claim_to_header) or
    ///   [`forward_payload`](Self::forward_payload) that cannot be forwarded;
    /// - [`ConfigError::Empty`]: an empty issuer, audience, `typ`, trusted
    ///   issuer name or list of allowed algorithms, or a token cache of 0
    ///   entries;
    /// - [`ConfigError::TooMany`]: more than 64 required claims beyond the
    ///   registered ones, or more than 64 claims forwarded as headers;
    /// - [`ConfigError::NotOnTrustedIssuer`]: keys, issuers, audiences,
    ///   algorithms or a key set that changes (`jwks`, `key_files`,
    ///   `key_ring`) set on the builder of a layer with
    ///   [trusted issuers](Self::trusted_issuer);
    /// - [`ConfigError::AccessTokenProfile`]: no issuer or no audience for
    ///   the [JWT access token profile](Self::jwt_access_token_profile), or
    ///   another `typ` with it;
    /// - [`ConfigError::DuplicateIssuer`]: an issuer trusted twice;
    /// - [`ConfigError::KeysAndKeySet`]: static keys and a key set that
    ///   changes (`jwks`, `key_files`, `key_ring`) for the same issuer;
    /// - [`ConfigError::InvalidMetadataUrl`],
    ///   [`ConfigError::ReservedMetadataField`], [`ConfigError::InvalidScope`]
    ///   and [`ConfigError::Empty`]: a [resource metadata](Self::resource_metadata)
    ///   whose resource identifier or authorization server (given, or the
    ///   layer's issuer) is not an `https://` URL without query or fragment,
    ///   which sets a field the layer computes, or names an invalid scope.
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
    /// read, and so is a `multipart/form-data` whose boundary is empty or over
    /// 70 characters (RFC 2046 §5.1.1) with `400`; a body that grows past the
    /// limit is stopped there and answered `413`, and one that has not
    /// arrived whole within the read timeout (`form_read_timeout`, 10 s, with
    /// the default `form-timeout` feature) is answered `408`. None
    /// ever reaches the inner service half-read. Reading waits
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

    /// How long a form body may take to arrive, whole, from the moment the
    /// layer receives the request (default
    /// [10 s](crate::DEFAULT_FORM_READ_TIMEOUT)); a body still incomplete then
    /// is answered `408`
    /// ([`AuthErrorKind::FormReadTimeout`](crate::AuthErrorKind::FormReadTimeout),
    /// no `WWW-Authenticate` challenge), the inner service is not called, and
    /// the rest of the body is not read. `None` waits for ever; `0` is a
    /// [`ConfigError::Empty`]. Raise it with the [limit](Self::form_limit)
    /// when large forms come over slow links.
    ///
    /// The timer is tokio's (feature `form-timeout`, on by default), made only
    /// when a body keeps the read waiting: the server must run on a tokio
    /// runtime with its time driver, as axum and hyper servers on
    /// `#[tokio::main]` do (and as tower-http's timeouts need). Outside any
    /// tokio runtime there is no deadline. Without the feature there is none
    /// either: bound the body's time outside the layer then (for example with
    /// tower-http's `RequestBodyTimeoutLayer`).
    ///
    /// # Panics
    ///
    /// A form read that waits for its body, on a tokio runtime built without
    /// its time driver (no `enable_time` or `enable_all`), panics in tokio's
    /// timer. Enable the driver, or set `None` here.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::{JwtAuthLayer, Key, TokenSource};
    ///
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(b"a secret of at least 32 bytes...."))
    ///     .source(TokenSource::bearer())
    ///     .form_field("access_token")
    ///     .form_limit(8 * 1024)
    ///     .form_read_timeout(Duration::from_secs(5))
    ///     .build()?;
    /// assert!(format!("{layer:?}").contains("5s"));
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[cfg(feature = "form-timeout")]
    pub fn form_read_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.settings.form_read_timeout = FormReadTimeout(timeout.into());
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
    use jsonwebtoken::Algorithm;

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
            error(
                builder().required_claims(
                    (0..65)
                        .map(|i| format!("claim{i}"))
                        .collect::<Vec<_>>()
                        .iter()
                        .map(String::as_str)
                )
            ),
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
        assert_eq!(
            error(JwtAuthLayer::builder().key(Key::hmac(&SECRET[..31]))),
            "ShortHmacSecret { algorithm: HS256, length: 31, minimum: 32 }"
        );
        assert_eq!(
            error(builder().algorithms([Algorithm::HS256, Algorithm::HS384])),
            "UnverifiableAlgorithm { algorithm: HS384 }"
        );
        assert_eq!(
            error(builder().algorithms([Algorithm::RS256])),
            "NoKeyForAlgorithms { algorithms: [RS256], skipped: 1 }"
        );
        assert_eq!(
            error(builder().algorithms([])),
            r#"Empty { setting: "algorithms" }"#
        );
        // Every variant's text names its cause.
        for (error, text) in [
            (
                ConfigError::ShortHmacSecret {
                    algorithm: Algorithm::HS384,
                    length: 40,
                    minimum: 48,
                },
                "an HMAC secret of 40 bytes is too short for HS384, which needs 48 or more \
                 (RFC 7518 §3.2); for a legacy secret, use `hmac_legacy_short_secret`",
            ),
            (
                ConfigError::NoKeyForAlgorithms {
                    algorithms: vec![Algorithm::RS256],
                    skipped: 2,
                },
                "none of the 2 keys can verify any of the allowed algorithms [RS256]",
            ),
            (
                ConfigError::UnverifiableAlgorithm {
                    algorithm: Algorithm::ES384,
                },
                "ES384 is allowed but no key can verify it (an HMAC secret serves HS256 from \
                 32 bytes, HS384 from 48, HS512 from 64)",
            ),
            (
                ConfigError::UnusableJwk {
                    kid: None,
                    reason: "it has no `kty`",
                },
                "the JWK cannot verify signatures: it has no `kty`",
            ),
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
                "static keys and a key set that changes (`jwks`, `key_files`, `key_ring`) for the same issuer: choose one",
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
