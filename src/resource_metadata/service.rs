//! [`ResourceMetadataService`]: the Tower service that serves a layer's
//! metadata document.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use tower_service::Service;

use super::body::MetadataBody;
use super::document::Published;

/// Serves a layer's protected resource metadata (RFC 9728 §3): `GET` and
/// `HEAD` are answered `200` with the JSON document, `Content-Type:
/// application/json` and `Cache-Control: public, max-age=…`
/// ([`ResourceMetadata::max_age`](crate::ResourceMetadata::max_age)); any
/// other method `405` with `Allow: GET, HEAD`.
///
/// Made by [`JwtAuthLayer::resource_metadata_service`](crate::JwtAuthLayer::resource_metadata_service).
/// The document was written once, when the layer was built: a request costs
/// a few header values and a counter bump of the shared bytes. Like
/// tower-http's `ServeFile`, it answers whatever path it is called with:
/// route it at [`path`](Self::path), outside the authentication layer
/// (clients read it *before* they have a token). Browser-based clients need
/// CORS on it, for example tower-http's `CorsLayer`.
///
/// With axum:
///
/// ```
/// use axum::Router;
/// use axum::routing::get;
/// use http::{Request, StatusCode};
/// use tower::ServiceExt;
/// use tower_jwt_auth::{JwtAuthLayer, Key, ResourceMetadata};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = JwtAuthLayer::<serde_json::Value>::builder()
///     .key(Key::hmac(b"a secret of at least 32 bytes...."))
///     .issuer("https://login.example")
///     .resource_metadata(ResourceMetadata::new("https://api.example"))
///     .build()?;
/// let metadata = auth.resource_metadata_service().expect("configured");
/// let path = metadata.path().to_owned();
/// let app = Router::new()
///     .route("/orders", get(|| async { "orders" }))
///     .route_layer(auth)
///     // After `route_layer`: the document is public.
///     .route_service(&path, metadata);
///
/// let well_known = "/.well-known/oauth-protected-resource";
/// let request = Request::get(well_known).body(axum::body::Body::empty())?;
/// assert_eq!(app.clone().oneshot(request).await?.status(), StatusCode::OK);
/// let request = Request::get("/orders").body(axum::body::Body::empty())?;
/// let response = app.oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(
///     response.headers()["www-authenticate"],
///     "Bearer resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\""
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ResourceMetadataService {
    published: Arc<Published>,
}

impl ResourceMetadataService {
    pub(crate) fn new(published: Arc<Published>) -> Self {
        Self { published }
    }

    /// The path to route this service at: the well-known path of the
    /// resource identifier (RFC 9728 §3.1),
    /// `/.well-known/oauth-protected-resource` for `https://api.example`,
    /// `/.well-known/oauth-protected-resource/v1` for
    /// `https://api.example/v1`.
    pub fn path(&self) -> &str {
        &self.published.path
    }

    /// The document's URL, which every challenge of the layer names as its
    /// `resource_metadata`: the resource's scheme and authority, then
    /// [`path`](Self::path).
    pub fn url(&self) -> &str {
        &self.published.url
    }

    /// The JSON document served, as written when the layer was built.
    pub fn document(&self) -> &Bytes {
        &self.published.json
    }

    fn answer(&self, method: &Method) -> Response<MetadataBody> {
        let published = &*self.published;
        let body = match *method {
            Method::GET => MetadataBody::new(published.json.clone()),
            Method::HEAD => MetadataBody::default(),
            _ => {
                let mut response = Response::new(MetadataBody::default());
                *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                let headers = response.headers_mut();
                headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
                headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
                return response;
            }
        };
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, published.cache_control.clone());
        // The document's length for HEAD too (RFC 9110 §9.3.2).
        headers.insert(CONTENT_LENGTH, HeaderValue::from(published.json.len()));
        response
    }
}

impl<B> Service<Request<B>> for ResourceMetadataService {
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

#[cfg(test)]
mod tests {
    use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
    use http::{Method, Request, StatusCode};
    use http_body::Body as _;
    use tower::ServiceExt;

    use crate::resource_metadata::{LayerFacts, ResourceMetadata, ResourceMetadataService};

    fn service() -> ResourceMetadataService {
        let published = ResourceMetadata::new("https://api.example/v1")
            .check()
            .and_then(|checked| checked.publish(LayerFacts::default()))
            .unwrap();
        ResourceMetadataService::new(published.into())
    }

    async fn call(method: Method) -> http::Response<super::MetadataBody> {
        let request = Request::builder().method(method).uri("/").body(()).unwrap();
        service().oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn get_answers_the_document_and_head_its_headers() {
        let document = service().document().clone();
        for method in [Method::GET, Method::HEAD] {
            let response = call(method.clone()).await;
            assert_eq!(response.status(), StatusCode::OK, "{method}");
            let headers = response.headers();
            assert_eq!(headers[CONTENT_TYPE], "application/json");
            assert_eq!(headers[CACHE_CONTROL], "public, max-age=3600");
            assert_eq!(headers[CONTENT_LENGTH], document.len().to_string());
            let expected = if method == Method::GET {
                document.len()
            } else {
                0
            };
            assert_eq!(response.body().size_hint().exact(), Some(expected as u64));
        }
    }

    #[tokio::test]
    async fn other_methods_are_not_allowed() {
        for method in [
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
            Method::from_bytes(b"BREW").unwrap(),
        ] {
            let response = call(method.clone()).await;
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method}"
            );
            assert_eq!(response.headers()[ALLOW], "GET, HEAD");
            assert!(response.body().is_end_stream());
        }
    }
}
