//! Email addresses: given at sign-up or in the settings, verified by a
//! mailed link, kept private; and the security notices sent to them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn without_smtp_a_sign_up_with_an_address_writes_an_eml_with_its_verification_link() {
    let app = spawn_app().await;
    let form = app.get_text("/signup").await;
    assert!(form.contains(r#"type="email" name="email""#), "{form}");
    assert!(
        !form.contains(r#"name="email" value="" autocomplete="email" maxlength="254" required"#)
    );
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
    assert!(mails[0].contains("To: alice@example.com"), "{}", mails[0]);
    assert!(
        mails[0].contains("Subject: Confirm your email address"),
        "{}",
        mails[0]
    );
    let link = link_in(&mails[0], "/email/verify/");
    assert!(
        mails[0].contains("http://127.0.0.1:"),
        "links start with the address served"
    );

    // Opening it asks to confirm and changes nothing, in any browser.
    let elsewhere = app.new_browser();
    for _ in 0..2 {
        let page = elsewhere.get_text(&link).await;
        assert!(page.contains("Confirm this address"), "{page}");
    }
    assert!(
        app.get_text("/settings/email")
            .await
            .contains("not confirmed yet")
    );
    let resp = elsewhere.submit(&link, &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("alice@example.com is now the address")
    );
    assert!(
        app.get_text("/settings/email")
            .await
            .contains("(confirmed)")
    );
    // Single use.
    assert_eq!(
        elsewhere.submit(&link, &[]).await.status(),
        StatusCode::GONE
    );
    assert_eq!(elsewhere.get(&link).await.status(), StatusCode::GONE);
    assert_eq!(
        app.get("/email/verify/nonsense").await.status(),
        StatusCode::GONE
    );
}

#[tokio::test]
async fn a_malformed_address_at_sign_up_is_an_inline_error_and_makes_no_account() {
    let app = spawn_app().await;
    let resp = app
        .submit(
            "/signup",
            &[
                ("username", "alice"),
                ("email", "not an address"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text().await.unwrap();
    assert!(page.contains(r#"id="signup-email-error""#), "{page}");
    assert_eq!(app.count("users").await, 0);

    let resp = app
        .api_post(
            "/api/users",
            json!({"username": "alice", "password": PASSWORD, "email": "nope"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid");
}

#[tokio::test]
async fn the_api_takes_an_address_at_sign_up_and_never_shows_it_to_others() {
    let app = spawn_app().await;
    let resp = app
        .api_post(
            "/api/users",
            json!({"username": "alice", "password": PASSWORD, "email": "alice@example.com"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created = resp.text().await.unwrap();
    assert!(!created.contains("alice@example.com"), "{created}");
    let mails = wait_for_mails(&app.mail_dir, 1).await;
    assert!(mails[0].contains("/email/verify/"));
    let other = app.new_browser();
    other.api_user("bob").await;
    for path in ["/api/users/alice", "/api/me", "/u/alice"] {
        let body = other.get_text(path).await;
        assert!(!body.contains("alice@example.com"), "{path}: {body}");
    }
    let spec = app.get_text("/api/openapi.json").await;
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert!(spec["components"]["schemas"]["SignupRequest"]["properties"]["email"].is_object());
}

#[tokio::test]
async fn changing_the_address_needs_the_current_password_and_tells_the_old_address() {
    let app = spawn_app().await;
    app.verified_user("alice", "old@example.com", &app.mail_dir)
        .await;
    let form = app.get_text("/settings/email").await;
    assert!(form.contains(r#"name="email""#) && form.contains(r#"name="current_password""#));

    let resp = app
        .submit(
            "/settings/email",
            &[
                ("email", "new@example.com"),
                ("current_password", "wrong password"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("That is not your current password.")
    );
    let resp = app
        .submit(
            "/settings/email",
            &[("email", "nonsense"), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = app
        .submit(
            "/settings/email",
            &[("email", "OLD@example.com"), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("That is already your confirmed address.")
    );
    assert_eq!(mails_in(&app.mail_dir).len(), 1);

    let resp = app
        .submit(
            "/settings/email",
            &[("email", "new@example.com"), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let mails = wait_for_mails(&app.mail_dir, 3).await;
    let to_new = mails
        .iter()
        .find(|m| m.contains("To: new@example.com"))
        .expect("a link to the new address");
    assert!(to_new.contains("/email/verify/"));
    let to_old = mails
        .iter()
        .find(|m| m.contains("To: old@example.com") && m.contains("email address was changed"))
        .expect("a notice to the old address");
    assert!(to_old.contains("Browser: Chrome 156 on Linux"), "{to_old}");
    assert!(to_old.contains("Address: 127.0.0.1"), "{to_old}");
    assert!(to_old.contains("/sessions"), "{to_old}");
    assert!(!to_old.contains("/email/verify/"), "no secret in a notice");
    assert!(
        app.get_text("/settings/email")
            .await
            .contains("not confirmed yet")
    );
}

#[tokio::test]
async fn verified_addresses_are_unique_whatever_their_case() {
    let app = spawn_app().await;
    app.verified_user("alice", "shared@example.com", &app.mail_dir)
        .await;
    app.logout().await;
    let resp = app
        .submit(
            "/signup",
            &[
                ("username", "bob"),
                ("email", "Shared@Example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "unverified addresses may repeat"
    );
    let mails = wait_for_mails(&app.mail_dir, 2).await;
    let link = link_in(&mails[1], "/email/verify/");
    let resp = app.submit(&link, &[]).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("already verified on another account")
    );
}

#[tokio::test]
async fn a_login_from_a_new_browser_is_told_to_the_verified_address_and_a_known_one_is_not() {
    let app = spawn_app().await;
    app.verified_user("alice", "alice@example.com", &app.mail_dir)
        .await;
    let firefox =
        app.browser_as("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0");
    firefox.logged_in("alice").await;
    let mails = wait_for_mails(&app.mail_dir, 2).await;
    let notice = &mails[1];
    assert!(
        notice.contains("Subject: New login to your Tangerine account"),
        "{notice}"
    );
    assert!(notice.contains("Browser: Firefox 128 on Linux"), "{notice}");
    assert!(notice.contains("Address: 127.0.0.1"), "{notice}");
    assert!(notice.contains("UTC"), "{notice}");
    assert!(notice.contains("/sessions"), "{notice}");

    // The same browser again carries its device cookie: no notice.
    firefox.logout().await;
    firefox.logged_in("alice").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mails_in(&app.mail_dir).len(), 2);

    // A password change is told too.
    let resp = firefox
        .submit(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new passphrase"),
                ("new_password_confirm", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let mails = wait_for_mails(&app.mail_dir, 3).await;
    assert!(mails[2].contains("Subject: Your Tangerine password was changed"));
}

#[tokio::test]
async fn an_account_without_a_verified_address_gets_no_notices() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let other = app.new_browser();
    other.logged_in("alice").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mails_in(&app.mail_dir).is_empty());
}

#[tokio::test]
async fn a_mail_server_that_never_answers_holds_up_no_request() {
    // A socket that accepts connections (the kernel's backlog) and never
    // says a word: every SMTP exchange with it waits for its timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let app = spawn_app_with(&["--smtp-url", &url, "--base-url", "http://board.test"]).await;
    let started = std::time::Instant::now();
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
    let resp = app.submit("/password/forgot", &[("login", "alice")]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the answers waited for the mail server: {:?}",
        started.elapsed()
    );
    drop(silent);
}

#[tokio::test]
async fn a_delivery_that_fails_is_tried_again_in_the_background() {
    // A port with nothing listening yet: the first delivery is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("smtp://127.0.0.1:{port}");
    let app = spawn_app_with(&["--smtp-url", &url, "--base-url", "http://board.test"]).await;
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
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The server comes up; the retry (a second later) reaches it.
    let Some(sink) = SmtpSink::start_on(Some(port)) else {
        return;
    };
    let mail = wait_for_mail(&sink.dir, "/email/verify/").await;
    assert!(mail.contains("X-Envelope-To: alice@example.com"), "{mail}");
}
