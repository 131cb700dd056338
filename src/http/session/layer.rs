//! Loading the session before a handler runs and writing it back after.

use std::{sync::Arc, time::Duration};

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response,
    http::{HeaderValue, header},
};
use sea_orm::DbErr;
use serde_json::Map;
use uuid::Uuid;

use super::{COOKIE, Outcome, Session, SessionError, State, apply};
use crate::{
    domain::{
        CredentialEpoch, SessionPolicy, SessionSecret, User,
        session::{ClientInfo, now},
    },
    http::client,
    http::cookies::{self, CookiePolicy},
    http::devices::{Device, DeviceCookies},
    services::sessions::{NewSession, Sessions, StoredSession, Touch},
};

/// A write of the data is retried this many times when other requests of the
/// same session keep writing in between. Writes of one session through one
/// instance take turns (see [`SessionManager::save`]), so only requests
/// through other instances can make an attempt fail.
const MAX_SAVE_ATTEMPTS: u32 = 64;

/// Locks that make writes of the same session through this instance take
/// turns: one per session id's stripe.
const SAVE_STRIPES: usize = 64;

/// How sessions behave: lifetimes, cookies, and limits.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub policy: SessionPolicy,
    pub cookies: CookiePolicy,
    /// Read the client's address from `X-Forwarded-For` (see [`client::ip`]).
    pub trust_proxy: bool,
    /// Live sessions a person may keep; a login beyond ends the least recently used.
    pub max_per_user: usize,
}

/// Loads, starts, refreshes and ends sessions.
pub struct SessionManager {
    /// Device cookies: read with the session, given out at login.
    devices: DeviceCookies,
    /// The session rows: found, started, refreshed and ended.
    sessions: Sessions,
    policy: SessionPolicy,
    cookies: CookiePolicy,
    cookie_name: String,
    trust_proxy: bool,
    max_per_user: usize,
    saving: Box<[tokio::sync::Mutex<()>]>,
}

fn storage(action: &'static str) -> impl FnOnce(DbErr) -> SessionError {
    move |source| SessionError::Storage { action, source }
}

impl SessionManager {
    pub fn new(sessions: Sessions, config: SessionConfig, devices: DeviceCookies) -> Self {
        let cookie_name = config.cookies.name(COOKIE);
        Self {
            devices,
            sessions,
            policy: config.policy,
            cookies: config.cookies,
            cookie_name,
            trust_proxy: config.trust_proxy,
            max_per_user: config.max_per_user,
            saving: (0..SAVE_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    /// The device a device-cookie value names, if its signature holds.
    pub(super) fn device(&self, cookie: &str) -> Option<Device> {
        self.devices.open(cookie)
    }

    /// The session cookie's name (with `__Host-` when cookies are secure).
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    async fn load(&self, req: &Request) -> Result<State, SessionError> {
        // Two session cookies: one was planted, and neither is trusted; the
        // request is served as logged out (and the cookie cleared).
        let (cookie_sent, cookie) = match cookies::find_unique(req, &self.cookie_name) {
            Ok(cookie) => (cookie.is_some(), cookie),
            Err(_) => (true, None),
        };
        let presented = cookie.and_then(SessionSecret::parse);
        let (mut current, mut found_at) = (None, None);
        if let Some(secret) = &presented
            && let (Some(stored), stamp) = self
                .sessions
                .find(secret)
                .await
                .map_err(storage("load a session"))?
        {
            if stored.credentials_changed {
                // Made under a password that has changed since: not valid.
                // The row stays for the purge; deleting it here could race
                // with the password change that is renewing this very
                // session.
            } else if stored.deadlines.is_live(now()) {
                current = Some(stored);
                found_at = stamp;
            } else {
                // Expiry is final: the row goes now rather than at the next purge.
                self.sessions
                    .end(stored.id)
                    .await
                    .map_err(storage("delete an expired session"))?;
            }
        }
        Ok(State {
            device_cookie: self.devices.raw(req),
            logged_in_here: false,
            stamp: found_at,
            view: current.as_ref().map(|s| s.data.clone()).unwrap_or_default(),
            presented: presented.filter(|_| current.is_some()),
            current,
            cookie_sent,
            ops: Vec::new(),
            outcome: Outcome::Continued,
            client: client::info(req, self.trust_proxy),
        })
    }

    /// Starts a session for `user`, then ends their least recently used
    /// ones beyond the per-person limit.
    pub(super) async fn start(
        &self,
        user: &User,
        epoch: CredentialEpoch,
        remember: bool,
        client: &ClientInfo,
    ) -> Result<(SessionSecret, StoredSession), SessionError> {
        let secret = SessionSecret::generate()?;
        let now = now();
        let (mut stored, ended) = self
            .sessions
            .start(
                NewSession {
                    secret_hash: secret.hash(),
                    user_id: Some(user.id),
                    data: Map::new(),
                    now,
                    deadlines: self.policy.start(now, remember),
                    remember,
                    client,
                    credential_epoch: epoch,
                },
                self.max_per_user,
            )
            .await
            .map_err(storage("start a session"))?;
        if ended > 0 {
            tracing::info!(
                ended,
                "login beyond the session limit ended the least recently used"
            );
        }
        stored.user = Some(user.clone());
        Ok((secret, stored))
    }

    /// A new secret for an existing session, under credential epoch `epoch`.
    pub(super) async fn renew(
        &self,
        id: Uuid,
        epoch: CredentialEpoch,
    ) -> Result<Option<SessionSecret>, SessionError> {
        let secret = SessionSecret::generate()?;
        let found = self
            .sessions
            .renew(id, &secret, epoch)
            .await
            .map_err(storage("renew a session's secret"))?;
        Ok(found.then_some(secret))
    }

    pub(super) async fn delete_for_user(
        &self,
        user_id: Uuid,
        id: Uuid,
    ) -> Result<bool, SessionError> {
        self.sessions
            .end_for_user(user_id, id)
            .await
            .map_err(storage("end a session"))
    }

    pub(super) async fn delete_others(
        &self,
        user_id: Uuid,
        keep: Uuid,
    ) -> Result<u64, SessionError> {
        self.sessions
            .end_others(user_id, keep)
            .await
            .map_err(storage("end other sessions"))
    }

    pub(super) async fn delete(&self, id: Uuid) -> Result<(), SessionError> {
        self.sessions
            .end(id)
            .await
            .map_err(storage("delete a session"))?;
        Ok(())
    }

    /// Writes back what the request changed and sets or clears the cookie.
    async fn finish(&self, state: State, resp: &mut Response) -> Result<(), SessionError> {
        let now = now();
        let logged_in = state.current.as_ref().is_some_and(|s| s.user.is_some());
        if state.logged_in_here
            && let Some(user) = state.current.as_ref().and_then(|s| s.user.as_ref())
        {
            // The same device id when this browser had logged in to this
            // account before; a new one otherwise.
            let previous = state
                .device_cookie
                .as_deref()
                .and_then(|c| self.device(c))
                .filter(|d| d.known_for(&user.username).is_some());
            self.devices.issue(resp, previous.as_ref(), &user.username);
        }
        match (state.outcome, state.current) {
            (Outcome::Started(secret), Some(current)) => {
                // Measured from the start the deadlines were computed from;
                // a session not remembered ends with the browser.
                let max_age = current
                    .remember
                    .then(|| current.deadlines.max_age_secs(current.last_seen_at));
                self.save(current, &state.ops, None).await?;
                self.set_cookie(resp, &secret, max_age);
            }
            (Outcome::Started(_), None) => {}
            (Outcome::Ended, _) => self.clear_cookie(resp),
            (Outcome::Continued, Some(current)) => {
                let remember = current.remember;
                let slid = self
                    .policy
                    .refresh_due(current.last_seen_at, now)
                    .then(|| self.policy.slide(current.deadlines, now, remember));
                let touch = slid.map(|d| Touch {
                    now,
                    expires_at: d.expires_at,
                    ip: state.client.ip.clone(),
                });
                let refreshed = slid.map(|d| d.max_age_secs(now));
                if !state.ops.is_empty() {
                    // The request's action is done: a change of the session's
                    // data (a queued message) that keeps losing races to
                    // other instances is given up rather than turned into an
                    // error for an action that succeeded.
                    if let Err(e) = self.save(current, &state.ops, touch).await {
                        tracing::warn!(error = %e, cause = ?std::error::Error::source(&e), "a session's data change was dropped");
                    }
                } else if let Some(touch) = &touch {
                    self.sessions
                        .touch(current.id, touch)
                        .await
                        .map_err(storage("refresh a session"))?;
                }
                // The cookie's Max-Age follows the slid deadline; a cookie
                // without one (not remembered) has nothing to update.
                if let (Some(secs), Some(secret), true) = (refreshed, &state.presented, remember) {
                    self.set_cookie(resp, secret, Some(secs));
                }
            }
            (Outcome::Continued, None) if state.cookie_sent => self.clear_cookie(resp),
            (Outcome::Continued, None) => {}
        }
        if logged_in || resp.headers().contains_key(header::SET_COOKIE) {
            resp.headers_mut()
                .entry(header::CACHE_CONTROL)
                .or_insert(HeaderValue::from_static("no-store"));
        }
        Ok(())
    }

    /// Compare-and-swap: the data is written only over the version it was
    /// read at. When another request of the same session wrote first, the
    /// row is read again and this request's changes are replayed on top, so
    /// neither request's change is lost. Writes of one session through this
    /// instance take turns, so that a burst of requests of one session
    /// costs each at most one reload, rather than racing each other.
    async fn save(
        &self,
        mut current: StoredSession,
        ops: &[super::DataOp],
        touch: Option<Touch>,
    ) -> Result<(), SessionError> {
        if ops.is_empty() && touch.is_none() {
            return Ok(());
        }
        let stripe = current.id.as_u128() as usize % self.saving.len();
        let _turn = self.saving[stripe].lock().await;
        for attempt in 0..MAX_SAVE_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let mut data = current.data.clone();
            apply(&mut data, ops);
            let written = self
                .sessions
                .save_data(current.id, current.version, &data, touch.as_ref())
                .await
                .map_err(storage("save a session"))?;
            if written {
                return Ok(());
            }
            match self
                .sessions
                .find_by_id(current.id)
                .await
                .map_err(storage("reload a session"))?
            {
                Some(fresh) => current = fresh,
                // Ended by another request meanwhile: nothing left to write to.
                None => return Ok(()),
            }
        }
        Err(SessionError::Storage {
            action: "save a session under contention",
            source: DbErr::Custom("too many concurrent writers".into()),
        })
    }

    /// Sets the session cookie; without `max_age_secs` it ends with the browser.
    fn set_cookie(&self, resp: &mut Response, secret: &SessionSecret, max_age_secs: Option<i64>) {
        let age = max_age_secs.map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0)));
        let value = self.cookies.set(&self.cookie_name, &secret.encode(), age);
        resp.headers_mut().append(header::SET_COOKIE, value);
    }

    fn clear_cookie(&self, resp: &mut Response) {
        let value = self.cookies.remove(&self.cookie_name);
        resp.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The middleware: one query to load the session (with its user) per
/// request, and a write only when something changed or a refresh is due.
#[derive(Clone)]
pub struct SessionLayer(Arc<SessionManager>);

impl SessionLayer {
    pub fn new(manager: Arc<SessionManager>) -> Self {
        Self(manager)
    }
}

impl<E: Endpoint> Middleware<E> for SessionLayer {
    type Output = SessionEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        SessionEndpoint {
            inner,
            manager: self.0.clone(),
        }
    }
}

pub struct SessionEndpoint<E> {
    inner: E,
    manager: Arc<SessionManager>,
}

impl<E: Endpoint> Endpoint for SessionEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        // A request with an API token is not a browser's: its session
        // cookie, if any, is neither read nor refreshed, renewed or set.
        let by_token = crate::http::api::auth::is_bearer_api_request(&req);
        let state = if by_token {
            State {
                client: client::info(&req, self.manager.trust_proxy),
                ..State::finished()
            }
        } else {
            self.manager.load(&req).await.map_err(unexpected)?
        };
        let session = Session {
            state: Arc::new(std::sync::Mutex::new(state)),
            manager: self.manager.clone(),
        };
        req.extensions_mut().insert(session.clone());
        let mut resp = self.inner.call(req).await?.into_response();
        if by_token {
            return Ok(resp);
        }
        let state = {
            let mut guard = session.lock();
            std::mem::replace(&mut *guard, State::finished())
        };
        self.manager
            .finish(state, &mut resp)
            .await
            .map_err(unexpected)?;
        Ok(resp)
    }
}

/// A short random pause before retrying, growing with the attempts, so that
/// writers that collided do not collide again in lockstep.
async fn backoff(attempt: u32) {
    let ceiling_us = 500 * u64::from(attempt.min(20));
    let jitter = getrandom::u64().unwrap_or(0) % ceiling_us.max(1);
    tokio::time::sleep(Duration::from_micros(jitter)).await;
}

/// A session that could not be loaded or saved: the error travels up to
/// `failures::Failures`, which answers 503 when the database is unreachable
/// and 500 otherwise, and logs it once.
fn unexpected(e: SessionError) -> poem::Error {
    poem::Error::new(e, poem::http::StatusCode::INTERNAL_SERVER_ERROR)
}

impl State {
    /// What is left in a request's session once the layer has taken it back.
    fn finished() -> Self {
        State {
            device_cookie: None,
            logged_in_here: false,
            stamp: None,
            current: None,
            presented: None,
            cookie_sent: false,
            view: Map::new(),
            ops: Vec::new(),
            outcome: Outcome::Continued,
            client: ClientInfo::default(),
        }
    }
}
