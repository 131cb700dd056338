//! Sessions as a person and an operator see them: the list of one's
//! sessions, and the purge of expired ones.

pub mod listing;
pub mod purge;

use sea_orm::DbErr;
use uuid::Uuid;

use crate::{domain::User, store::Store};

/// The sessions use cases that are not the session layer's own.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
}

impl Sessions {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// `user`'s live sessions, most recently used first; `current` is the
    /// one the request came with.
    pub async fn list(
        &self,
        user: &User,
        current: Option<Uuid>,
    ) -> Result<Vec<listing::SessionSummary>, DbErr> {
        listing::list(&self.store, user, current).await
    }
}
