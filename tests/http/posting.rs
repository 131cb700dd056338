//! The posting limit: posts written or edited per account, counted in the
//! database (`--post-limit`, default 30 in 10 minutes).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tangerine::startup::Application;

use crate::helpers::*;

async fn api_post(browser: &Browser, title: &str) -> reqwest::Response {
    browser
        .api_send(
            Method::POST,
            "/api/posts",
            Some(json!({"title": title, "body": "Some words."})),
        )
        .await
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    header_of(resp, "retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds")
}

#[tokio::test]
async fn the_31st_post_in_ten_minutes_gets_429_with_retry_after_in_the_api_and_on_pages() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    for i in 0..30 {
        let resp = api_post(&app, &format!("Post {i}")).await;
        assert_eq!(resp.status(), StatusCode::CREATED, "post {i}");
    }
    let resp = api_post(&app, "One too many").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&resp);
    assert!((1..=600).contains(&wait), "Retry-After: {wait}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "too_many_posts", "{body}");

    // The page: 429 with the form and what was typed.
    let resp = app
        .submit(
            "/posts",
            &[("title", "Typed title"), ("body", "Typed body")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&resp) >= 1);
    let html = resp.text().await.unwrap();
    assert!(html.contains("<html"), "a whole page");
    assert!(html.contains("You have posted a lot lately"), "{html}");
    assert!(html.contains("Typed title") && html.contains("Typed body"));

    // Under htmx: the form alone, in place of the composer.
    let resp = app
        .hx_submit(
            "/posts",
            &[("title", "Typed title"), ("body", "Typed body")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&resp) >= 1);
    assert_eq!(
        header_of(&resp, "hx-retarget").as_deref(),
        Some("#post-form")
    );
    let html = resp.text().await.unwrap();
    assert!(!html.contains("<html"), "a fragment");
    assert!(html.contains("id=\"post-form\"") && html.contains("Typed body"));

    // Edits count too, and are refused the same way.
    let feed: Value = app.get("/api/posts?limit=1").await.json().await.unwrap();
    let id = feed["posts"][0]["id"].as_str().unwrap().to_owned();
    let resp = app
        .submit(
            &format!("/posts/{id}/edit"),
            &[("title", "Edited title"), ("body", "Edited body")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Edited body"), "the typed text stays");
    assert_eq!(app.count("posts").await, 30);
}

#[tokio::test]
async fn edits_count_and_deletions_and_refused_posts_do_not() {
    // A window long enough for the requests below on a loaded machine.
    const WINDOW: Duration = Duration::from_secs(8);
    let app = spawn_app_with(&["--post-limit", "3/8s"]).await;
    app.signed_up("alice").await;
    // The window opens while the first post is answered.
    let window_opened = tokio::time::Instant::now();
    let first: Value = api_post(&app, "One").await.json().await.unwrap();
    let window_ends_by = tokio::time::Instant::now() + WINDOW;
    let id = first["id"].as_str().unwrap().to_owned();
    // An edit counts (2 of 3).
    let edited = app
        .api_send(
            Method::PATCH,
            &format!("/api/posts/{id}"),
            Some(json!({"body": "Changed"})),
        )
        .await;
    assert_eq!(edited.status(), StatusCode::OK);
    // A post refused for its content does not count, nor does a deletion.
    let refused = app
        .api_send(
            Method::POST,
            "/api/posts",
            Some(json!({"title": " ", "body": "x"})),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let deleted = app
        .api_send(Method::DELETE, &format!("/api/posts/{id}"), None)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(api_post(&app, "Three").await.status(), StatusCode::CREATED);
    // The fourth is refused; refusals take nothing, so once the window has
    // passed, posting works again.
    for _ in 0..3 {
        let resp = api_post(&app, "Four").await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(
        window_opened.elapsed() < WINDOW,
        "the requests outlasted the window"
    );
    tokio::time::sleep_until(window_ends_by + Duration::from_millis(300)).await;
    assert_eq!(api_post(&app, "Later").await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_count_is_shared_by_instances_and_survives_a_restart() {
    let app = spawn_app_with(&["--post-limit", "4/10m"]).await;
    app.signed_up("alice").await;
    for i in 0..2 {
        assert_eq!(
            api_post(&app, &format!("A {i}")).await.status(),
            StatusCode::CREATED
        );
    }
    // Another instance (or this one restarted) on the same database.
    let other = Application::build(settings_for(&app.database, &["--post-limit", "4/10m"]))
        .await
        .expect("a second instance");
    let address = format!("http://{}", other.addr());
    tokio::spawn(other.run_until(std::future::pending()));
    let on_b = Browser {
        address,
        client: app.client.clone(),
    };
    for i in 0..2 {
        assert_eq!(
            api_post(&on_b, &format!("B {i}")).await.status(),
            StatusCode::CREATED
        );
    }
    assert_eq!(
        api_post(&on_b, "B 2").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        api_post(&app, "A 2").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_burst_of_posts_at_once_gets_no_more_than_the_limit_through() {
    let app = spawn_app_with(&["--post-limit", "5/10m"]).await;
    app.signed_up("alice").await;
    let token = app.api_csrf().await;
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..20 {
        let client = app.client.clone();
        let url = app.url("/api/posts");
        let token = token.clone();
        burst.spawn(async move {
            client
                .post(url)
                .header("X-CSRF-Token", token)
                .json(&json!({"title": format!("Burst {i}"), "body": "x"}))
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    let mut created = 0;
    while let Some(status) = burst.join_next().await {
        match status.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!(created, 5);
    assert_eq!(app.count("posts").await, 5);
}

#[tokio::test]
async fn with_the_limit_off_posting_is_unlimited() {
    let app = spawn_app_with(&["--post-limit", "0"]).await;
    app.signed_up("alice").await;
    for i in 0..40 {
        assert_eq!(
            api_post(&app, &format!("P {i}")).await.status(),
            StatusCode::CREATED
        );
    }
}
