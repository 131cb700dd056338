//! What a statement saw of the database as a whole, so that a read can be
//! answered from memory when nothing it depends on can have changed.
//!
//! On PostgreSQL every statement runs in a snapshot: the transactions it
//! counts as finished. `pg_current_snapshot()` names it as `xmin:xmax:xip`:
//! every transaction below `xmax` has finished except those listed in `xip`,
//! and none at or above it counts as finished.
//! A transaction that finished before a statement began is finished in that
//! statement's snapshot and in every later one, whichever connection or
//! instance took it. So when the snapshot a value was read at counts as
//! finished every transaction that a request's own snapshot does, the value
//! is at least as new as anything the request could have read itself: it
//! holds every commit the request could know of, through this instance or
//! another.
//!
//! On SQLite, a connection's `PRAGMA data_version` changes whenever another
//! connection (of this process or another) has committed since its last
//! read transaction. The connections that read here never write, so a value
//! read by one connection is as new as any read since by the same
//! connection at the same version: a [`ReadPoint`] names both. Versions of
//! different connections are not comparable; each connection's value is
//! kept apart (see [`AtSnapshot`]).

use std::sync::{Mutex, MutexGuard};

use sea_orm::{
    DbErr, QueryResult, QuerySelect, Select,
    sea_query::{Expr, SimpleExpr},
};

/// What a read saw of the whole database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Snapshot {
    Postgres(Transactions),
    Sqlite(ReadPoint),
}

impl Snapshot {
    /// Whether a value read at `self` holds every commit a read at `other`
    /// saw.
    pub fn includes(&self, other: &Snapshot) -> bool {
        match (self, other) {
            (Self::Postgres(this), Self::Postgres(other)) => this.includes(other),
            (Self::Sqlite(this), Self::Sqlite(other)) => this == other,
            _ => false,
        }
    }

    /// Whether a value read at `self` takes the place of one read at
    /// `older`: on PostgreSQL, one at a newer snapshot; on SQLite, one read
    /// by the same connection.
    fn replaces(&self, older: &Snapshot) -> bool {
        match (self, older) {
            (Self::Postgres(this), Self::Postgres(older)) => this.includes(older),
            (Self::Sqlite(this), Self::Sqlite(older)) => this.connection == older.connection,
            _ => true,
        }
    }
}

/// The point a SQLite read saw: which connection read, and that
/// connection's `data_version` during the read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadPoint {
    connection: u64,
    data_version: i64,
}

impl ReadPoint {
    pub fn new(connection: u64, data_version: i64) -> Self {
        Self {
            connection,
            data_version,
        }
    }
}

/// A PostgreSQL snapshot: transactions below `xmax` have finished, except
/// those in `running` (sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transactions {
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
    pub(in crate::store) fn reported_by<E: sea_orm::EntityTrait>(query: Select<E>) -> Select<E> {
        query.expr_as(Self::expr(), COLUMN)
    }

    /// The snapshot a row of a query made by [`Self::reported_by`] carries;
    /// none if PostgreSQL printed it in a form not understood here (which
    /// only means that nothing is answered from memory).
    pub(in crate::store) fn of(row: &QueryResult) -> Result<Option<Self>, DbErr> {
        let text: String = row.try_get("", COLUMN)?;
        Ok(Transactions::parse(&text).map(Self::Postgres))
    }
}

impl Transactions {
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
    /// above `self.xmax` had not finished for `self`: `other` must count them
    /// all as running (every id below `xmax` was handed out, so one not
    /// listed finished; a savepoint's id is never listed, which can only
    /// make this answer no). Those `self` counts as running must be running
    /// for `other` too.
    fn includes(&self, other: &Transactions) -> bool {
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

/// Values remembered with the snapshots they were read at: on PostgreSQL
/// the newest, on SQLite the latest of each reading connection.
pub(super) struct AtSnapshot<T> {
    kept: Mutex<Vec<(Snapshot, T)>>,
}

/// Values kept at most: one per inline SQLite connection.
const KEPT: usize = 8;

impl<T: Clone> AtSnapshot<T> {
    pub(super) fn new() -> Self {
        Self {
            kept: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(Snapshot, T)>> {
        // Plain data: a panic elsewhere cannot have left it half-written.
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A value kept, if it was read at a snapshot that includes `session`
    /// and `matches`.
    pub(super) fn get(&self, session: &Snapshot, matches: impl Fn(&T) -> bool) -> Option<T> {
        self.lock()
            .iter()
            .find(|(at, value)| at.includes(session) && matches(value))
            .map(|(_, value)| value.clone())
    }

    /// Keeps `value` as read at `at` in the place of what it replaces,
    /// unless a value read at a newer snapshot is kept.
    pub(super) fn put(&self, at: Snapshot, value: T) {
        let mut kept = self.lock();
        if kept
            .iter()
            .any(|(newer, _)| newer != &at && newer.includes(&at) && newer.replaces(&at))
        {
            return;
        }
        kept.retain(|(older, _)| !at.replaces(older));
        if kept.len() >= KEPT {
            kept.remove(0);
        }
        kept.push((at, value));
    }

    /// Forgets every value: this instance wrote something they may lack.
    pub(super) fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(text: &str) -> Transactions {
        Transactions::parse(text).unwrap()
    }

    fn pg(text: &str) -> Snapshot {
        Snapshot::Postgres(snap(text))
    }

    #[test]
    fn snapshots_read_as_postgresql_prints_them() {
        assert_eq!(
            snap("10:20:"),
            Transactions {
                xmax: 20,
                running: vec![]
            }
        );
        assert_eq!(snap("10:20:15,10,12").running, vec![10, 12, 15]);
        for garbage in [
            "", "10", "10:20", "a:20:", "10:20:x", "20:10:", "1:2:3:4", "10:20:1,",
        ] {
            assert_eq!(Transactions::parse(garbage), None, "{garbage:?}");
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
                snap(this).includes(&snap(other)),
                covers,
                "{this} covers {other}"
            );
        }
    }

    #[test]
    fn a_value_is_given_back_for_snapshots_its_own_covers() {
        let cache = AtSnapshot::new();
        let any = |_: &i32| true;
        let (older, newer) = (pg("10:20:12"), pg("10:30:"));
        assert_eq!(cache.get(&older, any), None);
        cache.put(older.clone(), 1);
        assert_eq!(cache.get(&older, any), Some(1));
        assert_eq!(cache.get(&older, |v| *v == 2), None, "it must match too");
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

    #[test]
    fn a_read_point_includes_only_itself_and_kinds_never_mix() {
        let point = |connection, version| Snapshot::Sqlite(ReadPoint::new(connection, version));
        assert!(point(1, 3).includes(&point(1, 3)));
        assert!(
            !point(1, 4).includes(&point(1, 3)),
            "versions are not ordered"
        );
        assert!(
            !point(2, 3).includes(&point(1, 3)),
            "nor comparable across connections"
        );
        assert!(!point(1, 3).includes(&pg("10:20:")));
        assert!(!pg("10:20:").includes(&point(1, 3)));
    }

    #[test]
    fn each_sqlite_connection_keeps_its_own_value() {
        let cache = AtSnapshot::new();
        let any = |_: &i32| true;
        let point = |connection, version| Snapshot::Sqlite(ReadPoint::new(connection, version));
        cache.put(point(1, 3), 1);
        cache.put(point(2, 7), 2);
        assert_eq!(cache.get(&point(1, 3), any), Some(1));
        assert_eq!(cache.get(&point(2, 7), any), Some(2));
        cache.put(point(1, 4), 3);
        assert_eq!(
            cache.get(&point(1, 3), any),
            None,
            "replaced by the same connection"
        );
        assert_eq!(cache.get(&point(1, 4), any), Some(3));
        assert_eq!(cache.get(&point(2, 7), any), Some(2));
        cache.clear();
        assert_eq!(cache.get(&point(2, 7), any), None);
    }
}
