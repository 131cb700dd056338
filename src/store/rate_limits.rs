//! Counted actions in `rate_limits`: one row per key, taken a slot at a time
//! by a single conditional upsert.
//!
//! The upsert is what makes a limit hold under concurrency and across
//! instances: on PostgreSQL, `ON CONFLICT … DO UPDATE … WHERE` locks the row
//! and evaluates the condition on its newest version, so concurrent takers
//! queue on the row and each sees the others' slots; on SQLite a write
//! statement runs under the database's single write lock from its first
//! step. No read-then-write window exists in which two requests both see a
//! free slot.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement, TransactionTrait, Value,
};

/// A slot to take under `key`: at most `max` per window of `window_ms`.
#[derive(Debug, Clone)]
pub struct Take<'a> {
    pub key: &'a str,
    pub max: u32,
    pub window_ms: i64,
}

/// A slot that was taken: enough to give it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub key: String,
    /// The window the slot belongs to (its end); a slot of a window that has
    /// since ended is not given back to the next one.
    pub window_ends_ms: i64,
}

/// What a try to take slots found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Taken(Vec<Taken>),
    /// A key was full; its window ends at this time (ms since 1970).
    Full {
        window_ends_ms: i64,
    },
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn statement(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Statement {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => sql.to_owned(),
        // `$n` placeholders in order become `?`; every statement here uses
        // each value once and in order.
        _ => {
            let mut out = String::with_capacity(sql.len());
            let mut chars = sql.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' {
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                    out.push('?');
                } else {
                    out.push(c);
                }
            }
            out
        }
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Takes one slot under `take.key` at `now`, or finds the key full.
async fn take_one(
    db: &impl ConnectionTrait,
    take: &Take<'_>,
    now: DateTime<Utc>,
) -> Result<Result<Taken, i64>, DbErr> {
    let now_ms = millis(now);
    // A window that has ended starts afresh with this slot; a running one
    // gives a slot only while it has one left.
    let sql = "INSERT INTO rate_limits (key, window_ends_ms, used) VALUES ($1, $2, 1) \
               ON CONFLICT (key) DO UPDATE SET \
                 used = CASE WHEN rate_limits.window_ends_ms <= $3 THEN 1 ELSE rate_limits.used + 1 END, \
                 window_ends_ms = CASE WHEN rate_limits.window_ends_ms <= $4 \
                   THEN excluded.window_ends_ms ELSE rate_limits.window_ends_ms END \
               WHERE rate_limits.window_ends_ms <= $5 OR rate_limits.used < $6 \
               RETURNING window_ends_ms";
    let values: Vec<Value> = vec![
        take.key.into(),
        now_ms.saturating_add(take.window_ms).into(),
        now_ms.into(),
        now_ms.into(),
        now_ms.into(),
        i64::from(take.max).into(),
    ];
    if let Some(row) = db.query_one_raw(statement(db, sql, values)).await? {
        let window_ends_ms: i64 = row.try_get_by_index(0)?;
        return Ok(Ok(Taken {
            key: take.key.to_owned(),
            window_ends_ms,
        }));
    }
    let sql = "SELECT window_ends_ms FROM rate_limits WHERE key = $1";
    let row = db
        .query_one_raw(statement(db, sql, vec![take.key.into()]))
        .await?;
    let ends = match row {
        Some(row) => row.try_get_by_index::<i64>(0)?,
        // Gone meanwhile (a purge): the window has ended.
        None => now_ms,
    };
    Ok(Err(ends))
}

/// Takes one slot under every key of `takes`, all or none, in one
/// transaction: a refusal by any key leaves every count as it was.
pub async fn take_all(
    db: &DatabaseConnection,
    takes: &[Take<'_>],
    now: DateTime<Utc>,
) -> Result<Outcome, DbErr> {
    if let [only] = takes {
        return Ok(match take_one(db, only, now).await? {
            Ok(taken) => Outcome::Taken(vec![taken]),
            Err(window_ends_ms) => Outcome::Full { window_ends_ms },
        });
    }
    let txn = db.begin().await?;
    let mut taken = Vec::with_capacity(takes.len());
    for take in takes {
        match take_one(&txn, take, now).await? {
            Ok(t) => taken.push(t),
            Err(window_ends_ms) => {
                txn.rollback().await?;
                return Ok(Outcome::Full { window_ends_ms });
            }
        }
    }
    txn.commit().await?;
    Ok(Outcome::Taken(taken))
}

/// Gives slots back (a success, or an attempt that turned out not to
/// count), each to the window it was taken from.
pub async fn give_back(db: &impl ConnectionTrait, taken: &[Taken]) -> Result<(), DbErr> {
    for t in taken {
        let sql = "UPDATE rate_limits SET used = used - 1 \
                   WHERE key = $1 AND window_ends_ms = $2 AND used > 0";
        db.execute_raw(statement(
            db,
            sql,
            vec![t.key.as_str().into(), t.window_ends_ms.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Whether `take.key` has no slot left at `now`, without taking one: the
/// end of its window (ms since 1970) when full. For checks that cost a slot
/// only when they fail (a wrong API token), so that a full key refuses them
/// before any work.
pub async fn full_until(
    db: &impl ConnectionTrait,
    take: &Take<'_>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, DbErr> {
    let sql = "SELECT window_ends_ms FROM rate_limits \
               WHERE key = $1 AND window_ends_ms > $2 AND used >= $3";
    let values: Vec<Value> = vec![
        take.key.into(),
        millis(now).into(),
        i64::from(take.max).into(),
    ];
    match db.query_one_raw(statement(db, sql, values)).await? {
        Some(row) => Ok(Some(row.try_get_by_index::<i64>(0)?)),
        None => Ok(None),
    }
}

/// Forgets keys whose window ended before `now`; returns how many.
pub async fn delete_ended(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let sql = "DELETE FROM rate_limits WHERE window_ends_ms <= $1";
    let result = db
        .execute_raw(statement(db, sql, vec![millis(now).into()]))
        .await?;
    Ok(result.rows_affected())
}
