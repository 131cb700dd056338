//! Deleting an account, and exporting its data.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn deleting_an_account_removes_its_sessions_posts_and_name_everywhere() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let post = app.publish("Alice's post", "Hello").await;
    let other = app.new_browser();
    other.logged_in("alice").await;
    let bob = app.new_browser();
    bob.signed_up("bob").await;
    let bobs_post = bob.publish("Bob's post", "Hi").await;

    let form = app.get_text("/settings/delete").await;
    assert!(form.contains(r#"name="current_password""#) && form.contains(r#"name="confirm""#));

    // Refusals delete nothing.
    let resp = app
        .submit(
            "/settings/delete",
            &[("current_password", PASSWORD), ("confirm", "bob")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Type your username exactly to confirm.")
    );
    let resp = app
        .submit(
            "/settings/delete",
            &[("current_password", "wrong password"), ("confirm", "alice")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get(&format!("/posts/{post}")).await.status(),
        StatusCode::OK
    );

    let resp = app
        .submit(
            "/settings/delete",
            &[("current_password", PASSWORD), ("confirm", "alice")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp).as_deref(), Some("/"));
    let home = app.get_text("/").await;
    assert!(home.contains("Your account has been deleted."), "{home}");
    assert!(home.contains(r#"href="/login""#), "logged out");
    assert!(
        !app.get_text("/")
            .await
            .contains("Your account has been deleted."),
        "said once"
    );

    assert_eq!(
        other.get("/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get(&format!("/posts/{post}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/users/alice").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/users/alice/posts").await.status(),
        StatusCode::NOT_FOUND
    );
    let feed = app.get_text("/api/posts").await;
    assert!(
        !feed.contains("Alice's post") && feed.contains("Bob's post"),
        "{feed}"
    );
    assert_eq!(
        bob.get(&format!("/posts/{bobs_post}")).await.status(),
        StatusCode::OK
    );
    let rows: i64 = app.count("sessions").await;
    assert_eq!(rows, 1, "only bob's session is left");

    // The name is free again.
    let again = app.new_browser();
    again.signed_up("alice").await;
}

#[tokio::test]
async fn the_api_deletes_the_account_with_the_current_password() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    app.publish("A post", "Body").await;
    let resp = app
        .api_send(
            Method::DELETE,
            "/api/me",
            Some(json!({"current_password": "wrong one"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = app
        .client
        .delete(app.url("/api/me"))
        .json(&json!({"current_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "the CSRF header is needed"
    );
    let resp = app
        .api_send(
            Method::DELETE,
            "/api/me",
            Some(json!({"current_password": PASSWORD})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/me").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("posts").await, 0);
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn the_export_holds_the_persons_data_and_no_one_elses() {
    let app = spawn_app().await;
    app.verified_user("alice", "alice@example.com", &app.mail_dir)
        .await;
    app.publish("Alice writes", "Some *Markdown* here").await;
    let bob = app.new_browser();
    bob.signed_up("bob").await;
    bob.publish("Bob writes", "Bob's words").await;

    let resp = app.get("/settings/export").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=") && disposition.ends_with(".json\""),
        "{disposition}"
    );
    let text = resp.text().await.unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["account"]["username"], "alice");
    assert_eq!(doc["account"]["email"], "alice@example.com");
    assert_eq!(doc["account"]["email_verified"], true);
    let posts = doc["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["title"], "Alice writes");
    assert_eq!(posts[0]["body"], "Some *Markdown* here");
    let sessions = doc["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sessions[0]["ip"], "127.0.0.1");
    assert_eq!(sessions[0]["browser"], "Chrome 156");
    assert!(doc["moderation_actions"].as_array().unwrap().is_empty());
    for foreign in ["bob", "Bob writes", "Bob's words"] {
        assert!(!text.contains(foreign), "{foreign} in {text}");
    }

    let api: serde_json::Value = app.get("/api/me/export").await.json().await.unwrap();
    assert_eq!(api["account"], doc["account"]);
    assert_eq!(api["posts"], doc["posts"]);
    assert_eq!(
        app.new_browser().get("/api/me/export").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.new_browser().get("/settings/export").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn the_settings_hub_links_every_setting() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let page = app.get_text("/settings").await;
    for href in [
        "/settings/email",
        "/settings/password",
        "/sessions",
        "/settings/export",
        "/settings/delete",
    ] {
        assert!(page.contains(&format!("href=\"{href}\"")), "{href}");
    }
}
