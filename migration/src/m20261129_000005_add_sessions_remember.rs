use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000002_create_sessions::Sessions;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Whether a session was started with "Remember me": it decides the idle
/// timeout and whether the cookie outlives the browser. Sessions from before
/// this change were all remembered ones.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(boolean(Sessions::Remember).default(true))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::Remember)
                    .to_owned(),
            )
            .await
    }
}
