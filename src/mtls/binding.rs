//! [`CertificateBinding`]: the check after verification that a
//! certificate-bound token (RFC 8705 §3) comes with its certificate.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Extensions;
use http::header::HeaderName;

use super::certificate::ClientCertificate;
use super::proxy::ProxyHeader;
use crate::checks::{Head, Step, TokenCheck, VerifiedToken};
use crate::crypto::{self, constant_time_eq};
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::peer::TrustedProxies;

/// Certificate-bound access tokens (RFC 8705 §3): a token whose `cnf` claim
/// names a certificate (`"cnf": {"x5t#S256": "<base64url SHA-256 of its
/// DER>"}`) is accepted only from a client that presented that certificate
/// over mutual TLS. A stolen token is then worthless without the client's
/// private key.
///
/// Given to [`JwtAuthBuilder::certificate_binding`](crate::JwtAuthBuilder::certificate_binding),
/// it runs after verification, after the CSRF check and before revocation.
/// A token without `x5t#S256` passes (unless [bound tokens are
/// required](Self::require_bound_tokens)). A bound token is refused with
/// [`AuthErrorKind::TokenBindingMismatch`] (`401 invalid_token`), described
/// as `"no client certificate"` when the request has none this binding can
/// read, and `"client certificate does not match the token"` when its
/// SHA-256 is another; the comparison takes the same time whatever matched.
/// A layer *without* a certificate binding refuses every certificate-bound
/// token, because it cannot check the binding (RFC 8705 §3).
///
/// The certificate comes from one of two places.
///
/// # From the TLS connection
///
/// [`from_connection`](Self::from_connection): the server terminates TLS
/// itself and asks clients for certificates. Its accept loop reads the
/// client's certificate once per connection, after the handshake, and puts
/// it into each request's extensions as a [`ClientCertificate`] (with the
/// peer's address as a [`PeerAddr`](crate::PeerAddr), which costs nothing and
/// serves [`TrustedProxies`]). With tokio-rustls and hyper:
///
/// ```no_run
/// use std::sync::Arc;
///
/// use axum::Router;
/// use hyper::body::Incoming;
/// use hyper::server::conn::http1;
/// use hyper_util::rt::TokioIo;
/// use hyper_util::service::TowerToHyperService;
/// use tokio::net::TcpListener;
/// use tokio_rustls::TlsAcceptor;
/// use tokio_rustls::rustls::ServerConfig;
/// use tower::ServiceExt as _;
/// use tower_jwt_auth::{ClientCertificate, PeerAddr};
///
/// /// Serves `app` on `listener` over TLS, `tls` asking clients for
/// /// certificates (a rustls `WebPkiClientVerifier`).
/// async fn serve(listener: TcpListener, tls: Arc<ServerConfig>, app: Router) -> std::io::Result<()> {
///     let acceptor = TlsAcceptor::from(tls);
///     loop {
///         let (tcp, peer) = listener.accept().await?;
///         let (acceptor, app) = (acceptor.clone(), app.clone());
///         tokio::spawn(async move {
///             let Ok(stream) = acceptor.accept(tcp).await else {
///                 return;
///             };
///             // After the handshake: the certificate the client sent, if any.
///             let certificate = stream
///                 .get_ref()
///                 .1
///                 .peer_certificates()
///                 .and_then(|chain| chain.first())
///                 .map(|leaf| ClientCertificate::from_der(leaf.to_vec()));
///             let app = app.map_request(move |mut request: http::Request<Incoming>| {
///                 request.extensions_mut().insert(PeerAddr(peer));
///                 if let Some(certificate) = &certificate {
///                     request.extensions_mut().insert(certificate.clone());
///                 }
///                 request
///             });
///             let _ = http1::Builder::new()
///                 .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app))
///                 .await;
///         });
///     }
/// }
/// ```
///
/// `examples/mtls.rs` is this loop as a complete server. The layer then
/// needs nothing but the extension:
///
/// ```
/// # use std::convert::Infallible;
/// # use bytes::Bytes;
/// # use http::{Request, Response, StatusCode};
/// # use http_body_util::Full;
/// # use tower::{Layer, ServiceExt, service_fn};
/// # async fn status<R: tower_jwt_auth::ErrorResponder>(
/// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
/// #     request: http::request::Builder,
/// # ) -> StatusCode {
/// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
/// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
/// #     });
/// #     let request = request.body(Full::default()).unwrap();
/// #     layer.layer(inner).oneshot(request).await.unwrap().status()
/// # }
/// use serde_json::json;
/// use tower_jwt_auth::{CertificateBinding, ClientCertificate, JwtAuthLayer, Key, TokenIssuer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = b"a secret of at least 32 bytes....";
/// let layer = JwtAuthLayer::<serde_json::Value>::builder()
///     .key(Key::hmac(secret))
///     .certificate_binding(CertificateBinding::from_connection())
///     .build()?;
///
/// // What the accept loop found; the authorization server bound the token to it.
/// let certificate = ClientCertificate::from_der(&b"the client's DER certificate"[..]);
/// let claims = json!({ "sub": "ada", "cnf": { "x5t#S256": certificate.thumbprint() } });
/// let token = TokenIssuer::hmac(secret).build()?.issue(&claims)?;
///
/// let request = || Request::get("/").header("authorization", format!("Bearer {token}"));
/// let with = |certificate: ClientCertificate| request().extension(certificate);
/// assert_eq!(status(&layer, with(certificate)).await, StatusCode::OK);
/// let other = ClientCertificate::from_der(&b"another certificate"[..]);
/// assert_eq!(status(&layer, with(other)).await, StatusCode::UNAUTHORIZED);
/// assert_eq!(status(&layer, request()).await, StatusCode::UNAUTHORIZED);
/// # Ok(())
/// # }
/// ```
///
/// # From a TLS-terminating proxy
///
/// [`from_proxy_header`](Self::from_proxy_header): a proxy in front
/// terminates TLS, verifies the client's certificate, and forwards it in a
/// header ([`ProxyHeader`]). Anybody can send that header, so it is read only
/// from a request whose *connection* comes from one of the
/// [`TrustedProxies`]; from any other peer it is ignored, and removed from
/// the request before the inner service sees it. The proxy in turn must
/// remove or replace the header its clients send.
///
/// ## Envoy (X-Forwarded-Client-Cert)
///
/// [`ProxyHeader::xfcc`]: a list of elements separated by `,`, each a list of
/// `key=value` pairs separated by `;`, a value double-quoted when it holds
/// one of `,;=` (with `\"` for a quote inside). A proxy appends one element
/// for the client of its own connection; the certificate read is the one of
/// the **last** element: its `Hash` (the hex SHA-256 of the DER, which Envoy
/// always sets), its `Cert` (URL-encoded PEM, with
/// `set_current_client_cert_details: { cert: true }`), or both when they
/// agree. Only the last element was written by the proxy this server
/// trusts: with `forward_client_cert_details: APPEND_FORWARD` an edge proxy
/// appends its element to whatever header the client sent, so the elements
/// before it may be forged. Configure the proxy that terminates the
/// client's TLS with `SANITIZE_SET` (the header is then its one element),
/// and proxies between it and this server, if any, with `FORWARD_ONLY`: one
/// that appended (`APPEND_FORWARD`) would make the last element the
/// certificate of the proxy before it, and bound tokens would be refused.
/// A header longer than 16 KiB, an unclosed quote, a `Hash` that is not 64
/// hex digits, a `Cert` that is not one PEM certificate, or a `Hash` and a
/// `Cert` that disagree, read as no certificate.
///
/// ## nginx (URL-encoded PEM)
///
/// [`ProxyHeader::escaped_pem`], with
/// `proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;` (nginx
/// replaces a header of that name the client sent; an empty value, for a
/// client without a certificate, reads as none).
///
/// ```
/// # use std::convert::Infallible;
/// # use bytes::Bytes;
/// # use http::{Request, Response, StatusCode};
/// # use http_body_util::Full;
/// # use tower::{Layer, ServiceExt, service_fn};
/// # async fn status<R: tower_jwt_auth::ErrorResponder>(
/// #     layer: &tower_jwt_auth::JwtAuthLayer<serde_json::Value, R>,
/// #     request: http::request::Builder,
/// # ) -> StatusCode {
/// #     let inner = service_fn(|_: Request<Full<Bytes>>| async {
/// #         Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
/// #     });
/// #     let request = request.body(Full::default()).unwrap();
/// #     layer.layer(inner).oneshot(request).await.unwrap().status()
/// # }
/// use base64::Engine as _;
/// use base64::engine::general_purpose::URL_SAFE_NO_PAD;
/// use serde_json::json;
/// use tower_jwt_auth::{
///     CertificateBinding, ClientCertificate, JwtAuthLayer, Key, PeerAddr, ProxyHeader,
///     TokenIssuer, TrustedProxies,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = b"a secret of at least 32 bytes....";
/// let binding = CertificateBinding::from_proxy_header(
///     ProxyHeader::xfcc(),
///     TrustedProxies::new(["10.0.0.0/8"])?,
/// );
/// let layer = JwtAuthLayer::<serde_json::Value>::builder()
///     .key(Key::hmac(secret))
///     .certificate_binding(binding)
///     .build()?;
///
/// let thumbprint = ClientCertificate::from_der(&b"DER"[..]).thumbprint().unwrap();
/// let claims = json!({ "sub": "ada", "cnf": { "x5t#S256": thumbprint } });
/// let token = TokenIssuer::hmac(secret).build()?.issue(&claims)?;
/// // What Envoy would send: the same SHA-256, in hex.
/// let hex: String = URL_SAFE_NO_PAD.decode(&thumbprint)?.iter().map(|b| format!("{b:02x}")).collect();
/// let from = |peer: &str| {
///     Request::get("/")
///         .header("authorization", format!("Bearer {token}"))
///         .header("x-forwarded-client-cert", format!("By=spiffe://edge;Hash={hex};Subject=\"CN=ada\""))
///         .extension(PeerAddr(peer.parse().unwrap()))
/// };
/// assert_eq!(status(&layer, from("10.1.2.3:50000")).await, StatusCode::OK);
/// // The same header from a peer that is not a trusted proxy is not believed.
/// assert_eq!(status(&layer, from("203.0.113.9:50000")).await, StatusCode::UNAUTHORIZED);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CertificateBinding {
    source: Source,
    require_bound: bool,
}

/// Where the client certificate is read.
#[derive(Debug, Clone)]
enum Source {
    /// A [`ClientCertificate`] extension.
    Connection,
    /// A header, believed from trusted proxies only.
    Proxy {
        header: ProxyHeader,
        trusted: TrustedProxies,
    },
}

/// The description of a bound token without its certificate.
const NO_CERTIFICATE: &str = "no client certificate";
/// The description of a bound token with another certificate.
const MISMATCH: &str = "client certificate does not match the token";
/// The description of an unbound token where bound ones are required.
const NOT_BOUND: &str = "token is not certificate-bound";

impl CertificateBinding {
    /// The certificate of the request's TLS connection: a
    /// [`ClientCertificate`] in its extensions (see [above](Self#from-the-tls-connection)).
    pub fn from_connection() -> Self {
        Self {
            source: Source::Connection,
            require_bound: false,
        }
    }

    /// The certificate a TLS-terminating proxy forwards in `header`,
    /// believed only from a peer among `trusted` (see
    /// [above](Self#from-a-tls-terminating-proxy)).
    pub fn from_proxy_header(header: ProxyHeader, trusted: TrustedProxies) -> Self {
        Self {
            source: Source::Proxy { header, trusted },
            require_bound: false,
        }
    }

    /// Refuses tokens that are not certificate-bound too (`401
    /// invalid_token`, `"token is not certificate-bound"`), for a resource
    /// server whose clients all use mutual TLS. Off by default.
    #[must_use]
    pub fn require_bound_tokens(mut self, required: bool) -> Self {
        self.require_bound = required;
        self
    }

    /// The header the certificate is read from, when a proxy forwards it.
    pub(crate) fn header(&self) -> Option<&HeaderName> {
        match &self.source {
            Source::Proxy { header, .. } => Some(header.name()),
            Source::Connection => None,
        }
    }

    /// The check, for the layer's list.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NeedsBackendFeature`] in a build without a SHA-256 (no
    /// `aws-lc-rs` or `rust-crypto` feature), where no certificate could
    /// ever be compared.
    pub(crate) fn into_check(self) -> Result<Arc<dyn TokenCheck>, ConfigError> {
        if crypto::sha256(b"").is_none() {
            return Err(ConfigError::NeedsBackendFeature {
                setting: "certificate_binding",
            });
        }
        Ok(Arc::new(self))
    }

    /// The SHA-256 of the certificate `head` presents, as far as this
    /// binding may believe it.
    fn presented(&self, head: Head<'_>) -> Option<[u8; 32]> {
        match &self.source {
            Source::Connection => {
                let certificate = head.extensions.get::<ClientCertificate>()?;
                crypto::sha256(certificate.der())
            }
            Source::Proxy { header, trusted } => {
                if !trusted.trusts(head.extensions) {
                    return None;
                }
                header.digest(head.headers)
            }
        }
    }
}

/// The check after verification: see [`CertificateBinding`].
impl TokenCheck for CertificateBinding {
    fn check(&self, token: &VerifiedToken<'_>, request: Head<'_>) -> Step {
        let expected = token.confirmation.and_then(|c| c.x5t_s256.as_deref());
        let Some(expected) = expected else {
            return if self.require_bound {
                Step::Refuse(refused(NOT_BOUND))
            } else {
                Step::Pass
            };
        };
        let Some(digest) = self.presented(request) else {
            return Step::Refuse(refused(NO_CERTIFICATE));
        };
        // 32 bytes are 43 base64url characters without padding.
        let mut thumbprint = [0u8; 43];
        let encoded = URL_SAFE_NO_PAD.encode_slice(digest, &mut thumbprint);
        if encoded == Ok(thumbprint.len()) && constant_time_eq(expected.as_bytes(), &thumbprint) {
            Step::Pass
        } else {
            Step::Refuse(refused(MISMATCH))
        }
    }

    fn untrusted_headers(&self, extensions: &Extensions) -> &[HeaderName] {
        match &self.source {
            Source::Proxy { header, trusted } if !trusted.trusts(extensions) => {
                std::slice::from_ref(header.name())
            }
            _ => &[],
        }
    }
}

fn refused(description: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::TokenBindingMismatch, description)
}

#[cfg(all(test, any(feature = "aws-lc-rs", feature = "rust-crypto")))]
mod tests {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http::{Request, Response, StatusCode};
    use http_body_util::{BodyExt, Full};
    use serde_json::json;
    use tower::{Layer, ServiceExt, service_fn};

    use super::*;
    use crate::test_helpers::{Echo, SECRET};
    use crate::{AuthError, JwtAuthLayer, Key, PeerAddr, TokenIssuer};

    const DER: &[u8] = b"the client's certificate";

    fn certificate() -> ClientCertificate {
        ClientCertificate::from_der(DER)
    }

    /// A token with these claims besides `sub`.
    fn token(cnf: serde_json::Value) -> String {
        let claims = json!({ "sub": "ada", "cnf": cnf });
        TokenIssuer::hmac(SECRET)
            .build()
            .unwrap()
            .issue(&claims)
            .unwrap()
    }

    fn bound() -> String {
        token(json!({ "x5t#S256": certificate().thumbprint().unwrap() }))
    }

    fn unbound() -> String {
        TokenIssuer::hmac(SECRET)
            .build()
            .unwrap()
            .issue(&json!({ "sub": "ada" }))
            .unwrap()
    }

    fn layer(binding: Option<CertificateBinding>) -> JwtAuthLayer<serde_json::Value> {
        let builder = JwtAuthLayer::builder().key(Key::hmac(SECRET));
        match binding {
            Some(binding) => builder.certificate_binding(binding),
            None => builder,
        }
        .build()
        .unwrap()
    }

    fn request(token: &str) -> http::request::Builder {
        Request::get("/").header("authorization", format!("Bearer {token}"))
    }

    /// The status, and the refusal's description.
    async fn answer(
        layer: &JwtAuthLayer<serde_json::Value>,
        request: http::request::Builder,
    ) -> (StatusCode, &'static str) {
        let request = request.body(Full::<Bytes>::default()).unwrap();
        let response = layer.layer(Echo).oneshot(request).await.unwrap();
        // A refusal is the layer's own (`Echo` answers 200), with its error.
        let error = response.extensions().get::<AuthError>();
        if let Some(error) = error {
            assert_eq!(error.kind(), AuthErrorKind::TokenBindingMismatch);
            assert_eq!(error.kind().error_code(), Some("invalid_token"));
        }
        (response.status(), error.map_or("", AuthError::description))
    }

    #[tokio::test]
    async fn from_the_connection() {
        let layer = layer(Some(CertificateBinding::from_connection()));
        let bound = bound();
        let ok = (StatusCode::OK, "");
        assert_eq!(
            answer(&layer, request(&bound).extension(certificate())).await,
            ok
        );
        let other = ClientCertificate::from_der(&b"another certificate"[..]);
        assert_eq!(
            answer(&layer, request(&bound).extension(other)).await,
            (StatusCode::UNAUTHORIZED, MISMATCH)
        );
        assert_eq!(
            answer(&layer, request(&bound)).await,
            (StatusCode::UNAUTHORIZED, NO_CERTIFICATE)
        );
        // Unbound tokens pass, with a certificate or without.
        let unbound = unbound();
        assert_eq!(answer(&layer, request(&unbound)).await, ok);
        assert_eq!(
            answer(&layer, request(&unbound).extension(certificate())).await,
            ok
        );
    }

    #[tokio::test]
    async fn the_thumbprint_is_compared_exactly() {
        let layer = layer(Some(CertificateBinding::from_connection()));
        let thumbprint = certificate().thumbprint().unwrap();
        let digest = URL_SAFE_NO_PAD.decode(&thumbprint).unwrap();
        let padded = format!("{thumbprint}=");
        let standard = base64::engine::general_purpose::STANDARD.encode(&digest);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        for wrong in [
            padded,
            standard,
            hex,
            thumbprint[..42].to_owned(),
            String::new(),
        ] {
            if wrong == thumbprint {
                continue;
            }
            let token = token(json!({ "x5t#S256": wrong }));
            assert_eq!(
                answer(&layer, request(&token).extension(certificate())).await,
                (StatusCode::UNAUTHORIZED, MISMATCH),
                "{wrong:?}"
            );
        }
    }

    #[tokio::test]
    async fn bound_tokens_may_be_required() {
        let binding = CertificateBinding::from_connection().require_bound_tokens(true);
        let layer = layer(Some(binding));
        assert_eq!(
            answer(&layer, request(&unbound()).extension(certificate())).await,
            (StatusCode::UNAUTHORIZED, NOT_BOUND)
        );
        assert_eq!(
            answer(&layer, request(&bound()).extension(certificate())).await,
            (StatusCode::OK, "")
        );
    }

    #[tokio::test]
    async fn without_a_binding_a_bound_token_is_refused() {
        let layer = layer(None);
        let answer = answer(&layer, request(&bound()).extension(certificate())).await;
        assert_eq!(
            answer,
            (
                StatusCode::UNAUTHORIZED,
                "token is certificate-bound; this server checks no client certificate"
            )
        );
    }

    fn xfcc(trusted: &[&str]) -> CertificateBinding {
        CertificateBinding::from_proxy_header(
            ProxyHeader::xfcc(),
            TrustedProxies::new(trusted).unwrap(),
        )
    }

    fn hash() -> String {
        crypto::sha256(DER)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn from_peer(token: &str, peer: &str) -> http::request::Builder {
        request(token)
            .header("x-forwarded-client-cert", format!("Hash={}", hash()))
            .extension(PeerAddr(peer.parse().unwrap()))
    }

    #[tokio::test]
    async fn from_a_trusted_proxy_only() {
        let layer = layer(Some(xfcc(&["10.0.0.0/8", "::1"])));
        let bound = bound();
        let ok = (StatusCode::OK, "");
        assert_eq!(answer(&layer, from_peer(&bound, "10.1.2.3:1")).await, ok);
        assert_eq!(answer(&layer, from_peer(&bound, "[::1]:1")).await, ok);
        assert_eq!(
            answer(&layer, from_peer(&bound, "[::ffff:10.0.0.1]:1")).await,
            ok
        );
        let refused = (StatusCode::UNAUTHORIZED, NO_CERTIFICATE);
        assert_eq!(
            answer(&layer, from_peer(&bound, "11.1.2.3:1")).await,
            refused
        );
        // A server that does not say who the peer is trusts nobody.
        let no_peer = request(&bound).header("x-forwarded-client-cert", format!("Hash={}", hash()));
        assert_eq!(answer(&layer, no_peer).await, refused);
        // A trusted proxy that forwards no certificate, or another one.
        assert_eq!(
            answer(
                &layer,
                request(&bound).extension(PeerAddr("10.0.0.1:1".parse().unwrap()))
            )
            .await,
            refused
        );
        let other = request(&bound)
            .header(
                "x-forwarded-client-cert",
                format!("Hash={}", "ab".repeat(32)),
            )
            .extension(PeerAddr("10.0.0.1:1".parse().unwrap()));
        assert_eq!(
            answer(&layer, other).await,
            (StatusCode::UNAUTHORIZED, MISMATCH)
        );
        // The connection's certificate is not this binding's source.
        let connection = request(&bound)
            .extension(certificate())
            .extension(PeerAddr("10.0.0.1:1".parse().unwrap()));
        assert_eq!(answer(&layer, connection).await, refused);
    }

    /// What the inner service saw of the XFCC header.
    async fn seen(
        service: impl tower::Service<
            Request<Full<Bytes>>,
            Response = Response<crate::ResponseBody<Full<Bytes>>>,
            Error = Infallible,
        >,
        request: http::request::Builder,
    ) -> String {
        let request = request.body(Full::default()).unwrap();
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    fn report_xfcc<B>(
        request: Request<B>,
    ) -> impl Future<Output = Result<Response<Full<Bytes>>, Infallible>> {
        let header = request.headers().get_all("x-forwarded-client-cert");
        let text = header
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect::<Vec<_>>();
        let body = if text.is_empty() {
            "absent".to_owned()
        } else {
            text.join(",")
        };
        std::future::ready(Ok(Response::new(Full::from(body))))
    }

    #[tokio::test]
    async fn an_untrusted_peer_s_header_never_reaches_the_inner_service() {
        let binding = xfcc(&["10.0.0.0/8"]);
        let inner = service_fn(report_xfcc);
        let service = layer(Some(binding.clone())).layer(inner);
        let unbound = unbound();
        // Untrusted, with a token that needs no certificate: it passes, and
        // the header (every line of it) is gone.
        let twice = from_peer(&unbound, "203.0.113.9:1").header("x-forwarded-client-cert", "By=x");
        assert_eq!(seen(service.clone(), twice).await, "absent");
        // From a trusted proxy, it stays for the application.
        let kept = seen(service.clone(), from_peer(&unbound, "10.9.9.9:1")).await;
        assert_eq!(kept, format!("Hash={}", hash()));

        // Without a token, in optional mode, too.
        let optional = JwtAuthLayer::<serde_json::Value>::builder()
            .key(Key::hmac(SECRET))
            .certificate_binding(binding.clone())
            .optional(true)
            .build()
            .unwrap()
            .layer(inner);
        let anonymous = Request::get("/")
            .header("x-forwarded-client-cert", "Hash=00")
            .extension(PeerAddr("203.0.113.9:1".parse().unwrap()));
        assert_eq!(seen(optional, anonymous).await, "absent");

        // And in a layer that may read a form body.
        let form = JwtAuthLayer::<serde_json::Value>::builder()
            .key(Key::hmac(SECRET))
            .certificate_binding(binding)
            .form_field("token")
            .build()
            .unwrap()
            .layer(service_fn(report_xfcc));
        let request = Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-client-cert", "Hash=00")
            .extension(PeerAddr("203.0.113.9:1".parse().unwrap()))
            .body(Full::from(format!("token={unbound}")))
            .unwrap();
        let response = form.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "absent");
    }

    #[tokio::test]
    async fn a_layer_without_a_proxy_binding_leaves_headers_alone() {
        let service =
            layer(Some(CertificateBinding::from_connection())).layer(service_fn(report_xfcc));
        let kept = seen(service, from_peer(&unbound(), "203.0.113.9:1")).await;
        assert_eq!(kept, format!("Hash={}", hash()));
    }

    #[test]
    fn debug_shows_the_configuration() {
        let text = format!("{:?}", xfcc(&["10.0.0.0/8"]).require_bound_tokens(true));
        assert!(text.contains("x-forwarded-client-cert"), "{text}");
        assert!(
            text.contains("10.0.0.0/8") && text.contains("require_bound: true"),
            "{text}"
        );
        assert_eq!(
            format!("{:?}", certificate()),
            "ClientCertificate { der_length: 24 }"
        );
    }
}
