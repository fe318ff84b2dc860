//! A real `redis-server` for one test: started on a free port of 127.0.0.1,
//! without persistence, killed when dropped. Each test owns its own server,
//! so tests can stop, restart and pause it without disturbing each other.
//!
//! Needs the `redis-server` binary (Debian package `redis-server`, which
//! `.ci/run` installs when missing), or its path in `REDIS_SERVER`. This
//! module talks to the server with a few lines of RESP of its own, so it
//! needs neither the `redis` feature nor the `redis` crate.

use std::io::{ErrorKind, Read};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

/// How long a server may take to answer its first PING.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` child process, killed (and its log removed) on drop.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING.
    ///
    /// # Panics
    ///
    /// When `redis-server` is not installed, or no server answers in time.
    pub async fn start() -> Self {
        let mut last_error = String::new();
        // A free port can be taken by someone else before the server binds
        // it: try a few.
        for _ in 0..5 {
            let port = free_port();
            match Self::start_on(port).await {
                Ok(server) => return server,
                Err(error) => last_error = error,
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    /// Starts a server on `port`, which must be free.
    pub async fn start_on(port: u16) -> Result<Self, String> {
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
        let dir = std::env::temp_dir();
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let log = dir.join(format!(
            "tower-jwt-auth-redis-{}-{port}-{}.log",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let spawned = Command::new(&binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .args(["--logfile", "", "--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?)
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => panic!(
                "`{binary}` not found: these tests run a real Redis. Install the Debian \
                 package (`apt-get install redis-server`), run `.ci/run` (which installs \
                 it), or set REDIS_SERVER to the binary's path"
            ),
            Err(e) => panic!("could not run `{binary}`: {e}"),
        };
        let mut server = Self {
            port,
            child: Some(child),
            log,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(reply) = server.command(&["PING"]).await
                && reply == "PONG"
            {
                return Ok(server);
            }
            let exited = server
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                return Err(format!(
                    "redis-server on port {port} exited ({status}): {}",
                    server.log_text()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "redis-server on port {port} did not answer PING within {START_TIMEOUT:?}: {}",
                    server.log_text()
                ));
            }
            sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server at once (SIGKILL: no goodbye to its clients) and
    /// waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the process (SIGSTOP): connections stay open and nothing is
    /// answered, as a hung server. [`resume`](Self::resume) thaws it; a
    /// frozen server is still killed on drop.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a server frozen by [`pause`](Self::pause) (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("a running server").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid}: {status}");
    }

    /// Starts a new, empty server on the same port (after [`kill`](Self::kill)).
    pub async fn restart(&mut self) {
        self.kill();
        let started = Self::start_on(self.port)
            .await
            .expect("restart redis-server");
        *self = started;
    }

    /// Every key of the server, with a connection of the redis crate.
    #[cfg(feature = "redis")]
    pub async fn keys(&self) -> Vec<String> {
        let client = tower_jwt_auth::redis::Client::open(self.url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        tower_jwt_auth::redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut connection)
            .await
            .unwrap()
    }

    /// The seconds to live of `key`: -2 when it does not exist, -1 when it
    /// never expires.
    pub async fn ttl(&self, key: &str) -> i64 {
        self.command(&["TTL", key]).await.unwrap().parse().unwrap()
    }

    /// Sends one command on a fresh connection and reads the reply: the text
    /// of a simple string, an integer or a bulk string, `(nil)` for a null
    /// bulk string, `-ERR ...` for an error. Arrays are not read.
    pub async fn command(&self, args: &[&str]) -> Result<String, String> {
        let exchange = async {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port))
                .await
                .map_err(|e| e.to_string())?;
            let mut request = format!("*{}\r\n", args.len()).into_bytes();
            for arg in args {
                request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                request.extend_from_slice(arg.as_bytes());
                request.extend_from_slice(b"\r\n");
            }
            stream
                .write_all(&request)
                .await
                .map_err(|e| e.to_string())?;
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            reader
                .read_line(&mut line)
                .await
                .map_err(|e| e.to_string())?;
            let line = line.trim_end_matches("\r\n");
            match line.split_at_checked(1) {
                Some(("+" | ":", rest)) => Ok(rest.to_owned()),
                Some(("-", _)) => Ok(line.to_owned()),
                Some(("$", "-1")) => Ok("(nil)".to_owned()),
                Some(("$", len)) => {
                    let len: usize = len.parse().map_err(|_| format!("bad reply {line:?}"))?;
                    let mut bulk = vec![0; len + 2];
                    reader
                        .read_exact(&mut bulk)
                        .await
                        .map_err(|e| e.to_string())?;
                    bulk.truncate(len);
                    String::from_utf8(bulk).map_err(|e| e.to_string())
                }
                _ => Err(format!("unexpected reply {line:?}")),
            }
        };
        timeout(Duration::from_secs(5), exchange)
            .await
            .map_err(|_| "no reply within 5 s".to_owned())?
    }

    fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
