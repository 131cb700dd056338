//! Sessions: the rows the session layer finds, starts, refreshes, renews
//! and ends for each request (the cookie and its HTTP side are the layer's,
//! in `http::session`); the list of one's sessions; and the purge of
//! expired ones.

pub mod listing;
pub mod purge;

use sea_orm::DbErr;
use uuid::Uuid;

pub use crate::store::{
    Stamp,
    sessions::{NewSession, SessionData, StoredSession, Touch},
};
use crate::{
    domain::{CredentialEpoch, SessionSecret, User},
    store::{Store, sessions},
};

/// The sessions use cases.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
}

impl Sessions {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Sessions with no database behind them, for tests of what needs
    /// none (every call fails).
    #[cfg(test)]
    pub fn disconnected() -> Self {
        Self::new(Store::through_pool(sea_orm::DatabaseConnection::default()))
    }

    /// The session whose secret is `secret`, whatever its state (the
    /// caller judges expiry and credentials), and the stamp of what the
    /// read saw, for the page views that follow (see [`Stamp`]).
    pub async fn find(
        &self,
        secret: &SessionSecret,
    ) -> Result<(Option<StoredSession>, Option<Stamp>), DbErr> {
        self.store.session_by_secret_hash(&secret.hash()).await
    }

    /// The session with id `id`, as it is now.
    pub async fn find_by_id(&self, id: Uuid) -> Result<Option<StoredSession>, DbErr> {
        sessions::find_by_id(self.store.pool(), id).await
    }

    /// Starts a session, then ends its person's least recently used live
    /// sessions beyond `max_per_user`; returns the new session and how many
    /// were ended.
    pub async fn start(
        &self,
        new: NewSession<'_>,
        max_per_user: usize,
    ) -> Result<(StoredSession, u64), DbErr> {
        let (user_id, now) = (new.user_id, new.now);
        let stored = sessions::create(self.store.pool(), new).await?;
        let ended = match user_id {
            Some(user_id) => {
                sessions::trim_for_user(self.store.pool(), user_id, max_per_user, now).await?
            }
            None => 0,
        };
        Ok((stored, ended))
    }

    /// Gives session `id` the secret `secret` under credential epoch
    /// `epoch`; false when the session is gone.
    pub async fn renew(
        &self,
        id: Uuid,
        secret: &SessionSecret,
        epoch: CredentialEpoch,
    ) -> Result<bool, DbErr> {
        sessions::set_secret_hash(self.store.pool(), id, secret.hash(), epoch).await
    }

    /// Slides session `id`'s idle deadline and notes its use.
    pub async fn touch(&self, id: Uuid, touch: &Touch) -> Result<bool, DbErr> {
        sessions::touch(self.store.pool(), id, touch).await
    }

    /// Writes `data` (and `touch`) over session `id` only if it is still at
    /// `version`: false when another request wrote first (compare-and-swap).
    pub async fn save_data(
        &self,
        id: Uuid,
        version: i64,
        data: &SessionData,
        touch: Option<&Touch>,
    ) -> Result<bool, DbErr> {
        sessions::save_data(self.store.pool(), id, version, data, touch).await
    }

    /// Ends session `id`.
    pub async fn end(&self, id: Uuid) -> Result<bool, DbErr> {
        sessions::delete(self.store.pool(), id).await
    }

    /// Ends `user_id`'s session `id`; false when it is not theirs or gone.
    pub async fn end_for_user(&self, user_id: Uuid, id: Uuid) -> Result<bool, DbErr> {
        sessions::delete_for_user(self.store.pool(), user_id, id).await
    }

    /// Ends every session of `user_id` but `keep`; returns how many.
    pub async fn end_others(&self, user_id: Uuid, keep: Uuid) -> Result<u64, DbErr> {
        sessions::delete_others(self.store.pool(), user_id, keep).await
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
