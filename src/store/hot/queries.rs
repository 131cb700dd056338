//! The statements of the page views on each path: in the calling thread on
//! a SQLite file, with PostgreSQL's snapshot reported, and the shared ones
//! the gathering task sends. Every row is decoded by the store's one decoder
//! of its kind (see `store::rows`).

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, FromQueryResult, QueryFilter, QuerySelect,
    QueryTrait,
};
use uuid::Uuid;

use super::{
    inline::{InlineError, InlineSqlite},
    shapes::StatementTexts,
    snapshot::Snapshot,
};
use crate::{
    domain::{Cursor, Post, PostVersion},
    entities::sessions as session_rows,
    store::{
        posts::{PostRow, VersionRow, paged, select_posts, select_versions, versions_paged},
        sessions::{SessionRow, StoredSession, by_secret_hash, select_stored},
    },
};

/// A session lookup's answer: the session with its user, and (where known)
/// the snapshot it was read at.
pub type Found = (Option<StoredSession>, Option<Snapshot>);

/// What one statement found: sessions by hash, and its snapshot.
pub struct FoundMany {
    sessions: Vec<(Vec<u8>, StoredSession)>,
    snapshot: Option<Snapshot>,
}

impl FoundMany {
    /// The answer to a lookup of `hash`: as with a statement of its own,
    /// the snapshot only with a session.
    pub fn get(&self, hash: &[u8]) -> Found {
        match self.sessions.iter().find(|(h, _)| h == hash) {
            Some((_, session)) => (Some(session.clone()), self.snapshot.clone()),
            None => (None, None),
        }
    }
}

/// [`find_by_secret_hash`] for several secrets in one statement on
/// PostgreSQL, with the snapshot the statement ran in. Statements are built
/// for 1, 2, 4, … secrets (the last one repeated to fill a shape), so that
/// the server prepares a handful of statements, not one per count.
pub async fn find_many_by_secret_hash_at_snapshot(
    db: &impl ConnectionTrait,
    hashes: &[Vec<u8>],
) -> Result<FoundMany, DbErr> {
    /// The column that tells which secret a row was found for.
    const HASH_COLUMN: &str = "found_secret_hash";
    static TEXTS: StatementTexts<usize> = StatementTexts::new();
    let shape = hashes.len().next_power_of_two();
    let sql = TEXTS.sql(shape, || {
        let placeholders = vec![Vec::<u8>::new(); shape];
        Snapshot::reported_by(select_stored())
            .column_as(session_rows::Column::SecretHash, HASH_COLUMN)
            .filter(session_rows::Column::SecretHash.is_in(placeholders))
            .build(DbBackend::Postgres)
    });
    let last = hashes.last().cloned().unwrap_or_default();
    let values = (0..shape).map(|i| hashes.get(i).unwrap_or(&last).clone().into());
    let stmt = sea_orm::Statement::from_sql_and_values(DbBackend::Postgres, &*sql, values);
    let rows = db.query_all_raw(stmt).await?;
    let mut found = FoundMany {
        sessions: Vec::with_capacity(rows.len()),
        snapshot: None,
    };
    for row in &rows {
        let hash: Vec<u8> = row.try_get("", HASH_COLUMN)?;
        let session = SessionRow::from_query_result(row, "")?;
        // Every row carries the statement's one snapshot.
        if found.snapshot.is_none() {
            found.snapshot = Snapshot::of(row)?;
        }
        found.sessions.push((hash, session.into()));
    }
    Ok(found)
}

/// [`find_by_secret_hash`], read in the calling thread, with the point the
/// read saw (see [`Snapshot`]).
pub fn find_by_secret_hash_inline(
    sqlite: &InlineSqlite,
    secret_hash: &[u8],
) -> Result<Found, InlineError> {
    // One statement, whatever the hash: built once, the hash bound as the
    // blob sqlx binds it as.
    static BY_SECRET_HASH: StatementTexts<()> = StatementTexts::new();
    let sql = BY_SECRET_HASH.sql((), || by_secret_hash(&[]).build(DbBackend::Sqlite));
    let (rows, point) =
        sqlite.query_at_read_point(&sql, [secret_hash], |row| SessionRow::decode(row))?;
    Ok((
        rows.into_iter().next().map(Into::into),
        Some(Snapshot::Sqlite(point)),
    ))
}

/// `store::posts::page`, read in the calling thread.
pub fn page_inline(
    sqlite: &InlineSqlite,
    author: Option<Uuid>,
    before: Option<Cursor>,
    limit: u64,
) -> Result<Vec<Post>, InlineError> {
    let stmt = paged(DbBackend::Sqlite, select_posts(), author, before, limit);
    let rows = sqlite.query(&stmt, |row| PostRow::decode(row))?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// `store::posts::page_versions`, read in the calling thread.
pub fn page_versions_inline(
    sqlite: &InlineSqlite,
    author: Option<Uuid>,
    before: Option<Cursor>,
    limit: u64,
) -> Result<Vec<PostVersion>, InlineError> {
    if author.is_none() && before.is_none() {
        return sqlite.query_sql(&first_page_sql(limit), [], version_of_row);
    }
    let stmt = versions_paged(DbBackend::Sqlite, author, before, limit);
    sqlite.query(&stmt, version_of_row)
}

/// The first page of everyone's feed, read on every homepage: a statement
/// without values, built once per page size.
fn first_page_sql(limit: u64) -> std::sync::Arc<str> {
    static FIRST_PAGES: StatementTexts<u64> = StatementTexts::new();
    FIRST_PAGES.sql(limit, || {
        versions_paged(DbBackend::Sqlite, None, None, limit)
    })
}

/// The first `limit` versions of everyone's feed on a SQLite file, read in
/// the calling thread, with the point the read saw (see [`Snapshot`]).
pub fn first_versions_inline_at_snapshot(
    sqlite: &InlineSqlite,
    limit: u64,
) -> Result<(Vec<PostVersion>, Option<Snapshot>), InlineError> {
    let (versions, point) =
        sqlite.query_at_read_point(&first_page_sql(limit), [], version_of_row)?;
    Ok((versions, Some(Snapshot::Sqlite(point))))
}

/// A row of `select_versions`, as a version.
fn version_of_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PostVersion> {
    VersionRow::decode(row).map(Into::into)
}

/// The first `limit` versions of everyone's feed on PostgreSQL, with the
/// snapshot they were read at (none when there are no posts).
pub async fn first_versions_at_snapshot(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<(Vec<PostVersion>, Option<Snapshot>), DbErr> {
    let query = Snapshot::reported_by(select_versions());
    let stmt = paged(DbBackend::Postgres, query, None, None, limit);
    let rows = db.query_all_raw(stmt).await?;
    let snapshot = rows.first().map(Snapshot::of).transpose()?.flatten();
    let versions = rows
        .iter()
        .map(|row| VersionRow::from_query_result(row, "").map(Into::into))
        .collect::<Result<_, _>>()?;
    Ok((versions, snapshot))
}
