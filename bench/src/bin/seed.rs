//! Fills a fresh Tangerine database for the benchmark: one user, posts of
//! realistic length written through Tangerine's own rules (so their HTML is
//! rendered and sanitized as in real use), and optionally many sessions —
//! live ones, or ones that expired long ago for the purge run — inserted in
//! bulk.
//!
//!   bench-seed --database-url URL [--posts 200] [--sessions 0] [--expired-sessions 0]

use anyhow::Context;
use chrono::{TimeDelta, Utc};
use clap::Parser;
use sea_orm::{ActiveValue::Set, EntityTrait};
use tangerine::{
    domain::{PasswordInput, PasswordRules, SessionSecret},
    entities::sessions,
    services::accounts::{Accounts, SignupInput},
    services::passwords::PasswordHasher,
    services::posts::{PostInput, Posts},
    services::throttle::{Limits, Throttle},
    store,
};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value = "alice")]
    username: String,
    #[arg(long, default_value = "correct-horse-battery")]
    password: String,
    /// Someone else with the same password and no posts, who logs in during
    /// the login runs: a person's logins beyond the session limit end their
    /// least recently used sessions, and the reader's must not be one.
    #[arg(long, default_value = "bob")]
    second_username: String,
    #[arg(long, default_value_t = 200)]
    posts: usize,
    /// Live sessions of nobody in particular (the table's size for the scale run).
    #[arg(long, default_value_t = 0)]
    sessions: usize,
    /// Sessions that expired a day ago, for the purge run.
    #[arg(long, default_value_t = 0)]
    expired_sessions: usize,
    /// One-line posts like the peers' seed ("Seed post number N. Hello from
    /// the peer."), for a comparison of the stacks alone.
    #[arg(long)]
    short_posts: bool,
}

const WORDS: &[&str] = &[
    "orange",
    "grove",
    "morning",
    "market",
    "peel",
    "sunlight",
    "marmalade",
    "harvest",
    "citrus",
    "blossom",
    "kitchen",
    "recipe",
    "neighbour",
    "season",
    "basket",
    "sweet",
    "sharp",
    "juice",
    "garden",
    "winter",
    "friends",
    "bicycle",
    "river",
    "bread",
    "tea",
    "window",
    "letter",
    "walk",
];

/// A sentence of `n` words, starting at word `from`.
fn sentence(from: usize, n: usize) -> String {
    let words: Vec<&str> = (0..n)
        .map(|k| WORDS[(from + k * 13 + k * k) % WORDS.len()])
        .collect();
    let text = words.join(" ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

fn paragraph(seed: usize, sentences: usize) -> String {
    (0..sentences)
        .map(|j| sentence(seed * 7 + j * 3, 6 + (seed + j) % 9))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A post as people write them on a board: a paragraph or two with a little
/// Markdown, now and then a list; about 200–600 characters.
fn post_body(i: usize) -> String {
    let mut body = format!(
        "{} Some *emphasis*, a **bold** word and a [link](https://example.org/{i}).",
        paragraph(i, 1 + i % 3)
    );
    if i.is_multiple_of(3) {
        body.push_str(&format!(
            "\n\n- {}\n- {}",
            WORDS[i % WORDS.len()],
            WORDS[(i + 5) % WORDS.len()]
        ));
    }
    if i.is_multiple_of(2) {
        body.push_str(&format!("\n\n{}", paragraph(i + 1, 1 + i % 2)));
    }
    body
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = store::connect(&args.database_url)
        .await
        .context("Failed to connect")?;
    store::migrate(&db).await.context("Failed to migrate")?;

    // The seed signs people up as the site would, without its limits.
    let store = store::Store::through_pool(db.clone());
    let unlimited = Throttle::new(store.clone(), Limits::OFF);
    let accounts = Accounts::new(
        store.clone(),
        PasswordHasher::per_cpu(0),
        unlimited.clone(),
        PasswordRules::default(),
    );
    let posts = Posts::new(store, unlimited);
    let password = PasswordInput::new(args.password.clone());
    let sign_up = async |username: &str| {
        let input = SignupInput {
            username,
            password: &password,
            password_confirm: None,
            invite: None,
            email: None,
        };
        accounts
            .sign_up(input, None)
            .await
            .map(|who| who.user)
            .map_err(|e| anyhow::anyhow!("Failed to sign up {username}: {e:?}"))
    };
    let user = sign_up(&args.username).await?;
    sign_up(&args.second_username).await?;

    for i in 0..args.posts {
        let (title, body) = if args.short_posts {
            (
                format!("Post {}", i + 1),
                format!("Seed post number {}. Hello from the peer.", i + 1),
            )
        } else {
            (
                format!("Notes from the {} {}", WORDS[i % WORDS.len()], i + 1),
                post_body(i),
            )
        };
        posts
            .create(
                &user,
                PostInput {
                    title: Some(&title),
                    body: Some(&body),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("Failed to create a post: {e:?}"))?;
    }

    let now = Utc::now();
    insert_sessions(
        &db,
        args.sessions,
        now,
        now + TimeDelta::days(14),
        now + TimeDelta::days(30),
    )
    .await?;
    let past = now - TimeDelta::days(1);
    insert_sessions(
        &db,
        args.expired_sessions,
        past - TimeDelta::days(1),
        past,
        past,
    )
    .await?;
    println!(
        "seeded {}: 1 user, {} posts, {} live and {} expired extra sessions",
        args.database_url, args.posts, args.sessions, args.expired_sessions
    );
    Ok(())
}

async fn insert_sessions(
    db: &sea_orm::DatabaseConnection,
    count: usize,
    created: chrono::DateTime<Utc>,
    expires: chrono::DateTime<Utc>,
    absolute: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    const CHUNK: usize = 1000;
    let mut left = count;
    while left > 0 {
        let n = left.min(CHUNK);
        let rows = (0..n)
            .map(|_| -> anyhow::Result<sessions::ActiveModel> {
                Ok(sessions::ActiveModel {
                    id: Set(uuid::Uuid::new_v4()),
                    secret_hash: Set(SessionSecret::generate()?.hash()),
                    user_id: Set(None),
                    data: Set(serde_json::json!({})),
                    version: Set(0),
                    created_at: Set(created),
                    last_seen_at: Set(created),
                    expires_at: Set(expires),
                    absolute_expires_at: Set(absolute),
                    user_agent: Set(Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".into())),
                    ip: Set(Some("192.0.2.1".into())),
                    remember: Set(true),
                    credential_epoch: Set(0),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        sessions::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await
            .context("Failed to insert sessions")?;
        left -= n;
    }
    Ok(())
}
