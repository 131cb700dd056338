//! The API explorer at `/api/docs`: Swagger UI from vendored, content-hashed
//! assets under the same strict Content-Security-Policy as every page; and
//! what it shows: an example of its own kind for every error, and JSON that
//! ends with a newline.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// The URLs of the page's `src` and `href` attributes under `/api/docs/`.
fn docs_assets(html: &str) -> Vec<String> {
    html.split(['"', '\''])
        .filter(|part| part.starts_with("/api/docs/"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_explorer_is_an_html5_page_under_the_strict_csp_with_no_inline_code() {
    let app = spawn_app().await;
    let resp = app.get("/api/docs").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = header_of(&resp, "content-security-policy").unwrap();
    let home_csp = header_of(&app.get("/").await, "content-security-policy").unwrap();
    assert_eq!(csp, home_csp, "the same policy as every other page");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    let html = resp.text().await.unwrap();
    assert!(
        html.starts_with("<!doctype html>"),
        "a doctype: no quirks mode"
    );
    assert!(html.contains(r#"<html lang="en">"#));
    assert!(html.contains("<title>Tangerine API</title>"));
    assert!(html.contains(r#"href="/">"#), "a link back to the site");
    assert!(!html.contains("<style"), "no inline style element");
    assert!(!html.contains(" style="), "no inline style attribute");
    for script in html.split("<script").skip(1) {
        assert!(
            script.trim_start().starts_with("src="),
            "no inline script: <script{script}"
        );
    }
    assert!(html.len() < 4096, "the page is small: {} bytes", html.len());
    let assets = docs_assets(&html);
    for name in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "api-docs.js",
        "api-docs.css",
    ] {
        assert!(
            assets
                .iter()
                .any(|a| a.starts_with(&format!("/api/docs/{name}?v="))),
            "{name} in {assets:?}"
        );
    }
    // The site's footer links to the explorer.
    assert!(
        app.get_text("/")
            .await
            .contains(r#"<a href="/api/docs">API explorer</a>"#)
    );
}

#[tokio::test]
async fn the_explorer_assets_are_content_hashed_immutable_and_compressed() {
    let app = spawn_app().await;
    let html = app.get_text("/api/docs").await;
    for url in docs_assets(&html) {
        let resp = bare_client()
            .get(app.url(&url))
            .header("Accept-Encoding", "br, gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        assert_eq!(
            header_of(&resp, "cache-control").as_deref(),
            Some("public, max-age=31536000, immutable"),
            "{url}"
        );
        // Swagger UI's files are large; our own are under the kilobyte
        // below which nothing is compressed.
        if url.contains("swagger-ui") {
            assert_eq!(
                header_of(&resp, "content-encoding").as_deref(),
                Some("br"),
                "{url}"
            );
        }
        assert!(header_of(&resp, "etag").is_some(), "{url}");
    }
    // Without its version, an asset is revalidated; a stale version is not cached for good.
    let resp = app.get("/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header_of(&resp, "cache-control").as_deref(),
        Some("public, max-age=0, must-revalidate")
    );
    assert_eq!(
        header_of(&resp, "content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    // Swagger UI's licence goes with it.
    let licence = app.get_text("/api/docs/LICENSE").await;
    assert!(licence.contains("Apache License"));
    // Only the explorer's files are there, and only there.
    assert_eq!(
        app.get("/api/docs/theme.css").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/assets/swagger-ui.css").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/docs/nothing.js").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// The vocabulary's kinds, by status, with the more precise codes each allows.
fn allowed_codes(status: &str) -> &'static [&'static str] {
    match status {
        "400" => &[
            "bad_request",
            "malformed_json",
            "bad_parameter",
            "bad_cursor",
        ],
        "401" => &["unauthenticated", "invalid_token", "bad_credentials"],
        "403" => &[
            "forbidden",
            "csrf_failed",
            "csrf_missing",
            "insufficient_scope",
            "suspended",
            "not_yours",
        ],
        "404" => &["not_found"],
        "409" => &["conflict", "username_taken", "too_many_tokens"],
        "413" => &["too_large"],
        "415" => &["unsupported_media_type"],
        "422" => &["invalid", "password_too_common"],
        "429" => &["too_many_requests", "too_many_failures", "too_many_posts"],
        "503" => &["unavailable"],
        other => panic!("an undocumented error status {other}"),
    }
}

#[tokio::test]
async fn every_declared_error_has_an_example_of_its_own_kind() {
    let app = spawn_app().await;
    let spec: Value = serde_json::from_str(&app.get_text("/api/openapi.json").await).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if !status.starts_with('4') && !status.starts_with('5') {
                    continue;
                }
                let media = response["content"]
                    .as_object()
                    .unwrap()
                    .values()
                    .next()
                    .unwrap();
                let example = &media["example"];
                let code = example["error"].as_str().unwrap_or_else(|| {
                    panic!("{method} {path} {status} has an example: {response}")
                });
                assert!(
                    allowed_codes(status).contains(&code),
                    "{method} {path} {status}: {code}"
                );
                assert!(example["message"].as_str().is_some_and(|m| !m.is_empty()));
                seen.insert(code.to_owned());
            }
        }
    }
    for code in [
        "malformed_json",
        "invalid_token",
        "unauthenticated",
        "not_found",
        "unavailable",
    ] {
        assert!(seen.contains(code), "{code} in {seen:?}");
    }
}

#[tokio::test]
async fn every_json_answer_ends_with_a_newline() {
    let app = spawn_app().await;
    app.api_user("alice").await;
    for path in [
        "/api/openapi.json",
        "/api/posts",
        "/api/me",
        "/api/session/csrf",
        "/api/posts/not-a-post",
        "/api/nothing-here",
    ] {
        let resp = app.get(path).await;
        assert!(
            header_of(&resp, "content-type")
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
        let text = resp.text().await.unwrap();
        assert!(
            text.ends_with('\n') && !text.ends_with("\n\n"),
            "{path}: {text:?}"
        );
    }
    let anonymous = bare_client().get(app.url("/api/me")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.text().await.unwrap().ends_with("}\n"));
    let malformed = bare_client()
        .post(app.url("/api/users"))
        .header("Content-Type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert!(malformed.text().await.unwrap().ends_with("}\n"));
}
