//! Server-side sessions, as handlers see them.
//!
//! The browser's cookie holds only a random secret; the session is a row
//! (see `services::sessions`) found by the secret's SHA-256. [`SessionLayer`]
//! loads it before the handler and writes back after it; handlers use the
//! [`Session`] extractor: who is logged in, typed `get`/`insert`/`remove` on
//! the session's data, `login` and `logout`.
//!
//! poem's `ServerSession` and its `SessionStorage` trait were the model. They
//! are not used as they stand: the storage is keyed by the raw cookie value
//! (we key by its hash), a session there has no user, absolute lifetime,
//! client details or version for compare-and-swap, and its time-to-live is
//! only pushed forward when the data changes, where ours slides on use.

mod layer;

use std::sync::{Arc, Mutex, MutexGuard};

use poem::{FromRequest, Request, RequestBody};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use uuid::Uuid;

pub use layer::{SessionConfig, SessionLayer, SessionManager};

use crate::{
    domain::{Authenticated, CredentialEpoch, SessionSecret, User, session::ClientInfo},
    services::{
        sessions::{SessionData, Stamp, StoredSession},
        throttle::KnownDevice,
    },
};

pub const COOKIE: &str = "tangerine_session";

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("there is no session to store data in")]
    NoSession,
    #[error("Failed to {action}")]
    Storage {
        action: &'static str,
        #[source]
        source: sea_orm::DbErr,
    },
    #[error("Failed to make a session secret")]
    Randomness(#[from] getrandom::Error),
    #[error("Failed to encode session data")]
    Encode(#[from] serde_json::Error),
}

/// What [`Session::revoke`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The session making the request: it is logged out.
    ThisSession,
    /// Another of the person's sessions.
    Other,
    /// Not a session of theirs (or already gone).
    NotTheirs,
}

/// One change to the data, kept so that it can be replayed on top of a newer
/// version of the row when another request wrote in between. `Insert` and
/// `Remove` are last-writer-wins per key; the queue operations commute, so
/// that concurrent requests queueing messages all keep theirs.
#[derive(Debug, Clone)]
enum DataOp {
    Insert(String, Value),
    Remove(String),
    /// Appends `{"id", "value"}` to the queue at `key`, keeping its last `keep`.
    Push {
        key: String,
        entry: Value,
        keep: usize,
    },
    /// Removes the entries with these ids from the queue at `key`.
    Drop {
        key: String,
        ids: Vec<Value>,
    },
}

#[derive(Debug)]
enum Outcome {
    /// Nothing but data changes and refreshes.
    Continued,
    /// A new session started during this request (login): set its cookie.
    Started(SessionSecret),
    /// The session ended during this request (logout): clear the cookie.
    Ended,
}

#[derive(Debug)]
struct State {
    /// The browser's device cookie as sent (checked only when a login needs it).
    device_cookie: Option<String>,
    /// A login happened during this request: the browser gets a device cookie.
    logged_in_here: bool,
    /// The live session, if any: loaded with the request or started by it.
    current: Option<StoredSession>,
    /// What the lookup of `current` saw of the database.
    stamp: Option<Stamp>,
    /// The secret the browser presented for `current`, to re-send its cookie.
    presented: Option<SessionSecret>,
    /// Whether the request carried a session cookie at all.
    cookie_sent: bool,
    /// Data as the handler sees it: `current`'s data with `ops` applied.
    view: SessionData,
    ops: Vec<DataOp>,
    outcome: Outcome,
    client: ClientInfo,
}

/// The session of the current request.
#[derive(Clone)]
pub struct Session {
    state: Arc<Mutex<State>>,
    manager: Arc<SessionManager>,
}

impl Session {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves plain data behind;
        // there is no invariant it could have broken halfway.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The person logged in with this session, if any.
    pub fn user(&self) -> Option<User> {
        self.lock().current.as_ref().and_then(|s| s.user.clone())
    }

    /// What the session's lookup saw of the database (none on a SQLite
    /// database in memory): a read at least as new may be answered from
    /// memory (see `Store::first_page_versions`). None once this request has
    /// logged in or out.
    pub fn stamp(&self) -> Option<Stamp> {
        let state = self.lock();
        match state.outcome {
            Outcome::Continued => state.stamp.clone(),
            Outcome::Started(_) | Outcome::Ended => None,
        }
    }

    /// The public id of the live session, if any.
    pub fn id(&self) -> Option<Uuid> {
        self.lock().current.as_ref().map(|s| s.id)
    }

    /// Reads a value of the session's data; `None` when absent or of another shape.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let state = self.lock();
        state.view.get(key).and_then(|v| T::deserialize(v).ok())
    }

    /// Stores a value; it is written to the row after the handler returns.
    pub fn insert<T: Serialize>(&self, key: &str, value: &T) -> Result<(), SessionError> {
        let value = serde_json::to_value(value)?;
        let mut state = self.lock();
        if state.current.is_none() {
            return Err(SessionError::NoSession);
        }
        if state.view.get(key) != Some(&value) {
            state.view.insert(key.to_owned(), value.clone());
            state.ops.push(DataOp::Insert(key.to_owned(), value));
        }
        Ok(())
    }

    /// Removes a value and returns it.
    pub fn remove<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let mut state = self.lock();
        let old = state.view.remove(key)?;
        state.ops.push(DataOp::Remove(key.to_owned()));
        T::deserialize(old).ok()
    }

    /// Appends `value` to the queue at `key`, which keeps its latest `keep`
    /// entries. Requests pushing at the same time all keep their entries.
    pub fn push<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        keep: usize,
    ) -> Result<(), SessionError> {
        let entry = serde_json::json!({
            "id": Uuid::now_v7().to_string(),
            "value": serde_json::to_value(value)?,
        });
        let mut state = self.lock();
        if state.current.is_none() {
            return Err(SessionError::NoSession);
        }
        let op = DataOp::Push {
            key: key.to_owned(),
            entry,
            keep,
        };
        apply(&mut state.view, std::slice::from_ref(&op));
        state.ops.push(op);
        Ok(())
    }

    /// Takes every entry of the queue at `key`, oldest first. Only the entries
    /// taken are removed: one pushed meanwhile by another request stays.
    pub fn take_all<T: DeserializeOwned>(&self, key: &str) -> Vec<T> {
        let mut state = self.lock();
        let Some(Value::Array(entries)) = state.view.get(key) else {
            return Vec::new();
        };
        let ids: Vec<Value> = entries.iter().map(|e| e["id"].clone()).collect();
        let values = entries
            .iter()
            .filter_map(|e| T::deserialize(&e["value"]).ok())
            .collect();
        let op = DataOp::Drop {
            key: key.to_owned(),
            ids,
        };
        apply(&mut state.view, std::slice::from_ref(&op));
        state.ops.push(op);
        values
    }

    /// What binds this request's CSRF tokens to its session: the hash of the
    /// secret of the live session (the one presented, or the one started or
    /// renewed during this request), or None when nobody is logged in.
    pub fn csrf_binding(&self) -> Option<Vec<u8>> {
        let state = self.lock();
        match &state.outcome {
            Outcome::Started(secret) => Some(secret.hash()),
            Outcome::Ended => None,
            Outcome::Continued => state
                .presented
                .as_ref()
                .filter(|_| state.current.is_some())
                .map(SessionSecret::hash),
        }
    }

    /// Starts a fresh session for the person just authenticated, with a new
    /// secret, under the credential epoch their password was checked at.
    /// Whatever session the browser had is deleted first, so a cookie
    /// planted before login is worth nothing after it. A session not
    /// remembered ends after the short idle time, and its cookie with the
    /// browser.
    pub async fn login(&self, who: &Authenticated, remember: bool) -> Result<(), SessionError> {
        let (previous, client) = {
            let mut state = self.lock();
            (state.current.take(), state.client.clone())
        };
        if let Some(previous) = previous {
            self.manager.delete(previous.id).await?;
        }
        let (secret, stored) = self
            .manager
            .start(&who.user, who.epoch, remember, &client)
            .await?;
        let mut state = self.lock();
        state.view = stored.data.clone();
        state.ops.clear();
        state.current = Some(stored);
        state.outcome = Outcome::Started(secret);
        state.logged_in_here = true;
        Ok(())
    }

    /// This browser, if its device cookie is valid and names the account
    /// `username`.
    pub fn known_device(&self, username: &str) -> Option<KnownDevice> {
        let cookie = self.lock().device_cookie.clone()?;
        self.manager.device(&cookie)?.known_for(username)
    }

    /// Gives the live session a new secret, and so the browser a new cookie
    /// (a copy of the old cookie stops working at once), under the account's
    /// new credential epoch `epoch`: after a password change, this session
    /// is the one that stays valid.
    pub async fn renew_secret(&self, epoch: CredentialEpoch) -> Result<(), SessionError> {
        let Some(id) = self.id() else {
            return Err(SessionError::NoSession);
        };
        if let Some(secret) = self.manager.renew(id, epoch).await? {
            self.lock().outcome = Outcome::Started(secret);
        }
        Ok(())
    }

    /// This session's id and its person's, when someone is logged in.
    fn ids(&self) -> Result<(Uuid, Uuid), SessionError> {
        let state = self.lock();
        let current = state.current.as_ref().ok_or(SessionError::NoSession)?;
        let user = current.user.as_ref().ok_or(SessionError::NoSession)?;
        Ok((current.id, user.id))
    }

    /// Ends the person's session `id`: this very one is a logout; an id that
    /// is not one of theirs ends nothing, and says so the same way as an
    /// unknown one.
    pub async fn revoke(&self, id: Uuid) -> Result<Revoked, SessionError> {
        let (current, user_id) = self.ids()?;
        if id == current {
            self.logout().await?;
            return Ok(Revoked::ThisSession);
        }
        Ok(if self.manager.delete_for_user(user_id, id).await? {
            Revoked::Other
        } else {
            Revoked::NotTheirs
        })
    }

    /// Ends every other session of the person logged in here (this one
    /// stays); returns how many ended.
    pub async fn end_others(&self) -> Result<u64, SessionError> {
        let (current, user_id) = self.ids()?;
        self.manager.delete_others(user_id, current).await
    }

    /// Ends the session: its row is deleted, and its cookie cleared.
    pub async fn logout(&self) -> Result<(), SessionError> {
        let previous = {
            let mut state = self.lock();
            state.ops.clear();
            state.view.clear();
            state.outcome = Outcome::Ended;
            state.current.take()
        };
        if let Some(previous) = previous {
            self.manager.delete(previous.id).await?;
        }
        Ok(())
    }
}

impl<'a> FromRequest<'a> for Session {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Self::of(req)
    }
}

impl Session {
    /// The session the layer attached to `req`.
    pub fn of(req: &Request) -> poem::Result<Self> {
        req.extensions().get::<Session>().cloned().ok_or_else(|| {
            poem::Error::from_string(
                "session layer missing",
                poem::http::StatusCode::INTERNAL_SERVER_ERROR,
            )
        })
    }
}

fn apply(data: &mut SessionData, ops: &[DataOp]) {
    for op in ops {
        match op {
            DataOp::Insert(k, v) => {
                data.insert(k.clone(), v.clone());
            }
            DataOp::Remove(k) => {
                data.remove(k);
            }
            DataOp::Push { key, entry, keep } => {
                let queue = data
                    .entry(key.clone())
                    .and_modify(|v| {
                        if !v.is_array() {
                            *v = Value::Array(Vec::new());
                        }
                    })
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = queue {
                    items.push(entry.clone());
                    let excess = items.len().saturating_sub(*keep);
                    items.drain(..excess);
                }
            }
            DataOp::Drop { key, ids } => {
                if let Some(Value::Array(items)) = data.get_mut(key) {
                    items.retain(|item| !ids.contains(&item["id"]));
                    if items.is_empty() {
                        data.remove(key);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::{
        domain::{SessionPolicy, session::Deadlines},
        http::cookies::CookiePolicy,
        http::session::layer::SessionConfig,
    };

    /// A logged-in session as the layer hands it to a handler (no database:
    /// the data API itself never touches it).
    fn session_with(data: SessionData) -> Session {
        let now = crate::domain::session::now();
        let manager = SessionManager::new(
            crate::services::sessions::Sessions::disconnected(),
            SessionConfig {
                policy: SessionPolicy {
                    idle: Duration::from_secs(60),
                    idle_short: Duration::from_secs(60),
                    max_age: Duration::from_secs(600),
                    refresh: Duration::from_secs(10),
                },
                cookies: CookiePolicy {
                    secure: false,
                    expire_at_browser_close: false,
                },
                trust_proxy: false,
                max_per_user: 5,
            },
            crate::http::devices::DeviceCookies::new(
                &[1; 32],
                CookiePolicy {
                    secure: false,
                    expire_at_browser_close: false,
                },
            )
            .unwrap(),
        );
        let stored = StoredSession {
            id: Uuid::new_v4(),
            user: None,
            data: data.clone(),
            version: 0,
            last_seen_at: now,
            deadlines: Deadlines {
                expires_at: now,
                absolute_expires_at: now,
            },
            remember: true,
            credentials_changed: false,
        };
        Session {
            state: Arc::new(Mutex::new(State {
                device_cookie: None,
                logged_in_here: false,
                current: Some(stored),
                stamp: None,
                presented: None,
                cookie_sent: true,
                view: data,
                ops: Vec::new(),
                outcome: Outcome::Continued,
                client: ClientInfo::default(),
            })),
            manager: Arc::new(manager),
        }
    }

    #[test]
    fn typed_values_go_in_and_come_out() {
        let session = session_with(SessionData::new());
        session.insert("count", &3u32).unwrap();
        session.insert("name", &"alice").unwrap();
        assert_eq!(session.get::<u32>("count"), Some(3));
        assert_eq!(session.get::<String>("name").as_deref(), Some("alice"));
        assert_eq!(
            session.get::<u32>("name"),
            None,
            "another shape reads as absent"
        );
        assert_eq!(session.remove::<u32>("count"), Some(3));
        assert_eq!(session.get::<u32>("count"), None);
    }

    #[test]
    fn only_changes_are_recorded_for_saving() {
        let mut data = SessionData::new();
        data.insert("theme".into(), json!("orange"));
        let session = session_with(data);
        session.insert("theme", &"orange").unwrap();
        assert!(session.get::<String>("missing").is_none());
        assert!(session.remove::<String>("missing").is_none());
        assert!(session.take_all::<String>("empty").is_empty());
        assert!(
            session.lock().ops.is_empty(),
            "nothing changed, nothing to write"
        );
        session.insert("theme", &"white").unwrap();
        assert_eq!(session.lock().ops.len(), 1);
    }

    #[test]
    fn a_queue_pushed_to_is_taken_in_order() {
        let session = session_with(SessionData::new());
        for m in ["one", "two", "three", "four"] {
            session.push("q", &m, 3).unwrap();
        }
        assert_eq!(
            session.take_all::<String>("q"),
            vec!["two", "three", "four"]
        );
        assert!(session.take_all::<String>("q").is_empty());
    }

    fn push(key: &str, id: &str, value: &str, keep: usize) -> DataOp {
        DataOp::Push {
            key: key.into(),
            entry: json!({"id": id, "value": value}),
            keep,
        }
    }

    fn queue_ids(data: &SessionData, key: &str) -> Vec<Value> {
        data[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].clone())
            .collect()
    }

    #[test]
    fn queued_pushes_replayed_on_newer_data_keep_every_entry() {
        // Two requests read the same (empty) data and push at once; the
        // second one's push is replayed on top of the first one's write.
        let mut stored = SessionData::new();
        apply(&mut stored, &[push("q", "a", "first", 5)]);
        apply(&mut stored, &[push("q", "b", "second", 5)]);
        assert_eq!(queue_ids(&stored, "q"), vec![json!("a"), json!("b")]);
    }

    #[test]
    fn a_queue_keeps_its_latest_entries() {
        let mut data = SessionData::new();
        for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
            apply(&mut data, &[push("q", id, &i.to_string(), 3)]);
        }
        assert_eq!(
            queue_ids(&data, "q"),
            vec![json!("b"), json!("c"), json!("d")]
        );
    }

    #[test]
    fn taking_removes_only_the_entries_taken() {
        let mut data = SessionData::new();
        apply(&mut data, &[push("q", "a", "seen", 5)]);
        // Another request pushes after this one read "a".
        apply(&mut data, &[push("q", "b", "new", 5)]);
        apply(
            &mut data,
            &[DataOp::Drop {
                key: "q".into(),
                ids: vec![json!("a")],
            }],
        );
        assert_eq!(data["q"].as_array().unwrap().len(), 1);
        assert_eq!(data["q"][0]["id"], "b");
        apply(
            &mut data,
            &[DataOp::Drop {
                key: "q".into(),
                ids: vec![json!("b")],
            }],
        );
        assert!(data.get("q").is_none(), "an empty queue goes away");
    }

    #[test]
    fn inserts_and_removes_are_per_key() {
        let mut data = SessionData::new();
        apply(
            &mut data,
            &[
                DataOp::Insert("a".into(), json!(1)),
                DataOp::Insert("b".into(), json!(2)),
            ],
        );
        apply(&mut data, &[DataOp::Remove("a".into())]);
        assert_eq!(data.get("a"), None);
        assert_eq!(data["b"], 2);
    }
}
