//! Inputs that once gave a 5xx or the wrong shape: cursors out of range,
//! paths that do not decode, values of the wrong JSON type, and many
//! requests of one session writing at once.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

fn is_json(resp: &reqwest::Response) -> bool {
    header_of(resp, "content-type").is_some_and(|ct| ct.starts_with("application/json"))
}

fn is_html(resp: &reqwest::Response) -> bool {
    header_of(resp, "content-type").is_some_and(|ct| ct.starts_with("text/html"))
}

#[tokio::test]
async fn cursors_outside_1970_to_9999_get_400_on_pages_and_in_the_api() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    app.publish("Hello", "World").await;
    let id = "0".repeat(32);
    for micros in [
        "-210866803200000001",
        "-1",
        "253402300800000000",
        "9223372036854775807",
    ] {
        let cursor = format!("{micros}_{id}");
        for page in ["/", "/u/alice"] {
            let resp = app.get(&format!("{page}?before={cursor}")).await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{page} {cursor}");
            assert!(is_html(&resp), "{page}: a themed page");
            let html = resp.text().await.unwrap();
            assert!(html.contains("That page link is broken."), "{html}");
        }
        for api in ["/api/posts", "/api/users/alice/posts"] {
            let resp = app.get(&format!("{api}?before={cursor}")).await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{api} {cursor}");
            assert!(is_json(&resp), "{api}: the API's shape");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], "bad_cursor", "{body}");
        }
    }
    // The ends of the range are cursors like any other.
    for micros in ["0", "253402300799999999"] {
        let cursor = format!("{micros}_{id}");
        for path in ["/", "/u/alice", "/api/posts", "/api/users/alice/posts"] {
            let resp = app.get(&format!("{path}?before={cursor}")).await;
            assert_eq!(resp.status(), StatusCode::OK, "{path} {cursor}");
        }
    }
}

#[tokio::test]
async fn paths_that_do_not_decode_answer_404_in_the_apis_shape_or_as_a_page() {
    let app = spawn_app().await;
    for path in [
        "/api/users/%ff",
        "/api/users/%ff/posts",
        "/api/posts/%ff%fe",
    ] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(is_json(&resp), "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "not_found", "{path}: {body}");
    }
    for path in ["/u/%ff", "/posts/%ff", "/%ff"] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(is_html(&resp), "{path}: a themed page");
    }
}

/// A valid body for every operation that takes one; the test fails when
/// the spec has an operation that is not here.
fn valid_body(operation: &str, n: usize, reset_token: &str) -> Value {
    match operation {
        "sign_up" => json!({"username": format!("typed_{n}"), "password": PASSWORD}),
        "login" => json!({"username": "alice", "password": PASSWORD, "remember": true}),
        "create_post" => json!({"title": "Typed", "body": "Typed body"}),
        "update_post" => json!({"title": "Typed again", "body": "Typed body again"}),
        "admin_suspend" | "admin_remove_post" => json!({"reason": "typed"}),
        "admin_set_role" => json!({"role": "member"}),
        "admin_resolve_report" => json!({"action": "dismiss"}),
        "report_post" => json!({"reason": "typed"}),
        "create_token" => json!({"name": "typed", "scope": "read", "expires_in_days": 30}),
        "change_password" => {
            json!({"current_password": PASSWORD, "new_password": CHANGED})
        }
        "forgot_password" => json!({"login": "alice"}),
        "reset_password" => json!({"token": reset_token, "new_password": RESET}),
        "delete_me" => json!({"current_password": RESET}),
        other => panic!("no valid body for operation {other}: add one"),
    }
}

const CHANGED: &str = "another horse battery staple";
const RESET: &str = "a reset horse battery staple";

/// A one-time reset token for `name`, as `tangerine user reset-link` prints it.
fn reset_token_of(app: &TestApp, name: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tangerine"))
        .args([
            "user",
            "reset-link",
            name,
            "--base-url",
            "http://board.test",
        ])
        .args(["--database-url", &app.database.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8(out.stdout).unwrap();
    link.trim().rsplit('/').next().unwrap().to_owned()
}

/// Values of every JSON type but `ty`.
fn wrong_values(ty: &str) -> Vec<Value> {
    [
        json!(12345),
        json!(1.5),
        json!(true),
        json!(null),
        json!("true"),
        json!(["x"]),
        json!({"x": "y"}),
    ]
    .into_iter()
    .filter(|v| match ty {
        "string" => !v.is_string(),
        "boolean" => !v.is_boolean(),
        "integer" | "number" => !v.is_number(),
        other => panic!("no wrong values for {other}"),
    })
    .collect()
}

#[tokio::test]
async fn a_value_of_the_wrong_type_in_any_field_of_any_operation_gets_400_or_422() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let post: Value = app
        .api_send(
            Method::POST,
            "/api/posts",
            Some(json!({"title": "Mine", "body": "To edit"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let post_id = post["id"].as_str().unwrap().to_owned();
    let spec: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let mut n = 0;
    let mut checked = 0;
    // Every operation, the password change last (the logins before it use
    // the password it changes).
    let mut operations: Vec<(&String, &String, &Value)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .iter()
                .map(move |(method, op)| (path, method, op))
        })
        .collect();
    // Then the reset (with a token made after the change, which would void
    // it), then deleting the account, last of all.
    operations.sort_by_key(|(_, _, op)| match op["operationId"].as_str() {
        Some("change_password") => 1,
        Some("reset_password") => 2,
        Some("delete_me") => 3,
        _ => 0,
    });
    let mut reset_token = String::new();
    for (path, method, operation) in operations {
        let Some(content) = operation["requestBody"]["content"].as_object() else {
            continue;
        };
        let schema = &content.values().next().unwrap()["schema"];
        let name = schema["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
        let properties = spec["components"]["schemas"][name]["properties"]
            .as_object()
            .unwrap();
        let op_id = operation["operationId"].as_str().unwrap();
        if op_id == "reset_password" {
            reset_token = reset_token_of(&app, "alice");
        }
        let url = format!("/api{}", path.replace("{id}", &post_id));
        let method: Method = method.to_uppercase().parse().unwrap();
        for (field, field_schema) in properties {
            let ty = field_schema["type"].as_str().unwrap_or("string");
            for wrong in wrong_values(ty) {
                n += 1;
                let mut body = valid_body(op_id, n, &reset_token);
                body[field] = wrong.clone();
                let resp = app.api_send(method.clone(), &url, Some(body)).await;
                let status = resp.status();
                assert!(
                    status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
                    "{op_id}: {field} = {wrong} answered {status}"
                );
                assert!(is_json(&resp), "{op_id}: the API's shape");
                checked += 1;
            }
        }
        // The same body with the right types goes through: what was
        // refused was the type alone.
        n += 1;
        let resp = app
            .api_send(
                method.clone(),
                &url,
                Some(valid_body(op_id, n, &reset_token)),
            )
            .await;
        if path.starts_with("/admin/") {
            // Alice is a member: past the types, her role is what refuses
            // (admin.rs and moderation.rs cover the staff's successes).
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{op_id}");
            continue;
        }
        assert!(
            resp.status().is_success(),
            "{op_id} with a valid body: {}",
            resp.status()
        );
    }
    assert!(checked >= 5 * 6, "only {checked} wrong values were tried");
    // Nothing was coerced into being.
    assert_eq!(
        app.get("/api/users/12345").await.status(),
        StatusCode::NOT_FOUND
    );
    let feed: Value = app.get("/api/posts?limit=100").await.json().await.unwrap();
    assert!(
        feed["posts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["title"] != "12345" && p["title"] != "true"),
        "{feed}"
    );
}

/// Every edit's flash message writes the session's data: hundreds of them at
/// once in one session lose races to each other, which must not turn an
/// edit that was saved into a 500.
#[tokio::test]
async fn four_hundred_concurrent_edits_in_one_session_give_no_5xx_and_each_is_saved() {
    let app = spawn_app_with(&["--post-limit", "0"]).await;
    app.signed_up("alice").await;
    let token = app.api_csrf().await;
    let mut ids = Vec::new();
    for i in 0..400 {
        let resp = app
            .client
            .post(app.url("/api/posts"))
            .header("X-CSRF-Token", &token)
            .json(&json!({"title": format!("Post {i}"), "body": "Before"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let post: Value = resp.json().await.unwrap();
        ids.push(post["id"].as_str().unwrap().to_owned());
    }
    let form_token = app.csrf_token().await;
    let mut edits = tokio::task::JoinSet::new();
    for (i, id) in ids.iter().enumerate() {
        let client = app.client.clone();
        let url = app.url(&format!("/posts/{id}/edit"));
        let token = form_token.clone();
        edits.spawn(async move {
            let status = client
                .post(url)
                .form(&[
                    ("title", format!("Edited {i}")),
                    ("body", format!("After {i}")),
                    ("csrf_token", token),
                ])
                .send()
                .await
                .map(|r| r.status());
            (i, status)
        });
    }
    while let Some(done) = edits.join_next().await {
        let (i, status) = done.unwrap();
        assert_eq!(
            status.expect("an answer"),
            StatusCode::SEE_OTHER,
            "edit {i}"
        );
    }
    for (i, id) in ids.iter().enumerate() {
        let post: Value = app
            .get(&format!("/api/posts/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(post["title"], format!("Edited {i}"));
        assert_eq!(post["body"], format!("After {i}"));
    }
}
