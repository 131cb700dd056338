//! The reads every page view makes: the session behind a cookie, and the
//! posts a page of a feed holds (as versions, or whole for the API).
//!
//! On a SQLite file they run in the calling thread (see [`super::inline`]);
//! on PostgreSQL, whose driver talks to the server over a socket without a
//! thread hand-off, through the pool like every other query, concurrent
//! requests' session lookups and first-page reads sharing statements (see
//! [`super::gathered`]). Either way the statement is the one SeaORM builds
//! from the same query, and the tests check that the paths read the same
//! rows.
//!
//! The session lookup also reports the snapshot it read at (see
//! [`super::snapshot`]: PostgreSQL's, or the header of SQLite's WAL), and the
//! first page of everyone's feed is kept with the snapshot it was read at: a
//! homepage whose session was read at a snapshot that one covers (no commit
//! the session's snapshot saw is missing from it) needs no second query,
//! since the page is at least as new as one read after the session. On
//! PostgreSQL that saves a round trip to the server; on SQLite the beginning
//! and end of a read transaction, most of what a read costs there.

use std::sync::Arc;
#[cfg(test)]
use std::sync::atomic::{AtomicUsize, Ordering};

use sea_orm::{DatabaseConnection, DbBackend, DbErr};
use uuid::Uuid;

use super::{
    SQLITE_BUSY_TIMEOUT,
    gathered::GatheredReads,
    inline::InlineSqlite,
    posts, sessions,
    snapshot::{AtSnapshot, Snapshot},
};
use crate::domain::{Cursor, Post, PostVersion};

#[derive(Clone)]
pub struct Reads {
    pool: DatabaseConnection,
    inline: Option<Arc<InlineSqlite>>,
    /// Session lookups and first pages on PostgreSQL, gathered into shared
    /// statements.
    gathered: Option<Arc<GatheredReads>>,
    /// The first page of everyone's feed: how many versions were asked
    /// for, and those found.
    first_page: Arc<AtSnapshot<(u64, Vec<PostVersion>)>>,
    /// Queries made for the first page of the feed.
    #[cfg(test)]
    first_page_queries: Arc<AtomicUsize>,
}

impl Reads {
    /// Reads for the database at `url`, which `pool` is connected to.
    pub fn new(pool: DatabaseConnection, url: &str) -> Self {
        let (mut inline, mut gathered) = (None, None);
        match pool.get_database_backend() {
            DbBackend::Sqlite => {
                inline = InlineSqlite::for_url(url, SQLITE_BUSY_TIMEOUT).map(Arc::new);
            }
            DbBackend::Postgres => gathered = Some(Arc::new(GatheredReads::new(&pool))),
            _ => {}
        }
        Self::with(pool, inline, gathered)
    }

    /// Reads that always go through `pool`, each with a statement of its own.
    pub fn through_pool(pool: DatabaseConnection) -> Self {
        Self::with(pool, None, None)
    }

    fn with(
        pool: DatabaseConnection,
        inline: Option<Arc<InlineSqlite>>,
        gathered: Option<Arc<GatheredReads>>,
    ) -> Self {
        Self {
            pool,
            inline,
            gathered,
            first_page: Arc::new(AtSnapshot::new()),
            #[cfg(test)]
            first_page_queries: Arc::default(),
        }
    }

    pub fn pool(&self) -> &DatabaseConnection {
        &self.pool
    }

    /// Whether these reads run in the calling thread.
    pub fn is_inline(&self) -> bool {
        self.inline.is_some()
    }

    fn is_postgres(&self) -> bool {
        self.pool.get_database_backend() == DbBackend::Postgres
    }

    /// The session whose cookie secret hashes to `secret_hash`, with its
    /// user; on PostgreSQL also the snapshot it was found at.
    pub async fn session_by_secret_hash(
        &self,
        secret_hash: &[u8],
    ) -> Result<sessions::Found, DbErr> {
        if let Some(sqlite) = &self.inline {
            return sessions::find_by_secret_hash_inline(sqlite, secret_hash);
        }
        match &self.gathered {
            Some(gathered) => gathered.sessions.ask(secret_hash.to_vec()).await,
            None if self.is_postgres() => {
                let hashes = [secret_hash.to_vec()];
                let found =
                    sessions::find_many_by_secret_hash_at_snapshot(&self.pool, &hashes).await?;
                Ok(found.get(secret_hash))
            }
            None => Ok((
                sessions::find_by_secret_hash(&self.pool, secret_hash).await?,
                None,
            )),
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

    /// The first `limit` versions of everyone's feed, at least as new as a
    /// statement at snapshot `seen` (if known) would read them: from memory
    /// when the page kept was read at a snapshot covering `seen`. On
    /// PostgreSQL the views that read it together (anonymous ones always
    /// do, having no session snapshot) share a statement (see
    /// [`super::gathered`]).
    pub async fn first_page_versions(
        &self,
        seen: Option<&Snapshot>,
        limit: u64,
    ) -> Result<Vec<PostVersion>, DbErr> {
        let fits = |(kept_limit, _): &(u64, Vec<PostVersion>)| *kept_limit == limit;
        if let Some((_, versions)) = seen.and_then(|seen| self.first_page.get(seen, fits)) {
            return Ok(versions);
        }
        #[cfg(test)]
        self.first_page_queries.fetch_add(1, Ordering::Relaxed);
        let (versions, at) = match (&self.inline, &self.gathered) {
            (Some(sqlite), _) => posts::first_versions_inline_at_snapshot(sqlite, limit)?,
            (None, Some(gathered)) => gathered.first_pages.ask(limit).await?,
            (None, None) if self.is_postgres() => {
                posts::first_versions_at_snapshot(&self.pool, limit).await?
            }
            // A SQLite database in memory: nothing to compare, nothing kept.
            (None, None) => (self.page_versions(None, None, limit).await?, None),
        };
        if let Some(at) = at {
            self.first_page.put(at, (limit, versions.clone()));
        }
        Ok(versions)
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

        let alice = users::create(&pool, &Username::parse("alice").unwrap(), "x".into(), None)
            .await
            .unwrap();
        let bob = users::create(&pool, &Username::parse("bob").unwrap(), "x".into(), None)
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
                    credential_epoch: crate::domain::CredentialEpoch::FIRST,
                },
            )
            .await
            .unwrap();
        }
        for hash in [vec![1u8; 32], vec![2u8; 32], vec![3u8; 32]] {
            let (a, header) = inline.session_by_secret_hash(&hash).await.unwrap();
            let (b, _) = through_pool.session_by_secret_hash(&hash).await.unwrap();
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
            assert_eq!(a.is_some(), hash[0] != 3);
            assert!(matches!(header, Some(Snapshot::Sqlite(_))), "{header:?}");
        }

        drop((inline, through_pool, pool));
    }

    /// The first page of the feed is read once per snapshot: a session
    /// found at a snapshot the kept page covers gets it from memory, and
    /// every commit (a post, an edit, a deletion through another
    /// connection, or a write to another table) sends the next page view
    /// back to the database, which then shows it. On a SQLite file (the
    /// WAL's header) and on PostgreSQL (its snapshots).
    #[tokio::test]
    async fn the_first_page_is_read_again_after_every_commit_on_sqlite() {
        let file = db::ScratchSqlite::new("first-page");
        the_first_page_is_read_again_after_every_commit(&file.url()).await;
    }

    #[tokio::test]
    async fn the_first_page_is_read_again_after_every_commit_on_postgresql() {
        if let Some(scratch) = db::ScratchPostgres::new().await {
            the_first_page_is_read_again_after_every_commit(&scratch.url).await;
        }
    }

    async fn the_first_page_is_read_again_after_every_commit(url: &str) {
        let pool = db::connect(url).await.unwrap();
        db::migrate(&pool).await.unwrap();
        let reads = Reads::new(pool.clone(), url);
        let elsewhere = db::connect(url).await.unwrap();
        let alice = users::create(&pool, &Username::parse("alice").unwrap(), "x".into(), None)
            .await
            .unwrap();
        let now = Utc::now();
        let hash = vec![7u8; 32];
        db::sessions::create(
            &pool,
            NewSession {
                secret_hash: hash.clone(),
                user_id: Some(alice.id),
                data: Map::new(),
                now,
                deadlines: Deadlines {
                    expires_at: now + Days::days(1),
                    absolute_expires_at: now + Days::days(2),
                },
                remember: false,
                client: &ClientInfo::default(),
                credential_epoch: crate::domain::CredentialEpoch::FIRST,
            },
        )
        .await
        .unwrap();
        let post = |n: i64| NewPost {
            id: Uuid::new_v4(),
            author_id: alice.id,
            title: "t",
            body: "b",
            body_html: "<p>b</p>",
            created_at: now + Days::seconds(n),
        };
        let seen = || async {
            let (session, snapshot) = reads.session_by_secret_hash(&hash).await.unwrap();
            assert!(session.is_some());
            snapshot.expect("a session read reports its snapshot")
        };
        let truth = || async { reads.page_versions(None, None, 21).await.unwrap() };
        let queries = || reads.first_page_queries.load(Ordering::Relaxed);
        // Two views at one snapshot: the second is answered from memory.
        // PostgreSQL's snapshots span the whole server, whose other databases
        // may commit in between, so a few snapshots may be needed to see it.
        let hit = || async {
            for _ in 0..50 {
                let at = seen().await;
                let read = reads.first_page_versions(Some(&at), 21).await.unwrap();
                let before = queries();
                let kept = reads.first_page_versions(Some(&at), 21).await.unwrap();
                if queries() == before {
                    assert_eq!(kept, read);
                    return kept;
                }
            }
            panic!("no two views at one snapshot were answered from memory");
        };

        for n in 0..3 {
            db::posts::insert(&elsewhere, post(n)).await.unwrap();
        }
        let page = hit().await;
        assert_eq!(page, truth().await);
        assert_eq!(page.len(), 3);
        let first = seen().await;

        let newest = post(10);
        let newest_id = newest.id;
        db::posts::insert(&elsewhere, newest).await.unwrap();
        let after_post = seen().await;
        assert_ne!(after_post, first);
        let before = queries();
        let page = reads
            .first_page_versions(Some(&after_post), 21)
            .await
            .unwrap();
        assert_eq!((page[0].id, page.len()), (newest_id, 4));
        assert_eq!(
            queries(),
            before + 1,
            "a commit sends the view to the database"
        );

        let edited = db::posts::PostUpdate {
            title: "t2",
            body: "b2",
            body_html: "<p>b2</p>",
            updated_at: now + Days::seconds(20),
        };
        db::posts::update(&elsewhere, page[3].id, edited)
            .await
            .unwrap();
        let before = queries();
        let page = reads
            .first_page_versions(Some(&seen().await), 21)
            .await
            .unwrap();
        assert_eq!(queries(), before + 1);
        assert_eq!(page, truth().await);
        assert!(page[3].updated_at.is_some(), "the edit shows");

        hit().await;
        db::posts::delete(&elsewhere, newest_id).await.unwrap();
        let before = queries();
        let page = reads
            .first_page_versions(Some(&seen().await), 21)
            .await
            .unwrap();
        assert_eq!(queries(), before + 1);
        assert_eq!((page.len(), &page), (3, &truth().await));

        // A commit to another table moves the snapshot too: read again.
        hit().await;
        users::create(
            &elsewhere,
            &Username::parse("bob").unwrap(),
            "x".into(),
            None,
        )
        .await
        .unwrap();
        let at = seen().await;
        let before = queries();
        assert_eq!(
            reads.first_page_versions(Some(&at), 21).await.unwrap(),
            page
        );
        assert_eq!(queries(), before + 1);
        // Another page size, or no snapshot at all, is always read.
        assert_eq!(
            reads.first_page_versions(Some(&at), 2).await.unwrap(),
            page[..2]
        );
        assert_eq!(reads.first_page_versions(None, 21).await.unwrap(), page);
        assert_eq!(queries(), before + 3);
        drop((reads, pool, elsewhere));
    }
}
