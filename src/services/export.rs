//! "Download my data": everything Tangerine holds about a person, as one
//! JSON document, the same from the settings page and the API.
//!
//! The document's types are poem-openapi objects as well as serde values,
//! so that the API's spec describes exactly what the page's download holds.

use anyhow::Context;
use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::Serialize;
use uuid::Uuid;

use crate::{
    domain::{User, session::now},
    services::sessions::listing,
    store::{Store, recovery as store},
};

/// The version of the document's shape.
pub const FORMAT: &str = "tangerine-export/1";

/// Everything Tangerine holds about one person.
#[derive(Debug, Serialize, Object)]
pub struct ExportDocument {
    /// `tangerine-export/1`.
    pub format: String,
    pub exported_at: DateTime<Utc>,
    pub account: ExportAccount,
    /// Every post, oldest first, with its Markdown as written.
    pub posts: Vec<ExportPost>,
    /// The live sessions, as `/sessions` lists them.
    pub sessions: Vec<ExportSession>,
    /// Moderation-log entries concerning the person, oldest first.
    pub moderation_actions: Vec<ExportModerationAction>,
}

#[derive(Debug, Serialize, Object)]
pub struct ExportAccount {
    pub id: Uuid,
    pub username: String,
    pub created_at: DateTime<Utc>,
    /// The address given last, if any.
    #[oai(nullable)]
    pub email: Option<String>,
    pub email_verified: bool,
}

#[derive(Debug, Serialize, Object)]
pub struct ExportPost {
    pub id: Uuid,
    pub title: String,
    /// The Markdown as written.
    pub body: String,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Object)]
pub struct ExportSession {
    pub id: Uuid,
    /// "Firefox 128", or "Unknown browser".
    pub browser: String,
    /// "Linux", or "Unknown system".
    pub os: String,
    #[oai(nullable)]
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub remembered: bool,
    /// The session the export was asked from.
    pub current: bool,
}

#[derive(Debug, Serialize, Object)]
pub struct ExportModerationAction {
    /// What was done, such as `suspend`.
    pub action: String,
    #[oai(nullable)]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

pub async fn gather(
    kept: &Store,
    user: &User,
    current_session: Option<Uuid>,
) -> anyhow::Result<ExportDocument> {
    let db = kept.pool();
    let account = store::account(db, user.id)
        .await
        .context("Failed to load an account")?
        .context("The account is gone")?;
    let posts = store::posts_of(db, user.id)
        .await
        .context("Failed to load an account's posts")?;
    let sessions = listing::list(kept, user, current_session)
        .await
        .context("Failed to list an account's sessions")?;
    let moderation = store::moderation_actions(db, user.id)
        .await
        .context("Failed to load moderation actions")?;
    Ok(ExportDocument {
        format: FORMAT.to_owned(),
        exported_at: now(),
        account: ExportAccount {
            id: account.id,
            username: account.username,
            created_at: account.created_at,
            email: account.email,
            email_verified: account.email_verified,
        },
        posts: posts
            .into_iter()
            .map(|p| ExportPost {
                id: p.id,
                title: p.title,
                body: p.body,
                created_at: p.created_at,
                updated_at: p.updated_at,
            })
            .collect(),
        sessions: sessions
            .into_iter()
            .map(|s| ExportSession {
                id: s.id,
                browser: s.device.browser,
                os: s.device.os,
                ip: s.ip,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                remembered: s.remember,
                current: s.current,
            })
            .collect(),
        moderation_actions: moderation
            .into_iter()
            .map(|m| ExportModerationAction {
                action: m.action,
                reason: m.reason,
                at: m.at,
            })
            .collect(),
    })
}
