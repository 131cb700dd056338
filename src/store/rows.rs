//! Rows decoded in one place whichever way they were read: through SeaORM
//! (a [`QueryResult`], on either database) or by SQLite in the calling
//! thread (a [`rusqlite::Row`], see `hot::inline`). Each row type of the
//! store has one decoder, generic over [`Columns`], that both paths call:
//! a column added to a query is decoded the same way on every path.
//!
//! Columns are read by their position in the `SELECT`, which each query
//! function documents; finding a column by name compares it with every
//! column before it, for every row.

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, QueryResult};
use uuid::Uuid;

use super::hot::inline;

/// A row of any read path.
pub trait Columns {
    type Error;

    /// The value of the column at `index`.
    fn column<T: ColumnValue>(&self, index: usize) -> Result<T, Self::Error>;
}

/// A type a column is decoded as, the same on both paths.
pub trait ColumnValue: Sized {
    fn from_query_result(row: &QueryResult, index: usize) -> Result<Self, DbErr>;
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self>;
}

impl Columns for QueryResult {
    type Error = DbErr;

    fn column<T: ColumnValue>(&self, index: usize) -> Result<T, DbErr> {
        T::from_query_result(self, index)
    }
}

impl Columns for rusqlite::Row<'_> {
    type Error = rusqlite::Error;

    fn column<T: ColumnValue>(&self, index: usize) -> rusqlite::Result<T> {
        T::from_sqlite(self, index)
    }
}

/// Types that SeaORM and rusqlite decode alike by themselves.
macro_rules! plain {
    ($($t:ty),*) => {$(
        impl ColumnValue for $t {
            fn from_query_result(row: &QueryResult, index: usize) -> Result<Self, DbErr> {
                row.try_get_by_index(index)
            }
            fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
                row.get(index)
            }
        }
    )*};
}
plain!(String, Option<String>, i64, Option<i64>, bool);

/// Types stored on SQLite as sqlx writes them (a UUID as its 16 bytes, a
/// time as RFC 3339 text, JSON as text), read here as sqlx would.
macro_rules! as_sqlx_writes {
    ($($t:ty => $read:path),*) => {$(
        impl ColumnValue for $t {
            fn from_query_result(row: &QueryResult, index: usize) -> Result<Self, DbErr> {
                row.try_get_by_index(index)
            }
            fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
                $read(row, index)
            }
        }
    )*};
}
as_sqlx_writes!(
    Uuid => inline::uuid,
    Option<Uuid> => inline::optional_uuid,
    DateTime<Utc> => inline::time,
    Option<DateTime<Utc>> => inline::optional_time,
    serde_json::Value => inline::json
);
