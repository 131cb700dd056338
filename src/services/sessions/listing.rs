//! A person's sessions as a resource: the list of where they are logged in,
//! and ending any of them.

use chrono::{DateTime, Utc};
use sea_orm::DbErr;
use uuid::Uuid;

use crate::{
    domain::{
        User,
        session::now,
        user_agent::{self, Device},
    },
    store::{Store, sessions},
};

/// One of a person's live sessions. Never the secret, nor its hash.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    pub id: Uuid,
    pub device: Device,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub remember: bool,
    /// The session the request came with ("this device").
    pub current: bool,
}

/// `user`'s live sessions, most recently used first.
pub async fn list(
    store: &Store,
    user: &User,
    current: Option<Uuid>,
) -> Result<Vec<SessionSummary>, DbErr> {
    let rows = sessions::list_live_for_user(store.pool(), user.id, now()).await?;
    Ok(rows
        .into_iter()
        .map(|s| SessionSummary {
            current: Some(s.id) == current,
            device: user_agent::describe(s.user_agent.as_deref()),
            id: s.id,
            ip: s.ip,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            remember: s.remember,
        })
        .collect())
}
