//! A real Redis Cluster for one test binary: three masters (no replicas) on
//! free ports of 127.0.0.1, each `redis-server --cluster-enabled yes` with its
//! own node file in a private directory, joined by
//! `redis-cli --cluster create`; killed (and the directory removed) when
//! dropped. [`RedisCluster::restart_master`] kills one master with SIGKILL and
//! starts it again on the same port with the same node file, as a crashed
//! node coming back.
//!
//! Needs `redis-server` and `redis-cli` (Debian packages `redis-server` and
//! `redis-tools`, which `redis-server` depends on), or their paths in
//! `REDIS_SERVER` and `REDIS_CLI`. Readiness is polled with `redis-cli`
//! (`CLUSTER INFO` on every node until `cluster_state:ok`), within bounds.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::{Instant, sleep};

/// How long the cluster may take to be formed, or to be whole again after a
/// restart: generous, for a loaded 2-core machine.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The number of masters.
pub const MASTERS: usize = 3;

/// Three cluster masters, killed on drop.
pub struct RedisCluster {
    dir: PathBuf,
    nodes: Vec<Node>,
    /// Whether each master keeps an append-only file synced at every write,
    /// so that its keys survive [`restart_master`](Self::restart_master).
    persistent: bool,
}

struct Node {
    port: u16,
    child: Option<Child>,
}

impl RedisCluster {
    /// Starts three masters, creates the cluster over them, and waits until
    /// every node reports `cluster_state:ok`.
    ///
    /// # Panics
    ///
    /// When `redis-server` or `redis-cli` is missing, or the cluster is not
    /// ready in time.
    pub async fn start() -> Self {
        Self::start_with(false).await
    }

    /// [`start`](Self::start), each master with an append-only file synced at
    /// every write: a restarted master still has its keys.
    pub async fn start_persistent() -> Self {
        Self::start_with(true).await
    }

    async fn start_with(persistent: bool) -> Self {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tower-jwt-auth-cluster-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the cluster's directory");
        let mut cluster = Self {
            dir,
            nodes: Vec::new(),
            persistent,
        };
        for _ in 0..MASTERS {
            let port = cluster.free_cluster_port();
            let child = spawn(&cluster.dir, port, persistent);
            cluster.nodes.push(Node {
                port,
                child: Some(child),
            });
        }
        for i in 0..MASTERS {
            cluster.wait_for(i, "PONG", &["PING"]).await;
        }
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let output = Command::new(cli())
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run `{} --cluster create`: {e}", cli()));
        assert!(
            output.status.success(),
            "redis-cli --cluster create: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        cluster.wait_until_ok().await;
        cluster
    }

    /// `redis://127.0.0.1:<port>/` of every master.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| format!("redis://127.0.0.1:{}/", node.port))
            .collect()
    }

    /// The port of master `i`.
    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].port
    }

    /// Runs `redis-cli -p <port of master i> <args>` (without `-c`: no
    /// redirects followed) and returns its trimmed output.
    pub fn cli(&self, i: usize, args: &[&str]) -> String {
        cli_output(self.nodes[i].port, args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The slot of `key` (`CLUSTER KEYSLOT`).
    pub fn keyslot(&self, key: &str) -> u16 {
        let slot = self.cli(0, &["CLUSTER", "KEYSLOT", key]);
        slot.parse()
            .unwrap_or_else(|_| panic!("CLUSTER KEYSLOT {key}: {slot:?}"))
    }

    /// Every key of every master.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = (0..MASTERS)
            .flat_map(|i| {
                self.cli(i, &["--no-raw", "KEYS", "*"])
                    .lines()
                    .filter_map(|line| {
                        // `1) "key"`, or `(empty array)`.
                        let quoted = line.split_once(") ")?.1;
                        Some(quoted.trim_matches('"').to_owned())
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        keys.sort();
        keys
    }

    /// Which master holds `slot`.
    pub fn master_of_slot(&self, slot: u16) -> usize {
        (0..MASTERS)
            .find(|&i| {
                self.cli(i, &["CLUSTER", "NODES"])
                    .lines()
                    .filter(|line| line.contains("myself"))
                    .any(|line| serves(line, slot))
            })
            .expect("some master serves every slot")
    }

    /// Kills master `i` at once (SIGKILL) and starts it again on the same
    /// port with the same node file, then waits until every node reports
    /// `cluster_state:ok`. Without persistence ([`start`](Self::start)) its
    /// keys are gone, with it ([`start_persistent`](Self::start_persistent))
    /// they are back; its slots stay its own (there is no replica to take them over).
    pub async fn restart_master(&mut self, i: usize) {
        self.kill(i);
        let port = self.nodes[i].port;
        self.nodes[i].child = Some(spawn(&self.dir, port, self.persistent));
        self.wait_for(i, "PONG", &["PING"]).await;
        self.wait_until_ok().await;
    }

    /// Kills master `i` (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn wait_until_ok(&self) {
        for i in 0..MASTERS {
            self.wait_for(i, "cluster_state:ok", &["CLUSTER", "INFO"])
                .await;
        }
    }

    /// Polls `redis-cli` on master `i` until its output contains `want`.
    async fn wait_for(&self, i: usize, want: &str, args: &[&str]) {
        let port = self.nodes[i].port;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let last = match cli_output(port, args) {
                Ok(output) if output.contains(want) => return,
                Ok(output) => output,
                Err(error) => error,
            };
            assert!(
                Instant::now() < deadline,
                "node {port}: no {want:?} from {args:?} within {READY_TIMEOUT:?}; last: {last}"
            );
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// A port free a moment ago whose cluster bus port (+10000) is free too.
    fn free_cluster_port(&self) -> u16 {
        for _ in 0..100 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port")
                .port();
            let taken = self.nodes.iter().any(|node| node.port == port);
            if !taken
                && port < u16::MAX - 10_000
                && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()
            {
                return port;
            }
        }
        panic!("no free port pair for a cluster node");
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether a `CLUSTER NODES` line lists `slot` among its ranges.
fn serves(line: &str, slot: u16) -> bool {
    line.split_whitespace().skip(8).any(|range| {
        let (start, end) = range.split_once('-').unwrap_or((range, range));
        match (start.parse::<u16>(), end.parse::<u16>()) {
            (Ok(start), Ok(end)) => (start..=end).contains(&slot),
            _ => false,
        }
    })
}

fn server() -> String {
    std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned())
}

fn cli() -> String {
    std::env::var("REDIS_CLI").unwrap_or_else(|_| "redis-cli".to_owned())
}

/// Starts a cluster-enabled `redis-server` on `port`, its node file, log and
/// (when `persistent`) append-only file in `dir`.
fn spawn(dir: &Path, port: u16, persistent: bool) -> Child {
    let log = dir.join(format!("redis-{port}.log"));
    Command::new(server())
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--cluster-enabled", "yes"])
        .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
        // A node that was killed is taken for failed quickly, and back
        // quickly: the tests restart masters.
        .args(["--cluster-node-timeout", "2000"])
        .arg("--dir")
        .arg(dir)
        .args(["--save", ""])
        .args(if persistent {
            ["--appendonly", "yes", "--appendfsync", "always"].as_slice()
        } else {
            ["--appendonly", "no"].as_slice()
        })
        .arg("--appendfilename")
        .arg(format!("appendonly-{port}.aof"))
        .arg("--logfile")
        .arg(&log)
        .args(["--loglevel", "warning"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "could not run `{}`: {e}. These tests run a real Redis Cluster: install \
                 the Debian package redis-server (with redis-tools), or set REDIS_SERVER \
                 and REDIS_CLI",
                server()
            )
        })
}

/// The trimmed output of `redis-cli -p port args`, or why there is none.
fn cli_output(port: u16, args: &[&str]) -> Result<String, String> {
    let output = Command::new(cli())
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run `{}`: {e}", cli()))?;
    if !output.status.success() {
        return Err(format!(
            "redis-cli -p {port} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
