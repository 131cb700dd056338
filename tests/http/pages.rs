//! Pages and fragments, htmx, the theme and the assets.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn the_homepage_offers_log_in_and_sign_up_to_visitors() {
    let app = spawn_app().await;
    let html = app.get_text("/").await;
    assert!(
        html.contains(r#"href="/login""#) && html.contains(r#"href="/signup""#),
        "{html}"
    );
    assert!(!html.contains("Create Post"));
    assert!(!html.contains("Welcome,"));
}

#[tokio::test]
async fn the_homepage_welcomes_a_person_with_the_create_post_button_and_log_out() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let html = app.get_text("/").await;
    assert!(html.contains("Welcome, alice"), "{html}");
    assert!(
        html.contains(r##"<a class="create-post-btn" href="/posts/new" hx-get="/posts/new" hx-target="#composer" hx-swap="innerHTML"><span class="create-post-btn__icon" aria-hidden="true">+</span>Create Post</a>"##),
        "{html}"
    );
    assert!(
        html.contains(r#"action="/logout""#) && html.contains("Log out"),
        "{html}"
    );
    assert!(!html.contains(r#"href="/signup""#));
}

#[tokio::test]
async fn usernames_are_escaped_in_pages() {
    // Usernames cannot hold markup, so check the echo of a refused one.
    let app = spawn_app().await;
    let resp = app.signup("\"><img src=x>", PASSWORD).await;
    let html = resp.text().await.unwrap();
    assert!(!html.contains("<img src=x>"), "{html}");
    assert!(html.contains("&quot;&gt;&lt;img src=x&gt;"), "{html}");
}

#[tokio::test]
async fn htmx_requests_get_the_fragment_and_others_the_page_both_varying_on_hx_request() {
    let app = spawn_app().await;
    for (path, id) in [
        ("/login", "login-form"),
        ("/signup", "signup-form"),
        // The homepage's fragment is its feed (the next page of it).
        ("/", "feed-empty"),
    ] {
        let page = app.get(path).await;
        assert_eq!(
            header_of(&page, "vary").as_deref(),
            Some("HX-Request"),
            "{path}"
        );
        let page = page.text().await.unwrap();
        assert!(
            page.contains("<!doctype html>") && page.contains(&format!(r#"id="{id}""#)),
            "{path}"
        );

        let fragment = app.hx_get(path).await;
        assert_eq!(
            header_of(&fragment, "vary").as_deref(),
            Some("HX-Request"),
            "{path}"
        );
        let fragment = fragment.text().await.unwrap();
        assert!(!fragment.contains("<html"), "{path}: {fragment}");
        assert!(
            fragment.trim_start().contains(&format!(r#"id="{id}""#)),
            "{path}: {fragment}"
        );
    }
}

#[tokio::test]
async fn a_history_restore_gets_the_whole_page() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/login"))
        .header("HX-Request", "true")
        .header("HX-History-Restore-Request", "true")
        .send()
        .await
        .unwrap();
    assert!(resp.text().await.unwrap().contains("<!doctype html>"));
}

#[tokio::test]
async fn the_base_layout_loads_htmx_and_the_theme_from_this_site() {
    let app = spawn_app().await;
    let html = app.get_text("/").await;
    assert!(
        html.contains(r#"<script src="/assets/htmx-2.0.11.min.js?v="#),
        "{html}"
    );
    assert!(
        html.contains(r#"<link rel="stylesheet" href="/assets/theme.css?v="#),
        "{html}"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from another host"
    );
    assert!(
        html.contains(r#""includeIndicatorStyles":false"#),
        "htmx adds no inline style"
    );
    assert!(
        html.contains(r#"{"code":"[45]..","swap":true"#),
        "htmx swaps 422 form errors"
    );
}

#[tokio::test]
async fn logged_in_pages_send_the_csrf_token_with_every_htmx_request() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let html = app.get_text("/").await;
    let token = csrf_token_in(&html).unwrap();
    assert!(
        html.contains(&format!(r#"hx-headers='{{"X-CSRF-Token": "{token}"}}'"#)),
        "{html}"
    );
}

#[tokio::test]
async fn the_theme_is_orange_and_white_with_a_pulsing_plus() {
    let app = spawn_app().await;
    let resp = app.get("/assets/theme.css").await;
    assert_eq!(
        header_of(&resp, "content-type").as_deref(),
        Some("text/css; charset=utf-8")
    );
    let css = resp.text().await.unwrap();
    assert!(css.contains("#ff8c00"));
    assert!(css.contains("@keyframes pulse"));
    assert!(css.contains("scale(1.2)"));
    assert!(css.contains("animation: pulse 1s"));
    assert!(css.contains("translateY(-2px)"));
    assert!(css.contains("prefers-reduced-motion: reduce"));
    assert!(css.contains(":focus-visible"));
}

#[tokio::test]
async fn assets_have_validators_and_versioned_urls_are_cached_for_good() {
    let app = spawn_app().await;
    let html = app.get_text("/").await;
    let start = html.find("/assets/theme.css?v=").unwrap();
    let versioned = &html[start..start + html[start..].find('"').unwrap()];

    let resp = app.get(versioned).await;
    assert!(
        header_of(&resp, "cache-control")
            .unwrap()
            .contains("immutable")
    );
    let etag = header_of(&resp, "etag").expect("an ETag");

    let plain = app.get("/assets/theme.css").await;
    assert!(
        header_of(&plain, "cache-control")
            .unwrap()
            .contains("must-revalidate")
    );

    let again = app
        .client
        .get(app.url("/assets/theme.css"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let js = app.get("/assets/htmx-2.0.11.min.js").await;
    assert_eq!(
        header_of(&js, "content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    assert!(js.text().await.unwrap().contains(r#"version:"2.0.11""#));

    let icon = app.get("/favicon.ico").await;
    assert_eq!(icon.status(), StatusCode::OK);
    assert_eq!(
        header_of(&icon, "content-type").as_deref(),
        Some("image/x-icon")
    );
    let svg = app.get("/assets/favicon.svg").await;
    assert!(svg.text().await.unwrap().contains("#ff8c00"));

    assert_eq!(
        app.get("/assets/nope.css").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_health_check_answers_when_the_database_does() {
    let app = spawn_app().await;
    let resp = app.get("/healthz").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(set_cookies(&resp).is_empty());
}

/// PostgreSQL only: an embedded SQLite file cannot go away under open handles.
#[tokio::test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and pass --include-ignored (.ci/run does)"]
async fn the_health_check_answers_503_when_the_database_is_gone() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    assert!(
        app.database.is_postgres(),
        "this test needs PostgreSQL: set TEST_DATABASE_URL"
    );
    // Drop the database under the running app.
    let admin_url = std::env::var("TEST_DATABASE_URL").unwrap();
    let admin = tangerine::store::connect(&admin_url).await.unwrap();
    let name = app.database.url.rsplit('/').next().unwrap().to_owned();
    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
    let resp = app.get("/healthz").await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
}
