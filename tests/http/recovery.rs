//! Forgotten passwords: the forgot form, the mailed link, the reset page and
//! the API, over real SMTP and through the file backend.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

const NEW: &str = "a brand new passphrase";
const FORGOT_ANSWER: &str =
    "If that account exists and has a verified email address, a link is on its way.";

/// An app sending through a fresh SMTP server, or None when none can run.
async fn app_with_smtp(extra: &[&str]) -> Option<(TestApp, SmtpSink)> {
    let sink = SmtpSink::start()?;
    let url = sink.url();
    let mut args = vec!["--smtp-url", &url, "--base-url", "http://board.test"];
    args.extend_from_slice(extra);
    let app = spawn_app_with(&args).await;
    Some((app, sink))
}

/// The page without its per-request parts (the CSRF token).
fn stable(page: &str) -> String {
    regex::Regex::new(r#"value="[A-Za-z0-9_\-.]{20,}""#)
        .unwrap()
        .replace_all(page, "value=\"…\"")
        .into_owned()
}

#[tokio::test]
async fn forgot_password_answers_identically_for_an_existing_and_a_missing_account() {
    // The limits stay on (their slots are part of the work timed), above
    // what the test sends.
    let app = spawn_app_with(&[
        "--forgot-password-limit",
        "100/1h",
        "--forgot-password-limit-per-address",
        "100/1h",
    ])
    .await;
    app.verified_user("alice", "alice@example.com", &app.mail_dir)
        .await;
    app.logout().await;
    let visitor = app.new_browser();
    let form = visitor.get_text("/password/forgot").await;
    assert!(form.contains(r#"name="login""#), "{form}");

    // One token for every request, so that only the form's own work is timed.
    let token = visitor.csrf_token().await;
    let mut bodies = Vec::new();
    let (mut existing, mut missing) = (Vec::new(), Vec::new());
    for round in 0..8 {
        for (login, times) in [("alice", &mut existing), ("nobody_here", &mut missing)] {
            let started = Instant::now();
            let resp = visitor
                .post_form(
                    "/password/forgot",
                    &[("login", login), ("csrf_token", &token)],
                )
                .await;
            let status = resp.status();
            let body = resp.text().await.unwrap();
            times.push(started.elapsed());
            assert_eq!(status, StatusCode::OK, "{login} {round}");
            assert!(body.contains(FORGOT_ANSWER), "{body}");
            bodies.push(stable(&body));
        }
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "one answer for both"
    );
    existing.sort();
    missing.sort();
    // The fastest of each shows the work itself (a busy machine only adds
    // to it); the medians, with a wider band, that no case is slow.
    let (a, b) = (existing[0], missing[0]);
    assert!(
        a.abs_diff(b) < Duration::from_millis(30),
        "fastest {a:?} for an existing account, {b:?} for a missing one"
    );
    let (a, b) = (existing[existing.len() / 2], missing[missing.len() / 2]);
    assert!(
        a.abs_diff(b) < Duration::from_millis(100),
        "median {a:?} for an existing account, {b:?} for a missing one"
    );
}

#[tokio::test]
async fn the_login_page_links_to_the_forgot_form() {
    let app = spawn_app().await;
    let page = app.get_text("/login").await;
    assert!(
        page.contains(r#"href="/password/forgot">Forgot your password?</a>"#),
        "{page}"
    );
}

#[tokio::test]
async fn the_reset_mail_arrives_over_smtp_and_its_link_works_once() {
    let Some((app, sink)) = app_with_smtp(&[]).await else {
        return;
    };
    app.verified_user("alice", "Alice@Example.com", &sink.dir)
        .await;
    let other = app.new_browser();
    other.logged_in("alice").await;
    app.logout().await;

    // By the address, in another case.
    let resp = app
        .submit("/password/forgot", &[("login", "alice@example.COM")])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mail = &wait_for_mail(&sink.dir, "Subject: Reset your Tangerine password").await;
    assert!(mail.contains("X-Envelope-To: Alice@Example.com"), "{mail}");
    assert!(
        mail.contains("Subject: Reset your Tangerine password"),
        "{mail}"
    );
    assert!(mail.contains("http://board.test/password/reset/"), "{mail}");
    let link = link_in(mail, "/password/reset/");

    // Opening the link (twice) uses nothing up.
    for _ in 0..2 {
        let resp = app.get(&link).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
        let page = resp.text().await.unwrap();
        assert!(
            page.contains(r#"name="new_password""#)
                && page.contains(r#"name="new_password_confirm""#)
        );
    }

    // A password rule refuses: the link stays valid.
    let resp = app
        .submit(
            &link,
            &[("new_password", "short"), ("new_password_confirm", "short")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");

    let resp = app
        .submit(
            &link,
            &[("new_password", NEW), ("new_password_confirm", NEW)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookie(&resp, "tangerine_session").is_some(),
        "a fresh session"
    );
    assert!(
        set_cookie(&resp, "tangerine_device").is_some(),
        "a device cookie"
    );
    assert!(app.get_text("/").await.contains("Your password is reset"));
    assert_eq!(app.get("/api/me").await.status(), StatusCode::OK);
    // The other session ends on its next request.
    assert_eq!(
        other.get("/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A second use, and opening it again: 410, no form.
    for resp in [
        app.submit(
            &link,
            &[
                ("new_password", "another passphrase"),
                ("new_password_confirm", "another passphrase"),
            ],
        )
        .await,
        app.get(&link).await,
    ] {
        assert_eq!(resp.status(), StatusCode::GONE);
        let page = resp.text().await.unwrap();
        assert!(page.contains("This link no longer works"), "{page}");
        assert!(!page.contains("new_password"), "no form");
    }
    let fresh = app.new_browser();
    assert_eq!(
        fresh.login("alice", NEW).await.status(),
        StatusCode::SEE_OTHER
    );

    // A notice of the reset went out too. Notices are sent after the
    // answer, so the new login's notice may arrive before it: wait for this
    // one by its subject, not for a count of messages.
    let notice = wait_for_mail(&sink.dir, "Subject: Your Tangerine password was reset").await;
    assert!(
        notice.contains("X-Envelope-To: Alice@Example.com"),
        "{notice}"
    );
}

#[tokio::test]
async fn a_reset_link_fails_after_its_lifetime() {
    // A lifetime with room for a loaded machine to deliver the mail first.
    const LIFETIME: Duration = Duration::from_secs(5);
    let app = spawn_app_with(&["--reset-token-lifetime", "5s"]).await;
    app.verified_user("alice", "alice@example.com", &app.mail_dir)
        .await;
    let asked = tokio::time::Instant::now();
    app.submit("/password/forgot", &[("login", "alice")]).await;
    let mail = wait_for_mail(&app.mail_dir, "/password/reset/").await;
    // The token was made after `asked` and before its mail arrived.
    let expired_by = tokio::time::Instant::now() + LIFETIME;
    let link = link_in(&mail, "/password/reset/");
    assert_eq!(app.get(&link).await.status(), StatusCode::OK);
    assert!(
        asked.elapsed() < LIFETIME,
        "the mail took longer than the link's lifetime"
    );
    tokio::time::sleep_until(expired_by + Duration::from_millis(500)).await;
    assert_eq!(app.get(&link).await.status(), StatusCode::GONE);
    let resp = app
        .submit(
            &link,
            &[("new_password", NEW), ("new_password_confirm", NEW)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::GONE);
}

#[tokio::test]
async fn a_reset_link_fails_once_the_password_changed_another_way() {
    let app = spawn_app().await;
    app.verified_user("alice", "alice@example.com", &app.mail_dir)
        .await;
    app.submit("/password/forgot", &[("login", "alice")]).await;
    let mail = wait_for_mail(&app.mail_dir, "/password/reset/").await;
    let link = link_in(&mail, "/password/reset/");
    let resp = app
        .submit(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW),
                ("new_password_confirm", NEW),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&link).await.status(), StatusCode::GONE);
}

#[tokio::test]
async fn email_verification_gates_recovery() {
    let app = spawn_app().await;
    let resp = app
        .submit(
            "/signup",
            &[
                ("username", "alice"),
                ("email", "alice@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let mails = wait_for_mails(&app.mail_dir, 1).await;
    let verify = link_in(&mails[0], "/email/verify/");
    for login in ["alice", "alice@example.com"] {
        let resp = app.submit("/password/forgot", &[("login", login)]).await;
        assert!(resp.text().await.unwrap().contains(FORGOT_ANSWER));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        mails_in(&app.mail_dir).len(),
        1,
        "no link to an unverified address"
    );

    assert_eq!(app.submit(&verify, &[]).await.status(), StatusCode::OK);
    app.submit("/password/forgot", &[("login", "alice")]).await;
    wait_for_mail(&app.mail_dir, "/password/reset/").await;
}

#[tokio::test]
async fn forgot_password_is_limited_per_account_and_per_address() {
    let app = spawn_app_with(&[
        "--forgot-password-limit",
        "2/1h",
        "--forgot-password-limit-per-address",
        "4/1h",
    ])
    .await;
    app.signed_up("alice").await;
    for _ in 0..2 {
        let resp = app.submit("/password/forgot", &[("login", "alice")]).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let resp = app.submit("/password/forgot", &[("login", "ALICE")]).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    // Other names from the same address, up to the address's limit.
    let resp = app
        .api_post("/api/password/forgot", json!({"login": "bob"}))
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let resp = app
        .api_post("/api/password/forgot", json!({"login": "carol"}))
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let resp = app
        .api_post("/api/password/forgot", json!({"login": "dave"}))
        .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
}

#[tokio::test]
async fn the_api_resets_a_password_with_a_mailed_token_once() {
    let app = spawn_app().await;
    app.verified_user("alice", "alice@example.com", &app.mail_dir)
        .await;
    let other = app.new_browser();
    other.logged_in("alice").await;

    let client = app.new_browser();
    let resp = client
        .api_post("/api/password/forgot", json!({"login": "nobody"}))
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let resp = client
        .api_post("/api/password/forgot", json!({"login": "alice"}))
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let mail = wait_for_mail(&app.mail_dir, "/password/reset/").await;
    let link = link_in(&mail, "/password/reset/");
    let token = link.trim_start_matches("/password/reset/");

    let resp = client
        .api_post(
            "/api/password/reset",
            json!({"token": "not-a-token", "new_password": NEW}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");

    let resp = client
        .api_post(
            "/api/password/reset",
            json!({"token": token, "new_password": "alice"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().starts_with("password_"),
        "{body}"
    );

    let resp = client
        .api_post(
            "/api/password/reset",
            json!({"token": token, "new_password": NEW}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(set_cookie(&resp, "tangerine_session").is_some());
    let me: serde_json::Value = client.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["username"], "alice");
    assert_eq!(
        other.get("/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );

    let resp = client
        .api_post(
            "/api/password/reset",
            json!({"token": token, "new_password": "yet another phrase"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // The password change of the API ended nothing it should not have.
    assert_eq!(
        client.api_send(Method::GET, "/api/me", None).await.status(),
        StatusCode::OK
    );
}

const BIN: &str = env!("CARGO_BIN_EXE_tangerine");

#[tokio::test]
async fn user_reset_link_prints_a_working_one_time_link_and_needs_a_base_url() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let url = app.database.url.clone();
    let out = std::process::Command::new(BIN)
        .args(["user", "reset-link", "alice", "--database-url", &url])
        .env_remove("TANGERINE_BASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--base-url") && stderr.lines().count() == 1,
        "{stderr}"
    );

    let out = std::process::Command::new(BIN)
        .args([
            "user",
            "reset-link",
            "alice",
            "--base-url",
            "https://board.example/",
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        printed.starts_with("https://board.example/password/reset/"),
        "{printed}"
    );
    let link = link_in(&printed, "/password/reset/");
    let resp = app
        .submit(
            &link,
            &[("new_password", NEW), ("new_password_confirm", NEW)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&link).await.status(), StatusCode::GONE);

    let out = std::process::Command::new(BIN)
        .args([
            "user",
            "reset-link",
            "nobody",
            "--base-url",
            "https://board.example",
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no account named `nobody`"));
}

#[tokio::test]
async fn serving_with_smtp_but_no_base_url_exits_2_naming_base_url_without_the_password() {
    let out = std::process::Command::new(BIN)
        .args([
            "--smtp-url",
            "smtp://mailer:s3cr3t-pw@mail.example:587",
            "--addr",
            "127.0.0.1:0",
        ])
        .env_remove("TANGERINE_BASE_URL")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--base-url"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("s3cr3t-pw"), "{stderr}");

    let out = std::process::Command::new(BIN)
        .args([
            "--smtp-url",
            "ftp://mailer:s3cr3t-pw@mail.example",
            "--base-url",
            "https://b.example",
            "--addr",
            "127.0.0.1:0",
        ])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--smtp-url") && !stderr.contains("s3cr3t-pw"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_reset_form_posts_from_its_no_referrer_page_as_browsers_send_it() {
    let app = spawn_app().await;
    app.verified_user("alice", "alice@example.com", &app.mail_dir)
        .await;
    app.submit("/password/forgot", &[("login", "alice")]).await;
    let mail = wait_for_mail(&app.mail_dir, "/password/reset/").await;
    let link = link_in(&mail, "/password/reset/");
    let token = app.csrf_token().await;
    let form = [
        ("new_password", NEW),
        ("new_password_confirm", NEW),
        ("csrf_token", token.as_str()),
    ];
    // Another site's page (or a sandboxed frame) is refused…
    let resp = app
        .client
        .post(app.url(&link))
        .header("Origin", "null")
        .header("Sec-Fetch-Site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // …while the page itself, whose policy makes the browser write
    // `Origin: null`, is not.
    let resp = app
        .client
        .post(app.url(&link))
        .header("Origin", "null")
        .header("Sec-Fetch-Site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
}

/// Runs the binary with `args`, signs `alice` up with an address, and
/// returns its log once a line containing `until` appeared (or 20 s passed).
async fn log_of_a_signup_with_email(args: &[&str], until: &str) -> String {
    use std::io::BufRead;
    let database = TestDatabase::fresh().await;
    let mut child = std::process::Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--database-url", &database.url])
        .args(args)
        .env("RUST_LOG", "trace")
        .env_remove("TANGERINE_BASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
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
    let resp = browser
        .submit(
            "/signup",
            &[
                ("username", "alice"),
                ("email", "alice@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && !log.iter().any(|l| l.contains(until)) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            log.push(line);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    log.join("\n")
}

#[tokio::test]
async fn the_log_names_the_mail_file_but_never_the_link_inside_it() {
    let dir = std::env::temp_dir().join(format!(
        "tangerine-mail-log-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let dir_text = dir.display().to_string();
    let log = log_of_a_signup_with_email(&["--mail-dir", &dir_text], "mail written to").await;
    let mails = mails_in(&dir);
    assert_eq!(mails.len(), 1, "{log}");
    let link = link_in(&mails[0], "/email/verify/");
    let token = link.trim_start_matches("/email/verify/");
    let line = log
        .lines()
        .find(|l| l.contains("mail written to"))
        .unwrap_or_else(|| panic!("no line names the file:\n{log}"));
    assert!(line.contains(&dir_text) && line.contains(".eml"), "{line}");
    assert!(!log.contains(token), "the token leaked into:\n{log}");
    assert!(
        !log.contains("alice@example.com"),
        "the address leaked into:\n{log}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_smtp_password_and_the_link_stay_out_of_the_log_when_delivery_fails() {
    // Port 9 on this machine refuses: every delivery fails and is retried.
    let log = log_of_a_signup_with_email(
        &[
            "--smtp-url",
            "smtp://mailer:hunter2-smtp@127.0.0.1:9",
            "--base-url",
            "https://board.example",
        ],
        "will retry",
    )
    .await;
    assert!(log.contains("mail: through"), "{log}");
    assert!(log.contains("mail not delivered, will retry"), "{log}");
    assert!(
        !log.contains("hunter2-smtp"),
        "the SMTP password leaked into:\n{log}"
    );
    assert!(
        !log.contains("/email/verify/"),
        "a link leaked into:\n{log}"
    );
}

#[tokio::test]
async fn two_resets_with_one_token_at_once_succeed_once() {
    let app = spawn_app().await;
    app.verified_user("alice", "alice@example.com", &app.mail_dir)
        .await;
    app.submit("/password/forgot", &[("login", "alice")]).await;
    let mail = wait_for_mail(&app.mail_dir, "/password/reset/").await;
    let link = link_in(&mail, "/password/reset/");
    let token = link.trim_start_matches("/password/reset/").to_owned();
    let clients: Vec<Browser> = (0..4).map(|_| app.new_browser()).collect();
    let answers = futures_util::future::join_all(clients.iter().enumerate().map(|(i, c)| {
        let token = token.clone();
        async move {
            c.api_post(
                "/api/password/reset",
                json!({"token": token, "new_password": format!("concurrent passphrase {i}")}),
            )
            .await
            .status()
        }
    }))
    .await;
    let won = answers
        .iter()
        .filter(|s| **s == StatusCode::NO_CONTENT)
        .count();
    let refused = answers
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    assert_eq!((won, refused), (1, 3), "{answers:?}");
}
