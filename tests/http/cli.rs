//! The `tangerine` binary as an operator uses it: subcommands, flags,
//! environment variables, signals.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use reqwest::StatusCode;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_tangerine");

/// Starts `tangerine serve` on port 0 and returns it with its address, read
/// off its start-up log line.
fn serve(database_url: &str, envs: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--database-url", database_url])
        .env_remove("TANGERINE_SECURE_COOKIES")
        .envs(envs.iter().copied())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let address = wait_until_serving(&mut child);
    (child, address)
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn serve_answers_and_exits_0_on_sigterm() {
    let database = TestDatabase::fresh().await;
    let (mut child, address) = serve(&database.url, &[]);
    let resp = bare_client()
        .get(format!("{address}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    sigterm(&child);
    let status = wait_with_timeout(&mut child, Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
}

/// The signal handlers are in place before the server says it is serving: a
/// SIGTERM that comes at once still ends it gracefully, with exit code 0.
#[tokio::test]
async fn sigterm_right_after_start_up_exits_0() {
    let database = TestDatabase::fresh().await;
    for _ in 0..3 {
        let (mut child, _) = serve(&database.url, &[]);
        sigterm(&child);
        let status = wait_with_timeout(&mut child, Duration::from_secs(15));
        assert_eq!(status.code(), Some(0));
    }
}

#[tokio::test]
async fn switch_environment_variables_accept_true_false_1_and_0() {
    let database = TestDatabase::fresh().await;
    for (value, secure) in [("1", true), ("true", true), ("0", false), ("false", false)] {
        let (mut child, address) = serve(&database.url, &[("TANGERINE_SECURE_COOKIES", value)]);
        let resp = bare_client()
            .get(format!("{address}/login"))
            .send()
            .await
            .unwrap();
        let names = set_cookies(&resp);
        let expected = if secure {
            "__Host-tangerine_csrf="
        } else {
            "tangerine_csrf="
        };
        assert!(
            names.iter().any(|c| c.starts_with(expected)),
            "{value}: {names:?}"
        );
        sigterm(&child);
        wait_with_timeout(&mut child, Duration::from_secs(15));
    }
}

#[tokio::test]
async fn migrate_prepares_a_fresh_database() {
    let database = TestDatabase::fresh().await;
    let out = Command::new(BIN)
        .args(["migrate", "--database-url", &database.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Applying them again finds nothing to do.
    let again = Command::new(BIN)
        .args(["--database-url", &database.url, "migrate"])
        .output()
        .unwrap();
    assert!(again.status.success());
}

#[tokio::test]
async fn clear_sessions_deletes_expired_sessions_and_prints_how_many() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    app.insert_expired_sessions(3).await;
    assert_eq!(app.count("sessions").await, 4);

    // Flags after the subcommand work as well as before it.
    let out = Command::new(BIN)
        .args(["clear-sessions", "--database-url", &app.database.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3");
    assert_eq!(app.count("sessions").await, 1);
    assert!(app.get_text("/").await.contains("Welcome, alice"));

    let out = Command::new(BIN)
        .args(["--database-url", &app.database.url, "clear-sessions"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
}

#[tokio::test]
async fn a_bad_flag_value_is_a_clear_error() {
    let out = Command::new(BIN)
        .args(["--session-idle", "forever", "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--session-idle") && err.contains("14d"),
        "{err}"
    );
}

#[tokio::test]
async fn logs_carry_no_password_secret_or_token() {
    let database = TestDatabase::fresh().await;
    let mut child = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--database-url", &database.url])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let address = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a start-up line");
        log.push(line.clone());
        if let Some(address) = serving_address(&line) {
            break address;
        }
    };
    let browser = Browser::new(address);
    let resp = browser.signup("alice", PASSWORD).await;
    let secret = cookie_value(&set_cookie(&resp, "tangerine_session").unwrap());
    let token = browser.csrf_token().await;
    browser.logout().await;
    browser.login("alice", "a wrong password").await;
    sigterm(&child);
    wait_with_timeout(&mut child, Duration::from_secs(15));
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
        log.push(line);
    }
    let log = log.join("\n");
    assert!(
        log.contains("POST /login 422"),
        "one line per request:\n{log}"
    );
    for secret_thing in [PASSWORD, "a wrong password", &secret, &token] {
        assert!(
            !log.contains(secret_thing),
            "{secret_thing} leaked into:\n{log}"
        );
    }
}

#[tokio::test]
async fn listening_beyond_loopback_without_secure_cookies_warns() {
    let database = TestDatabase::fresh().await;
    let mut child = Command::new(BIN)
        .args(["--addr", "0.0.0.0:0", "--database-url", &database.url])
        .env_remove("TANGERINE_SECURE_COOKIES")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut warned = false;
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        warned |= line.contains("WARN") && line.contains("--secure-cookies");
        if line.contains("Tangerine is serving") {
            break;
        }
    }
    sigterm(&child);
    wait_with_timeout(&mut child, Duration::from_secs(15));
    assert!(warned, "no warning about --secure-cookies");
}
