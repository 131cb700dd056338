//! What a statement saw of the database as a whole, so that a read can be
//! answered from memory when nothing it depends on can have changed.
//!
//! On PostgreSQL every statement runs in a snapshot: the transactions it
//! counts as finished. `pg_current_snapshot()` names it as `xmin:xmax:xip`:
//! every transaction below `xmax` has finished except those listed in `xip`.
//! A transaction that finished before a statement began is finished in that
//! statement's snapshot and in every later one, whichever connection or
//! instance took it. So when the snapshot a value was read at counts as
//! finished every transaction that a request's own snapshot does, the value
//! is at least as new as anything the request could have read itself: it
//! holds every commit the request could know of, through this instance or
//! another. On SQLite there is nothing to gain (its reads are library calls)
//! and no snapshot is taken.

use std::{
    future::Future,
    sync::{Arc, Mutex, MutexGuard},
};

use sea_orm::{
    DbErr, QueryResult, QuerySelect, Select,
    sea_query::{Expr, SimpleExpr},
};
use tokio::sync::OnceCell;

/// A PostgreSQL snapshot: transactions below `xmax` have finished, except
/// those in `running` (sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    xmax: u64,
    running: Vec<u64>,
}

/// The column a statement adds to report its snapshot.
const COLUMN: &str = "db_snapshot";

impl Snapshot {
    fn expr() -> SimpleExpr {
        Expr::cust("pg_current_snapshot()::text")
    }

    /// `query`, also reporting the snapshot it runs in (PostgreSQL 13+).
    pub(super) fn reported_by<E: sea_orm::EntityTrait>(query: Select<E>) -> Select<E> {
        query.expr_as(Self::expr(), COLUMN)
    }

    /// The snapshot a row of a query made by [`Self::reported_by`] carries;
    /// none if PostgreSQL printed it in a form not understood here (which
    /// only means that nothing is answered from memory).
    pub(super) fn of(row: &QueryResult) -> Result<Option<Self>, DbErr> {
        let text: String = row.try_get("", COLUMN)?;
        Ok(Self::parse(&text))
    }

    /// Reads `xmin:xmax:xip,xip,…` (the list may be empty).
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(':');
        let xmin: u64 = parts.next()?.parse().ok()?;
        let xmax: u64 = parts.next()?.parse().ok()?;
        let mut running = match parts.next()? {
            "" => Vec::new(),
            list => list
                .split(',')
                .map(|x| x.parse().ok())
                .collect::<Option<Vec<u64>>>()?,
        };
        if parts.next().is_some() || xmin > xmax {
            return None;
        }
        running.sort_unstable();
        Some(Self { xmax, running })
    }

    /// Whether every transaction `other` counts as finished is finished in
    /// `self` too, so that `self` saw every commit `other` saw. Those at or
    /// above `self.xmax` had not begun for `self`: `other` must count them
    /// all as running (every id below `xmax` was handed out, so a missing
    /// one finished). Those `self` counts as running must be running for
    /// `other` too.
    pub fn covers(&self, other: &Snapshot) -> bool {
        let begun_since = other.xmax.saturating_sub(self.xmax);
        let running_since = other.running.iter().filter(|&&x| x >= self.xmax).count() as u64;
        begun_since == running_since
            && self
                .running
                .iter()
                .take_while(|&&x| x < other.xmax)
                .all(|x| other.running.binary_search(x).is_ok())
    }
}

/// One value remembered with the snapshot it was read at, and the read of
/// it under way, if any: requests that miss while a read is under way wait
/// for it rather than each reading too (after a commit, every request in
/// flight misses at once).
pub(super) struct AtSnapshot<T> {
    kept: Mutex<Option<(Snapshot, T)>>,
    reading: Mutex<Option<Arc<Read<T>>>>,
}

type Read<T> = OnceCell<(T, Option<Snapshot>)>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data: a panic elsewhere cannot have left it half-written.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T: Clone> AtSnapshot<T> {
    pub(super) fn new() -> Self {
        Self {
            kept: Mutex::new(None),
            reading: Mutex::new(None),
        }
    }

    /// The value kept, if it was read at a snapshot that covers `seen` and
    /// `fits`.
    fn get(&self, seen: &Snapshot, fits: impl Fn(&T) -> bool) -> Option<T> {
        let kept = lock(&self.kept);
        kept.as_ref()
            .filter(|(at, value)| at.covers(seen) && fits(value))
            .map(|(_, value)| value.clone())
    }

    /// Keeps `value` as read at `at`, unless what is kept was read at a
    /// newer snapshot (one that covers `at`, and more).
    fn put(&self, at: Snapshot, value: T) {
        let mut kept = lock(&self.kept);
        if let Some((newer, _)) = kept.as_ref()
            && newer.covers(&at)
            && newer != &at
        {
            return;
        }
        *kept = Some((at, value));
    }

    /// The read under way, or a new one when none is (or the last is done).
    fn join(&self) -> Arc<Read<T>> {
        let mut reading = lock(&self.reading);
        match reading.as_ref() {
            Some(read) if !read.initialized() => read.clone(),
            _ => reading.insert(Arc::new(OnceCell::new())).clone(),
        }
    }

    /// A value at least as new as a statement at snapshot `seen` would read,
    /// and that `fits`: the one kept when it qualifies, else the result of
    /// the read under way when that qualifies, else `read`'s own.
    /// `read` returns the value and the snapshot it was read at.
    pub(super) async fn get_or_read<F, Fut>(
        &self,
        seen: Option<&Snapshot>,
        fits: impl Fn(&T) -> bool,
        read: F,
    ) -> Result<T, DbErr>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(T, Option<Snapshot>), DbErr>>,
    {
        let Some(seen) = seen else {
            return self.read_and_keep(&read).await;
        };
        if let Some(value) = self.get(seen, &fits) {
            return Ok(value);
        }
        let flight = self.join();
        let mut ran = false;
        let (value, at) = flight
            .get_or_try_init(|| {
                ran = true;
                read()
            })
            .await?
            .clone();
        if let Some(at) = &at {
            self.put(at.clone(), value.clone());
        }
        // A read this request started began after its session was read; one
        // it joined may have begun before, and then must cover it.
        let fresh = ran || at.as_ref().is_some_and(|at| at.covers(seen));
        if fresh && fits(&value) {
            Ok(value)
        } else {
            self.read_and_keep(&read).await
        }
    }

    async fn read_and_keep<F, Fut>(&self, read: &F) -> Result<T, DbErr>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(T, Option<Snapshot>), DbErr>>,
    {
        let (value, at) = read().await?;
        if let Some(at) = at {
            self.put(at, value.clone());
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(text: &str) -> Snapshot {
        Snapshot::parse(text).unwrap()
    }

    #[test]
    fn snapshots_read_as_postgresql_prints_them() {
        assert_eq!(
            snap("10:20:"),
            Snapshot {
                xmax: 20,
                running: vec![]
            }
        );
        assert_eq!(snap("10:20:15,10,12").running, vec![10, 12, 15]);
        for garbage in [
            "", "10", "10:20", "a:20:", "10:20:x", "20:10:", "1:2:3:4", "10:20:1,",
        ] {
            assert_eq!(Snapshot::parse(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn a_snapshot_covers_what_finished_before_it() {
        let cases = [
            // (newer?, older?, covers)
            ("10:20:", "10:20:", true),
            ("10:25:", "10:20:", true),
            ("10:20:", "10:25:", false), // 20..25 finished for the other
            ("10:20:", "10:23:20,21,22", true), // 20..23 began since, still running
            ("10:20:", "10:23:20,22", false), // 21 finished for the other
            ("10:20:12", "10:23:12,20,21,22", true),
            ("10:20:12", "10:23:20,21,22", false),
            ("10:25:12", "10:20:12", true),
            ("10:25:12", "10:20:", false), // 12 finished for the other, not for this one
            ("10:25:", "10:20:12", true),  // 12 finished since
            ("10:25:22", "10:20:", true),  // 22 began after the other was taken
            ("12:25:12,22", "10:20:10,12", true),
            ("10:25:10,11", "10:20:10", false),
        ];
        for (this, other, covers) in cases {
            assert_eq!(
                snap(this).covers(&snap(other)),
                covers,
                "{this} covers {other}"
            );
        }
    }

    #[test]
    fn a_value_is_given_back_for_snapshots_its_own_covers() {
        let cache = AtSnapshot::new();
        let any = |_: &i32| true;
        let (older, newer) = (snap("10:20:12"), snap("10:30:"));
        assert_eq!(cache.get(&older, any), None);
        cache.put(older.clone(), 1);
        assert_eq!(cache.get(&older, any), Some(1));
        assert_eq!(cache.get(&older, |v| *v == 2), None, "it must fit too");
        assert_eq!(
            cache.get(&newer, any),
            None,
            "read before commits the newer one saw"
        );
        cache.put(newer.clone(), 2);
        assert_eq!(cache.get(&newer, any), Some(2));
        assert_eq!(
            cache.get(&older, any),
            Some(2),
            "the newer value holds for the older"
        );
        cache.put(older.clone(), 1);
        assert_eq!(
            cache.get(&newer, any),
            Some(2),
            "an older value does not replace a newer"
        );
    }

    /// Requests that miss together share one read; a request that joins a
    /// read begun before its own snapshot (one the read's does not cover)
    /// reads again itself.
    #[tokio::test]
    async fn requests_that_miss_together_share_one_read() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let cache = Arc::new(AtSnapshot::<i32>::new());
        let reads = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let read = |at: &'static str| {
            let (reads, gate) = (reads.clone(), gate.clone());
            move || {
                let (reads, gate) = (reads.clone(), gate.clone());
                async move {
                    reads.fetch_add(1, Ordering::SeqCst);
                    gate.notified().await;
                    Ok((7, Some(snap(at))))
                }
            }
        };
        let seen = snap("10:20:");
        let mut waiting = Vec::new();
        for _ in 0..5 {
            let (cache, seen, read) = (cache.clone(), seen.clone(), read("10:21:"));
            waiting.push(tokio::spawn(async move {
                cache.get_or_read(Some(&seen), |_| true, read).await
            }));
        }
        while reads.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        gate.notify_waiters();
        for w in waiting {
            assert_eq!(w.await.unwrap().unwrap(), 7);
        }
        assert_eq!(
            reads.load(Ordering::SeqCst),
            1,
            "one read for five requests"
        );

        // Kept at 10:21: a request that saw transaction 21 finish reads again.
        let later = snap("10:22:");
        let (c, l, r) = (cache.clone(), later.clone(), read("10:23:"));
        let again = tokio::spawn(async move { c.get_or_read(Some(&l), |_| true, r).await });
        while reads.load(Ordering::SeqCst) == 1 {
            tokio::task::yield_now().await;
        }
        gate.notify_waiters();
        assert_eq!(again.await.unwrap().unwrap(), 7);
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        assert_eq!(cache.get(&later, |_| true), Some(7));
    }
}
