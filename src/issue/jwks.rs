//! [`JwkSetService`]: the Tower service that publishes a key ring's JWK Set.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use tower_service::Service;

use super::ring::KeyRing;
use crate::resource_metadata::MetadataBody;

/// Serves a [`KeyRing`]'s public JWK Set (RFC 7517 §5): `GET` and `HEAD`
/// are answered `200` with `{"keys": [...]}` (the next, current and retired
/// keys' public JWKs, never a private member, never a symmetric key),
/// `Content-Type: application/json` and `Cache-Control: public,
/// max-age=…` ([`KeyRingBuilder::max_age`](crate::KeyRingBuilder::max_age));
/// any other method `405` with `Allow: GET, HEAD`.
///
/// Made by [`KeyRing::jwk_set_service`]. Each request reads the ring, so a
/// rotation is served from the next request on; the document is written
/// once per rotation. Like tower-http's `ServeFile`, it answers whatever
/// path it is called with: route it at `/.well-known/jwks.json` (or the
/// `jwks_uri` of the issuer's metadata), outside the authentication layer.
///
/// ```
/// use axum::Router;
/// use http::{Request, StatusCode};
/// use jsonwebtoken::Algorithm;
/// use tower::ServiceExt;
/// use tower_jwt_auth::{KeyRing, SigningKey};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let pem = || rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap().serialize_pem();
/// let key = |pem: String| SigningKey::from_pem(Algorithm::ES256, pem.as_bytes());
/// let ring = KeyRing::builder(key(pem())?, key(pem())?).build();
/// let app = Router::new().route_service("/.well-known/jwks.json", ring.jwk_set_service());
///
/// let request = Request::get("/.well-known/jwks.json").body(axum::body::Body::empty())?;
/// let response = app.oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// assert_eq!(response.headers()["cache-control"], "public, max-age=300");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct JwkSetService {
    ring: KeyRing,
}

impl JwkSetService {
    pub(crate) fn new(ring: KeyRing) -> Self {
        Self { ring }
    }

    /// The ring it publishes.
    pub fn key_ring(&self) -> &KeyRing {
        &self.ring
    }

    fn answer(&self, method: &Method) -> Response<MetadataBody> {
        let document = match *method {
            Method::GET | Method::HEAD => self.ring.jwk_set(),
            _ => {
                let mut response = Response::new(MetadataBody::default());
                *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                let headers = response.headers_mut();
                headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
                headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
                return response;
            }
        };
        let length = document.len();
        let body = if method == Method::GET {
            MetadataBody::new(document)
        } else {
            MetadataBody::default()
        };
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, self.ring.cache_control().clone());
        // The document's length for HEAD too (RFC 9110 §9.3.2).
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
        response
    }
}

impl<B> Service<Request<B>> for JwkSetService {
    type Response = Response<MetadataBody>;
    type Error = Infallible;
    type Future = Ready<Result<Response<MetadataBody>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(self.answer(request.method())))
    }
}
