//! Logins under attack: concurrent guesses, the credential epoch, device
//! cookies that spare the owner, the bounded hashing queue, password rules,
//! sign-up limits, and CSRF tokens bound to the login.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Sends `n` logins of `username` with `password` at once to the instance
/// at `address`, each from a browser of its own; returns their statuses.
async fn burst(address: &str, n: usize, username: &str, password: &str) -> Vec<StatusCode> {
    let browsers: Vec<Browser> = (0..n).map(|_| Browser::new(address.to_owned())).collect();
    let tokens = join_all(browsers.iter().map(|b| b.csrf_token())).await;
    join_all(browsers.iter().zip(&tokens).map(|(b, token)| async move {
        b.post_form(
            "/login",
            &[
                ("username", username),
                ("password", password),
                ("csrf_token", token),
            ],
        )
        .await
        .status()
    }))
    .await
}

/// A fresh CSRF cookie and its token, as a browser without a session gets
/// them from the login page.
async fn anonymous_csrf_pair(app: &TestApp) -> (String, String) {
    let login = bare_client().get(app.url("/login")).send().await.unwrap();
    let cookie = cookie_value(&set_cookie(&login, "tangerine_csrf").unwrap());
    let token = csrf_token_in(&login.text().await.unwrap()).unwrap();
    (cookie, token)
}

/// A login through a trusted proxy that reports the client as `ip`.
async fn login_from(
    client: &reqwest::Client,
    address: &str,
    url: &str,
    ip: &str,
    name: &str,
    password: &str,
) -> StatusCode {
    let login_page = client.get(format!("{address}/login")).send().await.unwrap();
    let token = csrf_token_in(&login_page.text().await.unwrap()).unwrap();
    client
        .post(url)
        .header("X-Forwarded-For", ip)
        .form(&[
            ("username", name),
            ("password", password),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn concurrent_wrong_guesses_are_counted_before_any_is_hashed() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    let statuses = burst(&app.address, 50, "alice", "wrong password").await;
    let not_throttled = statuses
        .iter()
        .filter(|s| **s != StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        not_throttled <= 5,
        "{not_throttled} got past the throttle: {statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNPROCESSABLE_ENTITY || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // The right password at the end of the burst is refused too.
    let last = app.login("alice", PASSWORD).await;
    assert_eq!(last.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header_of(&last, "retry-after").is_some());
    assert_eq!(app.count("sessions").await, 1, "only the sign-up's session");
}

#[tokio::test]
async fn a_burst_split_across_two_instances_shares_one_count() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    let other = app.second_instance(&["--signup-limit", "0"]).await;
    let (here, there) = tokio::join!(
        burst(&app.address, 25, "alice", "wrong password"),
        burst(&other.browser.address, 25, "alice", "wrong password"),
    );
    let checked = here
        .iter()
        .chain(&there)
        .filter(|s| **s != StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(checked <= 5, "{checked} checked: {here:?} {there:?}");
    assert_eq!(
        other.browser.login("alice", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn concurrent_wrong_current_passwords_are_counted_against_the_name() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    let token = app.api_csrf().await;
    let attempts = (0..20).map(|i| {
        app.client
            .put(app.url("/api/me/password"))
            .header("X-CSRF-Token", &token)
            .json(&json!({"current_password": format!("wrong guess {i}"), "new_password": "orange tree at dawn"}))
            .send()
    });
    let statuses: Vec<StatusCode> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    assert!(checked <= 5, "{statuses:?}");
    assert_eq!(
        checked
            + statuses
                .iter()
                .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
                .count(),
        20
    );
    // The name is now locked for logins without a device cookie.
    assert_eq!(
        app.new_browser().login("alice", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_login_that_checked_the_old_password_during_a_change_makes_no_working_session() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    // The login goes to another instance, whose hashing is held so that it
    // has read the old hash, and waits, while the change commits here.
    let other = app.second_instance(&["--signup-limit", "0"]).await;
    let held = other.hasher.pause();
    let late = other.browser.csrf_token().await;
    let login = {
        let client = other.browser.client.clone();
        let url = other.browser.url("/login");
        tokio::spawn(async move {
            client
                .post(url)
                .form(&[
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("csrf_token", late.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    until_pending(&other.hasher, 1).await;
    let changed = app
        .submit(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "orange tree at dawn"),
                ("new_password_confirm", "orange tree at dawn"),
            ],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    drop(held);
    // It verified against the hash it had read, so it "succeeded"...
    assert_eq!(login.await.unwrap(), StatusCode::SEE_OTHER);
    // ...but the session it made belongs to the old password.
    assert_eq!(
        other.browser.get("/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(!other.browser.get_text("/").await.contains("Welcome, alice"));
    // The browser that changed it is still logged in, and the new password works.
    assert_eq!(app.get("/api/me").await.status(), StatusCode::OK);
    let fresh = app.new_browser();
    assert_eq!(
        fresh.login("alice", "orange tree at dawn").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(fresh.get("/api/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_locked_name_spares_the_browser_that_logged_in_before() {
    let app = spawn_app().await;
    let maria = app.new_browser();
    maria.signed_up("maria").await;
    let device = maria.client.get(maria.url("/")).send().await.unwrap();
    drop(device);
    let logout = maria.logout().await;
    assert_eq!(
        header_of(&logout, "clear-site-data").as_deref(),
        Some("\"storage\"")
    );
    assert!(
        set_cookie(&logout, "tangerine_device").is_none(),
        "logging out keeps the device cookie"
    );
    // An attacker locks the name from elsewhere.
    let attacker = app.new_browser();
    for _ in 0..5 {
        assert_eq!(
            attacker.login("maria", "guess").await.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    assert_eq!(
        attacker.login("maria", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        app.new_browser().login("maria", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a fresh browser is refused"
    );
    // Maria's own browser still gets in, on the page and in the API.
    assert_eq!(
        maria.login("maria", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(maria.get_text("/").await.contains("Welcome, maria"));
    maria.logout().await;
    let api = maria
        .api_post(
            "/api/session",
            json!({"username": "maria", "password": PASSWORD}),
        )
        .await;
    assert_eq!(api.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_device_has_its_own_budget_and_a_forged_one_counts_for_nothing() {
    let app = spawn_app().await;
    let maria = app.new_browser();
    let signup = maria.signup("maria", PASSWORD).await;
    let device = set_cookie(&signup, "tangerine_device").expect("a device cookie at sign-up");
    assert!(
        device.contains("HttpOnly") && device.contains("Max-Age=31536000"),
        "{device}"
    );
    maria.logout().await;
    for _ in 0..5 {
        maria.login("maria", "my typo").await;
    }
    assert_eq!(
        maria.login("maria", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the device's own budget is spent"
    );
    // Its failures did not touch the name's count.
    let elsewhere = app.new_browser();
    assert_eq!(
        elsewhere.login("maria", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );

    // An altered device cookie is ignored: the attempt counts against the name.
    let value = cookie_value(&device);
    let (id, rest) = value.split_once('.').unwrap();
    let forged = format!("{id}x.{rest}");
    let bob = app.new_browser();
    bob.signed_up("bob").await;
    bob.logout().await;
    let (csrf, token) = anonymous_csrf_pair(&app).await;
    for _ in 0..6 {
        let resp = bare_client()
            .post(app.url("/login"))
            .header(
                "Cookie",
                format!("tangerine_csrf={csrf}; tangerine_device={forged}"),
            )
            .form(&[
                ("username", "maria"),
                ("password", "guess"),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .unwrap();
        assert_ne!(resp.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(
        app.new_browser().login("maria", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn one_addresss_failures_on_one_account_spare_the_others_until_the_address_limit() {
    let app = spawn_app_with(&["--trust-proxy"]).await;
    app.new_browser().signed_up("alice").await;
    app.new_browser().signed_up("bob").await;
    let office = |b: &Browser, name: &str, password: &str| {
        let (b, name, password) = (b.client.clone(), name.to_owned(), password.to_owned());
        let url = app.url("/login");
        let address = app.address.clone();
        async move { login_from(&b, &address, &url, "203.0.113.1", &name, &password).await }
    };
    for _ in 0..5 {
        office(&app, "alice", "typo").await;
    }
    assert_eq!(
        office(&app, "alice", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        office(&app.new_browser(), "bob", PASSWORD).await,
        StatusCode::SEE_OTHER,
        "one person's typos do not lock out the office"
    );
    // 45 more failures from the address, on other names: 50 in all.
    let others: Vec<Browser> = (0..45).map(|_| app.new_browser()).collect();
    join_all(others.iter().enumerate().map(|(i, b)| {
        let name = format!("nobody{i}");
        async move { office(b, &name, "typo").await }
    }))
    .await;
    assert_eq!(
        office(&app.new_browser(), "bob", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the address has spent its 50"
    );
}

#[tokio::test]
async fn ipv6_clients_are_counted_per_64() {
    let app = spawn_app_with(&["--trust-proxy", "--login-max-failures-per-address", "3"]).await;
    app.new_browser().signed_up("bob").await;
    let from = |ip: &'static str, name: &'static str, password: &'static str| {
        let b = app.new_browser();
        async move {
            let url = b.url("/login");
            login_from(&b.client, &b.address, &url, ip, name, password).await
        }
    };
    from("2001:db8:0:1::a", "nobody1", "x").await;
    from("2001:db8:0:1::b", "nobody2", "x").await;
    from("2001:db8:0:1:ffff::c", "nobody3", "x").await;
    assert_eq!(
        from("2001:db8:0:1::d", "bob", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "a new address in the same /64 is the same client"
    );
    assert_eq!(
        from("2001:db8:0:2::a", "bob", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_full_hashing_queue_answers_503_and_an_overlong_password_fails_uncounted() {
    let app = spawn_app_with(&["--max-pending-logins", "1"]).await;
    app.new_browser().signed_up("alice").await;
    let held = app.hasher.pause();
    let waiting = {
        let b = app.new_browser();
        tokio::spawn(async move { b.login("alice", PASSWORD).await.status() })
    };
    until_pending(&app.hasher, 1).await;
    let page = app.new_browser().login("alice", PASSWORD).await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(header_of(&page, "retry-after").is_some());
    assert!(page.text().await.unwrap().contains("Try again in a moment"));
    let api = app
        .new_browser()
        .api_post(
            "/api/session",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(header_of(&api, "retry-after").is_some());
    assert_eq!(api.json::<Value>().await.unwrap()["error"], "unavailable");
    drop(held);
    assert_eq!(waiting.await.unwrap(), StatusCode::SEE_OTHER);

    // Longer than any password can be: refused at once, and never counted.
    let overlong = "x".repeat(300);
    for _ in 0..8 {
        let resp = app.new_browser().login("alice", &overlong).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains("Wrong username or password.")
        );
    }
    let api = app
        .new_browser()
        .api_post(
            "/api/session",
            json!({"username": "alice", "password": "x".repeat(257)}),
        )
        .await;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.hasher.pending(), 0);
    assert_eq!(
        app.new_browser().login("alice", PASSWORD).await.status(),
        StatusCode::SEE_OTHER,
        "none of them counted"
    );
}

#[tokio::test]
async fn each_password_rule_refuses_with_its_reason_and_a_passphrase_passes() {
    let app = spawn_app().await;
    let cases = [
        ("short", "password_too_short", "at least 8 characters"),
        ("password", "password_too_common", "most common"),
        ("P@ssw0rd", "password_too_common", "most common"),
        (
            "dave1234",
            "password_too_similar",
            "too close to your username",
        ),
        ("20261203150", "password_all_digits", "only digits"),
    ];
    for (password, code, says) in cases {
        let resp = app
            .api_post(
                "/api/users",
                json!({"username": "dave", "password": password}),
            )
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{password}"
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], code, "{password}: {body}");
        assert!(body["message"].as_str().unwrap().contains(says), "{body}");

        let page = app.new_browser().signup("dave", password).await;
        assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = page.text().await.unwrap();
        assert!(html.contains(says), "{password}: {html}");
        assert!(html.contains(r#"value="dave""#), "the username is kept");
        assert!(
            !html.contains(&format!(r#"value="{password}""#)),
            "the password is never echoed"
        );
    }
    let long = app
        .api_post(
            "/api/users",
            json!({"username": "dave", "password": "x".repeat(257)}),
        )
        .await;
    assert_eq!(
        long.json::<Value>().await.unwrap()["error"],
        "password_too_long"
    );
    let strict = spawn_app_with(&["--password-min-length", "12"]).await;
    let resp = strict
        .api_post(
            "/api/users",
            json!({"username": "dave", "password": "orange tree"}),
        )
        .await;
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "password_too_short"
    );

    assert_eq!(
        app.signup("dave", "orange tree at dawn").await.status(),
        StatusCode::SEE_OTHER,
        "a passphrase passes"
    );
    // A change must change it, and follows the same rules.
    let same = app
        .api_send(
            Method::PUT,
            "/api/me/password",
            Some(json!({"current_password": "orange tree at dawn", "new_password": "orange tree at dawn"})),
        )
        .await;
    assert_eq!(same.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        same.json::<Value>().await.unwrap()["error"],
        "password_unchanged"
    );
    let page = app
        .submit(
            "/settings/password",
            &[
                ("current_password", "orange tree at dawn"),
                ("new_password", "iloveyou"),
                ("new_password_confirm", "iloveyou"),
            ],
        )
        .await;
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text().await.unwrap().contains("most common"));
}

#[tokio::test]
async fn the_eleventh_signup_from_one_address_waits() {
    let app = spawn_app_with(&["--signup-limit", "10/1h"]).await;
    // Refusals for other reasons take nothing.
    assert_eq!(
        app.new_browser().signup("reject", "short").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    for i in 0..5 {
        app.new_browser().signed_up(&format!("page{i}")).await;
        let api = app
            .api_post(
                "/api/users",
                json!({"username": format!("api{i}"), "password": PASSWORD}),
            )
            .await;
        assert_eq!(api.status(), StatusCode::CREATED);
    }
    let api = app
        .api_post(
            "/api/users",
            json!({"username": "eleventh", "password": PASSWORD}),
        )
        .await;
    assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header_of(&api, "retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert_eq!(
        api.json::<Value>().await.unwrap()["error"],
        "too_many_requests"
    );
    let page = app.new_browser().signup("eleventh", PASSWORD).await;
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header_of(&page, "retry-after").is_some());
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Too many accounts were made from your address"),
        "{html}"
    );
    assert!(html.contains(r#"value="eleventh""#));
    assert_eq!(app.count("users").await, 10);
}

#[tokio::test]
async fn a_csrf_token_from_before_login_is_refused_after_it() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    let before = app.csrf_token().await;
    app.logged_in("alice").await;
    let stale = app
        .post_form(
            "/posts",
            &[("title", "Hi"), ("body", "x"), ("csrf_token", &before)],
        )
        .await;
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
    let after = app.csrf_token().await;
    assert_ne!(after, before);
    let logged_out_token = {
        app.logout().await;
        app.csrf_token().await
    };
    assert_ne!(logged_out_token, after, "logout changes it again");
}

#[tokio::test]
async fn an_attackers_pair_beside_a_victims_session_is_refused() {
    let app = spawn_app().await;
    let victim = app.new_browser();
    victim.signed_up("victim").await;
    let victim_session = victim.client.get(victim.url("/")).send().await.unwrap();
    drop(victim_session);
    // The attacker's own cookie-and-token pair, logged in or not.
    let attacker = bare_client();
    let (csrf_cookie, token) = anonymous_csrf_pair(&app).await;
    // The victim's session cookie, as the browser would send it.
    let session = {
        let resp = victim.login("victim", PASSWORD).await;
        cookie_value(&set_cookie(&resp, "tangerine_session").unwrap())
    };
    let forged = attacker
        .post(app.url("/posts"))
        .header(
            "Cookie",
            format!("tangerine_session={session}; tangerine_csrf={csrf_cookie}"),
        )
        .form(&[("title", "Planted"), ("body", "x"), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let api = attacker
        .post(app.url("/api/posts"))
        .header(
            "Cookie",
            format!("tangerine_session={session}; tangerine_csrf={csrf_cookie}"),
        )
        .header("X-CSRF-Token", &token)
        .json(&json!({"title": "Planted", "body": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("posts").await, 0);
}

#[tokio::test]
async fn cross_site_requests_change_nothing_and_count_as_no_attempt() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    let token = app.csrf_token().await;
    for _ in 0..6 {
        let resp = app
            .client
            .post(app.url("/login"))
            .header("Sec-Fetch-Site", "cross-site")
            .form(&[
                ("username", "alice"),
                ("password", "guess"),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
    let foreign = app
        .client
        .post(app.url("/login"))
        .header("Origin", "http://evil.example")
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let null = app
        .api_post(
            "/api/session",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        null.status(),
        StatusCode::OK,
        "no Origin: judged by the rest"
    );
    let api = app
        .client
        .post(app.url("/api/session"))
        .header("Origin", "null")
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    assert_eq!(api.json::<Value>().await.unwrap()["error"], "csrf_failed");
    // Same-origin requests go through, and none of the refused ones counted.
    let own = app
        .client
        .post(app.url("/login"))
        .header("Origin", app.address.clone())
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", &app.csrf_token().await),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn two_session_cookies_mean_logged_out_and_two_csrf_cookies_fail() {
    let app = spawn_app().await;
    let alice = app.new_browser();
    let resp = alice.signup("alice", PASSWORD).await;
    let session = cookie_value(&set_cookie(&resp, "tangerine_session").unwrap());
    let page = bare_client()
        .get(app.url("/"))
        .header(
            "Cookie",
            format!("tangerine_session={session}; tangerine_session=planted"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(!page.text().await.unwrap().contains("Welcome, alice"));
    let api = bare_client()
        .get(app.url("/api/me"))
        .header(
            "Cookie",
            format!("tangerine_session=planted; tangerine_session={session}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);

    let (csrf, token) = anonymous_csrf_pair(&app).await;
    let twice = bare_client()
        .post(app.url("/login"))
        .header(
            "Cookie",
            format!("tangerine_csrf={csrf}; tangerine_csrf={csrf}"),
        )
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), StatusCode::FORBIDDEN);
}
