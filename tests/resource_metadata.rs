//! Protected resource metadata (RFC 9728) over HTTP: axum servers on
//! 127.0.0.1 with the layer on their API routes and the metadata service at
//! its well-known path. The challenges of every refusal name the document;
//! the document follows the layer's configuration (issuers, sources, DPoP,
//! certificate binding); and an independent OAuth client, oauth4webapi
//! (through the Node harness, `common::oauth_provider`), goes from a `401`
//! to the document to the authorization server (oidc-provider), refusing a
//! document for another resource.

mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Method, Request, StatusCode};
use http_body_util::Empty;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tower_jwt_auth::{
    CertificateBinding, ConfigError, Dpop, JwtAuthBuilder, JwtAuthLayer, Key, ResourceMetadata,
    TokenSource, TrustedIssuer,
};

use common::oauth_provider::{AUDIENCE, OauthProvider};
use common::{Reply, send};

const SECRET: &[u8] = b"a secret of at least 32 bytes....";
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// A server on an ephemeral port of 127.0.0.1, stopped when dropped; its
/// app was made knowing the server's own origin, which the resource
/// identifier names.
struct Running {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Running {
    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(app: impl FnOnce(&str) -> Router) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app(&format!("http://{addr}"));
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Running { addr, task }
}

/// `GET <api>/orders` behind `layer`, and the layer's metadata service at
/// its well-known path, outside the layer.
fn app(api: &str, layer: JwtAuthLayer<Value>) -> Router {
    let metadata = layer.resource_metadata_service().expect("metadata");
    let path = metadata.path().to_owned();
    Router::new()
        .route(&format!("{api}/orders"), get(|| async { "orders" }))
        .route(api, get(|| async { "api" }))
        .route_layer(layer)
        .route_service(&path, metadata)
}

fn builder() -> JwtAuthBuilder<Value> {
    JwtAuthLayer::builder()
        .key(Key::hmac(SECRET))
        .issuer("https://login.example")
}

async fn request(method: Method, url: &str, token: Option<&str>) -> Reply {
    let mut request = Request::builder().method(method).uri(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    send(request.body(Empty::<Bytes>::new()).unwrap()).await
}

/// Every `WWW-Authenticate` value of `reply`.
fn challenges(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

/// The document a layer built from `builder` publishes.
fn document(builder: JwtAuthBuilder<Value>) -> Value {
    let layer = builder.build().unwrap();
    let service = layer.resource_metadata_service().expect("metadata");
    serde_json::from_slice(service.document()).unwrap()
}

#[tokio::test]
async fn every_refusal_names_the_metadata_in_its_challenge() {
    let server = serve(|origin| {
        let metadata = ResourceMetadata::new(format!("{origin}/api"));
        app(
            "/api",
            builder().resource_metadata(metadata).build().unwrap(),
        )
    })
    .await;
    let url = format!("{}{WELL_KNOWN}/api", server.origin());

    // No token: no error code, only the metadata (RFC 6750 §3.1, RFC 9728 §5.1).
    let reply = request(Method::GET, &server.url("/api/orders"), None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenges(&reply),
        [format!(r#"Bearer resource_metadata="{url}""#)]
    );
    // A bad token: the error, then the metadata.
    let reply = request(Method::GET, &server.url("/api"), Some("not.a.token")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let [challenge] = &challenges(&reply)[..] else {
        panic!("{:?}", challenges(&reply));
    };
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token", error_description=""#),
        "{challenge}"
    );
    assert!(
        challenge.ends_with(&format!(r#"", resource_metadata="{url}""#)),
        "{challenge}"
    );
    // A token from an issuer the layer does not trust.
    let other = tower_jwt_auth::TokenIssuer::hmac(SECRET)
        .issuer("https://elsewhere.example")
        .build()
        .unwrap()
        .issue(&json!({}))
        .unwrap();
    let reply = request(Method::GET, &server.url("/api"), Some(&other)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        challenges(&reply)[0].ends_with(&format!(r#", resource_metadata="{url}""#)),
        "{:?}",
        challenges(&reply)
    );
    // A good token passes, and the answer carries no challenge.
    let good = tower_jwt_auth::TokenIssuer::hmac(SECRET)
        .issuer("https://login.example")
        .build()
        .unwrap()
        .issue(&json!({}))
        .unwrap();
    let reply = request(Method::GET, &server.url("/api/orders"), Some(&good)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(challenges(&reply).is_empty());
}

#[tokio::test]
async fn the_refusals_of_a_require_layer_behind_name_the_metadata_too() {
    // RFC 9728 §5.1: every challenge; RequireLayer's come after the token
    // was accepted (a missing scope, a login too weak or too old).
    let server = serve(|origin| {
        let layer = builder()
            .resource_metadata(ResourceMetadata::new(format!("{origin}/api")))
            .build()
            .unwrap();
        let metadata = layer.resource_metadata_service().expect("metadata");
        let path = metadata.path().to_owned();
        let scope = tower_jwt_auth::RequireLayer::<Value>::builder()
            .scope("orders:write")
            .build()
            .unwrap();
        let step_up = tower_jwt_auth::RequireLayer::<Value>::builder()
            .acr_values(["urn:example:mfa"])
            .build()
            .unwrap();
        Router::new()
            .route("/api/write", get(|| async { "written" }).route_layer(scope))
            .route("/api/admin", get(|| async { "admin" }).route_layer(step_up))
            .route_layer(layer)
            .route_service(&path, metadata)
    })
    .await;
    let url = format!("{}{WELL_KNOWN}/api", server.origin());
    let issue = |claims: Value| {
        tower_jwt_auth::TokenIssuer::hmac(SECRET)
            .issuer("https://login.example")
            .build()
            .unwrap()
            .issue(&claims)
            .unwrap()
    };
    let token = issue(json!({ "scope": "orders:read", "acr": "urn:example:pwd" }));

    let reply = request(Method::GET, &server.url("/api/write"), Some(&token)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    let [challenge] = &challenges(&reply)[..] else {
        panic!("{:?}", challenges(&reply));
    };
    assert!(
        challenge.starts_with(r#"Bearer error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="orders:write""#), "{challenge}");
    assert!(
        challenge.ends_with(&format!(r#", resource_metadata="{url}""#)),
        "{challenge}"
    );

    let reply = request(Method::GET, &server.url("/api/admin"), Some(&token)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    let [challenge] = &challenges(&reply)[..] else {
        panic!("{:?}", challenges(&reply));
    };
    assert!(
        challenge.starts_with(r#"Bearer error="insufficient_user_authentication""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(r#"acr_values="urn:example:mfa""#),
        "{challenge}"
    );
    assert!(
        challenge.ends_with(&format!(r#", resource_metadata="{url}""#)),
        "{challenge}"
    );

    // Strong enough: through both layers.
    let strong = issue(json!({ "scope": "orders:read", "acr": "urn:example:mfa" }));
    let reply = request(Method::GET, &server.url("/api/admin"), Some(&strong)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(challenges(&reply).is_empty());
}

#[tokio::test]
async fn the_well_known_route_serves_the_document_to_get_and_head_only() {
    let server = serve(|origin| {
        let metadata = ResourceMetadata::new(format!("{origin}/api"))
            .scopes_supported(["orders:read"])
            .field("resource_name", "Orders")
            .max_age(std::time::Duration::from_secs(600));
        app(
            "/api",
            builder().resource_metadata(metadata).build().unwrap(),
        )
    })
    .await;
    let well_known = server.url(&format!("{WELL_KNOWN}/api"));

    // Public: no token needed.
    let reply = request(Method::GET, &well_known, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header(CONTENT_TYPE), "application/json");
    assert_eq!(reply.header(CACHE_CONTROL), "public, max-age=600");
    assert_eq!(reply.header(CONTENT_LENGTH), reply.body.len().to_string());
    assert_eq!(
        reply.json(),
        json!({
            "resource": server.url("/api"),
            "authorization_servers": ["https://login.example"],
            "scopes_supported": ["orders:read"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Orders",
        })
    );

    let head = request(Method::HEAD, &well_known, None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(head.header(CONTENT_LENGTH), reply.body.len().to_string());
    assert_eq!(head.header(CACHE_CONTROL), "public, max-age=600");

    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let reply = request(method.clone(), &well_known, None).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(reply.header(ALLOW), "GET, HEAD", "{method}");
        assert!(reply.body.is_empty(), "{method}");
    }
    // The root form is not this resource's.
    let reply = request(Method::GET, &server.url(WELL_KNOWN), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dpop_on_and_off_changes_the_document_and_the_challenges() {
    let metadata = || ResourceMetadata::new("https://api.example");
    let url = format!("https://api.example{WELL_KNOWN}");
    let plain = document(builder().resource_metadata(metadata()));
    assert_eq!(plain["bearer_methods_supported"], json!(["header"]));
    assert!(plain.get("dpop_signing_alg_values_supported").is_none());
    assert!(plain.get("dpop_bound_access_tokens_required").is_none());

    let allowed = Dpop::allowed().algorithms([Algorithm::ES256, Algorithm::EdDSA]);
    let document_allowed = document(
        builder()
            .dpop(allowed.clone())
            .resource_metadata(metadata()),
    );
    assert_eq!(
        document_allowed["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA", "Ed25519"])
    );
    assert_eq!(
        document_allowed["bearer_methods_supported"],
        json!(["header"])
    );
    assert!(
        document_allowed
            .get("dpop_bound_access_tokens_required")
            .is_none()
    );

    let required = Dpop::required().algorithms([Algorithm::ES256]);
    let document_required = document(
        builder()
            .dpop(required.clone())
            .resource_metadata(metadata()),
    );
    assert_eq!(
        document_required["dpop_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert_eq!(document_required["dpop_bound_access_tokens_required"], true);
    // No bearer token is taken at all.
    assert_eq!(document_required["bearer_methods_supported"], json!([]));

    // Over HTTP: the metadata in each challenge, Bearer and DPoP alike.
    let allowed_server = serve(|_| {
        let layer = builder()
            .dpop(allowed.public_url("https://api.example"))
            .resource_metadata(metadata());
        app("/api", layer.build().unwrap())
    })
    .await;
    let reply = request(Method::GET, &allowed_server.url("/api"), None).await;
    assert_eq!(
        challenges(&reply),
        [
            format!(r#"Bearer resource_metadata="{url}""#),
            format!(r#"DPoP algs="ES256 EdDSA Ed25519", resource_metadata="{url}""#),
        ]
    );
    let required_server = serve(|_| {
        let layer = builder()
            .dpop(required.public_url("https://api.example"))
            .resource_metadata(metadata());
        app("/api", layer.build().unwrap())
    })
    .await;
    // A bearer token where DPoP is required: the DPoP check's own
    // challenge names the metadata too.
    let token = tower_jwt_auth::TokenIssuer::hmac(SECRET)
        .issuer("https://login.example")
        .build()
        .unwrap()
        .issue(&json!({}))
        .unwrap();
    let reply = request(Method::GET, &required_server.url("/api"), Some(&token)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenges(&reply),
        [format!(
            r#"DPoP error="invalid_token", error_description="DPoP required", algs="ES256", resource_metadata="{url}""#
        )]
    );
    // A token sent with the DPoP scheme, refused under it.
    let reply = send(
        Request::get(required_server.url("/api"))
            .header("authorization", format!("DPoP {token}"))
            .body(Empty::<Bytes>::new())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    let [challenge] = &challenges(&reply)[..] else {
        panic!("{:?}", challenges(&reply));
    };
    assert!(challenge.starts_with("DPoP error="), "{challenge}");
    assert!(
        challenge.ends_with(&format!(r#"algs="ES256", resource_metadata="{url}""#)),
        "{challenge}"
    );
}

#[test]
fn bearer_methods_follow_the_token_sources() {
    let metadata = || ResourceMetadata::new("https://api.example");
    let methods = |builder: JwtAuthBuilder<Value>| {
        document(builder.resource_metadata(metadata()))["bearer_methods_supported"].clone()
    };
    // RFC 6750's names only: a client could not guess another.
    assert_eq!(
        methods(
            builder()
                .source(TokenSource::query("access_token"))
                .source(TokenSource::cookie("session"))
                .source(TokenSource::bearer())
        ),
        json!(["header", "query"])
    );
    assert_eq!(
        methods(
            builder()
                .source(TokenSource::query("token"))
                .source(TokenSource::header(http::HeaderName::from_static(
                    "x-api-token"
                )))
        ),
        json!([])
    );
    assert_eq!(
        methods(builder().source(TokenSource::cookie("session"))),
        json!([])
    );
    let form = builder()
        .source(TokenSource::bearer())
        .form_field("access_token")
        .resource_metadata(metadata())
        .build()
        .unwrap();
    let document: Value =
        serde_json::from_slice(form.resource_metadata_service().unwrap().document()).unwrap();
    assert_eq!(
        document["bearer_methods_supported"],
        json!(["header", "body"])
    );
}

#[test]
fn authorization_servers_and_certificate_binding_come_from_the_layer() {
    let metadata = || ResourceMetadata::new("https://api.example");
    let trusted = JwtAuthLayer::<Value>::builder()
        .trusted_issuer(TrustedIssuer::new("https://a.example").key(Key::hmac(SECRET)))
        .trusted_issuer(TrustedIssuer::new("https://b.example/realm").key(Key::hmac(SECRET)))
        .resource_metadata(metadata());
    assert_eq!(
        document(trusted)["authorization_servers"],
        json!(["https://a.example", "https://b.example/realm"])
    );
    // None known: none said.
    let anonymous = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .resource_metadata(metadata());
    assert!(document(anonymous).get("authorization_servers").is_none());
    // Given: they replace the layer's.
    let given = builder().resource_metadata(
        metadata().authorization_servers(["https://as.example", "https://as2.example"]),
    );
    assert_eq!(
        document(given)["authorization_servers"],
        json!(["https://as.example", "https://as2.example"])
    );

    let bound = builder()
        .certificate_binding(CertificateBinding::from_connection())
        .resource_metadata(metadata());
    assert_eq!(
        document(bound)["tls_client_certificate_bound_access_tokens"],
        true
    );
    assert!(
        document(builder().resource_metadata(metadata()))
            .get("tls_client_certificate_bound_access_tokens")
            .is_none()
    );
    // Without metadata, no service.
    assert!(
        builder()
            .build()
            .unwrap()
            .resource_metadata_service()
            .is_none()
    );
}

#[test]
fn unusable_metadata_fails_the_build() {
    let error =
        |metadata: ResourceMetadata| builder().resource_metadata(metadata).build().unwrap_err();
    for (resource, reason) in [
        (
            "http://api.example",
            "the scheme must be https:// (or http:// to a loopback host)",
        ),
        (
            "https://api.example/#x",
            "it has a fragment (RFC 9728 §1.2)",
        ),
        ("https://api.example/\"x", "only the characters of RFC 3986"),
        ("https://api.example/ x", "only the characters of RFC 3986"),
        ("api.example", "not an absolute URL"),
    ] {
        match error(ResourceMetadata::new(resource)) {
            ConfigError::InvalidMetadataUrl {
                field: "resource",
                url,
                reason: why,
            } => {
                assert_eq!(url, resource);
                assert!(why.starts_with(reason), "{resource}: {why}");
            }
            other => panic!("{resource}: {other:?}"),
        }
    }
    assert!(matches!(
        error(ResourceMetadata::new("https://api.example").field("resource", "https://evil.example")),
        ConfigError::ReservedMetadataField { name } if name == "resource"
    ));
    assert!(matches!(
        error(ResourceMetadata::new("https://api.example").field("bearer_methods_supported", json!(["query"]))),
        ConfigError::ReservedMetadataField { name } if name == "bearer_methods_supported"
    ));
    assert!(matches!(
        error(ResourceMetadata::new("https://api.example").scopes_supported(["a b"])),
        ConfigError::InvalidScope { scope } if scope == "a b"
    ));
    // An issuer that is no URL cannot be an authorization server: give them.
    let layer = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .issuer("my-app")
        .resource_metadata(ResourceMetadata::new("https://api.example"));
    assert!(matches!(
        layer.build().unwrap_err(),
        ConfigError::InvalidMetadataUrl { field: "authorization_servers", url, .. } if url == "my-app"
    ));
}

// ---------------------------------------------------------------------------
// oauth4webapi, an independent client, against these servers.
// ---------------------------------------------------------------------------

/// What oauth4webapi finds from `url` (`POST /discover-resource`).
async fn discover(provider: &OauthProvider, url: &str, resource: Option<&str>) -> Value {
    let mut body = json!({ "url": url });
    if let Some(resource) = resource {
        body["resource"] = resource.into();
    }
    provider
        .call(Method::POST, "/discover-resource", body)
        .await
}

/// The layer of a resource server for the provider's tokens.
async fn provider_layer(provider: &OauthProvider) -> JwtAuthBuilder<Value> {
    JwtAuthLayer::builder()
        .key_set(provider.key_set().await)
        .issuer(provider.issuer())
        .audience(AUDIENCE)
}

#[tokio::test]
async fn oauth4webapi_finds_the_authorization_server_from_a_401() {
    let provider = OauthProvider::shared().await;
    let layer = provider_layer(provider).await;
    let server = serve(|origin| {
        let metadata = ResourceMetadata::new(format!("{origin}/api")).scopes_supported(["read"]);
        app("/api", layer.resource_metadata(metadata).build().unwrap())
    })
    .await;
    let resource = server.url("/api");
    let metadata_url = server.url(&format!("{WELL_KNOWN}/api"));

    // RFC 9728 §3.3: the client called the resource identifier itself.
    let found = discover(provider, &resource, None).await;
    assert!(found.get("refused").is_none(), "{found}");
    assert_eq!(found["status"], 401);
    let challenges = found["challenges"].as_array().unwrap();
    assert_eq!(challenges.len(), 1, "{found}");
    assert_eq!(challenges[0]["scheme"], "bearer");
    let parameters = &challenges[0]["parameters"];
    assert_eq!(parameters["error"], "invalid_token", "{found}");
    assert_eq!(parameters["resource_metadata"], metadata_url, "{found}");
    // The library puts the resource's metadata where the layer does (§3.1).
    assert_eq!(found["well_known_url"], metadata_url);
    assert_eq!(found["resource_metadata"], metadata_url);
    assert_eq!(
        found["metadata"],
        json!({
            "resource": resource,
            "authorization_servers": [provider.issuer()],
            "scopes_supported": ["read"],
            "bearer_methods_supported": ["header"],
        })
    );
    let authorization_server = &found["authorization_server"];
    assert_eq!(authorization_server["issuer"], provider.issuer());
    assert!(
        authorization_server["token_endpoint"]
            .as_str()
            .is_some_and(|endpoint| endpoint.starts_with(provider.issuer())),
        "{found}"
    );

    // The loop closes: a token from that server passes.
    let token = provider.bearer_token().await;
    let reply = request(Method::GET, &resource, Some(&token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    // A deeper URL, with the resource identifier known to the client.
    let found = discover(provider, &server.url("/api/orders"), Some(&resource)).await;
    assert!(found.get("refused").is_none(), "{found}");
    assert_eq!(found["metadata"]["resource"], resource);
}

#[tokio::test]
async fn oauth4webapi_reads_dpop_challenges_and_metadata() {
    let provider = OauthProvider::shared().await;
    let layer = provider_layer(provider).await;
    let server = serve(|origin| {
        let layer = layer
            .dpop(Dpop::required().public_url(origin))
            .resource_metadata(ResourceMetadata::new(origin));
        app("/api", layer.build().unwrap())
    })
    .await;
    let found = discover(provider, &server.url("/api"), Some(&server.origin())).await;
    assert!(found.get("refused").is_none(), "{found}");
    let challenges = found["challenges"].as_array().unwrap();
    assert_eq!(challenges.len(), 1, "{found}");
    assert_eq!(challenges[0]["scheme"], "dpop");
    assert_eq!(
        challenges[0]["parameters"]["resource_metadata"],
        server.url(WELL_KNOWN)
    );
    assert_eq!(found["well_known_url"], server.url(WELL_KNOWN));
    assert_eq!(found["metadata"]["dpop_bound_access_tokens_required"], true);
    assert_eq!(found["metadata"]["bearer_methods_supported"], json!([]));
    let algorithms = found["metadata"]["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algorithms.contains(&json!("ES256")), "{found}");
    assert_eq!(found["authorization_server"]["issuer"], provider.issuer());
}

#[tokio::test]
async fn oauth4webapi_refuses_metadata_for_another_resource() {
    let provider = OauthProvider::shared().await;
    let layer = provider_layer(provider).await;
    // Misconfigured: the API is served under /v1, its metadata says /v2.
    let server = serve(|origin| {
        let layer = layer.resource_metadata(ResourceMetadata::new(format!("{origin}/v2")));
        app("/v1", layer.build().unwrap())
    })
    .await;
    let found = discover(provider, &server.url("/v1"), None).await;
    assert_eq!(
        found["resource_metadata"],
        server.url(&format!("{WELL_KNOWN}/v2"))
    );
    let refused = &found["refused"];
    assert_eq!(refused["step"], "metadata", "{found}");
    assert_eq!(
        refused["code"], "OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED",
        "{found}"
    );
    assert!(found.get("metadata").is_none(), "{found}");
    assert!(found.get("authorization_server").is_none(), "{found}");

    // And a resource without metadata: no challenge names any.
    let bare = serve(|_| {
        let layer = JwtAuthLayer::<Value>::builder()
            .key(Key::hmac(SECRET))
            .build()
            .unwrap();
        Router::new()
            .route("/api", get(|| async { "api" }))
            .route_layer(layer)
    })
    .await;
    let found = discover(provider, &bare.url("/api"), None).await;
    assert_eq!(found["refused"]["step"], "challenge", "{found}");
    assert_eq!(found["status"], 401, "{found}");
}
