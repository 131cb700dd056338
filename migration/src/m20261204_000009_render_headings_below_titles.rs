use std::marker::PhantomData;

use sea_orm_migration::{
    prelude::*,
    sea_orm::{ConnectionTrait, prelude::Uuid},
};

use crate::BodyRenderer;

/// Bodies were stored with their Markdown headings as written: a post's `#`
/// was an `h1`, as big as the title of the page showing it. From here on a
/// stored body's headings start one level below the post's title, so this
/// renders every stored body again with the running build's renderer (`R`);
/// `down` renders them with their headings as written, as before.
pub struct Migration<R>(PhantomData<R>);

impl<R> Migration<R> {
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<R> MigrationName for Migration<R> {
    fn name(&self) -> &str {
        "m20261204_000009_render_headings_below_titles"
    }
}

#[async_trait::async_trait]
impl<R: BodyRenderer> MigrationTrait for Migration<R> {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        render_all(manager, R::stored_html).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        render_all(manager, R::headings_as_written).await
    }
}

/// Posts read at a time, so that a large table is not held in memory.
const BATCH: u64 = 500;

/// Renders every post's body again with `render`, in batches walked by id.
async fn render_all(manager: &SchemaManager<'_>, render: fn(&str) -> String) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let mut after: Option<Uuid> = None;
    loop {
        let mut select = Query::select();
        select
            .columns([Posts::Id, Posts::Body])
            .from(Posts::Table)
            .order_by(Posts::Id, Order::Asc)
            .limit(BATCH);
        if let Some(last) = after {
            select.and_where(Expr::col(Posts::Id).gt(last));
        }
        let rows = db.query_all(&select).await?;
        for row in &rows {
            let id: Uuid = row.try_get("", "id")?;
            let body: String = row.try_get("", "body")?;
            let update = Query::update()
                .table(Posts::Table)
                .value(Posts::BodyHtml, render(&body))
                .and_where(Expr::col(Posts::Id).eq(id))
                .to_owned();
            db.execute(&update).await?;
            after = Some(id);
        }
        if (rows.len() as u64) < BATCH {
            return Ok(());
        }
    }
}

#[derive(DeriveIden)]
enum Posts {
    Table,
    Id,
    Body,
    BodyHtml,
}
