//! Claims forwarded to the inner service as request headers
//! (`claim_to_header`, `forward_payload`), the removal of every client copy
//! of those headers, and CORS preflights (`bypass_cors_preflight`, and
//! tower-http's `CorsLayer` in front), through a real axum server started
//! once for this binary.

// One of the layers waits on a revocation store (the deferred path).
#![cfg(feature = "revocation")]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderName, Request, StatusCode};
use http_body_util::Empty;
use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;
use tower::{ServiceBuilder, service_fn};
use tower_http::cors::{Any, CorsLayer};
use tower_jwt_auth::{
    CertificateBinding, Claims, ConfigError, CsrfPolicy, JwtAuthBuilder, JwtAuthLayer, Key,
    MemoryRevocations, ProxyHeader, Revocation, TokenIssuer, TokenSource, TrustedProxies,
};

use common::{Reply, send, serve_axum_for_the_binary};

const SECRET: &[u8] = b"claims-to-headers test secret, 32+ bytes";

/// The claim headers of every layer here, by claim path.
const FORWARDED: &[(&str, &str)] = &[
    ("sub", "x-jwt-sub"),
    ("count", "x-jwt-count"),
    ("admin", "x-jwt-admin"),
    ("roles", "x-jwt-roles"),
    ("realm_access.roles", "x-jwt-realm-roles"),
    ("name", "x-jwt-name"),
    ("address", "x-jwt-address"),
    ("nothing", "x-jwt-nothing"),
    ("absent", "x-jwt-absent"),
];
const PAYLOAD: &str = "x-jwt-payload";

fn forwarding(builder: JwtAuthBuilder<Value>) -> JwtAuthBuilder<Value> {
    FORWARDED
        .iter()
        .fold(builder, |builder, (claim, header)| {
            builder.claim_to_header(*claim, HeaderName::from_static(header))
        })
        .forward_payload(HeaderName::from_static(PAYLOAD))
}

fn layer(
    configure: impl FnOnce(JwtAuthBuilder<Value>) -> JwtAuthBuilder<Value>,
) -> JwtAuthLayer<Value> {
    configure(forwarding(JwtAuthLayer::builder().key(Key::hmac(SECRET))))
        .build()
        .expect("the layer")
}

/// Answers `200` with the request's headers and whether it had claims:
/// `{"claims": true, "headers": {"x-jwt-sub": "ada", ...}}`.
async fn echo<B>(request: Request<B>) -> Result<Response, Infallible> {
    let headers: Map<String, Value> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), Value::String(value))
        })
        .collect();
    let claims = request.extensions().get::<Claims<Value>>().is_some();
    Ok(axum::Json(json!({ "claims": claims, "headers": headers })).into_response())
}

/// `/strict`: forwarding, preflights let through; `/plain`: forwarding, no
/// bypass; `/optional`: forwarding in optional mode; `/cors`: a `CorsLayer`
/// in front of a layer without bypass; `/revocation`: forwarding after a
/// check that waits (a revocation store); `/form`: forwarding in form mode.
async fn server() -> SocketAddr {
    static SERVER: OnceCell<SocketAddr> = OnceCell::const_new();
    *SERVER
        .get_or_init(|| {
            serve_axum_for_the_binary(|| async {
                let strict = layer(|b| b.bypass_cors_preflight(true));
                let plain = layer(|b| b);
                let optional = layer(|b| b.optional(true));
                let cors = CorsLayer::new()
                    .allow_origin(Any)
                    .allow_methods(Any)
                    .allow_headers([http::header::AUTHORIZATION]);
                let service = |layer| ServiceBuilder::new().layer(layer).service(service_fn(echo));
                let revocation = layer(|b| {
                    b.revocation(Revocation::from_arc(Arc::new(MemoryRevocations::new())))
                });
                let form = forwarding(JwtAuthLayer::builder().key(Key::hmac(SECRET)))
                    .source(TokenSource::bearer())
                    .form_field("access_token")
                    .build()
                    .expect("the form layer");
                Router::new()
                    .nest_service("/revocation", service(revocation))
                    .nest_service(
                        "/form",
                        ServiceBuilder::new().layer(form).service(service_fn(echo)),
                    )
                    .nest_service("/strict", service(strict))
                    .nest_service("/plain", service(plain))
                    .nest_service("/optional", service(optional))
                    .nest_service(
                        "/cors",
                        ServiceBuilder::new()
                            .layer(cors)
                            .layer(layer(|b| b))
                            .service(service_fn(echo)),
                    )
            })
        })
        .await
}

fn token(claims: Value) -> String {
    TokenIssuer::hmac(SECRET)
        .build()
        .expect("the issuer")
        .issue(&claims)
        .expect("a token")
}

/// A token with every kind of value.
fn full_token() -> String {
    token(json!({
        "sub": "ada",
        "count": 42,
        "admin": true,
        "roles": ["reader", "writer", 7],
        "realm_access": { "roles": ["admin", "billing"] },
        "name": "Zoë Lovelace",
        "address": { "city": "London" },
        "nothing": null,
    }))
}

/// The client's forged copy of every forwarded header.
fn forged(mut request: http::request::Builder) -> http::request::Builder {
    for (_, header) in FORWARDED {
        request = request.header(*header, "forged");
    }
    request.header(PAYLOAD, "forged")
}

async fn call(method: &str, path: &str, headers: &[(&str, String)]) -> Reply {
    let mut request = forged(
        Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", server().await)),
    );
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    send(
        request
            .body(Empty::<bytes::Bytes>::new())
            .expect("a request"),
    )
    .await
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

/// The forwarded headers the inner service saw.
fn seen(reply: &Reply) -> Map<String, Value> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let json = reply.json();
    json["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .filter(|(name, _)| name.starts_with("x-jwt-"))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

#[tokio::test]
async fn each_kind_of_value_is_forwarded_as_documented() {
    let reply = call("GET", "/strict/", &[bearer(&full_token())]).await;
    assert_eq!(reply.json()["claims"], true);
    let mut headers = seen(&reply);
    let payload = headers.remove(PAYLOAD).expect("the payload header");
    assert_eq!(
        Value::Object(headers),
        json!({
            "x-jwt-sub": "ada",
            "x-jwt-count": "42",
            "x-jwt-admin": "true",
            "x-jwt-roles": "reader,writer,7",
            "x-jwt-realm-roles": "admin,billing",
            // Not forwarded, never forged: the non-ASCII string, the
            // object, null, and the absent claim.
        })
    );
    let decoded = URL_SAFE_NO_PAD
        .decode(payload.as_str().expect("text"))
        .expect("base64url without padding");
    let claims: Value = serde_json::from_slice(&decoded).expect("JSON claims");
    assert_eq!(claims["name"], "Zoë Lovelace");
    assert_eq!(claims["address"], json!({ "city": "London" }));
    assert_eq!(claims["sub"], "ada");
}

#[tokio::test]
async fn requests_that_wait_or_carry_a_form_are_forwarded_alike() {
    // The payload aside: `iat` and `exp` may differ between tokens.
    let seen = |reply: &Reply| {
        let mut headers = seen(reply);
        assert!(headers.remove(PAYLOAD).is_some());
        headers
    };
    let expected = seen(&call("GET", "/strict/", &[bearer(&full_token())]).await);
    assert_eq!(expected["x-jwt-sub"], "ada");
    // After the revocation store answered, in the response future.
    let reply = call("GET", "/revocation/", &[bearer(&full_token())]).await;
    assert_eq!(seen(&reply), expected);
    // A token in the form (the body read first), or in the header.
    let form = Request::post(format!("http://{}/form/", server().await))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-jwt-sub", "forged");
    let body = format!("access_token={}", full_token());
    let reply = send(
        form.body(http_body_util::Full::<bytes::Bytes>::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(seen(&reply), expected);
    let reply = call("GET", "/form/", &[bearer(&full_token())]).await;
    assert_eq!(seen(&reply), expected);
    // Refused in form mode: not forwarded.
    let reply = call("GET", "/form/", &[]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_without_the_claims_forwards_only_what_it_has() {
    let reply = call("GET", "/plain/", &[bearer(&token(json!({ "sub": "bob" })))]).await;
    let mut headers = seen(&reply);
    assert!(headers.remove(PAYLOAD).is_some());
    assert_eq!(Value::Object(headers), json!({ "x-jwt-sub": "bob" }));
}

#[tokio::test]
async fn forged_copies_never_reach_the_inner_service() {
    // Optional mode without a token: through, no claims, no header.
    let reply = call("GET", "/optional/", &[]).await;
    assert_eq!(reply.json()["claims"], false);
    assert!(seen(&reply).is_empty(), "{}", reply.text());
    // A CORS preflight let through: likewise.
    let preflight = [
        ("origin", "https://app.example".to_owned()),
        ("access-control-request-method", "POST".to_owned()),
    ];
    let reply = call("OPTIONS", "/strict/", &preflight).await;
    assert_eq!(reply.json()["claims"], false);
    assert!(seen(&reply).is_empty(), "{}", reply.text());
    // Refused: the layer answers, the inner service is not called.
    for path in ["/strict/", "/optional/", "/plain/"] {
        let reply = call("GET", path, &[bearer("not.a.token")]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            reply.json().get("headers").is_none(),
            "{path}: {}",
            reply.text()
        );
    }
    let reply = call("GET", "/plain/", &[]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn preflights_pass_without_a_token_only_when_enabled_and_complete() {
    let origin = ("origin", "https://app.example".to_owned());
    let method = ("access-control-request-method", "PUT".to_owned());
    let preflight = [origin.clone(), method.clone()];
    assert_eq!(
        call("OPTIONS", "/strict/", &preflight).await.status,
        StatusCode::OK
    );
    // Off by default.
    assert_eq!(
        call("OPTIONS", "/plain/", &preflight).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Not a preflight: authenticated as any request.
    for headers in [vec![], vec![origin.clone()], vec![method.clone()]] {
        let reply = call("OPTIONS", "/strict/", &headers).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{headers:?}");
    }
    assert_eq!(
        call("GET", "/strict/", &preflight).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A preflight with a token is still let through, without claims.
    let mut with_token = preflight.to_vec();
    with_token.push(bearer(&full_token()));
    let reply = call("OPTIONS", "/strict/", &with_token).await;
    assert_eq!(reply.json()["claims"], false);
    assert!(seen(&reply).is_empty());
}

#[tokio::test]
async fn a_cors_layer_in_front_answers_preflights_itself() {
    let preflight = [
        ("origin", "https://app.example".to_owned()),
        ("access-control-request-method", "GET".to_owned()),
        ("access-control-request-headers", "authorization".to_owned()),
    ];
    let reply = call("OPTIONS", "/cors/", &preflight).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), "*");
    assert!(reply.body.is_empty(), "{}", reply.text());
    // The real request is authenticated, and its refusal carries CORS
    // headers, so the browser shows the 401 to the script.
    let origin = [("origin", "https://app.example".to_owned())];
    let reply = call("GET", "/cors/", &origin).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.header("access-control-allow-origin"), "*");
    let reply = call("GET", "/cors/", &[origin[0].clone(), bearer(&full_token())]).await;
    assert_eq!(seen(&reply)["x-jwt-sub"], "ada");
    assert_eq!(reply.header("access-control-allow-origin"), "*");
}

#[test]
fn headers_that_cannot_receive_claims_are_refused_at_build() {
    let builder = || JwtAuthLayer::<Value>::builder().key(Key::hmac(SECRET));
    let header = HeaderName::from_static;
    let error = |builder: JwtAuthBuilder<Value>| builder.build().expect_err("refused");
    for name in [
        "cookie",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "te",
        "upgrade",
        "dpop",
        "origin",
        "x-forwarded-for",
    ] {
        let refused = error(builder().claim_to_header("sub", header(name)));
        assert!(
            matches!(&refused, ConfigError::ReservedForwardHeader { header, .. } if header == name),
            "{name}: {refused:?}"
        );
        let refused = error(builder().forward_payload(header(name)));
        assert!(
            matches!(&refused, ConfigError::ReservedForwardHeader { .. }),
            "{name}: {refused:?}"
        );
    }
    // A header a token is read from: `authorization` by default, else
    // reserved all the same.
    let refused = error(builder().claim_to_header("sub", header("authorization")));
    assert!(
        matches!(refused, ConfigError::ForwardHeaderIsRead { .. }),
        "{refused:?}"
    );
    let refused = error(
        builder()
            .source(TokenSource::cookie("session"))
            .forward_payload(header("authorization")),
    );
    assert!(
        matches!(refused, ConfigError::ReservedForwardHeader { .. }),
        "{refused:?}"
    );
    // Any header a token is read from.
    let refused = error(
        builder()
            .source(TokenSource::header(header("x-api-token")))
            .claim_to_header("sub", header("x-api-token")),
    );
    assert!(
        matches!(&refused, ConfigError::ForwardHeaderIsRead { header } if header == "x-api-token"),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "`x-api-token` cannot receive claims: the layer reads a token, CSRF value or certificate from it"
    );
    // A CSRF double-submit header (with a cookie source), a forwarded
    // client certificate.
    let refused = error(
        builder()
            .source(TokenSource::cookie("session"))
            .csrf(CsrfPolicy::double_submit_only())
            .claim_to_header("sub", header("x-csrf-token")),
    );
    assert!(
        matches!(refused, ConfigError::ForwardHeaderIsRead { .. }),
        "{refused:?}"
    );
    let proxies = TrustedProxies::new(["10.0.0.0/8"]).expect("proxies");
    let refused = error(
        builder()
            .certificate_binding(CertificateBinding::from_proxy_header(
                ProxyHeader::xfcc(),
                proxies,
            ))
            .forward_payload(header("x-forwarded-client-cert")),
    );
    assert!(
        matches!(refused, ConfigError::ForwardHeaderIsRead { .. }),
        "{refused:?}"
    );
    // Twice, for claims or for a claim and the payload.
    let refused = error(
        builder()
            .claim_to_header("sub", header("x-user"))
            .claim_to_header("email", header("x-user")),
    );
    assert!(
        matches!(&refused, ConfigError::DuplicateForwardHeader { header } if header == "x-user")
    );
    let refused = error(
        builder()
            .claim_to_header("sub", header("x-user"))
            .forward_payload(header("x-user")),
    );
    assert_eq!(refused.to_string(), "`x-user` receives claims twice");
    // A path the claim rules would refuse too.
    for path in ["", "a..b", ".a", "a."] {
        let refused = error(builder().claim_to_header(path, header("x-user")));
        assert!(
            matches!(refused, ConfigError::InvalidClaimPath { .. }),
            "{path:?}"
        );
    }
    let refused = error(builder().claim_to_header("sub", header("cookie")));
    assert_eq!(
        refused.to_string(),
        "`cookie` cannot receive claims: it carries credentials"
    );
}
