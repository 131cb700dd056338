//! Login throttling per username and per client address, one at a time
//! (concurrent bursts and device cookies: `logins.rs`).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// A login from `ip` (as a trusted proxy reports it).
async fn login_from(
    browser: &Browser,
    ip: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let token = browser.csrf_token().await;
    browser
        .client
        .post(browser.url("/login"))
        .header("X-Forwarded-For", format!("198.51.100.250, {ip}"))
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_sixth_failure_is_refused_with_429_even_with_the_right_password() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    for _ in 0..5 {
        assert_eq!(
            app.login("alice", "wrong password").await.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    let refused = app.login("alice", PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header_of(&refused, "retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("Too many failed logins. Try again in 15 minutes."),
        "inline: {html}"
    );
    assert!(html.contains(r#"<form id="login-form""#));
    assert_eq!(app.count("sessions").await, 1, "no session was started");

    let api = app
        .api_post(
            "/api/session",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header_of(&api, "retry-after").is_some());
    let body: Value = api.json().await.unwrap();
    assert_eq!(body["error"], "too_many_failures");
}

#[tokio::test]
async fn another_name_from_another_address_is_unaffected() {
    let app = spawn_app_with(&["--trust-proxy", "--login-max-failures-per-address", "5"]).await;
    app.new_browser().signed_up("alice").await;
    app.new_browser().signed_up("bob").await;
    for _ in 0..5 {
        login_from(&app, "203.0.113.1", "alice", "wrong password").await;
    }
    assert_eq!(
        login_from(&app, "203.0.113.1", "alice", PASSWORD)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let elsewhere = app.new_browser();
    assert_eq!(
        login_from(&elsewhere, "203.0.113.2", "bob", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    // alice is throttled from anywhere; the first address is, for anyone.
    assert_eq!(
        login_from(&elsewhere, "203.0.113.3", "alice", PASSWORD)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&app.new_browser(), "203.0.113.1", "bob", PASSWORD)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_success_gives_back_only_its_own_slot() {
    let app = spawn_app_with(&["--trust-proxy", "--login-max-failures-per-address", "5"]).await;
    app.new_browser().signed_up("alice").await;
    app.new_browser().signed_up("bob").await;
    for _ in 0..4 {
        login_from(&app, "203.0.113.1", "alice", "wrong password").await;
    }
    assert_eq!(
        login_from(&app, "203.0.113.1", "alice", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    // The four failures still count against alice (a success does not wipe
    // an attacker's count): one more from elsewhere, and the name is shut.
    let elsewhere = app.new_browser();
    let resp = login_from(&elsewhere, "203.0.113.9", "alice", "wrong password").await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = login_from(&app.new_browser(), "203.0.113.9", "alice", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    // The first address still carries its four failures: one more and it is shut.
    let b = app.new_browser();
    assert_eq!(
        login_from(&b, "203.0.113.1", "bob", "wrong password")
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        login_from(&b, "203.0.113.1", "bob", PASSWORD)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn refused_attempts_do_not_count_and_the_window_passes() {
    // A window long enough for the attempts below on a loaded machine.
    const WINDOW: Duration = Duration::from_secs(6);
    let app = spawn_app_with(&["--login-window", "6s"]).await;
    app.new_browser().signed_up("alice").await;
    // The window opens while the first attempt is answered: after this
    // instant, and before the answer arrives.
    let window_opened = tokio::time::Instant::now();
    app.login("alice", "wrong password").await;
    let window_ends_by = tokio::time::Instant::now() + WINDOW;
    for _ in 0..4 {
        app.login("alice", "wrong password").await;
    }
    for _ in 0..3 {
        assert_eq!(
            app.login("alice", "wrong password").await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    assert!(
        window_opened.elapsed() < WINDOW,
        "the attempts outlasted the window"
    );
    tokio::time::sleep_until(window_ends_by + Duration::from_millis(300)).await;
    // Had the refusals counted, this would still be refused.
    assert_eq!(
        app.login("alice", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn without_trust_proxy_x_forwarded_for_is_ignored() {
    let app = spawn_app_with(&["--login-max-failures-per-address", "5"]).await;
    app.new_browser().signed_up("alice").await;
    app.new_browser().signed_up("bob").await;
    // Claiming a new address each time does not escape the per-address count.
    for i in 0..5 {
        login_from(
            &app,
            &format!("203.0.113.{i}"),
            &format!("nobody{i}"),
            "wrong password",
        )
        .await;
    }
    assert_eq!(
        login_from(&app, "203.0.113.77", "bob", PASSWORD)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_rightmost_address_counts() {
    let app = spawn_app_with(&["--trust-proxy", "--login-max-failures-per-address", "5"]).await;
    app.new_browser().signed_up("bob").await;
    for i in 0..5 {
        // The client forges the left part; the proxy appends the real address.
        let token = app.csrf_token().await;
        app.client
            .post(app.url("/login"))
            .header("X-Forwarded-For", format!("10.0.0.{i}, 203.0.113.5"))
            .form(&[
                ("username", format!("nobody{i}").as_str()),
                ("password", "wrong password"),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        login_from(&app, "203.0.113.5", "bob", PASSWORD)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let other = app.new_browser();
    assert_eq!(
        login_from(&other, "203.0.113.6", "bob", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    // The session records the address the proxy reported.
    let sessions: Value = other.get("/api/sessions").await.json().await.unwrap();
    let current = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap();
    assert_eq!(current["ip"], "203.0.113.6");
}
