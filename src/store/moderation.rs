//! Storage of the operators' side: roles and suspensions on `users`, the
//! moderation log, the report queue and sign-up invites.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, Order, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Alias, Expr, ExprTrait, LikeExpr, Query},
};
use uuid::Uuid;

use crate::{
    domain::{Role, User},
    entities::{invites, moderation_log, posts, reports, sessions, users},
};

/// An account as staff see it.
#[derive(Debug, Clone)]
pub struct Person {
    pub user: User,
    pub created_at: DateTime<Utc>,
    pub suspended_at: Option<DateTime<Utc>>,
    pub suspension_reason: Option<String>,
}

fn person_of(u: users::Model) -> Person {
    Person {
        user: User {
            id: u.id,
            username: u.username,
            role: Role::from_stored(&u.role),
        },
        created_at: u.created_at,
        suspended_at: u.suspended_at,
        suspension_reason: u.suspension_reason,
    }
}

pub async fn find_person(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<Person>, DbErr> {
    Ok(users::Entity::find()
        .filter(users::Column::Username.eq(username))
        .one(db)
        .await?
        .map(person_of))
}

/// A line of the list of people: the account and its activity.
#[derive(Debug, Clone)]
pub struct PersonSummary {
    pub person: Person,
    /// The latest use of any of their sessions still stored.
    pub last_active: Option<DateTime<Utc>>,
    pub posts: i64,
    /// Sessions live at the time of the listing.
    pub sessions: i64,
}

/// `%…%` for LIKE, with LIKE's own wildcards in `q` taken literally.
fn contains_pattern(q: &str) -> LikeExpr {
    let escaped: String = q
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

/// People by name, alphabetically, after `after` (a name), at most `limit`;
/// `q` keeps those whose name contains it.
pub async fn people(
    db: &impl ConnectionTrait,
    q: Option<&str>,
    after: Option<&str>,
    limit: Option<u64>,
    now: DateTime<Utc>,
) -> Result<Vec<PersonSummary>, DbErr> {
    let mut select = users::Entity::find();
    if let Some(q) = q.filter(|q| !q.is_empty()) {
        select = select.filter(Expr::col(users::Column::Username).like(contains_pattern(q)));
    }
    if let Some(after) = after {
        select = select.filter(users::Column::Username.gt(after));
    }
    let rows = select
        .order_by(users::Column::Username, Order::Asc)
        .limit(limit)
        .all(db)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|u| u.id).collect();
    let activity = activity(db, &ids, now).await?;
    Ok(rows
        .into_iter()
        .map(|u| {
            let found = activity.iter().find(|a| a.id == u.id);
            PersonSummary {
                last_active: found.and_then(|a| a.last_active),
                posts: found.map_or(0, |a| a.posts),
                sessions: found.map_or(0, |a| a.sessions),
                person: person_of(u),
            }
        })
        .collect())
}

/// One person's line, as [`people`] gives it.
pub async fn summary(
    db: &impl ConnectionTrait,
    person: Person,
    now: DateTime<Utc>,
) -> Result<PersonSummary, DbErr> {
    let found = activity(db, &[person.user.id], now).await?;
    let a = found.first();
    Ok(PersonSummary {
        last_active: a.and_then(|a| a.last_active),
        posts: a.map_or(0, |a| a.posts),
        sessions: a.map_or(0, |a| a.sessions),
        person,
    })
}

/// Who reads the log: staff see every entry; the public page leaves out
/// those about an account's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogAudience {
    Staff,
    Public,
}

/// Actions that only staff see in the log.
const STAFF_ONLY_ACTIONS: [&str; 1] = ["set_password"];

struct Activity {
    id: Uuid,
    last_active: Option<DateTime<Utc>>,
    posts: i64,
    sessions: i64,
}

#[derive(FromQueryResult)]
struct CountRow {
    id: Uuid,
    n: i64,
}

#[derive(FromQueryResult)]
struct SeenRow {
    user_id: Uuid,
    last_seen_at: DateTime<Utc>,
}

/// Post counts, live session counts and last use for `ids`, in three
/// grouped reads (none when `ids` is empty).
async fn activity(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Vec<Activity>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let posts: Vec<CountRow> = posts::Entity::find()
        .select_only()
        .column_as(posts::Column::AuthorId, "id")
        .column_as(posts::Column::Id.count(), "n")
        .filter(posts::Column::AuthorId.is_in(ids.to_vec()))
        .group_by(posts::Column::AuthorId)
        .into_model()
        .all(db)
        .await?;
    let live: Vec<CountRow> = sessions::Entity::find()
        .select_only()
        .column_as(sessions::Column::UserId, "id")
        .column_as(sessions::Column::Id.count(), "n")
        .filter(sessions::Column::UserId.is_in(ids.to_vec()))
        .filter(sessions::Column::ExpiresAt.gt(now))
        .group_by(sessions::Column::UserId)
        .into_model()
        .all(db)
        .await?;
    // The latest use per person, read as rows (no aggregate of times, whose
    // type SQLite does not keep).
    let seen: Vec<SeenRow> = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::UserId)
        .column(sessions::Column::LastSeenAt)
        .filter(sessions::Column::UserId.is_in(ids.to_vec()))
        .into_model()
        .all(db)
        .await?;
    Ok(ids
        .iter()
        .map(|&id| Activity {
            id,
            last_active: seen
                .iter()
                .filter(|s| s.user_id == id)
                .map(|s| s.last_seen_at)
                .max(),
            posts: posts.iter().find(|c| c.id == id).map_or(0, |c| c.n),
            sessions: live.iter().find(|c| c.id == id).map_or(0, |c| c.n),
        })
        .collect())
}

/// Active (not suspended) admins other than `except`.
pub async fn other_active_admins(db: &impl ConnectionTrait, except: Uuid) -> Result<u64, DbErr> {
    let found = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::Role.eq(Role::Admin.as_str()))
        .filter(users::Column::SuspendedAt.is_null())
        .filter(users::Column::Id.ne(except))
        .into_tuple::<Uuid>()
        .all(db)
        .await?;
    Ok(found.len() as u64)
}

/// Makes the changes that the last-admin rule reads one at a time: the
/// first statement of their transaction. On PostgreSQL it locks the admins'
/// rows, in one order (so two transactions wait rather than deadlock, and
/// the second then reads what the first committed); on SQLite a write takes
/// the database's one write lock before anything is read.
pub async fn serialize_admin_changes(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .filter(users::Column::Role.eq(Role::Admin.as_str()))
            .order_by(users::Column::Id, Order::Asc)
            .lock_exclusive()
            .into_tuple::<Uuid>()
            .all(db)
            .await?;
    } else {
        users::Entity::update_many()
            .col_expr(users::Column::Role, Expr::col(users::Column::Role))
            .filter(users::Column::Role.eq(Role::Admin.as_str()))
            .exec(db)
            .await?;
    }
    Ok(())
}

pub async fn set_role(db: &impl ConnectionTrait, id: Uuid, role: Role) -> Result<bool, DbErr> {
    let result = users::Entity::update_many()
        .col_expr(users::Column::Role, Expr::value(role.as_str()))
        .filter(users::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Marks the account suspended and moves its credential epoch on, so that
/// a login checked before this commits makes no valid session.
pub async fn suspend(
    db: &impl ConnectionTrait,
    id: Uuid,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = users::Entity::update_many()
        .col_expr(users::Column::SuspendedAt, Expr::value(now))
        .col_expr(
            users::Column::SuspensionReason,
            Expr::value(reason.map(str::to_owned)),
        )
        .col_expr(
            users::Column::CredentialEpoch,
            Expr::col(users::Column::CredentialEpoch).add(1),
        )
        .filter(users::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn reinstate(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, DbErr> {
    let result = users::Entity::update_many()
        .col_expr(
            users::Column::SuspendedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            users::Column::SuspensionReason,
            Expr::value(Option::<String>::None),
        )
        .filter(users::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes every session of `user_id` in one statement; returns how many.
pub async fn delete_sessions(db: &impl ConnectionTrait, user_id: Uuid) -> Result<u64, DbErr> {
    let result = sessions::Entity::delete_many()
        .filter(sessions::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Who did something, as the log keeps it: an account (with its name at the
/// time), or the command line (`None`).
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub action: &'static str,
    pub actor: Option<User>,
    pub target: Option<User>,
    pub post: Option<(Uuid, String)>,
    pub detail: Option<String>,
    pub reason: Option<String>,
}

pub async fn log(
    db: &impl ConnectionTrait,
    entry: LogEntry,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = moderation_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(now),
        action: Set(entry.action.to_owned()),
        actor_id: Set(entry.actor.as_ref().map(|u| u.id)),
        actor_name: Set(entry.actor.map(|u| u.username)),
        target_user_id: Set(entry.target.as_ref().map(|u| u.id)),
        target_name: Set(entry.target.map(|u| u.username)),
        post_id: Set(entry.post.as_ref().map(|p| p.0)),
        post_title: Set(entry.post.map(|p| p.1)),
        detail: Set(entry.detail),
        reason: Set(entry.reason),
    };
    moderation_log::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A stored log entry. A name whose account is gone has its id NULL.
pub type StoredLogEntry = moderation_log::Model;

/// Log entries, newest first, older than `before` (an entry's id).
pub async fn log_page(
    db: &impl ConnectionTrait,
    audience: LogAudience,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<StoredLogEntry>, DbErr> {
    let mut select = moderation_log::Entity::find();
    if audience == LogAudience::Public {
        select = select.filter(moderation_log::Column::Action.is_not_in(STAFF_ONLY_ACTIONS));
    }
    if let Some(before) = before {
        select = select.filter(moderation_log::Column::Id.lt(before));
    }
    select
        .order_by(moderation_log::Column::Id, Order::Desc)
        .limit(limit)
        .all(db)
        .await
}

pub enum ReportInsert {
    Made(Uuid),
    AlreadyOpen,
}

pub async fn insert_report(
    db: &impl ConnectionTrait,
    post_id: Uuid,
    reporter_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<ReportInsert, DbErr> {
    let id = Uuid::now_v7();
    let row = reports::ActiveModel {
        id: Set(id),
        post_id: Set(post_id),
        reporter_id: Set(reporter_id),
        reason: Set(reason.to_owned()),
        created_at: Set(now),
    };
    match reports::Entity::insert(row)
        .exec_without_returning(db)
        .await
    {
        Ok(_) => Ok(ReportInsert::Made(id)),
        Err(e) if super::is_unique_violation(&e) => Ok(ReportInsert::AlreadyOpen),
        Err(e) => Err(e),
    }
}

/// An open report with its post and reporter.
#[derive(Debug, Clone, FromQueryResult)]
pub struct OpenReport {
    pub id: Uuid,
    pub post_id: Uuid,
    pub post_title: String,
    pub author: String,
    pub reporter: String,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// Every open report, oldest first.
pub async fn open_reports(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<OpenReport>, DbErr> {
    let reporter = Alias::new("reporter");
    let author = Alias::new("author");
    let stmt = Query::select()
        .expr_as(Expr::col((reports::Entity, reports::Column::Id)), "id")
        .expr_as(
            Expr::col((reports::Entity, reports::Column::PostId)),
            "post_id",
        )
        .expr_as(
            Expr::col((posts::Entity, posts::Column::Title)),
            "post_title",
        )
        .expr_as(
            Expr::col((author.clone(), users::Column::Username)),
            "author",
        )
        .expr_as(
            Expr::col((reporter.clone(), users::Column::Username)),
            "reporter",
        )
        .expr_as(
            Expr::col((reports::Entity, reports::Column::Reason)),
            "reason",
        )
        .expr_as(
            Expr::col((reports::Entity, reports::Column::CreatedAt)),
            "created_at",
        )
        .from(reports::Entity)
        .inner_join(
            posts::Entity,
            Expr::col((posts::Entity, posts::Column::Id))
                .equals((reports::Entity, reports::Column::PostId)),
        )
        .join_as(
            sea_orm::sea_query::JoinType::InnerJoin,
            users::Entity,
            author.clone(),
            Expr::col((author.clone(), users::Column::Id))
                .equals((posts::Entity, posts::Column::AuthorId)),
        )
        .join_as(
            sea_orm::sea_query::JoinType::InnerJoin,
            users::Entity,
            reporter.clone(),
            Expr::col((reporter.clone(), users::Column::Id))
                .equals((reports::Entity, reports::Column::ReporterId)),
        )
        .order_by((reports::Entity, reports::Column::CreatedAt), Order::Asc)
        .order_by((reports::Entity, reports::Column::Id), Order::Asc)
        .limit(limit)
        .to_owned();
    OpenReport::find_by_statement(db.get_database_backend().build(&stmt))
        .all(db)
        .await
}

/// The post a report is about.
pub async fn report_post(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Uuid>, DbErr> {
    reports::Entity::find_by_id(id)
        .select_only()
        .column(reports::Column::PostId)
        .into_tuple::<Uuid>()
        .one(db)
        .await
}

/// Closes every open report on `post_id`; returns how many.
pub async fn close_reports(db: &impl ConnectionTrait, post_id: Uuid) -> Result<u64, DbErr> {
    let result = reports::Entity::delete_many()
        .filter(reports::Column::PostId.eq(post_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

pub async fn insert_invite(
    db: &impl ConnectionTrait,
    secret_hash: Vec<u8>,
    created_by: Option<Uuid>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Uuid, DbErr> {
    let id = Uuid::now_v7();
    let row = invites::ActiveModel {
        id: Set(id),
        secret_hash: Set(secret_hash),
        created_by: Set(created_by),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
        used_by: Set(None),
        revoked_at: Set(None),
    };
    invites::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(id)
}

/// An invite as the admins' list shows it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct InviteListing {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_by_name: Option<String>,
    pub used_by_name: Option<String>,
}

/// The latest invites, newest first.
pub async fn invites(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<InviteListing>, DbErr> {
    let maker = Alias::new("maker");
    let newcomer = Alias::new("newcomer");
    let stmt = Query::select()
        .columns([
            (invites::Entity, invites::Column::Id),
            (invites::Entity, invites::Column::CreatedAt),
            (invites::Entity, invites::Column::ExpiresAt),
            (invites::Entity, invites::Column::UsedAt),
            (invites::Entity, invites::Column::RevokedAt),
        ])
        .expr_as(
            Expr::col((maker.clone(), users::Column::Username)),
            "created_by_name",
        )
        .expr_as(
            Expr::col((newcomer.clone(), users::Column::Username)),
            "used_by_name",
        )
        .from(invites::Entity)
        .join_as(
            sea_orm::sea_query::JoinType::LeftJoin,
            users::Entity,
            maker.clone(),
            Expr::col((maker.clone(), users::Column::Id))
                .equals((invites::Entity, invites::Column::CreatedBy)),
        )
        .join_as(
            sea_orm::sea_query::JoinType::LeftJoin,
            users::Entity,
            newcomer.clone(),
            Expr::col((newcomer.clone(), users::Column::Id))
                .equals((invites::Entity, invites::Column::UsedBy)),
        )
        .order_by((invites::Entity, invites::Column::Id), Order::Desc)
        .limit(limit)
        .to_owned();
    InviteListing::find_by_statement(db.get_database_backend().build(&stmt))
        .all(db)
        .await
}

/// Revokes invite `id` if it is still unused and unrevoked.
pub async fn revoke_invite(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = invites::Entity::update_many()
        .col_expr(invites::Column::RevokedAt, Expr::value(now))
        .filter(invites::Column::Id.eq(id))
        .filter(invites::Column::UsedAt.is_null())
        .filter(invites::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn invite_exists(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, DbErr> {
    Ok(invites::Entity::find_by_id(id)
        .select_only()
        .column(invites::Column::Id)
        .into_tuple::<Uuid>()
        .one(db)
        .await?
        .is_some())
}

/// The live invite (unused, unrevoked, unexpired) whose code hashes to `hash`.
pub async fn live_invite(
    db: &impl ConnectionTrait,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, DbErr> {
    invites::Entity::find()
        .select_only()
        .column(invites::Column::Id)
        .filter(invites::Column::SecretHash.eq(hash.to_vec()))
        .filter(invites::Column::UsedAt.is_null())
        .filter(invites::Column::RevokedAt.is_null())
        .filter(invites::Column::ExpiresAt.gt(now))
        .into_tuple::<Uuid>()
        .one(db)
        .await
}

/// Uses up live invite `id` for `user_id`: only one sign-up can.
pub async fn claim_invite(
    db: &impl ConnectionTrait,
    id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = invites::Entity::update_many()
        .col_expr(invites::Column::UsedAt, Expr::value(now))
        .col_expr(invites::Column::UsedBy, Expr::value(user_id))
        .filter(invites::Column::Id.eq(id))
        .filter(invites::Column::UsedAt.is_null())
        .filter(invites::Column::RevokedAt.is_null())
        .filter(invites::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// For `tangerine user list`: every account with its activity, by name.
pub async fn everyone(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Vec<PersonSummary>, DbErr> {
    people(db, None, None, None, now).await
}

/// A person's latest posts: id, title, when.
pub async fn recent_posts(
    db: &impl ConnectionTrait,
    author_id: Uuid,
    limit: u64,
) -> Result<Vec<(Uuid, String, DateTime<Utc>)>, DbErr> {
    posts::Entity::find()
        .select_only()
        .columns([
            posts::Column::Id,
            posts::Column::Title,
            posts::Column::CreatedAt,
        ])
        .filter(posts::Column::AuthorId.eq(author_id))
        .order_by(posts::Column::CreatedAt, Order::Desc)
        .order_by(posts::Column::Id, Order::Desc)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}
