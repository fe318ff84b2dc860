//! JSON Web Token authentication for any [Tower] HTTP service: axum, hyper,
//! tonic, or anything behind `tower::ServiceBuilder`.
//!
//! [`JwtAuthLayer`] finds the token in the request (by default
//! `Authorization: Bearer`; also any header, a cookie or a query parameter),
//! verifies it with keys from the configuration, puts the typed claims into the
//! request extensions as [`Claims<C>`], and calls the inner service — or answers
//! itself with a precise RFC 6750 error response.
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use serde::Deserialize;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_jwt_auth::{Claims, JwtAuthLayer, Key, TokenIssuer};
//!
//! #[derive(Clone, Deserialize)]
//! struct User {
//!     sub: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = b"a secret of at least 32 bytes....";
//! let auth = JwtAuthLayer::<User>::builder()
//!     .key(Key::hmac(secret))
//!     .build()?;
//!
//! let service = ServiceBuilder::new().layer(auth).service(service_fn(
//!     |request: Request<Full<Bytes>>| async move {
//!         let user = &request.extensions().get::<Claims<User>>().unwrap().sub;
//!         Ok::<_, Infallible>(Response::new(Full::<Bytes>::from(format!("hello {user}"))))
//!     },
//! ));
//!
//! // A token, as a login endpoint would issue it.
//! let token = TokenIssuer::hmac(secret).build()?.issue(&serde_json::json!({ "sub": "ada" }))?;
//!
//! let request = Request::get("/").header("authorization", format!("Bearer {token}"));
//! let response = service.clone().oneshot(request.body(Full::default())?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! let response = service.oneshot(Request::get("/").body(Full::default())?).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["www-authenticate"], "Bearer");
//! # Ok(())
//! # }
//! ```
//!
//! # The flow of a request
//!
//! 1. **Locate**: the configured [`TokenSource`]s, in order, and a
//!    [form field](JwtAuthBuilder::form_field) when one is configured. Two
//!    *different* tokens in one request are refused (`400 invalid_request`).
//! 2. **Verify**: the key is chosen by `kid` and algorithm from the configured
//!    [`Key`]s (or a remote JWK Set, refetched once for an unknown `kid`, with
//!    the `remote-jwks` feature, or files read again when they change, with
//!    `key-files`, or the published keys of a [`KeyRing`] that this process
//!    signs with; with [`TrustedIssuer`]s, those of the issuer
//!    the token names); the signature, then `exp`, `nbf`, `iss`, `aud`, `sub`,
//!    `typ` and the required claims are checked, against an injectable
//!    [`Clock`]. With the `introspection` feature, a token that is not a JWS
//!    compact serialization (three base64url segments) goes instead to an
//!    authorization server's introspection endpoint (`Introspection`, RFC
//!    7662), through a cache, and the claims it answers pass the same checks.
//! 3. **Checks after verification**, in this order: a token bound to a key or
//!    a certificate (its `cnf` claim) is refused unless a configured check
//!    proves that binding; a token from a cookie on an unsafe method must pass
//!    the [`CsrfPolicy`]; a certificate-bound token must come with its client
//!    certificate ([`CertificateBinding`], RFC 8705); a token sent as
//!    `Authorization: DPoP` must come with a valid proof of its key
//!    ([`Dpop`], RFC 9449), each proof accepted once; a configured revocation
//!    store is asked last.
//! 4. **On success**: [`Claims<C>`] goes into the request extensions (and,
//!    when [asked for](JwtAuthBuilder::token_expiry), the token's
//!    [`TokenExpiry`]) and the inner service is called with the request as it
//!    came (less a forwarded certificate header from a peer that is not a
//!    [trusted proxy](TrustedProxies), the token's entry in
//!    `Sec-WebSocket-Protocol` with a [WebSocket
//!    source](TokenSource::websocket_protocol), and any client copy of the
//!    headers the layer [forwards claims in](JwtAuthBuilder::claim_to_header),
//!    which it then sets from the verified token, as a proxy's upstream
//!    expects).
//! 5. **On failure**: an [`AuthError`] goes to the [`ErrorResponder`] (by default
//!    [`DefaultResponder`], RFC 6750), and into the response extensions.
//!    A layer that publishes its [`ResourceMetadata`] (RFC 9728) names the
//!    document in every challenge, so that a client finds where to get a
//!    token; [`ResourceMetadataService`] serves it.
//!
//! Authorization is a second, per-route layer behind this one: a
//! [`RequireLayer`] requires scopes, roles, claim values or predicates of the
//! [`Claims<C>`], and answers `403 insufficient_scope` when they fall short.
//! It also asks for step-up authentication (RFC 9470): an `acr` among
//! [`acr_values`](RequireBuilder::acr_values), an `auth_time` within
//! [`max_age`](RequireBuilder::max_age), else `401
//! insufficient_user_authentication` with the requirement in the challenge.
//!
//! # Synchronous and deferred requests
//!
//! Most requests are decided inside `call`: a header, cookie or query token
//! with static keys (or with a remote key set that already has its key) is
//! verified there, the inner service is called at once, and the response
//! future is the inner service's own future or the ready rejection. Nothing
//! is boxed, the configuration is not cloned (it sits behind one `Arc`), and
//! `poll_ready` is the inner service's.
//!
//! A request that needs I/O before it can be decided waits in the response
//! future instead: a form body to read ([`JwtAuthBuilder::form_field`]), a
//! remote key set to fetch again for a `kid` it lacks, an opaque token whose
//! answer the introspection cache does not hold, a revocation store to ask, a shared DPoP replay store to ask (the in-memory one answers in
//! `call`), an [asynchronous predicate](RequireBuilder::async_predicate) of a
//! [`RequireLayer`]. That future must own a *ready* inner service, so the
//! middleware moves the service it polled ready into the future and keeps a
//! clone for the next request (tower-service's "be careful when cloning inner
//! services", as tower-http's `AsyncRequireAuthorization` does). This is why
//! [`JwtAuth`]'s inner service must be `Clone`, as axum's and hyper's services
//! are, and why only these requests pay for a boxed future. A [`RequireLayer`]
//! without asynchronous predicates ([`SyncOnly`]) needs no `Clone`.
//!
//! Only a layer with a form source reads bodies, and only when it must; see
//! [`JwtAuthBuilder::form_field`] and [`RequestBody`].
//!
//! # Security
//!
//! - **Algorithms come from the keys and the configuration, never from the
//!   token.** `alg: none` cannot be configured. A key's family is fixed when it is
//!   made, so an RSA public key can never be used as an HMAC secret.
//! - **Strict claims.** `exp` is required by default and a token is refused from
//!   the instant `exp` is reached (plus the leeway, 60 s by default). A configured
//!   [`issuer`](JwtAuthBuilder::issuer) or [`audience`](JwtAuthBuilder::audience)
//!   must be present and of the right JSON type. A token that carries `aud` is
//!   refused unless one of its values is configured (RFC 7519 §4.1.3). A `crit`
//!   header is refused (RFC 7515 §4.1.11). `jku`, `x5u` and embedded `jwk`
//!   headers are never followed.
//! - **Set `iss` and `aud`** whenever tokens come from a shared identity
//!   provider: without them, a token minted for another application by the same
//!   provider verifies here too. For OAuth access tokens issued as JWTs,
//!   [`JwtAuthBuilder::jwt_access_token_profile`] (RFC 9068) requires both,
//!   `typ: at+jwt` (so that an ID token of the same provider cannot pass for
//!   an access token) and the profile's mandatory claims.
//! - **Audience = resource indicator (RFC 8707).** An OAuth 2 resource server's
//!   [`audience`](JwtAuthBuilder::audience) is the URI that clients name as
//!   `resource` in their token request, and that the authorization server puts
//!   in `aud`: a client asks for
//!   `grant_type=client_credentials&resource=https://api.example.com`, and the
//!   API checks `.audience("https://api.example.com")`. The
//!   [`issuer`](JwtAuthBuilder::issuer) is the authorization server's issuer
//!   identifier, exactly as its metadata says it (with the `remote-jwks`
//!   feature, [`RemoteKeySet::discover`] and [`AuthorizationServerMetadata`]
//!   find and check that metadata: RFC 8414, or OpenID Connect discovery).
//! - **Sender-constrained tokens.** A token whose `cnf` claim binds it to a
//!   DPoP key (`jkt`) or a client certificate (`x5t#S256`) is accepted only
//!   when the request proves the binding ([`JwtAuthBuilder::dpop`],
//!   [`JwtAuthBuilder::certificate_binding`]); a layer that checks neither
//!   refuses such tokens rather than take them as bearer tokens (RFC 9449
//!   §7.2, RFC 8705 §3). Behind a proxy, tell DPoP the public URL
//!   ([`Dpop::public_url`]).
//! - **HMAC secrets as long as their hash** (RFC 7518 §3.2): 32 bytes for
//!   `HS256`, 48 for `HS384`, 64 for `HS512`; a shorter secret is refused when
//!   the layer is built (see [`Key::hmac`]).
//! - **Bounded input.** Tokens longer than 8 KiB are refused before decoding;
//!   a form body is read up to its limit, and (feature `form-timeout`, on by
//!   default) within its read timeout.
//! - **No token in logs.** Errors and the `tracing` events carry a fixed
//!   description and the error kind, never the token or a claim value. Mark the
//!   `Authorization` header as sensitive for other layers, for example with
//!   `tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer`.
//!
//! # CORS
//!
//! A browser sends a CORS preflight (`OPTIONS` with `Origin` and
//! `Access-Control-Request-Method`) before a cross-origin request that carries
//! `Authorization`, and never with credentials: a layer that asked it for a
//! token would answer `401`, and the real request would never come. Put
//! tower-http's `CorsLayer` *in front of* (outside) this layer, so that it
//! answers preflights itself and adds its headers to every response,
//! refusals included (so that the script sees the `401`):
//!
//! ```
//! # use std::convert::Infallible;
//! # use bytes::Bytes;
//! # use http::{Request, Response, StatusCode};
//! # use http_body_util::Full;
//! use http::header::AUTHORIZATION;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_http::cors::{Any, CorsLayer};
//! use tower_jwt_auth::{JwtAuthLayer, Key};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = JwtAuthLayer::<serde_json::Value>::builder()
//!     .key(Key::hmac(b"a secret of at least 32 bytes...."))
//!     .build()?;
//! let cors = CorsLayer::new()
//!     .allow_origin(Any)
//!     .allow_methods(Any)
//!     .allow_headers([AUTHORIZATION]);
//! let service = ServiceBuilder::new()
//!     .layer(cors) // first: outside the authentication
//!     .layer(auth)
//!     .service(service_fn(|_: Request<Full<Bytes>>| async {
//!         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
//!     }));
//!
//! let preflight = Request::options("/orders")
//!     .header("origin", "https://app.example")
//!     .header("access-control-request-method", "POST")
//!     .body(Full::default())?;
//! let response = service.clone().oneshot(preflight).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["access-control-allow-origin"], "*");
//!
//! let request = Request::post("/orders")
//!     .header("origin", "https://app.example")
//!     .body(Full::default())?;
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["access-control-allow-origin"], "*");
//! # Ok(())
//! # }
//! ```
//!
//! In axum, `Router::layer(cors)` after `.layer(auth)` is the same order. When
//! the inner service answers preflights itself (the upstream of a proxy),
//! [`JwtAuthBuilder::bypass_cors_preflight`] lets them through without a
//! token instead.
//!
//! # Crypto backends
//!
//! jsonwebtoken 11 delegates cryptography to a backend and panics at the first
//! signature check when the final build enables none or both of them. This
//! crate avoids that trap: its `aws-lc-rs` (default) and `rust-crypto` features
//! forward to jsonwebtoken's, the layer and [`TokenIssuer`] use the provider of
//! *this* crate's features (aws-lc-rs when both are on) or the one given with
//! [`JwtAuthBuilder::crypto_provider`], and building fails with
//! [`ConfigError::NoCryptoProvider`] when there is none. Building also installs
//! that provider as jsonwebtoken's process default if none was, so the
//! application's own jsonwebtoken calls are safe too.
//!
//! # gRPC (tonic)
//!
//! Tonic's server is a Tower stack, so both layers are tonic server layers as
//! they are: `JwtAuthLayer` reads the token from the `authorization` metadata
//! (an HTTP/2 header, `Bearer <token>`), and the handler finds [`Claims<C>`]
//! in `tonic::Request::extensions()`. A gRPC client reads a call's status
//! from `grpc-status`, not from the HTTP status: answer with the
//! [`GrpcResponder`] on both layers, so that every refusal is a status the
//! client understands (`UNAUTHENTICATED`, `PERMISSION_DENIED`, ...). No
//! adapter is needed: [`ResponseBody`] over tonic's body is a body tonic
//! serves, and the crate does not depend on tonic.
//!
//! ```
//! use tonic::service::Routes;
//! use tonic::transport::Server;
//! use tower_jwt_auth::{GrpcResponder, JwtAuthLayer, Key, RequireLayer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let authenticate = JwtAuthLayer::<serde_json::Value>::builder()
//!     .key(Key::hmac(b"a secret of at least 32 bytes...."))
//!     .responder(GrpcResponder::new())
//!     .build()?;
//! let require = RequireLayer::<serde_json::Value>::builder()
//!     .scope("orders:read")
//!     .responder(GrpcResponder::new())
//!     .build()?;
//! # let routes = Routes::default();
//! // `routes`: the services, as `Routes::new(OrdersServer::new(orders))`.
//! let server = Server::builder()
//!     .layer(authenticate)
//!     .layer(require)
//!     .add_routes(routes)
//!     .serve("127.0.0.1:50051".parse()?);
//! # drop(server);
//! # Ok(())
//! # }
//! ```
//!
//! `examples/grpc.rs` is a whole service, unary and server-streaming calls.
//!
//! # Metrics
//!
//! With the `metrics` feature the layer records its work through the
//! [`metrics`](https://docs.rs/metrics) facade: this crate records, the
//! application chooses where the numbers go by installing a recorder
//! (`metrics-exporter-prometheus`, an OpenTelemetry bridge, StatsD ...).
//! Without a recorder each record costs an atomic load; without the feature,
//! nothing. `describe_metrics` (called by every `JwtAuthLayer` build, and
//! by the application after a recorder installed later) gives each metric its
//! help text and unit.
//!
//! `examples/demo.rs` serves them in Prometheus' text format at `/metrics`
//! (`cargo run --example demo --features metrics`), with
//! `metrics-exporter-prometheus`'s `PrometheusHandle::render`.
//!
//! Every metric is named here, once. Names follow Prometheus' conventions
//! (`_total` counters, `_seconds` durations); every label has a bounded set of
//! values, taken from the configuration or from this crate, never from a
//! request: no token, no `sub`, no `kid`, no unverified `iss`.
//!
//! | metric | type | labels | what |
//! |---|---|---|---|
//! | `tower_jwt_auth_decisions_total` | counter | `outcome`, `kind`, `issuer` | one per request a `JwtAuthLayer` decided |
//! | `tower_jwt_auth_verification_duration_seconds` | histogram | `outcome` | from the token found to the decision |
//! | `tower_jwt_auth_token_cache_lookups_total` | counter | `result` | verified-token cache (`token-cache`) |
//! | `tower_jwt_auth_jwks_fetches_total` | counter | `url` | fetches of a remote JWK Set started (`remote-jwks`) |
//! | `tower_jwt_auth_jwks_fetch_failures_total` | counter | `url` | those that failed (the last good keys stay) |
//! | `tower_jwt_auth_jwks_age_seconds` | gauge | `url` | age of the keys in use |
//! | `tower_jwt_auth_jwks_unknown_kid_refetches_total` | counter | `url`, `result` | fetches asked for by a token whose `kid` the set lacks |
//! | `tower_jwt_auth_revocation_checks_total` | counter | `result` | revocation checks (`revocation`) |
//! | `tower_jwt_auth_revocation_check_duration_seconds` | histogram | | time of one revocation check, timeouts included |
//! | `tower_jwt_auth_outage` | gauge | `check` | shared stores in an outage: 1 while one is, 0 once it answers again |
//!
//! The labels and their values:
//!
//! - `outcome`: `accepted` (the token passed every check), `refused` (the
//!   layer answered with an error), `anonymous` (an optional layer let a
//!   request without a token through).
//! - `kind` (refusals only): the [`AuthErrorKind`] as
//!   [`as_str`](AuthErrorKind::as_str) names it: `missing_token`,
//!   `expired`, `invalid_signature`, `revoked` ...
//! - `issuer` (accepted requests of a layer with
//!   [`TrustedIssuer`]s only): the configured name of
//!   the issuer whose keys verified the token. A refusal names no issuer: until
//!   the signature holds, the `iss` a token claims is the client's word.
//! - `result` of the token cache: `hit`, `miss`, `expired` (a cached token
//!   that the clock now refuses).
//! - `url`: the JWK Set's URL as configured
//!   (`RemoteKeySet::builder`), or the issuer as configured
//!   (`RemoteKeySet::discover`).
//! - `result` of an unknown-`kid` refetch: `started` (a new fetch), `joined`
//!   (the fetch in flight), `limited` (none: the budget for unknown key ids
//!   is spent; a flood of made-up key ids shows here).
//! - `result` of a revocation check: `not_revoked`, `revoked`, `failed` (the
//!   store's error), `timed_out`, `circuit_open` (answered by the policy
//!   without asking the store: see `CircuitBreaker`).
//! - `check`: the shared store: `revocation`, `dpop_replay`,
//!   `introspection` (the authorization server's endpoint),
//!   `introspection_cache` (the shared introspection cache's Redis).
//!
//! The age of the keys in use is the time since the last fetch that
//! succeeded (a document identical to the current one counts: it confirmed
//! the keys), set when the verifier reads the keys and when a fetch stores
//! them. A key set that no request has used for a while shows the age of its
//! last use.
//!
//! The outage gauge goes up by one when a store's outage starts and down by one
//! when it ends (`crate::outage`), so two layers with the same kind of store
//! add up: 0 when all answer.
//!
//! `metrics-exporter-prometheus` renders the two durations as summaries
//! (quantiles) unless given buckets (`PrometheusBuilder::set_buckets_for_metric`).
//!
//! A request is counted once, by the layer that decided it: a
//! [`RequireLayer`]'s refusals are not decisions of the `JwtAuthLayer` in front.
//! CORS preflights let through ([`JwtAuthBuilder::bypass_cors_preflight`]) are
//! not counted.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `aws-lc-rs` | yes | jsonwebtoken's aws-lc-rs backend (the fastest: see `BENCHMARKS.md`) |
//! | `rust-crypto` | no | jsonwebtoken's pure-Rust RustCrypto backend |
//! | `axum` | no | [`Claims<C>`] and `Option<Claims<C>>` as axum extractors; `AuthError: IntoResponse` |
//! | `multipart` | no | the [form-field source](JwtAuthBuilder::form_field) also reads `multipart/form-data` |
//! | `form-timeout` | yes | a deadline for reading a form body (10 s by default, [`JwtAuthBuilder::form_read_timeout`]), on tokio's timer; without it, a form read waits as long as the server lets it |
//! | `tracing` | no | one `debug` event per refused request, target `tower_jwt_auth` |
//! | `remote-jwks` | no | [`RemoteKeySet`]: a JWK Set fetched over HTTPS (or found through the issuer's metadata: RFC 8414 authorization server metadata or OpenID Connect discovery), cached and refreshed on tokio; [`AuthorizationServerMetadata`], the issuer's metadata, typed |
//! | `revocation` | yes | token revocation ([`JwtAuthBuilder::revocation`]): the `RevocationStore` trait, `MemoryRevocations`, and `Revocation` (the check's timeout and failure policy); nothing per request unless configured |
//! | `replay-store` | yes | DPoP replay stores other than [`MemoryReplays`] (`ReplayCheck::new`, over any [`ReplayStore`]), asked under a timeout on tokio's timer; the replay check's failures logged once per outage; nothing per request unless configured |
//! | `redis` | no | `revocation`, `replay-store`, and `RedisRevocations` and `RedisReplays`, stores shared by many servers, over one `RedisConnection` (optionally with a local mirror of revocation answers, kept correct by Redis's client-side caching); with `introspection`, `RedisIntrospectionCache`, the introspection answers shared by a fleet |
//! | `redis-cluster` | no | `redis`, and `RedisConnection::cluster`: the Redis stores on a Redis Cluster |
//! | `key-files` | no | `KeyFiles`: PEM keys, HMAC secrets or a JWK Set read from files and polled for changes on tokio's timer (a Kubernetes Secret volume's updates), a broken version logged once and the last good keys kept |
//! | `token-cache` | no | [`JwtAuthBuilder::token_cache`]: a bounded cache of verified tokens |
//! | `metrics` | no | counters, histograms and gauges through the `metrics` facade (see [Metrics](#metrics)) |
//!
//!
//! # Examples
//!
//! The repository's `examples/` run as they are, each on an address of its
//! own, which it prints at start:
//!
//! | example | what it shows | run it |
//! |---|---|---|
//! | `demo.rs` | an axum app with a login page, tokens in a header, a cookie or a form, logout by revocation (127.0.0.1:3000) | `cargo run --example demo` |
//! | `hyper_server.rs` | the layer on a bare hyper server, no framework (127.0.0.1:3001) | `cargo run --example hyper_server` |
//! | `custom_error.rs` | a custom [`ErrorResponder`], and the form source: the Flask + PyJWT application this crate grew from, answer for answer (127.0.0.1:3002) | `JWT_SECRET=... cargo run --example custom_error --features multipart` |
//! | `oidc.rs` | keys from an OpenID Connect provider, [`RemoteKeySet`] (127.0.0.1:3003) | `cargo run --example oidc --features remote-jwks` |
//! | `grpc.rs` | a tonic gRPC service behind both layers, refusals as gRPC statuses ([`GrpcResponder`]) (127.0.0.1:3007) | `cargo run --example grpc` |
//! | `reverse_proxy.rs` | an authenticating reverse proxy on hyper 1: claims forwarded upstream as `x-jwt-*` headers ([`JwtAuthBuilder::claim_to_header`]), forged copies removed (127.0.0.1:3005) | `cargo run --example reverse_proxy` |
//! | `mtls.rs` | certificate-bound tokens over mutual TLS with tokio-rustls, [`CertificateBinding`] (127.0.0.1:3443) | `cargo run --example mtls` |
//! | `websocket.rs` | an axum WebSocket, the token in the subprotocol list or the query, closed at the token's expiry or revocation, [`TokenExpiry`] (127.0.0.1:3006) | `cargo run --example websocket` |
//!
//! [Tower]: https://docs.rs/tower
// Items of optional features: linked in the crate when it has them, else on
// docs.rs, which documents every feature.
#![cfg_attr(feature = "remote-jwks", doc = "[`RemoteKeySet`]: crate::RemoteKeySet")]
#![cfg_attr(
    not(feature = "remote-jwks"),
    doc = "[`RemoteKeySet`]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/struct.RemoteKeySet.html"
)]
#![cfg_attr(
    feature = "remote-jwks",
    doc = "[`RemoteKeySet::discover`]: crate::RemoteKeySet::discover"
)]
#![cfg_attr(
    not(feature = "remote-jwks"),
    doc = "[`RemoteKeySet::discover`]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/struct.RemoteKeySet.html#method.discover"
)]
#![cfg_attr(
    feature = "remote-jwks",
    doc = "[`AuthorizationServerMetadata`]: crate::AuthorizationServerMetadata"
)]
#![cfg_attr(
    not(feature = "remote-jwks"),
    doc = "[`AuthorizationServerMetadata`]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/struct.AuthorizationServerMetadata.html"
)]
#![cfg_attr(
    feature = "token-cache",
    doc = "[`JwtAuthBuilder::token_cache`]: crate::JwtAuthBuilder::token_cache"
)]
#![cfg_attr(
    not(feature = "token-cache"),
    doc = "[`JwtAuthBuilder::token_cache`]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/struct.JwtAuthBuilder.html#method.token_cache"
)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub, rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod answer;
mod authenticate;
mod authorize;
mod body;
#[cfg(any(feature = "revocation", feature = "replay-store"))]
mod breaker;
mod checks;
mod claims;
mod clock;
mod confirmation;
mod crypto;
mod csrf;
mod dpop;
mod error;
mod expiry;
#[cfg(feature = "introspection")]
mod introspection;
mod issue;
mod issuer;
mod key;
#[cfg(feature = "key-files")]
mod key_files;
mod loopback;
mod metrics;
mod mtls;
#[cfg(any(
    feature = "revocation",
    feature = "replay-store",
    feature = "introspection"
))]
mod outage;
mod peer;
#[cfg(feature = "redis")]
mod redis_connection;
#[cfg(feature = "remote-jwks")]
mod remote;
mod resource_metadata;
mod response;
#[cfg(feature = "revocation")]
mod revocation;
mod source;
#[cfg(test)]
mod test_helpers;
mod thumbprint;
mod verify;

#[cfg(feature = "form-timeout")]
pub use authenticate::DEFAULT_FORM_READ_TIMEOUT;
pub use authenticate::{
    DEFAULT_FORM_LIMIT, FormResponseFuture, HeadOnly, JwtAuth, JwtAuthBuilder, JwtAuthLayer,
    RequestBody, ResponseFuture, WithForm,
};
pub use authorize::{
    AsyncRequireFuture, Require, RequireBuilder, RequireFuture, RequireLayer, SyncOnly, WithAsync,
};
pub use body::ResponseBody;
#[cfg(any(feature = "revocation", feature = "replay-store"))]
pub use breaker::{CircuitBreaker, DEFAULT_BREAKER_COOL_DOWN, DEFAULT_BREAKER_FAILURES};
pub use claims::Claims;
pub use clock::{Clock, DEFAULT_LEEWAY, SystemClock};
pub use csrf::{CsrfPolicy, DEFAULT_CSRF_CLAIM, DEFAULT_CSRF_HEADER};
#[cfg(feature = "redis")]
pub use dpop::RedisReplays;
pub use dpop::{
    DEFAULT_MAX_PROOF_LENGTH, DEFAULT_NONCE_ROTATION, DEFAULT_PROOF_CLOCK_SKEW,
    DEFAULT_PROOF_MAX_AGE, DEFAULT_REPLAY_CAPACITY, DEFAULT_REPLAY_TIMEOUT, Dpop, DpopMode,
    DpopNonces, MemoryReplays, ReplayAnswer, ReplayCheck, ReplayError, ReplayFuture, ReplayStore,
};
pub use error::{AuthError, AuthErrorKind, AuthScheme, ConfigError};
pub use expiry::TokenExpiry;
#[cfg(all(feature = "introspection", feature = "redis"))]
pub use introspection::RedisIntrospectionCache;
#[cfg(feature = "introspection")]
pub use introspection::{
    DEFAULT_INTROSPECTION_CACHE_CAPACITY, Introspection, IntrospectionBuilder,
};
pub use issue::{
    DEFAULT_JWKS_MAX_AGE, DEFAULT_TTL, IssueError, IssuedToken, JwkSetService, KeyRing,
    KeyRingBuilder, RotateError, SigningKey, TokenIssuer, TokenIssuerBuilder,
};
pub use issuer::TrustedIssuer;
pub use key::{Key, KeySet};
#[cfg(feature = "key-files")]
pub use key_files::{
    DEFAULT_MAX_KEY_FILE_SIZE, DEFAULT_POLL_INTERVAL, KeyFiles, KeyFilesBuilder, KeyFilesError,
    KeyFilesErrorKind,
};
#[cfg(feature = "metrics")]
pub use metrics::describe_metrics;
pub use mtls::{CertificateBinding, ClientCertificate, ProxyHeader};
pub use peer::{PeerAddr, TrustedProxies};
#[cfg(feature = "redis")]
pub use redis_connection::{
    DEFAULT_KEY_PREFIX, DEFAULT_MIRROR_STALENESS_BOUND, MirrorStats, RedisConnection,
    RedisConnectionBuilder,
};
#[cfg(feature = "remote-jwks")]
pub use remote::{
    AuthorizationServerMetadata, MetadataDiscovery, RemoteKeyError, RemoteKeyErrorKind,
    RemoteKeySet, RemoteKeySetBuilder,
};
pub use resource_metadata::{
    DEFAULT_METADATA_MAX_AGE, MetadataBody, ResourceMetadata, ResourceMetadataService,
};
pub use response::{DefaultResponder, ErrorResponder, GrpcResponder};
#[cfg(feature = "redis")]
pub use revocation::RedisRevocations;
#[cfg(feature = "revocation")]
pub use revocation::{
    DEFAULT_REMEMBERED_TOKENS, DEFAULT_REVOCATION_TIMEOUT, MAX_ID_LENGTH, MemoryRevocations,
    Revocation, RevocationFuture, RevocationStore, TokenInfo,
};
pub use source::TokenSource;
pub use verify::DEFAULT_MAX_TOKEN_LENGTH;

/// The `jsonwebtoken` crate this version is built on, for its `Algorithm`,
/// `DecodingKey`, `EncodingKey` and `jwk` types.
pub use jsonwebtoken;

/// The `redis` crate this version is built on, for its `aio::ConnectionManager`
/// and `Client`, to build a [`RedisConnection`] with settings of your own
/// ([`RedisConnection::from_manager`]).
#[cfg(feature = "redis")]
pub use redis;

// The README's examples are compiled (and, where they can, run) as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
