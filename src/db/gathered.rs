//! Session lookups on a database server, gathered into shared statements.
//!
//! Every page view looks its session up, and on PostgreSQL each lookup is a
//! round trip: the query is written to a socket, a server process wakes,
//! plans and runs it, and writes the answer back. Under load most of that is
//! the same work whatever the statement finds. So lookups go to one task,
//! which sends those that arrived since its last statement as one
//! `… WHERE secret_hash IN (…)`, a few statements at a time at most, and
//! hands each waiting request its own row. One lookup on a quiet server is
//! sent at once, as before; the busier the server, the more share a
//! statement.
//!
//! Nothing is answered from memory: a lookup is only ever answered by a
//! statement that began after the lookup was asked for, so a session ended
//! by any instance a moment earlier is not found, exactly as with a
//! statement of its own. All rows of one statement carry its snapshot.

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicUsize, Ordering},
};

use sea_orm::{DatabaseConnection, DbErr};
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinSet,
};

use super::sessions::{self, Found, FoundMany};

/// At most this many distinct sessions in one statement (see
/// [`sessions::find_many_by_secret_hash_at_snapshot`]: statements for 1, 2,
/// 4, … 32 secrets, a handful for the server to prepare).
const MOST_PER_STATEMENT: usize = 32;

/// Statements in flight at once: while they run, the next lookups gather.
/// Measured on the logged-in homepage with the server on the same two CPUs
/// (bench/RESULTS.md), one and two did alike and four worse (more server
/// processes taking turns on the cores); two, so that a lookup arriving just
/// after a statement left waits less for a server farther away. Either way
/// the pool's other connections stay free for writes.
const STATEMENTS_IN_FLIGHT: usize = 2;

type Answer = Result<Found, DbErr>;

struct Lookup {
    secret_hash: Vec<u8>,
    answer: oneshot::Sender<Answer>,
}

/// The lookups of one pool, gathered by a task started on first use.
pub struct GatheredLookups {
    pool: DatabaseConnection,
    queue: OnceLock<mpsc::UnboundedSender<Lookup>>,
    /// Gathered statements sent so far.
    statements: Arc<AtomicUsize>,
}

impl GatheredLookups {
    pub fn new(pool: DatabaseConnection) -> Self {
        Self {
            pool,
            queue: OnceLock::new(),
            statements: Arc::default(),
        }
    }

    #[cfg(test)]
    fn statements(&self) -> usize {
        self.statements.load(Ordering::Relaxed)
    }

    /// The session whose cookie secret hashes to `secret_hash`, with its
    /// user, and the snapshot of the statement that looked it up.
    pub async fn session_by_secret_hash(&self, secret_hash: &[u8]) -> Answer {
        let queue = self.queue.get_or_init(|| {
            let (queue, lookups) = mpsc::unbounded_channel();
            let sender = Sender {
                pool: self.pool.clone(),
                statements: self.statements.clone(),
            };
            tokio::spawn(gather(sender, lookups));
            queue
        });
        let (answer, answered) = oneshot::channel();
        let lookup = Lookup {
            secret_hash: secret_hash.to_vec(),
            answer,
        };
        if queue.send(lookup).is_ok()
            && let Ok(answer) = answered.await
        {
            return answer;
        }
        // The gathering task is gone (its runtime was shut down, as between
        // tests): a statement of this lookup's own.
        sessions::find_by_secret_hash_at_snapshot(&self.pool, secret_hash).await
    }
}

/// The gathering task: runs until every sender is gone.
async fn gather(sender: Sender, mut lookups: mpsc::UnboundedReceiver<Lookup>) {
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.try_join_next().is_some() {}
        while in_flight.len() >= STATEMENTS_IN_FLIGHT {
            in_flight.join_next().await;
        }
        let Some(first) = lookups.recv().await else {
            break;
        };
        let mut batch = vec![first];
        while let Ok(lookup) = lookups.try_recv() {
            batch.push(lookup);
        }
        in_flight.spawn(answer_all(sender.clone(), batch));
    }
}

/// Answers `batch` with as few statements as its distinct hashes need.
async fn answer_all(sender: Sender, mut batch: Vec<Lookup>) {
    batch.sort_unstable_by(|a, b| a.secret_hash.cmp(&b.secret_hash));
    let mut hashes: Vec<Vec<u8>> = batch.iter().map(|l| l.secret_hash.clone()).collect();
    hashes.dedup();
    let mut statements = Vec::with_capacity(hashes.len().div_ceil(MOST_PER_STATEMENT));
    for asked in hashes.chunks(MOST_PER_STATEMENT) {
        statements.push((asked, sender.look_up(asked).await));
    }
    for lookup in batch {
        let hash = &lookup.secret_hash;
        let answer = match statements.iter().find(|(asked, _)| asked.contains(hash)) {
            Some((_, Ok(found))) => Ok(found.get(hash)),
            Some((_, Err(e))) => Err(DbErr::Custom(format!("session lookup: {e}"))),
            None => Ok((None, None)),
        };
        // A request that stopped waiting (its client went away) dropped its
        // receiver: nothing to answer then.
        let _ = lookup.answer.send(answer);
    }
}

/// What the gathering task sends statements with.
#[derive(Clone)]
struct Sender {
    pool: DatabaseConnection,
    statements: Arc<AtomicUsize>,
}

impl Sender {
    /// One statement looking up `hashes` (at most [`MOST_PER_STATEMENT`]).
    async fn look_up(&self, hashes: &[Vec<u8>]) -> Result<FoundMany, DbErr> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        sessions::find_many_by_secret_hash_at_snapshot(&self.pool, hashes).await
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};
    use sea_orm::ConnectionTrait;
    use serde_json::Map;

    use super::*;
    use crate::{
        db::{self, sessions::NewSession, users},
        domain::{
            Username,
            session::{ClientInfo, Deadlines},
        },
    };

    /// Lookups asked for together share statements, and each still gets
    /// exactly what a statement of its own would have found: its own
    /// session and user, nothing for an unknown or ended session, and the
    /// snapshot only with a session. More sessions than one statement holds,
    /// each asked for twice.
    #[tokio::test]
    async fn lookups_asked_together_share_statements_and_each_gets_its_own_answer() {
        let Some(scratch) = db::ScratchPostgres::new().await else {
            return;
        };
        let pool = db::connect(&scratch.url).await.unwrap();
        db::migrate(&pool).await.unwrap();
        let alice = users::create(&pool, &Username::parse("alice").unwrap(), "x".into())
            .await
            .unwrap();
        let now = Utc::now();
        let mut hashes = Vec::new();
        for i in 0..80u8 {
            let hash = vec![i; 32];
            let mut data = Map::new();
            data.insert("n".into(), i.into());
            db::sessions::create(
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
                },
            )
            .await
            .unwrap();
            hashes.push(hash);
        }
        // Unknown secrets, and one session ended just before.
        hashes.extend((200..210u8).map(|i| vec![i; 32]));
        let ended = db::sessions::find_by_secret_hash(&pool, &[5; 32])
            .await
            .unwrap()
            .unwrap();
        assert!(db::sessions::delete(&pool, ended.id).await.unwrap());

        let gathered = Arc::new(GatheredLookups::new(pool.clone()));
        let mut asked = tokio::task::JoinSet::new();
        for hash in hashes.iter().chain(&hashes) {
            let (gathered, hash) = (gathered.clone(), hash.clone());
            asked.spawn(async move {
                let answer = gathered.session_by_secret_hash(&hash).await.unwrap();
                (hash, answer)
            });
        }
        let lookups = asked.len();
        let mut found = 0;
        while let Some(answer) = asked.join_next().await {
            let (hash, (session, snapshot)) = answer.unwrap();
            let alone = db::sessions::find_by_secret_hash(&pool, &hash)
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
        let (session, _) = gathered.session_by_secret_hash(&[1; 32]).await.unwrap();
        let session = session.unwrap();
        pool.execute_unprepared(&format!("DELETE FROM sessions WHERE id = '{}'", session.id))
            .await
            .unwrap();
        let (session, snapshot) = gathered.session_by_secret_hash(&[1; 32]).await.unwrap();
        assert!(session.is_none() && snapshot.is_none());
        drop((gathered, pool));
    }
}
