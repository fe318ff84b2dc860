//! The HTTP client: one `GET` of a JSON document, bounded in time and size.
//!
//! hyper 1 through hyper-util's client, HTTP/1.1 only (a document fetched every
//! few minutes gains nothing from HTTP/2), TLS by rustls with Mozilla's roots.
//! No connection is kept between fetches: they are minutes apart, and an idle
//! connection would rather be found dead than reused. Redirects are not
//! followed: the URL is configuration, and a redirect could lead from
//! `https://` to `http://` or to an internal host.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
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
pub(super) struct Answer {
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
}

/// The HTTP client and its limits.
pub(super) struct Fetcher {
    client: Client<HttpsConnector<Egress>, Empty<Bytes>>,
    proxies: Proxies,
    max_document_size: usize,
}

impl Fetcher {
    /// Makes the client: TCP with the connect timeout (to the proxy, if one
    /// is set), TLS with the provider (see [`provider`]) and the roots, no
    /// pooled connections.
    pub(super) fn new(config: &Config) -> Result<Self, RemoteKeyError> {
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
        let error = |kind, detail: String| RemoteKeyError::new(kind, detail).with_url(&url.text);
        let request = Request::get(url.uri.clone())
            .header(ACCEPT, accept)
            .header(USER_AGENT, USER_AGENT_VALUE)
            .body(Empty::new())
            .map_err(|e| {
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
            return Err(error(RemoteKeyErrorKind::Status, detail));
        }
        if let Some(value) = parts.headers.get(CONTENT_TYPE)
            && !is_json(value.as_bytes())
        {
            let shown = String::from_utf8_lossy(value.as_bytes());
            return Err(error(
                RemoteKeyErrorKind::InvalidDocument,
                format!("Content-Type {shown:?} is not JSON"),
            ));
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
        Ok(Answer {
            headers: parts.headers,
            body: body.to_bytes(),
        })
    }
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
}
