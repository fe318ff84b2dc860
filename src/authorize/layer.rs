//! [`RequireLayer`] and its builder, [`RequireBuilder`].

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tower_layer::Layer;

use super::config::Config;
use super::rule::Spec;
use super::service::Require;
use super::{SyncOnly, WithAsync};
use crate::clock::{Clock, SharedClock};
use crate::error::ConfigError;
use crate::response::{DefaultResponder, ErrorResponder};

/// A [`Layer`] that wraps services in [`Require`]: authorization requirements
/// over the [`Claims<C>`](crate::Claims) a [`JwtAuthLayer`](crate::JwtAuthLayer)
/// put into the request.
///
/// Build one with [`RequireLayer::builder`]. `C` must be the claims type of the
/// `JwtAuthLayer` in front of it. All of the configuration
/// sits behind one `Arc`: cloning the layer, or the services it makes, only
/// bumps a counter.
///
/// ```
/// use axum::{Router, routing::get};
/// use serde::{Deserialize, Serialize};
/// use tower_jwt_auth::{DefaultResponder, JwtAuthLayer, Key, RequireLayer};
///
/// #[derive(Clone, Deserialize, Serialize)]
/// struct MyClaims {
///     sub: String,
///     #[serde(default)]
///     scope: String,
/// }
///
/// # fn main() -> Result<(), tower_jwt_auth::ConfigError> {
/// let responder = DefaultResponder::new().realm("orders");
/// let jwt = JwtAuthLayer::<MyClaims>::builder()
///     .key(Key::hmac(b"a secret of at least 32 bytes...."))
///     .responder(responder.clone())
///     .build()?;
/// let read = RequireLayer::<MyClaims>::builder()
///     .scope("orders:read")
///     .responder(responder.clone())
///     .build()?;
/// let admin = RequireLayer::<MyClaims>::builder()
///     .role("admin")
///     .roles_claim("realm_access.roles")
///     .responder(responder)
///     .build()?;
///
/// let app: Router = Router::new()
///     .route("/orders", get(|| async { "orders" }).route_layer(read))
///     .route("/admin", get(|| async { "admin" }).route_layer(admin))
///     .route("/me", get(|| async { "any valid token" }))
///     .layer(jwt);
/// # Ok(())
/// # }
/// ```
///
/// # The requirements
///
/// Every rule must be met, and they are checked in this order; the first that
/// fails decides the answer: `403` with an [`AuthError`](crate::AuthError) of
/// kind [`InsufficientScope`](crate::AuthErrorKind::InsufficientScope), or, for
/// the step-up rules (RFC 9470), `401` with one of kind
/// [`InsufficientUserAuthentication`](crate::AuthErrorKind::InsufficientUserAuthentication);
/// each with a fixed description:
///
/// | rule | met when | description |
/// |---|---|---|
/// | [`scope`](RequireBuilder::scope), [`scopes`](RequireBuilder::scopes) | every scope is granted by `scope` (a space-separated string, RFC 9068) or `scp` (an array, or a space-separated string) | `insufficient scope`, with [`required_scope`](crate::AuthError::required_scope) |
/// | [`role`](RequireBuilder::role), [`any_role`](RequireBuilder::any_role) | the [roles claim](RequireBuilder::roles_claim) (an array of strings, or one string) holds the role, or one of the roles | `missing role` |
/// | [`claim_eq`](RequireBuilder::claim_eq) | the claim at the path equals the JSON value | `claim requirement not met` |
/// | [`acr_values`](RequireBuilder::acr_values) (`401`) | `acr` is a string, one of the values | `a different authentication level is required`, with [`acr_values`](crate::AuthError::acr_values) |
/// | [`max_age`](RequireBuilder::max_age) (`401`) | `auth_time` is a number, not older than `max_age` nor in the future (with the [leeway](RequireBuilder::leeway)) | `more recent authentication is required` (`authentication time is in the future`), with [`max_age`](crate::AuthError::max_age) |
/// | [`predicate`](RequireBuilder::predicate) | the function returns `true` | `requirement not met` |
/// | [`async_predicate`](RequireBuilder::async_predicate) | the future resolves to `true` | `requirement not met` |
///
/// The step-up rules come after the scope, role and claim rules: a token
/// short of a scope is refused with `403` even when its user's authentication
/// is short too, because authenticating again would not give it the scope
/// (and would cost the user an interaction for nothing). The step-up
/// challenge names the whole step-up requirement (`acr_values` and
/// `max_age`), whichever part failed. A `RequireLayer` behind a
/// `JwtAuthLayer` that [takes DPoP](crate::JwtAuthBuilder::dpop) answers
/// under the scheme the token came by, as the `JwtAuthLayer` does.
///
/// A request without `Claims<C>` (no `JwtAuthLayer` in front, or one in
/// [optional](crate::JwtAuthBuilder::optional) mode and no token) is answered
/// `401` [`MissingToken`](crate::AuthErrorKind::MissingToken): it needs a
/// token, not more rights. So a layer without rules turns an optional
/// `JwtAuthLayer` into a required one for the routes it wraps.
///
/// Claim values in a token that have the wrong type (a number for `scope`, an
/// object for the roles, an array for `acr`, a string for `auth_time`) grant
/// nothing; they never fail the request in another way.
///
/// # How claims are read
///
/// Scope, role and claim rules read the claims by path through `C`'s
/// `Serialize`, as `serde_json::to_value(&claims)` would show them, but without
/// building that value: a small serializer walks only the rules' paths (a
/// field that starts no path is not serialized at all) and reads strings in
/// place. Predicates get `&C` and need no `Serialize`. A path is dotted
/// (`realm_access.roles`); it cannot name a key that itself contains a dot, nor
/// an array element. A typed `C` shows a `None` field as `null` unless it is
/// skipped when serializing, so `claim_eq(path, Value::Null)` is met by it.
///
/// The step-up rules read `acr` and `auth_time` the same way: a typed `C`
/// must keep them (say `acr: Option<String>` and `auth_time: Option<u64>`),
/// or every token falls short.
///
/// # Errors and panics of predicates
///
/// A predicate answers `bool`: an asynchronous check that cannot decide (its
/// store is down) must choose, and `false` refuses the request with `403`.
/// A panic in a predicate, or in the future of an asynchronous one, is not
/// caught: it unwinds through the service like a panic in a handler.
#[must_use]
pub struct RequireLayer<C, R = DefaultResponder, M = SyncOnly> {
    pub(crate) config: Arc<Config<C, R>>,
    _marker: PhantomData<fn() -> M>,
}

impl<C> RequireLayer<C> {
    /// Starts a set of requirements, empty (which only requires the claims to
    /// be there) and answered by the [`DefaultResponder`].
    pub fn builder() -> RequireBuilder<C> {
        RequireBuilder {
            spec: Spec::new(),
            responder: DefaultResponder::new(),
            _marker: PhantomData,
        }
    }
}

impl<C, R, M> Clone for RequireLayer<C, R, M> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            _marker: PhantomData,
        }
    }
}

impl<C, R, M> fmt::Debug for RequireLayer<C, R, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireLayer")
            .field("claims", &std::any::type_name::<C>())
            .field("rules", &self.config.rules)
            .finish_non_exhaustive()
    }
}

impl<S, C, R, M> Layer<S> for RequireLayer<C, R, M> {
    type Service = Require<S, C, R, M>;

    fn layer(&self, inner: S) -> Self::Service {
        Require::new(inner, self)
    }
}

/// The requirements of a [`RequireLayer`], checked once by
/// [`build`](RequireBuilder::build).
///
/// Rules add up: every one must be met. Scope, role and claim rules need
/// `C: Serialize` (see [`RequireLayer`], "How claims are read").
#[must_use]
pub struct RequireBuilder<C, R = DefaultResponder, M = SyncOnly> {
    spec: Spec<C>,
    responder: R,
    _marker: PhantomData<fn() -> M>,
}

impl<C: Serialize, R, M> RequireBuilder<C, R, M> {
    /// Requires the scope `scope`, granted by the token's `scope` claim (a
    /// space-separated string, RFC 8693 §4.2 and RFC 9068 §2.2.3) or its `scp`
    /// claim (an array of strings, or a space-separated string, as some
    /// identity providers send it). Comparison is exact and case-sensitive.
    ///
    /// A request without it is refused with `403`; the default responder names
    /// every required scope in the challenge:
    /// `WWW-Authenticate: Bearer error="insufficient_scope", error_description="insufficient scope", scope="a b"`.
    ///
    /// [`build`](Self::build) refuses a scope that is not an RFC 6749 §3.3
    /// `scope-token` (empty, or with a space, `"`, `\` or a character outside
    /// visible ASCII).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.spec.scopes.push(scope.into());
        self.spec.reads_paths();
        self
    }

    /// Requires every scope of `scopes`; see [`scope`](Self::scope).
    pub fn scopes<I>(mut self, scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.spec.scopes.extend(scopes.into_iter().map(Into::into));
        self.spec.reads_paths();
        self
    }

    /// Requires the role `role` in the [roles claim](Self::roles_claim).
    /// Several `role` calls require all of them.
    pub fn role(self, role: impl Into<String>) -> Self {
        self.any_role([role])
    }

    /// Requires at least one of `roles` in the [roles claim](Self::roles_claim).
    /// [`build`](Self::build) refuses an empty list and empty names.
    pub fn any_role<I>(mut self, roles: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let group = roles.into_iter().map(Into::into).collect();
        self.spec.role_groups.push(group);
        self.spec.reads_paths();
        self
    }

    /// Where the role rules look: a dotted claim path (default `roles`), such
    /// as `realm_access.roles` for Keycloak realm roles, or
    /// `resource_access.my-api.roles` for its client roles. The value is an
    /// array of strings, or one string (one role). For every role rule of the
    /// layer, whatever the order of the calls.
    ///
    /// [`build`](Self::build) refuses an empty path or one with an empty
    /// segment.
    pub fn roles_claim(mut self, path: impl Into<String>) -> Self {
        self.spec.roles_claim = path.into();
        self
    }

    /// Requires the claim at the dotted `path` to equal `value`, as JSON values
    /// (`1` and `1.0` differ, as serde_json's numbers do; an absent claim
    /// equals nothing, not even `null`).
    ///
    /// [`build`](Self::build) refuses an empty path or one with an empty
    /// segment.
    pub fn claim_eq(mut self, path: impl Into<String>, value: impl Into<Value>) -> Self {
        self.spec.claims.push((path.into(), value.into()));
        self.spec.reads_paths();
        self
    }

    /// Step-up (RFC 9470): requires the token's `acr` claim (a string, the
    /// authentication context class of the user's authentication, OpenID
    /// Connect Core §2) to be one of `values`, compared exactly. Give them in
    /// order of preference: the challenge lists them so, and the client asks
    /// the authorization server for them in that order. Calls add up to one
    /// list.
    ///
    /// A token without `acr`, with one that is not a string, or with another
    /// value is refused with `401`:
    /// `WWW-Authenticate: Bearer error="insufficient_user_authentication", error_description="a different authentication level is required", acr_values="a b"`
    /// (with `max_age` too when set: the challenge names the whole
    /// requirement). The client then has the user authenticate again and
    /// comes back with a new token (RFC 9470 §4).
    ///
    /// [`build`](Self::build) refuses an empty list, and a value that is not
    /// one word of visible ASCII without `"` or `\` (the challenge holds them
    /// space-separated in a quoted string).
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{ServiceBuilder, ServiceExt, service_fn};
    /// use serde_json::json;
    /// use tower_jwt_auth::{AuthError, AuthErrorKind, JwtAuthLayer, Key, RequireLayer, TokenIssuer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// let service = ServiceBuilder::new()
    ///     .layer(JwtAuthLayer::<serde_json::Value>::builder().key(Key::hmac(secret)).build()?)
    ///     .layer(
    ///         RequireLayer::<serde_json::Value>::builder()
    ///             .acr_values(["urn:example:mfa", "urn:example:phr"])
    ///             .build()?,
    ///     )
    ///     .service(service_fn(|_: Request<Full<Bytes>>| async {
    ///         Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("transfer")))
    ///     }));
    ///
    /// let issuer = TokenIssuer::hmac(secret).build()?;
    /// let call = |acr: &str| {
    ///     let token = issuer.issue(&json!({ "sub": "ada", "acr": acr }));
    ///     let request = Request::post("/transfers")
    ///         .header("authorization", format!("Bearer {}", token.unwrap()))
    ///         .body(Full::default());
    ///     service.clone().oneshot(request.unwrap())
    /// };
    ///
    /// assert_eq!(call("urn:example:phr").await?.status(), StatusCode::OK);
    ///
    /// let response = call("urn:example:password").await?;
    /// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    /// assert_eq!(
    ///     response.headers()["www-authenticate"],
    ///     "Bearer error=\"insufficient_user_authentication\", \
    ///      error_description=\"a different authentication level is required\", \
    ///      acr_values=\"urn:example:mfa urn:example:phr\"",
    /// );
    /// let error = response.extensions().get::<AuthError>().unwrap();
    /// assert_eq!(error.kind(), AuthErrorKind::InsufficientUserAuthentication);
    /// assert_eq!(error.acr_values(), Some("urn:example:mfa urn:example:phr"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn acr_values<I>(mut self, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.spec
            .step_up
            .acr_values
            .get_or_insert_with(Vec::new)
            .extend(values.into_iter().map(Into::into));
        self.spec.reads_paths();
        self
    }

    /// Step-up (RFC 9470): requires the user's authentication to be at most
    /// `max_age` old, in whole seconds (a fraction is dropped): the token's
    /// `auth_time` claim (a NumericDate, OpenID Connect Core §2) must be no
    /// earlier than now minus `max_age`, and no later than now, each with the
    /// [`leeway`](Self::leeway) for clock skew. `Duration::ZERO` asks for an
    /// authentication just now (within the leeway).
    ///
    /// A token without `auth_time`, with one that is not a number, too old or
    /// in the future, is refused with `401`:
    /// `WWW-Authenticate: Bearer error="insufficient_user_authentication", error_description="more recent authentication is required", max_age="300"`
    /// (`"authentication time is in the future"` for the last), with
    /// `acr_values` too when set.
    ///
    /// "Now" comes from this layer's [`clock`](Self::clock): a `RequireLayer`
    /// cannot read the `JwtAuthLayer`'s without a cost on every request, so
    /// give both the same clock when it is not the system's.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.spec.step_up.max_age = Some(max_age);
        self.spec.reads_paths();
        self
    }
}

impl<C, R, M> RequireBuilder<C, R, M> {
    /// Where "now" comes from for [`max_age`](Self::max_age) (default: the
    /// system clock); the same [`Clock`] as
    /// [`JwtAuthBuilder::clock`](crate::JwtAuthBuilder::clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.spec.step_up.clock = SharedClock::new(clock);
        self
    }

    /// The clock-skew allowance of [`max_age`](Self::max_age), in whole
    /// seconds (default 60 s, as [`JwtAuthBuilder::leeway`](crate::JwtAuthBuilder::leeway)'s):
    /// an `auth_time` up to this much older than `max_age` allows, or this
    /// much in the future, still passes.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.spec.step_up.leeway = leeway;
        self
    }

    /// Requires `predicate` to return `true` for the claims. Runs after the
    /// scope, role and claim rules, and only when they are met.
    pub fn predicate<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&C) -> bool + Send + Sync + 'static,
    {
        self.spec.predicates.push(Box::new(predicate));
        self
    }

    /// Requires the future of `predicate` to resolve to `true`: for checks that
    /// need I/O (a database, a policy service). Runs after every synchronous
    /// rule, and only when they are met; several run one after the other, and
    /// the first `false` ends the checks.
    ///
    /// The future must own what it uses (`'static`): copy out of the claims
    /// what it needs before the `async` block. An error it cannot resolve must
    /// become `true` or `false`; a panic is not caught.
    ///
    /// This makes the layer asynchronous ([`WithAsync`]): its service needs an
    /// inner service that is `Clone` and boxes the predicate's future (see the
    /// [crate docs](crate#synchronous-and-deferred-requests)). Layers without
    /// asynchronous predicates pay none of this.
    ///
    /// ```
    /// use std::collections::HashSet;
    /// use std::sync::Arc;
    /// use serde::Serialize;
    /// use tower_jwt_auth::RequireLayer;
    ///
    /// #[derive(Clone, Serialize)]
    /// struct User {
    ///     sub: String,
    /// }
    ///
    /// let banned = Arc::new(tokio::sync::RwLock::new(HashSet::<String>::new()));
    /// let layer = RequireLayer::<User>::builder()
    ///     .async_predicate(move |user: &User| {
    ///         let (banned, sub) = (banned.clone(), user.sub.clone());
    ///         async move { !banned.read().await.contains(&sub) }
    ///     })
    ///     .build()?;
    /// # Ok::<_, tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn async_predicate<F, Fut>(mut self, predicate: F) -> RequireBuilder<C, R, WithAsync>
    where
        F: Fn(&C) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        self.spec
            .async_predicates
            .push(Box::new(move |claims: &C| Box::pin(predicate(claims))));
        RequireBuilder {
            spec: self.spec,
            responder: self.responder,
            _marker: PhantomData,
        }
    }

    /// Answers refused requests with `responder` instead of the
    /// [`DefaultResponder`]; pass the one of the `JwtAuthLayer` so that every
    /// refusal looks alike.
    pub fn responder<R2: ErrorResponder>(self, responder: R2) -> RequireBuilder<C, R2, M> {
        RequireBuilder {
            spec: self.spec,
            responder,
            _marker: PhantomData,
        }
    }

    /// Checks the requirements and builds the layer.
    ///
    /// # Errors
    ///
    /// - [`ConfigError::InvalidScope`]: a scope that is not an RFC 6749
    ///   `scope-token`;
    /// - [`ConfigError::Empty`]: an empty role name, [`any_role`](Self::any_role)
    ///   or [`acr_values`](Self::acr_values) list;
    /// - [`ConfigError::InvalidClaimPath`]: a claim path that is empty, has an
    ///   empty segment or more than 32 segments;
    /// - [`ConfigError::InvalidAcrValue`]: an `acr` value that cannot go into
    ///   the challenge;
    /// - [`ConfigError::TooMany`]: more than 64 distinct scopes, 64 distinct
    ///   roles, 64 claim rules or 64 `acr` values.
    pub fn build(self) -> Result<RequireLayer<C, R, M>, ConfigError> {
        let rules = self.spec.compile()?;
        Ok(RequireLayer {
            config: Arc::new(Config {
                rules,
                responder: self.responder,
            }),
            _marker: PhantomData,
        })
    }
}

impl<C, R, M> fmt::Debug for RequireBuilder<C, R, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireBuilder")
            .field("claims", &std::any::type_name::<C>())
            .field("scopes", &self.spec.scopes)
            .field("roles", &self.spec.role_groups)
            .field("roles_claim", &self.spec.roles_claim)
            .field("claim_rules", &self.spec.claims.len())
            .field("acr_values", &self.spec.step_up.acr_values)
            .field("max_age", &self.spec.step_up.max_age)
            .field("clock", &self.spec.step_up.clock)
            .field("leeway", &self.spec.step_up.leeway)
            .field("predicates", &self.spec.predicates.len())
            .field("async_predicates", &self.spec.async_predicates.len())
            .finish_non_exhaustive()
    }
}
