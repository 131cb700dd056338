//! Reads on a database server, gathered into shared statements.
//!
//! Every page view looks its session up, and on PostgreSQL each lookup is a
//! round trip: the query is written to a socket, a server process wakes,
//! plans and runs it, and writes the answer back. Under load most of that is
//! the same work whatever the statement finds. So the reads of one kind go
//! to one task, which sends those asked for since its last statement as one
//! (session lookups as `… WHERE secret_hash IN (…)`; first pages of the
//! feed, which anonymous views read every time, as one read for all who
//! asked), a few statements at a time at most, and hands each waiting
//! request its own answer. One read on a quiet server is sent at once, as
//! before; the busier the server, the more share a statement.
//!
//! Nothing is answered from memory: a read is only ever answered by a
//! statement that began after the read was asked for, so a session ended by
//! any instance a moment earlier is not found, and a post committed a
//! moment earlier is on the page, exactly as with a statement of its own.
//! All answers of one statement carry its snapshot.

use std::{
    future::Future,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use sea_orm::{DatabaseConnection, DbErr};
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinSet,
};

use super::{
    queries::{self, FoundMany},
    snapshot::Snapshot,
};
use crate::domain::PostVersion;

/// Statements in flight at once, per kind of read: while they run, the next
/// reads gather. More would mean more server processes taking turns on the
/// cores; two rather than one, so that a read asked for just after a
/// statement left waits less for a server farther away. Either way most of
/// the pool's connections stay free for writes.
const STATEMENTS_IN_FLIGHT: usize = 2;

/// A kind of read that many requests can share a statement for.
pub trait Gather: Send + Sync + 'static {
    /// What one request asks for.
    type Key: Ord + Clone + Send + Sync + 'static;
    /// What one statement found for the keys it was sent with.
    type Found: Send + 'static;
    /// What one request is answered with.
    type Answer: Send + 'static;
    /// The most distinct keys one statement is sent with.
    const MOST_PER_STATEMENT: usize;
    /// What the reads are, for the log.
    const NAME: &'static str;

    /// One statement for `keys` (distinct, at most [`Self::MOST_PER_STATEMENT`]).
    fn read(&self, keys: &[Self::Key]) -> impl Future<Output = Result<Self::Found, DbErr>> + Send;

    /// The answer to `key` from what a statement sent with it found.
    fn answer(found: &Self::Found, key: &Self::Key) -> Self::Answer;
}

struct Asked<G: Gather> {
    key: G::Key,
    answer: oneshot::Sender<Result<G::Answer, DbErr>>,
}

/// Reads waiting for the gathering task at most: beyond, a request waits
/// for room (the task takes all that wait at each statement).
const QUEUE: usize = 1024;

/// Reads of one kind, gathered by a task started on first use.
pub struct Gathered<G: Gather> {
    reads: Arc<Reader<G>>,
    queue: OnceLock<mpsc::Sender<Asked<G>>>,
    /// Whether the log has said that the gathering task is gone.
    gone_reported: AtomicBool,
}

/// What the gathering task sends statements with.
struct Reader<G> {
    gather: G,
    /// Statements sent so far.
    statements: AtomicUsize,
}

impl<G: Gather> Reader<G> {
    async fn read(&self, keys: &[G::Key]) -> Result<G::Found, DbErr> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        self.gather.read(keys).await
    }
}

impl<G: Gather> Gathered<G> {
    pub fn new(gather: G) -> Self {
        Self {
            reads: Arc::new(Reader {
                gather,
                statements: AtomicUsize::new(0),
            }),
            queue: OnceLock::new(),
            gone_reported: AtomicBool::new(false),
        }
    }

    #[cfg(test)]
    fn statements(&self) -> usize {
        self.reads.statements.load(Ordering::Relaxed)
    }

    /// The answer to `key`, from a statement begun after it was asked for.
    pub async fn ask(&self, key: G::Key) -> Result<G::Answer, DbErr> {
        let queue = self.queue.get_or_init(|| {
            let (queue, asked) = mpsc::channel(QUEUE);
            tokio::spawn(gather(self.reads.clone(), asked));
            queue
        });
        let (answer, answered) = oneshot::channel();
        let asked = Asked {
            key: key.clone(),
            answer,
        };
        if queue.send(asked).await.is_ok()
            && let Ok(answer) = answered.await
        {
            return answer;
        }
        // The gathering task is gone (it panicked, or its runtime was shut
        // down): every read from now on is a statement of its own.
        if !self.gone_reported.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "the task gathering {} has ended; each now runs a statement of its own",
                G::NAME
            );
        }
        let found = self.reads.read(std::slice::from_ref(&key)).await?;
        Ok(G::answer(&found, &key))
    }
}

/// The gathering task: runs until every sender is gone.
async fn gather<G: Gather>(reads: Arc<Reader<G>>, mut asked: mpsc::Receiver<Asked<G>>) {
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.try_join_next().is_some() {}
        while in_flight.len() >= STATEMENTS_IN_FLIGHT {
            in_flight.join_next().await;
        }
        let Some(first) = asked.recv().await else {
            break;
        };
        let mut batch = vec![first];
        while let Ok(more) = asked.try_recv() {
            batch.push(more);
        }
        in_flight.spawn(answer_all(reads.clone(), batch));
    }
}

/// Answers `batch` with as few statements as its distinct keys need.
async fn answer_all<G: Gather>(reads: Arc<Reader<G>>, mut batch: Vec<Asked<G>>) {
    batch.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    let mut keys: Vec<G::Key> = batch.iter().map(|asked| asked.key.clone()).collect();
    keys.dedup();
    let mut statements = Vec::with_capacity(keys.len().div_ceil(G::MOST_PER_STATEMENT));
    for sent in keys.chunks(G::MOST_PER_STATEMENT) {
        statements.push((sent, reads.read(sent).await));
    }
    for asked in batch {
        let answer = match statements
            .iter()
            .find(|(sent, _)| sent.contains(&asked.key))
        {
            Some((_, Ok(found))) => Ok(G::answer(found, &asked.key)),
            // Each waiting request gets the statement's own error, so that a
            // lost connection is still recognised as an outage (503).
            Some((_, Err(e))) => Err(e.clone()),
            None => Err(DbErr::Custom("gathered read: key not sent".into())),
        };
        // A request that stopped waiting (its client went away) dropped its
        // receiver: nothing to answer then.
        let _ = asked.answer.send(answer);
    }
}

/// The gathered reads on one pool of a database server.
pub struct GatheredReads {
    pub sessions: Gathered<SessionsBySecret>,
    pub first_pages: Gathered<FirstPages>,
}

impl GatheredReads {
    pub fn new(pool: &DatabaseConnection) -> Self {
        Self {
            sessions: Gathered::new(SessionsBySecret(pool.clone())),
            first_pages: Gathered::new(FirstPages(pool.clone())),
        }
    }
}

/// Session lookups by the hash of the cookie's secret: up to 32 distinct
/// secrets a statement (see [`queries::find_many_by_secret_hash_at_snapshot`]).
pub struct SessionsBySecret(pub DatabaseConnection);

impl Gather for SessionsBySecret {
    type Key = Vec<u8>;
    type Found = FoundMany;
    type Answer = queries::Found;
    const MOST_PER_STATEMENT: usize = 32;
    const NAME: &'static str = "session lookups";

    fn read(&self, keys: &[Vec<u8>]) -> impl Future<Output = Result<FoundMany, DbErr>> + Send {
        queries::find_many_by_secret_hash_at_snapshot(&self.0, keys)
    }

    fn answer(found: &FoundMany, key: &Vec<u8>) -> queries::Found {
        found.get(key)
    }
}

/// The first page of everyone's feed, by its length: one length a
/// statement (there is one in practice).
pub struct FirstPages(pub DatabaseConnection);

/// A first page with the snapshot it was read at.
pub type FirstPage = (Vec<PostVersion>, Option<Snapshot>);

impl Gather for FirstPages {
    type Key = u64;
    type Found = FirstPage;
    type Answer = FirstPage;
    const MOST_PER_STATEMENT: usize = 1;
    const NAME: &'static str = "first pages of the feed";

    async fn read(&self, keys: &[u64]) -> Result<FirstPage, DbErr> {
        let limit = keys.first().copied().unwrap_or_default();
        queries::first_versions_at_snapshot(&self.0, limit).await
    }

    fn answer(found: &FirstPage, _: &u64) -> FirstPage {
        found.clone()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};
    use sea_orm::ConnectionTrait;
    use serde_json::Map;

    use super::*;
    use crate::{
        domain::{
            User, Username,
            session::{ClientInfo, Deadlines},
        },
        store::{self, sessions::NewSession, users},
    };

    /// A fresh PostgreSQL database (when `TEST_DATABASE_URL` is set) with
    /// one user.
    /// Reads that answer each key with itself.
    struct Echo;

    impl Gather for Echo {
        type Key = u32;
        type Found = Vec<u32>;
        type Answer = Option<u32>;
        const MOST_PER_STATEMENT: usize = 8;
        const NAME: &'static str = "echoes";

        async fn read(&self, keys: &[u32]) -> Result<Vec<u32>, DbErr> {
            Ok(keys.to_vec())
        }

        fn answer(found: &Vec<u32>, key: &u32) -> Option<u32> {
            found.iter().copied().find(|k| k == key)
        }
    }

    /// The gathering task ends with the runtime that ran it; asking on
    /// still works (each read a statement of its own), and the log says so
    /// once.
    #[test]
    fn reads_are_answered_after_the_gathering_task_has_ended() {
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        let gathered = Gathered::new(Echo);
        let first = runtime();
        assert_eq!(first.block_on(gathered.ask(1)).unwrap(), Some(1));
        assert!(!gathered.gone_reported.load(Ordering::Relaxed));
        drop(first);

        let second = runtime();
        let before = gathered.statements();
        assert_eq!(second.block_on(gathered.ask(2)).unwrap(), Some(2));
        assert_eq!(second.block_on(gathered.ask(3)).unwrap(), Some(3));
        assert!(gathered.gone_reported.load(Ordering::Relaxed));
        assert_eq!(gathered.statements(), before + 2);
    }

    async fn postgres_with_alice() -> (store::scratch::ScratchDatabase, DatabaseConnection, User) {
        let scratch = store::scratch::ScratchDatabase::postgres().await;
        let pool = store::connect(&scratch.url).await.unwrap();
        store::migrate(&pool).await.unwrap();
        let alice = users::create(
            &pool,
            &Username::parse("alice").unwrap(),
            "x".into(),
            crate::domain::Role::Member,
            None,
        )
        .await
        .unwrap();
        (scratch, pool, alice)
    }

    /// Lookups asked for together share statements, and each still gets
    /// exactly what a statement of its own would have found: its own
    /// session and user, nothing for an unknown or ended session, and the
    /// snapshot only with a session. More sessions than one statement holds,
    /// each asked for twice.
    #[tokio::test]
    #[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and pass --include-ignored (.ci/run does)"]
    async fn lookups_asked_together_share_statements_and_each_gets_its_own_answer() {
        let (_scratch, pool, alice) = postgres_with_alice().await;
        let now = Utc::now();
        let mut hashes = Vec::new();
        for i in 0..80u8 {
            let hash = vec![i; 32];
            let mut data = Map::new();
            data.insert("n".into(), i.into());
            store::sessions::create(
                &pool,
                NewSession {
                    secret_hash: hash.clone(),
                    // Every third session is anonymous.
                    user_id: (i % 3 != 0).then_some(alice.id),
                    data,
                    now,
                    deadlines: Deadlines {
                        expires_at: now + Duration::days(1),
                        absolute_expires_at: now + Duration::days(2),
                    },
                    remember: false,
                    client: &ClientInfo::default(),
                    credential_epoch: crate::domain::CredentialEpoch::FIRST,
                },
            )
            .await
            .unwrap();
            hashes.push(hash);
        }
        // Unknown secrets, and one session ended just before.
        hashes.extend((200..210u8).map(|i| vec![i; 32]));
        let ended = store::sessions::find_by_secret_hash(&pool, &[5; 32])
            .await
            .unwrap()
            .unwrap();
        assert!(store::sessions::delete(&pool, ended.id).await.unwrap());

        let gathered = Arc::new(Gathered::new(SessionsBySecret(pool.clone())));
        let mut asked = tokio::task::JoinSet::new();
        for hash in hashes.iter().chain(&hashes) {
            let (gathered, hash) = (gathered.clone(), hash.clone());
            asked.spawn(async move {
                let answer = gathered.ask(hash.clone()).await.unwrap();
                (hash, answer)
            });
        }
        let lookups = asked.len();
        let mut found = 0;
        while let Some(answer) = asked.join_next().await {
            let (hash, (session, snapshot)) = answer.unwrap();
            let alone = store::sessions::find_by_secret_hash(&pool, &hash)
                .await
                .unwrap();
            assert_eq!(session.is_some(), alone.is_some(), "{hash:?}");
            assert_eq!(snapshot.is_some(), session.is_some());
            let (Some(session), Some(alone)) = (session, alone) else {
                continue;
            };
            found += 1;
            assert_eq!(session.id, alone.id);
            assert_eq!(session.data, alone.data);
            assert_eq!(session.data["n"], u64::from(hash[0]));
            assert_eq!(
                session.user.map(|u| u.username),
                (hash[0] % 3 != 0).then(|| "alice".to_string())
            );
        }
        assert_eq!(
            found,
            2 * 79,
            "every live session, twice; not the ended one"
        );
        let statements = gathered.statements();
        // 90 distinct secrets take three statements at the least.
        assert!(
            (3..lookups / 4).contains(&statements),
            "{lookups} lookups took {statements} statements"
        );

        // A session ended by anyone is not found by the next lookup.
        let (session, _) = gathered.ask(vec![1; 32]).await.unwrap();
        let session = session.unwrap();
        pool.execute_unprepared(&format!("DELETE FROM sessions WHERE id = '{}'", session.id))
            .await
            .unwrap();
        let (session, snapshot) = gathered.ask(vec![1; 32]).await.unwrap();
        assert!(session.is_none() && snapshot.is_none());
        drop((gathered, pool));
    }

    /// First pages asked for together share a statement, and one asked for
    /// after a commit shows it.
    #[tokio::test]
    #[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and pass --include-ignored (.ci/run does)"]
    async fn first_pages_asked_together_share_a_statement_begun_after_them() {
        let (_scratch, pool, alice) = postgres_with_alice().await;
        let now = Utc::now();
        let post = |n: i64| store::posts::NewPost {
            id: uuid::Uuid::new_v4(),
            author_id: alice.id,
            title: "t",
            body: "b",
            body_html: "<p>b</p>",
            created_at: now + Duration::seconds(n),
        };
        for n in 0..25 {
            store::posts::insert(&pool, post(n)).await.unwrap();
        }
        let gathered = Arc::new(Gathered::new(FirstPages(pool.clone())));
        let mut asked = tokio::task::JoinSet::new();
        for i in 0..60u64 {
            let gathered = gathered.clone();
            // Two page lengths: each its own statement.
            let limit = if i % 2 == 0 { 21 } else { 5 };
            asked.spawn(async move { (limit, gathered.ask(limit).await.unwrap()) });
        }
        while let Some(answer) = asked.join_next().await {
            let (limit, (versions, snapshot)) = answer.unwrap();
            let alone = store::posts::page_versions(&pool, None, None, limit)
                .await
                .unwrap();
            assert_eq!(versions, alone);
            assert!(snapshot.is_some());
        }
        let statements = gathered.statements();
        assert!(
            (2..15).contains(&statements),
            "60 reads took {statements} statements"
        );

        let newest = post(100);
        let newest_id = newest.id;
        store::posts::insert(&pool, newest).await.unwrap();
        let (versions, _) = gathered.ask(21).await.unwrap();
        assert_eq!((versions[0].id, versions.len()), (newest_id, 21));
    }
}
