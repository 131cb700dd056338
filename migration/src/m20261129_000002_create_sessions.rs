use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .if_not_exists()
                    // The public handle, for listing and revoking; never the secret.
                    .col(pk_uuid(Sessions::Id))
                    // SHA-256 of the cookie's secret: a stolen database dump holds
                    // nothing that can be replayed as a cookie.
                    .col(binary_len(Sessions::SecretHash, 32).unique_key())
                    .col(uuid_null(Sessions::UserId))
                    .col(json(Sessions::Data))
                    // Bumped on every write of `data`: the compare-and-swap guard.
                    .col(big_integer(Sessions::Version).default(0))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastSeenAt))
                    // Idle deadline, never later than the absolute one, so that
                    // purging expired rows needs this column alone.
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone(Sessions::AbsoluteExpiresAt))
                    .col(text_null(Sessions::UserAgent))
                    .col(string_len_null(Sessions::Ip, 45))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user_id")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_expires_at")
                    .table(Sessions::Table)
                    .col(Sessions::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Sessions {
    Table,
    Id,
    SecretHash,
    UserId,
    Data,
    Version,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    AbsoluteExpiresAt,
    UserAgent,
    Ip,
    Remember,
}
