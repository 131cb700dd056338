//! Changing the password: on the settings page and in the API.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

const NEW: &str = "a brand new passphrase";

#[tokio::test]
async fn changing_the_password_keeps_this_browser_with_a_new_cookie_and_ends_the_others() {
    let app = spawn_app().await;
    let resp = app.signup("alice", PASSWORD).await;
    let old_cookie = cookie_value(&set_cookie(&resp, "tangerine_session").unwrap());
    let other = app.new_browser();
    other.logged_in("alice").await;
    let form = app.get_text("/settings/password").await;
    for field in ["current_password", "new_password", "new_password_confirm"] {
        assert!(form.contains(&format!(r#"name="{field}""#)), "{field}");
    }

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
    let new_cookie = cookie_value(&set_cookie(&resp, "tangerine_session").expect("a new cookie"));
    assert_ne!(new_cookie, old_cookie);

    // This browser stays logged in; the other session, and the old cookie, do not.
    let page = app.get_text(&location(&resp).unwrap()).await;
    assert!(
        page.contains("Your password is changed. 1 other session was logged out."),
        "{page}"
    );
    assert!(app.get_text("/").await.contains("Welcome, alice"));
    assert_eq!(
        other.get("/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let replay = bare_client()
        .get(app.url("/api/me"))
        .header("Cookie", format!("tangerine_session={old_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        replay.status(),
        StatusCode::UNAUTHORIZED,
        "a thief's copy stops working"
    );
    assert_eq!(app.count("sessions").await, 1);

    let fresh = app.new_browser();
    assert_eq!(
        fresh.login("alice", PASSWORD).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        fresh.login("alice", NEW).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_wrong_current_password_is_an_inline_error_and_changes_nothing() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let other = app.new_browser();
    other.logged_in("alice").await;
    let resp = app
        .submit(
            "/settings/password",
            &[
                ("current_password", "not it at all"),
                ("new_password", NEW),
                ("new_password_confirm", NEW),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(set_cookie(&resp, "tangerine_session").is_none());
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("That is not your current password."),
        "{html}"
    );
    assert_eq!(other.get("/api/me").await.status(), StatusCode::OK);
    assert_eq!(
        app.new_browser().login("alice", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_new_password_must_follow_the_rules_and_match_its_copy() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let short = app
        .submit(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "short"),
                ("new_password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        short
            .text()
            .await
            .unwrap()
            .contains("at least 8 characters")
    );
    let differ = app
        .hx_submit(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW),
                ("new_password_confirm", "something else"),
            ],
        )
        .await;
    assert_eq!(differ.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = differ.text().await.unwrap();
    assert!(
        html.trim_start().starts_with(r#"<form id="password-form""#),
        "{html}"
    );
    assert!(html.contains("The two passwords differ."));
    assert_eq!(
        app.new_browser().login("alice", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn the_settings_page_needs_a_login() {
    let app = spawn_app().await;
    let resp = app.get("/settings/password").await;
    assert_eq!(
        location(&resp).as_deref(),
        Some("/login?next=/settings/password")
    );
}

#[tokio::test]
async fn the_api_changes_the_password_with_a_new_cookie() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let other = app.new_browser();
    let login = other
        .api_post(
            "/api/session",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK);

    let wrong = app
        .api_send(
            Method::PUT,
            "/api/me/password",
            Some(json!({"current_password": "not it at all", "new_password": NEW})),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let invalid = app
        .api_send(
            Method::PUT,
            "/api/me/password",
            Some(json!({"current_password": PASSWORD, "new_password": "short"})),
        )
        .await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        other.get("/api/me").await.status(),
        StatusCode::OK,
        "nothing changed yet"
    );

    let done = app
        .api_send(
            Method::PUT,
            "/api/me/password",
            Some(json!({"current_password": PASSWORD, "new_password": NEW})),
        )
        .await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    assert!(
        set_cookie(&done, "tangerine_session").is_some(),
        "a new cookie"
    );
    assert_eq!(app.get("/api/me").await.status(), StatusCode::OK);
    assert_eq!(
        other.get("/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );

    let anonymous = app
        .new_browser()
        .api_send(
            Method::PUT,
            "/api/me/password",
            Some(json!({"current_password": NEW, "new_password": PASSWORD})),
        )
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let no_csrf = app
        .client
        .put(app.url("/api/me/password"))
        .json(&json!({"current_password": NEW, "new_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
}
