//! A Switchboard cluster for integration tests: several real `switchboard serve` processes on
//! one PostgreSQL database, behind an HAProxy that spreads requests round robin with no
//! stickiness, as `deploy/haproxy.cfg` does in production.
//!
//! A cluster test needs `SWITCHBOARD_TEST_POSTGRES_URL` (as `.ci/run` sets it), `psql` and
//! `haproxy`; [`prerequisites`] says which is missing, so the test can print `skipped: …` and
//! return. Every process is killed when its handle is dropped, also when the test panics, and
//! then the end of its log is printed.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::{Instant, sleep};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const POSTGRES_URL_VAR: &str = "SWITCHBOARD_TEST_POSTGRES_URL";
/// How often `wait_ready` asks again.
const POLL: Duration = Duration::from_millis(25);

/// The PostgreSQL server's URL from `SWITCHBOARD_TEST_POSTGRES_URL` when this machine can run a
/// cluster test (HAProxy and `psql` installed), or why it cannot.
pub fn prerequisites() -> Result<String, String> {
    let url = std::env::var(POSTGRES_URL_VAR).map_err(|_| {
        format!("{POSTGRES_URL_VAR} is not set, so PostgreSQL is not expected on this machine (.ci/run sets it)")
    })?;
    if haproxy_binary().is_none() {
        return Err("haproxy is not installed (apt-get install haproxy; .ci/run does)".into());
    }
    if Command::new("psql").arg("--version").output().is_err() {
        return Err("psql is not installed (it comes with Debian's postgresql)".into());
    }
    Ok(url)
}

/// The `haproxy` program: the first on `PATH`, else Debian's `/usr/sbin/haproxy` (not on
/// every user's `PATH`).
pub fn haproxy_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("haproxy"))
        .find(|candidate| candidate.is_file());
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/haproxy")).filter(|p| p.is_file()))
}

/// A loopback TCP port that was free a moment ago. Another process may take it before the
/// caller binds it; unlike port 0, though, the number is known before the process starts.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A database of the test's own, created on the PostgreSQL server of `base_url` and dropped
/// (with whatever connections are left) when this is dropped. Drop it after the nodes.
#[derive(Debug)]
pub struct FreshDatabase {
    /// The URL of the new database, for `--database-url`.
    pub url: String,
    name: String,
    admin_url: String,
}

/// `CREATE DATABASE` with a unique name (`sb_cluster_TAG_…`) on the server of `base_url`, as
/// the store's conformance suite does; through `psql`, since this crate has no SQL client of
/// its own. `Err` says why it could not be made.
pub fn fresh_database(base_url: &str, tag: &str) -> Result<FreshDatabase, String> {
    let tag: String = tag
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    let name = format!("sb_cluster_{tag}_{}", uuid::Uuid::now_v7().simple());
    psql(base_url, &format!("CREATE DATABASE {name}"))?;
    Ok(FreshDatabase {
        url: with_database(base_url, &name),
        name,
        admin_url: base_url.to_owned(),
    })
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = psql(&self.admin_url, &sql) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// Runs one SQL statement with `psql` on the database of `url`.
fn psql(url: &str, sql: &str) -> Result<(), String> {
    let output = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "psql `{sql}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// `url` with its database name replaced by `name` (the same as in the store's conformance
/// suite).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..].find('/').map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{name}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// HAProxy in front of the nodes, killed when dropped.
#[derive(Debug)]
pub struct Balancer {
    /// A `Mutex` only so that [`Balancer::wait_ready`] can take `&self` and still ask whether
    /// HAProxy exited (`Child::try_wait` needs `&mut`); it is never held across an await.
    child: Mutex<Child>,
    /// The loopback port clients connect to.
    pub port: u16,
    /// Holds the configuration and HAProxy's log; removed when dropped.
    dir: PathBuf,
}

impl Balancer {
    /// Starts HAProxy on a free loopback port, spreading requests round robin over the hub
    /// nodes listening on `nodes` (loopback ports). The settings are those of
    /// `deploy/haproxy.cfg`, except that nodes are checked every 200 ms and one check moves a
    /// node in or out, so tests need not wait long; there is no stats page. HAProxy's alerts and
    /// one line per request (naming the node that served it) go to `haproxy.log`, see
    /// [`Balancer::log`]. Start it once the nodes are ready: HAProxy counts a node as up until
    /// its first check fails.
    pub fn start(nodes: &[u16]) -> io::Result<Balancer> {
        Self::start_on(free_port(), nodes)
    }

    /// [`Balancer::start`] on `port` (known beforehand: the nodes' `public_url` names it).
    pub fn start_on(port: u16, nodes: &[u16]) -> io::Result<Balancer> {
        let haproxy =
            haproxy_binary().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "haproxy is not installed"))?;
        let dir = super::unique_dir("haproxy");
        std::fs::create_dir_all(&dir)?;
        let config = dir.join("haproxy.cfg");
        std::fs::write(&config, haproxy_config(port, nodes))?;
        let log = std::fs::File::create(dir.join("haproxy.log"))?;
        let child = Command::new(haproxy)
            .arg("-f")
            .arg(&config)
            // Foreground: the child is HAProxy itself, so killing it stops the balancer.
            .arg("-db")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        Ok(Balancer {
            child: Mutex::new(child),
            port,
            dir,
        })
    }

    /// `http://127.0.0.1:PORT`, the cluster's address for clients.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until `GET /readyz` through the balancer answers 200, that is until HAProxy
    /// listens and has a node that is up. Panics with HAProxy's log if it exits or `timeout`
    /// passes first.
    pub async fn wait_ready(&self, timeout: Duration) {
        wait_ready(&self.child, &self.url(), timeout, "HAProxy", || self.log()).await;
    }

    /// HAProxy's output so far: alerts, and one line per request with the node that served it
    /// (`switchboard hubs/node2 …`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("haproxy.log")).unwrap_or_default()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
        if std::thread::panicking() {
            eprintln!("--- HAProxy, the end of its log ---\n{}", tail(&self.log()));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// HAProxy's configuration for a test: `deploy/haproxy.cfg`'s settings on a loopback port, with
/// fast checks and no stats page.
fn haproxy_config(port: u16, nodes: &[u16]) -> String {
    let servers: String = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            format!(
                "    server node{} 127.0.0.1:{node} check inter 200ms fall 1 rise 1\n",
                i + 1
            )
        })
        .collect();
    format!(
        "global
    log stderr format raw local0

defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    option redispatch
    retries 2
    retry-on conn-failure

frontend switchboard
    bind 127.0.0.1:{port}
    default_backend hubs

backend hubs
    balance roundrobin
    option forwardfor
    option httpchk GET /readyz
    http-check expect status 200
    http-reuse safe
{servers}"
    )
}

/// One hub node: `switchboard serve` as a child process, killed when dropped.
#[derive(Debug)]
pub struct Node {
    /// A `Mutex` only so that [`Node::wait_ready`] and [`Node::wait_exit`] can take `&self`
    /// and still ask whether the process exited (`Child::try_wait` needs `&mut`); it is never
    /// held across an await.
    child: Mutex<Child>,
    /// The process id, for signals.
    pid: u32,
    /// The loopback port the node listens on.
    pub port: u16,
    /// The node's stdout and stderr, appended to across restarts on the same port.
    log: PathBuf,
}

impl Node {
    /// `switchboard serve --config CONFIG --listen 127.0.0.1:PORT --database-url URL`, then
    /// `extra_args` (say `--sip 127.0.0.1:0` when the configuration has a `[voice]` section:
    /// nodes on one machine cannot share a SIP port, nor built-in bots' ports).
    ///
    /// The node runs in the configuration's directory, so all nodes of a cluster share its
    /// files as production nodes share a volume (the channel signing keys, `data/channel-keys`). Its
    /// log, at `info`, goes to `node-PORT.log` there. Its admin token is
    /// [`super::ADMIN_TOKEN`]. When the configuration has signed bots, start one node and wait
    /// until it is ready before starting the others, so that only one creates the keys.
    pub fn start(config: &Path, database_url: &str, port: u16, extra_args: &[&str]) -> io::Result<Node> {
        let config = config.canonicalize()?;
        let dir = config.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let log = dir.join(format!("node-{port}.log"));
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
        let child = Command::new(BIN)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", database_url])
            .args(extra_args)
            .current_dir(&dir)
            .env("SWITCHBOARD_ADMIN_TOKEN", super::ADMIN_TOKEN)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()?;
        Ok(Node {
            pid: child.id(),
            child: Mutex::new(child),
            port,
            log,
        })
    }

    /// `http://127.0.0.1:PORT`, this node alone, bypassing the balancer.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until the node answers `GET /readyz` with 200. Panics with the node's log if it
    /// exits or `timeout` passes first.
    pub async fn wait_ready(&self, timeout: Duration) {
        let who = format!("the node on port {}", self.port);
        wait_ready(&self.child, &self.url(), timeout, &who, || self.log()).await;
    }

    /// SIGKILL (what `Child::kill` sends on Unix): a crash, with no graceful shutdown. Reaps
    /// the process.
    pub fn kill9(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM: the node stops gracefully (see [`Node::wait_exit`]). Sent with `kill(1)`, since
    /// the tests have no signal crate and forbid unsafe code.
    pub fn sigterm(&self) -> io::Result<()> {
        let status = Command::new("kill").args(["-TERM", &self.pid.to_string()]).status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("kill -TERM {} failed ({status})", self.pid)))
        }
    }

    /// Waits up to `timeout` for the process to exit; its status, or `None` if it still runs.
    pub async fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = try_wait(&self.child) {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            sleep(POLL).await;
        }
    }

    /// The node's log so far (every run on this port).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!(
                "--- the node on port {}, the end of its log ---\n{}",
                self.port,
                tail(&self.log())
            );
        }
    }
}

/// The exit status, if the process has exited.
fn try_wait(child: &Mutex<Child>) -> Option<ExitStatus> {
    child
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .try_wait()
        .ok()
        .flatten()
}

/// Polls `GET {base}/readyz` until it answers 200; panics, with `log()`, if the process exits
/// or `timeout` passes first.
async fn wait_ready(child: &Mutex<Child>, base: &str, timeout: Duration, who: &str, log: impl Fn() -> String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .unwrap();
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = try_wait(child) {
            panic!("{who} exited at start ({status}):\n{}", tail(&log()));
        }
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status() == 200
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{who} was not ready within {timeout:?}:\n{}",
            tail(&log())
        );
        sleep(POLL).await;
    }
}

/// The last 40 lines of `text`.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
