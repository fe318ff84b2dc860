//! Certificate-bound tokens (RFC 8705 §3) through real servers on 127.0.0.1:
//! an axum app over tokio-rustls that asks clients for certificates (and
//! lets them go without), and the same app over plain HTTP behind a
//! "proxy" that forwards the certificate in a header. The certificates are
//! the committed fixtures of `tests/fixtures/mtls` (made by
//! `scripts/make_mtls_fixtures.sh`); rustls runs on its ring provider in
//! every build (see the `tokio-rustls` dev-dependency). Public API only.

#![cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tower::ServiceExt as _;
use tower_jwt_auth::{
    CertificateBinding, Claims, ClientCertificate, JwtAuthLayer, Key, PeerAddr, ProxyHeader,
    TokenIssuer, TrustedProxies,
};

use common::{Reply, TIMEOUT, send};

const SECRET: &[u8] = b"mtls integration secret 32 bytes";

const CA: &str = include_str!("fixtures/mtls/ca.pem");
const SERVER: &str = include_str!("fixtures/mtls/server.pem");
const SERVER_KEY: &str = include_str!("fixtures/mtls/server.key");
/// The certificate the bound tokens name (CN=ada).
const CLIENT: &str = include_str!("fixtures/mtls/client.pem");
const CLIENT_KEY: &str = include_str!("fixtures/mtls/client.key");
/// Another certificate of the same CA (CN=mallory): valid TLS, wrong binding.
const OTHER: &str = include_str!("fixtures/mtls/other.pem");
const OTHER_KEY: &str = include_str!("fixtures/mtls/other.key");

const XFCC: &str = "x-forwarded-client-cert";
const NO_CERTIFICATE: &str = "no client certificate";
const MISMATCH: &str = "client certificate does not match the token";

// ---------------------------------------------------------------------------
// Certificates and tokens.
// ---------------------------------------------------------------------------

fn provider() -> Arc<CryptoProvider> {
    Arc::new(tokio_rustls::rustls::crypto::ring::default_provider())
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).expect("a PEM certificate")
}

fn key(pem: &str) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).expect("a PEM key")
}

fn roots() -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(der(CA)).expect("the test CA");
    Arc::new(roots)
}

/// The SHA-256 of `pem`'s DER, base64url: its `x5t#S256`.
fn thumbprint(pem: &str) -> String {
    ClientCertificate::from_der(der(pem).to_vec())
        .thumbprint()
        .expect("a crypto backend")
}

/// The same SHA-256 in hex, as Envoy's XFCC `Hash`.
fn hex_hash(pem: &str) -> String {
    use base64::Engine as _;
    let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(thumbprint(pem))
        .unwrap();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A token for `ada`, bound to the client certificate.
fn bound_token() -> String {
    let cnf = json!({ "x5t#S256": thumbprint(CLIENT) });
    issue(json!({ "sub": "ada", "cnf": cnf }))
}

/// A token for `bob`, bound to nothing.
fn unbound_token() -> String {
    issue(json!({ "sub": "bob" }))
}

fn issue(claims: Value) -> String {
    TokenIssuer::hmac(SECRET)
        .build()
        .unwrap()
        .issue(&claims)
        .unwrap()
}

fn layer(binding: Option<CertificateBinding>) -> JwtAuthLayer<Value> {
    let builder = JwtAuthLayer::builder().key(Key::hmac(SECRET));
    match binding {
        Some(binding) => builder.certificate_binding(binding),
        None => builder,
    }
    .build()
    .expect("a valid layer")
}

/// The app: answers `<sub> <the XFCC header it was given, or "absent">`.
fn app(layer: JwtAuthLayer<Value>) -> Router {
    async fn whoami(request: Request<Body>) -> String {
        let sub = request
            .extensions()
            .get::<Claims<Value>>()
            .and_then(|claims| claims.0["sub"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "-".to_owned());
        let xfcc = request
            .headers()
            .get(XFCC)
            .map_or("absent", |v| v.to_str().unwrap());
        format!("{sub} {xfcc}")
    }
    Router::new().route("/", get(whoami)).layer(layer)
}

// ---------------------------------------------------------------------------
// Servers: over TLS with client certificates, and over plain HTTP.
// ---------------------------------------------------------------------------

/// A server on 127.0.0.1, stopped when dropped.
struct Running {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `app` over TLS, asking clients for a certificate of the test CA
/// and serving those without one too; each request carries the peer's
/// address and the client's certificate, as the crate docs' loop does.
async fn serve_tls(app: Router) -> Running {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(), provider())
        .allow_unauthenticated()
        .build()
        .unwrap();
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![der(SERVER)], key(SERVER_KEY))
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                continue;
            };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            connections.spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let certificate = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|leaf| ClientCertificate::from_der(leaf.to_vec()));
                let app = app.map_request(move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(PeerAddr(peer));
                    if let Some(certificate) = &certificate {
                        request.extensions_mut().insert(certificate.clone());
                    }
                    request
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app))
                    .await;
            });
            while connections.try_join_next().is_some() {}
        }
    });
    Running { addr, task }
}

/// Serves `app` over plain HTTP, each request carrying the peer's address.
async fn serve_plain(app: Router) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                continue;
            };
            let app = app
                .clone()
                .map_request(move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(PeerAddr(peer));
                    request
                });
            connections.spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app))
                    .await;
            });
            while connections.try_join_next().is_some() {}
        }
    });
    Running { addr, task }
}

/// `GET /` over TLS to `server` with `token`, presenting the certificate and
/// key `identity` if given.
async fn get_tls(server: &Running, identity: Option<(&str, &str)>, token: &str) -> Reply {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots());
    let config = match identity {
        Some((certificate, private_key)) => config
            .with_client_auth_cert(vec![der(certificate)], key(private_key))
            .unwrap(),
        None => config.with_no_client_auth(),
    };
    let exchange = async {
        let tcp = TcpStream::connect(server.addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .expect("TLS handshake");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(connection);
        let request = Request::get("/")
            .header("host", "localhost")
            .header("authorization", format!("Bearer {token}"))
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        }
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .expect("no answer in time")
}

/// `GET /` over plain HTTP to `addr` with `token` and these headers.
async fn get_plain(addr: SocketAddr, token: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request =
        Request::get(format!("http://{addr}/")).header("authorization", format!("Bearer {token}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(request.body(Empty::<Bytes>::new()).unwrap()).await
}

/// Asserts a `401 invalid_token` refusal described as `description`.
#[track_caller]
fn assert_refused(reply: &Reply, description: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    assert_eq!(reply.error_description(), description);
    let challenge = reply.header("www-authenticate");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

#[track_caller]
fn assert_ok(reply: &Reply, body: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.text(), body);
}

// ---------------------------------------------------------------------------
// From the TLS connection.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn over_tls_the_bound_certificate_passes_and_no_other() {
    let server = serve_tls(app(layer(Some(CertificateBinding::from_connection())))).await;
    let bound = bound_token();

    let right = get_tls(&server, Some((CLIENT, CLIENT_KEY)), &bound).await;
    assert_ok(&right, "ada absent");

    let other = get_tls(&server, Some((OTHER, OTHER_KEY)), &bound).await;
    assert_refused(&other, MISMATCH);

    let none = get_tls(&server, None, &bound).await;
    assert_refused(&none, NO_CERTIFICATE);
}

#[tokio::test]
async fn over_tls_an_unbound_token_needs_no_certificate() {
    let server = serve_tls(app(layer(Some(CertificateBinding::from_connection())))).await;
    let unbound = unbound_token();
    assert_ok(&get_tls(&server, None, &unbound).await, "bob absent");
    let with = get_tls(&server, Some((OTHER, OTHER_KEY)), &unbound).await;
    assert_ok(&with, "bob absent");
}

#[tokio::test]
async fn over_tls_bound_tokens_can_be_required() {
    let binding = CertificateBinding::from_connection().require_bound_tokens(true);
    let server = serve_tls(app(layer(Some(binding)))).await;
    let unbound = get_tls(&server, Some((CLIENT, CLIENT_KEY)), &unbound_token()).await;
    assert_refused(&unbound, "token is not certificate-bound");
    let bound = get_tls(&server, Some((CLIENT, CLIENT_KEY)), &bound_token()).await;
    assert_ok(&bound, "ada absent");
}

#[tokio::test]
async fn without_a_binding_a_bound_token_is_refused_even_with_its_certificate() {
    let server = serve_tls(app(layer(None))).await;
    let reply = get_tls(&server, Some((CLIENT, CLIENT_KEY)), &bound_token()).await;
    assert_refused(
        &reply,
        "token is certificate-bound; this server checks no client certificate",
    );
    // Unbound tokens are not affected.
    assert_ok(
        &get_tls(&server, None, &unbound_token()).await,
        "bob absent",
    );
}

// ---------------------------------------------------------------------------
// From a TLS-terminating proxy's header, over plain HTTP.
// ---------------------------------------------------------------------------

fn xfcc_binding(trusted: &[&str]) -> CertificateBinding {
    CertificateBinding::from_proxy_header(
        ProxyHeader::xfcc(),
        TrustedProxies::new(trusted).unwrap(),
    )
}

/// The element Envoy appends for `pem`'s client, with its hash only.
fn envoy_element(pem: &str) -> String {
    format!(
        "By=spiffe://cluster.local/ns/edge/sa/envoy;Hash={};Subject=\"CN=ada\";URI=spiffe://client",
        hex_hash(pem)
    )
}

#[tokio::test]
async fn xfcc_from_a_trusted_proxy_is_believed() {
    let server = serve_plain(app(layer(Some(xfcc_binding(&["127.0.0.1"]))))).await;
    let bound = bound_token();

    let element = envoy_element(CLIENT);
    let right = get_plain(server.addr, &bound, &[(XFCC, &element)]).await;
    // The trusted proxy's header stays for the application.
    assert_ok(&right, &format!("ada {element}"));

    let wrong = get_plain(server.addr, &bound, &[(XFCC, &envoy_element(OTHER))]).await;
    assert_refused(&wrong, MISMATCH);

    // The whole certificate (`set_current_client_cert_details: {cert: true}`).
    let cert = format!(
        "Hash={};Cert=\"{}\"",
        hex_hash(CLIENT),
        utf8_percent_encode(CLIENT, NON_ALPHANUMERIC)
    );
    let with_cert = get_plain(server.addr, &bound, &[(XFCC, &cert)]).await;
    assert_eq!(with_cert.status, StatusCode::OK, "{}", with_cert.text());

    // The last element is the one that counts.
    let appended = format!("{},{}", envoy_element(OTHER), envoy_element(CLIENT));
    let chain = get_plain(server.addr, &bound, &[(XFCC, &appended)]).await;
    assert_eq!(chain.status, StatusCode::OK, "{}", chain.text());
    let forged_first = format!("{},{}", envoy_element(CLIENT), envoy_element(OTHER));
    let forged = get_plain(server.addr, &bound, &[(XFCC, &forged_first)]).await;
    assert_refused(&forged, MISMATCH);

    assert_refused(&get_plain(server.addr, &bound, &[]).await, NO_CERTIFICATE);
    let garbage = get_plain(server.addr, &bound, &[(XFCC, "Hash=\"unclosed")]).await;
    assert_refused(&garbage, NO_CERTIFICATE);
}

#[tokio::test]
async fn xfcc_from_an_untrusted_peer_is_ignored_and_removed() {
    // This test's own connection comes from 127.0.0.1: not a trusted proxy.
    let server = serve_plain(app(layer(Some(xfcc_binding(&["10.0.0.0/8"]))))).await;
    let element = envoy_element(CLIENT);

    let bound = get_plain(server.addr, &bound_token(), &[(XFCC, &element)]).await;
    assert_refused(&bound, NO_CERTIFICATE);

    // A token that needs no certificate passes, and the application never
    // sees the forged header.
    let unbound = get_plain(server.addr, &unbound_token(), &[(XFCC, &element)]).await;
    assert_ok(&unbound, "bob absent");
}

#[tokio::test]
async fn nginx_escaped_pem_from_a_trusted_proxy() {
    let header = http::HeaderName::from_static("x-ssl-client-cert");
    let binding = CertificateBinding::from_proxy_header(
        ProxyHeader::escaped_pem(header),
        TrustedProxies::new(["127.0.0.0/8", "::1"]).unwrap(),
    );
    let server = serve_plain(app(layer(Some(binding)))).await;
    let bound = bound_token();
    let escaped = |pem| utf8_percent_encode(pem, NON_ALPHANUMERIC).to_string();

    let right = get_plain(
        server.addr,
        &bound,
        &[("x-ssl-client-cert", &escaped(CLIENT))],
    )
    .await;
    assert_ok(&right, "ada absent");
    let wrong = get_plain(
        server.addr,
        &bound,
        &[("x-ssl-client-cert", &escaped(OTHER))],
    )
    .await;
    assert_refused(&wrong, MISMATCH);
    // nginx sends an empty value for a client without a certificate.
    let empty = get_plain(server.addr, &bound, &[("x-ssl-client-cert", "")]).await;
    assert_refused(&empty, NO_CERTIFICATE);
}

#[tokio::test]
async fn the_peer_can_come_from_axum_connect_info() {
    let trusted = TrustedProxies::new(["127.0.0.1"]).unwrap();
    let serve = |binding| async move {
        let app = app(layer(Some(binding)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let make = app.into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move { axum::serve(listener, make).await.unwrap() });
        Running { addr, task }
    };
    let element = envoy_element(CLIENT);
    let bound = bound_token();

    // axum::serve inserts ConnectInfo, not PeerAddr: without the hook, the
    // peer is unknown, and unknown peers are not trusted.
    let unhooked = serve(CertificateBinding::from_proxy_header(
        ProxyHeader::xfcc(),
        trusted.clone(),
    ))
    .await;
    let reply = get_plain(unhooked.addr, &bound, &[(XFCC, &element)]).await;
    assert_refused(&reply, NO_CERTIFICATE);

    let hooked = trusted.peer_from(|extensions| {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip())
    });
    let server = serve(CertificateBinding::from_proxy_header(
        ProxyHeader::xfcc(),
        hooked,
    ))
    .await;
    let reply = get_plain(server.addr, &bound, &[(XFCC, &element)]).await;
    assert_ok(&reply, &format!("ada {element}"));
}

// ---------------------------------------------------------------------------
// With a real authorization server's tokens.
// ---------------------------------------------------------------------------

/// oidc-provider (the Node harness, `common::oauth_provider`) binds a token
/// to the fixture client certificate (`cnf["x5t#S256"]`, by the certificate it
/// was shown); the resource server takes the provider's keys and checks the
/// certificate of the TLS connection against it.
#[tokio::test]
async fn a_certificate_bound_token_of_oidc_provider_over_tls() {
    use common::oauth_provider::{AUDIENCE, OauthProvider};

    let provider = OauthProvider::shared().await;
    let layer = JwtAuthLayer::<Value>::builder()
        .key_set(provider.key_set().await)
        .issuer(provider.issuer())
        .audience(AUDIENCE)
        .certificate_binding(CertificateBinding::from_connection())
        .build()
        .expect("a valid layer");
    let app = Router::new()
        .route(
            "/",
            get(|request: Request<Body>| async move {
                let claims = request.extensions().get::<Claims<Value>>().cloned();
                claims.map_or_else(String::new, |c| c.0["client_id"].to_string())
            }),
        )
        .layer(layer);
    let server = serve_tls(app).await;

    let token = provider.mtls_token(CLIENT).await;
    assert_eq!(token.x5t_s256, thumbprint(CLIENT), "the harness's binding");
    let right = get_tls(&server, Some((CLIENT, CLIENT_KEY)), &token.access_token).await;
    assert_ok(&right, "\"harness-mtls\"");
    let other = get_tls(&server, Some((OTHER, OTHER_KEY)), &token.access_token).await;
    assert_refused(&other, MISMATCH);
    let none = get_tls(&server, None, &token.access_token).await;
    assert_refused(&none, NO_CERTIFICATE);
}
