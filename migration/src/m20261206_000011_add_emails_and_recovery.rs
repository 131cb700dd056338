use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Email addresses on accounts, and the one-time tokens mailed to them.
///
/// `email` is the address as its owner typed it, verified or not;
/// `verified_email` is the same address lowercased once its owner followed
/// the link mailed to it, and NULL before. Its unique index makes addresses
/// unique among verified ones, compared case-insensitively, on both
/// databases (NULLs never collide), and it is what recovery looks up.
///
/// `account_tokens` holds password-reset and email-verification tokens: only
/// the SHA-256 of each (like sessions' secrets), the purpose, and what keeps
/// it valid: a reset token the credential epoch it was issued under (any
/// password change moves the epoch on and so voids it), a verification
/// token the address it verifies. A use deletes the row: single use.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_len_null(Emails::Email, 254))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_len_null(Emails::VerifiedEmail, 254))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_verified_email")
                    .table(Users::Table)
                    .col(Emails::VerifiedEmail)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AccountTokens::Table)
                    .if_not_exists()
                    .col(binary_len(AccountTokens::TokenHash, 32).primary_key())
                    .col(uuid(AccountTokens::UserId))
                    .col(string_len(AccountTokens::Purpose, 16))
                    .col(big_integer_null(AccountTokens::CredentialEpoch))
                    .col(string_len_null(AccountTokens::Email, 254))
                    .col(timestamp_with_time_zone(AccountTokens::CreatedAt))
                    .col(timestamp_with_time_zone(AccountTokens::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_account_tokens_user")
                            .from(AccountTokens::Table, AccountTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_account_tokens_user_id")
                    .table(AccountTokens::Table)
                    .col(AccountTokens::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_account_tokens_expires_at")
                    .table(AccountTokens::Table)
                    .col(AccountTokens::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccountTokens::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_users_verified_email")
                    .table(Users::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Emails::VerifiedEmail)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Emails::Email)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Emails {
    Email,
    VerifiedEmail,
}

#[derive(DeriveIden)]
pub enum AccountTokens {
    Table,
    TokenHash,
    UserId,
    Purpose,
    CredentialEpoch,
    Email,
    CreatedAt,
    ExpiresAt,
}
