//! Failed logins, one row each, for the login throttle.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, Order, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entities::login_failures;

/// When `key` failed since `since`, oldest first (at most `limit`, the newest).
pub async fn recent(
    db: &impl ConnectionTrait,
    key: &str,
    since: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<DateTime<Utc>>, DbErr> {
    let mut times: Vec<DateTime<Utc>> = login_failures::Entity::find()
        .select_only()
        .column(login_failures::Column::FailedAt)
        .filter(login_failures::Column::Key.eq(key))
        .filter(login_failures::Column::FailedAt.gt(since))
        .order_by(login_failures::Column::FailedAt, Order::Desc)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    times.reverse();
    Ok(times)
}

pub async fn insert(
    db: &impl ConnectionTrait,
    keys: &[String],
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let rows = keys.iter().map(|key| login_failures::ActiveModel {
        id: Set(Uuid::now_v7()),
        key: Set(key.clone()),
        failed_at: Set(at),
    });
    login_failures::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn delete_key(db: &impl ConnectionTrait, key: &str) -> Result<u64, DbErr> {
    let result = login_failures::Entity::delete_many()
        .filter(login_failures::Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Forgets failures that no longer count.
pub async fn delete_before(db: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
    let result = login_failures::Entity::delete_many()
        .filter(login_failures::Column::FailedAt.lte(cutoff))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
