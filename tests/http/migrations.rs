//! The schema's migrations, each with its `down`.

use migration::MigratorTrait;
use sea_orm::TransactionTrait;
use tangerine::store::StoredBodies;

/// The migrations as the application runs them.
type Migrator = migration::Migrator<StoredBodies>;

use crate::helpers::*;

#[tokio::test]
async fn every_migration_goes_down_and_up_again() {
    let database = TestDatabase::fresh().await;
    let db = tangerine::store::connect(&database.url)
        .await
        .expect("connect");
    tangerine::store::migrate(&db).await.expect("up");
    // On one connection, in one transaction, as start-up migrates: the
    // schema changes of one step are then surely seen by the next.
    let txn = db.begin().await.expect("a transaction");
    Migrator::down(&txn, None).await.expect("every down");
    assert!(
        Migrator::get_applied_migrations(&txn)
            .await
            .expect("the bookkeeping")
            .is_empty()
    );
    Migrator::up(&txn, None).await.expect("up again");
    txn.commit().await.expect("commit");
    db.close().await.ok();
    // The schema that came back up serves.
    let settings = settings_for(&database, &[]);
    let app = spawn_on(database, settings).await;
    app.signed_up("alice").await;
    assert!(app.get_text("/").await.contains("Welcome, alice"));
}
