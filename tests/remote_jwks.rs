//! The remote JWK Set against a real endpoint on 127.0.0.1: fetching,
//! rotation, failures (the last good set stays), limits, timeouts, the
//! background refresh, OpenID Connect discovery, the URL rules. Public API only.

#![cfg(feature = "remote-jwks")]

mod common;

use std::time::Duration;

use common::connect_proxy::ConnectProxy;
use common::jwks_server::{JwksServer, jwk, jwk_set};
use common::logs::Logs;
use http::StatusCode;
use tower_jwt_auth::{RemoteKeyErrorKind, RemoteKeySet, RemoteKeySetBuilder};

/// Polling loops give up after this.
const BOUND: Duration = Duration::from_secs(5);

/// The `kid`s of the current keys, or `None` before the first document.
fn kids(set: &RemoteKeySet) -> Option<Vec<String>> {
    let keys = set.keys()?;
    Some(
        keys.keys()
            .iter()
            .filter_map(|k| k.kid().map(str::to_owned))
            .collect(),
    )
}

/// Short timeouts: a test that fails does so quickly.
fn builder(server: &JwksServer) -> RemoteKeySetBuilder {
    RemoteKeySet::builder(server.url())
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(2))
}

/// Waits, at most `BOUND`, until `done` holds.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + BOUND;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

#[tokio::test]
async fn fetches_the_keys_with_accept_and_user_agent() {
    let server = JwksServer::start().await;
    server.set_document(jwk_set(&["k1", "k2"]));
    let set = builder(&server).build().await.unwrap();
    assert_eq!(kids(&set).unwrap(), ["k1", "k2"]);
    assert_eq!(set.generation(), Some(1));
    assert_eq!(server.fetches(), 1);

    let headers = server.last_headers().unwrap();
    let accept = headers["accept"].to_str().unwrap();
    assert!(accept.contains("application/jwk-set+json"), "{accept}");
    assert!(accept.contains("application/json"), "{accept}");
    let agent = headers["user-agent"].to_str().unwrap();
    assert!(agent.starts_with("tower-jwt-auth/"), "{agent}");

    let debug = format!("{set:?}");
    assert!(debug.contains(&server.url()), "{debug}");
    assert!(
        !debug.contains(common::jwks_server::ED25519_X),
        "no key material: {debug}"
    );
}

#[tokio::test]
async fn a_new_key_appears_after_a_refresh() {
    let server = JwksServer::start().await;
    let set = builder(&server).build().await.unwrap();
    assert_eq!(kids(&set).unwrap(), ["k1"]);

    server.set_kids(&["k1", "k2"]);
    set.refresh().await.unwrap();
    assert_eq!(kids(&set).unwrap(), ["k1", "k2"]);
    assert_eq!(set.generation(), Some(2));
}

#[tokio::test]
async fn a_removed_key_disappears_after_a_refresh() {
    let server = JwksServer::start().await;
    server.set_kids(&["old", "new"]);
    let set = builder(&server).build().await.unwrap();

    server.set_kids(&["new"]);
    set.refresh().await.unwrap();
    assert_eq!(kids(&set).unwrap(), ["new"]);
}

#[tokio::test]
async fn the_same_document_keeps_its_generation() {
    let server = JwksServer::start().await;
    let set = builder(&server).build().await.unwrap();
    set.refresh().await.unwrap();
    assert_eq!(server.fetches(), 2);
    assert_eq!(set.generation(), Some(1));
}

#[tokio::test]
async fn unusable_and_symmetric_keys_are_skipped() {
    let server = JwksServer::start().await;
    let document = serde_json::json!({ "keys": [
        jwk("good"),
        { "kty": "oct", "kid": "secret", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA" },
        { "kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB" },
        { "kty": "EC", "kid": "p521", "crv": "P-521", "x": "AQ", "y": "AQ" },
    ]});
    server.set_document(document.to_string());
    let set = builder(&server).build().await.unwrap();
    let keys = set.keys().unwrap();
    assert_eq!(kids(&set).unwrap(), ["good"]);
    assert_eq!(keys.skipped(), 3);
}

#[tokio::test]
async fn down_at_startup_fails_the_build_by_default() {
    let server = JwksServer::down().await;
    let error = builder(&server).build().await.unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::Network, "{error}");
    assert_eq!(error.url(), Some(server.url().as_str()));
    assert!(error.to_string().contains(&server.url()), "{error}");
}

#[tokio::test]
async fn down_at_startup_with_a_lazy_start_then_the_keys_arrive() {
    let server = JwksServer::down().await;
    let set = builder(&server).fail_fast(false).build().await.unwrap();
    assert!(set.keys().is_none());
    assert_eq!(set.generation(), None);

    server.up().await;
    // The background task retries after about a second; an explicit refresh
    // does not wait for it.
    set.refresh().await.unwrap();
    assert_eq!(kids(&set).unwrap(), ["k1"]);
}

#[tokio::test]
async fn a_lazy_start_fetches_in_the_background() {
    let server = JwksServer::start().await;
    let set = builder(&server).fail_fast(false).build().await.unwrap();
    assert!(eventually(|| set.keys().is_some()).await);
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn down_later_keeps_the_last_good_set_and_warns() {
    // The tests run on a current-thread runtime: the fetch tasks log here too.
    let (log, _guard) = Logs::capture(tracing::Level::DEBUG);
    let server = JwksServer::start().await;
    let set = builder(&server).build().await.unwrap();

    server.stop();
    server.set_kids(&["k2"]);
    let error = set.refresh().await.unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::Network, "{error}");
    assert_eq!(kids(&set).unwrap(), ["k1"]);
    assert_eq!(set.generation(), Some(1));

    let log = log.text();
    let line = log
        .lines()
        .find(|l| l.contains("WARN"))
        .unwrap_or_else(|| panic!("no warning in {log:?}"));
    assert!(line.contains(&server.url()), "{line}");
    assert!(line.contains("still using the last good key set"), "{line}");
    assert!(line.contains("cannot connect"), "{line}");
    assert!(
        !log.contains(common::jwks_server::ED25519_X),
        "no key in the log"
    );

    server.up().await;
    set.refresh().await.unwrap();
    assert_eq!(kids(&set).unwrap(), ["k2"]);
}

#[tokio::test]
async fn error_statuses_keep_the_last_good_set() {
    let server = JwksServer::start().await;
    let set = builder(&server).build().await.unwrap();
    for status in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::NOT_FOUND,
        StatusCode::NO_CONTENT,
        StatusCode::MOVED_PERMANENTLY,
    ] {
        server.set_status(status);
        let error = set.refresh().await.unwrap_err();
        assert_eq!(error.kind(), RemoteKeyErrorKind::Status, "{error}");
        assert!(error.to_string().contains(status.as_str()), "{error}");
        assert_eq!(kids(&set).unwrap(), ["k1"]);
    }
    assert!(
        set.refresh()
            .await
            .unwrap_err()
            .to_string()
            .contains("redirects are not followed")
    );
}

#[tokio::test]
async fn garbage_and_wrong_shapes_keep_the_last_good_set() {
    let server = JwksServer::start().await;
    let set = builder(&server).build().await.unwrap();
    let cases = [
        ("", RemoteKeyErrorKind::InvalidDocument),
        ("not json", RemoteKeyErrorKind::InvalidDocument),
        ("\u{0}\u{1}\u{2}", RemoteKeyErrorKind::InvalidDocument),
        ("{}", RemoteKeyErrorKind::InvalidDocument),
        ("[]", RemoteKeyErrorKind::InvalidDocument),
        (r#"{"keys":"k1"}"#, RemoteKeyErrorKind::InvalidDocument),
        (r#"{"keys":[1,2,3]}"#, RemoteKeyErrorKind::NoUsableKeys),
        (r#"{"keys":[]}"#, RemoteKeyErrorKind::NoUsableKeys),
        (
            r#"{"keys":[{"kty":"RSA","n":"!!","e":"AQAB"}]}"#,
            RemoteKeyErrorKind::NoUsableKeys,
        ),
    ];
    for (document, kind) in cases {
        server.set_document(document);
        let error = set.refresh().await.unwrap_err();
        assert_eq!(error.kind(), kind, "{document:?}: {error}");
        assert_eq!(kids(&set).unwrap(), ["k1"], "{document:?}");
        assert_eq!(set.generation(), Some(1));
    }

    // A good JWK Set labelled as HTML (a captive portal, an error page) is refused.
    server.set_kids(&["k2"]);
    server.set_content_type(Some("text/html; charset=utf-8"));
    let error = set.refresh().await.unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::InvalidDocument, "{error}");
    // Labelled as a JWK Set, or not labelled: accepted.
    server.set_content_type(Some("application/jwk-set+json"));
    set.refresh().await.unwrap();
    server.set_kids(&["k3"]);
    server.set_content_type(None);
    set.refresh().await.unwrap();
    assert_eq!(kids(&set).unwrap(), ["k3"]);
}

/// A valid JWK Set padded to about `size` bytes.
fn padded(size: usize) -> String {
    let mut document = serde_json::json!({ "keys": [jwk("big")] });
    document["padding"] = "x".repeat(size).into();
    document.to_string()
}

#[tokio::test]
async fn an_oversized_document_is_refused_by_its_content_length() {
    let server = JwksServer::start().await;
    let set = builder(&server)
        .max_document_size(4096)
        .build()
        .await
        .unwrap();
    server.set_document(padded(5000));
    let error = set.refresh().await.unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::TooLarge, "{error}");
    assert!(error.to_string().contains("Content-Length"), "{error}");
    assert_eq!(kids(&set).unwrap(), ["k1"]);

    server.set_document(padded(3000));
    set.refresh().await.unwrap();
    assert_eq!(kids(&set).unwrap(), ["big"]);
}

#[tokio::test]
async fn an_oversized_chunked_document_is_refused_while_read() {
    let server = JwksServer::start().await;
    server.set_chunked(true);
    let set = builder(&server)
        .max_document_size(4096)
        .build()
        .await
        .unwrap();
    server.set_document(padded(64 * 1024));
    let error = set.refresh().await.unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::TooLarge, "{error}");
    assert!(error.to_string().contains("body is over"), "{error}");
    assert_eq!(kids(&set).unwrap(), ["k1"]);

    // Chunked and within the limit: fine.
    server.set_document(padded(3000));
    set.refresh().await.unwrap();
    assert_eq!(kids(&set).unwrap(), ["big"]);
}

#[tokio::test]
async fn too_many_keys_are_refused_as_a_whole() {
    let server = JwksServer::start().await;
    server.set_kids(&["a", "b", "c"]);
    let set = builder(&server).max_keys(3).build().await.unwrap();
    assert_eq!(kids(&set).unwrap(), ["a", "b", "c"]);

    server.set_kids(&["a", "b", "c", "d"]);
    let error = set.refresh().await.unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::TooManyKeys, "{error}");
    assert_eq!(kids(&set).unwrap(), ["a", "b", "c"]);

    // The default limit is 64.
    let many: Vec<String> = (0..65).map(|i| format!("k{i}")).collect();
    server.set_kids(&many.iter().map(String::as_str).collect::<Vec<_>>());
    let error = builder(&server).build().await.unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::TooManyKeys, "{error}");
}

#[tokio::test]
async fn a_slow_endpoint_hits_the_timeout() {
    let server = JwksServer::start().await;
    let set = builder(&server)
        .timeout(Duration::from_millis(200))
        .build()
        .await
        .unwrap();

    // Slow to answer at all.
    server.set_delay(Duration::from_secs(10));
    let started = tokio::time::Instant::now();
    let error = set.refresh().await.unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::Timeout, "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(kids(&set).unwrap(), ["k1"]);

    // A quick head, then a body that never comes in time: the timeout covers it.
    server.set_delay(Duration::ZERO);
    server.set_body_delay(Duration::from_secs(10));
    let started = tokio::time::Instant::now();
    let error = set.refresh().await.unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::Timeout, "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // At startup, with fail_fast, the build fails with the timeout.
    let error = builder(&server)
        .timeout(Duration::from_millis(200))
        .build()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::Timeout, "{error}");
}

#[tokio::test]
async fn a_short_max_age_is_refreshed_in_the_background() {
    let server = JwksServer::start().await;
    server.set_cache_control(Some("public, max-age=1"));
    let set = builder(&server)
        .cache_bounds(Duration::from_secs(1), Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    server.set_kids(&["k1", "k2"]);
    // Refreshed at 80-90 % of one second.
    assert!(
        eventually(|| server.fetches() >= 2).await,
        "no refetch: {}",
        server.fetches()
    );
    assert!(eventually(|| kids(&set).unwrap().len() == 2).await);
}

#[tokio::test]
async fn a_max_age_above_the_upper_bound_is_clamped() {
    let server = JwksServer::start().await;
    server.set_cache_control(Some("max-age=31536000"));
    let _set = builder(&server)
        .cache_bounds(Duration::from_secs(1), Duration::from_secs(1))
        .build()
        .await
        .unwrap();
    // A year, clamped to one second: refetched within the bound.
    assert!(
        eventually(|| server.fetches() >= 2).await,
        "no refetch: {}",
        server.fetches()
    );
}

#[tokio::test]
async fn no_store_takes_the_default_max_age() {
    let server = JwksServer::start().await;
    server.set_cache_control(Some("no-store"));
    let _set = builder(&server)
        .cache_bounds(Duration::from_secs(1), Duration::from_secs(3600))
        .default_max_age(Duration::from_secs(1))
        .build()
        .await
        .unwrap();
    assert!(
        eventually(|| server.fetches() >= 2).await,
        "no refetch: {}",
        server.fetches()
    );
}

#[tokio::test]
async fn discovery_finds_the_jwks_uri() {
    let server = JwksServer::start().await;
    let set = RemoteKeySet::discover(server.issuer())
        .build()
        .await
        .unwrap();
    assert_eq!(kids(&set).unwrap(), ["k1"]);
    assert_eq!((server.discovery_fetches(), server.fetches()), (1, 1));

    // The jwks_uri is kept: a refresh fetches only the JWK Set.
    set.refresh().await.unwrap();
    assert_eq!((server.discovery_fetches(), server.fetches()), (1, 2));
    assert!(format!("{set:?}").contains(&server.url()));

    // A trailing slash on the configured issuer finds the same document,
    // whose issuer (without it) is then not the configured one.
    let error = RemoteKeySet::discover(format!("{}/", server.issuer()))
        .build()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::IssuerMismatch, "{error}");
}

#[tokio::test]
async fn discovery_refuses_another_issuer() {
    let server = JwksServer::start().await;
    server.set_discovery(Some(
        serde_json::json!({ "issuer": "https://evil.example", "jwks_uri": server.url() })
            .to_string(),
    ));
    let error = RemoteKeySet::discover(server.issuer())
        .build()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::IssuerMismatch, "{error}");
    assert!(error.to_string().contains("evil.example"), "{error}");
    assert_eq!(server.fetches(), 0, "the JWK Set was never fetched");
}

#[tokio::test]
async fn discovery_applies_the_url_rules_to_the_jwks_uri() {
    let server = JwksServer::start().await;
    server.set_discovery(Some(
        serde_json::json!({ "issuer": server.issuer(), "jwks_uri": "http://idp.example/jwks" })
            .to_string(),
    ));
    let error = RemoteKeySet::discover(server.issuer())
        .build()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::InvalidUrl, "{error}");

    // The right issuer, but no jwks_uri.
    server.set_discovery(Some(
        serde_json::json!({ "issuer": server.issuer() }).to_string(),
    ));
    let error = RemoteKeySet::discover(server.issuer())
        .build()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::InvalidDocument, "{error}");
}

#[tokio::test]
async fn lazy_discovery_happens_with_the_first_fetch() {
    let server = JwksServer::down().await;
    let set = RemoteKeySet::discover(server.issuer())
        .fail_fast(false)
        .build()
        .await
        .unwrap();
    assert!(set.keys().is_none());
    server.up().await;
    set.refresh().await.unwrap();
    assert_eq!(kids(&set).unwrap(), ["k1"]);
}

#[tokio::test]
async fn plain_http_to_a_host_that_is_not_loopback_is_refused_at_build() {
    for url in [
        "http://idp.example/.well-known/jwks.json",
        "http://10.1.2.3/jwks",
        "http://[2001:db8::1]/jwks",
    ] {
        let error = RemoteKeySet::builder(url).build().await.unwrap_err();
        assert_eq!(
            error.kind(),
            RemoteKeyErrorKind::InvalidUrl,
            "{url}: {error}"
        );
        assert!(error.to_string().contains("allow_http"), "{error}");
        let error = RemoteKeySet::discover(url).build().await.unwrap_err();
        assert_eq!(
            error.kind(),
            RemoteKeyErrorKind::InvalidUrl,
            "{url}: {error}"
        );
    }
    for url in [
        "idp.example/jwks",
        "ftp://idp.example/jwks",
        "https://u:p@idp.example/",
    ] {
        let error = RemoteKeySet::builder(url).build().await.unwrap_err();
        assert_eq!(
            error.kind(),
            RemoteKeyErrorKind::InvalidUrl,
            "{url}: {error}"
        );
    }
}

#[tokio::test]
async fn settings_out_of_range_are_refused_at_build() {
    let server = JwksServer::start().await;
    let bad = [
        builder(&server).cache_bounds(Duration::from_secs(600), Duration::from_secs(60)),
        builder(&server).cache_bounds(Duration::ZERO, Duration::from_secs(60)),
        builder(&server).timeout(Duration::ZERO),
        builder(&server).connect_timeout(Duration::ZERO),
        builder(&server).max_document_size(0),
        builder(&server).max_keys(0),
        builder(&server).add_root_certificate(b"not a certificate".to_vec()),
    ];
    for builder in bad {
        let shown = format!("{builder:?}");
        let error = builder.build().await.unwrap_err();
        assert_eq!(
            error.kind(),
            RemoteKeyErrorKind::InvalidConfig,
            "{shown}: {error}"
        );
    }
    assert_eq!(server.fetches(), 0);
}

#[test]
fn a_build_outside_tokio_is_refused() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    // No runtime on this thread: the build refuses before its first await.
    let build = RemoteKeySet::builder("https://idp.example/jwks").build();
    let poll = std::pin::pin!(build).poll(&mut Context::from_waker(Waker::noop()));
    let Poll::Ready(Err(error)) = poll else {
        panic!("the build did not refuse at once");
    };
    assert_eq!(error.kind(), RemoteKeyErrorKind::InvalidConfig, "{error}");
    assert!(error.to_string().contains("tokio"), "{error}");
}

/// Over real TLS: a front with the `localhost` certificate of
/// `tests/fixtures/tls`, signed by a test CA, before the plain endpoint.
#[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
mod tls {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::{JoinHandle, JoinSet};
    use tokio_rustls::TlsAcceptor;
    use tokio_rustls::rustls::ServerConfig;
    use tokio_rustls::rustls::crypto::CryptoProvider;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    use super::*;

    /// The error and its sources, as a log line would show them.
    fn chain(error: &dyn std::error::Error) -> String {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    }

    const CA: &[u8] = include_bytes!("fixtures/tls/ca.der");
    const CERTIFICATE: &[u8] = include_bytes!("fixtures/tls/localhost.der");
    const KEY: &[u8] = include_bytes!("fixtures/tls/localhost.key.der");

    fn provider() -> CryptoProvider {
        #[cfg(feature = "aws-lc-rs")]
        let provider = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider();
        #[cfg(not(feature = "aws-lc-rs"))]
        let provider = tokio_rustls::rustls::crypto::ring::default_provider();
        provider
    }

    /// Terminates TLS on 127.0.0.1 and forwards the bytes to `backend`;
    /// stopped when dropped.
    struct TlsFront {
        addr: SocketAddr,
        task: JoinHandle<()>,
    }

    impl TlsFront {
        /// `localhost:port`, the name its certificate covers.
        fn authority(&self) -> String {
            format!("localhost:{}", self.addr.port())
        }

        /// The JWK Set's `https://` URL through this front.
        fn url(&self) -> String {
            format!("https://{}/jwks.json", self.authority())
        }
    }

    impl Drop for TlsFront {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    async fn tls_front(backend: SocketAddr) -> TlsFront {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(KEY.to_vec()));
        let config = ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(CERTIFICATE.to_vec())], key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                connections.spawn(async move {
                    // A client that refuses the certificate ends the handshake.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) = TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        TlsFront { addr, task }
    }

    #[tokio::test]
    async fn https_with_a_trusted_root_fetches_the_keys() {
        let server = JwksServer::start().await;
        let front = tls_front(server.addr()).await;
        let url = front.url();
        let set = trusting(url).build().await.unwrap();
        assert_eq!(kids(&set).unwrap(), ["k1"]);
        server.set_kids(&["k2"]);
        set.refresh().await.unwrap();
        assert_eq!(kids(&set).unwrap(), ["k2"]);
    }

    /// The fixture CA trusted, the proxy from the environment ignored: the
    /// tests say which proxy they want.
    fn trusting(url: String) -> RemoteKeySetBuilder {
        RemoteKeySet::builder(url)
            .add_root_certificate(CA)
            .no_proxy()
    }

    #[tokio::test]
    async fn an_https_fetch_goes_through_the_configured_proxy() {
        let server = JwksServer::start().await;
        let front = tls_front(server.addr()).await;
        let proxy = ConnectProxy::start().await;
        let url = front.url();
        let set = trusting(url).proxy(proxy.url()).build().await.unwrap();
        assert_eq!(kids(&set).unwrap(), ["k1"]);
        set.refresh().await.unwrap();
        // One tunnel per fetch, to the name in the URL (TLS is checked against
        // it end to end; the proxy sees nothing more).
        let target = front.authority();
        assert_eq!(proxy.targets(), [target.clone(), target]);
        assert_eq!(server.fetches(), 2);
    }

    /// Discovery over https through the proxy, with the fixture CA: the
    /// metadata (RFC 8414, path inserted) and then the JWK Set, one tunnel
    /// each; on its own, the metadata takes the same roots and proxy.
    #[tokio::test]
    async fn discovery_over_https_takes_the_roots_and_the_proxy() {
        use common::jwks_server::Served;
        use tower_jwt_auth::AuthorizationServerMetadata;

        let server = JwksServer::start().await;
        let front = tls_front(server.addr()).await;
        let issuer = format!("https://{}/tenant1", front.authority());
        server.serve_at(
            "/.well-known/oauth-authorization-server/tenant1",
            Served::json(
                serde_json::json!({ "issuer": issuer, "jwks_uri": front.url() }).to_string(),
            ),
        );
        let proxy = ConnectProxy::start().await;
        let set = RemoteKeySet::discover(&issuer)
            .add_root_certificate(CA)
            .proxy(proxy.url())
            .build()
            .await
            .unwrap();
        assert_eq!(kids(&set).unwrap(), ["k1"]);
        let target = front.authority();
        assert_eq!(proxy.targets(), [target.clone(), target.clone()]);

        let metadata = AuthorizationServerMetadata::discover(&issuer)
            .add_root_certificate(CA)
            .proxy(proxy.url())
            .fetch()
            .await
            .unwrap();
        assert_eq!(metadata.jwks_uri(), Some(front.url().as_str()));
        assert_eq!(proxy.targets().len(), 3);

        // Without the root, TLS fails: an error, not a reason to look
        // elsewhere.
        let error = AuthorizationServerMetadata::discover(&issuer)
            .no_proxy()
            .fetch()
            .await
            .unwrap_err();
        assert_eq!(error.kind(), RemoteKeyErrorKind::Network, "{error}");
        let asked = server.requests();
        assert_eq!(asked.len(), 3, "{asked:?}");
    }

    #[tokio::test]
    async fn proxy_credentials_are_sent_and_a_refusal_is_a_clear_error() {
        let server = JwksServer::start().await;
        let front = tls_front(server.addr()).await;
        let proxy = ConnectProxy::with_credentials("ada", "pa:ss w@rd").await;
        let url = front.url();
        // Percent-encoded in the URL, as in HTTPS_PROXY.
        let with = proxy
            .url()
            .replace("http://", "http://ada:pa%3Ass%20w%40rd@");
        let set = trusting(url.clone()).proxy(with).build().await.unwrap();
        assert_eq!(kids(&set).unwrap(), ["k1"]);

        let wrong = proxy.url().replace("http://", "http://ada:guess@");
        for proxy_url in [proxy.url(), wrong] {
            let error = trusting(url.clone())
                .proxy(proxy_url)
                .build()
                .await
                .unwrap_err();
            assert_eq!(error.kind(), RemoteKeyErrorKind::Network, "{error}");
            let chain = chain(&error);
            assert!(chain.contains("through the proxy 127.0.0.1:"), "{chain}");
            assert!(chain.contains("proxy authorization required"), "{chain}");
            assert!(!chain.contains("guess"), "no password in errors: {chain}");
        }
        assert_eq!(server.fetches(), 1);
    }

    #[tokio::test]
    async fn a_proxy_that_is_down_or_not_http_is_an_error() {
        let server = JwksServer::start().await;
        let front = tls_front(server.addr()).await;
        let url = front.url();
        let down = {
            let proxy = ConnectProxy::start().await;
            proxy.url()
        };
        let error = trusting(url.clone())
            .connect_timeout(Duration::from_secs(1))
            .proxy(down)
            .build()
            .await
            .unwrap_err();
        assert_eq!(error.kind(), RemoteKeyErrorKind::Network, "{error}");
        assert!(chain(&error).contains("through the proxy"), "{error}");
        for unsupported in [
            "https://127.0.0.1:3128",
            "socks5://127.0.0.1:1080",
            "127.0.0.1:3128",
        ] {
            let error = trusting(url.clone())
                .proxy(unsupported)
                .build()
                .await
                .unwrap_err();
            assert_eq!(
                error.kind(),
                RemoteKeyErrorKind::InvalidConfig,
                "{unsupported}"
            );
        }
        assert_eq!(server.fetches(), 0);
    }

    #[tokio::test]
    async fn a_plain_http_fetch_never_takes_the_proxy() {
        let server = JwksServer::start().await;
        let proxy = ConnectProxy::start().await;
        let set = RemoteKeySet::builder(server.url())
            .proxy(proxy.url())
            .build()
            .await
            .unwrap();
        assert_eq!(kids(&set).unwrap(), ["k1"]);
        assert!(proxy.targets().is_empty());
    }

    /// The environment's proxy, seen by a fresh process: this test binary run
    /// again for [`child_fetches_with_the_environment_proxy`] alone, with
    /// `HTTPS_PROXY` and `NO_PROXY` set (a test cannot set its own process's
    /// environment safely while other tests run).
    #[tokio::test]
    async fn https_proxy_and_no_proxy_from_the_environment_are_followed() {
        let server = JwksServer::start().await;
        let front = tls_front(server.addr()).await;
        let proxy = ConnectProxy::start().await;
        let url = front.url();
        // The child's answer: `Ok` if it fetched the keys, else its error.
        let child = |https_proxy: String, no_proxy: &str| {
            let mut command = tokio::process::Command::new(std::env::current_exe().unwrap());
            for name in [
                "HTTPS_PROXY",
                "https_proxy",
                "ALL_PROXY",
                "all_proxy",
                "NO_PROXY",
                "no_proxy",
                "REQUEST_METHOD",
            ] {
                command.env_remove(name);
            }
            let output = command
                .args(["--exact", "tls::child_fetches_with_the_environment_proxy"])
                .args(["--ignored", "--nocapture", "--test-threads=1"])
                .env("HTTPS_PROXY", https_proxy)
                .env("NO_PROXY", no_proxy)
                .env(CHILD_URL, &url)
                .kill_on_drop(true)
                .output();
            async move {
                let output = tokio::time::timeout(BOUND * 6, output)
                    .await
                    .expect("the child ends")
                    .unwrap();
                let printed = String::from_utf8_lossy(&output.stdout).into_owned();
                assert!(
                    printed.contains("1 passed"),
                    "the child test ran: {printed}"
                );
                printed
                    .lines()
                    // libtest may print the test's name first on the line.
                    .find_map(|line| line.split_once("child: ").map(|(_, said)| said))
                    .expect("the child says how it went")
                    .to_owned()
            }
        };
        assert_eq!(child(proxy.url(), "").await, "Ok");
        let target = front.authority();
        assert_eq!(proxy.targets(), std::slice::from_ref(&target));
        // The host in NO_PROXY goes direct.
        assert_eq!(child(proxy.url(), "example.org, localhost").await, "Ok");
        assert_eq!(proxy.targets(), std::slice::from_ref(&target));
        assert_eq!(server.fetches(), 2);
        // A SOCKS proxy is not followed, nor silently bypassed.
        let socks = child("socks5://127.0.0.1:1080".into(), "").await;
        assert!(socks.contains("Network"), "{socks}");
        assert!(socks.contains("only http:// proxies"), "{socks}");
        assert_eq!(server.fetches(), 2);
    }

    /// Where the child fetches; unset, the child has nothing to do.
    const CHILD_URL: &str = "TOWER_JWT_AUTH_TEST_PROXY_CHILD_URL";

    /// Prints `child: Ok`, or `child: ` and the error's kind and cause chain.
    #[tokio::test]
    #[ignore = "run by https_proxy_and_no_proxy_from_the_environment_are_followed"]
    async fn child_fetches_with_the_environment_proxy() {
        let Ok(url) = std::env::var(CHILD_URL) else {
            return;
        };
        match RemoteKeySet::builder(url)
            .add_root_certificate(CA)
            .build()
            .await
        {
            Ok(set) => {
                assert_eq!(kids(&set).unwrap(), ["k1"]);
                println!("child: Ok");
            }
            Err(error) => println!("child: {:?} {}", error.kind(), chain(&error)),
        }
    }

    #[tokio::test]
    async fn https_with_an_unknown_root_is_refused() {
        let server = JwksServer::start().await;
        let front = tls_front(server.addr()).await;
        let url = front.url();
        let error = RemoteKeySet::builder(url)
            .no_proxy()
            .build()
            .await
            .unwrap_err();
        assert_eq!(error.kind(), RemoteKeyErrorKind::Network, "{error}");
        let chain = chain(&error);
        assert!(chain.contains("UnknownIssuer"), "{chain}");
        assert_eq!(server.fetches(), 0);
    }

    #[tokio::test]
    async fn https_to_a_name_the_certificate_does_not_cover_is_refused() {
        let server = JwksServer::start().await;
        let front = tls_front(server.addr()).await;
        let url = format!("https://127.0.0.1:{}/jwks.json", front.addr.port());
        let error = trusting(url).build().await.unwrap_err();
        assert_eq!(error.kind(), RemoteKeyErrorKind::Network, "{error}");
        let chain = chain(&error);
        assert!(chain.contains("not valid for name"), "{chain}");
        assert_eq!(server.fetches(), 0);
    }
}
