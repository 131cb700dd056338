//! Compressed answers, negotiated by `Accept-Encoding`.

use std::io::Read;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

async fn get_encoded(browser: &Browser, path: &str, accept: &str) -> reqwest::Response {
    browser
        .client
        .get(browser.url(path))
        .header("Accept-Encoding", accept)
        .send()
        .await
        .unwrap()
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .unwrap();
    out
}

fn unbrotli(bytes: &[u8]) -> String {
    let mut out = String::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_string(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn pages_and_the_api_are_served_gzipped_or_brotli_compressed_when_asked_for() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    for i in 0..5 {
        let resp = app
            .api_send(
                Method::POST,
                "/api/posts",
                Some(json!({"title": format!("Post {i}"), "body": "Words. ".repeat(40)})),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    // The first view shows (and takes) the sign-up's message.
    app.get_text("/").await;
    let plain = app.get_text("/").await;

    let resp = get_encoded(&app, "/", "gzip").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header_of(&resp, "content-encoding").as_deref(),
        Some("gzip")
    );
    let vary = resp
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(",");
    assert!(
        vary.contains("Accept-Encoding") && vary.contains("HX-Request"),
        "{vary}"
    );
    let bytes = resp.bytes().await.unwrap();
    assert!(
        bytes.len() < plain.len() / 3,
        "{} of {}",
        bytes.len(),
        plain.len()
    );
    assert!(gunzip(&bytes) == plain, "gzip gives back the page");

    let resp = get_encoded(&app, "/", "gzip, deflate, br, zstd").await;
    assert_eq!(header_of(&resp, "content-encoding").as_deref(), Some("br"));
    assert!(
        unbrotli(&resp.bytes().await.unwrap()) == plain,
        "brotli gives back the page"
    );

    let resp = get_encoded(&app, "/api/posts", "gzip").await;
    assert_eq!(
        header_of(&resp, "content-encoding").as_deref(),
        Some("gzip")
    );
    let page: serde_json::Value =
        serde_json::from_str(&gunzip(&resp.bytes().await.unwrap())).unwrap();
    assert_eq!(page["posts"].as_array().unwrap().len(), 5);

    let vary_of = |resp: &reqwest::Response| {
        resp.headers()
            .get_all("vary")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Not asked for, or refused: as it is, and said to depend on the header.
    for accept in ["identity", "gzip;q=0, br;q=0"] {
        let resp = get_encoded(&app, "/", accept).await;
        assert_eq!(header_of(&resp, "content-encoding"), None, "{accept}");
        assert!(vary_of(&resp).contains("Accept-Encoding"), "{accept}");
        assert!(resp.text().await.unwrap().contains("<article"), "{accept}");
    }
    // Small answers are not worth it, whatever the header.
    let resp = get_encoded(&app, "/healthz", "gzip").await;
    assert_eq!(header_of(&resp, "content-encoding"), None);
    assert!(!vary_of(&resp).contains("Accept-Encoding"));
}

#[tokio::test]
async fn a_compressed_asset_keeps_a_validator_that_revalidates() {
    let app = spawn_app().await;
    let resp = get_encoded(&app, "/assets/htmx-2.0.11.min.js", "gzip").await;
    assert_eq!(
        header_of(&resp, "content-encoding").as_deref(),
        Some("gzip")
    );
    let etag = header_of(&resp, "etag").expect("an ETag");
    assert!(etag.starts_with("W/\""), "{etag}");
    let again = app
        .client
        .get(app.url("/assets/htmx-2.0.11.min.js"))
        .header("Accept-Encoding", "gzip")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}
