//! Queries and changes on `posts`. Every read joins the author's name in
//! the same query: a feed page is one query, never one per post.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, JoinType, Order,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationTrait,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::rows::Columns;
use crate::{
    domain::{Cursor, Post, PostVersion},
    entities::{posts, users},
};

/// A row of [`select_posts`].
pub(super) struct PostRow {
    id: Uuid,
    author_id: Uuid,
    author: String,
    title: String,
    body: String,
    body_html: String,
    created_at: DateTime<Utc>,
    updated_at: Option<DateTime<Utc>>,
}

impl PostRow {
    /// The columns of [`select_posts`], in order.
    pub(super) fn decode<C: Columns>(row: &C) -> Result<Self, C::Error> {
        Ok(Self {
            id: row.column(0)?,
            author_id: row.column(1)?,
            title: row.column(2)?,
            body: row.column(3)?,
            body_html: row.column(4)?,
            created_at: row.column(5)?,
            updated_at: row.column(6)?,
            author: row.column(7)?,
        })
    }
}

/// Decoded by position (see [`super::rows`]); prefixes are never used.
impl FromQueryResult for PostRow {
    fn from_query_result(row: &sea_orm::QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        Self::decode(row)
    }
}

impl From<PostRow> for Post {
    fn from(r: PostRow) -> Self {
        Post {
            id: r.id,
            author_id: r.author_id,
            author: r.author,
            title: r.title,
            body: r.body,
            body_html: r.body_html,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub(super) fn select_posts() -> sea_orm::Select<posts::Entity> {
    posts::Entity::find()
        .select_only()
        .columns([
            posts::Column::Id,
            posts::Column::AuthorId,
            posts::Column::Title,
            posts::Column::Body,
            posts::Column::BodyHtml,
            posts::Column::CreatedAt,
            posts::Column::UpdatedAt,
        ])
        .column_as(users::Column::Username, "author")
        .join(JoinType::InnerJoin, posts::Relation::Author.def())
}

pub struct NewPost<'a> {
    pub id: Uuid,
    pub author_id: Uuid,
    pub title: &'a str,
    pub body: &'a str,
    pub body_html: &'a str,
    pub created_at: DateTime<Utc>,
}

impl super::Store {
    /// Writes a post, and forgets the pages this instance keeps in memory,
    /// which lack it (also below: every write of a post goes through here).
    pub async fn insert_post(&self, new: NewPost<'_>) -> Result<(), DbErr> {
        let written = insert(self.pool(), new).await;
        self.forget_kept();
        written
    }

    pub async fn update_post(&self, id: Uuid, change: PostUpdate<'_>) -> Result<bool, DbErr> {
        let written = update(self.pool(), id, change).await;
        self.forget_kept();
        written
    }

    pub async fn delete_post(&self, id: Uuid) -> Result<bool, DbErr> {
        let written = delete(self.pool(), id).await;
        self.forget_kept();
        written
    }
}

pub async fn insert(db: &impl ConnectionTrait, new: NewPost<'_>) -> Result<(), DbErr> {
    let row = posts::ActiveModel {
        id: Set(new.id),
        author_id: Set(new.author_id),
        title: Set(new.title.to_owned()),
        body: Set(new.body.to_owned()),
        body_html: Set(new.body_html.to_owned()),
        created_at: Set(new.created_at),
        updated_at: Set(None),
    };
    posts::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Post>, DbErr> {
    let row = select_posts()
        .filter(posts::Column::Id.eq(id))
        .into_model::<PostRow>()
        .one(db)
        .await?;
    Ok(row.map(Into::into))
}

/// Filters, orders and limits `query` to a page of the feed.
pub(super) fn paged<E: EntityTrait>(
    backend: DbBackend,
    mut query: sea_orm::Select<E>,
    author: Option<Uuid>,
    before: Option<Cursor>,
    limit: u64,
) -> sea_orm::Statement {
    if let Some(author) = author {
        query = query.filter(posts::Column::AuthorId.eq(author));
    }
    if let Some(c) = before {
        // (created_at, id) < (cursor's created_at, cursor's id): a row-value
        // comparison that walks the feed index from where the page ended.
        query = query.filter(
            Expr::tuple([
                Expr::col((posts::Entity, posts::Column::CreatedAt)),
                Expr::col((posts::Entity, posts::Column::Id)),
            ])
            .lt(Expr::tuple([Expr::val(c.created_at), Expr::val(c.id)])),
        );
    }
    let query = query
        .order_by(posts::Column::CreatedAt, Order::Desc)
        .order_by(posts::Column::Id, Order::Desc);
    let mut stmt = backend.build(QueryTrait::as_query(&query));
    // A literal LIMIT, not a bound one: SQLite reads a bound LIMIT's value
    // when planning, and so prepares the statement again on every run.
    stmt.sql.push_str(&format!(" LIMIT {limit}"));
    stmt
}

/// Up to `limit` posts older than `before` (all, without it), newest first;
/// only `author`'s when given.
pub async fn page(
    db: &impl ConnectionTrait,
    author: Option<Uuid>,
    before: Option<Cursor>,
    limit: u64,
) -> Result<Vec<Post>, DbErr> {
    let stmt = paged(
        db.get_database_backend(),
        select_posts(),
        author,
        before,
        limit,
    );
    let rows = PostRow::find_by_statement(stmt).all(db).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// A row of [`select_versions`].
pub(super) struct VersionRow {
    id: Uuid,
    author_id: Uuid,
    created_at: DateTime<Utc>,
    updated_at: Option<DateTime<Utc>>,
}

impl VersionRow {
    /// The columns of [`select_versions`], in order.
    pub(super) fn decode<C: Columns>(row: &C) -> Result<Self, C::Error> {
        Ok(Self {
            id: row.column(0)?,
            author_id: row.column(1)?,
            created_at: row.column(2)?,
            updated_at: row.column(3)?,
        })
    }
}

/// Decoded by position (see [`super::rows`]); prefixes are never used.
impl FromQueryResult for VersionRow {
    fn from_query_result(row: &sea_orm::QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        Self::decode(row)
    }
}

impl From<VersionRow> for PostVersion {
    fn from(r: VersionRow) -> Self {
        PostVersion {
            id: r.id,
            author_id: r.author_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The same page as [`page`], as versions only: a few small columns, for
/// readers that keep rendered copies of posts.
pub async fn page_versions(
    db: &impl ConnectionTrait,
    author: Option<Uuid>,
    before: Option<Cursor>,
    limit: u64,
) -> Result<Vec<PostVersion>, DbErr> {
    let stmt = versions_paged(db.get_database_backend(), author, before, limit);
    let rows = VersionRow::find_by_statement(stmt).all(db).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub(super) fn select_versions() -> sea_orm::Select<posts::Entity> {
    posts::Entity::find().select_only().columns([
        posts::Column::Id,
        posts::Column::AuthorId,
        posts::Column::CreatedAt,
        posts::Column::UpdatedAt,
    ])
}

pub(super) fn versions_paged(
    backend: DbBackend,
    author: Option<Uuid>,
    before: Option<Cursor>,
    limit: u64,
) -> sea_orm::Statement {
    paged(backend, select_versions(), author, before, limit)
}

/// Up to `limit` versions of posts newer than `after`, oldest first (the
/// page before a cursor, read going forward); only `author`'s when given.
pub async fn page_versions_after(
    db: &impl ConnectionTrait,
    author: Option<Uuid>,
    after: Cursor,
    limit: u64,
) -> Result<Vec<PostVersion>, DbErr> {
    let mut query = select_versions();
    if let Some(author) = author {
        query = query.filter(posts::Column::AuthorId.eq(author));
    }
    // The feed index walked the other way from the cursor.
    let query = query
        .filter(
            Expr::tuple([
                Expr::col((posts::Entity, posts::Column::CreatedAt)),
                Expr::col((posts::Entity, posts::Column::Id)),
            ])
            .gt(Expr::tuple([
                Expr::val(after.created_at),
                Expr::val(after.id),
            ])),
        )
        .order_by(posts::Column::CreatedAt, Order::Asc)
        .order_by(posts::Column::Id, Order::Asc)
        .limit(limit);
    let rows = query.into_model::<VersionRow>().all(db).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The posts with these ids, in no particular order; ids of deleted posts
/// are simply missing.
pub async fn find_many(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<Post>, DbErr> {
    let rows = select_posts()
        .filter(posts::Column::Id.is_in(ids.iter().copied()))
        .into_model::<PostRow>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub struct PostUpdate<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub body_html: &'a str,
    pub updated_at: DateTime<Utc>,
}

/// Returns whether the post still existed.
pub async fn update(
    db: &impl ConnectionTrait,
    id: Uuid,
    change: PostUpdate<'_>,
) -> Result<bool, DbErr> {
    let result = posts::Entity::update_many()
        .col_expr(posts::Column::Title, Expr::value(change.title))
        .col_expr(posts::Column::Body, Expr::value(change.body))
        .col_expr(posts::Column::BodyHtml, Expr::value(change.body_html))
        .col_expr(posts::Column::UpdatedAt, Expr::value(change.updated_at))
        .filter(posts::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn delete(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, DbErr> {
    let result = posts::Entity::delete_by_id(id).exec(db).await?;
    Ok(result.rows_affected == 1)
}
