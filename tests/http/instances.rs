//! Several instances on one database: stateless servers behind a load
//! balancer, started together against an empty database.

use std::process::{Child, Command, Stdio};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_tangerine");

/// Starts `n` instances at the same moment and waits until each serves.
fn start_together(database_url: &str, n: usize) -> Vec<(Child, String)> {
    let children: Vec<Child> = (0..n)
        .map(|_| {
            Command::new(BIN)
                .args(["--addr", "127.0.0.1:0", "--database-url", database_url])
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("an instance starts")
        })
        .collect();
    children
        .into_iter()
        .map(|mut child| {
            let address = wait_until_serving(&mut child);
            (child, address)
        })
        .collect()
}

struct Instances(Vec<(Child, String)>);

impl Drop for Instances {
    fn drop(&mut self) {
        for (child, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn instances_started_together_on_an_empty_database_all_serve() {
    let database = TestDatabase::fresh().await;
    let instances = Instances(start_together(&database.url, 4));
    for (_, address) in &instances.0 {
        let resp = bare_client()
            .get(format!("{address}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{address}");
    }
}

/// The same browser (one cookie jar) talking to another instance: cookies
/// are per host, not per port, as behind one load balancer.
fn same_browser_on(browser: &Browser, address: &str) -> Browser {
    Browser {
        address: address.to_owned(),
        client: browser.client.clone(),
    }
}

#[tokio::test]
async fn two_instances_share_sessions_posts_and_logouts() {
    let database = TestDatabase::fresh().await;
    let instances = Instances(start_together(&database.url, 2));
    let on_a = Browser::new(instances.0[0].1.clone());
    let on_b = same_browser_on(&on_a, &instances.0[1].1);

    // Logged in through A, known to B.
    on_a.api_user("alice").await;
    let me: serde_json::Value = on_b.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["username"], "alice");

    // A post made on B reads on A.
    let created = on_b
        .api_send(
            Method::POST,
            "/api/posts",
            Some(json!({"title": "Made on B", "body": "hello"})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = location(&created).unwrap();
    assert_eq!(on_a.get(&location).await.status(), StatusCode::OK);
    assert!(on_a.get_text("/").await.contains("Made on B"));

    // Logged out through B: A refuses the old cookie at once.
    let session = on_a.session_id().await;
    let ended = on_b.api_send(Method::DELETE, "/api/session", None).await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_eq!(on_a.get("/api/me").await.status(), StatusCode::UNAUTHORIZED);
    let db = tangerine::store::connect(&database.url).await.unwrap();
    let row = tangerine::store::sessions::find_by_id(&db, session)
        .await
        .unwrap();
    assert!(row.is_none(), "the row is gone, for every instance");
}

#[tokio::test]
async fn a_revocation_on_one_instance_holds_on_the_other() {
    let database = TestDatabase::fresh().await;
    let instances = Instances(start_together(&database.url, 2));
    let laptop = Browser::new(instances.0[0].1.clone());
    laptop.api_user("alice").await;
    let phone = Browser::new(instances.0[1].1.clone());
    let resp = phone
        .api_post(
            "/api/session",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let phone_session = phone.session_id().await;

    // Revoked through A, refused by B on its very next request.
    let revoke = laptop
        .api_send(
            Method::DELETE,
            &format!("/api/sessions/{phone_session}"),
            None,
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        phone.get("/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_edit_or_deletion_through_one_instance_shows_at_once_on_the_other() {
    let database = TestDatabase::fresh().await;
    let instances = Instances(start_together(&database.url, 2));
    let on_a = Browser::new(instances.0[0].1.clone());
    let on_b = same_browser_on(&on_a, &instances.0[1].1);
    on_a.api_user("alice").await;
    let created = on_a
        .api_send(
            Method::POST,
            "/api/posts",
            Some(json!({"title": "First words", "body": "v1"})),
        )
        .await;
    let location = location(&created).unwrap();
    // A renders (and keeps) the post's card.
    assert!(on_a.get_text("/").await.contains("First words"));

    let edited = on_b
        .api_send(
            Method::PATCH,
            &location,
            Some(json!({"title": "Second thoughts"})),
        )
        .await;
    assert_eq!(edited.status(), StatusCode::OK);
    let home = on_a.get_text("/").await;
    assert!(
        home.contains("Second thoughts") && !home.contains("First words"),
        "{home}"
    );

    let deleted = on_b.api_send(Method::DELETE, &location, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(!on_a.get_text("/").await.contains("Second thoughts"));
}

/// Round after round, each instance's homepage (kept in memory between
/// commits on PostgreSQL) shows every post, edit and deletion made through
/// the other one on its very next view.
#[tokio::test]
async fn every_change_shows_at_once_on_the_other_instance_round_after_round() {
    let database = TestDatabase::fresh().await;
    let instances = Instances(start_together(&database.url, 2));
    let on_a = Browser::new(instances.0[0].1.clone());
    let on_b = same_browser_on(&on_a, &instances.0[1].1);
    on_a.api_user("alice").await;
    for round in 0..4 {
        let (writer, reader) = if round % 2 == 0 {
            (&on_a, &on_b)
        } else {
            (&on_b, &on_a)
        };
        // The reader views its homepage twice at the same state first.
        for _ in 0..2 {
            assert!(reader.get_text("/").await.contains("Welcome, alice"));
        }

        let title = format!("Round {round} post");
        let created = writer
            .api_send(
                Method::POST,
                "/api/posts",
                Some(json!({"title": title, "body": "new"})),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let location = location(&created).unwrap();
        assert!(reader.get_text("/").await.contains(&title), "round {round}");

        let edited_title = format!("Round {round} edited");
        let edited = writer
            .api_send(
                Method::PATCH,
                &location,
                Some(json!({"title": edited_title})),
            )
            .await;
        assert_eq!(edited.status(), StatusCode::OK);
        let home = reader.get_text("/").await;
        assert!(
            home.contains(&edited_title) && !home.contains(&title),
            "round {round}: {home}"
        );

        if round % 2 == 1 {
            let deleted = writer.api_send(Method::DELETE, &location, None).await;
            assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
            assert!(!reader.get_text("/").await.contains(&edited_title));
        }
    }
}
