use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Operators: each account's role and suspension, the moderation log, the
/// report queue and sign-up invites.
///
/// The log keeps the names it shows beside nullable references that become
/// NULL when an account is deleted, so that an entry outlives the people and
/// the post it names. Reports go with their post and their reporter.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_len(Moderation::Role, 16).default("member"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(timestamp_with_time_zone_null(Moderation::SuspendedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(text_null(Moderation::SuspensionReason))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ModerationLog::Table)
                    .col(pk_uuid(ModerationLog::Id))
                    .col(timestamp_with_time_zone(ModerationLog::CreatedAt))
                    .col(string_len(ModerationLog::Action, 32))
                    // NULL with no actor name: the command line.
                    .col(uuid_null(ModerationLog::ActorId))
                    .col(string_len_null(ModerationLog::ActorName, 32))
                    .col(uuid_null(ModerationLog::TargetUserId))
                    .col(string_len_null(ModerationLog::TargetName, 32))
                    .col(uuid_null(ModerationLog::PostId))
                    .col(string_len_null(ModerationLog::PostTitle, 120))
                    .col(text_null(ModerationLog::Detail))
                    .col(text_null(ModerationLog::Reason))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_moderation_log_actor")
                            .from(ModerationLog::Table, ModerationLog::ActorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_moderation_log_target")
                            .from(ModerationLog::Table, ModerationLog::TargetUserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_moderation_log_newest")
                    .table(ModerationLog::Table)
                    .col((ModerationLog::CreatedAt, IndexOrder::Desc))
                    .col((ModerationLog::Id, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Reports::Table)
                    .col(pk_uuid(Reports::Id))
                    .col(uuid(Reports::PostId))
                    .col(uuid(Reports::ReporterId))
                    .col(string_len(Reports::Reason, 500))
                    .col(timestamp_with_time_zone(Reports::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reports_post")
                            .from(Reports::Table, Reports::PostId)
                            .to(PostsRef::Table, PostsRef::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reports_reporter")
                            .from(Reports::Table, Reports::ReporterId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One open report per person per post: a resolved report is deleted
        // (the moderation log keeps what was done).
        manager
            .create_index(
                Index::create()
                    .name("idx_reports_post_reporter")
                    .table(Reports::Table)
                    .col(Reports::PostId)
                    .col(Reports::ReporterId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_reports_oldest")
                    .table(Reports::Table)
                    .col(Reports::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_reports_reporter")
                    .table(Reports::Table)
                    .col(Reports::ReporterId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Invites::Table)
                    .col(pk_uuid(Invites::Id))
                    // SHA-256 of the code: the code itself is never stored.
                    .col(binary_len(Invites::SecretHash, 32).unique_key())
                    .col(uuid_null(Invites::CreatedBy))
                    .col(timestamp_with_time_zone(Invites::CreatedAt))
                    .col(timestamp_with_time_zone(Invites::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Invites::UsedAt))
                    .col(uuid_null(Invites::UsedBy))
                    .col(timestamp_with_time_zone_null(Invites::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invites_created_by")
                            .from(Invites::Table, Invites::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invites_used_by")
                            .from(Invites::Table, Invites::UsedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Invites::Table.into_iden(),
            Reports::Table.into_iden(),
            ModerationLog::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [
            Moderation::SuspensionReason,
            Moderation::SuspendedAt,
            Moderation::Role,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Moderation {
    Role,
    SuspendedAt,
    SuspensionReason,
}

#[derive(DeriveIden)]
enum ModerationLog {
    Table,
    Id,
    CreatedAt,
    Action,
    ActorId,
    ActorName,
    TargetUserId,
    TargetName,
    PostId,
    PostTitle,
    Detail,
    Reason,
}

#[derive(DeriveIden)]
enum Reports {
    Table,
    Id,
    PostId,
    ReporterId,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PostsRef {
    #[sea_orm(iden = "posts")]
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Invites {
    Table,
    Id,
    SecretHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    UsedBy,
    RevokedAt,
}
