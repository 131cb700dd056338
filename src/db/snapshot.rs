//! What a statement saw of the database as a whole, so that a read can be
//! answered from memory when nothing has been committed since.
//!
//! On PostgreSQL every statement runs in a snapshot: the transactions it
//! counts as committed. `pg_current_snapshot()` names it (`xmin:xmax:xip…`),
//! and two statements whose snapshots are equal saw exactly the same rows:
//! any commit in between, through this instance or another, moves `xmax` or
//! empties a slot of the in-progress list, so no later statement can see the
//! old snapshot again. A value read at one snapshot is therefore still the
//! answer for every statement that reports the same snapshot, whichever
//! instance asks. On SQLite there is nothing to gain (its reads are library
//! calls) and no snapshot is taken.

use std::sync::Mutex;

use sea_orm::{
    DbErr, QueryResult, QuerySelect, Select,
    sea_query::{Expr, SimpleExpr},
};

/// A PostgreSQL snapshot, as `pg_current_snapshot()` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot(String);

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

    /// The snapshot a row of a query made by [`Self::reported_by`] carries.
    pub(super) fn of(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self(row.try_get("", COLUMN)?))
    }
}

/// One value remembered with the snapshot it was read at.
pub(super) struct AtSnapshot<T> {
    slot: Mutex<Option<(Snapshot, T)>>,
}

impl<T: Clone> AtSnapshot<T> {
    pub(super) fn new() -> Self {
        Self {
            slot: Mutex::new(None),
        }
    }

    /// The value, if it was read at exactly `seen`.
    pub(super) fn get(&self, seen: &Snapshot) -> Option<T> {
        let slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref()
            .filter(|(at, _)| at == seen)
            .map(|(_, value)| value.clone())
    }

    /// Remembers `value` as read at `at`. Concurrent readers may store values
    /// of different snapshots in any order: each pair stays true, and the
    /// one kept is simply the one asked about next.
    pub(super) fn put(&self, at: Snapshot, value: T) {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some((at, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_given_back_only_for_its_own_snapshot() {
        let cache = AtSnapshot::new();
        let first = Snapshot("10:12:10".into());
        let later = Snapshot("12:12:".into());
        assert_eq!(cache.get(&first), None);
        cache.put(first.clone(), vec![1]);
        assert_eq!(cache.get(&first), Some(vec![1]));
        assert_eq!(cache.get(&later), None);
        cache.put(later.clone(), vec![1, 2]);
        assert_eq!(cache.get(&later), Some(vec![1, 2]));
        assert_eq!(cache.get(&first), None, "one value is kept, the latest put");
    }
}
