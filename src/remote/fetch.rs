//! The HTTP client: one `GET` of a JSON document (or, for token
//! introspection, one form `POST`), bounded in time and size.
//!
//! hyper 1 through hyper-util's client, HTTP/1.1 only (a document fetched every
//! few minutes gains nothing from HTTP/2), TLS by rustls with Mozilla's roots.
//! No connection is kept between fetches: they are minutes apart, and an idle
//! connection would rather be found dead than reused. Redirects are not
//! followed: the URL is configuration, and a redirect could lead from
//! `https://` to `http://` or to an internal host.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use super::config::Config;
use super::egress::{Egress, Proxies};
use super::error::{RemoteKeyError, RemoteKeyErrorKind};
use super::url::Target;

/// Names this crate to the identity provider.
const USER_AGENT_VALUE: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

/// What a JWK Set request accepts (RFC 7517 §8.5 registers the first).
pub(super) const ACCEPT_JWK_SET: &str = "application/jwk-set+json, application/json";
/// What a discovery document request accepts.
pub(super) const ACCEPT_JSON: &str = "application/json";

/// A `200 OK` answer with a JSON body of bounded size.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(super) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// What [`Fetcher::look_up`] found: the document, or why there is none here.
#[derive(Debug)]
pub(super) enum Lookup {
    Found(Answer),
    /// Not here: the status (see [`is_absent`]), or a `200 OK` whose
    /// `Content-Type` is not JSON (a catch-all route's HTML page). The error
    /// says which, for the message when no URL had the document.
    Absent(RemoteKeyError),
}

/// The HTTP client and its limits.
pub(crate) struct Fetcher {
    client: Client<HttpsConnector<Egress>, Full<Bytes>>,
    proxies: Proxies,
    max_document_size: usize,
}

impl Fetcher {
    /// Makes the client: TCP with the connect timeout (to the proxy, if one
    /// is set), TLS with the provider (see [`provider`]) and the roots, no
    /// pooled connections.
    pub(crate) fn new(config: &Config) -> Result<Self, RemoteKeyError> {
        let invalid = |detail| RemoteKeyError::new(RemoteKeyErrorKind::InvalidConfig, detail);
        let provider = provider().ok_or_else(|| {
            invalid(
                "no rustls crypto provider: enable the `aws-lc-rs` or `rust-crypto` feature \
                 of tower-jwt-auth, or install a process-wide rustls CryptoProvider",
            )
        })?;
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for der in &config.root_certificates {
            roots
                .add(CertificateDer::from(der.as_slice()).into_owned())
                .map_err(|e| {
                    invalid("add_root_certificate: not a usable certificate").with_source(e)
                })?;
        }
        let tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| {
                invalid("the rustls crypto provider supports no TLS version").with_source(e)
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();

        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(config.connect_timeout));
        tcp.set_nodelay(true);
        let proxies = Proxies::new(&config.proxy)?;
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            // Which URLs may be plain http:// was decided when they were checked.
            .https_or_http()
            .enable_http1()
            .wrap_connector(Egress::new(tcp, proxies.clone()));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        Ok(Self {
            client,
            proxies,
            max_document_size: config.max_document_size,
        })
    }

    /// `GET url` with `accept`: the answer if it is `200 OK`, JSON (when it
    /// says), and within the size limit. The caller bounds the time.
    pub(super) async fn get(
        &self,
        url: &Target,
        accept: &'static str,
    ) -> Result<Answer, RemoteKeyError> {
        found(self.look_up(url, accept).await?)
    }

    /// `GET url` with `accept`, for a document that may not be there: as
    /// [`get`](Self::get), but an answer that says "not here" (see
    /// [`is_absent`]), or a `200 OK` that is not JSON, is
    /// [`Lookup::Absent`] rather than an error.
    pub(super) async fn look_up(
        &self,
        url: &Target,
        accept: &'static str,
    ) -> Result<Lookup, RemoteKeyError> {
        let request = Request::get(url.uri.clone())
            .header(ACCEPT, accept)
            .header(USER_AGENT, USER_AGENT_VALUE)
            .body(Full::default());
        self.send(url, request).await
    }

    /// `POST url` with an `application/x-www-form-urlencoded` `form` and,
    /// if given, an `Authorization` header (token introspection, RFC 7662
    /// §2.1), accepting
    /// JSON: the answer as [`get`](Self::get) takes it. The caller bounds the
    /// time.
    #[cfg_attr(not(feature = "introspection"), allow(dead_code))]
    pub(crate) async fn post_form(
        &self,
        url: &Target,
        authorization: Option<&HeaderValue>,
        form: String,
    ) -> Result<Answer, RemoteKeyError> {
        let mut request = Request::post(url.uri.clone())
            .header(ACCEPT, ACCEPT_JSON)
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(authorization) = authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let request = request.body(Full::new(Bytes::from(form)));
        found(self.send(url, request).await?)
    }

    /// Sends `request` to `url`; the answer if it is `200 OK`, JSON (when it
    /// says), and within the size limit; [`Lookup::Absent`] for a status
    /// that says "not here" or a `200 OK` that is not JSON.
    async fn send(
        &self,
        url: &Target,
        request: http::Result<Request<Full<Bytes>>>,
    ) -> Result<Lookup, RemoteKeyError> {
        let error = |kind, detail: String| RemoteKeyError::new(kind, detail).with_url(&url.text);
        let request = request.map_err(|e| {
            error(
                RemoteKeyErrorKind::InvalidUrl,
                "cannot make a request".into(),
            )
            .with_source(e)
        })?;
        let response = self.client.request(request).await.map_err(|e| {
            let detail = match (e.is_connect(), self.proxies.describe(url)) {
                (true, Some(via)) => format!("cannot connect {via}"),
                (true, None) => "cannot connect".into(),
                (false, _) => "the request failed".into(),
            };
            error(RemoteKeyErrorKind::Network, detail).with_source(e)
        })?;
        let (parts, body) = response.into_parts();

        if parts.status != StatusCode::OK {
            let detail = if parts.status.is_redirection() {
                format!("answered {} (redirects are not followed)", parts.status)
            } else {
                format!("answered {}, not 200 OK", parts.status)
            };
            let refused = error(RemoteKeyErrorKind::Status, detail).with_status(parts.status);
            return if is_absent(parts.status) {
                Ok(Lookup::Absent(refused))
            } else {
                Err(refused)
            };
        }
        if let Some(value) = parts.headers.get(CONTENT_TYPE)
            && !is_json(value.as_bytes())
        {
            let shown = String::from_utf8_lossy(value.as_bytes());
            return Ok(Lookup::Absent(error(
                RemoteKeyErrorKind::InvalidDocument,
                format!("Content-Type {shown:?} is not JSON"),
            )));
        }
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let limit = self.max_document_size;
        if let Some(length) = declared.filter(|&n| n > limit as u64) {
            return Err(error(
                RemoteKeyErrorKind::TooLarge,
                format!("Content-Length {length} is over the limit of {limit} bytes"),
            ));
        }
        let body = Limited::new(body, limit).collect().await.map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                error(
                    RemoteKeyErrorKind::TooLarge,
                    format!("the body is over the limit of {limit} bytes"),
                )
            } else {
                error(
                    RemoteKeyErrorKind::Network,
                    "reading the body failed".into(),
                )
                .with_boxed_source(e)
            }
        })?;
        Ok(Lookup::Found(Answer {
            headers: parts.headers,
            body: body.to_bytes(),
        }))
    }
}

/// The answer of a request that expects its document at this URL: "not
/// here" is an error like any other.
fn found(lookup: Lookup) -> Result<Answer, RemoteKeyError> {
    match lookup {
        Lookup::Found(answer) => Ok(answer),
        Lookup::Absent(why) => Err(why),
    }
}

/// Whether a status says that the document is not at this URL, so that a
/// client looking in several places should try the next: any `4xx` (as the
/// MCP SDKs decide: a missing route is `404` on most servers, `403` on a
/// static bucket or an API gateway, `400` or `405` on some frameworks), but
/// not `408 Request Timeout` and `429 Too Many Requests`, which say "not
/// now", not "not here": those are errors, retried like any other. `5xx`,
/// redirects and other statuses are errors too.
pub(super) fn is_absent(status: StatusCode) -> bool {
    status.is_client_error()
        && status != StatusCode::REQUEST_TIMEOUT
        && status != StatusCode::TOO_MANY_REQUESTS
}

/// The TLS provider: the process default if the application installed one
/// (it may be a FIPS build), else the one of this crate's crypto feature:
/// aws-lc-rs (also jsonwebtoken's default backend, so nothing more is built),
/// or ring with `rust-crypto` alone.
fn provider() -> Option<Arc<CryptoProvider>> {
    if let Some(installed) = CryptoProvider::get_default() {
        return Some(Arc::clone(installed));
    }
    #[cfg(feature = "aws-lc-rs")]
    let compiled = Some(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    let compiled = Some(Arc::new(rustls::crypto::ring::default_provider()));
    #[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
    let compiled = None;
    compiled
}

/// Whether a `Content-Type` names JSON: `application/json`,
/// `application/jwk-set+json`, or any other `+json` type, with any parameters.
fn is_json(value: &[u8]) -> bool {
    let essence = value.split(|&b| b == b';').next().unwrap_or_default();
    let essence = essence.trim_ascii().to_ascii_lowercase();
    essence == b"application/json"
        || (essence.starts_with(b"application/") && essence.ends_with(b"+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        for json in [
            &b"application/json"[..],
            b"application/json; charset=utf-8",
            b"Application/JSON",
            b"application/jwk-set+json",
            b" application/jwk-set+json ;charset=UTF-8",
        ] {
            assert!(is_json(json), "{:?}", String::from_utf8_lossy(json));
        }
        for other in [
            &b"text/html"[..],
            b"text/plain; charset=utf-8",
            b"application/octet-stream",
            b"application/jsonp",
            b"text/json+html",
            b"",
        ] {
            assert!(!is_json(other), "{:?}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn the_user_agent_names_the_crate() {
        assert!(USER_AGENT_VALUE.starts_with("tower-jwt-auth/"));
    }

    #[test]
    fn not_here_is_a_4xx_that_does_not_mean_not_now() {
        for absent in [400, 401, 403, 404, 405, 406, 410, 451] {
            let status = StatusCode::from_u16(absent).unwrap();
            assert!(is_absent(status), "{status}");
        }
        for error in [200, 204, 301, 302, 307, 308, 408, 429, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(error).unwrap();
            assert!(!is_absent(status), "{status}");
        }
    }
}
