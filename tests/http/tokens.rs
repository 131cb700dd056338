//! Personal access tokens: made and revoked with the session cookie (API and
//! pages), used as `Authorization: Bearer tgr_…` with no cookie and no CSRF
//! header, scoped, expiring, throttled when wrong, and stored only as a hash.

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::*;

/// Makes a token through the API with `browser`'s cookie; returns its id and secret.
async fn make_token(browser: &Browser, scope: &str) -> (String, String) {
    let resp = browser
        .api_send(
            Method::POST,
            "/api/tokens",
            Some(json!({"name": format!("{scope} script"), "scope": scope, "expires_in_days": 30})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    (
        body["id"].as_str().unwrap().to_owned(),
        body["token"].as_str().unwrap().to_owned(),
    )
}

/// A request with the token alone: no cookie jar, no CSRF header.
async fn with_token(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = bare_client()
        .request(method, app.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request")
}

async fn error_code(resp: reqwest::Response) -> String {
    let text = resp.text().await.unwrap();
    assert!(text.ends_with('\n'), "JSON ends with a newline: {text:?}");
    let body: Value = serde_json::from_str(&text).unwrap();
    body["error"].as_str().unwrap().to_owned()
}

fn assert_invalid_token_challenge(resp: &reqwest::Response) {
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header_of(resp, "www-authenticate").as_deref(),
        Some(r#"Bearer error="invalid_token""#)
    );
}

/// Moves token `id`'s expiry into the past.
async fn expire(app: &TestApp, id: &str) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    use tangerine::entities::api_tokens;
    let past: chrono::DateTime<chrono::Utc> = "2020-01-01T00:00:00Z".parse().unwrap();
    api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::ExpiresAt, Expr::value(past))
        .filter(api_tokens::Column::Id.eq(uuid::Uuid::parse_str(id).unwrap()))
        .exec(&app.db)
        .await
        .expect("expired");
}

#[tokio::test]
async fn making_a_token_answers_201_with_the_secret_once_and_lists_it_without() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let resp = app
        .api_send(
            Method::POST,
            "/api/tokens",
            Some(json!({"name": "  backup  ", "scope": "read", "expires_in_days": 7})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let text = resp.text().await.unwrap();
    assert!(text.ends_with('\n'));
    let made: Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<_> = made.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "expires_at",
            "id",
            "last_used_at",
            "name",
            "scope",
            "token"
        ]
    );
    assert_eq!(made["name"], "backup");
    assert_eq!(made["scope"], "read");
    assert_eq!(made["last_used_at"], Value::Null);
    let token = made["token"].as_str().unwrap();
    assert!(token.starts_with("tgr_") && token.len() == 47, "{token}");
    let created: chrono::DateTime<chrono::Utc> =
        made["created_at"].as_str().unwrap().parse().unwrap();
    let expires: chrono::DateTime<chrono::Utc> =
        made["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!((expires - created).num_days(), 7);

    let listed: Value = app.get("/api/tokens").await.json().await.unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], made["id"]);
    assert!(listed[0].get("token").is_none(), "never the secret again");
    assert!(!listed[0].to_string().contains(token));
}

#[tokio::test]
async fn two_tokens_differ_and_the_secret_is_stored_only_as_its_hash() {
    use base64::Engine;
    use sha2::Digest;
    let app = spawn_app().await;
    app.api_user("alice").await;
    let (_, first) = make_token(&app, "write").await;
    let (_, second) = make_token(&app, "write").await;
    assert_ne!(first, second);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(first.strip_prefix("tgr_").unwrap())
        .unwrap();
    assert!(bytes.len() * 8 >= 128, "at least 128 random bits");
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT * FROM api_tokens".to_owned(),
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let hashes: Vec<Vec<u8>> = rows
        .iter()
        .map(|r| r.try_get::<Vec<u8>>("", "secret_hash").unwrap())
        .collect();
    assert!(hashes.contains(&sha2::Sha256::digest(&bytes).to_vec()));
    // No column of any row holds the secret, encoded or raw.
    let dump = format!("{rows:?}");
    for secret in [&first, &second] {
        assert!(!dump.contains(secret.as_str()));
        assert!(!dump.contains(secret.strip_prefix("tgr_").unwrap()));
    }
    assert!(!hashes.contains(&bytes));
}

#[tokio::test]
async fn a_write_token_creates_and_deletes_a_post_with_no_cookie_and_no_csrf_header() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let (_, token) = make_token(&app, "write").await;
    let resp = with_token(
        &app,
        Method::POST,
        "/api/posts",
        &token,
        Some(json!({"title": "By a script", "body": "Hello from a token."})),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(
        set_cookies(&resp).is_empty(),
        "no cookie for a token's request"
    );
    let post: Value = resp.json().await.unwrap();
    assert_eq!(post["author"], "alice");
    let id = post["id"].as_str().unwrap();
    let resp = with_token(
        &app,
        Method::PATCH,
        &format!("/api/posts/{id}"),
        &token,
        Some(json!({"title": "Edited by a script"})),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = with_token(
        &app,
        Method::DELETE,
        &format!("/api/posts/{id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/api/posts/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_read_token_reads_and_gets_403_insufficient_scope_on_a_write() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let (_, token) = make_token(&app, "read").await;
    for path in [
        "/api/me",
        "/api/sessions",
        "/api/posts",
        "/api/users/alice",
        "/api/session/csrf",
    ] {
        let resp = with_token(&app, Method::GET, path, &token, None).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert!(
            set_cookies(&resp)
                .iter()
                .all(|c| !c.contains("tangerine_session")),
            "{path}"
        );
    }
    let me: Value = with_token(&app, Method::GET, "/api/me", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "alice");
    let resp = with_token(
        &app,
        Method::POST,
        "/api/posts",
        &token,
        Some(json!({"title": "No", "body": "Not with a read token."})),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        header_of(&resp, "www-authenticate").as_deref(),
        Some(r#"Bearer error="insufficient_scope""#)
    );
    assert_eq!(error_code(resp).await, "insufficient_scope");
    let resp = with_token(
        &app,
        Method::POST,
        "/api/users",
        &token,
        Some(json!({"username": "bob", "password": PASSWORD})),
    )
    .await;
    assert_eq!(error_code(resp).await, "insufficient_scope");
    assert_eq!(app.count("posts").await, 0);
}

#[tokio::test]
async fn no_token_manages_tokens_sessions_or_the_password() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let session = app.session_id().await;
    for scope in ["read", "write"] {
        let (id, token) = make_token(&app, scope).await;
        let calls = [
            (Method::GET, "/api/tokens".to_owned(), None),
            (
                Method::POST,
                "/api/tokens".to_owned(),
                Some(json!({"name": "more", "scope": "write", "expires_in_days": 365})),
            ),
            (Method::DELETE, format!("/api/tokens/{id}"), None),
            (Method::DELETE, format!("/api/sessions/{session}"), None),
            (
                Method::PUT,
                "/api/me/password".to_owned(),
                Some(json!({"current_password": PASSWORD, "new_password": "an entirely new one"})),
            ),
            (Method::DELETE, "/api/session".to_owned(), None),
            (
                Method::POST,
                "/api/session".to_owned(),
                Some(json!({"username": "alice", "password": PASSWORD})),
            ),
        ];
        for (method, path, body) in calls {
            let resp = with_token(&app, method.clone(), &path, &token, body).await;
            assert_eq!(
                resp.status(),
                StatusCode::FORBIDDEN,
                "{scope}: {method} {path}"
            );
            assert_eq!(
                error_code(resp).await,
                "insufficient_scope",
                "{scope}: {method} {path}"
            );
        }
    }
    // Nothing changed: both tokens, the session and the password are as they were.
    assert_eq!(app.count("api_tokens").await, 2);
    assert_eq!(app.get("/api/me").await.status(), StatusCode::OK);
    let resp = app
        .new_browser()
        .api_post(
            "/api/session",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "the password is unchanged");
}

#[tokio::test]
async fn revoked_expired_unknown_and_malformed_tokens_get_401_with_the_challenge_even_where_no_login_is_needed()
 {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let (revoked_id, revoked) = make_token(&app, "read").await;
    let resp = app
        .api_send(Method::DELETE, &format!("/api/tokens/{revoked_id}"), None)
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (expired_id, expired) = make_token(&app, "read").await;
    expire(&app, &expired_id).await;
    let unknown = format!("tgr_{}", "A".repeat(43));
    for token in [
        revoked.as_str(),
        &expired,
        &unknown,
        "tgr_short",
        "not-even-a-token",
        "",
    ] {
        for path in ["/api/posts", "/api/me", "/api/openapi.json"] {
            let resp = with_token(&app, Method::GET, path, token, None).await;
            assert_invalid_token_challenge(&resp);
            if path != "/api/openapi.json" {
                assert_eq!(error_code(resp).await, "invalid_token", "{token:?} {path}");
            }
        }
    }
    // A login, too, is refused rather than made with a bad token beside it.
    let resp = with_token(
        &app,
        Method::POST,
        "/api/session",
        "tgr_wrong",
        Some(json!({"username": "alice", "password": PASSWORD})),
    )
    .await;
    assert_invalid_token_challenge(&resp);
}

#[tokio::test]
async fn a_bearer_token_wins_over_a_cookie_and_never_touches_the_session_cookie() {
    let app = spawn_app_with(&["--session-refresh", "1s"]).await;
    app.api_user("alice").await;
    let bob = app.new_browser();
    bob.api_user("bob").await;
    let (_, bobs) = make_token(&bob, "read").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // Alice's browser, with her cookie, sends Bob's token: it is Bob.
    let resp = app
        .client
        .get(app.url("/api/me"))
        .bearer_auth(&bobs)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        set_cookies(&resp)
            .iter()
            .all(|c| !c.contains("tangerine_session")),
        "no refresh of the cookie"
    );
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["username"], "bob");
    // A bad token beside a good cookie is refused, not let through by the cookie.
    let resp = app
        .client
        .get(app.url("/api/me"))
        .bearer_auth("tgr_nope")
        .send()
        .await
        .unwrap();
    assert_invalid_token_challenge(&resp);
    // Without the token, the cookie is Alice's, as before.
    let me: Value = app.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["username"], "alice");
}

#[tokio::test]
async fn another_persons_token_or_an_unknown_one_is_404() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let (alices, _) = make_token(&app, "read").await;
    let bob = app.new_browser();
    bob.api_user("bob").await;
    for id in [
        alices.clone(),
        uuid::Uuid::new_v4().to_string(),
        "not-a-uuid".into(),
    ] {
        let resp = bob
            .api_send(Method::DELETE, &format!("/api/tokens/{id}"), None)
            .await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{id}");
        assert_eq!(error_code(resp).await, "not_found");
    }
    let resp = bob
        .submit(&format!("/settings/tokens/{alices}/revoke"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("api_tokens").await, 1);
    let bobs: Value = bob.get("/api/tokens").await.json().await.unwrap();
    assert_eq!(bobs, json!([]));
}

#[tokio::test]
async fn managing_tokens_with_the_cookie_needs_the_csrf_header_and_a_login() {
    let app = spawn_app().await;
    let resp = app.get("/api/tokens").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(resp).await, "unauthenticated");
    app.api_user("alice").await;
    let resp = app
        .api_post(
            "/api/tokens",
            json!({"name": "x", "scope": "read", "expires_in_days": 7}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(resp).await, "csrf_missing");
    assert_eq!(app.count("api_tokens").await, 0);
}

#[tokio::test]
async fn a_token_request_that_breaks_a_rule_is_422_and_nothing_is_made() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    for body in [
        json!({"name": "x", "scope": "read", "expires_in_days": 8}),
        json!({"name": "x", "scope": "read", "expires_in_days": 0}),
        json!({"name": "x", "scope": "admin", "expires_in_days": 7}),
        json!({"name": "   ", "scope": "read", "expires_in_days": 7}),
        json!({"name": "x".repeat(101), "scope": "read", "expires_in_days": 7}),
        json!({"name": "a\u{7}b", "scope": "read", "expires_in_days": 7}),
        json!({"name": 5, "scope": "read", "expires_in_days": 7}),
    ] {
        let resp = app
            .api_send(Method::POST, "/api/tokens", Some(body.clone()))
            .await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    assert_eq!(app.count("api_tokens").await, 0);
}

#[tokio::test]
async fn the_number_of_tokens_is_bounded_by_the_flag() {
    let app = spawn_app_with(&["--max-tokens-per-user", "2"]).await;
    app.api_user("alice").await;
    let (first, _) = make_token(&app, "read").await;
    make_token(&app, "read").await;
    let body = json!({"name": "third", "scope": "read", "expires_in_days": 7});
    let resp = app
        .api_send(Method::POST, "/api/tokens", Some(body.clone()))
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(resp).await, "too_many_tokens");
    app.api_send(Method::DELETE, &format!("/api/tokens/{first}"), None)
        .await;
    let resp = app.api_send(Method::POST, "/api/tokens", Some(body)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    let unlimited = spawn_app_with(&["--max-tokens-per-user", "0"]).await;
    unlimited.api_user("alice").await;
    for _ in 0..3 {
        make_token(&unlimited, "read").await;
    }
}

#[tokio::test]
async fn tokens_made_at_once_never_exceed_the_limit() {
    let app = spawn_app_with(&["--max-tokens-per-user", "3"]).await;
    app.api_user("alice").await;
    let csrf = app.api_csrf().await;
    let attempts = (0..12).map(|i| {
        let req = app
            .client
            .post(app.url("/api/tokens"))
            .header("X-CSRF-Token", csrf.clone())
            .json(&json!({"name": format!("burst {i}"), "scope": "read", "expires_in_days": 7}));
        async move { req.send().await.unwrap().status() }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let made = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert_eq!(made, 3, "exactly the limit: {statuses:?}");
    assert_eq!(app.count("api_tokens").await, made as i64);
}

#[tokio::test]
async fn failed_token_checks_count_against_the_per_address_login_limit() {
    let app = spawn_app_with(&["--login-max-failures-per-address", "3"]).await;
    app.api_user("alice").await;
    let (_, good) = make_token(&app, "read").await;
    // A good token costs nothing.
    for _ in 0..5 {
        let resp = with_token(&app, Method::GET, "/api/me", &good, None).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    for _ in 0..3 {
        let resp = with_token(&app, Method::GET, "/api/posts", "tgr_guess", None).await;
        assert_invalid_token_challenge(&resp);
    }
    // The address is now refused before any token is looked up, good or bad.
    for token in ["tgr_guess", good.as_str()] {
        let resp = with_token(&app, Method::GET, "/api/posts", token, None).await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(header_of(&resp, "retry-after").is_some());
        assert_eq!(error_code(resp).await, "too_many_failures");
    }
    // And so are password logins from the same address.
    let resp = app
        .new_browser()
        .api_post(
            "/api/session",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// Every failure of a burst is counted, none beyond the limit, and the
/// address is refused afterwards before any lookup. (Checks that are already
/// under way when the count fills still finish: the count is taken after a
/// failed lookup, so that a valid token's request writes nothing.)
#[tokio::test]
async fn a_flood_of_bad_tokens_at_once_fills_the_address_count_and_is_then_refused() {
    let app = spawn_app_with(&["--login-max-failures-per-address", "5"]).await;
    let attempts = (0..30).map(|i| {
        let url = app.url("/api/posts");
        async move {
            bare_client()
                .get(url)
                .bearer_auth(format!("tgr_guess{i}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let used: Vec<i32> = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        use tangerine::entities::rate_limits;
        rate_limits::Entity::find()
            .filter(rate_limits::Column::Key.starts_with("login-address:"))
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.used)
            .collect()
    };
    assert_eq!(used, [5], "counted up to the limit, not beyond");
    for _ in 0..3 {
        let after = with_token(&app, Method::GET, "/api/posts", "tgr_more", None).await;
        assert_eq!(after.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}

#[tokio::test]
async fn last_use_is_recorded_at_most_once_a_refresh_interval() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let (_, token) = make_token(&app, "read").await;
    let first = with_token(&app, Method::GET, "/api/me", &token, None).await;
    assert_eq!(first.status(), StatusCode::OK);
    let used = |list: Value| list[0]["last_used_at"].clone();
    let after_first = used(app.get("/api/tokens").await.json().await.unwrap());
    assert!(after_first.is_string(), "recorded: {after_first}");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    with_token(&app, Method::GET, "/api/me", &token, None).await;
    let after_second = used(app.get("/api/tokens").await.json().await.unwrap());
    assert_eq!(
        after_first, after_second,
        "not written again within the minute"
    );
}

#[tokio::test]
async fn a_password_change_keeps_tokens_but_ending_them_all_and_deleting_the_account_do_not() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let (_, token) = make_token(&app, "write").await;
    let resp = app
        .api_send(
            Method::PUT,
            "/api/me/password",
            Some(
                json!({"current_password": PASSWORD, "new_password": "an entirely new passphrase"}),
            ),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = with_token(&app, Method::GET, "/api/me", &token, None).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "a password change keeps tokens"
    );

    // Suspension ends every token of the person, and reinstating does not
    // bring them back.
    let me: Value = with_token(&app, Method::GET, "/api/me", &token, None)
        .await
        .json()
        .await
        .unwrap();
    let id = uuid::Uuid::parse_str(me["id"].as_str().unwrap()).unwrap();
    let username = me["username"].as_str().unwrap().to_owned();
    crate::cli_users::create_user(&app, "tokenmod", "moderator");
    let moderator = app.new_browser();
    moderator.logged_in("tokenmod").await;
    let suspended = moderator
        .api_send(
            Method::POST,
            &format!("/api/admin/users/{username}/suspend"),
            Some(json!({"reason": "spam"})),
        )
        .await;
    assert_eq!(suspended.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.count("api_tokens").await, 0);
    assert_invalid_token_challenge(&with_token(&app, Method::GET, "/api/me", &token, None).await);
    let reinstated = moderator
        .api_send(
            Method::POST,
            &format!("/api/admin/users/{username}/reinstate"),
            None,
        )
        .await;
    assert_eq!(reinstated.status(), StatusCode::NO_CONTENT);
    assert_invalid_token_challenge(&with_token(&app, Method::GET, "/api/me", &token, None).await);
    let back = app.login(&username, "an entirely new passphrase").await;
    assert_eq!(
        back.status(),
        StatusCode::SEE_OTHER,
        "reinstated, the person logs in"
    );

    // Deleting the account deletes its tokens with it.
    let (_, other) = make_token(&app, "read").await;
    assert_eq!(app.count("api_tokens").await, 1);
    {
        use sea_orm::EntityTrait;
        tangerine::entities::users::Entity::delete_by_id(id)
            .exec(&app.db)
            .await
            .unwrap();
    }
    assert_eq!(app.count("api_tokens").await, 0);
    assert_invalid_token_challenge(&with_token(&app, Method::GET, "/api/me", &other, None).await);
}

#[tokio::test]
async fn the_tokens_page_makes_a_token_without_javascript_and_shows_the_secret_once() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let settings = app.get_text("/settings").await;
    assert!(settings.contains(r#"href="/settings/tokens""#));
    let page = app.get_text("/settings/tokens").await;
    assert!(page.contains(r#"<select id="token-scope" name="scope""#));
    for days in ["7", "30", "90", "365"] {
        assert!(
            page.contains(&format!(r#"<option value="{days}""#)),
            "{days}"
        );
    }
    assert!(
        page.contains("suspended or deleted"),
        "the page says what ends tokens"
    );
    let resp = app
        .submit(
            "/settings/tokens",
            &[
                ("name", "laptop script"),
                ("scope", "write"),
                ("expires_in_days", "90"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header_of(&resp, "cache-control").as_deref(),
        Some("no-store")
    );
    let html = resp.text().await.unwrap();
    let at = html
        .find(r#"id="token-secret""#)
        .expect("the secret is shown");
    let secret = html[at..]
        .split("value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("tgr_"));
    let resp = with_token(&app, Method::GET, "/api/me", &secret, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Listed with its facts, never with its secret again.
    let page = app.get_text("/settings/tokens").await;
    assert!(page.contains("laptop script") && page.contains(">write<"));
    assert!(!page.contains(&secret));
    let sessions = app.get_text("/sessions").await;
    assert!(
        sessions.contains("laptop script"),
        "tokens are listed on /sessions"
    );
    assert!(!sessions.contains(&secret));
}

#[tokio::test]
async fn the_tokens_form_shows_its_errors_inline_with_422_and_needs_csrf() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let resp = app
        .submit(
            "/settings/tokens",
            &[
                ("name", " "),
                ("scope", "root"),
                ("expires_in_days", "1000"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains(r#"id="token-name-error""#));
    assert!(html.contains(r#"id="token-scope-error""#));
    assert!(html.contains(r#"id="token-lifetime-error""#));
    let resp = app
        .hx_submit(
            "/settings/tokens",
            &[("name", ""), ("scope", "read"), ("expires_in_days", "7")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fragment = resp.text().await.unwrap();
    assert!(
        fragment.starts_with(r#"<section id="tokens""#),
        "{fragment}"
    );
    let resp = app
        .post_form(
            "/settings/tokens",
            &[("name", "x"), ("scope", "read"), ("expires_in_days", "7")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "no CSRF token");
    assert_eq!(app.count("api_tokens").await, 0);
}

#[tokio::test]
async fn revoking_on_the_page_works_with_and_without_htmx() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let (first, first_secret) = make_token(&app, "read").await;
    let (second, _) = make_token(&app, "read").await;
    let resp = app
        .submit(&format!("/settings/tokens/{first}/revoke"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp).as_deref(), Some("/settings/tokens"));
    let page = app.get_text("/settings/tokens").await;
    assert!(page.contains("The token is revoked."));
    assert!(!page.contains(&format!("token-{first}")));
    assert_invalid_token_challenge(
        &with_token(&app, Method::GET, "/api/me", &first_secret, None).await,
    );
    let resp = app
        .hx_submit(&format!("/settings/tokens/{second}/revoke"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let fragment = resp.text().await.unwrap();
    assert!(fragment.contains("The token is revoked."));
    assert_eq!(app.count("api_tokens").await, 0);
}

#[tokio::test]
async fn the_tokens_page_needs_a_login() {
    let app = spawn_app().await;
    let resp = app.get("/settings/tokens").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(location(&resp).unwrap().starts_with("/login"));
}

#[tokio::test]
async fn expired_tokens_are_not_listed_and_are_purged() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let (expired, _) = make_token(&app, "read").await;
    let (live, _) = make_token(&app, "read").await;
    expire(&app, &expired).await;
    let listed: Value = app.get("/api/tokens").await.json().await.unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [live.as_str()]);
    assert!(!app.get_text("/sessions").await.contains(&expired));
    assert_eq!(
        tangerine::services::tokens::purge_expired(&tangerine::store::Store::through_pool(
            app.db.clone()
        ))
        .await
        .unwrap(),
        1
    );
    assert_eq!(app.count("api_tokens").await, 1);
}
