use sea_orm_migration::{prelude::*, schema::*};

use crate::{m20261129_000001_create_users::Users, m20261129_000002_create_sessions::Sessions};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The credential epoch: a counter on each account that every change of its
/// credentials (a new password, later a reset or a suspension) moves on, and
/// the epoch each session was made under. A session is valid only while the
/// two agree, so a login that checked the old password while a change
/// committed makes a session that is refused on its first use. Rows from
/// before this change all start at 0 and agree.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(big_integer(Epoch::CredentialEpoch).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(big_integer(Epoch::CredentialEpoch).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Epoch::CredentialEpoch)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Epoch::CredentialEpoch)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Epoch {
    CredentialEpoch,
}
