//! How a fetch leaves this machine: straight to the identity provider, or
//! through an HTTP proxy's `CONNECT` tunnel (a corporate egress proxy).
//!
//! The proxy settings are read once, at build time: from `HTTPS_PROXY`,
//! `ALL_PROXY` and `NO_PROXY` (as curl reads them, by hyper-util's
//! `Matcher`), or given to the builder. Only `https://` fetches are tunnelled:
//! TLS runs end to end through the tunnel, so the proxy sees the host name
//! and nothing else. Plain `http://` fetches (loopback, or with `allow_http`)
//! always go direct.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use http::uri::Scheme;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use tower_service::Service;

use super::error::{RemoteKeyError, RemoteKeyErrorKind};
use super::url::Target;

type BoxError = Box<dyn StdError + Send + Sync>;
/// A TCP connection, as hyper-util's connector makes it.
type Connection = <HttpConnector as Service<Uri>>::Response;

/// Which proxy, if any, carries `https://` fetches.
#[derive(Clone, Default)]
pub(crate) enum ProxySetting {
    /// As the environment says: `HTTPS_PROXY` (or `https_proxy`), else
    /// `ALL_PROXY` (or `all_proxy`), except for the hosts in `NO_PROXY`
    /// (or `no_proxy`). Not in a CGI program (`REQUEST_METHOD` set).
    #[default]
    Environment,
    /// This proxy for every `https://` fetch.
    Url(String),
    /// Never a proxy.
    Direct,
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment => f.write_str("Environment"),
            // The URL may carry a password.
            Self::Url(url) => f
                .debug_tuple("Url")
                .field(&redacted(url).unwrap_or_else(|| "<invalid>".into()))
                .finish(),
            Self::Direct => f.write_str("Direct"),
        }
    }
}

/// A proxy URL's host and port, without its user information: what may be
/// shown.
fn redacted(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    let authority = uri.authority()?.as_str();
    Some(
        authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host)
            .to_owned(),
    )
}

/// The proxy rules, checked: which destinations go through which proxy.
#[derive(Clone, Debug)]
pub(super) struct Proxies {
    matcher: Option<Arc<Matcher>>,
}

impl Proxies {
    /// Reads the setting (and the environment, for
    /// [`ProxySetting::Environment`]). A configured proxy must be
    /// `http://host:port`; one from the environment is checked when a fetch
    /// would take it (`NO_PROXY` may exempt every host that matters).
    pub(super) fn new(setting: &ProxySetting) -> Result<Self, RemoteKeyError> {
        let invalid =
            |detail: String| RemoteKeyError::new(RemoteKeyErrorKind::InvalidConfig, detail);
        let matcher = match setting {
            ProxySetting::Direct => None,
            ProxySetting::Environment => Some(Matcher::from_env()),
            ProxySetting::Url(url) => {
                let shown = redacted(url).unwrap_or_else(|| "<not a URL>".into());
                let parsed: Uri = url
                    .parse()
                    .map_err(|e| invalid(format!("proxy {shown}: not a URL")).with_source(e))?;
                if parsed.scheme() != Some(&Scheme::HTTP) || parsed.host().is_none() {
                    return Err(invalid(format!(
                        "proxy {shown}: only http://host:port proxies are supported"
                    )));
                }
                Some(Matcher::builder().https(url.as_str()).build())
            }
        };
        Ok(Self {
            matcher: matcher.map(Arc::new),
        })
    }

    /// The proxy for `target`, if it takes one: for an error message.
    pub(super) fn describe(&self, target: &Target) -> Option<String> {
        let intercept = self.intercept(&target.uri)?;
        Some(format!(
            "through the proxy {}",
            intercept.uri().authority()?
        ))
    }

    fn intercept(&self, dst: &Uri) -> Option<Intercept> {
        if dst.scheme() != Some(&Scheme::HTTPS) {
            return None;
        }
        self.matcher.as_ref()?.intercept(dst)
    }
}

/// Whether a proxy can carry a tunnel here: hyper-util's `Tunnel` speaks
/// plain HTTP to the proxy.
fn check_usable(intercept: &Intercept) -> Result<(), String> {
    match intercept.uri().scheme_str() {
        Some("http") => Ok(()),
        other => Err(format!(
            "the proxy {} is {}://, but only http:// proxies are supported \
             (exclude the host with NO_PROXY, or call no_proxy())",
            intercept.uri().authority().map_or("", |a| a.as_str()),
            other.unwrap_or("?"),
        )),
    }
}

/// The connector under TLS: TCP to the destination, or to the proxy and then
/// `CONNECT` to the destination, as [`Proxies`] decide for each.
#[derive(Clone)]
pub(super) struct Egress {
    tcp: HttpConnector,
    proxies: Proxies,
}

impl Egress {
    pub(super) fn new(tcp: HttpConnector, proxies: Proxies) -> Self {
        Self { tcp, proxies }
    }
}

impl Service<Uri> for Egress {
    type Response = Connection;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Connection, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // `HttpConnector` is always ready, and each call clones it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let Some(intercept) = self.proxies.intercept(&dst) else {
            let connecting = self.tcp.call(dst);
            return Box::pin(async move { Ok(connecting.await?) });
        };
        if let Err(detail) = check_usable(&intercept) {
            return Box::pin(async move { Err(detail.into()) });
        }
        let mut tunnel = Tunnel::new(intercept.uri().clone(), self.tcp.clone());
        if let Some(credentials) = intercept.basic_auth() {
            tunnel = tunnel.with_auth(credentials.clone());
        }
        Box::pin(async move { Ok(tunnel.call(dst).await?) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_url_is_checked_and_never_shows_its_password() {
        let setting = ProxySetting::Url("http://ada:s3cret@proxy.internal:3128".into());
        let shown = format!("{setting:?}");
        assert!(shown.contains("proxy.internal:3128"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(Proxies::new(&setting).is_ok());

        for bad in [
            "https://proxy.internal:3128",
            "socks5://proxy.internal:1080",
            "proxy.internal:3128",
            "http://",
            "not a url",
        ] {
            let error = Proxies::new(&ProxySetting::Url(bad.into())).unwrap_err();
            assert_eq!(error.kind(), RemoteKeyErrorKind::InvalidConfig, "{bad}");
            assert!(!error.to_string().contains("s3cret"));
        }
    }

    #[test]
    fn only_https_destinations_take_the_proxy() {
        let proxies =
            Proxies::new(&ProxySetting::Url("http://proxy.internal:3128".into())).unwrap();
        let via = |url: &'static str| {
            proxies
                .intercept(&Uri::from_static(url))
                .map(|i| i.uri().to_string())
        };
        assert_eq!(
            via("https://idp.example/jwks").as_deref(),
            Some("http://proxy.internal:3128/")
        );
        assert_eq!(via("http://127.0.0.1:8080/jwks"), None);
        // A SOCKS or TLS proxy (from the environment, say) is refused when a
        // fetch would take it, with advice.
        for unusable in [
            "socks5://proxy.internal:1080",
            "https://proxy.internal:3128",
        ] {
            let from_environment = Proxies {
                matcher: Some(Arc::new(Matcher::builder().https(unusable).build())),
            };
            let intercept = from_environment
                .intercept(&Uri::from_static("https://idp.example/jwks"))
                .unwrap();
            let refused = check_usable(&intercept).unwrap_err();
            assert!(refused.contains("only http:// proxies"), "{refused}");
            assert!(refused.contains("NO_PROXY"), "{refused}");
        }
        let direct = Proxies::new(&ProxySetting::Direct).unwrap();
        assert!(
            direct
                .intercept(&Uri::from_static("https://idp.example/"))
                .is_none()
        );
    }
}
