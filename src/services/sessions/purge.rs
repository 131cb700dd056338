//! Deleting expired sessions, in small batches so that no statement holds a
//! lock for long and page views keep flowing while a large purge runs.

use std::time::Duration;

use sea_orm::DbErr;
use tokio::time::Instant;

use crate::{
    domain::session::now,
    services::throttle::Throttle,
    store::{Store, sessions},
};

const BATCH: u64 = 1000;
/// The shortest breather between batches, for the writers waiting behind each one.
const MIN_PAUSE: Duration = Duration::from_millis(5);

/// Deletes every session that has expired; returns how many.
///
/// Each batch is followed by a pause as long as the batch took: a large
/// purge then takes about half of one core rather than all of it, and
/// leaves the rest to the page views it runs beside (500,000 rows take about
/// twice as long, a minute rather than half of one, on a small machine).
pub async fn purge_expired(store: &Store) -> Result<u64, DbErr> {
    let cutoff = now();
    let mut total = 0;
    loop {
        let started = Instant::now();
        let deleted = sessions::delete_expired_batch(store.pool(), cutoff, BATCH).await?;
        total += deleted;
        if deleted < BATCH {
            return Ok(total);
        }
        tokio::time::sleep(started.elapsed().max(MIN_PAUSE)).await;
    }
}

/// Purges expired sessions (and expired API tokens, reset and verification
/// tokens, and throttle counts whose window has ended) every
/// `every`, for as long as the server runs.
pub async fn purge_periodically(store: Store, throttle: Throttle, every: Duration) {
    // The first round comes one interval after start-up, not at it: a
    // restart should serve at once, not after a purge.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match purge_expired(&store).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "purged expired sessions"),
            Err(e) => tracing::warn!(
                "failed to purge expired sessions: {}",
                crate::store::errors::describe(&e)
            ),
        }
        match crate::services::tokens::purge_expired(&store).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "purged expired tokens"),
            Err(e) => tracing::warn!(
                "failed to purge expired tokens: {}",
                crate::telemetry::one_line(e.as_ref())
            ),
        }
        if let Err(e) = crate::store::recovery::delete_expired_tokens(store.pool(), now()).await {
            tracing::warn!(
                "failed to purge expired account tokens: {}",
                crate::store::errors::describe(&e)
            );
        }
        if let Err(e) = throttle.purge().await {
            tracing::warn!(
                "failed to purge ended throttle windows: {}",
                crate::telemetry::one_line(e.as_ref())
            );
        }
    }
}
