//! The JSON API: its spec, its operations, its errors, and its sharing of
//! sessions with the pages.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

async fn json_of(resp: reqwest::Response) -> Value {
    let ct = header_of(&resp, "content-type").unwrap_or_default();
    assert!(ct.starts_with("application/json"), "not JSON: {ct}");
    resp.json().await.expect("JSON")
}

/// Asserts the error shape and code, and returns the message.
async fn error_of(resp: reqwest::Response, status: StatusCode, code: &str) -> String {
    assert_eq!(resp.status(), status);
    let body = json_of(resp).await;
    assert_eq!(body["error"], code, "{body}");
    let message = body["message"].as_str().expect("a message").to_owned();
    assert!(!message.is_empty());
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "exactly error and message: {body}"
    );
    message
}

#[tokio::test]
async fn the_spec_is_valid_openapi_3_and_publishes_the_limits() {
    let app = spawn_app().await;
    let text = app.get_text("/api/openapi.json").await;
    let spec: openapiv3::OpenAPI = serde_json::from_str(&text).expect("a valid OpenAPI 3 document");
    assert!(spec.openapi.starts_with("3."));
    let raw: Value = serde_json::from_str(&text).unwrap();

    let operations: Vec<(String, String)> = spec
        .paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_item().unwrap();
            item.iter()
                .map(move |(method, _)| (method.to_uppercase(), path.clone()))
        })
        .collect();
    for expected in [
        ("POST", "/users"),
        ("POST", "/session"),
        ("DELETE", "/session"),
        ("GET", "/session/csrf"),
        ("GET", "/me"),
        ("GET", "/posts"),
        ("POST", "/posts"),
        ("GET", "/posts/{id}"),
        ("PATCH", "/posts/{id}"),
        ("DELETE", "/posts/{id}"),
        ("GET", "/users/{username}"),
        ("GET", "/users/{username}/posts"),
        ("DELETE", "/me"),
        ("GET", "/me/export"),
        ("POST", "/password/forgot"),
        ("POST", "/password/reset"),
    ] {
        assert!(
            operations.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} missing from {operations:?}"
        );
    }
    assert_eq!(raw["servers"][0]["url"], "/api");

    let schemas = &raw["components"]["schemas"];
    let signup = &schemas["SignupRequest"]["properties"];
    assert_eq!(signup["username"]["pattern"], "^[A-Za-z0-9_]{3,32}$");
    // The password's rules are the server's (a settable minimum, 256 at
    // most, common passwords…), each refused with its own code: described,
    // not left to the schema validator's generic error.
    let described = signup["password"]["description"].as_str().unwrap();
    assert!(
        described.contains("256") && described.contains("common"),
        "{described}"
    );
    assert_eq!(schemas["NewPost"]["properties"]["title"]["maxLength"], 120);
    assert_eq!(schemas["NewPost"]["properties"]["body"]["maxLength"], 10000);
    let limit = raw["paths"]["/posts"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["minimum"], 1.0);
    assert_eq!(limit["schema"]["maximum"], 100.0);

    // Cookie authentication, under the real cookie name, and bearer tokens.
    let scheme = &raw["components"]["securitySchemes"]["session"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["in"], "cookie");
    assert_eq!(scheme["name"], "tangerine_session");
    let token = &raw["components"]["securitySchemes"]["token"];
    assert_eq!(token["type"], "http");
    assert_eq!(token["scheme"], "bearer");

    for (path, item) in raw["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path} has a tag"
            );
            assert!(op["summary"].is_string(), "{method} {path} has a summary");
            // Every JSON body may be too large or of the wrong type.
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} declares {status}"
                    );
                }
            }
            // Cookie-authenticated changes need the CSRF header (a token's
            // do not, so it is not marked required).
            let changes = method != "get";
            let security: Vec<Value> = op["security"].as_array().cloned().unwrap_or_default();
            let authenticated = !security.is_empty() && !security.iter().any(|r| r == &json!({}));
            let has_csrf = op["parameters"].as_array().is_some_and(|ps| {
                ps.iter().any(|p| {
                    p["name"] == "X-CSRF-Token" && p["in"] == "header" && p["required"] != true
                })
            });
            // Both schemes, truthfully: token management takes only the cookie.
            let schemes: Vec<&str> = security
                .iter()
                .flat_map(|r| r.as_object().unwrap().keys().map(String::as_str))
                .collect();
            if path.starts_with("/tokens") {
                assert_eq!(schemes, ["session"], "{method} {path}");
            } else if (path == "/session" && method == "post") || path.starts_with("/password/") {
                assert!(
                    schemes.is_empty(),
                    "no token logs in: {method} {path} {schemes:?}"
                );
            } else if !(path == "/session"
                || path.starts_with("/sessions/")
                || path == "/me/password"
                || (path == "/me" && method == "delete"))
            {
                assert_eq!(schemes, ["session", "token"], "{method} {path}");
            }
            // A bad token (401) and a throttled address (429) can meet any operation.
            for status in ["401", "429", "503"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} declares {status}"
                );
            }
            assert_eq!(
                changes && authenticated,
                has_csrf,
                "{method} {path}: CSRF header"
            );
            if authenticated {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} declares 401"
                );
            }
            if has_csrf {
                assert!(
                    responses.contains_key("403"),
                    "{method} {path} declares 403"
                );
            }
            // Every error is the one shape.
            for (status, response) in responses {
                if status.starts_with('4') {
                    let schema = response["content"]
                        .as_object()
                        .and_then(|c| c.values().next())
                        .map(|m| m["schema"]["$ref"].clone());
                    assert_eq!(
                        schema,
                        Some(json!("#/components/schemas/ErrorBody")),
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn with_secure_cookies_the_spec_names_the_host_cookie() {
    let app = spawn_app_with(&["--secure-cookies"]).await;
    let raw: Value = serde_json::from_str(&app.get_text("/api/openapi.json").await).unwrap();
    assert_eq!(
        raw["components"]["securitySchemes"]["session"]["name"],
        "__Host-tangerine_session"
    );
}

#[tokio::test]
async fn signing_up_answers_201_with_the_user_and_does_not_log_in() {
    let app = spawn_app().await;
    let resp = app
        .api_post(
            "/api/users",
            json!({"username": "Alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(location(&resp).as_deref(), Some("/api/users/alice"));
    assert!(set_cookie(&resp, "tangerine_session").is_none());
    let body = json_of(resp).await;
    assert_eq!(body["username"], "alice");
    assert!(uuid::Uuid::parse_str(body["id"].as_str().unwrap()).is_ok());
    assert_eq!(app.get("/api/me").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("sessions").await, 0);

    let taken = app
        .api_post(
            "/api/users",
            json!({"username": "ALICE", "password": PASSWORD}),
        )
        .await;
    error_of(taken, StatusCode::CONFLICT, "username_taken").await;
}

#[tokio::test]
async fn sign_up_input_that_breaks_the_rules_is_422() {
    let app = spawn_app().await;
    for (body, code) in [
        (json!({"username": "al", "password": PASSWORD}), "invalid"),
        (
            json!({"username": "al ice", "password": PASSWORD}),
            "invalid",
        ),
        (
            json!({"username": "alice", "password": "short"}),
            "password_too_short",
        ),
        (
            json!({"username": "alice", "password": "x".repeat(257)}),
            "password_too_long",
        ),
        (json!({"username": "alice"}), "invalid"),
        (json!({"username": 42, "password": PASSWORD}), "invalid"),
        (json!([]), "invalid"),
    ] {
        let resp = app.api_post("/api/users", body.clone()).await;
        error_of(resp, StatusCode::UNPROCESSABLE_ENTITY, code).await;
    }
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn malformed_json_is_400_wrong_types_415_and_huge_bodies_413() {
    let app = spawn_app().await;
    let send = |ct: &'static str, body: Vec<u8>| {
        app.client
            .post(app.url("/api/users"))
            .header("Content-Type", ct)
            .body(body)
            .send()
    };
    let resp = send("application/json", br#"{"username": "alice""#.to_vec())
        .await
        .unwrap();
    error_of(resp, StatusCode::BAD_REQUEST, "malformed_json").await;
    let resp = send("application/json", Vec::new()).await.unwrap();
    error_of(resp, StatusCode::BAD_REQUEST, "malformed_json").await;
    let resp = send(
        "text/plain",
        br#"{"username":"alice","password":"correct horse"}"#.to_vec(),
    )
    .await
    .unwrap();
    error_of(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let resp = send(
        "application/x-www-form-urlencoded",
        b"username=alice&password=x".to_vec(),
    )
    .await
    .unwrap();
    error_of(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let huge = format!(
        r#"{{"username": "alice", "password": "{}"}}"#,
        "x".repeat(300 * 1024)
    );
    let resp = send("application/json", huge.into_bytes()).await.unwrap();
    error_of(resp, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn errors_under_api_are_json_never_html() {
    let app = spawn_app().await;
    error_of(
        app.get("/api/nope").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let resp = app.client.put(app.url("/api/me")).send().await.unwrap();
    error_of(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    error_of(
        app.get("/api/posts?limit=0").await,
        StatusCode::BAD_REQUEST,
        "bad_parameter",
    )
    .await;
    error_of(
        app.get("/api/posts?limit=101").await,
        StatusCode::BAD_REQUEST,
        "bad_parameter",
    )
    .await;
    error_of(
        app.get("/api/posts?limit=ten").await,
        StatusCode::BAD_REQUEST,
        "bad_parameter",
    )
    .await;
    error_of(
        app.get("/api/posts?before=garbage").await,
        StatusCode::BAD_REQUEST,
        "bad_cursor",
    )
    .await;
}

#[tokio::test]
async fn logging_in_sets_the_same_cookie_as_the_login_page() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    let resp = app
        .api_post(
            "/api/session",
            json!({"username": "ALICE", "password": PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = set_cookie(&resp, "tangerine_session").expect("a session cookie");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1209600"] {
        assert!(cookie.contains(part), "{part}: {cookie}");
    }
    assert_eq!(json_of(resp).await["username"], "alice");
    let me = json_of(app.get("/api/me").await).await;
    assert_eq!(me["username"], "alice");

    // A second login starts a fresh session and ends the first.
    let again = app
        .api_post(
            "/api/session",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    let second = set_cookie(&again, "tangerine_session").unwrap();
    assert_ne!(cookie_value(&cookie), cookie_value(&second));
    assert_eq!(
        app.count("sessions").await,
        2,
        "the other browser's and this one"
    );
}

#[tokio::test]
async fn bad_credentials_get_401_with_one_body_whether_or_not_the_name_exists() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    let wrong = app
        .api_post(
            "/api/session",
            json!({"username": "alice", "password": "wrong password"}),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong = wrong.text().await.unwrap();
    let unknown = app
        .api_post(
            "/api/session",
            json!({"username": "nobody", "password": "wrong password"}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, unknown.text().await.unwrap());
    assert!(wrong.contains(r#""error":"bad_credentials""#), "{wrong}");
}

#[tokio::test]
async fn the_browsers_session_works_for_the_api_and_the_apis_for_the_pages() {
    let app = spawn_app().await;
    app.signed_up("alice").await; // through the page
    assert_eq!(json_of(app.get("/api/me").await).await["username"], "alice");

    let script = app.new_browser();
    script.api_user("bob").await;
    assert!(script.get_text("/").await.contains("Welcome, bob"));
}

#[tokio::test]
async fn logging_out_through_the_api_ends_the_session_for_the_pages_too() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    assert!(app.get_text("/").await.contains("Welcome, alice"));

    let without_token = app
        .client
        .delete(app.url("/api/session"))
        .send()
        .await
        .unwrap();
    error_of(without_token, StatusCode::FORBIDDEN, "csrf_missing").await;

    let resp = app.api_send(Method::DELETE, "/api/session", None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(
        set_cookie(&resp, "tangerine_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(app.count("sessions").await, 0);
    assert!(!app.get_text("/").await.contains("Welcome,"));

    let again = app.api_send(Method::DELETE, "/api/session", None).await;
    error_of(again, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn the_api_csrf_token_is_the_one_the_pages_carry() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let page_token = csrf_token_in(&app.get_text("/").await).unwrap();
    assert_eq!(app.api_csrf().await, page_token);
}

#[tokio::test]
async fn posts_live_through_the_api() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let resp = app
        .api_send(
            Method::POST,
            "/api/posts",
            Some(json!({"title": " Hello ", "body": "The *first* post."})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = location(&resp).unwrap();
    let post = json_of(resp).await;
    let id = post["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/posts/{id}"));
    assert_eq!(post["title"], "Hello");
    assert_eq!(post["author"], "alice");
    assert_eq!(post["body"], "The *first* post.");
    assert_eq!(post["body_html"], "<p>The <em>first</em> post.</p>\n");
    assert!(post["updated_at"].is_null());

    let fetched = json_of(app.get(&location).await).await;
    assert_eq!(fetched, post);

    let patched = app
        .api_send(
            Method::PATCH,
            &location,
            Some(json!({"title": "Hello again"})),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let patched = json_of(patched).await;
    assert_eq!(patched["title"], "Hello again");
    assert_eq!(patched["body"], "The *first* post.", "the body is kept");
    assert!(patched["updated_at"].is_string());

    let deleted = app.api_send(Method::DELETE, &location, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    error_of(app.get(&location).await, StatusCode::NOT_FOUND, "not_found").await;
    let again = app.api_send(Method::DELETE, &location, None).await;
    error_of(again, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_post_made_in_one_place_shows_in_the_other() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let page_post = app.publish("From the page", "made with a form").await;
    let api_post = app
        .api_send(
            Method::POST,
            "/api/posts",
            Some(json!({"title": "From the API", "body": "made with JSON"})),
        )
        .await;
    let api_post = json_of(api_post).await["id"].as_str().unwrap().to_owned();

    let home = app.new_browser().get_text("/").await;
    assert!(home.contains(&format!("post-{api_post}")) && home.contains("From the API"));
    let list = json_of(app.get("/api/posts").await).await;
    let ids: Vec<&str> = list["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![api_post.as_str(), page_post.as_str()]);
    assert!(list["next"].is_null());
}

#[tokio::test]
async fn changes_need_a_login_and_the_csrf_header() {
    let app = spawn_app().await;
    let anonymous = app
        .api_post("/api/posts", json!({"title": "t", "body": "b"}))
        .await;
    error_of(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    app.api_user("alice").await;
    let no_header = app
        .api_post("/api/posts", json!({"title": "t", "body": "b"}))
        .await;
    error_of(no_header, StatusCode::FORBIDDEN, "csrf_missing").await;
    let wrong = app
        .client
        .post(app.url("/api/posts"))
        .header("X-CSRF-Token", "forged")
        .json(&json!({"title": "t", "body": "b"}))
        .send()
        .await
        .unwrap();
    error_of(wrong, StatusCode::FORBIDDEN, "csrf_failed").await;
    assert_eq!(app.count("posts").await, 0);
}

#[tokio::test]
async fn a_cross_site_style_request_is_refused() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    // What another site's form can send: a simple content type, the cookie,
    // no custom header.
    for (ct, body) in [
        (
            "application/x-www-form-urlencoded",
            "title=t&body=b".to_owned(),
        ),
        ("text/plain", r#"{"title": "t", "body": "b"}"#.to_owned()),
        ("multipart/form-data; boundary=x", "--x--".to_owned()),
    ] {
        let resp = app
            .client
            .post(app.url("/api/posts"))
            .header("Content-Type", ct)
            .header("Origin", "https://evil.example")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status() == StatusCode::FORBIDDEN
                || resp.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{ct}: {}",
            resp.status()
        );
    }
    // A login or sign-up from a form is not JSON either.
    let login = app
        .client
        .post(app.url("/api/session"))
        .header("Content-Type", "text/plain")
        .body(format!(
            r#"{{"username": "alice", "password": "{PASSWORD}"}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.count("posts").await, 0);
}

#[tokio::test]
async fn only_the_author_changes_a_post_through_the_api() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let post = app
        .api_send(
            Method::POST,
            "/api/posts",
            Some(json!({"title": "Mine", "body": "alice's"})),
        )
        .await;
    let location = location(&post).unwrap();
    let bob = app.new_browser();
    bob.api_user("bob").await;
    let patch = bob
        .api_send(Method::PATCH, &location, Some(json!({"body": "bob's"})))
        .await;
    error_of(patch, StatusCode::FORBIDDEN, "not_yours").await;
    let delete = bob.api_send(Method::DELETE, &location, None).await;
    error_of(delete, StatusCode::FORBIDDEN, "not_yours").await;
    assert_eq!(json_of(app.get(&location).await).await["body"], "alice's");
}

#[tokio::test]
async fn unknown_and_malformed_post_ids_are_404() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    for path in [
        "/api/posts/0193a0a0-0000-7000-8000-000000000000",
        "/api/posts/not-a-uuid",
    ] {
        error_of(app.get(path).await, StatusCode::NOT_FOUND, "not_found").await;
        let patch = app
            .api_send(Method::PATCH, path, Some(json!({"title": "x"})))
            .await;
        error_of(patch, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[tokio::test]
async fn invalid_posts_are_422_and_change_nothing() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    for body in [
        json!({"title": "", "body": "b"}),
        json!({"title": "   ", "body": "b"}),
        json!({"title": "t".repeat(121), "body": "b"}),
        json!({"title": "t", "body": "b".repeat(10_001)}),
        json!({"title": "t"}),
    ] {
        let resp = app.api_send(Method::POST, "/api/posts", Some(body)).await;
        error_of(resp, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    }
    assert_eq!(app.count("posts").await, 0);
}

#[tokio::test]
async fn the_feed_pages_by_cursor_with_a_limit() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let token = app.api_csrf().await;
    for i in 0..7 {
        let resp = app
            .client
            .post(app.url("/api/posts"))
            .header("X-CSRF-Token", &token)
            .json(&json!({"title": format!("Post {i}"), "body": "text"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let default = json_of(app.get("/api/posts").await).await;
    assert_eq!(default["posts"].as_array().unwrap().len(), 7);

    let mut titles = Vec::new();
    let mut url = "/api/posts?limit=3".to_owned();
    loop {
        let page = json_of(app.get(&url).await).await;
        titles.extend(
            page["posts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["title"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => url = format!("/api/posts?limit=3&before={next}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).rev().map(|i| format!("Post {i}")).collect();
    assert_eq!(titles, expected);
}

#[tokio::test]
async fn people_and_their_posts() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    app.api_send(
        Method::POST,
        "/api/posts",
        Some(json!({"title": "By alice", "body": "a"})),
    )
    .await;
    let user = json_of(app.get("/api/users/Alice").await).await;
    assert_eq!(user["username"], "alice");
    let posts = json_of(app.get("/api/users/alice/posts?limit=5").await).await;
    assert_eq!(posts["posts"][0]["title"], "By alice");
    assert!(posts["next"].is_null());
    error_of(
        app.get("/api/users/nobody").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    error_of(
        app.get("/api/users/nobody/posts").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    error_of(
        app.get("/api/users/bad%20name").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn control_characters_are_refused_on_every_database() {
    // PostgreSQL refuses NUL in text: it must never get that far.
    let app = spawn_app().await;
    app.api_user("alice").await;
    for body in [
        json!({"title": "nul \u{0} inside", "body": "b"}),
        json!({"title": "t", "body": "nul \u{0} inside"}),
        json!({"title": "line\nbreak", "body": "b"}),
    ] {
        let resp = app.api_send(Method::POST, "/api/posts", Some(body)).await;
        error_of(resp, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    }
    let login = app
        .new_browser()
        .api_post(
            "/api/session",
            json!({"username": "ali\u{0}ce", "password": PASSWORD}),
        )
        .await;
    error_of(login, StatusCode::UNAUTHORIZED, "bad_credentials").await;
    assert_eq!(app.count("posts").await, 0);
}

/// `limit` bounds a page in posts, `--api-page-size` in bytes: long posts
/// make shorter pages, which still page through every post exactly once.
#[tokio::test]
async fn a_page_of_posts_is_bounded_in_bytes_as_well_as_in_posts() {
    let app = spawn_app_with(&["--api-page-size", "64KiB", "--post-limit", "0"]).await;
    app.api_user("alice").await;
    let body = "word ".repeat(1_800);
    for i in 0..10 {
        let resp = app
            .api_send(
                reqwest::Method::POST,
                "/api/posts",
                Some(serde_json::json!({"title": format!("Long {i}"), "body": body})),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut path = "/api/posts?limit=100".to_owned();
    loop {
        let resp = app.get(&path).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let bytes = resp.bytes().await.unwrap();
        assert!(bytes.len() < 64 * 1024 + 20 * 1024, "{} bytes", bytes.len());
        let page: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let posts = page["posts"].as_array().unwrap();
        assert!(
            !posts.is_empty() && posts.len() < 10,
            "{} posts",
            posts.len()
        );
        seen.extend(
            posts
                .iter()
                .map(|p| p["title"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => path = format!("/api/posts?limit=100&before={next}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..10).rev().map(|i| format!("Long {i}")).collect();
    assert_eq!(seen, expected);
}
