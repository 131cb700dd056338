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
                    .table(Posts::Table)
                    .if_not_exists()
                    // UUIDv7: ids sort by creation time.
                    .col(pk_uuid(Posts::Id))
                    .col(uuid(Posts::AuthorId))
                    .col(string_len(Posts::Title, 120))
                    // The Markdown as written, and the sanitized HTML made from
                    // it when it was written, so that views never render it.
                    .col(text(Posts::Body))
                    .col(text(Posts::BodyHtml))
                    .col(timestamp_with_time_zone(Posts::CreatedAt))
                    .col(timestamp_with_time_zone_null(Posts::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_posts_author")
                            .from(Posts::Table, Posts::AuthorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The feed: newest first, ties broken by id (the keyset cursor).
        manager
            .create_index(
                Index::create()
                    .name("idx_posts_feed")
                    .table(Posts::Table)
                    .col((Posts::CreatedAt, IndexOrder::Desc))
                    .col((Posts::Id, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;
        // A person's posts, in the same order.
        manager
            .create_index(
                Index::create()
                    .name("idx_posts_author_feed")
                    .table(Posts::Table)
                    .col(Posts::AuthorId)
                    .col((Posts::CreatedAt, IndexOrder::Desc))
                    .col((Posts::Id, IndexOrder::Desc))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Posts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Posts {
    Table,
    Id,
    AuthorId,
    Title,
    Body,
    BodyHtml,
    CreatedAt,
    UpdatedAt,
}
