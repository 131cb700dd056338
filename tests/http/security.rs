//! CSRF, security headers, escaping and bad input.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.get("/login").await; // the browser has a token cookie
    let fields = [
        ("username", "alice"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];
    let missing = app.post_form("/signup", &fields).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let mut forged = fields.to_vec();
    forged.push(("csrf_token", "forged-token"));
    let wrong = app.post_form("/signup", &forged).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn a_token_without_its_cookie_is_refused() {
    let app = spawn_app().await;
    let token = app.csrf_token().await;
    // Another browser (no cookie) replays this browser's token.
    let resp = bare_client()
        .post(app.url("/login"))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn logout_needs_the_token_while_the_session_lives() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let resp = app.post_form("/logout", &[]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("sessions").await, 1);
    assert!(app.get_text("/").await.contains("Welcome, alice"));
}

#[tokio::test]
async fn the_csrf_header_works_as_htmx_sends_it() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let without = app
        .client
        .post(app.url("/logout"))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    let with = app.hx_submit("/logout", &[]).await;
    assert_eq!(with.status(), StatusCode::OK);
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn a_form_sent_after_the_session_ended_leads_to_the_login_page() {
    let app = spawn_app().await;
    let resp = app.signup("alice", PASSWORD).await;
    let session = cookie_value(&set_cookie(&resp, "tangerine_session").unwrap());
    let token = app.csrf_token().await;
    // The session ends elsewhere (another tab logs out, or it expires)...
    app.logout().await;
    // ...and a form left open on a page is sent, its token now stale.
    let resp = bare_client()
        .post(app.url("/logout"))
        .header("Cookie", format!("tangerine_session={session}"))
        .header("Referer", app.url("/some/page"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp).as_deref(), Some("/login?next=/some/page"));
}

#[tokio::test]
async fn the_csrf_token_changes_with_the_session_and_stays_within_it() {
    let app = spawn_app().await;
    let before = app.csrf_token().await;
    assert_eq!(app.csrf_token().await, before, "stable while logged out");
    app.signed_up("alice").await;
    let after = app.csrf_token().await;
    assert_ne!(before, after, "signing up starts a session and a new token");
    assert_eq!(app.csrf_token().await, after, "stable within the session");
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
    assert_ne!(app.csrf_token().await, after, "a password change renews it");
}

#[tokio::test]
async fn every_html_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/login", "/signup", "/nowhere"] {
        let resp = app.get(path).await;
        let csp = header_of(&resp, "content-security-policy").expect("a CSP");
        for directive in [
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(
            header_of(&resp, "x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(header_of(&resp, "x-frame-options").as_deref(), Some("DENY"));
        assert!(header_of(&resp, "referrer-policy").is_some());
    }
}

#[tokio::test]
async fn documents_get_the_policy_and_other_types_only_nosniff() {
    let app = spawn_app().await;
    for path in ["/assets/favicon.svg"] {
        let resp = app.get(path).await;
        assert!(
            header_of(&resp, "content-security-policy").is_some(),
            "{path}: SVG can hold script"
        );
    }
    for path in ["/favicon.ico", "/assets/theme.css", "/api/posts"] {
        let resp = app.get(path).await;
        assert_eq!(
            header_of(&resp, "x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        // Browsers would apply it to the viewer they show the file in.
        assert!(
            header_of(&resp, "content-security-policy").is_none(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn pages_hold_no_inline_script_style_or_event_handler() {
    let app = spawn_app().await;
    let mut pages = vec![
        app.get_text("/").await,
        app.get_text("/login").await,
        app.get_text("/signup").await,
        app.get_text("/nowhere").await,
    ];
    app.signed_up("alice").await;
    pages.push(app.get_text("/").await);
    for html in pages {
        assert!(!html.contains("<style"), "{html}");
        assert!(!html.contains(" style="), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        for handler in [" onclick=", " onload=", " onsubmit=", " onerror="] {
            assert!(!html.contains(handler), "{html}");
        }
        for script in html.split("<script").skip(1) {
            assert!(
                script.trim_start().starts_with("src="),
                "only external scripts: {script}"
            );
        }
    }
}

#[tokio::test]
async fn bodies_over_256_kib_are_refused_with_413() {
    let app = spawn_app().await;
    let token = app.csrf_token().await;
    let big = "x".repeat(256 * 1024 + 1);
    let resp = app
        .post_form(
            "/login",
            &[("username", big.as_str()), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(resp.text().await.unwrap().contains("256 KiB"));

    // The same without a Content-Length: chunked, over a raw socket.
    let status = post_chunked(&app, "/login", big.as_bytes()).await;
    assert_eq!(status, 413);
    assert_eq!(app.count("users").await, 0);
}

async fn post_chunked(app: &TestApp, path: &str, body: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(16 * 1024) {
        let sent = async {
            stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            stream.write_all(chunk).await?;
            stream.write_all(b"\r\n").await
        };
        // The server may answer and close before the whole body is sent.
        if sent.await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

#[tokio::test]
async fn a_body_that_is_not_a_form_gets_400_not_500() {
    let app = spawn_app().await;
    let token = app.csrf_token().await;
    let resp = app
        .client
        .post(app.url("/login"))
        .header("Content-Type", "application/json")
        .header("X-CSRF-Token", token)
        .body(r#"{"username":"alice"}"#)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    assert_ne!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn unknown_paths_get_a_themed_404_page() {
    let app = spawn_app().await;
    let resp = app.get("/no/such/page").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("site-header") && html.contains("theme.css"),
        "{html}"
    );
    assert!(html.contains("Not Found"));
}
