//! Certificate-bound access tokens (RFC 8705) on an axum app served over
//! mutual TLS with tokio-rustls: the server requires a client certificate of
//! its test CA, the accept loop hands it to the layer as a
//! [`ClientCertificate`], and [`CertificateBinding::from_connection`] accepts a
//! token bound to a certificate only over a connection that presented it.
//!
//! ```sh
//! cargo run --example mtls
//! ```
//!
//! It listens on `ADDR` (default `127.0.0.1:3443`) with the test certificates
//! of `tests/fixtures/mtls` (embedded; made by `scripts/make_mtls_fixtures.sh`),
//! signs two tokens with a random secret, one bound to `client.pem` and one
//! bound to nothing, and prints curl commands to try from the repository root:
//!
//! ```sh
//! M=tests/fixtures/mtls
//! curl --cacert $M/ca.pem --cert $M/client.pem --key $M/client.key \
//!     https://localhost:3443/me -H "authorization: Bearer <bound token>"   # 200
//! curl --cacert $M/ca.pem --cert $M/other.pem --key $M/other.key \
//!     https://localhost:3443/me -H "authorization: Bearer <bound token>"   # 401
//! ```
//!
//! The second client has a valid certificate of the same CA, so TLS lets it
//! in, but the token is bound to another certificate: `401 invalid_token`,
//! "client certificate does not match the token". The unbound token passes
//! with either certificate; without one, TLS refuses the connection.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::routing::get;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::{Value, json};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tower::ServiceExt as _;
use tower_jwt_auth::{
    CertificateBinding, Claims, ClientCertificate, JwtAuthLayer, Key, PeerAddr, TokenIssuer,
};

const DEFAULT_ADDR: &str = "127.0.0.1:3443";

// The test PKI, embedded so the example runs as it is (test material only:
// its private keys are public).
const CA: &str = include_str!("../tests/fixtures/mtls/ca.pem");
const SERVER: &str = include_str!("../tests/fixtures/mtls/server.pem");
const SERVER_KEY: &str = include_str!("../tests/fixtures/mtls/server.key");
const CLIENT: &str = include_str!("../tests/fixtures/mtls/client.pem");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = random_secret();
    let auth = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(secret))
        .certificate_binding(CertificateBinding::from_connection())
        .build()?;
    let app = Router::new().route("/me", get(me)).layer(auth);

    let addr = std::env::var("ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("ADDR={addr:?} is not an address such as {DEFAULT_ADDR}: {e}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr()?;

    // Tokens as an authorization server would issue them after a mutual-TLS
    // token request: `cnf["x5t#S256"]` is the client certificate's SHA-256.
    let client =
        ClientCertificate::from_der(CertificateDer::from_pem_slice(CLIENT.as_bytes())?.to_vec());
    let issuer = TokenIssuer::hmac(secret).build()?;
    let bound =
        issuer.issue(&json!({ "sub": "ada", "cnf": { "x5t#S256": client.thumbprint() } }))?;
    let unbound = issuer.issue(&json!({ "sub": "bob" }))?;

    let url = format!("https://localhost:{}/me", addr.port());
    let fixtures = "tests/fixtures/mtls";
    let curl = |who: &str| {
        format!(
            "curl --cacert {fixtures}/ca.pem --cert {fixtures}/{who}.pem --key {fixtures}/{who}.key {url}"
        )
    };
    println!(
        "mTLS server listening on https://{addr} (client certificates of {fixtures}/ca.pem required)"
    );
    println!("token bound to {fixtures}/client.pem (15 minutes): {bound}");
    println!("token bound to nothing (15 minutes): {unbound}");
    println!("try, from the repository root:");
    println!(
        "  {} -H 'authorization: Bearer {bound}'   # 200",
        curl("client")
    );
    println!(
        "  {} -H 'authorization: Bearer {bound}'   # 401",
        curl("other")
    );
    println!(
        "  {} -H 'authorization: Bearer {unbound}'   # 200",
        curl("other")
    );

    let acceptor = TlsAcceptor::from(tls_config()?);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                eprintln!("accept failed: {error}");
                continue;
            }
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            // A client without a certificate of the CA ends here.
            let stream = match acceptor.accept(tcp).await {
                Ok(stream) => stream,
                Err(error) => return eprintln!("TLS handshake with {peer} failed: {error}"),
            };
            // The client's certificate, once per connection, into each request.
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
    }
}

/// The protected route: the claims, and the thumbprint of the certificate
/// the connection presented.
async fn me(request: Request) -> axum::Json<Value> {
    let claims = request
        .extensions()
        .get::<Claims<Value>>()
        .map(|c| c.0.clone());
    let certificate = request.extensions().get::<ClientCertificate>();
    axum::Json(json!({
        "claims": claims,
        "certificate_thumbprint": certificate.and_then(ClientCertificate::thumbprint),
    }))
}

/// TLS with the server certificate, requiring a client certificate of the
/// test CA; rustls on its ring provider (see the `tokio-rustls`
/// dev-dependency).
fn tls_config() -> Result<Arc<ServerConfig>, Box<dyn std::error::Error>> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(CA.as_bytes())?)?;
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(SERVER.as_bytes())?],
            PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes())?,
        )?;
    Ok(Arc::new(config))
}

/// A 32-byte secret for this run, without a random-number dependency (as in
/// `examples/hyper_server.rs`): each `RandomState` hashes with SipHash keys
/// the standard library draws from the operating system's random source.
fn random_secret() -> [u8; 32] {
    let mut secret = [0; 32];
    for (i, chunk) in secret.chunks_mut(8).enumerate() {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_usize(i);
        chunk.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    secret
}
