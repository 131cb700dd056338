//! `tangerine user …`: accounts from the command line, on the database a
//! running server uses.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use reqwest::StatusCode;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_tangerine");

/// Runs `tangerine user ARGS` on `database_url`, with `stdin` written to it.
pub fn user_cli(database_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .arg("user")
        .args(args)
        .args(["--database-url", database_url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    {
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write stdin");
        }
    }
    child.wait_with_output().expect("the command ends")
}

/// Creates `name` with `role` and [`PASSWORD`] through the command line.
pub fn create_user(app: &TestApp, name: &str, role: &str) {
    let out = user_cli(
        &app.database.url,
        &["create", name, "--role", role, "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(
        out.status.success(),
        "user create {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn the_command_line_creates_an_admin_who_logs_in_and_sees_the_admin_pages() {
    let app = spawn_app().await;
    let out = user_cli(
        &app.database.url,
        &["create", "Root", "--role", "admin", "--password-stdin"],
        Some(&format!("{PASSWORD}\r\n")),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(!printed.contains(PASSWORD) && !stderr(&out).contains(PASSWORD));

    // The trailing "\r\n" is not part of the password.
    app.browser.logged_in("root").await;
    let resp = app.browser.get("/admin").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("id=\"person-root\""));
}

#[tokio::test]
async fn create_without_a_terminal_or_password_stdin_is_a_usage_error() {
    let app = spawn_app().await;
    let out = user_cli(&app.database.url, &["create", "alice"], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--password-stdin"),
        "{}",
        stderr(&out)
    );
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn the_sign_up_password_rules_apply_and_a_taken_name_is_refused() {
    let app = spawn_app().await;
    let out = user_cli(
        &app.database.url,
        &["create", "alice", "--password-stdin"],
        Some("short\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    create_user(&app, "alice", "member");
    let out = user_cli(
        &app.database.url,
        &["create", "alice", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("taken"), "{}", stderr(&out));
}

#[tokio::test]
async fn set_password_ends_every_session_of_the_person() {
    let app = spawn_app().await;
    app.browser.signed_up("alice").await;
    let other = app.new_browser();
    other.logged_in("alice").await;
    let out = user_cli(
        &app.database.url,
        &["set-password", "alice", "--password-stdin"],
        Some("a brand new passphrase\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for browser in [&app.browser, &other] {
        let resp = browser.get("/settings").await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "the session ended");
    }
    let resp = app.browser.login("alice", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = app.browser.login("alice", "a brand new passphrase").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    // A credential change is staff business: not on the public log.
    let public = app.browser.get_text("/moderation").await;
    assert!(!public.contains("set the password"), "{public}");

    let out = user_cli(
        &app.database.url,
        &["set-password", "nobody", "--password-stdin"],
        Some("a brand new passphrase\n"),
    );
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn roles_suspension_and_the_list_from_the_command_line() {
    let app = spawn_app().await;
    create_user(&app, "root", "admin");
    app.browser.signed_up("alice").await;
    app.browser.publish("Hello", "World").await;

    let out = user_cli(&app.database.url, &["role", "root", "member"], None);
    assert_eq!(out.status.code(), Some(1), "the last admin stays");
    assert!(
        stderr(&out).contains("last active admin"),
        "{}",
        stderr(&out)
    );
    let out = user_cli(&app.database.url, &["suspend", "root"], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the last admin cannot be suspended"
    );

    let out = user_cli(&app.database.url, &["role", "alice", "moderator"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = user_cli(&app.database.url, &["role", "alice", "owner"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = user_cli(&app.database.url, &["role", "nobody", "admin"], None);
    assert_eq!(out.status.code(), Some(1));

    let out = user_cli(
        &app.database.url,
        &["suspend", "alice", "--reason", "spam"],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        app.browser.get("/settings").await.status(),
        StatusCode::SEE_OTHER,
        "the suspension ended alice's session"
    );

    let out = user_cli(&app.database.url, &["list"], None);
    assert_eq!(out.status.code(), Some(0));
    let list = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = list.lines();
    assert_eq!(
        lines.next(),
        Some("NAME\tROLE\tSTATUS\tJOINED\tLAST_ACTIVE\tPOSTS\tSESSIONS")
    );
    let alice: Vec<&str> = lines
        .clone()
        .find(|l| l.starts_with("alice\t"))
        .unwrap()
        .split('\t')
        .collect();
    assert_eq!(alice[1], "moderator");
    assert_eq!(alice[2], "suspended");
    assert!(
        chrono::DateTime::parse_from_rfc3339(alice[3]).is_ok(),
        "{list}"
    );
    assert_eq!(alice[5], "1");
    assert_eq!(alice[6], "0");
    let root: Vec<&str> = lines
        .find(|l| l.starts_with("root\t"))
        .unwrap()
        .split('\t')
        .collect();
    assert_eq!(&root[1..3], ["admin", "active"]);
    assert_eq!(root[4], "-", "never active");

    let out = user_cli(&app.database.url, &["unsuspend", "alice"], None);
    assert_eq!(out.status.code(), Some(0));
    app.browser.logged_in("alice").await;

    // The log names the command line.
    let log = app.browser.get_text("/moderation").await;
    assert!(log.contains("command line"), "{log}");
    assert!(log.contains("spam"));
}

#[tokio::test]
async fn every_user_subcommand_has_help() {
    for sub in [
        "create",
        "set-password",
        "role",
        "suspend",
        "unsuspend",
        "list",
    ] {
        let out = Command::new(BIN)
            .args(["user", sub, "--help"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{sub}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
    }
}
