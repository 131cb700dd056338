//! Suspension, removing posts, reports and the moderation log, seen from
//! outside.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{cli_users::create_user, helpers::*};

#[tokio::test]
async fn suspending_ends_a_live_session_and_blocks_login_until_reinstated() {
    let app = spawn_app().await;
    create_user(&app, "mod", "moderator");
    app.browser.logged_in("mod").await;
    let alice = app.new_browser();
    alice.signed_up("alice").await;
    let alice_api = app.new_browser();
    alice_api.api_user("alice2").await;

    let resp = app
        .browser
        .submit("/admin/users/alice/suspend", &[("reason", "spam links")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp).as_deref(), Some("/admin/users/alice"));
    let resp = alice.get("/settings").await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "the next request is anonymous"
    );

    let resp = app
        .browser
        .api_send(
            Method::POST,
            "/api/admin/users/alice2/suspend",
            Some(json!({"reason": "bot"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        alice_api.get("/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A wrong password reveals nothing; the right one says why.
    let resp = alice.login("alice", "not the password").await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!resp.text().await.unwrap().contains("suspended"));
    let resp = alice.login("alice", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let html = resp.text().await.unwrap();
    assert!(html.contains("This account is suspended."));
    assert!(html.contains("id=\"login-form\""), "the form comes back");
    let resp = alice
        .api_post(
            "/api/session",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["error"],
        "suspended"
    );
    let profile = alice.get_text("/u/alice").await;
    assert!(profile.contains("This account is suspended."));

    // Nobody suspends themselves; a moderator cannot suspend staff.
    let resp = app
        .browser
        .api_send(
            Method::POST,
            "/api/admin/users/mod/suspend",
            Some(json!({})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    // A reason beyond 500 characters is refused.
    let long = "x".repeat(501);
    let resp = app
        .browser
        .submit("/admin/users/alice2/suspend", &[("reason", &long)])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let resp = app
        .browser
        .submit("/admin/users/alice/reinstate", &[])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    alice.logged_in("alice").await;
    assert!(
        !alice
            .get_text("/u/alice")
            .await
            .contains("This account is suspended.")
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and pass --include-ignored (.ci/run does)"]
async fn suspension_through_another_instance_ends_the_session_on_postgresql() {
    let app = spawn_app().await;
    assert!(
        app.database.is_postgres(),
        "this test needs PostgreSQL: set TEST_DATABASE_URL"
    );
    create_user(&app, "mod", "moderator");
    let other = app.second_instance(&[]).await;
    let alice = app.new_browser();
    alice.signed_up("alice").await;
    assert_eq!(alice.get("/settings").await.status(), StatusCode::OK);

    other.browser.logged_in("mod").await;
    let resp = other
        .browser
        .submit("/admin/users/alice/suspend", &[("reason", "")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        alice.get("/settings").await.status(),
        StatusCode::SEE_OTHER,
        "the first instance sees no session on the very next request"
    );
    assert_eq!(
        alice.login("alice", PASSWORD).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_moderator_removes_another_persons_post_from_feed_profile_and_api() {
    let app = spawn_app().await;
    create_user(&app, "mod", "moderator");
    let alice = app.new_browser();
    alice.signed_up("alice").await;
    let id = alice.publish("Buy cheap watches", "spam").await;
    let kept = alice.publish("A fine post", "hello").await;

    // Members see no Remove control and cannot post to it.
    let feed = alice.get_text("/").await;
    assert!(!feed.contains(&format!("/posts/{id}/remove")));
    let resp = alice
        .submit(&format!("/posts/{id}/remove"), &[("reason", "")])
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    app.browser.logged_in("mod").await;
    let feed = app.browser.get_text("/").await;
    assert!(
        feed.contains(&format!("href=\"/posts/{id}/remove\"")),
        "on the feed card"
    );
    let page = app.browser.get_text(&format!("/posts/{id}")).await;
    assert!(
        page.contains(&format!("href=\"/posts/{id}/remove\"")),
        "on the post page"
    );
    let resp = app.browser.get(&format!("/posts/{id}/remove")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .browser
        .submit(&format!("/posts/{id}/remove"), &[("reason", "spam")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    assert_eq!(
        app.browser.get(&format!("/posts/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    for html in [alice.get_text("/").await, alice.get_text("/u/alice").await] {
        assert!(!html.contains(&format!("id=\"post-{id}\"")));
        assert!(html.contains(&format!("id=\"post-{kept}\"")));
    }
    assert_eq!(
        alice.get(&format!("/api/posts/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );

    // Through the API, too.
    let resp = app
        .browser
        .api_send(
            Method::POST,
            &format!("/api/admin/posts/{kept}/remove"),
            Some(json!({"reason": "also"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let body: serde_json::Value = alice
        .get("/api/users/alice/posts")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["posts"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_report_reaches_the_queue_and_resolving_it_works() {
    let app = spawn_app().await;
    create_user(&app, "mod", "moderator");
    let alice = app.new_browser();
    alice.signed_up("alice").await;
    let first = alice.publish("Questionable", "hmm").await;
    let second = alice.publish("Also questionable", "hmm").await;
    let bob = app.new_browser();
    bob.signed_up("bob").await;

    let resp = bob
        .submit(&format!("/posts/{first}/report"), &[("reason", "")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let long = "y".repeat(501);
    let resp = bob
        .submit(&format!("/posts/{first}/report"), &[("reason", &long)])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = bob
        .submit(&format!("/posts/{first}/report"), &[("reason", "insults")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), Some(format!("/posts/{first}")));
    let resp = bob
        .hx_submit(&format!("/posts/{second}/report"), &[("reason", "spam")])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("a moderator will look"));
    let resp = bob
        .api_send(
            Method::POST,
            &format!("/api/posts/{second}/report"),
            Some(json!({"reason": "again"})),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CONFLICT,
        "one open report per person"
    );
    let resp = alice
        .api_send(
            Method::POST,
            &format!("/api/posts/{second}/report"),
            Some(json!({"reason": "my own"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    app.browser.logged_in("mod").await;
    let queue = app.browser.get_text("/admin/reports").await;
    assert!(queue.contains("insults") && queue.contains("spam") && queue.contains("bob"));
    let reports: serde_json::Value = app
        .browser
        .get("/api/admin/reports")
        .await
        .json()
        .await
        .unwrap();
    let reports = reports["reports"].as_array().unwrap().clone();
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[0]["reason"], "insults", "oldest first");
    let first_report = reports[0]["id"].as_str().unwrap();
    let second_report = reports[1]["id"].as_str().unwrap();

    let resp = app
        .browser
        .submit(&format!("/admin/reports/{first_report}/dismiss"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        alice.get(&format!("/posts/{first}")).await.status(),
        StatusCode::OK,
        "dismissing leaves the post"
    );
    let resp = app
        .browser
        .api_send(
            Method::POST,
            &format!("/api/admin/reports/{second_report}/resolve"),
            Some(json!({"action": "remove"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        alice.get(&format!("/posts/{second}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let reports: serde_json::Value = app
        .browser
        .get("/api/admin/reports")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        reports["reports"].as_array().unwrap().len(),
        0,
        "all resolved"
    );
}

#[tokio::test]
async fn the_public_log_shows_actions_and_no_private_detail() {
    let app = spawn_app().await;
    create_user(&app, "root", "admin");
    let alice = app.browser_as("Mozilla/5.0 SecretAgent/9.9");
    alice.signed_up("alice").await;
    let id = alice.publish("Spam title", "spam").await;
    app.browser.logged_in("root").await;
    app.browser
        .submit(
            &format!("/posts/{id}/remove"),
            &[("reason", "unsolicited ads")],
        )
        .await;
    app.browser
        .submit(
            "/admin/users/alice/suspend",
            &[("reason", "repeat spammer")],
        )
        .await;

    let visitor = app.new_browser();
    let log = visitor.get_text("/moderation").await;
    for shown in [
        "root",
        "alice",
        "Spam title",
        "unsolicited ads",
        "repeat spammer",
        "suspended",
    ] {
        assert!(log.contains(shown), "{shown} in {log}");
    }
    for hidden in ["127.0.0.1", "SecretAgent", "Mozilla"] {
        assert!(!log.contains(hidden), "{hidden} in {log}");
    }

    let staff: serde_json::Value = app
        .browser
        .get("/api/admin/log")
        .await
        .json()
        .await
        .unwrap();
    let entries = staff["entries"].as_array().unwrap();
    assert_eq!(entries[0]["action"], "suspend");
    assert_eq!(entries[1]["action"], "remove_post");
    assert_eq!(entries[1]["post_title"], "Spam title");
    assert_eq!(entries[1]["actor"], "root");
    assert_eq!(app.browser.get("/admin/log").await.status(), StatusCode::OK);

    let private = spawn_app_with(&["--public-moderation-log", "false"]).await;
    assert_eq!(
        private.browser.get("/moderation").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// The same person reporting a post twice at once: one report, one 409.
#[tokio::test]
async fn two_reports_at_once_by_one_person_make_one() {
    let app = spawn_app().await;
    let alice = app.new_browser();
    alice.signed_up("alice").await;
    let id = alice.publish("Post", "body").await;
    app.browser.api_user("bob").await;
    let path = format!("/api/posts/{id}/report");
    let send = || {
        app.browser
            .api_send(Method::POST, &path, Some(json!({"reason": "twice"})))
    };
    let (a, b, c) = tokio::join!(send(), send(), send());
    let mut statuses = [a.status(), b.status(), c.status()];
    statuses.sort();
    assert_eq!(
        statuses,
        [
            StatusCode::CREATED,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT
        ]
    );
    assert_eq!(app.count("reports").await, 1);
}
