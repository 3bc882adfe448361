//! Starts the real, unmodified Bot Framework SDK bots of `compat/` (npm `botbuilder`, PyPI
//! `botbuilder-core` + `botbuilder-integration-aiohttp`) for the compatibility tests, installing
//! their dependencies on first use.
//!
//! A bot announces itself with `LISTENING <port>` on stdout and then prints one `ACTIVITY <json>`
//! line per activity its turn logic sees; [`BotProcess`] collects those lines so a test can wait
//! for them. When the dependencies cannot be installed, [`start_bot`] returns `None` after saying
//! why, except under `CI=true`, where a missing toolchain is a failure, not a skip.
//!
//! [`run_directline_client`] runs the other side, a scripted Direct Line 3.0 client on npm
//! `botframework-directlinejs` (`compat/node/dl-client.js`), with the same install and skip rules;
//! [`run_browser_script`] runs a Playwright script of `compat/browser/` (npm `playwright-core`
//! driving Debian's `/usr/bin/chromium`), which also needs that browser installed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{OnceCell, watch};
use tokio::task::JoinHandle;

use serde_json::Value;

/// How long a bot may take from spawn to `LISTENING`.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one `npm ci` or `pip install` may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
/// How long to wait for another test binary's install before giving up on it.
const LOCK_WAIT: Duration = Duration::from_secs(900);

/// The environment keys the SDKs read for authentication. They are removed from the inherited
/// environment so a developer's shell cannot turn an anonymous bot into a signed one.
const SDK_KEYS: &[&str] = &[
    "MicrosoftAppId",
    "MicrosoftAppPassword",
    "MicrosoftAppType",
    "MicrosoftAppTenantId",
    "ChannelService",
    "ValidateAuthority",
    "ToChannelFromBotLoginUrl",
    "ToChannelFromBotOAuthScope",
    "ToBotFromChannelTokenIssuer",
    "OAuthUrl",
    "OAuthApiEndpoint",
    "ToBotFromChannelOpenIdMetadataUrl",
    "BotOpenIdMetadata",
    "ToBotFromEmulatorOpenIdMetadataUrl",
    "CallerId",
    "CertificateThumbprint",
    "CertificatePrivateKey",
    "COMPAT_SILENT",
];

/// Which SDK's bot to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotKind {
    /// `compat/node/bot.js`: npm `botbuilder` 4.23 on express.
    Node,
    /// `compat/python/bot.py`: PyPI `botbuilder-core` 4.17 on aiohttp.
    Python,
}

impl BotKind {
    fn name(self) -> &'static str {
        match self {
            BotKind::Node => "the node compat bot",
            BotKind::Python => "the python compat bot",
        }
    }
}

/// A running bot, killed when dropped.
#[derive(Debug)]
pub struct BotProcess {
    /// The loopback port its `/api/messages` listens on.
    pub port: u16,
    kind: BotKind,
    // `kill_on_drop(true)`: dropping the struct ends the bot, even when a test panics.
    _child: Child,
    // A watch channel rather than a mutex: readers can both snapshot the lines and wait for the
    // next one, and the sender's drop (the bot closed stdout) wakes every waiter.
    stdout: watch::Receiver<Vec<String>>,
    stderr: watch::Receiver<Vec<String>>,
    readers: [JoinHandle<()>; 2],
}

impl BotProcess {
    /// The bot's messaging endpoint, as a hub would register it.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/api/messages", self.port)
    }

    /// Every stdout line so far.
    pub fn lines(&self) -> Vec<String> {
        self.stdout.borrow().clone()
    }

    /// Every stderr line so far (the SDKs log authentication failures and stack traces there).
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.borrow().clone()
    }

    /// The first stdout line, already printed or still to come, for which `pred` holds; `None`
    /// when none appears within `timeout` or the bot exits first.
    pub async fn wait_for_line(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> Option<String> {
        let find = |lines: &[String]| lines.iter().find(|l| pred(l)).cloned();
        let mut rx = self.stdout.clone();
        // `wait_for` fails only when the reader ended (the bot exited); look once more then.
        let _ = tokio::time::timeout(timeout, rx.wait_for(|lines| find(lines).is_some())).await;
        find(&rx.borrow())
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

/// Starts a bot of `kind` on an ephemeral loopback port with `env` added to its environment
/// (e.g. `COMPAT_SILENT=1`, or the SDK's authentication keys), once its dependencies are
/// installed. `None` when they cannot be (the reason is printed); panics under `CI=true`.
pub async fn start_bot(kind: BotKind, env: &[(&str, &str)]) -> Option<BotProcess> {
    if !installed_or_skip(kind, kind.name()).await {
        return None;
    }
    Some(spawn(kind, env).await)
}

/// Installs `kind`'s dependencies. `false` (after printing why the test skips) when that fails;
/// panics instead under `CI=true`, where a missing toolchain is a failure.
async fn installed_or_skip(kind: BotKind, what: &str) -> bool {
    match ensure_installed(kind).await {
        Ok(()) => true,
        Err(reason) => skip_or_fail(what, &reason),
    }
}

/// `false` after printing that the test skips because `what` is not available; panics instead
/// under `CI=true`.
fn skip_or_fail(what: &str, reason: &str) -> bool {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is not available: {reason}");
    }
    eprintln!("skipped: {what} is not available ({reason}); run `bash .ci/run` or see compat/README.md");
    false
}

/// One finished run of a Node script of `compat/`: the Direct Line client
/// `compat/node/dl-client.js` or a browser script of `compat/browser/`.
#[derive(Debug, Clone)]
pub struct ClientRun {
    /// The script ran to the end: it printed its success line (`DONE` for the Direct Line client,
    /// `OK` for a browser script) and exited 0. `false` when it printed `FAIL <reason>`, exited
    /// otherwise, or was killed at the harness's timeout.
    pub success: bool,
    /// Every stdout line. The Direct Line client's: `STATUS <n>`, `CONVERSATION <id>`,
    /// `RECEIVED <json>`, `POSTED <id>`, `ECHO <id>`, `WATERMARK <w>`, then `DONE` or
    /// `FAIL <reason>`. A browser script's (its header lists them): `TRANSCRIPT <json>`,
    /// `SCREENSHOT <path>` and others, then `OK` or `FAIL <reason>`.
    pub lines: Vec<String>,
    /// Every stderr line (directlinejs warnings, `activity$ error: …`, the page's console errors,
    /// and a note from the harness when it killed the script).
    pub stderr: Vec<String>,
}

impl ClientRun {
    /// The activities the client received (`RECEIVED` lines, in order): `id`, `type`, `text`,
    /// `from {id, name, role}`, `replyToId`, `name`, `value`, `timestamp`, `attachments`,
    /// `channelData` and `watermark` (the client's watermark when it got the activity), each left
    /// out when absent. The user's own messages (their echo) are among them.
    pub fn received(&self) -> Vec<Value> {
        self.lines
            .iter()
            .filter_map(|line| line.strip_prefix("RECEIVED "))
            .map(|json| serde_json::from_str(json).unwrap_or_else(|e| panic!("bad RECEIVED line {json:?}: {e}")))
            .collect()
    }

    /// The `text` of each received activity that has one, in order.
    pub fn received_texts(&self) -> Vec<String> {
        self.received()
            .iter()
            .filter_map(|activity| activity["text"].as_str().map(str::to_owned))
            .collect()
    }

    /// The client's last watermark (`WATERMARK` line), printed when the script finished with one.
    pub fn watermark(&self) -> Option<String> {
        self.value_of("WATERMARK ")
    }

    /// The conversation the client ended up in (`CONVERSATION` line), once it was online.
    pub fn conversation_id(&self) -> Option<String> {
        self.value_of("CONVERSATION ")
    }

    /// What a browser script saw rendered (its `TRANSCRIPT` line), one JSON object per item;
    /// empty when it printed none.
    pub fn transcript(&self) -> Vec<Value> {
        self.value_of("TRANSCRIPT ")
            .map(|json| serde_json::from_str(&json).unwrap_or_else(|e| panic!("bad TRANSCRIPT line {json:?}: {e}")))
            .unwrap_or_default()
    }

    /// Every line, stdout then stderr, for a failure message.
    pub fn report(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.lines.join("\n"),
            self.stderr.join("\n")
        )
    }

    fn value_of(&self, prefix: &str) -> Option<String> {
        self.lines
            .iter()
            .rev()
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::to_owned)
    }
}

/// Runs the Direct Line client `compat/node/dl-client.js` (npm `botframework-directlinejs`) to
/// completion with `env` (`DL_DOMAIN`, `DL_TOKEN` or `DL_SECRET`, `DL_MODE`, `DL_SCRIPT`, …; see
/// compat/README.md). `DL_*` variables are not inherited. The client's own overall timeout is set
/// just under `timeout` unless `env` sets `DL_TOTAL_TIMEOUT_MS`; a client still running at
/// `timeout` is killed and its run counts as failed. `None` when node or the npm packages cannot
/// be installed (the reason is printed); panics under `CI=true`.
pub async fn run_directline_client(env: &[(&str, &str)], timeout: Duration) -> Option<ClientRun> {
    if !installed_or_skip(BotKind::Node, "the Direct Line compat client").await {
        return None;
    }
    Some(run_node_script("node/dl-client.js", "DL_TOTAL_TIMEOUT_MS", env, timeout, "DONE").await)
}

/// Where Debian's `chromium` package puts the browser the scripts of `compat/browser/` drive.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs the Playwright script `compat/<script>` (e.g. `browser/webchat.js`) to completion with
/// `env` (`HUB_URL`, `DL_TOKEN`, `SCREENSHOT`, …; each script's header lists its own), none of
/// which are inherited. Its own deadline (`TIMEOUT_MS`) is set just under `timeout`; a script
/// still running at `timeout` is killed and its run counts as failed. `None` when node, the npm
/// packages or [`CHROMIUM`] are missing (the reason is printed); panics under `CI=true`.
pub async fn run_browser_script(script: &str, env: &[(&str, &str)], timeout: Duration) -> Option<ClientRun> {
    let what = format!("the browser test {script}");
    if !Path::new(CHROMIUM).is_file() {
        skip_or_fail(
            &what,
            &format!("{CHROMIUM} is missing; install Debian's `chromium` package"),
        );
        return None;
    }
    if !installed_or_skip(BotKind::Node, &what).await {
        return None;
    }
    Some(run_node_script(script, "TIMEOUT_MS", env, timeout, "OK").await)
}

/// The environment the Node scripts read; none of it is inherited, so a developer's shell
/// cannot change a run.
const SCRIPT_KEYS: &[&str] = &["HUB_URL", "SCREENSHOT", "TIMEOUT_MS"];
const SCRIPT_PREFIXES: &[&str] = &["DL_", "CHAT_", "WEBCHAT_", "CALL_"];

/// Runs `node compat/<script>` with `env` until it exits or `timeout` passes. `timeout_key` is the
/// variable that sets the script's own deadline, put just under `timeout` unless `env` sets it.
/// The run succeeds when the script exits 0 with `done` as its last stdout line.
async fn run_node_script(
    script: &str,
    timeout_key: &str,
    env: &[(&str, &str)],
    timeout: Duration,
    done: &str,
) -> ClientRun {
    let mut command = Command::new("node");
    command.arg(script);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if SCRIPT_KEYS.contains(&key.as_ref()) || SCRIPT_PREFIXES.iter().any(|p| key.starts_with(p)) {
            command.env_remove(key.as_ref());
        }
    }
    if !env.iter().any(|(key, _)| *key == timeout_key) {
        let own = timeout
            .saturating_sub(Duration::from_secs(1))
            .max(Duration::from_secs(1));
        command.env(timeout_key, own.as_millis().to_string());
    }
    command
        .current_dir(compat_dir())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("node {script}: cannot spawn: {e}"));
    let (stdout, stdout_reader) = collect_lines(child.stdout.take().unwrap());
    let (stderr, stderr_reader) = collect_lines(child.stderr.take().unwrap());
    let (success, note) = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => (status.success(), None),
        Ok(Err(e)) => (false, Some(format!("harness: waiting for node {script} failed: {e}"))),
        Err(_) => {
            let _ = child.kill().await;
            (false, Some(format!("harness: killed node {script} after {timeout:?}")))
        }
    };
    // The pipes close with the process; give the readers a moment to take the last lines.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = stdout_reader.await;
        let _ = stderr_reader.await;
    })
    .await;
    let lines = stdout.borrow().clone();
    let mut stderr = stderr.borrow().clone();
    stderr.extend(note);
    ClientRun {
        success: success && lines.last().map(String::as_str) == Some(done),
        lines,
        stderr,
    }
}

async fn spawn(kind: BotKind, env: &[(&str, &str)]) -> BotProcess {
    let dir = compat_dir();
    let mut command = match kind {
        BotKind::Node => {
            let mut c = Command::new("node");
            c.arg("node/bot.js");
            c
        }
        BotKind::Python => {
            let mut c = Command::new(venv_python());
            c.arg("python/bot.py").env("PYTHONUNBUFFERED", "1");
            c
        }
    };
    for key in SDK_KEYS {
        command.env_remove(key);
    }
    command
        .current_dir(&dir)
        .env("PORT", "0")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{}: cannot spawn: {e}", kind.name()));
    let (stdout, stdout_reader) = collect_lines(child.stdout.take().unwrap());
    let (stderr, stderr_reader) = collect_lines(child.stderr.take().unwrap());
    let mut bot = BotProcess {
        port: 0,
        kind,
        _child: child,
        stdout,
        stderr,
        readers: [stdout_reader, stderr_reader],
    };
    let Some(line) = bot.wait_for_line(|l| l.starts_with("LISTENING "), START_TIMEOUT).await else {
        panic!(
            "{} did not print LISTENING within {START_TIMEOUT:?}; stdout: {:?}; stderr: {:?}",
            bot.kind.name(),
            bot.lines(),
            bot.stderr_lines()
        );
    };
    bot.port = line["LISTENING ".len()..]
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}: bad LISTENING line {line:?}: {e}", bot.kind.name()));
    bot
}

/// Reads `stream` line by line into a watch channel until it closes.
fn collect_lines(stream: impl AsyncRead + Unpin + Send + 'static) -> (watch::Receiver<Vec<String>>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(Vec::new());
    let reader = tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tx.send_modify(|all| all.push(line));
        }
    });
    (rx, reader)
}

fn compat_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../compat");
    dir.canonicalize().unwrap_or(dir)
}

fn venv_python() -> PathBuf {
    compat_dir().join("python/.venv/bin/python")
}

/// Installs `kind`'s dependencies at most once per test binary; the result, success or the
/// reason for failure, is shared by every test in it.
async fn ensure_installed(kind: BotKind) -> Result<(), String> {
    // A tokio OnceCell, not a std OnceLock: the install awaits child processes, and concurrent
    // tests must wait for the first one's install rather than start their own.
    static NODE: OnceCell<Result<(), String>> = OnceCell::const_new();
    static PYTHON: OnceCell<Result<(), String>> = OnceCell::const_new();
    let cell = match kind {
        BotKind::Node => &NODE,
        BotKind::Python => &PYTHON,
    };
    cell.get_or_init(|| async move {
        match kind {
            BotKind::Node => install_node().await,
            BotKind::Python => install_python().await,
        }
    })
    .await
    .clone()
}

async fn install_node() -> Result<(), String> {
    let dir = compat_dir();
    let installed = || node_modules_current(&dir);
    run(Command::new("node").arg("--version"), "node").await?;
    if installed() {
        return Ok(());
    }
    let _lock = InstallLock::acquire(&dir.join(".node-install.lock")).await?;
    if installed() {
        return Ok(());
    }
    run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir),
        "npm ci in compat/",
    )
    .await?;
    if installed() {
        Ok(())
    } else {
        Err("npm ci finished but compat/node_modules does not match compat/package.json".into())
    }
}

/// `compat/node_modules` is a finished install of what `compat/package.json` pins now: every
/// dependency is there at its exact version. An install made before a dependency was added or
/// bumped therefore counts as missing and is redone.
fn node_modules_current(dir: &Path) -> bool {
    let read = |path: PathBuf| -> Option<Value> { serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok() };
    // npm writes node_modules/.package-lock.json last, so its presence means a finished install.
    if !dir.join("node_modules/.package-lock.json").is_file() {
        return false;
    }
    let Some(manifest) = read(dir.join("package.json")) else {
        return false;
    };
    let Some(dependencies) = manifest["dependencies"].as_object() else {
        return false;
    };
    dependencies.iter().all(|(name, pinned)| {
        read(dir.join("node_modules").join(name).join("package.json")).is_some_and(|p| p["version"] == *pinned)
    })
}

async fn install_python() -> Result<(), String> {
    let dir = compat_dir().join("python");
    let venv = dir.join(".venv");
    let python = venv_python();
    if python_installed(&python).await {
        return Ok(());
    }
    run(Command::new("python3").arg("--version"), "python3").await?;
    let _lock = InstallLock::acquire(&compat_dir().join(".python-install.lock")).await?;
    if python_installed(&python).await {
        return Ok(());
    }
    let result = async {
        run(
            Command::new("python3").args(["-m", "venv", ".venv"]).current_dir(&dir),
            "python3 -m venv compat/python/.venv",
        )
        .await?;
        run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "-q",
                    "-r",
                    "requirements.txt",
                ])
                .current_dir(&dir),
            "pip install -r compat/python/requirements.txt",
        )
        .await
    }
    .await;
    if result.is_err() {
        // A half-made venv would pass `is_file` next time and fail later in a less clear way.
        let _ = std::fs::remove_dir_all(&venv);
    }
    result
}

/// The venv exists and its interpreter can import both SDK packages.
async fn python_installed(python: &Path) -> bool {
    python.is_file()
        && run(
            Command::new(python).args(["-c", "import botbuilder.core, botbuilder.integration.aiohttp"]),
            "import botbuilder",
        )
        .await
        .is_ok()
}

/// Runs `command` to completion; `Err` says what failed and ends with its stderr.
async fn run(command: &mut Command, what: &str) -> Result<(), String> {
    command.stdin(Stdio::null()).kill_on_drop(true);
    let output = match tokio::time::timeout(INSTALL_TIMEOUT, command.output()).await {
        Err(_) => return Err(format!("{what} took longer than {INSTALL_TIMEOUT:?}")),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            let program = command.as_std().get_program().to_string_lossy().into_owned();
            return Err(format!("{what}: `{program}` is not on PATH"));
        }
        Ok(Err(e)) => return Err(format!("{what}: {e}")),
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!("{what} failed with {}: {}", output.status, tail.join(" | ")))
}

/// An exclusive lock between test binaries, held while one of them installs: a file created with
/// `create_new` and removed on drop. A lock whose holder has died is taken over.
struct InstallLock(PathBuf);

impl InstallLock {
    async fn acquire(path: &Path) -> Result<Self, String> {
        let started = tokio::time::Instant::now();
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(mut file) => {
                    use std::io::Write;
                    let _ = write!(file, "{}", std::process::id());
                    return Ok(Self(path.to_path_buf()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if Self::is_stale(path) {
                        let _ = std::fs::remove_file(path);
                        continue;
                    }
                    if started.elapsed() > LOCK_WAIT {
                        return Err(format!("{} held for longer than {LOCK_WAIT:?}", path.display()));
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
            }
        }
    }

    /// The holder's process is gone (Linux: no `/proc/<pid>`), or the lock is older than any
    /// install could take.
    fn is_stale(path: &Path) -> bool {
        let holder = std::fs::read_to_string(path).unwrap_or_default();
        let proc_dir = Path::new("/proc");
        if proc_dir.is_dir() && !holder.trim().is_empty() && !proc_dir.join(holder.trim()).exists() {
            return true;
        }
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())
            .is_some_and(|age| age > LOCK_WAIT)
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
