use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000006_create_login_failures;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One row per counted key (`login-user:dave`, `signup:203.0.113.9`, …): how
/// many actions its current window has used, and when that window ends (in
/// milliseconds since 1970, so that both databases compare plain integers).
/// A conditional upsert on this row takes a slot atomically, so every
/// instance shares one count and concurrent requests cannot overshoot it.
/// It replaces `login_failures` (one row per failure, counted before
/// hashing and recorded after: concurrent guesses all got through).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimits::Table)
                    .if_not_exists()
                    .col(string_len(RateLimits::Key, 160).primary_key())
                    .col(big_integer(RateLimits::WindowEndsMs))
                    .col(integer(RateLimits::Used))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rate_limits_window_ends")
                    .table(RateLimits::Table)
                    .col(RateLimits::WindowEndsMs)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(LoginFailures::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // `login_failures` as it was made, empty (its counts are short-lived).
        m20261129_000006_create_login_failures::Migration
            .up(manager)
            .await?;
        manager
            .drop_table(Table::drop().table(RateLimits::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Key,
    WindowEndsMs,
    Used,
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
}
