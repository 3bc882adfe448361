//! Sign-in under attack (issue 17, item 6): guessing passwords is slowed per account and per
//! client address, and password checks (argon2, 19 MiB each) run a bounded few at a time, so a
//! burst of sign-ins cannot blow up the hub's memory.
//!
//! The memory test starts the real `switchboard` binary and reads its resident set from
//! `/proc/PID/status`; the throttling tests run the hub in-process, telling client addresses
//! apart with `X-Forwarded-For` from a trusted proxy (the test itself, on loopback).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard::config;

mod common;
use common::TestHub;
use common::people::PASSWORD;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// The sample's people, each with a password in the file.
const PEOPLE: [&str; 5] = ["alice", "bob", "carol", "sam", "ada"];

/// The sample on a free SIP port (its built-in bots are served on the hub's own listener), with
/// `extra` added.
fn sample_with(extra: &str) -> String {
    let text = config::SAMPLE.replace("sip = \"127.0.0.1:5060\"", "sip = \"127.0.0.1:0\"");
    format!("{text}\n{extra}")
}

/// The client at `address`, as a trusted proxy on loopback reports it.
const TRUSTED_LOOPBACK: &str = "[security]\ntrusted_proxies = [\"127.0.0.1/32\"]\n";

async fn sign_in(base: &str, name: &str, password: &str, from: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/sessions"))
        .header("x-forwarded-for", from)
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn after_five_wrong_passwords_an_account_waits_even_with_the_right_one_and_others_are_unaffected() {
    let f = TestHub::new("sign-in-account", &sample_with(TRUSTED_LOOPBACK)).await;
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..30 {
        let response = sign_in(&f.base, "alice", "not-her-password", "198.51.100.1").await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 && refused.is_none() {
            let retry_after = response.headers()["retry-after"].to_str().unwrap().to_owned();
            refused = Some((retry_after, response.json::<Value>().await.unwrap()));
        }
    }
    assert_eq!(
        statuses[..5],
        [401; 5],
        "five wrong passwords are checked: {statuses:?}"
    );
    assert_eq!(statuses[5..], [429; 25], "the rest wait: {statuses:?}");
    let (retry_after, body) = refused.unwrap();
    assert_eq!(retry_after, "1", "the first wait is a second");
    assert_eq!(body["error"]["code"], "too_many_attempts", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("try again in 1 s"),
        "{body}"
    );

    // The right password does not help while the account waits: it is not even checked.
    let response = sign_in(&f.base, "alice", PASSWORD, "198.51.100.1").await;
    assert_eq!(response.status(), 429);
    // Nor does another address: the account itself waits.
    let response = sign_in(&f.base, "alice", PASSWORD, "203.0.113.7").await;
    assert_eq!(response.status(), 429);
    // Another person from another address signs in as usual.
    let response = sign_in(&f.base, "bob", PASSWORD, "203.0.113.7").await;
    assert_eq!(response.status(), 201);

    // Once the wait is over, the right password works (and clears the account's record).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = sign_in(&f.base, "alice", PASSWORD, "198.51.100.1").await;
    assert_eq!(response.status(), 201);
    let response = sign_in(&f.base, "alice", "not-her-password", "198.51.100.1").await;
    assert_eq!(response.status(), 401, "a success starts the account's count again");
    f.finish().await;
}

#[tokio::test]
async fn one_address_guessing_many_names_waits_after_twenty_and_unknown_names_count_too() {
    let f = TestHub::new("sign-in-address", &sample_with(TRUSTED_LOOPBACK)).await;
    // Twenty names, none of them real: each is a wrong guess against the address.
    for n in 0..20 {
        let response = sign_in(&f.base, &format!("nobody-{n}"), "guess", "192.0.2.50").await;
        assert_eq!(response.status(), 401, "guess {n}");
    }
    // The twenty-first, even for a real person with the right password, waits.
    let response = sign_in(&f.base, "carol", PASSWORD, "192.0.2.50").await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    // Carol from her own address is not held up by someone else's guessing.
    let response = sign_in(&f.base, "carol", PASSWORD, "192.0.2.51").await;
    assert_eq!(response.status(), 201);

    // An unknown name is throttled like a real one: probing does not tell them apart.
    for _ in 0..5 {
        let response = sign_in(&f.base, "ghost", "guess", "192.0.2.52").await;
        assert_eq!(response.status(), 401);
    }
    let response = sign_in(&f.base, "ghost", "guess", "192.0.2.53").await;
    assert_eq!(response.status(), 429);
    f.finish().await;
}

/// `switchboard serve` as a child process over its own directory, killed when dropped.
struct HubProcess {
    child: Child,
    dir: PathBuf,
    base: String,
}

impl HubProcess {
    fn start(tag: &str, config: &str) -> Self {
        let dir = common::unique_dir(tag);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hub.toml"), config).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(BIN)
            .args([
                "serve",
                "--config",
                "hub.toml",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .current_dir(&dir)
            .env("SWITCHBOARD_ADMIN_TOKEN", common::ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("hub.log")).unwrap())
            .spawn()
            .unwrap();
        Self {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the hub exited at start ({status}):\n{}", self.log());
            }
            if let Ok(response) = reqwest::get(format!("{}/readyz", self.base)).await
                && response.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the hub was not ready in time:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("hub.log")).unwrap_or_default()
    }

    /// A field of `/proc/PID/status` in MiB (`VmRSS`: resident now, `VmHWM`: the peak).
    fn memory_mib(&self, field: &str) -> u64 {
        memory_mib(self.child.id(), field)
    }
}

fn memory_mib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("unreadable {line}"));
    kib / 1024
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_sign_ins_at_once_keep_the_hub_within_100_mb_of_idle() {
    // Limits high enough that every one of the 64 is a real password check, none throttled.
    let limits = "[limits]\nsign_in_account_failures = 1000\nsign_in_address_failures = 1000\n";
    let mut hub = HubProcess::start("sign-in-memory", &sample_with(&format!("{TRUSTED_LOOPBACK}{limits}")));
    hub.wait_ready().await;
    let idle = hub.memory_mib("VmRSS");

    let started = Instant::now();
    let attempts = (0..64).map(|n| {
        let base = hub.base.clone();
        async move {
            let name = PEOPLE[n % PEOPLE.len()];
            sign_in(&base, name, "wrong-password", &format!("198.51.100.{n}"))
                .await
                .status()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    let took = started.elapsed();
    assert!(
        statuses.iter().all(|s| *s == 401),
        "every attempt was checked: {statuses:?}"
    );

    let (now, peak) = (hub.memory_mib("VmRSS"), hub.memory_mib("VmHWM"));
    println!("sign-in memory: idle {idle} MiB, after 64 concurrent sign-ins {now} MiB, peak {peak} MiB ({took:?})");
    assert!(
        peak <= idle + 100,
        "64 sign-ins at once took the hub from {idle} MiB to a peak of {peak} MiB"
    );
}
