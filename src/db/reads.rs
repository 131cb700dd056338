//! The reads every page view makes: the session behind a cookie, and the
//! posts a page of a feed holds (as versions, or whole for the API).
//!
//! On a SQLite file they run in the calling thread (see [`super::inline`]);
//! on PostgreSQL, whose driver talks to the server over a socket without a
//! thread hand-off, through the pool like every other query. Either way the
//! statement is the one SeaORM builds from the same query, and the tests
//! check that both paths read the same rows.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use super::{SQLITE_BUSY_TIMEOUT, inline::InlineSqlite, posts, sessions};
use crate::domain::{Cursor, Post, PostVersion};

#[derive(Clone)]
pub struct Reads {
    pool: DatabaseConnection,
    inline: Option<Arc<InlineSqlite>>,
}

impl Reads {
    /// Reads for the database at `url`, which `pool` is connected to.
    pub fn new(pool: DatabaseConnection, url: &str) -> Self {
        let inline = match pool.get_database_backend() {
            sea_orm::DbBackend::Sqlite => {
                InlineSqlite::for_url(url, SQLITE_BUSY_TIMEOUT).map(Arc::new)
            }
            _ => None,
        };
        Self { pool, inline }
    }

    /// Reads that always go through `pool`.
    pub fn through_pool(pool: DatabaseConnection) -> Self {
        Self { pool, inline: None }
    }

    pub fn pool(&self) -> &DatabaseConnection {
        &self.pool
    }

    /// Whether these reads run in the calling thread.
    pub fn is_inline(&self) -> bool {
        self.inline.is_some()
    }

    /// The session whose cookie secret hashes to `secret_hash`, with its user.
    pub async fn session_by_secret_hash(
        &self,
        secret_hash: &[u8],
    ) -> Result<Option<sessions::StoredSession>, DbErr> {
        match &self.inline {
            Some(sqlite) => sessions::find_by_secret_hash_inline(sqlite, secret_hash),
            None => sessions::find_by_secret_hash(&self.pool, secret_hash).await,
        }
    }

    /// Up to `limit` posts older than `before`, newest first; only
    /// `author`'s when given.
    pub async fn page(
        &self,
        author: Option<Uuid>,
        before: Option<Cursor>,
        limit: u64,
    ) -> Result<Vec<Post>, DbErr> {
        match &self.inline {
            Some(sqlite) => posts::page_inline(sqlite, author, before, limit),
            None => posts::page(&self.pool, author, before, limit).await,
        }
    }

    /// [`Self::page`] as versions only.
    pub async fn page_versions(
        &self,
        author: Option<Uuid>,
        before: Option<Cursor>,
        limit: u64,
    ) -> Result<Vec<PostVersion>, DbErr> {
        match &self.inline {
            Some(sqlite) => posts::page_versions_inline(sqlite, author, before, limit),
            None => posts::page_versions(&self.pool, author, before, limit).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration as Days, TimeZone, Utc};
    use serde_json::{Map, json};

    use super::*;
    use crate::{
        db::{self, posts::NewPost, sessions::NewSession, users},
        domain::{
            Username,
            session::{ClientInfo, Deadlines},
        },
    };

    /// Rows written through the pool read the same in the calling thread as
    /// through the pool: sessions with and without a user, pages of the
    /// feed with and without an author and a cursor, edited posts, and
    /// posts sharing a creation time (the id breaks the tie).
    #[tokio::test]
    async fn inline_reads_match_the_pool() {
        let file = db::ScratchSqlite::new("reads");
        let url = file.url();
        let pool = db::connect(&url).await.unwrap();
        db::migrate(&pool).await.unwrap();
        let inline = Reads::new(pool.clone(), &url);
        let through_pool = Reads::through_pool(pool.clone());
        assert!(inline.is_inline());
        assert!(!through_pool.is_inline());

        let alice = users::create(&pool, &Username::parse("alice").unwrap(), "x".into())
            .await
            .unwrap();
        let bob = users::create(&pool, &Username::parse("bob").unwrap(), "x".into())
            .await
            .unwrap();
        let start = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
            + chrono::Duration::microseconds(120_000);
        let mut ids = Vec::new();
        for i in 0..30i64 {
            let id = Uuid::now_v7();
            ids.push(id);
            db::posts::insert(
                &pool,
                NewPost {
                    id,
                    author_id: if i % 3 == 0 { bob.id } else { alice.id },
                    title: "t",
                    body: "b",
                    body_html: "<p>b</p>",
                    // Pairs of posts share a creation time.
                    created_at: start + chrono::Duration::milliseconds(i / 2 * 1_500),
                },
            )
            .await
            .unwrap();
        }
        for id in ids.iter().step_by(4) {
            db::posts::update(
                &pool,
                *id,
                db::posts::PostUpdate {
                    title: "t2",
                    body: "b2",
                    body_html: "<p>b2</p>",
                    updated_at: start + Days::days(1),
                },
            )
            .await
            .unwrap();
        }

        let first = through_pool.page_versions(None, None, 21).await.unwrap();
        assert_eq!(first.len(), 21);
        let cursor = Some(first[9].cursor());
        for (author, before) in [
            (None, None),
            (Some(alice.id), None),
            (None, cursor),
            (Some(bob.id), cursor),
            (Some(Uuid::new_v4()), None),
        ] {
            assert_eq!(
                inline.page_versions(author, before, 21).await.unwrap(),
                through_pool
                    .page_versions(author, before, 21)
                    .await
                    .unwrap(),
                "author {author:?}, before {before:?}"
            );
            assert_eq!(
                format!("{:?}", inline.page(author, before, 21).await.unwrap()),
                format!("{:?}", through_pool.page(author, before, 21).await.unwrap()),
                "author {author:?}, before {before:?}"
            );
        }

        let now = Utc::now();
        let deadlines = Deadlines {
            expires_at: now + Days::days(1),
            absolute_expires_at: now + Days::days(2),
        };
        let client = ClientInfo {
            user_agent: Some("test".into()),
            ip: None,
        };
        let mut data = Map::new();
        data.insert("flash".into(), json!(["hello", 1, {"a": null}]));
        for (hash, user_id) in [(vec![1u8; 32], Some(alice.id)), (vec![2u8; 32], None)] {
            db::sessions::create(
                &pool,
                NewSession {
                    secret_hash: hash.clone(),
                    user_id,
                    data: data.clone(),
                    now,
                    deadlines,
                    remember: user_id.is_some(),
                    client: &client,
                },
            )
            .await
            .unwrap();
        }
        for hash in [vec![1u8; 32], vec![2u8; 32], vec![3u8; 32]] {
            let a = inline.session_by_secret_hash(&hash).await.unwrap();
            let b = through_pool.session_by_secret_hash(&hash).await.unwrap();
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
            assert_eq!(a.is_some(), hash[0] != 3);
        }

        drop((inline, through_pool, pool));
    }
}
