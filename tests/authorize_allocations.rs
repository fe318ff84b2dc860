//! Heap allocations a `RequireLayer` adds to a request that passes.
//!
//! A counting global allocator (per thread, so the harness's other threads do
//! not count) measures one request carrying `Claims<C>` through a prebuilt
//! `Require` service, after a warm-up, against the same request to the bare
//! inner service. The synchronous rules read the claims in place: scope and
//! role rules over a typed struct or a `serde_json::Value`, and predicates,
//! add nothing. An asynchronous predicate adds exactly its boxed future.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::{Request, Response, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use tower::{Layer as _, Service, ServiceExt as _, service_fn};
use tower_jwt_auth::{Claims, RequireLayer};

/// Counts the allocations of the current thread, and forwards to `System`.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn record() {
    // `try_with` fails only while the thread is being torn down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counting touches only a thread-local `Cell`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record();
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Polls a future that must be ready at once.
fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future was not ready at once"),
    }
}

#[derive(Clone, Serialize)]
struct Access {
    roles: Vec<String>,
}

#[derive(Clone, Serialize)]
struct MyClaims {
    sub: String,
    aud: Vec<String>,
    realm_access: Access,
    resource_access: BTreeMap<String, Access>,
    scope: String,
    email: String,
}

fn typed() -> MyClaims {
    let access = |roles: &[&str]| Access {
        roles: roles.iter().map(|r| r.to_string()).collect(),
    };
    MyClaims {
        sub: "ada".into(),
        aud: vec!["orders-api".into()],
        realm_access: access(&["user", "admin"]),
        resource_access: BTreeMap::from([("orders-api".into(), access(&["reader"]))]),
        scope: "openid profile orders:read".into(),
        email: "ada@example.com".into(),
    }
}

fn inner() -> impl Service<Request<()>, Response = Response<()>, Error = Infallible> + Clone {
    service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) })
}

/// The allocations of one request with `claims` through `service`, after a
/// warm-up; the request is built, and the response dropped, outside the count.
fn allocations<S, C, B>(service: &S, claims: &C) -> u64
where
    S: Service<Request<()>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    C: Clone + Send + Sync + 'static,
{
    let request = || {
        let mut request = Request::new(());
        request.extensions_mut().insert(Claims(claims.clone()));
        request
    };
    let call = |request| now(service.clone().oneshot(request)).unwrap();
    for _ in 0..3 {
        assert_eq!(call(request()).status(), StatusCode::OK);
    }
    let request = request();
    let before = ALLOCATIONS.with(Cell::get);
    let response = call(request);
    let after = ALLOCATIONS.with(Cell::get);
    drop(response);
    after - before
}

#[test]
fn synchronous_rules_add_no_allocation() {
    let typed = typed();
    let value = serde_json::to_value(&typed).unwrap();
    let floor = allocations(&inner(), &typed);

    let scope = RequireLayer::<MyClaims>::builder()
        .scopes(["orders:read", "profile"])
        .build()
        .unwrap();
    assert_eq!(allocations(&scope.layer(inner()), &typed), floor, "scope");

    let roles = RequireLayer::<MyClaims>::builder()
        .role("admin")
        .roles_claim("realm_access.roles")
        .build()
        .unwrap();
    assert_eq!(allocations(&roles.layer(inner()), &typed), floor, "roles");

    let client_roles = RequireLayer::<MyClaims>::builder()
        .any_role(["reader", "writer"])
        .roles_claim("resource_access.orders-api.roles")
        .build()
        .unwrap();
    let client_roles = client_roles.layer(inner());
    assert_eq!(allocations(&client_roles, &typed), floor, "client roles");

    let predicate = RequireLayer::<MyClaims>::builder()
        .predicate(|c: &MyClaims| c.email.ends_with("@example.com"))
        .build()
        .unwrap();
    let predicate = predicate.layer(inner());
    assert_eq!(allocations(&predicate, &typed), floor, "predicate");

    let value_rules = RequireLayer::<Value>::builder()
        .scope("orders:read")
        .role("admin")
        .roles_claim("realm_access.roles")
        .build()
        .unwrap();
    let value_rules = value_rules.layer(inner());
    assert_eq!(allocations(&value_rules, &value), floor, "value");

    // A claim value is compared as JSON: a string claim is copied once.
    let claim = RequireLayer::<MyClaims>::builder()
        .claim_eq("sub", json!("ada"))
        .build()
        .unwrap();
    assert_eq!(
        allocations(&claim.layer(inner()), &typed),
        floor + 1,
        "claim_eq"
    );
}

#[test]
fn an_async_predicate_adds_its_boxed_future() {
    let typed = typed();
    let floor = allocations(&inner(), &typed);
    let layer = RequireLayer::<MyClaims>::builder()
        .async_predicate(|c: &MyClaims| {
            let verified = c.email.ends_with("@example.com");
            async move { verified }
        })
        .build()
        .unwrap();
    assert_eq!(allocations(&layer.layer(inner()), &typed), floor + 1);
}
