//! Finding an issuer's keys and metadata: RFC 8414 authorization server
//! metadata beside OpenID Connect discovery, in the order clients look
//! (RFC 8414 with the path inserted, OpenID Connect inserted, OpenID Connect
//! appended), each step's request counted at a JWK Set endpoint the test
//! controls (`common::jwks_server`); the issuer check, the answers that send
//! the search on and those that end it, hostile documents; and a real
//! authorization server (oidc-provider, `common::oauth_provider`) found the
//! same way, whose tokens a layer on the discovered keys then accepts.
//! Public API only.

#![cfg(feature = "remote-jwks")]

mod common;

use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Extension, Router};
use http::StatusCode;
use serde_json::{Value, json};
use tower_jwt_auth::{
    AuthorizationServerMetadata, Claims, JwtAuthLayer, RemoteKeyError, RemoteKeyErrorKind,
    RemoteKeySet, RemoteKeySetBuilder,
};

use common::jwks_server::{JWKS_PATH, JwksServer, Served};
use common::oauth_provider::{AUDIENCE, OPAQUE_AUDIENCE, OauthProvider};
use common::{send_bearer, serve_axum};

/// RFC 8414's well-known name, and OpenID Connect's.
const AS: &str = "/.well-known/oauth-authorization-server";
const OIDC: &str = "/.well-known/openid-configuration";

/// The three places of the metadata of the issuer `<server>/tenant1`, in
/// the order they are tried.
const AS_INSERTED: &str = "/.well-known/oauth-authorization-server/tenant1";
const OIDC_INSERTED: &str = "/.well-known/openid-configuration/tenant1";
const OIDC_APPENDED: &str = "/tenant1/.well-known/openid-configuration";

/// Short timeouts: a test that fails does so quickly.
fn discover(issuer: &str) -> RemoteKeySetBuilder {
    RemoteKeySet::discover(issuer)
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(2))
}

/// A server, and its issuer with the path `/tenant1`.
async fn tenant() -> (JwksServer, String) {
    let server = JwksServer::start().await;
    let issuer = format!("{}/tenant1", server.issuer());
    (server, issuer)
}

async fn discovery_error(issuer: &str) -> RemoteKeyError {
    discover(issuer).build().await.unwrap_err()
}

// ---------------------------------------------------------------------------
// The order, and what each step costs.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn rfc_8414_metadata_with_the_path_inserted_is_found_first() {
    let (server, issuer) = tenant().await;
    let metadata = json!({
        "issuer": issuer,
        "jwks_uri": server.url(),
        "token_endpoint": format!("{issuer}/token"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "scopes_supported": ["read", "write"],
        "dpop_signing_alg_values_supported": ["ES256", "EdDSA"],
        "x_vendor_member": true,
    });
    server.serve_at(AS_INSERTED, Served::json(metadata.to_string()));
    // The OpenID Connect places would answer too; they are never asked.
    server.serve_at(OIDC_INSERTED, Served::json(server.metadata_for(&issuer)));
    server.serve_at(OIDC_APPENDED, Served::json(server.metadata_for(&issuer)));

    let set = discover(&issuer).build().await.unwrap();
    assert_eq!(server.requests(), [AS_INSERTED, JWKS_PATH]);
    assert!(set.keys().is_some());

    let found = set.metadata().expect("the metadata it was found through");
    assert_eq!(found.url(), format!("{}{AS_INSERTED}", server.issuer()));
    assert_eq!(found.issuer(), issuer);
    assert_eq!(found.jwks_uri(), Some(server.url().as_str()));
    assert_eq!(
        found.introspection_endpoint(),
        Some(format!("{issuer}/introspect").as_str())
    );
    assert_eq!(
        found.introspection_endpoint_auth_methods_supported(),
        Some(&["client_secret_basic".to_owned()][..])
    );
    assert_eq!(found.scopes_supported().map(<[_]>::len), Some(2));
    assert_eq!(
        found.dpop_signing_alg_values_supported().map(<[_]>::len),
        Some(2)
    );
    assert_eq!(found.get("x_vendor_member"), Some(&Value::Bool(true)));
    assert_eq!(Value::Object(found.document().clone()), metadata);

    // Kept for the life of the set: a refresh asks for the JWK Set alone.
    set.refresh().await.unwrap();
    assert_eq!(server.requests(), [AS_INSERTED, JWKS_PATH, JWKS_PATH]);

    // A set given its JWK Set's URL has no metadata.
    let by_url = RemoteKeySet::builder(server.url()).build().await.unwrap();
    assert!(by_url.metadata().is_none());
}

#[tokio::test]
async fn oidc_with_the_path_inserted_is_the_second_place() {
    let (server, issuer) = tenant().await;
    server.serve_at(OIDC_INSERTED, Served::json(server.metadata_for(&issuer)));
    server.serve_at(OIDC_APPENDED, Served::json(server.metadata_for(&issuer)));

    let set = discover(&issuer).build().await.unwrap();
    assert_eq!(server.requests(), [AS_INSERTED, OIDC_INSERTED, JWKS_PATH]);
    assert!(set.metadata().unwrap().url().ends_with(OIDC_INSERTED));
}

#[tokio::test]
async fn oidc_appended_is_the_third_place_and_costs_three_requests_once() {
    let (server, issuer) = tenant().await;
    server.serve_at(OIDC_APPENDED, Served::json(server.metadata_for(&issuer)));

    let set = discover(&issuer).build().await.unwrap();
    assert_eq!(
        server.requests(),
        [AS_INSERTED, OIDC_INSERTED, OIDC_APPENDED, JWKS_PATH]
    );
    assert!(set.metadata().unwrap().url().ends_with(OIDC_APPENDED));

    set.refresh().await.unwrap();
    set.refresh().await.unwrap();
    let requests = server.requests();
    assert_eq!(
        requests.iter().filter(|p| *p != JWKS_PATH).count(),
        3,
        "the search ran once: {requests:?}"
    );
    assert_eq!(server.fetches(), 3);
}

#[tokio::test]
async fn an_issuer_without_a_path_tries_rfc_8414_then_oidc() {
    // Only OpenID Connect discovery, as before RFC 8414: found second.
    let server = JwksServer::start().await;
    let set = discover(&server.issuer()).build().await.unwrap();
    assert_eq!(server.requests(), [AS, OIDC, JWKS_PATH]);
    assert!(set.metadata().unwrap().url().ends_with(OIDC));

    // RFC 8414 metadata: found first, OpenID Connect never asked.
    let server = JwksServer::start().await;
    server.serve_at(AS, Served::json(server.metadata_for(&server.issuer())));
    discover(&server.issuer()).build().await.unwrap();
    assert_eq!(server.requests(), [AS, JWKS_PATH]);
    assert_eq!(server.discovery_fetches(), 0);

    // A trailing slash makes no other URL (RFC 8414 §3.1), but the issuer
    // compared is the configured one, slash included.
    let server = JwksServer::start().await;
    let error = discovery_error(&format!("{}/", server.issuer())).await;
    assert_eq!(error.kind(), RemoteKeyErrorKind::IssuerMismatch, "{error}");
    assert_eq!(server.requests(), [AS, OIDC]);
}

#[tokio::test]
async fn the_first_document_found_must_name_the_issuer_and_ends_the_search() {
    // The first place speaks for another issuer; the later ones for the
    // right one, and are never asked.
    let (server, issuer) = tenant().await;
    let evil = server.metadata_for("https://evil.example/tenant1");
    server.serve_at(AS_INSERTED, Served::json(evil.clone()));
    server.serve_at(OIDC_INSERTED, Served::json(server.metadata_for(&issuer)));
    server.serve_at(OIDC_APPENDED, Served::json(server.metadata_for(&issuer)));
    let error = discovery_error(&issuer).await;
    assert_eq!(error.kind(), RemoteKeyErrorKind::IssuerMismatch, "{error}");
    assert!(error.to_string().contains("evil.example"), "{error}");
    let url = format!("{}{AS_INSERTED}", server.issuer());
    assert_eq!(error.url(), Some(url.as_str()));
    assert_eq!(server.requests(), [AS_INSERTED], "no fallback past it");
    assert_eq!(server.fetches(), 0, "the JWK Set was never fetched");

    // The same at the second place, after a first that has nothing.
    let (server, issuer) = tenant().await;
    server.serve_at(OIDC_INSERTED, Served::json(evil));
    server.serve_at(OIDC_APPENDED, Served::json(server.metadata_for(&issuer)));
    let error = discovery_error(&issuer).await;
    assert_eq!(error.kind(), RemoteKeyErrorKind::IssuerMismatch, "{error}");
    assert_eq!(server.requests(), [AS_INSERTED, OIDC_INSERTED]);
    assert_eq!(server.fetches(), 0);
}

// ---------------------------------------------------------------------------
// What sends the search on, and what ends it.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn gone_forbidden_and_other_4xx_or_an_html_page_mean_not_here() {
    let (server, issuer) = tenant().await;
    server.serve_at(AS_INSERTED, Served::status(StatusCode::GONE));
    // A catch-all route's page: 200, but not JSON.
    server.serve_at(
        OIDC_INSERTED,
        Served::status(StatusCode::OK)
            .header("content-type", "text/html; charset=utf-8")
            .body("<!doctype html><title>app</title>"),
    );
    server.serve_at(OIDC_APPENDED, Served::json(server.metadata_for(&issuer)));
    discover(&issuer).build().await.unwrap();
    assert_eq!(
        server.requests(),
        [AS_INSERTED, OIDC_INSERTED, OIDC_APPENDED, JWKS_PATH]
    );

    // A static bucket's 403, a framework's 405 or 400, a 401.
    for status in [
        StatusCode::FORBIDDEN,
        StatusCode::METHOD_NOT_ALLOWED,
        StatusCode::BAD_REQUEST,
        StatusCode::UNAUTHORIZED,
    ] {
        let (server, issuer) = tenant().await;
        server.serve_at(AS_INSERTED, Served::status(status));
        server.serve_at(OIDC_INSERTED, Served::json(server.metadata_for(&issuer)));
        discover(&issuer).build().await.unwrap();
        assert_eq!(
            server.requests(),
            [AS_INSERTED, OIDC_INSERTED, JWKS_PATH],
            "{status}"
        );
    }
}

#[tokio::test]
async fn server_errors_rate_limits_and_redirects_end_the_search() {
    for status in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::BAD_GATEWAY,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::REQUEST_TIMEOUT,
    ] {
        let (server, issuer) = tenant().await;
        server.serve_at(AS_INSERTED, Served::status(status));
        server.serve_at(OIDC_INSERTED, Served::json(server.metadata_for(&issuer)));
        let error = discovery_error(&issuer).await;
        assert_eq!(
            error.kind(),
            RemoteKeyErrorKind::Status,
            "{status}: {error}"
        );
        assert!(error.to_string().contains(status.as_str()), "{error}");
        assert_eq!(server.requests(), [AS_INSERTED], "{status}");
    }

    // A redirect to the right document is refused, not followed, and not a
    // reason to look elsewhere.
    for status in [
        StatusCode::FOUND,
        StatusCode::MOVED_PERMANENTLY,
        StatusCode::PERMANENT_REDIRECT,
    ] {
        let (server, issuer) = tenant().await;
        let target = format!("{}{OIDC_INSERTED}", server.issuer());
        server.serve_at(
            AS_INSERTED,
            Served::status(status).header("location", &target),
        );
        server.serve_at(OIDC_INSERTED, Served::json(server.metadata_for(&issuer)));
        let error = discovery_error(&issuer).await;
        assert_eq!(error.kind(), RemoteKeyErrorKind::Status, "{error}");
        assert!(
            error.to_string().contains("redirects are not followed"),
            "{error}"
        );
        assert_eq!(server.requests(), [AS_INSERTED], "{status}");
    }
}

#[tokio::test]
async fn a_failed_search_is_retried_and_then_kept() {
    let (server, issuer) = tenant().await;
    server.serve_at(AS_INSERTED, Served::status(StatusCode::SERVICE_UNAVAILABLE));
    let set = discover(&issuer).fail_fast(false).build().await.unwrap();
    let error = set.refresh().await.unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::Status, "{error}");
    assert!(set.metadata().is_none());
    assert!(set.keys().is_none());

    // The provider heals: the next fetch searches again and finds it (a
    // background retry that started before may still end in the old error).
    server.serve_at(AS_INSERTED, Served::json(server.metadata_for(&issuer)));
    let mut healed = set.refresh().await;
    for _ in 0..3 {
        if healed.is_ok() {
            break;
        }
        healed = set.refresh().await;
    }
    healed.unwrap();
    assert!(set.keys().is_some());
    assert!(set.metadata().unwrap().url().ends_with(AS_INSERTED));
    let searches = server
        .requests()
        .iter()
        .filter(|p| *p == AS_INSERTED)
        .count();
    set.refresh().await.unwrap();
    let after = server
        .requests()
        .iter()
        .filter(|p| *p == AS_INSERTED)
        .count();
    assert_eq!(searches, after, "found once, kept");
}

#[tokio::test]
async fn no_metadata_anywhere_names_every_url_and_its_answer() {
    let (server, issuer) = tenant().await;
    let error = discovery_error(&issuer).await;
    assert_eq!(error.kind(), RemoteKeyErrorKind::Status, "{error}");
    let shown = error.to_string();
    for path in [AS_INSERTED, OIDC_INSERTED, OIDC_APPENDED] {
        assert!(
            shown.contains(&format!("{}{path}: answered 404", server.issuer())),
            "{shown}"
        );
    }
    assert_eq!(
        server.requests(),
        [AS_INSERTED, OIDC_INSERTED, OIDC_APPENDED]
    );
}

// ---------------------------------------------------------------------------
// Hostile metadata.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn hostile_metadata_is_refused_without_looking_further() {
    // A document, from the issuer and the `jwks_uri` a good one has.
    type Document = fn(&str, &str) -> String;
    let cases: [(&str, Document, RemoteKeyErrorKind); 9] = [
        (
            "oversized",
            |issuer, jwks| {
                json!({ "issuer": issuer, "jwks_uri": jwks, "x": "a".repeat(8 * 1024) }).to_string()
            },
            RemoteKeyErrorKind::TooLarge,
        ),
        (
            "garbage",
            |_, _| r#"{"issuer": "#.into(),
            RemoteKeyErrorKind::InvalidDocument,
        ),
        (
            "empty",
            |_, _| String::new(),
            RemoteKeyErrorKind::InvalidDocument,
        ),
        (
            "not an object",
            |issuer, jwks| json!([issuer, jwks]).to_string(),
            RemoteKeyErrorKind::InvalidDocument,
        ),
        (
            "no issuer",
            |_, jwks| json!({ "jwks_uri": jwks }).to_string(),
            RemoteKeyErrorKind::InvalidDocument,
        ),
        (
            "issuer a number",
            |_, jwks| json!({ "issuer": 42, "jwks_uri": jwks }).to_string(),
            RemoteKeyErrorKind::InvalidDocument,
        ),
        (
            "issuer an array",
            |issuer, jwks| json!({ "issuer": [issuer], "jwks_uri": jwks }).to_string(),
            RemoteKeyErrorKind::InvalidDocument,
        ),
        (
            "scopes a string",
            |issuer, jwks| {
                json!({ "issuer": issuer, "jwks_uri": jwks, "scopes_supported": "read" })
                    .to_string()
            },
            RemoteKeyErrorKind::InvalidDocument,
        ),
        (
            "no jwks_uri",
            |issuer, _| json!({ "issuer": issuer }).to_string(),
            RemoteKeyErrorKind::InvalidDocument,
        ),
    ];
    for (what, document, kind) in cases {
        let (server, issuer) = tenant().await;
        let body = document(&issuer, &server.url());
        server.serve_at(AS_INSERTED, Served::json(body));
        server.serve_at(OIDC_INSERTED, Served::json(server.metadata_for(&issuer)));
        let error = discover(&issuer)
            .max_document_size(4 * 1024)
            .build()
            .await
            .unwrap_err();
        assert_eq!(error.kind(), kind, "{what}: {error}");
        assert_eq!(server.requests(), [AS_INSERTED], "{what}");
        assert_eq!(server.fetches(), 0, "{what}");
    }
}

#[tokio::test]
async fn a_slow_metadata_url_is_bounded_by_the_timeout() {
    let (server, issuer) = tenant().await;
    server.serve_at(
        AS_INSERTED,
        Served::json(server.metadata_for(&issuer)).delay(Duration::from_secs(30)),
    );
    server.serve_at(OIDC_INSERTED, Served::json(server.metadata_for(&issuer)));
    let started = Instant::now();
    let error = discover(&issuer)
        .timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::Timeout, "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        server.requests(),
        [AS_INSERTED],
        "a timeout is no reason to look elsewhere"
    );

    let started = Instant::now();
    let error = AuthorizationServerMetadata::discover(&issuer)
        .timeout(Duration::from_millis(300))
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::Timeout, "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_jwks_uri_over_plain_http_to_another_host_is_refused() {
    for jwks_uri in [
        "http://idp.example/jwks",
        "http://10.0.0.1/jwks",
        "ftp://idp.example/jwks",
        "/jwks.json",
    ] {
        let (server, issuer) = tenant().await;
        server.serve_at(
            AS_INSERTED,
            Served::json(json!({ "issuer": issuer, "jwks_uri": jwks_uri }).to_string()),
        );
        let error = discovery_error(&issuer).await;
        assert_eq!(
            error.kind(),
            RemoteKeyErrorKind::InvalidUrl,
            "{jwks_uri}: {error}"
        );
        assert_eq!(server.requests(), [AS_INSERTED]);
    }
}

#[tokio::test]
async fn an_issuer_with_a_query_or_fragment_or_plain_http_is_refused_at_build() {
    for issuer in [
        "https://as.example/tenant1?x=1",
        "https://as.example/tenant1#top",
        "http://as.example/tenant1",
    ] {
        let error = RemoteKeySet::discover(issuer).build().await.unwrap_err();
        assert_eq!(
            error.kind(),
            RemoteKeyErrorKind::InvalidUrl,
            "{issuer}: {error}"
        );
        let error = AuthorizationServerMetadata::discover(issuer)
            .fetch()
            .await
            .unwrap_err();
        assert_eq!(
            error.kind(),
            RemoteKeyErrorKind::InvalidUrl,
            "{issuer}: {error}"
        );
    }
}

// ---------------------------------------------------------------------------
// The metadata on its own.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn metadata_is_fetched_on_its_own_without_a_jwks_uri() {
    let (server, issuer) = tenant().await;
    // An authorization server of opaque tokens only: no JWK Set.
    server.serve_at(
        OIDC_APPENDED,
        Served::json(
            json!({
                "issuer": issuer,
                "introspection_endpoint": format!("{issuer}/introspect"),
                "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            })
            .to_string(),
        ),
    );
    let fetch = || {
        AuthorizationServerMetadata::discover(&issuer)
            .connect_timeout(Duration::from_millis(500))
            .timeout(Duration::from_secs(2))
            .no_proxy()
            .fetch()
    };
    let metadata = fetch().await.unwrap();
    assert_eq!(metadata.issuer(), issuer);
    assert_eq!(metadata.jwks_uri(), None);
    assert_eq!(
        metadata.introspection_endpoint(),
        Some(format!("{issuer}/introspect").as_str())
    );
    assert!(metadata.url().ends_with(OIDC_APPENDED));
    assert_eq!(
        server.requests(),
        [AS_INSERTED, OIDC_INSERTED, OIDC_APPENDED]
    );

    // Nothing is cached: each fetch searches again.
    fetch().await.unwrap();
    assert_eq!(server.requests().len(), 6);

    // The endpoint an `Introspection` is configured for.
    #[cfg(feature = "introspection")]
    {
        let introspection = tower_jwt_auth::Introspection::from_metadata(&metadata)
            .unwrap()
            .client_secret_basic("rs", "secret")
            .build()
            .unwrap();
        assert_eq!(introspection.endpoint(), format!("{issuer}/introspect"));
        // No endpoint: refused at once.
        server.serve_at(
            AS_INSERTED,
            Served::json(json!({ "issuer": issuer }).to_string()),
        );
        let error =
            tower_jwt_auth::Introspection::from_metadata(&fetch().await.unwrap()).unwrap_err();
        assert_eq!(error.kind(), RemoteKeyErrorKind::InvalidConfig, "{error}");
        assert!(
            error
                .to_string()
                .contains("names no introspection_endpoint")
                && error.to_string().contains(&issuer),
            "{error}"
        );
        // An endpoint that lists its methods: credentials of another method
        // are refused at build, before any request.
        server.serve_at(
            AS_INSERTED,
            Served::json(
                json!({
                    "issuer": issuer,
                    "introspection_endpoint": format!("{issuer}/introspect"),
                    "introspection_endpoint_auth_methods_supported": ["private_key_jwt"],
                })
                .to_string(),
            ),
        );
        let error = tower_jwt_auth::Introspection::from_metadata(&fetch().await.unwrap())
            .unwrap()
            .client_secret_basic("rs", "secret")
            .build()
            .unwrap_err();
        assert_eq!(error.kind(), RemoteKeyErrorKind::InvalidConfig, "{error}");
        assert!(
            error
                .to_string()
                .contains(r#"takes ["private_key_jwt"], not client_secret_basic"#)
                && error.to_string().contains(&issuer),
            "{error}"
        );
    }

    // The same checks as a key set's.
    server.serve_at(
        AS_INSERTED,
        Served::json(server.metadata_for("https://evil.example")),
    );
    let error = fetch().await.unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::IssuerMismatch, "{error}");
}

// ---------------------------------------------------------------------------
// A real authorization server: oidc-provider.
// ---------------------------------------------------------------------------

/// `GET /orders` answers the token's `client_id`.
async fn orders(keys: RemoteKeySet, issuer: &str) -> common::Server {
    let layer = JwtAuthLayer::<Value>::builder()
        .jwks(keys)
        .issuer(issuer)
        // The resource indicator the token was requested for (RFC 8707).
        .audience(AUDIENCE)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/orders",
            get(
                |Extension(Claims(claims)): Extension<Claims<Value>>| async move {
                    claims["client_id"].as_str().unwrap_or_default().to_owned()
                },
            ),
        )
        .layer(layer);
    serve_axum(app).await
}

#[tokio::test]
async fn the_real_provider_is_discovered_and_its_tokens_accepted() {
    let provider = OauthProvider::shared().await;
    let keys = RemoteKeySet::discover(provider.issuer())
        .timeout(Duration::from_secs(5))
        .build()
        .await
        .expect("the provider's keys, by discovery");

    // oidc-provider serves RFC 8414 metadata as well as OpenID Connect
    // discovery: the first place answers.
    let metadata = keys.metadata().expect("its metadata");
    assert_eq!(metadata.url(), format!("{}{AS}", provider.issuer()));
    assert_eq!(metadata.issuer(), provider.issuer());
    assert_eq!(metadata.jwks_uri(), Some(provider.jwks_uri()));
    let info = provider.info().await;
    assert_eq!(metadata.token_endpoint(), info["token_endpoint"].as_str());
    assert_eq!(
        metadata.introspection_endpoint(),
        info["introspection_endpoint"].as_str()
    );
    // It publishes no introspection_endpoint_auth_methods_supported: its
    // token endpoint's methods serve for both.
    assert!(
        metadata
            .token_endpoint_auth_methods_supported()
            .is_some_and(|m| m.iter().any(|m| m == "client_secret_basic")),
        "{:?}",
        metadata.document()
    );
    assert!(
        metadata
            .dpop_signing_alg_values_supported()
            .is_some_and(|algs| algs.iter().any(|a| a == "ES256")),
        "{:?}",
        metadata.get("dpop_signing_alg_values_supported")
    );

    // Its OpenID Connect document, where the search would go next, agrees.
    let oidc = common::send(
        http::Request::get(format!("{}{OIDC}", provider.issuer()))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap(),
    )
    .await
    .json();
    for member in [
        "issuer",
        "jwks_uri",
        "token_endpoint",
        "introspection_endpoint",
    ] {
        assert_eq!(metadata.get(member), oidc.get(member), "{member}");
    }

    // Fetched on its own: the same document.
    let alone = AuthorizationServerMetadata::discover(provider.issuer())
        .fetch()
        .await
        .unwrap();
    assert_eq!(alone.document(), metadata.document());

    // A layer on the discovered keys accepts the provider's token for this
    // resource, and refuses one for another resource.
    let server = orders(keys, provider.issuer()).await;
    let url = server.url("/orders");
    let reply = send_bearer("GET", &url, &provider.bearer_token().await).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.text(), "harness-bearer");

    let for_another_resource = provider
        .call(
            http::Method::POST,
            "/bearer-token",
            json!({ "resource": OPAQUE_AUDIENCE }),
        )
        .await;
    let other = for_another_resource["access_token"].as_str().unwrap();
    let reply = send_bearer("GET", &url, other).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
}
