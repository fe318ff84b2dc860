//! Step-up authentication (RFC 9470) through real axum servers on 127.0.0.1:
//! a `RequireLayer` with `acr_values` and/or `max_age` behind a
//! `JwtAuthLayer`, its `401 insufficient_user_authentication` challenge read
//! parameter by parameter (their order is free), for `acr` and `auth_time`
//! claims that are too weak, too old, missing, in the future or of the wrong
//! type; its order against a scope rule; and, behind a layer that takes DPoP
//! (RFC 9449), the scheme the challenge goes under, with access tokens and
//! proofs from the OAuth harness (oidc-provider and `dpop`).
//!
//! Each server is started once per test binary, on a runtime of its own; the
//! layers' clock is fixed, so that `auth_time` is exact.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use http::{Request, StatusCode};
use http_body_util::Empty;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tower_jwt_auth::{
    Claims, DefaultResponder, Dpop, JwtAuthLayer, Key, RequireBuilder, RequireLayer, TokenIssuer,
};

use common::oauth_provider::{AUDIENCE, DpopAlg, OauthProvider, ProofRequest};
use common::{Reply, send, serve_axum_for_the_binary};

const SECRET: &[u8] = b"step-up integration secret, 32 b";
const REALM: &str = "step-up tests";
/// The layers' "now".
const NOW: u64 = 1_700_000_000;
const MFA: &str = "urn:example:mfa";
const HARDWARE_KEY: &str = "urn:example:hwk";
const PASSWORD: &str = "urn:example:pwd";

const WEAK: &str = "a different authentication level is required";
const OLD: &str = "more recent authentication is required";
const FUTURE: &str = "authentication time is in the future";

// ---------------------------------------------------------------------------
// Servers, tokens, requests.
// ---------------------------------------------------------------------------

fn responder() -> DefaultResponder {
    DefaultResponder::new().realm(REALM)
}

fn require<C>() -> RequireBuilder<C> {
    RequireLayer::builder().responder(responder()).clock(|| NOW)
}

/// Claims as most applications type them.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Typed {
    sub: String,
    #[serde(default)]
    acr: Option<String>,
    #[serde(default)]
    auth_time: Option<u64>,
}

/// The HMAC server: one route per kind of requirement, with
/// `serde_json::Value` claims, and `/typed/*` with typed ones.
async fn server() -> SocketAddr {
    static SERVER: OnceCell<SocketAddr> = OnceCell::const_new();
    *SERVER
        .get_or_init(|| {
            serve_axum_for_the_binary(|| async {
                let ok = || get(|| async { "ok" });
                let value_routes = Router::new()
                    .route(
                        "/mfa",
                        ok().route_layer(
                            require::<Value>()
                                .acr_values([MFA, HARDWARE_KEY])
                                .build()
                                .unwrap(),
                        ),
                    )
                    .route(
                        "/recent",
                        ok().route_layer(
                            require::<Value>()
                                .max_age(Duration::from_secs(300))
                                .build()
                                .unwrap(),
                        ),
                    )
                    .route(
                        "/both",
                        ok().route_layer(
                            require::<Value>()
                                .acr_values([MFA])
                                .max_age(Duration::from_secs(60))
                                .build()
                                .unwrap(),
                        ),
                    )
                    .route(
                        "/transfers",
                        ok().route_layer(
                            require::<Value>()
                                .scope("transfers")
                                .acr_values([MFA])
                                .build()
                                .unwrap(),
                        ),
                    )
                    .layer(jwt::<Value>());
                let typed_routes = Router::new()
                    .route(
                        "/typed/both",
                        get(
                            |Extension(Claims(claims)): Extension<Claims<Typed>>| async move {
                                claims.sub
                            },
                        )
                        .route_layer(
                            require::<Typed>()
                                .acr_values([MFA])
                                .max_age(Duration::from_secs(60))
                                .build()
                                .unwrap(),
                        ),
                    )
                    .layer(jwt::<Typed>());
                value_routes.merge(typed_routes)
            })
        })
        .await
}

fn jwt<C>() -> JwtAuthLayer<C> {
    JwtAuthLayer::builder()
        .key(Key::hmac(SECRET))
        .clock(|| NOW)
        .responder(responder())
        .build()
        .unwrap()
}

fn token(claims: Value) -> String {
    let mut claims = claims;
    claims
        .as_object_mut()
        .expect("an object")
        .entry("sub")
        .or_insert("user-ada".into());
    TokenIssuer::hmac(SECRET)
        .clock(|| NOW)
        .build()
        .unwrap()
        .issue(&claims)
        .unwrap()
}

async fn get_with(path: &str, claims: Value) -> Reply {
    let url = format!("http://{}{path}", server().await);
    common::send_bearer("GET", &url, &token(claims)).await
}

fn ago(seconds: u64) -> u64 {
    NOW - seconds
}

// ---------------------------------------------------------------------------
// The challenge, parameter by parameter.
// ---------------------------------------------------------------------------

/// One challenge of `WWW-Authenticate`: its scheme and parameters.
#[derive(Debug)]
struct Challenge {
    scheme: String,
    params: HashMap<String, String>,
}

/// Parses one header value holding one challenge (RFC 9110 §11.6.1):
/// `scheme [param=value *(", " param=value)]`, a value a token or a quoted
/// string with `\` escapes. Panics on anything else, and on a parameter given
/// twice (RFC 9110 §11.2: a recipient must not accept that).
fn parse_challenge(value: &str) -> Challenge {
    let (scheme, mut rest) = value.split_once(' ').unwrap_or((value, ""));
    let mut params = HashMap::new();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').expect("name=value");
        let name = name.trim().to_ascii_lowercase();
        let (param, after) = if let Some(quoted) = after.strip_prefix('"') {
            let mut text = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next().expect("a closing quote") {
                    (_, '\\') => text.push(chars.next().expect("an escaped character").1),
                    (i, '"') => break i + 1,
                    (_, c) => text.push(c),
                }
            };
            (text, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        assert!(
            params.insert(name.clone(), param).is_none(),
            "{name} twice in {value}"
        );
        rest = after.trim_start_matches([',', ' ']);
    }
    Challenge {
        scheme: scheme.to_owned(),
        params,
    }
}

fn challenges(reply: &Reply) -> Vec<Challenge> {
    reply
        .headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|v| parse_challenge(v.to_str().expect("ASCII")))
        .collect()
}

/// A `401 insufficient_user_authentication` with `description`, whose one
/// `Bearer` challenge has exactly the realm, the error, and the step-up
/// parameters given; the JSON body says the same.
#[track_caller]
fn assert_step_up(
    reply: &Reply,
    description: &str,
    acr_values: Option<&str>,
    max_age: Option<u64>,
) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "body: {}",
        reply.text()
    );
    let all = challenges(reply);
    let [challenge] = &all[..] else {
        panic!("one challenge expected: {all:?}");
    };
    assert_eq!(challenge.scheme, "Bearer");
    let mut expected = HashMap::from([
        ("realm".to_owned(), REALM.to_owned()),
        (
            "error".to_owned(),
            "insufficient_user_authentication".to_owned(),
        ),
        ("error_description".to_owned(), description.to_owned()),
    ]);
    let mut body = json!({
        "error": "insufficient_user_authentication",
        "error_description": description,
    });
    if let Some(acr_values) = acr_values {
        expected.insert("acr_values".to_owned(), acr_values.to_owned());
        body["acr_values"] = acr_values.into();
    }
    if let Some(max_age) = max_age {
        expected.insert("max_age".to_owned(), max_age.to_string());
        body["max_age"] = max_age.into();
    }
    assert_eq!(challenge.params, expected);
    assert_eq!(reply.json(), body);
    assert_eq!(reply.header(CACHE_CONTROL), "no-store");
}

#[track_caller]
fn assert_ok(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.text());
}

#[test]
fn the_challenge_parser_reads_quoted_strings_and_tokens() {
    let c = parse_challenge(r#"Bearer realm="a \"b\", c", error=invalid_token, max_age="0""#);
    assert_eq!(c.scheme, "Bearer");
    assert_eq!(c.params["realm"], r#"a "b", c"#);
    assert_eq!(c.params["error"], "invalid_token");
    assert_eq!(c.params["max_age"], "0");
    assert!(parse_challenge("Bearer").params.is_empty());
}

// ---------------------------------------------------------------------------
// acr_values.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_accepted_acr_passes() {
    for acr in [MFA, HARDWARE_KEY] {
        assert_ok(&get_with("/mfa", json!({ "acr": acr })).await);
    }
}

#[tokio::test]
async fn an_acr_too_weak_missing_or_not_a_string_asks_for_step_up() {
    for claims in [
        json!({ "acr": PASSWORD }),
        json!({ "acr": "URN:EXAMPLE:MFA" }),
        json!({ "acr": format!("{MFA} {HARDWARE_KEY}") }),
        json!({ "acr": "" }),
        json!({}),
        json!({ "acr": null }),
        json!({ "acr": 2 }),
        json!({ "acr": [MFA] }),
        json!({ "acr": { "value": MFA } }),
        json!({ "amr": ["mfa"] }),
    ] {
        let reply = get_with("/mfa", claims.clone()).await;
        // In order of preference, as configured.
        assert_step_up(&reply, WEAK, Some("urn:example:mfa urn:example:hwk"), None);
    }
}

// ---------------------------------------------------------------------------
// max_age.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_recent_enough_auth_time_passes() {
    for auth_time in [
        json!(NOW),
        json!(ago(300)),
        // The leeway (60 s) on either side.
        json!(ago(360)),
        json!(NOW + 60),
        // A NumericDate may have a fraction.
        json!(ago(100) as f64 + 0.25),
    ] {
        let reply = get_with("/recent", json!({ "auth_time": auth_time })).await;
        assert_ok(&reply);
    }
}

#[tokio::test]
async fn an_auth_time_too_old_missing_or_not_a_number_asks_for_step_up() {
    for auth_time in [
        Some(json!(ago(361))),
        Some(json!(0)),
        Some(json!(-1)),
        None,
        Some(json!(null)),
        Some(json!(NOW.to_string())),
        Some(json!(true)),
        Some(json!([NOW])),
    ] {
        let claims = match &auth_time {
            Some(auth_time) => json!({ "auth_time": auth_time }),
            None => json!({}),
        };
        let reply = get_with("/recent", claims).await;
        assert_step_up(&reply, OLD, None, Some(300));
    }
}

#[tokio::test]
async fn an_auth_time_in_the_future_beyond_the_leeway_asks_for_step_up() {
    for auth_time in [json!(NOW + 61), json!(u64::MAX), json!(1e300)] {
        let reply = get_with("/recent", json!({ "auth_time": auth_time })).await;
        assert_step_up(&reply, FUTURE, None, Some(300));
    }
}

// ---------------------------------------------------------------------------
// Both at once, and with a scope.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn with_both_settings_the_challenge_names_both() {
    assert_ok(&get_with("/both", json!({ "acr": MFA, "auth_time": ago(30) })).await);
    for (claims, description) in [
        // acr is checked first.
        (json!({ "acr": PASSWORD, "auth_time": ago(30) }), WEAK),
        (json!({ "acr": PASSWORD, "auth_time": ago(3600) }), WEAK),
        (json!({}), WEAK),
        (json!({ "acr": MFA, "auth_time": ago(3600) }), OLD),
        (json!({ "acr": MFA }), OLD),
        (json!({ "acr": MFA, "auth_time": NOW + 3600 }), FUTURE),
    ] {
        let reply = get_with("/both", claims.clone()).await;
        assert_step_up(&reply, description, Some(MFA), Some(60));
    }
}

#[tokio::test]
async fn a_missing_scope_is_refused_before_step_up_is_asked_for() {
    let reply = get_with("/transfers", json!({ "acr": PASSWORD })).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    let [challenge] = &challenges(&reply)[..] else {
        panic!("one challenge");
    };
    assert_eq!(challenge.params["error"], "insufficient_scope");
    assert_eq!(challenge.params["scope"], "transfers");
    assert!(!challenge.params.contains_key("acr_values"));

    let reply = get_with(
        "/transfers",
        json!({ "scope": "transfers", "acr": PASSWORD }),
    )
    .await;
    assert_step_up(&reply, WEAK, Some(MFA), None);
    let reply = get_with("/transfers", json!({ "scope": "transfers", "acr": MFA })).await;
    assert_ok(&reply);
}

#[tokio::test]
async fn typed_claims_are_read_too() {
    let reply = get_with("/typed/both", json!({ "acr": MFA, "auth_time": ago(10) })).await;
    assert_ok(&reply);
    assert_eq!(reply.text(), "user-ada");
    let reply = get_with("/typed/both", json!({ "acr": MFA, "auth_time": ago(600) })).await;
    assert_step_up(&reply, OLD, Some(MFA), Some(60));
    let reply = get_with("/typed/both", json!({ "auth_time": ago(10) })).await;
    assert_step_up(&reply, WEAK, Some(MFA), Some(60));
}

#[tokio::test]
async fn a_request_without_a_token_is_asked_for_one_not_for_step_up() {
    let url = format!("http://{}/both", server().await);
    let request = Request::get(url).body(Empty::<Bytes>::new()).unwrap();
    let reply = send(request).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let [challenge] = &challenges(&reply)[..] else {
        panic!("one challenge");
    };
    assert_eq!(
        challenge.params,
        HashMap::from([("realm".to_owned(), REALM.to_owned())])
    );
}

// ---------------------------------------------------------------------------
// Behind a layer that takes DPoP: the scheme the token came by.
// ---------------------------------------------------------------------------

/// The URL clients call the API by (the proofs' `htu`).
const PUBLIC_URL: &str = "https://api.test";
const RESOURCE: &str = "https://api.test/transfers";

/// `/transfers` behind a layer with the harness's keys that takes DPoP, and
/// a step-up rule its client-credentials tokens (no `acr`) never meet.
async fn dpop_server() -> SocketAddr {
    static SERVER: OnceCell<SocketAddr> = OnceCell::const_new();
    *SERVER
        .get_or_init(|| {
            serve_axum_for_the_binary(|| async {
                let provider = OauthProvider::shared().await;
                let jwt = JwtAuthLayer::<Value>::builder()
                    .key_set(provider.key_set().await)
                    .issuer(provider.issuer())
                    .audience(AUDIENCE)
                    .dpop(Dpop::allowed().public_url(PUBLIC_URL))
                    .responder(responder())
                    .build()
                    .unwrap();
                let step_up = RequireLayer::<Value>::builder()
                    .acr_values([MFA])
                    .max_age(Duration::from_secs(300))
                    .responder(responder())
                    .build()
                    .unwrap();
                Router::new()
                    .route("/transfers", get(|| async { "ok" }).route_layer(step_up))
                    .layer(jwt)
            })
        })
        .await
}

async fn call(scheme: &str, token: &str, proof: Option<&str>) -> Reply {
    let url = format!("http://{}/transfers", dpop_server().await);
    let mut request = Request::get(url).header("authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    send(request.body(Empty::<Bytes>::new()).unwrap()).await
}

/// The reply's challenges, by scheme.
fn by_scheme(reply: &Reply) -> HashMap<String, HashMap<String, String>> {
    challenges(reply)
        .into_iter()
        .map(|c| (c.scheme, c.params))
        .collect()
}

#[tokio::test]
async fn behind_a_dpop_layer_the_step_up_error_goes_under_the_tokens_scheme() {
    let provider = OauthProvider::shared().await;

    // A DPoP-bound token with its proof: the error on the `DPoP` challenge.
    let bound = provider.dpop_token(DpopAlg::Es256).await;
    let request = ProofRequest::new(&bound.key, "GET", RESOURCE).access_token(&bound.access_token);
    let proof = provider.proof(&request).await;
    let reply = call("DPoP", &bound.access_token, Some(&proof)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    let schemes = by_scheme(&reply);
    assert_eq!(schemes.len(), 2, "{schemes:?}");
    let dpop = &schemes["DPoP"];
    assert_eq!(dpop["error"], "insufficient_user_authentication");
    assert_eq!(dpop["error_description"], WEAK);
    assert_eq!(dpop["acr_values"], MFA);
    assert_eq!(dpop["max_age"], "300");
    assert!(
        dpop["algs"].split(' ').any(|alg| alg == "ES256"),
        "{dpop:?}"
    );
    let bearer = &schemes["Bearer"];
    assert_eq!(
        bearer,
        &HashMap::from([("realm".to_owned(), REALM.to_owned())])
    );

    // A bearer token: the error on the `Bearer` challenge, `DPoP` offered.
    let token = provider.bearer_token().await;
    let reply = call("Bearer", &token, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    let schemes = by_scheme(&reply);
    let bearer = &schemes["Bearer"];
    assert_eq!(bearer["error"], "insufficient_user_authentication");
    assert_eq!(bearer["acr_values"], MFA);
    assert_eq!(bearer["max_age"], "300");
    let dpop = &schemes["DPoP"];
    assert!(!dpop.contains_key("error"), "{dpop:?}");
    assert!(dpop.contains_key("algs"), "{dpop:?}");
}
