//! Server-side sessions, as handlers see them.
//!
//! The browser's cookie holds only a random secret; the session is a row
//! (see `db::sessions`) found by the secret's SHA-256. [`SessionLayer`]
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
pub mod purge;

use std::sync::{Arc, Mutex, MutexGuard};

use poem::{FromRequest, Request, RequestBody};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

pub use layer::{SessionLayer, SessionManager};

use crate::{
    db::sessions::{SessionData, StoredSession},
    domain::{SessionSecret, User, session::ClientInfo},
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

/// One change to the data, kept so that it can be replayed on top of a newer
/// version of the row when another request wrote in between.
#[derive(Debug, Clone)]
enum DataOp {
    Insert(String, Value),
    Remove(String),
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
    /// The live session, if any: loaded with the request or started by it.
    current: Option<StoredSession>,
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

    /// The public id of the live session, if any.
    pub fn id(&self) -> Option<uuid::Uuid> {
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

    /// Starts a fresh session for `user`, with a new secret. Whatever session
    /// the browser had is deleted first, so a cookie planted before login is
    /// worth nothing after it.
    pub async fn login(&self, user: &User) -> Result<(), SessionError> {
        let (previous, client) = {
            let mut state = self.lock();
            (state.current.take(), state.client.clone())
        };
        if let Some(previous) = previous {
            self.manager.delete(previous.id).await?;
        }
        let (secret, stored) = self.manager.start(user, &client).await?;
        let mut state = self.lock();
        state.view = stored.data.clone();
        state.ops.clear();
        state.current = Some(stored);
        state.outcome = Outcome::Started(secret);
        Ok(())
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
        }
    }
}
