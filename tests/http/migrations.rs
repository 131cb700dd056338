//! The schema's migrations, each with its `down`.

use migration::{Migrator, MigratorTrait};

use crate::helpers::*;

#[tokio::test]
async fn every_migration_goes_down_and_up_again() {
    let database = TestDatabase::fresh().await;
    let db = tangerine::db::connect(&database.url)
        .await
        .expect("connect");
    tangerine::db::migrate(&db).await.expect("up");
    Migrator::down(&db, None).await.expect("every down");
    assert!(
        Migrator::get_applied_migrations(&db)
            .await
            .expect("the bookkeeping")
            .is_empty()
    );
    Migrator::up(&db, None).await.expect("up again");
    db.close().await.ok();
    // The schema that came back up serves.
    let settings = settings_for(&database, &[]);
    let app = spawn_on(database, settings).await;
    app.signed_up("alice").await;
    assert!(app.get_text("/").await.contains("Welcome, alice"));
}
