//! Authorization requirements through a real axum server on 127.0.0.1:
//! `JwtAuthLayer` on the router and a `RequireLayer` per route
//! (`route_layer`): scopes (`scope` and `scp`), Keycloak-style nested roles,
//! claim values, predicates, an asynchronous predicate doing real async work,
//! a custom responder, the exact default answer, and hostile claims.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tower_jwt_auth::{
    AuthError, AuthErrorKind, Claims, DefaultResponder, JwtAuthLayer, Key, RequireBuilder,
    RequireLayer, TokenIssuer,
};

mod common;

use common::{Reply, Server, send, serve_axum as start};

const SECRET: &[u8] = b"authorize integration secret 32b";
const REALM: &str = "authz tests";

// ---------------------------------------------------------------------------
// Claims, tokens, layers, requests.
// ---------------------------------------------------------------------------

/// The application's typed claims: what most users write.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct MyClaims {
    sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scp: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    realm_access: Option<RealmAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct RealmAccess {
    roles: Vec<String>,
}

fn responder() -> DefaultResponder {
    DefaultResponder::new().realm(REALM)
}

fn jwt<C>() -> JwtAuthLayer<C> {
    JwtAuthLayer::builder()
        .key(Key::hmac(SECRET))
        .responder(responder())
        .build()
        .expect("layer")
}

/// A requirement answered by the same responder as the `JwtAuthLayer`.
fn require<C>() -> RequireBuilder<C> {
    RequireLayer::builder().responder(responder())
}

fn token(claims: &Value) -> String {
    TokenIssuer::hmac(SECRET)
        .build()
        .expect("issuer")
        .issue(claims)
        .expect("token")
}

/// An HS256 token of exactly this payload text (which may hold duplicate keys).
fn token_of_text(payload: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let message = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
    // jsonwebtoken's process default provider: building a layer installs it.
    let _ = jwt::<Value>();
    let key = EncodingKey::from_secret(SECRET);
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).expect("signature");
    format!("{message}.{signature}")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

async fn get_as(server: &Server, path: &str, token: Option<&str>) -> Reply {
    let mut request = Request::get(server.url(path));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    send(request.body(Full::<Bytes>::default()).expect("request")).await
}

/// GET `path` with a token of `claims` (and `sub`).
async fn get_with(server: &Server, path: &str, claims: Value) -> Reply {
    let mut claims = claims;
    claims
        .as_object_mut()
        .expect("an object")
        .entry("sub")
        .or_insert("user-ada".into());
    get_as(server, path, Some(&token(&claims))).await
}

#[track_caller]
fn assert_ok(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.text());
}

/// A 403 `insufficient_scope` with `description`, and the challenge's
/// `scope` exactly when `scope` is given.
#[track_caller]
fn assert_forbidden(reply: &Reply, description: &str, scope: Option<&str>) {
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "body: {}",
        reply.text()
    );
    let mut challenge = format!(
        "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", \
         error_description=\"{description}\""
    );
    let mut body = json!({ "error": "insufficient_scope", "error_description": description });
    if let Some(scope) = scope {
        challenge.push_str(&format!(", scope=\"{scope}\""));
        body["scope"] = scope.into();
    }
    assert_eq!(reply.header(WWW_AUTHENTICATE), challenge);
    assert_eq!(reply.json(), body);
}

async fn sub(Extension(Claims(claims)): Extension<Claims<MyClaims>>) -> String {
    claims.sub
}

// ---------------------------------------------------------------------------
// The typed application.
// ---------------------------------------------------------------------------

/// The asynchronous policy: a task that answers over a channel, after a few
/// milliseconds, whether a subject may export.
fn policy_service() -> mpsc::Sender<(String, oneshot::Sender<bool>)> {
    let (sender, mut requests) = mpsc::channel::<(String, oneshot::Sender<bool>)>(16);
    tokio::spawn(async move {
        while let Some((sub, reply)) = requests.recv().await {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let _ = reply.send(sub == "user-ada");
        }
    });
    sender
}

/// Each route with one kind of rule; `/open` with none.
fn typed_app() -> Router {
    let policy = policy_service();
    let may_export = move |claims: &MyClaims| {
        let (policy, sub) = (policy.clone(), claims.sub.clone());
        async move {
            let (reply, answer) = oneshot::channel();
            policy.send((sub, reply)).await.is_ok() && answer.await.unwrap_or(false)
        }
    };
    Router::new()
        .route("/open", get(sub))
        .route(
            "/orders",
            get(sub).route_layer(
                require::<MyClaims>()
                    .scope("orders:read")
                    .build()
                    .expect("rule"),
            ),
        )
        .route(
            "/orders/edit",
            get(sub).route_layer(
                require::<MyClaims>()
                    .scopes(["orders:read", "orders:write"])
                    .build()
                    .expect("rule"),
            ),
        )
        .route(
            "/admin",
            get(sub).route_layer(
                require::<MyClaims>()
                    .role("admin")
                    .roles_claim("realm_access.roles")
                    .build()
                    .expect("rule"),
            ),
        )
        .route(
            "/staff",
            get(sub).route_layer(
                require::<MyClaims>()
                    .roles_claim("realm_access.roles")
                    .any_role(["staff", "admin"])
                    .build()
                    .expect("rule"),
            ),
        )
        .route(
            "/acme",
            get(sub).route_layer(
                require::<MyClaims>()
                    .claim_eq("tenant", "acme")
                    .build()
                    .expect("rule"),
            ),
        )
        .route(
            "/ada",
            get(sub).route_layer(
                require::<MyClaims>()
                    .predicate(|claims: &MyClaims| claims.sub == "user-ada")
                    .build()
                    .expect("rule"),
            ),
        )
        .route(
            "/export",
            get(sub).route_layer(
                require::<MyClaims>()
                    .scope("orders:read")
                    .async_predicate(may_export)
                    .build()
                    .expect("rule"),
            ),
        )
        .layer(jwt::<MyClaims>())
}

#[tokio::test]
async fn routes_without_rules_are_unaffected() {
    let server = start(typed_app()).await;
    let reply = get_with(&server, "/open", json!({})).await;
    assert_ok(&reply);
    assert_eq!(reply.text(), "user-ada");
    // No token: the JwtAuthLayer answers, before any requirement.
    let reply = get_as(&server, "/orders", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.header(WWW_AUTHENTICATE),
        format!("Bearer realm=\"{REALM}\"")
    );
}

#[tokio::test]
async fn a_scope_in_the_scope_string_opens_the_route() {
    let server = start(typed_app()).await;
    for scope in [
        "orders:read",
        "profile orders:read email",
        "orders:read orders:write",
    ] {
        let reply = get_with(&server, "/orders", json!({ "scope": scope })).await;
        assert_ok(&reply);
        assert_eq!(reply.text(), "user-ada");
    }
    for scope in ["", "orders", "orders:write", "ORDERS:READ", "orders:read2"] {
        let reply = get_with(&server, "/orders", json!({ "scope": scope })).await;
        assert_forbidden(&reply, "insufficient scope", Some("orders:read"));
    }
    let reply = get_with(&server, "/orders", json!({})).await;
    assert_forbidden(&reply, "insufficient scope", Some("orders:read"));
}

#[tokio::test]
async fn a_scope_in_the_scp_array_opens_the_route() {
    let server = start(typed_app()).await;
    let reply = get_with(
        &server,
        "/orders",
        json!({ "scp": ["email", "orders:read"] }),
    )
    .await;
    assert_ok(&reply);
    let reply = get_with(&server, "/orders", json!({ "scp": ["orders:write"] })).await;
    assert_forbidden(&reply, "insufficient scope", Some("orders:read"));
}

#[tokio::test]
async fn several_scopes_are_all_required_from_scope_and_scp_together() {
    let server = start(typed_app()).await;
    let granted = [
        json!({ "scope": "orders:write orders:read" }),
        json!({ "scp": ["orders:read", "orders:write"] }),
        json!({ "scope": "orders:read", "scp": ["orders:write"] }),
    ];
    for claims in granted {
        assert_ok(&get_with(&server, "/orders/edit", claims).await);
    }
    let short = [
        json!({ "scope": "orders:read" }),
        json!({ "scp": ["orders:write"] }),
        json!({ "scope": "orders:read,orders:write" }),
    ];
    for claims in short {
        let reply = get_with(&server, "/orders/edit", claims).await;
        // Every required scope is named, not only the missing one.
        assert_forbidden(
            &reply,
            "insufficient scope",
            Some("orders:read orders:write"),
        );
    }
}

#[tokio::test]
async fn keycloak_realm_roles_are_read_at_their_nested_path() {
    let server = start(typed_app()).await;
    let realm = |roles: &[&str]| json!({ "realm_access": { "roles": roles } });

    assert_ok(&get_with(&server, "/admin", realm(&["user", "admin"])).await);
    for roles in [&[][..], &["user"], &["Admin"], &["staff"]] {
        let reply = get_with(&server, "/admin", realm(roles)).await;
        assert_forbidden(&reply, "missing role", None);
    }
    // A top-level `roles` claim is not the configured one.
    let reply = get_with(&server, "/admin", json!({ "roles": ["admin"] })).await;
    assert_forbidden(&reply, "missing role", None);

    for roles in [&["staff"][..], &["admin"], &["x", "staff"]] {
        assert_ok(&get_with(&server, "/staff", realm(roles)).await);
    }
    let reply = get_with(&server, "/staff", realm(&["user"])).await;
    assert_forbidden(&reply, "missing role", None);
}

#[tokio::test]
async fn a_claim_must_equal_the_configured_value() {
    let server = start(typed_app()).await;
    assert_ok(&get_with(&server, "/acme", json!({ "tenant": "acme" })).await);
    for claims in [
        json!({ "tenant": "other" }),
        json!({ "tenant": "ACME" }),
        json!({}),
    ] {
        let reply = get_with(&server, "/acme", claims).await;
        assert_forbidden(&reply, "claim requirement not met", None);
    }
}

#[tokio::test]
async fn a_predicate_decides_on_the_typed_claims() {
    let server = start(typed_app()).await;
    assert_ok(&get_with(&server, "/ada", json!({})).await);
    let reply = get_with(&server, "/ada", json!({ "sub": "user-eve" })).await;
    assert_forbidden(&reply, "requirement not met", None);
}

#[tokio::test]
async fn an_async_predicate_asks_a_policy_task_after_the_sync_rules() {
    let server = start(typed_app()).await;
    let reply = get_with(&server, "/export", json!({ "scope": "orders:read" })).await;
    assert_ok(&reply);
    assert_eq!(reply.text(), "user-ada");

    let eve = json!({ "sub": "user-eve", "scope": "orders:read" });
    let reply = get_with(&server, "/export", eve).await;
    assert_forbidden(&reply, "requirement not met", None);

    // The scope is checked first: the policy is not asked.
    let reply = get_with(&server, "/export", json!({})).await;
    assert_forbidden(&reply, "insufficient scope", Some("orders:read"));

    // Many at once, each waiting on the policy task.
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..20 {
        let sub = if i % 2 == 0 { "user-ada" } else { "user-eve" };
        let token = token(&json!({ "sub": sub, "scope": "orders:read" }));
        let request = Request::get(server.url("/export"))
            .header("authorization", format!("Bearer {token}"))
            .body(Full::<Bytes>::default())
            .expect("request");
        requests.spawn(async move { (sub, send(request).await.status) });
    }
    while let Some(answer) = requests.join_next().await {
        match answer.expect("request task") {
            ("user-ada", status) => assert_eq!(status, StatusCode::OK),
            (_, status) => assert_eq!(status, StatusCode::FORBIDDEN),
        }
    }
}

#[tokio::test]
async fn the_default_answer_is_exactly_rfc_6750() {
    let server = start(typed_app()).await;
    let reply = get_with(&server, "/orders/edit", json!({ "scope": "orders:read" })).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply.header(WWW_AUTHENTICATE),
        "Bearer realm=\"authz tests\", error=\"insufficient_scope\", \
         error_description=\"insufficient scope\", scope=\"orders:read orders:write\""
    );
    assert_eq!(reply.header(CONTENT_TYPE), "application/json");
    assert_eq!(reply.header(CACHE_CONTROL), "no-store");
    assert_eq!(
        reply.text(),
        r#"{"error":"insufficient_scope","error_description":"insufficient scope","scope":"orders:read orders:write"}"#
    );
}

// ---------------------------------------------------------------------------
// A custom responder, and optional authentication.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_custom_responder_sees_the_kind_and_the_required_scope() {
    let custom = |error: &AuthError| {
        let body = json!({
            "code": if error.kind() == AuthErrorKind::InsufficientScope { 1004 } else { 1003 },
            "kind": format!("{:?}", error.kind()),
            "reason": error.description(),
            "needs": error.required_scope(),
        });
        Response::builder()
            .status(error.status())
            .header(CONTENT_TYPE, "application/json")
            .body(Bytes::from(body.to_string()))
            .expect("response")
    };
    let app = Router::new()
        .route(
            "/orders",
            get(sub).route_layer(
                RequireLayer::<MyClaims>::builder()
                    .scopes(["orders:read", "orders:write"])
                    .responder(custom)
                    .build()
                    .expect("rule"),
            ),
        )
        .route(
            "/admin",
            get(sub).route_layer(
                RequireLayer::<MyClaims>::builder()
                    .role("admin")
                    .responder(custom)
                    .build()
                    .expect("rule"),
            ),
        )
        .layer(
            JwtAuthLayer::<MyClaims>::builder()
                .key(Key::hmac(SECRET))
                .responder(custom)
                .build()
                .expect("layer"),
        );
    let server = start(app).await;

    let reply = get_with(&server, "/orders", json!({ "scope": "orders:read" })).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.header(WWW_AUTHENTICATE), "");
    assert_eq!(
        reply.json(),
        json!({
            "code": 1004,
            "kind": "InsufficientScope",
            "reason": "insufficient scope",
            "needs": "orders:read orders:write",
        })
    );

    let reply = get_with(&server, "/admin", json!({})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply.json(),
        json!({ "code": 1004, "kind": "InsufficientScope", "reason": "missing role", "needs": null })
    );

    let reply = get_as(&server, "/orders", Some("a.b.c")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["code"], 1003);
}

#[tokio::test]
async fn without_claims_a_requirement_asks_for_a_token() {
    let optional = JwtAuthLayer::<MyClaims>::builder()
        .key(Key::hmac(SECRET))
        .responder(responder())
        .optional(true)
        .build()
        .expect("layer");
    let app = Router::new()
        .route("/anyone", get(|| async { "anyone" }))
        .route(
            "/member",
            get(sub).route_layer(require::<MyClaims>().build().expect("rule")),
        )
        .route(
            "/reader",
            get(sub).route_layer(
                require::<MyClaims>()
                    .scope("orders:read")
                    .build()
                    .expect("rule"),
            ),
        )
        .layer(optional);
    let server = start(app).await;

    assert_ok(&get_as(&server, "/anyone", None).await);
    for path in ["/member", "/reader"] {
        let reply = get_as(&server, path, None).await;
        // A token is missing, not a right: 401 with the bare challenge.
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            reply.header(WWW_AUTHENTICATE),
            format!("Bearer realm=\"{REALM}\"")
        );
        assert_eq!(reply.json()["error"], "unauthorized");
    }
    assert_ok(&get_with(&server, "/member", json!({})).await);
    let reply = get_with(&server, "/reader", json!({})).await;
    assert_forbidden(&reply, "insufficient scope", Some("orders:read"));

    // A route layer with no JwtAuthLayer in front never sees claims.
    let bare = Router::new().route(
        "/reader",
        get(|| async { "unreachable" }).route_layer(
            require::<MyClaims>()
                .scope("orders:read")
                .build()
                .expect("rule"),
        ),
    );
    let server = start(bare).await;
    let reply = get_with(&server, "/reader", json!({ "scope": "orders:read" })).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------
// Hostile claims: never a panic, always a 403.
// ---------------------------------------------------------------------------

/// Claims read as `serde_json::Value`, so that every shape reaches the rules.
fn value_app() -> Router {
    let jwt = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .responder(responder())
        .max_token_length(256 * 1024)
        .build()
        .expect("layer");
    Router::new()
        .route(
            "/orders",
            get(|| async { "orders" }).route_layer(
                require::<Value>()
                    .scope("orders:read")
                    .build()
                    .expect("rule"),
            ),
        )
        .route(
            "/admin",
            get(|| async { "admin" }).route_layer(
                require::<Value>()
                    .role("admin")
                    .roles_claim("realm_access.roles")
                    .build()
                    .expect("rule"),
            ),
        )
        .route(
            "/acme",
            get(|| async { "acme" }).route_layer(
                require::<Value>()
                    .claim_eq("org.tenant.id", "acme")
                    .build()
                    .expect("rule"),
            ),
        )
        .layer(jwt)
}

/// `{"key": {"key": ... value ...}}`, `depth` levels deep.
fn nested(key: &str, depth: usize, value: Value) -> Value {
    (0..depth).fold(value, |inner, _| json!({ key: inner }))
}

#[tokio::test]
async fn hostile_scopes_are_refused_without_panic() {
    let server = start(value_app()).await;
    let spaces = " ".repeat(100_000);
    let hostile = [
        json!({ "scope": 12345 }),
        json!({ "scope": 1.5e300 }),
        json!({ "scope": true }),
        json!({ "scope": null }),
        json!({ "scope": { "orders:read": true } }),
        json!({ "scope": ["orders:read"] }),
        json!({ "scope": spaces }),
        json!({ "scope": "orders:read\u{0}" }),
        json!({ "scope": "orders:read\torders:read" }),
        json!({ "scp": { "0": "orders:read" } }),
        json!({ "scp": [["orders:read"]] }),
        json!({ "scp": [1, null, {}, "orders:write"] }),
        json!({ "scp": ["orders:read orders:write"] }),
        nested("scope", 100, json!("orders:read")),
    ];
    for claims in hostile {
        let shown = claims.to_string();
        let reply = get_with(&server, "/orders", claims).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{}",
            &shown[..shown.len().min(80)]
        );
        assert_eq!(reply.json()["scope"], "orders:read");
    }
    // The huge string is read to its end.
    let reply = get_with(
        &server,
        "/orders",
        json!({ "scope": spaces + "orders:read" }),
    )
    .await;
    assert_ok(&reply);
    // A number among the `scp` strings does not hide the good one.
    let reply = get_with(&server, "/orders", json!({ "scp": [1, "orders:read"] })).await;
    assert_ok(&reply);
}

#[tokio::test]
async fn wrongly_nested_roles_are_refused_without_panic() {
    let server = start(value_app()).await;
    let hostile = [
        json!({ "roles": ["admin"] }),
        json!({ "realm_access": ["admin"] }),
        json!({ "realm_access": "admin" }),
        json!({ "realm_access": { "roles": { "admin": true } } }),
        json!({ "realm_access": { "roles": [["admin"]] } }),
        json!({ "realm_access": { "roles": [{ "name": "admin" }] } }),
        json!({ "realm_access": { "roles": 1 } }),
        json!({ "realm_access": { "roles": "admin staff" } }),
        json!({ "realm_access": { "Roles": ["admin"] } }),
        json!({ "realm_access.roles": ["admin"] }),
        json!({ "realm_access": { "roles": nested("roles", 100, json!(["admin"])) } }),
        nested("realm_access", 120, json!({ "roles": ["admin"] })),
    ];
    for claims in hostile {
        let shown = claims.to_string();
        let reply = get_with(&server, "/admin", claims).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{}",
            &shown[..shown.len().min(80)]
        );
        assert_eq!(reply.json()["error_description"], "missing role");
    }
    // One role as a plain string is a role.
    let one = json!({ "realm_access": { "roles": "admin" } });
    assert_ok(&get_with(&server, "/admin", one).await);
}

#[tokio::test]
async fn deep_and_odd_claim_values_are_refused_without_panic() {
    let server = start(value_app()).await;
    let hostile = [
        json!({ "org": { "tenant": { "id": "ACME" } } }),
        json!({ "org": { "tenant": { "id": ["acme"] } } }),
        json!({ "org": { "tenant": { "id": { "acme": "acme" } } } }),
        json!({ "org": { "tenant": "acme" } }),
        json!({ "org": { "tenant": { "id": nested("id", 120, json!("acme")) } } }),
        json!({ "org": nested("tenant", 120, json!({ "id": "acme" })) }),
    ];
    for claims in hostile {
        let reply = get_with(&server, "/acme", claims).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.json()["error_description"],
            "claim requirement not met"
        );
    }
    let good = json!({ "org": { "tenant": { "id": "acme", "x": nested("x", 100, json!(1)) } } });
    assert_ok(&get_with(&server, "/acme", good).await);
}

#[tokio::test]
async fn duplicate_claim_names_count_as_their_last_value() {
    // RFC 7519 §4: a parser either refuses duplicate claim names or keeps the
    // lexically last; serde_json keeps the last, and so do the rules.
    let server = start(value_app()).await;
    let exp = unix_now() + 600;
    let payload = format!(r#"{{"scope":"orders:read","exp":{exp},"scope":"profile"}}"#);
    let reply = get_as(&server, "/orders", Some(&token_of_text(&payload))).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());

    let payload = format!(
        r#"{{"realm_access":{{"roles":["admin"]}},"exp":{exp},"realm_access":{{"roles":[]}}}}"#
    );
    let reply = get_as(&server, "/admin", Some(&token_of_text(&payload))).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());

    let payload = format!(r#"{{"scope":"profile","exp":{exp},"scope":"orders:read"}}"#);
    let reply = get_as(&server, "/orders", Some(&token_of_text(&payload))).await;
    assert_ok(&reply);
}
