//! The reads every page view makes, behind one door: the session behind a
//! cookie, and the posts a page of a feed holds (as versions, or whole).
//!
//! On a SQLite file they run in the calling thread (see [`inline`]), and go
//! through the pool when SQLite holds a lock for more than a few
//! milliseconds; on PostgreSQL, whose driver talks to the server over a
//! socket without a thread hand-off, through the pool, concurrent requests'
//! session lookups and first-page reads sharing statements (see
//! [`gathered`]). Either way the statement is the one SeaORM builds from the
//! same query, and the tests check that the paths read the same rows.
//!
//! The session lookup also reports what it saw of the database (a
//! [`Stamp`]: PostgreSQL's snapshot, or a SQLite connection's data
//! version), and the first page of everyone's feed is kept with the point
//! it was read at: a homepage whose session was read at a point that one
//! includes needs no second query, since the page is at least as new as one
//! read after the session. On PostgreSQL that saves a round trip to the
//! server; on SQLite the beginning and end of a read transaction. Writes
//! made through this instance forget the kept pages (see
//! [`Store::forget_kept`]), so that a request that writes and then
//! reads sees its own write even where the stamp alone would not tell.

pub(super) mod gathered;
pub(super) mod inline;
mod queries;
pub(super) mod shapes;
pub(super) mod snapshot;

use std::sync::Arc;
#[cfg(test)]
use std::sync::atomic::{AtomicUsize, Ordering};

use sea_orm::{DatabaseConnection, DbBackend, DbErr};
use uuid::Uuid;

use super::{
    posts,
    sessions::{self, StoredSession},
};
use crate::domain::{Cursor, Post, PostVersion};
use gathered::GatheredReads;
use inline::{InlineError, InlineSqlite};
use snapshot::{AtSnapshot, Snapshot};

/// What a session lookup saw of the database, for a later read of the same
/// request to be answered from memory when nothing newer can exist. Only
/// the store makes or compares one.
#[derive(Debug, Clone)]
#[cfg_attr(test, derive(PartialEq, Eq))]
pub struct Stamp(pub(super) Snapshot);

/// What an inline read gives: its answer, or `None` when it found SQLite
/// busy and the caller should read through the pool.
fn answered<T>(read: Result<T, InlineError>) -> Option<Result<T, DbErr>> {
    match read {
        Ok(value) => Some(Ok(value)),
        Err(InlineError::Busy) => None,
        Err(InlineError::Failed(e)) => Some(Err(e)),
    }
}

/// The door to the database: the pool, through which the resource modules
/// of the store run their statements, and the reads every page view makes.
#[derive(Clone)]
pub struct Store {
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

impl Store {
    /// Reads for the database at `url`, which `pool` is connected to.
    pub fn new(pool: DatabaseConnection, url: &str) -> Self {
        let (mut inline, mut gathered) = (None, None);
        match pool.get_database_backend() {
            DbBackend::Sqlite => {
                inline = InlineSqlite::for_url(url, inline::BUSY_TIMEOUT).map(Arc::new);
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

    /// Forgets what is kept in memory: this instance has just written
    /// something that a kept value may lack.
    pub fn forget_kept(&self) {
        self.first_page.clear();
    }

    /// The session whose cookie secret hashes to `secret_hash`, with its
    /// user, and the stamp of what the lookup saw (when it can tell).
    pub async fn session_by_secret_hash(
        &self,
        secret_hash: &[u8],
    ) -> Result<(Option<StoredSession>, Option<Stamp>), DbErr> {
        let (session, snapshot) = self.session_at_snapshot(secret_hash).await?;
        Ok((session, snapshot.map(Stamp)))
    }

    async fn session_at_snapshot(&self, secret_hash: &[u8]) -> Result<queries::Found, DbErr> {
        if let Some(sqlite) = &self.inline
            && let Some(found) = answered(queries::find_by_secret_hash_inline(sqlite, secret_hash))
        {
            return found;
        }
        match &self.gathered {
            Some(gathered) => gathered.sessions.ask(secret_hash.to_vec()).await,
            None if self.is_postgres() => {
                let hashes = [secret_hash.to_vec()];
                let found =
                    queries::find_many_by_secret_hash_at_snapshot(&self.pool, &hashes).await?;
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
        if let Some(sqlite) = &self.inline
            && let Some(page) = answered(queries::page_inline(sqlite, author, before, limit))
        {
            return page;
        }
        posts::page(&self.pool, author, before, limit).await
    }

    /// [`Self::page`] as versions only.
    pub async fn page_versions(
        &self,
        author: Option<Uuid>,
        before: Option<Cursor>,
        limit: u64,
    ) -> Result<Vec<PostVersion>, DbErr> {
        if let Some(sqlite) = &self.inline
            && let Some(page) =
                answered(queries::page_versions_inline(sqlite, author, before, limit))
        {
            return page;
        }
        posts::page_versions(&self.pool, author, before, limit).await
    }

    /// The first `limit` versions of everyone's feed, at least as new as a
    /// read at `session` (the stamp of the request's session lookup, if
    /// known) would find them: from memory when the page kept was read at a
    /// point that includes it. On PostgreSQL the views that read it
    /// together (anonymous ones always do, having no stamp) share a
    /// statement (see [`gathered`]).
    pub async fn first_page_versions(
        &self,
        session: Option<&Stamp>,
        limit: u64,
    ) -> Result<Vec<PostVersion>, DbErr> {
        let same_size = |(kept_limit, _): &(u64, Vec<PostVersion>)| *kept_limit == limit;
        if let Some((_, versions)) =
            session.and_then(|stamp| self.first_page.get(&stamp.0, same_size))
        {
            return Ok(versions);
        }
        #[cfg(test)]
        self.first_page_queries.fetch_add(1, Ordering::Relaxed);
        let inline = self
            .inline
            .as_ref()
            .and_then(|sqlite| answered(queries::first_versions_inline_at_snapshot(sqlite, limit)));
        let (versions, at) = match (inline, &self.gathered) {
            (Some(read), _) => read?,
            (None, Some(gathered)) => gathered.first_pages.ask(limit).await?,
            (None, None) if self.is_postgres() => {
                queries::first_versions_at_snapshot(&self.pool, limit).await?
            }
            // SQLite in memory, or busy: nothing to compare, nothing kept.
            (None, None) => (
                posts::page_versions(&self.pool, None, None, limit).await?,
                None,
            ),
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
        domain::{
            Username,
            session::{ClientInfo, Deadlines},
        },
        store::{self, posts::NewPost, sessions::NewSession, users},
    };

    /// Rows written through the pool read the same in the calling thread as
    /// through the pool: sessions with and without a user, pages of the
    /// feed with and without an author and a cursor, edited posts, and
    /// posts sharing a creation time (the id breaks the tie).
    #[tokio::test]
    async fn inline_reads_match_the_pool() {
        let file = store::scratch::ScratchDatabase::sqlite("reads");
        let url = file.url.clone();
        let pool = store::connect(&url).await.unwrap();
        store::migrate(&pool).await.unwrap();
        let inline = Store::new(pool.clone(), &url);
        let through_pool = Store::through_pool(pool.clone());
        assert!(inline.is_inline());
        assert!(!through_pool.is_inline());

        let alice = users::create(
            &pool,
            &Username::parse("alice").unwrap(),
            "x".into(),
            crate::domain::Role::Member,
            None,
        )
        .await
        .unwrap();
        let bob = users::create(
            &pool,
            &Username::parse("bob").unwrap(),
            "x".into(),
            crate::domain::Role::Member,
            None,
        )
        .await
        .unwrap();
        let start = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
            + chrono::Duration::microseconds(120_000);
        let mut ids = Vec::new();
        for i in 0..30i64 {
            let id = Uuid::now_v7();
            ids.push(id);
            store::posts::insert(
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
            store::posts::update(
                &pool,
                *id,
                store::posts::PostUpdate {
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
            store::sessions::create(
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
            assert!(
                matches!(header, Some(Stamp(Snapshot::Sqlite(_)))),
                "{header:?}"
            );
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
        let file = store::scratch::ScratchDatabase::sqlite("first-page");
        the_first_page_is_read_again_after_every_commit(&file.url).await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and pass --include-ignored (.ci/run does)"]
    async fn the_first_page_is_read_again_after_every_commit_on_postgresql() {
        let scratch = store::scratch::ScratchDatabase::postgres().await;
        the_first_page_is_read_again_after_every_commit(&scratch.url).await;
    }

    async fn the_first_page_is_read_again_after_every_commit(url: &str) {
        let pool = store::connect(url).await.unwrap();
        store::migrate(&pool).await.unwrap();
        let reads = Store::new(pool.clone(), url);
        let elsewhere = store::connect(url).await.unwrap();
        let alice = users::create(
            &pool,
            &Username::parse("alice").unwrap(),
            "x".into(),
            crate::domain::Role::Member,
            None,
        )
        .await
        .unwrap();
        let now = Utc::now();
        let hash = vec![7u8; 32];
        store::sessions::create(
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
        let stamp = || async {
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
                let at = stamp().await;
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
            store::posts::insert(&elsewhere, post(n)).await.unwrap();
        }
        let page = hit().await;
        assert_eq!(page, truth().await);
        assert_eq!(page.len(), 3);
        let first = stamp().await;

        let newest = post(10);
        let newest_id = newest.id;
        store::posts::insert(&elsewhere, newest).await.unwrap();
        let after_post = stamp().await;
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

        let edited = store::posts::PostUpdate {
            title: "t2",
            body: "b2",
            body_html: "<p>b2</p>",
            updated_at: now + Days::seconds(20),
        };
        store::posts::update(&elsewhere, page[3].id, edited)
            .await
            .unwrap();
        let before = queries();
        let page = reads
            .first_page_versions(Some(&stamp().await), 21)
            .await
            .unwrap();
        assert_eq!(queries(), before + 1);
        assert_eq!(page, truth().await);
        assert!(page[3].updated_at.is_some(), "the edit shows");

        hit().await;
        store::posts::delete(&elsewhere, newest_id).await.unwrap();
        let before = queries();
        let page = reads
            .first_page_versions(Some(&stamp().await), 21)
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
            crate::domain::Role::Member,
            None,
        )
        .await
        .unwrap();
        let at = stamp().await;
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
