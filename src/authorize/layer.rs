//! [`RequireLayer`] and its builder, [`RequireBuilder`].

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tower_layer::Layer;

use super::config::Config;
use super::rule::Spec;
use super::service::Require;
use super::{SyncOnly, WithAsync};
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
/// fails decides the answer, `403` with an [`AuthError`](crate::AuthError) of
/// kind [`InsufficientScope`](crate::AuthErrorKind::InsufficientScope) and a
/// fixed description:
///
/// | rule | met when | description |
/// |---|---|---|
/// | [`scope`](RequireBuilder::scope), [`scopes`](RequireBuilder::scopes) | every scope is granted by `scope` (a space-separated string, RFC 9068) or `scp` (an array, or a space-separated string) | `insufficient scope`, with [`required_scope`](crate::AuthError::required_scope) |
/// | [`role`](RequireBuilder::role), [`any_role`](RequireBuilder::any_role) | the [roles claim](RequireBuilder::roles_claim) (an array of strings, or one string) holds the role, or one of the roles | `missing role` |
/// | [`claim_eq`](RequireBuilder::claim_eq) | the claim at the path equals the JSON value | `claim requirement not met` |
/// | [`predicate`](RequireBuilder::predicate) | the function returns `true` | `requirement not met` |
/// | [`async_predicate`](RequireBuilder::async_predicate) | the future resolves to `true` | `requirement not met` |
///
/// A request without `Claims<C>` (no `JwtAuthLayer` in front, or one in
/// [optional](crate::JwtAuthBuilder::optional) mode and no token) is answered
/// `401` [`MissingToken`](crate::AuthErrorKind::MissingToken): it needs a
/// token, not more rights. So a layer without rules turns an optional
/// `JwtAuthLayer` into a required one for the routes it wraps.
///
/// Claim values in a token that have the wrong type (a number for `scope`, an
/// object for the roles) grant nothing; they never fail the request in another
/// way.
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
}

impl<C, R, M> RequireBuilder<C, R, M> {
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
    /// - [`ConfigError::Empty`]: an empty role name or [`any_role`](Self::any_role) list;
    /// - [`ConfigError::InvalidClaimPath`]: a claim path that is empty, has an
    ///   empty segment or more than 32 segments;
    /// - [`ConfigError::TooMany`]: more than 64 distinct scopes, 64 distinct
    ///   roles or 64 claim rules.
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
            .field("predicates", &self.spec.predicates.len())
            .field("async_predicates", &self.spec.async_predicates.len())
            .finish_non_exhaustive()
    }
}
