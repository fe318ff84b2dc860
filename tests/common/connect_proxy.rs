//! A real HTTP `CONNECT` proxy on 127.0.0.1, as a corporate egress proxy
//! would be: it reads the `CONNECT host:port` request, may ask for Basic
//! credentials (`407`), opens the tunnel to a loopback destination and copies
//! bytes both ways. It records every `CONNECT` target it was asked for.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The longest request head read before the proxy gives up on a client.
const MAX_HEAD: usize = 8 * 1024;

/// The proxy; stopped when dropped.
pub struct ConnectProxy {
    addr: SocketAddr,
    targets: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ConnectProxy {
    /// A proxy that tunnels for anyone.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// A proxy that tunnels only for `user:password` (Basic), and answers
    /// `407 Proxy Authentication Required` otherwise.
    pub async fn with_credentials(user: &str, password: &str) -> Self {
        let expected =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Self::start_with(Some(format!("Basic {expected}"))).await
    }

    async fn start_with(credentials: Option<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&targets);
        let credentials = Arc::new(credentials);
        let task = tokio::spawn(async move {
            let mut tunnels = JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let (seen, credentials) = (Arc::clone(&seen), Arc::clone(&credentials));
                tunnels.spawn(async move {
                    let _ = serve(client, &seen, credentials.as_deref()).await;
                });
                while tunnels.try_join_next().is_some() {}
            }
        });
        Self {
            addr,
            targets,
            task,
        }
    }

    /// `http://127.0.0.1:port`, for `proxy()` or `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `host:port` of every `CONNECT`, in order.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

/// One client: its `CONNECT`, the answer, then the tunnel.
async fn serve(
    mut client: TcpStream,
    seen: &Mutex<Vec<String>>,
    credentials: Option<&str>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        let n = client.read(&mut buf).await?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n");
    let request = lines.next().unwrap_or_default();
    let mut words = request.split(' ');
    let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
        return client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            .await;
    };
    seen.lock().unwrap().push(target.to_owned());
    let authorized = credentials.is_none_or(|expected| {
        lines.any(|line| {
            line.split_once(':').is_some_and(|(name, value)| {
                name.eq_ignore_ascii_case("proxy-authorization") && value.trim() == expected
            })
        })
    });
    if !authorized {
        return client
            .write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  proxy-authenticate: Basic realm=\"egress\"\r\ncontent-length: 0\r\n\r\n",
            )
            .await;
    }
    // Loopback destinations only: this proxy never leaves the machine.
    let Some(port) = target
        .strip_prefix("localhost:")
        .or_else(|| target.strip_prefix("127.0.0.1:"))
    else {
        return client
            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            .await;
    };
    let Ok(mut upstream) = TcpStream::connect(format!("127.0.0.1:{port}")).await else {
        return client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
    };
    client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
