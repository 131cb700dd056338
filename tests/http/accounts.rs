//! Signing up, logging in and out.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn signing_up_creates_the_account_and_logs_in() {
    let app = spawn_app().await;
    let resp = app.signup("alice", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp).as_deref(), Some("/"));

    let home = app.get_text("/").await;
    assert!(home.contains("Welcome, alice"), "{home}");
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("sessions").await, 1);
}

#[tokio::test]
async fn the_first_page_after_sign_up_greets_once() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let first = app.get_text("/").await;
    assert!(first.contains("Your account is ready"), "{first}");
    let second = app.get_text("/").await;
    assert!(!second.contains("Your account is ready"), "{second}");
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_phc_strings() {
    use sea_orm::EntityTrait;
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let user = tangerine::entities::users::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        user.password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        user.password_hash
    );
    assert!(!user.password_hash.contains(PASSWORD));
}

#[tokio::test]
async fn usernames_are_stored_lowercase_and_taken_whatever_the_case() {
    let app = spawn_app().await;
    app.signed_up("Alice").await;
    assert!(app.get_text("/").await.contains("Welcome, alice"));

    let other = app.new_browser();
    let resp = other.signup("ALICE", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("That username is taken.")
    );
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn sign_up_errors_answer_422_inline_and_keep_the_username() {
    let app = spawn_app().await;
    let resp = app
        .submit(
            "/signup",
            &[
                ("username", "ab"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("at least 3 characters"), "{html}");
    assert!(html.contains("at least 8 characters"), "{html}");
    assert!(
        html.contains(r#"value="ab""#),
        "the username is kept: {html}"
    );
    assert!(
        !html.contains(r#"value="short""#),
        "passwords are never echoed"
    );
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn the_two_passwords_must_match() {
    let app = spawn_app().await;
    let resp = app
        .submit(
            "/signup",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("password_confirm", "something else"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("The two passwords differ.")
    );
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn usernames_allow_only_letters_digits_and_underscores() {
    let app = spawn_app().await;
    for bad in [
        "al ice",
        "<script>alert(1)</script>",
        "ålice",
        &"a".repeat(33),
    ] {
        let resp = app.signup(bad, PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        let html = resp.text().await.unwrap();
        assert!(
            !html.contains("<script>alert(1)"),
            "echoed input is escaped"
        );
    }
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn passwords_of_8_to_256_characters_are_accepted_whole() {
    let app = spawn_app().await;
    assert_eq!(
        app.signup("seven", "1234567").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let too_long = "x".repeat(257);
    assert_eq!(
        app.signup("long", &too_long).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // 256 characters, and none of them ignored: a prefix does not log in.
    let long: String = (0..256)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    app.new_browser().signup("longpass", &long).await;
    let browser = app.new_browser();
    let prefix = browser.login("longpass", &long[..72]).await;
    assert_eq!(prefix.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let whole = browser.login("longpass", &long).await;
    assert_eq!(whole.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn logging_in_shows_the_welcome() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    let resp = app.login("alice", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp).as_deref(), Some("/"));
    assert!(app.get_text("/").await.contains("Welcome, alice"));
}

#[tokio::test]
async fn login_ignores_the_case_of_the_username() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    assert_eq!(
        app.login("ALICE", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(app.get_text("/").await.contains("Welcome, alice"));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_name_get_the_same_answer() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;

    let wrong = app.login("alice", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let wrong = wrong.text().await.unwrap();
    let unknown = app.login("nobody", "not the password").await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = unknown.text().await.unwrap();

    assert!(wrong.contains("Wrong username or password."));
    assert_eq!(
        wrong
            .replace(r#"value="alice""#, "")
            .replace(r#"value="nobody""#, ""),
        unknown
            .replace(r#"value="alice""#, "")
            .replace(r#"value="nobody""#, "")
            .replace(
                &csrf_token_in(&unknown).unwrap(),
                &csrf_token_in(&wrong).unwrap()
            ),
        "the pages differ only in the echoed name"
    );
    assert!(!app.get_text("/").await.contains("Welcome,"));
    assert_eq!(
        app.count("sessions").await,
        1,
        "only the sign-up's own session"
    );
}

#[tokio::test]
async fn an_unknown_name_costs_a_password_verification_too() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    let token = app.csrf_token().await;
    // With the hasher held, a failed login waits for it whatever the name:
    // an existing one, an unknown one, and one that is not a valid name.
    for name in ["alice", "nobody", "not a valid name!"] {
        let held = app.hasher.pause();
        let fields = [
            ("username", name),
            ("password", "not the password"),
            ("csrf_token", token.as_str()),
        ];
        let login = app.post_form("/login", &fields);
        tokio::pin!(login);
        tokio::select! {
            resp = &mut login => panic!("{name}: answered {} without a password verification", resp.status()),
            () = until_pending(&app.hasher, 1) => {}
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut login)
                .await
                .is_err(),
            "{name}: answered without a password verification"
        );
        drop(held);
        assert_eq!(
            login.await.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}"
        );
    }
}

#[tokio::test]
async fn login_goes_to_next_when_it_is_a_local_path() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    let resp = app
        .submit(
            "/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("next", "/somewhere?x=1"),
            ],
        )
        .await;
    assert_eq!(location(&resp).as_deref(), Some("/somewhere?x=1"));
}

#[tokio::test]
async fn login_refuses_to_send_anyone_to_another_host() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    for evil in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "http:/evil.example",
    ] {
        let browser = app.new_browser();
        let resp = browser
            .submit(
                "/login",
                &[
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("next", evil),
                ],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{evil}");
        assert_eq!(location(&resp).as_deref(), Some("/"), "{evil}");
    }
}

#[tokio::test]
async fn the_login_page_carries_next_into_its_form() {
    let app = spawn_app().await;
    let html = app.get_text("/login?next=/posts/new").await;
    // minijinja's escaping writes `/` as `&#x2f;`, which browsers read back as `/`.
    assert!(
        html.contains(r#"name="next" value="&#x2f;posts&#x2f;new""#),
        "{html}"
    );
    let html = app.get_text("/login?next=//evil.example").await;
    assert!(!html.contains("evil.example"), "{html}");
}

#[tokio::test]
async fn logging_out_ends_the_session_and_goes_to_the_login_page() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    assert_eq!(app.count("sessions").await, 1);

    let resp = app.logout().await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    // The login page, saying so.
    assert_eq!(location(&resp).as_deref(), Some("/login?logged_out=1"));
    assert_eq!(
        header_of(&resp, "clear-site-data").as_deref(),
        Some("\"storage\""),
        "not \"cookies\": the device cookie stays"
    );
    let cleared = set_cookie(&resp, "tangerine_session").expect("the cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(app.count("sessions").await, 0);
    let login = app.get_text("/login?logged_out=1").await;
    assert!(login.contains("You are logged out."), "{login}");
    assert!(login.contains(r#"<form id="login-form""#), "{login}");
    assert!(!app.get_text("/login").await.contains("You are logged out."));
    assert!(!app.get_text("/").await.contains("Welcome,"));
}

#[tokio::test]
async fn an_old_cookie_replayed_after_logout_is_anonymous() {
    let app = spawn_app().await;
    let resp = app.signup("alice", PASSWORD).await;
    let cookie = cookie_value(&set_cookie(&resp, "tangerine_session").unwrap());
    app.logout().await;

    let replay = bare_client()
        .get(app.url("/"))
        .header("Cookie", format!("tangerine_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::OK);
    let html = replay.text().await.unwrap();
    assert!(!html.contains("Welcome, alice"), "{html}");
    assert!(html.contains("Log in"));
}

#[tokio::test]
async fn logging_out_by_get_is_not_possible() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let resp = app.get("/logout").await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(app.count("sessions").await, 1);
    assert!(app.get_text("/").await.contains("Welcome, alice"));
}

#[tokio::test]
async fn under_htmx_login_sign_up_and_logout_answer_with_hx_redirect() {
    let app = spawn_app().await;
    let resp = app
        .hx_submit(
            "/signup",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header_of(&resp, "hx-redirect").as_deref(), Some("/"));

    let resp = app.hx_submit("/logout", &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header_of(&resp, "hx-redirect").as_deref(),
        Some("/login?logged_out=1")
    );

    let resp = app
        .hx_submit("/login", &[("username", "alice"), ("password", PASSWORD)])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header_of(&resp, "hx-redirect").as_deref(), Some("/"));
    assert!(app.get_text("/").await.contains("Welcome, alice"));
}

#[tokio::test]
async fn under_htmx_a_failed_login_answers_422_with_the_form_alone() {
    let app = spawn_app().await;
    let resp = app
        .hx_submit(
            "/login",
            &[("username", "alice"), ("password", "wrong password")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(
        html.trim_start().starts_with(r#"<form id="login-form""#),
        "{html}"
    );
    assert!(!html.contains("<html"));
    assert!(html.contains("Wrong username or password."));
    assert!(html.contains(r#"value="alice""#));
}
