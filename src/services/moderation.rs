//! The operators' use cases: roles, suspension, ending sessions, removing
//! posts, reports, invites and the moderation log that records each of them.
//!
//! Every rule is checked here, whoever asks (a page, the API or the command
//! line): moderators act on members only, admins on anyone; nobody suspends
//! themselves; the last active admin can be neither demoted nor suspended.
//! Each action and its log entry commit in one transaction.

use std::time::Duration;

/// What the moderation use cases answer with, as the store keeps it.
pub use crate::store::moderation::{LogAudience, PersonSummary, StoredLogEntry};

use anyhow::Context;
use chrono::{DateTime, Utc};
use sea_orm::{DbErr, TransactionTrait};
use uuid::Uuid;

use crate::{
    domain::{Role, SessionSecret, User, session::now},
    services::recovery::Recovery,
    store::{
        self, Store,
        moderation::{InviteListing, LogEntry, OpenReport, Person, ReportInsert},
        sessions::SessionListing,
    },
};

/// The operators' use cases, with the store, and (where mail is set up)
/// what tells a person that they were suspended or reinstated.
#[derive(Clone)]
pub struct Moderation {
    store: Store,
    notices: Option<Recovery>,
}

impl Moderation {
    /// Without notices: the command line has no mail settings.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            notices: None,
        }
    }

    /// Suspensions and reinstatements are mailed to the person's verified
    /// address.
    pub fn with_notices(self, recovery: Recovery) -> Self {
        Self {
            notices: Some(recovery),
            ..self
        }
    }

    /// Suspends `username`: marks the account suspended (so that it cannot log
    /// in, and a login checked meanwhile makes no valid session) and deletes
    /// every session it has in one statement, so that the next request of each,
    /// on any instance, is anonymous. Everything that ends with a suspension
    /// belongs here.
    #[tracing::instrument(skip_all, fields(target = %username))]
    pub async fn suspend(
        &self,
        actor: &Actor,
        username: &str,
        reason: Option<String>,
    ) -> Result<Person> {
        let db = self.store.pool();
        require_staff(actor)?;
        let txn = db.begin().await?;
        store::moderation::serialize_admin_changes(&txn).await?;
        let target = person(&txn, username).await?;
        if actor.user().is_some_and(|u| u.id == target.user.id) {
            return Err(ModerationError::Refused(SELF_SUSPENSION));
        }
        may_act_on(actor, &target.user)?;
        keep_an_admin(&txn, &target).await?;
        let at = now();
        store::moderation::suspend(&txn, target.user.id, reason.as_deref(), at).await?;
        store::moderation::delete_sessions(&txn, target.user.id).await?;
        // Its API tokens end too; reinstating does not bring them back.
        store::tokens::delete_all_for_user(&txn, target.user.id).await?;
        store::moderation::log(
            &txn,
            LogEntry {
                target: Some(target.user.clone()),
                reason: reason.clone(),
                ..entry("suspend", actor)
            },
            at,
        )
        .await?;
        txn.commit().await?;
        if let Some(notices) = &self.notices {
            notices.account_suspended(&target.user, reason.as_deref());
        }
        Ok(Person {
            suspended_at: Some(at),
            suspension_reason: reason,
            ..target
        })
    }

    /// Lets a suspended person log in again. Sessions ended by the suspension
    /// stay ended.
    #[tracing::instrument(skip_all, fields(target = %username))]
    pub async fn reinstate(&self, actor: &Actor, username: &str) -> Result<Person> {
        let db = self.store.pool();
        require_staff(actor)?;
        let txn = db.begin().await?;
        let target = person(&txn, username).await?;
        may_act_on(actor, &target.user)?;
        if target.suspended_at.is_some() {
            store::moderation::reinstate(&txn, target.user.id).await?;
            store::moderation::log(
                &txn,
                LogEntry {
                    target: Some(target.user.clone()),
                    ..entry("reinstate", actor)
                },
                now(),
            )
            .await?;
        }
        txn.commit().await?;
        if let Some(notices) = &self.notices {
            notices.account_reinstated(&target.user);
        }
        Ok(Person {
            suspended_at: None,
            suspension_reason: None,
            ..target
        })
    }

    /// Ends every session of `username`; returns how many there were.
    #[tracing::instrument(skip_all, fields(target = %username))]
    pub async fn end_sessions(&self, actor: &Actor, username: &str) -> Result<u64> {
        let db = self.store.pool();
        require_staff(actor)?;
        let txn = db.begin().await?;
        let target = person(&txn, username).await?;
        if actor.user().is_some_and(|u| u.id == target.user.id) {
            return Err(ModerationError::Refused(OWN_SESSIONS));
        }
        may_act_on(actor, &target.user)?;
        let ended = store::moderation::delete_sessions(&txn, target.user.id).await?;
        store::moderation::log(
            &txn,
            LogEntry {
                target: Some(target.user.clone()),
                detail: Some(format!("{ended} ended")),
                ..entry("end_sessions", actor)
            },
            now(),
        )
        .await?;
        txn.commit().await?;
        Ok(ended)
    }

    /// Gives `username` the role `role` (admins and the command line only).
    /// The person's live sessions carry the new role from their next request.
    #[tracing::instrument(skip_all, fields(target = %username, role = %role))]
    pub async fn set_role(&self, actor: &Actor, username: &str, role: Role) -> Result<Person> {
        let db = self.store.pool();
        require_admin(actor)?;
        let txn = db.begin().await?;
        store::moderation::serialize_admin_changes(&txn).await?;
        let target = person(&txn, username).await?;
        if actor.user().is_some_and(|u| u.id == target.user.id) {
            return Err(ModerationError::Refused(OWN_ROLE));
        }
        if target.user.role == role {
            return Ok(target);
        }
        if role != Role::Admin {
            keep_an_admin(&txn, &target).await?;
        }
        store::moderation::set_role(&txn, target.user.id, role).await?;
        store::moderation::log(
            &txn,
            LogEntry {
                target: Some(target.user.clone()),
                detail: Some(format!("{} → {role}", target.user.role)),
                ..entry("change_role", actor)
            },
            now(),
        )
        .await?;
        txn.commit().await?;
        Ok(Person {
            user: User {
                role,
                ..target.user
            },
            ..target
        })
    }

    /// Removes post `id` the way its author's delete does, and logs it.
    #[tracing::instrument(skip_all, fields(post = %id))]
    pub async fn remove_post(
        &self,
        actor: &Actor,
        id: Uuid,
        reason: Option<String>,
    ) -> Result<Removed> {
        let db = self.store.pool();
        require_staff(actor)?;
        let txn = db.begin().await?;
        let removed = remove_in(&txn, actor, id, reason).await?;
        txn.commit().await?;
        self.store.forget_kept();
        Ok(removed)
    }

    /// Reports post `id` with `reason` (1–500 characters); one open report per
    /// person per post.
    #[tracing::instrument(skip_all, fields(post = %id))]
    pub async fn report(&self, reporter: &User, id: Uuid, raw: &str) -> Result<Uuid> {
        let db = self.store.pool();
        let Some(reason) = reason(Some(raw))? else {
            return Err(ModerationError::Invalid(
                "Say what is wrong with the post.".to_owned(),
            ));
        };
        if store::posts::find(db, id).await?.is_none() {
            return Err(ModerationError::NotFound(NO_SUCH_POST));
        }
        match store::moderation::insert_report(db, id, reporter.id, &reason, now()).await {
            Ok(ReportInsert::Made(id)) => Ok(id),
            Ok(ReportInsert::AlreadyOpen) => Err(ModerationError::AlreadyReported),
            // The post went between the check and the insert.
            Err(e) if store::is_foreign_key_violation(&e) => {
                Err(ModerationError::NotFound(NO_SUCH_POST))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Open reports, oldest first, gathered per post.
    pub async fn report_queue(&self, actor: &Actor) -> Result<Vec<QueuedPost>> {
        let db = self.store.pool();
        require_staff(actor)?;
        let open = store::moderation::open_reports(db, 1000).await?;
        let mut queue: Vec<QueuedPost> = Vec::new();
        for report in open {
            match queue.iter_mut().find(|q| q.post_id == report.post_id) {
                Some(q) => q.reports.push(report),
                None => queue.push(QueuedPost {
                    post_id: report.post_id,
                    post_title: report.post_title.clone(),
                    author: report.author.clone(),
                    reports: vec![report],
                }),
            }
        }
        Ok(queue)
    }

    #[tracing::instrument(skip_all, fields(report = %id))]
    pub async fn resolve_report(
        &self,
        actor: &Actor,
        id: Uuid,
        resolution: Resolution,
    ) -> Result<Removed> {
        let db = self.store.pool();
        require_staff(actor)?;
        let txn = db.begin().await?;
        let post_id = store::moderation::report_post(&txn, id)
            .await?
            .ok_or(ModerationError::NotFound(NO_SUCH_REPORT))?;
        let removed = match resolution {
            Resolution::Remove => {
                remove_in(&txn, actor, post_id, Some("Reported.".to_owned())).await?
            }
            Resolution::Dismiss => {
                let post = store::posts::find(&txn, post_id)
                    .await?
                    .ok_or(ModerationError::NotFound(NO_SUCH_REPORT))?;
                store::moderation::close_reports(&txn, post_id).await?;
                store::moderation::log(
                    &txn,
                    LogEntry {
                        target: Some(User {
                            id: post.author_id,
                            username: post.author.clone(),
                            role: Role::Member,
                        }),
                        post: Some((post.id, post.title.clone())),
                        ..entry("dismiss_report", actor)
                    },
                    now(),
                )
                .await?;
                Removed {
                    id: post.id,
                    title: post.title,
                    author: post.author,
                }
            }
        };
        txn.commit().await?;
        self.store.forget_kept();
        Ok(removed)
    }

    /// People for staff: by name, after `after`, `q` in their name.
    pub async fn people(
        &self,
        actor: &Actor,
        q: Option<&str>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<PersonSummary>> {
        let db = self.store.pool();
        require_staff(actor)?;
        let q = q.map(|q| q.trim().to_ascii_lowercase());
        Ok(store::moderation::people(db, q.as_deref(), after, Some(limit), now()).await?)
    }

    /// Every account, for `tangerine user list`.
    pub async fn everyone(&self) -> Result<Vec<PersonSummary>> {
        let db = self.store.pool();
        Ok(store::moderation::everyone(db, now()).await?)
    }

    pub async fn person_detail(&self, actor: &Actor, username: &str) -> Result<PersonDetail> {
        let db = self.store.pool();
        require_staff(actor)?;
        let name = username.to_ascii_lowercase();
        let person = person(db, &name).await?;
        let found = store::moderation::summary(db, person.clone(), now()).await?;
        let posts = store::moderation::recent_posts(db, person.user.id, 20).await?;
        let sessions = store::sessions::list_live_for_user(db, person.user.id, now()).await?;
        Ok(PersonDetail {
            summary: found,
            posts,
            sessions,
        })
    }

    /// The log, newest first, before entry `before`.
    pub async fn log_page(
        &self,
        audience: LogAudience,
        before: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<StoredLogEntry>> {
        let db = self.store.pool();
        Ok(store::moderation::log_page(db, audience, before, limit).await?)
    }

    /// A new invite and its code, which is shown once and stored only as a hash.
    pub async fn create_invite(
        &self,
        actor: &Actor,
        lifetime: Duration,
    ) -> Result<(Uuid, SessionSecret)> {
        let db = self.store.pool();
        require_admin(actor)?;
        let code = SessionSecret::generate().context("Failed to make an invite code")?;
        let at = now();
        // A lifetime of zero turns expiry off: a hundred years stands for never.
        let lifetime = if lifetime.is_zero() { NEVER } else { lifetime };
        let expires_at = at + chrono::TimeDelta::from_std(lifetime).context("invite lifetime")?;
        let txn = db.begin().await?;
        let id = store::moderation::insert_invite(
            &txn,
            code.hash(),
            actor.user().map(|u| u.id),
            at,
            expires_at,
        )
        .await?;
        store::moderation::log(
            &txn,
            LogEntry {
                detail: Some(format!("invite {id}")),
                ..entry("create_invite", actor)
            },
            at,
        )
        .await?;
        txn.commit().await?;
        Ok((id, code))
    }

    pub async fn revoke_invite(&self, actor: &Actor, id: Uuid) -> Result<()> {
        let db = self.store.pool();
        require_admin(actor)?;
        let txn = db.begin().await?;
        if !store::moderation::invite_exists(&txn, id).await? {
            return Err(ModerationError::NotFound(NO_SUCH_INVITE));
        }
        let at = now();
        if store::moderation::revoke_invite(&txn, id, at).await? {
            store::moderation::log(
                &txn,
                LogEntry {
                    detail: Some(format!("invite {id}")),
                    ..entry("revoke_invite", actor)
                },
                at,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    pub async fn invites(&self, actor: &Actor) -> Result<Vec<InviteListing>> {
        let db = self.store.pool();
        require_admin(actor)?;
        Ok(store::moderation::invites(db, 200).await?)
    }

    /// Whether `username` is suspended (for their public page).
    pub async fn is_suspended(&self, username: &str) -> Result<bool> {
        let db = self.store.pool();
        Ok(
            store::moderation::find_person(db, &username.to_ascii_lowercase())
                .await?
                .is_some_and(|p| p.suspended_at.is_some()),
        )
    }
}

/// How long an invite lives with `--invite-lifetime 0s`.
const NEVER: Duration = Duration::from_secs(100 * 365 * 86_400);

/// The longest reason a suspension, a removal or a report may give.
pub const REASON_MAX_CHARS: usize = 500;

pub const SELF_SUSPENSION: &str = "Nobody can suspend themselves.";
pub const LAST_ADMIN: &str = "This is the last active admin: make another admin first.";
pub const STAFF_ONLY: &str = "Only moderators and admins can do this.";
pub const ADMINS_ONLY: &str = "Only admins can do this.";
pub const OTHER_STAFF: &str = "Only an admin can act on another moderator or admin.";
pub const NO_SUCH_PERSON: &str = "There is nobody by that name.";
pub const NO_SUCH_POST: &str = "There is no such post.";
pub const NO_SUCH_REPORT: &str = "There is no such open report.";
pub const NO_SUCH_INVITE: &str = "There is no such invite.";
pub const OWN_ROLE: &str = "Nobody changes their own role: ask another admin.";
pub const OWN_SESSIONS: &str =
    "End your own sessions from your sessions page (/sessions), not here.";
pub const ALREADY_REPORTED: &str =
    "You have already reported this post; a moderator will look at it.";

/// Who acts: a logged-in member of staff, or the operator at the command line.
#[derive(Debug, Clone)]
pub enum Actor {
    Staff(User),
    CommandLine,
}

impl Actor {
    fn user(&self) -> Option<&User> {
        match self {
            Actor::Staff(u) => Some(u),
            Actor::CommandLine => None,
        }
    }

    fn is_staff(&self) -> bool {
        self.user().is_none_or(|u| u.role.is_staff())
    }

    fn is_admin(&self) -> bool {
        self.user().is_none_or(|u| u.role.is_admin())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModerationError {
    /// The actor's role does not allow it.
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    /// A rule of the current state refuses it (oneself, the last admin).
    #[error("{0}")]
    Refused(&'static str),
    /// The input breaks a rule (a reason too long).
    #[error("{0}")]
    Invalid(String),
    /// The person already has an open report on this post.
    #[error("{ALREADY_REPORTED}")]
    AlreadyReported,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<DbErr> for ModerationError {
    fn from(e: DbErr) -> Self {
        ModerationError::Unexpected(anyhow::Error::new(e).context("Failed to moderate"))
    }
}

type Result<T> = std::result::Result<T, ModerationError>;

/// A reason as given: trimmed, `None` when blank, refused beyond the limit.
pub fn reason(raw: Option<&str>) -> Result<Option<String>> {
    let trimmed = raw.map(str::trim).filter(|r| !r.is_empty());
    match trimmed {
        Some(r) if r.chars().count() > REASON_MAX_CHARS => Err(ModerationError::Invalid(format!(
            "A reason has at most {REASON_MAX_CHARS} characters."
        ))),
        Some(r)
            if r.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') =>
        {
            Err(ModerationError::Invalid(
                "A reason cannot hold control characters.".to_owned(),
            ))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

fn require_staff(actor: &Actor) -> Result<()> {
    if actor.is_staff() {
        Ok(())
    } else {
        Err(ModerationError::Forbidden(STAFF_ONLY))
    }
}

fn require_admin(actor: &Actor) -> Result<()> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(ModerationError::Forbidden(ADMINS_ONLY))
    }
}

/// Moderators act on members; admins and the command line on anyone.
fn may_act_on(actor: &Actor, target: &User) -> Result<()> {
    require_staff(actor)?;
    if target.role.is_staff() && !actor.is_admin() {
        return Err(ModerationError::Forbidden(OTHER_STAFF));
    }
    Ok(())
}

fn entry(action: &'static str, actor: &Actor) -> LogEntry {
    LogEntry {
        action,
        actor: actor.user().cloned(),
        target: None,
        post: None,
        detail: None,
        reason: None,
    }
}

async fn person(db: &impl sea_orm::ConnectionTrait, username: &str) -> Result<Person> {
    store::moderation::find_person(db, &username.to_ascii_lowercase())
        .await?
        .ok_or(ModerationError::NotFound(NO_SUCH_PERSON))
}

/// Refuses when `target` is the last active admin.
async fn keep_an_admin(db: &impl sea_orm::ConnectionTrait, target: &Person) -> Result<()> {
    if target.user.role.is_admin()
        && target.suspended_at.is_none()
        && store::moderation::other_active_admins(db, target.user.id).await? == 0
    {
        return Err(ModerationError::Refused(LAST_ADMIN));
    }
    Ok(())
}

/// Records that the command line set `target`'s password (which ended
/// their sessions).
pub async fn log_password_set(db: &impl sea_orm::ConnectionTrait, target: &User) -> Result<()> {
    store::moderation::log(
        db,
        LogEntry {
            target: Some(target.clone()),
            ..entry("set_password", &Actor::CommandLine)
        },
        now(),
    )
    .await?;
    Ok(())
}

/// A removed post: its id and title, and its author's name.
#[derive(Debug, Clone)]
pub struct Removed {
    pub id: Uuid,
    pub title: String,
    pub author: String,
}

async fn remove_in(
    txn: &impl sea_orm::ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    reason: Option<String>,
) -> Result<Removed> {
    let post = store::posts::find(txn, id)
        .await?
        .ok_or(ModerationError::NotFound(NO_SUCH_POST))?;
    if !store::posts::delete(txn, id).await? {
        return Err(ModerationError::NotFound(NO_SUCH_POST));
    }
    let author = User {
        id: post.author_id,
        username: post.author.clone(),
        role: Role::Member,
    };
    store::moderation::log(
        txn,
        LogEntry {
            target: Some(author),
            post: Some((post.id, post.title.clone())),
            reason,
            ..entry("remove_post", actor)
        },
        now(),
    )
    .await?;
    Ok(Removed {
        id: post.id,
        title: post.title,
        author: post.author,
    })
}

/// One post in the report queue, with every open report on it.
#[derive(Debug, Clone)]
pub struct QueuedPost {
    pub post_id: Uuid,
    pub post_title: String,
    pub author: String,
    /// The reports, oldest first; the first's id resolves them all.
    pub reports: Vec<OpenReport>,
}

/// What resolving a report does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Removes the post (and so every report on it).
    Remove,
    /// Closes every open report on the post and leaves it up.
    Dismiss,
}

/// A person's page for staff.
pub struct PersonDetail {
    pub summary: PersonSummary,
    pub posts: Vec<(Uuid, String, DateTime<Utc>)>,
    pub sessions: Vec<SessionListing>,
}

/// How a log entry's action reads.
pub fn action_label(action: &str) -> &'static str {
    match action {
        "remove_post" => "removed a post",
        "suspend" => "suspended",
        "reinstate" => "reinstated",
        "end_sessions" => "ended the sessions of",
        "change_role" => "changed the role of",
        "create_invite" => "created an invite",
        "revoke_invite" => "revoked an invite",
        "dismiss_report" => "dismissed the reports on a post",
        "set_password" => "set the password of",
        _ => "acted",
    }
}

/// Who a log entry names: the name kept, "[deleted]" once the account is
/// gone, and for the actor with no name, the command line.
pub fn shown_name(id: Option<Uuid>, name: Option<&str>, nobody: &'static str) -> String {
    match (id, name) {
        (Some(_), Some(name)) => name.to_owned(),
        (None, Some(_)) => "[deleted]".to_owned(),
        (_, None) => nobody.to_owned(),
    }
}
