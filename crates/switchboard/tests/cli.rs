//! The `switchboard` binary as a user runs it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn sample_path() -> String {
    format!("{}/../../config/sample.toml", env!("CARGO_MANIFEST_DIR"))
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn check_config_prints_ok_for_the_sample() {
    let out = Command::new(BIN)
        .args(["check-config", &sample_path()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
}

#[test]
fn check_config_names_the_file_line_and_missing_queue() {
    let dir = temp_dir("broken");
    let text = std::fs::read_to_string(sample_path())
        .unwrap()
        .replace("queue = \"CreditCardQueue\"", "queue = \"CreditCardQueu\"");
    let path = dir.join("broken.toml");
    std::fs::write(&path, &text).unwrap();
    let out = Command::new(BIN)
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = text.lines().position(|l| l.contains("CreditCardQueu\"")).unwrap() + 1;
    assert!(stderr.contains(&format!("broken.toml:{line}:9: error:")), "{stderr}");
    assert!(stderr.contains("`CreditCardQueu`"), "{stderr}");
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_config_explains_an_unreadable_file() {
    let out = Command::new(BIN)
        .args(["check-config", "/no/such/file.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.toml: cannot read the configuration"));
}

#[test]
fn help_explains_every_command() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "check-config"] {
        assert!(help.contains(command), "{help}");
    }
    let out = Command::new(BIN).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--config", "--listen", "--database-url", "--log-format"] {
        assert!(help.contains(flag), "{help}");
    }
}

#[cfg(unix)]
#[test]
fn serve_runs_with_the_built_in_sample_and_stops_gracefully_on_sigterm() {
    let dir = temp_dir("serve");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
            // Any free UDP port rather than the sample's 5060: the flag overrides [voice] sip.
            "--sip",
            "127.0.0.1:0",
        ])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_ready(port);
    assert!(
        dir.join("data/switchboard.db").exists(),
        "the default SQLite file is created under ./data"
    );
    // An operation the hub does not offer is the caller's mistake: 501, not an ERROR line.
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(
            b"POST /v3/conversations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        )
        .unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 501"), "{response}");
    }
    let lines = stop_and_read_log(child);
    assert!(
        lines.iter().any(|l| l["message"] == "switchboard is serving"),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l["message"] == "shutdown complete"), "{lines:#?}");
    let sip = lines
        .iter()
        .find(|l| l["message"] == "voice channel is taking calls")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let sip = sip["sip"].as_str().unwrap();
    assert!(sip.starts_with("Some(127.0.0.1:") && !sip.contains(":5060"), "{sip}");
    assert!(
        lines.iter().any(|l| l["level"] == "INFO" && l["http.status"] == 501),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l["level"] == "ERROR"),
        "a 501 is not an error of the hub's: {lines:#?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A free loopback TCP port.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Waits (30 s at most) until the server on `port` answers `/readyz` with 200.
fn wait_until_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut response = String::new();
            s.read_to_string(&mut response).unwrap();
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
            return;
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGTERM, waits (15 s at most) for a clean exit, and returns the JSON log lines.
#[cfg(unix)]
fn stop_and_read_log(mut child: std::process::Child) -> Vec<serde_json::Value> {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(exit.success(), "{stderr}");
    stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect()
}

#[cfg(unix)]
#[test]
fn serve_warns_once_for_each_anonymous_bot_naming_the_networks_it_is_accepted_from() {
    let dir = temp_dir("anonymous");
    let mut text = std::fs::read_to_string(sample_path()).unwrap();
    // SIP on a free port (tests run in parallel); the built-in bots need none.
    text = text.replace("sip = \"127.0.0.1:5060\"", "sip = \"127.0.0.1:0\"");
    text.push_str("\n[security]\nanonymous_bot_networks = [\"10.9.9.0/24\", \"127.0.0.1\"]\n");
    let config = dir.join("hub.toml");
    std::fs::write(&config, text).unwrap();
    let port = free_port();
    let child = Command::new(BIN)
        .args([
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &format!("sqlite://{}/hub.db", dir.display()),
            "--log-format",
            "json",
        ])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_ready(port);
    let lines = stop_and_read_log(child);
    for bot in ["DemoBot", "SurveyBot", "KnowledgeBot"] {
        let warnings: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l["level"] == "WARN" && l["bot"] == bot)
            .collect();
        assert_eq!(warnings.len(), 1, "one warning for {bot}: {lines:#?}");
        let message = warnings[0]["message"].as_str().unwrap();
        assert!(
            message.contains(bot) && message.contains("10.9.9.0/24, 127.0.0.1/32"),
            "{message}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs `switchboard ARGS` with `stdin` on standard input.
fn run_with_input(args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before reading its input closes the pipe early; that is its answer.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

#[test]
fn user_add_passwd_and_list_manage_who_can_sign_in() {
    let dir = temp_dir("people");
    let config = dir.join("hub.toml");
    std::fs::copy(sample_path(), &config).unwrap();
    let db = format!("sqlite://{}/hub.db", dir.display());
    let config_arg = config.to_str().unwrap();

    let out = run_with_input(
        &[
            "user",
            "add",
            "dave",
            "--config",
            config_arg,
            "--database-url",
            &db,
            "--display-name",
            "Dave Kim",
            "--capacity",
            "2",
            "--queue",
            "CreditCardQueue",
        ],
        "dave-password\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("name = \"dave\"\ndisplay_name = \"Dave Kim\""), "{text}");
    assert!(text.contains("members = [\"alice\", \"carol\", \"dave\"]"), "{text}");
    assert!(text.contains("# Demo people."), "the file's comments stay");

    let again = run_with_input(
        &["user", "add", "dave", "--config", config_arg, "--database-url", &db],
        "x\n",
    );
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let short = run_with_input(
        &["user", "passwd", "alice", "--config", config_arg, "--database-url", &db],
        "short\n",
    );
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8"));
    let out = run_with_input(
        &["user", "passwd", "alice", "--config", config_arg, "--database-url", &db],
        "alice-new-pass\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let unknown = run_with_input(
        &["user", "passwd", "zed", "--config", config_arg, "--database-url", &db],
        "whatever-pass\n",
    );
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no person named `zed`"));

    let list = Command::new(BIN)
        .args(["user", "list", "--config", config_arg, "--database-url", &db])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    let line = |name: &str| {
        listed
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("dave ").contains("database") && line("dave ").contains("CreditCardQueue"),
        "{listed}"
    );
    assert!(line("alice ").contains("database"), "{listed}");
    assert!(line("bob ").contains("file"), "{listed}");

    let hash = run_with_input(&["user", "hash"], "some-password\n");
    assert!(String::from_utf8_lossy(&hash.stdout).starts_with("$argon2id$"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The sample without its built-in bots and with SIP on a free port, so that several hubs run
/// at once.
fn sample_on_free_ports() -> String {
    // The built-in bots are served on the hub's own listener: only SIP needs a port.
    std::fs::read_to_string(sample_path())
        .unwrap()
        .replace("sip = \"127.0.0.1:5060\"", "sip = \"127.0.0.1:0\"")
}

/// `GET path` over plain HTTP/1.1 with `Authorization: Bearer token`; the whole response.
fn get_with_bearer(port: u16, path: &str, token: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    response
}

#[cfg(unix)]
#[test]
fn serve_without_an_admin_token_writes_one_to_a_file_only_its_user_reads_and_never_logs_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("admin-token");
    std::fs::write(dir.join("hub.toml"), sample_on_free_ports()).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let log = dir.join("hub.log");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--config",
            "hub.toml",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(&dir)
        .env_remove("SWITCHBOARD_ADMIN_TOKEN")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // The port is bound before the hub is built: wait until it answers.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        || !get_with_bearer(port, "/readyz", "-").starts_with("HTTP/1.1 200")
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "{}",
            std::fs::read_to_string(&log).unwrap()
        );
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let file = dir.join("data/admin-token");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the hub's user may read it ({mode:o})");
    let token = std::fs::read_to_string(&file).unwrap();
    assert_eq!(token.len(), 32, "{token:?}");
    let answer = get_with_bearer(port, "/api/v1/conversations", &token);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the file's token is the admin token: {answer}"
    );
    let answer = get_with_bearer(port, "/api/v1/conversations", "not-the-token");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains(&token), "the token is not in the log:\n{logged}");
    assert!(
        logged.contains("data/admin-token"),
        "the log says where it is:\n{logged}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
