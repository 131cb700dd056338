//! Markdown that amplifies: deeply nested bodies are rendered within the
//! size cap or refused, and none costs the server much CPU.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// What the server process spent on CPU while `f` ran.
async fn cpu_of<T>(server: &Server, f: impl Future<Output = T>) -> (T, Duration) {
    let before = cpu_time(server.child.id());
    let out = f.await;
    (out, cpu_time(server.child.id()) - before)
}

const CPU_BUDGET: Duration = Duration::from_millis(150);

#[tokio::test]
async fn nested_bodies_are_capped_or_refused_and_no_request_costs_over_150_ms_of_cpu() {
    let database = TestDatabase::fresh().await;
    let server = serve_binary(&database.url, &[], None);
    let browser = Browser::new(server.address.clone());
    browser.api_user("alice").await;
    let token = browser.api_csrf().await;
    let first: Value = browser
        .api_send(
            Method::POST,
            "/api/posts",
            Some(json!({"title": "Plain", "body": "Plain"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let first = first["id"].as_str().unwrap().to_owned();

    for (name, body) in [
        ("> x 9,999", ">".repeat(9_999)),
        ("- x 5,000", "- ".repeat(5_000)),
        ("> space x 5,000", "> ".repeat(5_000)),
        ("- x 4,999 then text", format!("{}a", "- ".repeat(4_999))),
        ("plain x 10,000", "abcd ".repeat(2_000)),
        ("& x 10,000", "&".repeat(10_000)),
    ] {
        let source_len = body.trim().len();
        let cap = source_len * 4 + 8 * 1024;
        let (resp, cpu) = cpu_of(&server, async {
            browser
                .client
                .post(browser.url("/api/posts"))
                .header("X-CSRF-Token", &token)
                .json(&json!({"title": name, "body": body}))
                .send()
                .await
                .unwrap()
        })
        .await;
        assert!(cpu <= CPU_BUDGET, "creating {name}: {cpu:?} of CPU");
        let status = resp.status();
        let created: Value = resp.json().await.unwrap();
        match status {
            StatusCode::CREATED => {
                let html = created["body_html"].as_str().unwrap();
                assert!(html.len() <= cap, "{name}: {} bytes of HTML", html.len());
                let id = created["id"].as_str().unwrap().to_owned();
                for path in [
                    format!("/posts/{id}"),
                    "/".into(),
                    format!("/api/posts/{id}"),
                ] {
                    let (resp, cpu) = cpu_of(&server, browser.get(&path)).await;
                    assert_eq!(resp.status(), StatusCode::OK, "{path}");
                    assert!(cpu <= CPU_BUDGET, "viewing {name} at {path}: {cpu:?}");
                }
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                let message = created["message"].as_str().unwrap();
                assert!(message.contains("too long to show"), "{message}");
            }
            other => panic!("{name}: {other}"),
        }
        // The same body as an edit.
        let (resp, cpu) = cpu_of(&server, async {
            browser
                .client
                .patch(browser.url(&format!("/api/posts/{first}")))
                .header("X-CSRF-Token", &token)
                .json(&json!({"body": body}))
                .send()
                .await
                .unwrap()
        })
        .await;
        assert!(cpu <= CPU_BUDGET, "editing to {name}: {cpu:?} of CPU");
        assert!(
            matches!(
                resp.status(),
                StatusCode::OK | StatusCode::UNPROCESSABLE_ENTITY
            ),
            "editing to {name}: {}",
            resp.status()
        );
    }
}

#[tokio::test]
async fn a_body_too_long_once_formatted_is_refused_with_the_typed_text_on_the_page() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let body = "&".repeat(10_000);
    let resp = app
        .submit("/posts", &[("title", "Ampersands"), ("body", &body)])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("too long to show"), "the message is inline");
    assert!(html.contains("Ampersands"), "the typed title is kept");
    assert_eq!(app.count("posts").await, 0);
}
