//! The staff pages and API: who may see them, roles, sign-up modes and
//! invites.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{cli_users::create_user, helpers::*};

#[tokio::test]
async fn anonymous_visitors_are_sent_to_log_in_and_members_get_403_everywhere() {
    let app = spawn_app().await;
    let resp = app.browser.get("/admin").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(location(&resp).unwrap().starts_with("/login"));
    let resp = app.browser.get("/api/admin/users").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    app.browser.signed_up("alice").await;
    let missing = "00000000-0000-0000-0000-000000000000";
    for path in [
        "/admin".to_owned(),
        "/admin/users/alice".to_owned(),
        "/admin/users/nobody".to_owned(),
        "/admin/reports".to_owned(),
        "/admin/log".to_owned(),
        "/admin/invites".to_owned(),
    ] {
        let resp = app.browser.get(&path).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
    }
    for path in [
        "/admin/users/nobody/suspend".to_owned(),
        "/admin/users/alice/reinstate".to_owned(),
        "/admin/users/nobody/end-sessions".to_owned(),
        "/admin/users/nobody/role".to_owned(),
        format!("/admin/reports/{missing}/remove"),
        format!("/admin/reports/{missing}/dismiss"),
        "/admin/invites".to_owned(),
        format!("/admin/invites/{missing}/revoke"),
        format!("/posts/{missing}/remove"),
    ] {
        let resp = app
            .browser
            .submit(&path, &[("reason", "x"), ("role", "admin")])
            .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let api: [(Method, String, Option<serde_json::Value>); 9] = [
        (Method::GET, "/api/admin/users".into(), None),
        (
            Method::POST,
            "/api/admin/users/nobody/suspend".into(),
            Some(json!({"reason": "x"})),
        ),
        (
            Method::POST,
            "/api/admin/users/nobody/reinstate".into(),
            None,
        ),
        (
            Method::POST,
            "/api/admin/users/nobody/end-sessions".into(),
            None,
        ),
        (
            Method::PUT,
            "/api/admin/users/nobody/role".into(),
            Some(json!({"role": "admin"})),
        ),
        (
            Method::POST,
            format!("/api/admin/posts/{missing}/remove"),
            Some(json!({"reason": "x"})),
        ),
        (Method::GET, "/api/admin/reports".into(), None),
        (
            Method::POST,
            format!("/api/admin/reports/{missing}/resolve"),
            Some(json!({"action": "dismiss"})),
        ),
        (Method::GET, "/api/admin/log".into(), None),
    ];
    for (method, path, body) in api {
        let resp = app.browser.api_send(method.clone(), &path, body).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{method} {path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "forbidden", "{path}");
    }
}

#[tokio::test]
async fn a_role_change_applies_to_live_sessions_on_their_next_request() {
    let app = spawn_app().await;
    create_user(&app, "root", "admin");
    let alice = app.new_browser();
    alice.signed_up("alice").await;
    assert_eq!(alice.get("/admin").await.status(), StatusCode::FORBIDDEN);

    app.browser.logged_in("root").await;
    let resp = app
        .browser
        .submit("/admin/users/alice/role", &[("role", "moderator")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp).as_deref(), Some("/admin/users/alice"));

    // The same session, no new login.
    assert_eq!(alice.get("/admin").await.status(), StatusCode::OK);
    // A moderator may not change roles or see invites.
    let resp = alice
        .submit("/admin/users/root/role", &[("role", "member")])
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        alice.get("/admin/invites").await.status(),
        StatusCode::FORBIDDEN
    );
    // …nor act on other staff.
    let resp = alice
        .submit("/admin/users/root/suspend", &[("reason", "")])
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Under htmx the updated fragment comes back.
    let resp = app
        .browser
        .hx_submit("/admin/users/alice/role", &[("role", "member")])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.starts_with("<section id=\"person\""), "{html}");
    assert!(html.contains("<dd id=\"person-role\">member</dd>"));
    assert_eq!(alice.get("/admin").await.status(), StatusCode::FORBIDDEN);

    // The last admin can be neither demoted nor suspended, and nobody
    // changes their own role or suspends themselves.
    let resp = app
        .browser
        .api_send(
            Method::PUT,
            "/api/admin/users/root/role",
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let resp = app
        .browser
        .submit("/admin/users/root/suspend", &[("reason", "")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Nobody can suspend themselves.")
    );
    let resp = app
        .browser
        .api_send(
            Method::POST,
            "/api/admin/users/root/suspend",
            Some(json!({})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let resp = app
        .browser
        .api_send(
            Method::PUT,
            "/api/admin/users/alice/role",
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["role"],
        "admin"
    );
}

#[tokio::test]
async fn the_people_list_searches_and_shows_activity() {
    let app = spawn_app().await;
    create_user(&app, "root", "admin");
    for name in ["alice", "albert", "bob"] {
        let b = app.new_browser();
        b.signed_up(name).await;
    }
    app.browser.logged_in("root").await;
    let html = app.browser.get_text("/admin?q=AL").await;
    assert!(html.contains("id=\"person-alice\"") && html.contains("id=\"person-albert\""));
    assert!(!html.contains("id=\"person-bob\""));
    let resp = app.browser.hx_get("/admin?q=bob").await;
    let html = resp.text().await.unwrap();
    assert!(html.starts_with("<div id=\"people\""), "{html}");
    assert!(html.contains("id=\"person-bob\""));

    let resp = app.browser.get("/api/admin/users?q=al&limit=1").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(page["people"][0]["username"], "albert");
    assert_eq!(page["people"][0]["live_sessions"], 1);
    let next = page["next"].as_str().unwrap().to_owned();
    let page: serde_json::Value = app
        .browser
        .get(&format!("/api/admin/users?q=al&limit=1&before={next}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["people"][0]["username"], "alice");
    assert!(page["next"].is_null());
}

#[tokio::test]
async fn closed_sign_ups_refuse_the_page_the_form_and_the_api() {
    let app = spawn_app_with(&["--signups", "closed"]).await;
    let resp = app.browser.get("/signup").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("Sign-ups are closed."));
    let resp = app.browser.signup("alice", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = app
        .browser
        .api_post(
            "/api/users",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["error"],
        "signups_closed"
    );
    let home = app.browser.get_text("/").await;
    assert!(!home.contains("href=\"/signup\""), "no sign-up offered");
    // The command line works in every mode.
    create_user(&app, "alice", "member");
    app.browser.logged_in("alice").await;
}

/// The link of a new invite, as the invites page shows it once.
async fn new_invite(admin: &Browser) -> String {
    let resp = admin.submit("/admin/invites", &[]).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let html = resp.text().await.unwrap();
    let start = html.find("invite=").expect("the link") + "invite=".len();
    html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[tokio::test]
async fn invite_sign_ups_take_a_live_code_once() {
    let app = spawn_app_with(&["--signups", "invite"]).await;
    create_user(&app, "root", "admin");
    app.browser.logged_in("root").await;
    let code = new_invite(&app.browser).await;
    assert_eq!(app.count("invites").await, 1);

    let visitor = app.new_browser();
    assert_eq!(visitor.get("/signup").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        visitor.get("/signup?invite=nonsense").await.status(),
        StatusCode::FORBIDDEN
    );
    let form = visitor.get_text(&format!("/signup?invite={code}")).await;
    assert!(form.contains(&format!("name=\"invite\" value=\"{code}\"")));
    let resp = visitor
        .api_post(
            "/api/users",
            json!({"username": "carol", "password": PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["error"],
        "invite_required"
    );
    let resp = visitor
        .submit(
            "/signup",
            &[
                ("username", "carol"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("invite", &code),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "a live code works");

    // Used: refused.
    let resp = app
        .new_browser()
        .api_post(
            "/api/users",
            json!({"username": "dave", "password": PASSWORD, "invite": code}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Revoked: refused.
    let code = new_invite(&app.browser).await;
    let page = app.browser.get_text("/admin/invites").await;
    let id_at = page.find("/admin/invites/").unwrap() + "/admin/invites/".len();
    let id: String = page[id_at..].chars().take(36).collect();
    let resp = app
        .browser
        .submit(&format!("/admin/invites/{id}/revoke"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = app
        .new_browser()
        .api_post(
            "/api/users",
            json!({"username": "dave", "password": PASSWORD, "invite": code}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // A moderator may not manage invites.
    create_user(&app, "mod", "moderator");
    let moderator = app.new_browser();
    moderator.logged_in("mod").await;
    assert_eq!(
        moderator.submit("/admin/invites", &[]).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn an_expired_invite_is_refused() {
    let app = spawn_app_with(&["--signups", "invite", "--invite-lifetime", "1s"]).await;
    create_user(&app, "root", "admin");
    app.browser.logged_in("root").await;
    let code = new_invite(&app.browser).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let resp = app
        .new_browser()
        .api_post(
            "/api/users",
            json!({"username": "dave", "password": PASSWORD, "invite": code}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.new_browser()
            .get(&format!("/signup?invite={code}"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

/// Two admins demoting each other at the same moment: one wins, the other
/// is refused, and an admin remains — every time, on both databases.
#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = spawn_app().await;
    create_user(&app, "ann", "admin");
    create_user(&app, "ben", "admin");
    let ann = app.new_browser();
    ann.logged_in("ann").await;
    let ben = app.new_browser();
    ben.logged_in("ben").await;
    for round in 0..4 {
        let body = || Some(json!({"role": "member"}));
        let (a, b) = tokio::join!(
            ann.api_send(Method::PUT, "/api/admin/users/ben/role", body()),
            ben.api_send(Method::PUT, "/api/admin/users/ann/role", body()),
        );
        let statuses = [a.status(), b.status()];
        // The loser is refused as the last admin (409), or, when the
        // winner committed before the loser's request began, is no admin
        // any more (403).
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "round {round}: {statuses:?}"
        );
        assert!(
            statuses
                .iter()
                .all(|s| [StatusCode::OK, StatusCode::CONFLICT, StatusCode::FORBIDDEN].contains(s)),
            "round {round}: {statuses:?}"
        );
        let out = crate::cli_users::user_cli(&app.database.url, &["list"], None);
        let list = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            list.matches("\tadmin\t").count(),
            1,
            "round {round}: {list}"
        );
        // Both admins again for the next round.
        for name in ["ann", "ben"] {
            let out = crate::cli_users::user_cli(&app.database.url, &["role", name, "admin"], None);
            assert!(out.status.success());
        }
    }
}

#[tokio::test]
async fn an_invite_lifetime_of_zero_never_expires() {
    let app = spawn_app_with(&["--signups", "invite", "--invite-lifetime", "0s"]).await;
    create_user(&app, "root", "admin");
    app.browser.logged_in("root").await;
    let code = new_invite(&app.browser).await;
    let page = app.browser.get_text("/admin/invites").await;
    assert!(page.contains(">live<"), "{page}");
    let resp = app
        .new_browser()
        .api_post(
            "/api/users",
            json!({"username": "dave", "password": PASSWORD, "invite": code}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}
