//! Server-side sessions: what the cookie holds, what the row holds, how
//! sessions start, slide, expire and end.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use sha2::{Digest, Sha256};
use tangerine::entities::sessions;

use crate::helpers::*;

async fn only_session(app: &TestApp) -> sessions::Model {
    let mut rows = sessions::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.remove(0)
}

fn anonymous_get(app: &TestApp, cookie: &str) -> reqwest::RequestBuilder {
    bare_client()
        .get(app.url("/"))
        .header("Cookie", format!("tangerine_session={cookie}"))
}

#[tokio::test]
async fn the_cookie_holds_a_random_secret_and_the_row_only_its_hash() {
    let app = spawn_app().await;
    let resp = app.signup("alice", PASSWORD).await;
    let secret = cookie_value(&set_cookie(&resp, "tangerine_session").unwrap());
    let bytes = URL_SAFE_NO_PAD.decode(&secret).expect("base64url");
    assert_eq!(bytes.len(), 32, "256 bits of secret");

    let row = only_session(&app).await;
    assert_eq!(row.secret_hash, Sha256::digest(&bytes).to_vec());
    let stored = format!("{row:?}");
    assert!(
        !stored.contains(&secret),
        "the secret itself is stored nowhere"
    );
    assert!(row.user_id.is_some());
    assert!(row.absolute_expires_at > row.expires_at);
    assert!(row.user_agent.is_some());
    assert_eq!(row.ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn session_cookies_are_httponly_lax_site_wide_and_live_for_the_idle_time() {
    let app = spawn_app().await;
    let resp = app.signup("alice", PASSWORD).await;
    let cookie = set_cookie(&resp, "tangerine_session").unwrap();
    for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1209600"] {
        assert!(cookie.contains(part), "{part} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(header_of(&resp, "strict-transport-security").is_none());
}

#[tokio::test]
async fn max_age_is_capped_by_the_absolute_lifetime() {
    // The default idle time (14d) is lowered to fit the absolute lifetime
    // given; an idle time given longer than it is refused (see cli.rs).
    let app = spawn_app_with(&["--session-max-age", "30m"]).await;
    let resp = app.signup("alice", PASSWORD).await;
    let cookie = set_cookie(&resp, "tangerine_session").unwrap();
    assert!(cookie.contains("Max-Age=1800"), "{cookie}");
}

#[tokio::test]
async fn secure_cookies_are_secure_and_host_prefixed_with_hsts() {
    let app = spawn_app_with(&["--secure-cookies"]).await;
    // A plain-HTTP test client keeps no Secure cookies: carry them by hand.
    let client = bare_client();
    let login_page = client.get(app.url("/signup")).send().await.unwrap();
    let csrf = set_cookie(&login_page, "__Host-tangerine_csrf").expect("a __Host- CSRF cookie");
    assert!(
        csrf.contains("Secure") && csrf.contains("HttpOnly") && csrf.contains("Path=/"),
        "{csrf}"
    );
    assert!(!csrf.contains("Domain"), "{csrf}");
    assert!(
        header_of(&login_page, "strict-transport-security")
            .unwrap()
            .contains("max-age=")
    );
    let token = csrf_token_in(&login_page.text().await.unwrap()).unwrap();

    let resp = client
        .post(app.url("/signup"))
        .header(
            "Cookie",
            format!("__Host-tangerine_csrf={}", cookie_value(&csrf)),
        )
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&resp, "__Host-tangerine_session").expect("a __Host- session cookie");
    for part in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(session.contains(part), "{part} missing: {session}");
    }
    assert!(set_cookie(&resp, "tangerine_session").is_none());
    let device = set_cookie(&resp, "__Host-tangerine_device").expect("a __Host- device cookie");
    for part in ["Secure", "HttpOnly", "Path=/", "Max-Age=31536000"] {
        assert!(device.contains(part), "{part} missing: {device}");
    }
    assert!(set_cookie(&resp, "tangerine_device").is_none());

    let home = client
        .get(app.url("/"))
        .header(
            "Cookie",
            format!("__Host-tangerine_session={}", cookie_value(&session)),
        )
        .send()
        .await
        .unwrap();
    assert!(home.text().await.unwrap().contains("Welcome, alice"));
}

#[tokio::test]
async fn expire_at_browser_close_leaves_max_age_out_of_every_cookie() {
    let app = spawn_app_with(&["--expire-at-browser-close"]).await;
    let page = app.get("/signup").await;
    let csrf = set_cookie(&page, "tangerine_csrf").unwrap();
    assert!(!csrf.contains("Max-Age"), "{csrf}");
    let resp = app.signup("alice", PASSWORD).await;
    let session = set_cookie(&resp, "tangerine_session").unwrap();
    assert!(
        !session.contains("Max-Age") && !session.contains("Expires"),
        "{session}"
    );
    let device = set_cookie(&resp, "tangerine_device").unwrap();
    assert!(
        device.contains("Max-Age=31536000"),
        "the device cookie lasts a year regardless: {device}"
    );
    // The server still ends it by its own clock.
    let row = only_session(&app).await;
    assert!(row.expires_at > row.created_at);
}

#[tokio::test]
async fn login_starts_a_fresh_session_and_the_previous_cookie_is_worthless() {
    let app = spawn_app().await;
    app.new_browser().signed_up("bob").await;
    let first = app.signup("alice", PASSWORD).await;
    let before = cookie_value(&set_cookie(&first, "tangerine_session").unwrap());

    // The same browser logs in again (as someone else): a new secret, and
    // the row behind the old one is gone.
    let second = app.login("bob", PASSWORD).await;
    let after = cookie_value(&set_cookie(&second, "tangerine_session").unwrap());
    assert_ne!(before, after);
    let replay = anonymous_get(&app, &before).send().await.unwrap();
    let html = replay.text().await.unwrap();
    assert!(!html.contains("Welcome,"), "{html}");
    assert!(app.get_text("/").await.contains("Welcome, bob"));
    // bob's first session (other browser) and this one.
    assert_eq!(app.count("sessions").await, 2);
}

#[tokio::test]
async fn a_cookie_planted_before_login_is_not_the_one_issued() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    let planted = URL_SAFE_NO_PAD.encode([42u8; 32]);
    let client = bare_client();
    let page = client.get(app.url("/login")).send().await.unwrap();
    let csrf = cookie_value(&set_cookie(&page, "tangerine_csrf").unwrap());
    let token = csrf_token_in(&page.text().await.unwrap()).unwrap();
    let resp = client
        .post(app.url("/login"))
        .header(
            "Cookie",
            format!("tangerine_session={planted}; tangerine_csrf={csrf}"),
        )
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let issued = cookie_value(&set_cookie(&resp, "tangerine_session").unwrap());
    assert_ne!(issued, planted);
    let html = anonymous_get(&app, &planted)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("Welcome,"));
}

#[tokio::test]
async fn no_row_is_created_for_visitors_who_have_not_logged_in() {
    let app = spawn_app().await;
    for page in ["/", "/login", "/signup", "/nowhere"] {
        app.get(page).await;
    }
    app.login("nobody", "wrong password").await;
    app.signup("x", "short").await;
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn garbage_truncated_forged_and_deleted_cookies_mean_anonymous() {
    let app = spawn_app().await;
    let resp = app.signup("alice", PASSWORD).await;
    let real = cookie_value(&set_cookie(&resp, "tangerine_session").unwrap());
    let deleted = {
        let browser = app.new_browser();
        let resp = browser.login("alice", PASSWORD).await;
        let value = cookie_value(&set_cookie(&resp, "tangerine_session").unwrap());
        browser.logout().await;
        value
    };
    let forged = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let huge = "A".repeat(4000);
    for cookie in [
        "",
        "garbage",
        "%00%ff",
        &real[..20],
        &format!("{real}x"),
        &forged,
        &deleted,
        &huge,
        "\"quoted\"",
    ] {
        let resp = anonymous_get(&app, cookie).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{cookie:?}");
        let cleared = set_cookie(&resp, "tangerine_session");
        let html = resp.text().await.unwrap();
        assert!(!html.contains("Welcome, alice"), "{cookie:?}");
        assert!(html.contains("Log in"), "{cookie:?}");
        assert!(
            cleared.is_none_or(|c| c.contains("Max-Age=0")),
            "{cookie:?}"
        );
    }
    // The real one still works.
    let html = anonymous_get(&app, &real)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Welcome, alice"));
}

#[tokio::test]
async fn a_page_view_does_not_write_until_the_refresh_interval_has_passed() {
    let app = spawn_app().await; // --session-refresh 60s
    app.signed_up("alice").await;
    let before = only_session(&app).await;
    for _ in 0..5 {
        let resp = app.get("/").await;
        assert!(
            set_cookie(&resp, "tangerine_session").is_none(),
            "no refresh, no cookie"
        );
    }
    let after = only_session(&app).await;
    assert_eq!(before.last_seen_at, after.last_seen_at);
    assert_eq!(before.expires_at, after.expires_at);
}

#[tokio::test]
async fn a_due_refresh_slides_the_idle_deadline_and_resends_the_cookie() {
    let app = spawn_app_with(&["--session-refresh", "1s"]).await;
    app.signed_up("alice").await;
    let before = only_session(&app).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resp = app.get("/").await;
    let cookie = set_cookie(&resp, "tangerine_session").expect("the cookie is sent again");
    assert!(
        cookie.contains("Max-Age=1209600") || cookie.contains("Max-Age=1209599"),
        "{cookie}"
    );
    let after = only_session(&app).await;
    assert!(after.last_seen_at > before.last_seen_at);
    assert!(after.expires_at > before.expires_at);
    assert_eq!(after.absolute_expires_at, before.absolute_expires_at);
}

#[tokio::test]
async fn an_idle_session_expires_and_use_keeps_it_alive() {
    // Lifetimes with room for slow requests on a loaded machine.
    let app = spawn_app_with(&["--session-idle", "5s", "--session-refresh", "0s"]).await;
    let resp = app.signup("alice", PASSWORD).await;
    let cookie = cookie_value(&set_cookie(&resp, "tangerine_session").unwrap());
    // Used every 1.5 s, it outlives its idle time.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(app.get_text("/").await.contains("Welcome, alice"));
    }
    // Left alone, it ends; the cookie that still arrives is refused.
    tokio::time::sleep(Duration::from_millis(5300)).await;
    let html = anonymous_get(&app, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("Welcome,"), "{html}");
    assert_eq!(
        app.count("sessions").await,
        0,
        "an expired row is deleted when seen"
    );
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_expiry_however_active() {
    // Lifetimes with room for slow requests on a loaded machine.
    const MAX_AGE: Duration = Duration::from_secs(6);
    let app = spawn_app_with(&[
        "--session-idle",
        "4s",
        "--session-max-age",
        "6s",
        "--session-refresh",
        "0s",
    ])
    .await;
    let resp = app.signup("alice", PASSWORD).await;
    // The session started while the sign-up was answered: by now.
    let started = tokio::time::Instant::now();
    let secret = cookie_value(&set_cookie(&resp, "tangerine_session").unwrap());
    // The cookie is sent whatever its Max-Age: the server must refuse it.
    let home = || async {
        bare_client()
            .get(app.url("/"))
            .header("Cookie", format!("tangerine_session={secret}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let mut last_used = started;
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(home().await.contains("Welcome, alice"));
        last_used = tokio::time::Instant::now();
    }
    // Past the absolute expiry, yet used well within the idle time.
    tokio::time::sleep_until(started + MAX_AGE + Duration::from_millis(300)).await;
    assert!(
        last_used.elapsed() < Duration::from_secs(4),
        "the uses were too slow to tell"
    );
    assert!(!home().await.contains("Welcome,"));
}

#[tokio::test]
async fn logged_in_answers_are_never_cached() {
    let app = spawn_app().await;
    let anonymous = app.get("/").await;
    assert!(header_of(&anonymous, "cache-control").is_none_or(|c| !c.contains("no-store")));
    app.signed_up("alice").await;
    for page in ["/", "/nowhere"] {
        let resp = app.get(page).await;
        assert_eq!(
            header_of(&resp, "cache-control").as_deref(),
            Some("no-store"),
            "{page}"
        );
    }
    let fragment = app.hx_get("/").await;
    assert_eq!(
        header_of(&fragment, "cache-control").as_deref(),
        Some("no-store")
    );
}

#[tokio::test]
async fn static_assets_never_set_a_cookie_and_keep_their_caching() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    for path in [
        "/assets/theme.css",
        "/assets/htmx-2.0.11.min.js",
        "/favicon.ico",
    ] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert!(set_cookies(&resp).is_empty(), "{path}");
        assert!(
            header_of(&resp, "cache-control").is_some_and(|c| c.starts_with("public")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_purge_deletes_only_expired_rows() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    app.insert_expired_sessions(3).await;
    assert_eq!(app.count("sessions").await, 4);

    let deleted = tangerine::services::sessions::purge::purge_expired(
        &tangerine::store::Store::through_pool(app.db.clone()),
    )
    .await
    .unwrap();
    assert_eq!(deleted, 3);
    assert_eq!(app.count("sessions").await, 1);
    assert!(app.get_text("/").await.contains("Welcome, alice"));
}

#[tokio::test]
async fn the_purge_works_through_many_batches() {
    let app = spawn_app().await;
    app.insert_expired_sessions(2500).await;
    let deleted = tangerine::services::sessions::purge::purge_expired(
        &tangerine::store::Store::through_pool(app.db.clone()),
    )
    .await
    .unwrap();
    assert_eq!(deleted, 2500);
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn a_background_task_purges_expired_rows_without_any_request() {
    let app = spawn_app_with(&[
        "--session-idle",
        "1s",
        "--session-idle-short",
        "1s",
        "--session-refresh",
        "0s",
    ])
    .await;
    app.signed_up("alice").await;
    app.new_browser().logged_in("alice").await;
    assert_eq!(app.count("sessions").await, 2);
    // Idle 1s: the task runs every second; give it a few.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.count("sessions").await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "expired rows were not purged"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
