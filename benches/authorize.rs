//! What a `RequireLayer` adds to a request, against the bare inner service.
//!
//! Every row sends one request that already carries `Claims<C>` (as a
//! `JwtAuthLayer` in front would have inserted them; no token is verified
//! here) through `tower::ServiceExt::oneshot` on a clone of the service, to an
//! empty `service_fn` inner service:
//!
//! - `authorize/inner_only`: the bare inner service, the floor;
//! - `authorize/scope/typed`: one scope rule over a typed claims struct of
//!   twelve fields (Keycloak-like: `realm_access`, `resource_access`, ...),
//!   read by the crate's path serializer;
//! - `authorize/scope/value`: the same claims as a `serde_json::Value`;
//! - `authorize/scope/to_value`: the same check as a predicate that projects
//!   the typed claims with `serde_json::to_value` and reads `scope` from the
//!   value: what the path serializer saves;
//! - `authorize/roles_nested/typed`: one role at `realm_access.roles`;
//! - `authorize/predicate/typed`: one predicate over the typed claims, no
//!   path lookup at all;
//! - `authorize/async_predicate/typed`: one asynchronous predicate that is
//!   ready at once: the cost of the async path (inner clone, boxed future);
//! - `authorize/rejected/typed`: a missing scope, answered `403` by the
//!   default responder.
//!
//! Requests are built outside the measurement (`iter_batched`). Every future
//! completes at once, so it is polled once with a no-op waker instead of
//! paying for a runtime. No crypto is involved: the bench runs without a
//! backend too (`--no-default-features`).
//!
//! `cargo bench --bench authorize`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower::{Layer as _, Service, ServiceExt as _, service_fn};
use tower_jwt_auth::{Claims, RequireLayer};

mod common;
use common::now;

#[derive(Clone, Serialize, Deserialize)]
struct Access {
    roles: Vec<String>,
}

/// Claims as an identity provider (Keycloak here) issues them.
#[derive(Clone, Serialize, Deserialize)]
struct MyClaims {
    exp: u64,
    iat: u64,
    jti: String,
    iss: String,
    aud: Vec<String>,
    sub: String,
    typ: String,
    azp: String,
    realm_access: Access,
    resource_access: BTreeMap<String, Access>,
    scope: String,
    email: String,
}

fn claims() -> MyClaims {
    let roles = |r: &[&str]| Access {
        roles: r.iter().map(|s| s.to_string()).collect(),
    };
    MyClaims {
        exp: 1_800_000_600,
        iat: 1_800_000_000,
        jti: "6f1c3a5e-8f2b-4b7c-9d0e-1a2b3c4d5e6f".into(),
        iss: "https://sso.example/realms/shop".into(),
        aud: vec!["orders-api".into(), "account".into()],
        sub: "f81d4fae-7dec-11d0-a765-00a0c91e6bf6".into(),
        typ: "Bearer".into(),
        azp: "shop-frontend".into(),
        realm_access: roles(&["offline_access", "uma_authorization", "admin"]),
        resource_access: BTreeMap::from([
            ("account".into(), roles(&["manage-account", "view-profile"])),
            ("orders-api".into(), roles(&["reader"])),
        ]),
        scope: "openid profile email orders:read".into(),
        email: "ada@example.com".into(),
    }
}

type Inner = Response<Empty<Bytes>>;

fn inner() -> impl Service<Request<()>, Response = Inner, Error = Infallible, Future: Send> + Clone
{
    service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(Empty::new())) })
}

fn request<C: Clone + Send + Sync + 'static>(claims: &C) -> impl Fn() -> Request<()> + '_ {
    move || {
        let mut request = Request::new(());
        request.extensions_mut().insert(Claims(claims.clone()));
        request
    }
}

/// Benches `service` with requests from `make`, checking the status once.
fn row<S, B>(
    c: &mut Criterion,
    name: &str,
    service: S,
    make: impl Fn() -> Request<()>,
    expected: StatusCode,
) where
    S: Service<Request<()>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
{
    let status = |request| now(service.clone().oneshot(request)).unwrap().status();
    assert_eq!(status(make()), expected, "{name}");
    c.bench_function(name, |b| {
        b.iter_batched(&make, |r| status(black_box(r)), BatchSize::SmallInput)
    });
}

fn bench(c: &mut Criterion) {
    let typed = claims();
    let value = serde_json::to_value(&typed).expect("claims as JSON");

    row(
        c,
        "authorize/inner_only",
        inner(),
        request(&typed),
        StatusCode::OK,
    );

    let scope = RequireLayer::<MyClaims>::builder()
        .scope("orders:read")
        .build()
        .expect("layer");
    row(
        c,
        "authorize/scope/typed",
        scope.layer(inner()),
        request(&typed),
        StatusCode::OK,
    );

    let scope_value = RequireLayer::<Value>::builder()
        .scope("orders:read")
        .build()
        .expect("layer");
    row(
        c,
        "authorize/scope/value",
        scope_value.layer(inner()),
        request(&value),
        StatusCode::OK,
    );

    let projected = RequireLayer::<MyClaims>::builder()
        .predicate(|claims: &MyClaims| {
            serde_json::to_value(claims).is_ok_and(|v| {
                v.get("scope")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.split(' ').any(|w| w == "orders:read"))
            })
        })
        .build()
        .expect("layer");
    row(
        c,
        "authorize/scope/to_value",
        projected.layer(inner()),
        request(&typed),
        StatusCode::OK,
    );

    let roles = RequireLayer::<MyClaims>::builder()
        .role("admin")
        .roles_claim("realm_access.roles")
        .build()
        .expect("layer");
    row(
        c,
        "authorize/roles_nested/typed",
        roles.layer(inner()),
        request(&typed),
        StatusCode::OK,
    );

    let predicate = RequireLayer::<MyClaims>::builder()
        .predicate(|claims: &MyClaims| claims.email.ends_with("@example.com"))
        .build()
        .expect("layer");
    row(
        c,
        "authorize/predicate/typed",
        predicate.layer(inner()),
        request(&typed),
        StatusCode::OK,
    );

    let async_predicate = RequireLayer::<MyClaims>::builder()
        .async_predicate(|claims: &MyClaims| {
            let verified = claims.email.ends_with("@example.com");
            async move { verified }
        })
        .build()
        .expect("layer");
    row(
        c,
        "authorize/async_predicate/typed",
        async_predicate.layer(inner()),
        request(&typed),
        StatusCode::OK,
    );

    let missing = RequireLayer::<MyClaims>::builder()
        .scope("orders:write")
        .build()
        .expect("layer");
    row(
        c,
        "authorize/rejected/typed",
        missing.layer(inner()),
        request(&typed),
        StatusCode::FORBIDDEN,
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
