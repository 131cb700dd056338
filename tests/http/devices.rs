//! "Your sessions": the list, ending one or all others, the per-person
//! limit, remember me, and concurrent writes to one session's data.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

#[tokio::test]
async fn the_list_shows_exactly_the_callers_live_sessions() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let firefox = app.browser_as(FIREFOX);
    firefox.logged_in("alice").await;
    let phone = app.browser_as(IPHONE);
    phone.logged_in("alice").await;
    let bob = app.new_browser();
    bob.signed_up("bob").await;
    app.insert_expired_sessions(2).await;

    let page = app.get_text("/sessions").await;
    assert_eq!(page.matches(r#"<li id="session-"#).count(), 3, "{page}");
    assert_eq!(page.matches("This device").count(), 1);
    for seen in [
        "Chrome 156</strong> on Linux",
        "Firefox 128</strong> on Windows",
        "Safari 17</strong> on iPhone",
    ] {
        assert!(page.contains(seen), "{seen}: {page}");
    }
    assert!(page.contains("127.0.0.1"));
    assert!(page.contains("just now"), "relative times: {page}");
    assert!(page.contains("<time datetime="));
    assert!(
        page.contains("up to 50 sessions"),
        "the limit is shown: {page}"
    );
    let bobs = bob.session_id().await;
    assert!(!page.contains(&bobs.to_string()), "nobody else's sessions");

    let api: Value = app.get("/api/sessions").await.json().await.unwrap();
    let list = api.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    for s in list {
        let mut keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "browser",
                "created_at",
                "current",
                "expires_at",
                "id",
                "ip",
                "last_seen_at",
                "os",
                "remember"
            ],
            "never the secret or its hash"
        );
    }
}

#[tokio::test]
async fn the_sessions_page_needs_a_login() {
    let app = spawn_app().await;
    let resp = app.get("/sessions").await;
    assert_eq!(location(&resp).as_deref(), Some("/login?next=/sessions"));
    assert_eq!(
        app.get("/api/sessions").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn ending_a_session_refuses_its_very_next_request() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let other = app.browser_as(FIREFOX);
    other.logged_in("alice").await;
    let id = other.session_id().await;

    let resp = app.submit(&format!("/sessions/{id}/revoke"), &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp).as_deref(), Some("/sessions"));
    assert!(!other.get_text("/").await.contains("Welcome,"));
    assert_eq!(
        other.get("/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let page = app.get_text("/sessions").await;
    assert!(page.contains("That session is logged out."));
    assert_eq!(page.matches(r#"<li id="session-"#).count(), 1);
}

#[tokio::test]
async fn under_htmx_an_ended_sessions_row_disappears_in_place() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let other = app.browser_as(FIREFOX);
    other.logged_in("alice").await;
    let id = other.session_id().await;
    let page = app.get_text("/sessions").await;
    assert!(
        page.contains(&format!(
            r##"hx-post="/sessions/{id}/revoke" hx-target="#session-{id}" hx-swap="outerHTML""##
        )),
        "{page}"
    );

    let resp = app.hx_submit(&format!("/sessions/{id}/revoke"), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Nothing takes the row's place; the live region says what happened, as
    // the page does without JavaScript.
    assert_eq!(
        only_announcement(&resp.text().await.unwrap()).as_deref(),
        Some("That session is logged out.")
    );
    assert_eq!(
        other.get("/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn logging_out_all_other_sessions_keeps_only_this_one() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let others = [app.browser_as(FIREFOX), app.browser_as(IPHONE)];
    for b in &others {
        b.logged_in("alice").await;
    }
    let resp = app.submit("/sessions/revoke-others", &[]).await;
    assert_eq!(location(&resp).as_deref(), Some("/sessions"));
    for b in &others {
        assert_eq!(b.get("/api/me").await.status(), StatusCode::UNAUTHORIZED);
    }
    let page = app.get_text("/sessions").await;
    assert!(page.contains("2 other sessions logged out."), "{page}");
    assert_eq!(page.matches(r#"<li id="session-"#).count(), 1);
    assert!(app.get_text("/").await.contains("Welcome, alice"));
}

#[tokio::test]
async fn under_htmx_all_other_rows_go_and_the_list_comes_back() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    app.browser_as(FIREFOX).logged_in("alice").await;
    let resp = app.hx_submit("/sessions/revoke-others", &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(
        html.trim_start().starts_with(r#"<div id="session-list""#),
        "{html}"
    );
    assert_eq!(html.matches(r#"<li id="session-"#).count(), 1);
    assert!(!html.contains("<html"));
}

#[tokio::test]
async fn another_persons_session_id_is_404_on_the_page_and_in_the_api() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let bob = app.new_browser();
    bob.signed_up("bob").await;
    let bobs = bob.session_id().await;

    let page = app.submit(&format!("/sessions/{bobs}/revoke"), &[]).await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let api = app
        .api_send(Method::DELETE, &format!("/api/sessions/{bobs}"), None)
        .await;
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    let unknown = app
        .api_send(Method::DELETE, "/api/sessions/not-an-id", None)
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(
        bob.get_text("/").await.contains("Welcome, bob"),
        "bob's session lives"
    );
}

#[tokio::test]
async fn the_api_ends_a_session_at_once() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let other = app.browser_as(FIREFOX);
    other.logged_in("alice").await;
    let id = other.session_id().await;
    let resp = app
        .api_send(Method::DELETE, &format!("/api/sessions/{id}"), None)
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        other.get("/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let without_csrf = app
        .client
        .delete(app.url(&format!("/api/sessions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(without_csrf.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_login_beyond_the_limit_ends_the_least_recently_used_session() {
    let app = spawn_app_with(&["--max-sessions-per-user", "3", "--session-refresh", "0s"]).await;
    app.signed_up("alice").await; // 1
    let b = app.new_browser();
    b.logged_in("alice").await; // 2
    let c = app.new_browser();
    c.logged_in("alice").await; // 3
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Use the first two again, so that c is the least recently used.
    app.get("/").await;
    b.get("/").await;
    let d = app.new_browser();
    d.logged_in("alice").await; // 4: c must go

    assert_eq!(c.get("/api/me").await.status(), StatusCode::UNAUTHORIZED);
    for alive in [&app.browser, &b, &d] {
        assert_eq!(alive.get("/api/me").await.status(), StatusCode::OK);
    }
    assert!(app.get_text("/sessions").await.contains("up to 3 sessions"));
}

#[tokio::test]
async fn remember_me_gives_a_lasting_cookie_and_the_long_idle_time() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    let page = app.get_text("/login").await;
    assert!(
        page.contains(r#"name="remember""#) && !page.contains("checked"),
        "unticked by default: {page}"
    );

    let remembered = app.new_browser();
    let resp = remembered.login_remembered("alice", PASSWORD).await;
    let cookie = set_cookie(&resp, "tangerine_session").unwrap();
    assert!(cookie.contains("Max-Age=1209600"), "{cookie}");

    let brief = app.new_browser();
    let resp = brief.login("alice", PASSWORD).await;
    let cookie = set_cookie(&resp, "tangerine_session").unwrap();
    assert!(
        !cookie.contains("Max-Age") && !cookie.contains("Expires"),
        "{cookie}"
    );

    let mine = current_session(&remembered).await;
    assert_eq!(mine["remember"], true);
    let brief_one = current_session(&brief).await;
    assert_eq!(brief_one["remember"], false);
    assert_eq!(lifetime_hours(&mine), 14 * 24);
    assert_eq!(lifetime_hours(&brief_one), 12);
}

/// The session a browser is using, as the API lists it.
async fn current_session(browser: &Browser) -> Value {
    let list: Value = browser.get("/api/sessions").await.json().await.unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .cloned()
        .expect("the current session is listed")
}

/// Hours from a listed session's start to its (idle) expiry.
fn lifetime_hours(session: &Value) -> i64 {
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(session[field].as_str().unwrap()).unwrap()
    };
    (at("expires_at") - at("created_at")).num_hours()
}

#[tokio::test]
async fn a_session_not_remembered_ends_after_the_short_idle_time() {
    let app = spawn_app_with(&["--session-idle-short", "1s", "--session-refresh", "0s"]).await;
    app.new_browser().signed_up("alice").await;
    let brief = app.new_browser();
    brief.logged_in("alice").await;
    let remembered = app.new_browser();
    let resp = remembered.login_remembered("alice", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        brief.get("/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(remembered.get("/api/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn sign_up_remembers_and_the_api_remembers_unless_told_not_to() {
    let app = spawn_app().await;
    let resp = app.signup("alice", PASSWORD).await;
    assert!(
        set_cookie(&resp, "tangerine_session")
            .unwrap()
            .contains("Max-Age=")
    );
    let default = app
        .new_browser()
        .api_post(
            "/api/session",
            serde_json::json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert!(
        set_cookie(&default, "tangerine_session")
            .unwrap()
            .contains("Max-Age=")
    );
    let brief = app
        .new_browser()
        .api_post(
            "/api/session",
            serde_json::json!({"username": "alice", "password": PASSWORD, "remember": false}),
        )
        .await;
    assert_eq!(brief.status(), StatusCode::OK);
    assert!(
        !set_cookie(&brief, "tangerine_session")
            .unwrap()
            .contains("Max-Age")
    );
}

#[tokio::test]
async fn expire_at_browser_close_drops_max_age_but_keeps_the_server_lifetime() {
    let app = spawn_app_with(&["--expire-at-browser-close"]).await;
    app.new_browser().signed_up("alice").await;
    let resp = app.login_remembered("alice", PASSWORD).await;
    assert!(
        !set_cookie(&resp, "tangerine_session")
            .unwrap()
            .contains("Max-Age")
    );
    let mine = current_session(&app.browser).await;
    assert_eq!(mine["remember"], true);
    assert_eq!(lifetime_hours(&mine), 14 * 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_of_one_session_lose_no_change_to_its_data() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    app.get("/").await; // shows (and so clears) the welcome message
    let titles = ["One", "Two", "Three"];
    let mut ids = Vec::new();
    for title in titles {
        ids.push(app.publish(title, "text").await);
    }
    let token = app.csrf_token().await;
    // Each deletion queues a message in the session's data, all at once.
    let mut tasks = tokio::task::JoinSet::new();
    for id in ids {
        let client = app.client.clone();
        let url = app.url(&format!("/posts/{id}/delete"));
        let token = token.clone();
        tasks.spawn(async move {
            client
                .post(url)
                .form(&[("csrf_token", token)])
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::SEE_OTHER);
    }
    let page = app.get_text("/").await;
    for title in titles {
        assert!(
            page.contains(&format!("Your post “{title}” is deleted.")),
            "{title} lost: {page}"
        );
    }
}

#[tokio::test]
async fn a_stale_write_of_session_data_is_refused_by_its_version() {
    use tangerine::store::sessions;
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let id = app.session_id().await;
    let row = sessions::find_by_id(&app.db, id).await.unwrap().unwrap();
    let mut first = row.data.clone();
    first.insert("a".into(), 1.into());
    let mut second = row.data.clone();
    second.insert("b".into(), 2.into());
    assert!(
        sessions::save_data(&app.db, id, row.version, &first, None)
            .await
            .unwrap()
    );
    assert!(
        !sessions::save_data(&app.db, id, row.version, &second, None)
            .await
            .unwrap(),
        "a write over a version that moved on is refused"
    );
    let now = sessions::find_by_id(&app.db, id).await.unwrap().unwrap();
    assert_eq!(now.version, row.version + 1);
    assert_eq!(now.data.get("a"), Some(&1.into()));
}
