//! The application: shared state, routes, middleware and the listening socket.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use poem::{EndpointExt, Route, get};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::{
    accounts::Accounts,
    api,
    compress::Compression,
    config::Settings,
    cookies::CookiePolicy,
    csrf::{CsrfKey, CsrfLayer},
    db::{self, Reads},
    devices::DeviceCookies,
    middleware::{DecodablePaths, RequestLog, SecurityHeaders},
    passwords::PasswordHasher,
    server,
    session::{SessionConfig, SessionLayer, SessionManager, purge},
    throttle::Throttle,
    web::{self, assets, cards::Cards, health, render::Templates},
};

/// The background task deletes expired sessions every half idle time, but
/// never more often than every second nor less often than every 5 minutes.
fn purge_interval(settings: &Settings) -> Duration {
    (settings.session_idle / 2).clamp(Duration::from_secs(1), Duration::from_secs(300))
}
/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// The reads of every page view (on SQLite, in the calling thread).
    pub reads: Reads,
    /// Sign-up, login and password changes, with the hasher and the throttle.
    pub accounts: Accounts,
    /// The limits counted in the database (here: posting).
    pub throttle: Throttle,
    pub settings: Arc<Settings>,
}

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    state: AppState,
    sessions: Arc<SessionManager>,
    csrf_key: CsrfKey,
    templates: Arc<Templates>,
}

impl Application {
    /// Connects, migrates and binds; the server starts with [`Self::run_until`].
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = db::connect(&settings.database_url).await.with_context(|| {
            format!("Failed to connect to {}", settings.database_url_for_logs())
        })?;
        db::migrate(&db)
            .await
            .context("Failed to apply migrations")?;

        let mut candidate = [0u8; 32];
        getrandom::fill(&mut candidate).context("Failed to read OS randomness")?;
        let key = db::signing_keys::get_or_create(&db, "csrf", candidate)
            .await
            .context("Failed to load the CSRF key")?;
        let csrf_key = CsrfKey::new(&key).context("Failed to key the CSRF MAC")?;
        getrandom::fill(&mut candidate).context("Failed to read OS randomness")?;
        let device_key = db::signing_keys::get_or_create(&db, "device", candidate)
            .await
            .context("Failed to load the device-cookie key")?;

        let templates = Arc::new(Templates::load().context("Failed to load templates")?);
        let cookies = CookiePolicy {
            secure: settings.secure_cookies,
            expire_at_browser_close: settings.expire_at_browser_close,
        };
        let devices = DeviceCookies::new(&device_key, cookies.clone())
            .context("Failed to key the device-cookie MAC")?;
        let reads = Reads::new(db.clone(), &settings.database_url);
        let sessions = Arc::new(SessionManager::new(
            reads.clone(),
            SessionConfig {
                policy: settings.session_policy(),
                cookies,
                trust_proxy: settings.trust_proxy,
                max_per_user: settings.max_sessions_per_user as usize,
            },
            devices,
        ));

        let listener = TcpListener::bind(settings.addr)
            .await
            .with_context(|| format!("Failed to listen on {}", settings.addr))?;
        let addr = listener
            .local_addr()
            .context("Failed to read the listening address")?;

        if !addr.ip().is_loopback() && !settings.secure_cookies {
            tracing::warn!(
                %addr,
                "listening beyond this machine without --secure-cookies: cookies will travel without the Secure flag"
            );
        }
        if settings.session_refresh >= settings.session_idle {
            tracing::warn!(
                "--session-refresh is not shorter than --session-idle: active sessions may expire between refreshes"
            );
        }

        Ok(Self {
            listener,
            addr,
            state: AppState {
                db: db.clone(),
                reads,
                accounts: Accounts::new(
                    db.clone(),
                    PasswordHasher::per_cpu(settings.max_pending_logins as usize),
                    Throttle::new(settings.limits()),
                    settings.password_rules(),
                ),
                throttle: Throttle::new(settings.limits()),
                settings: Arc::new(settings),
            },
            sessions,
            csrf_key,
            templates,
        })
    }

    /// The address actually bound (the real port when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The password hasher, for tests that hold hashes on purpose
    /// ([`PasswordHasher::pause`]).
    pub fn hasher(&self) -> PasswordHasher {
        self.state.accounts.hasher().clone()
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let settings = self.state.settings.clone();
        let purger = tokio::spawn(purge::purge_periodically(
            self.state.db.clone(),
            self.state.accounts.throttle().clone(),
            purge_interval(&settings),
        ));
        let cookies = CookiePolicy {
            secure: settings.secure_cookies,
            expire_at_browser_close: settings.expire_at_browser_close,
        };
        let docs =
            api::Docs::new(self.sessions.cookie_name()).context("Failed to build the API spec")?;
        // Pages and API share the session and the CSRF cookie.
        let dynamic = Route::new()
            .nest("/api", api::routes(docs))
            .nest("/", web::routes())
            .with(CsrfLayer::new(self.csrf_key, cookies))
            .with(SessionLayer::new(self.sessions));
        let app = Route::new()
            .at("/healthz", get(health::healthz))
            .at("/assets/:name", get(assets::serve))
            .at("/favicon.ico", get(assets::favicon))
            .nest("/", dynamic)
            .data(self.state)
            .data(self.templates)
            .data(Arc::new(Cards::new(settings.card_cache_size)))
            .with(DecodablePaths)
            .with(SecurityHeaders {
                hsts: settings.secure_cookies,
            })
            .with(Compression)
            .with(RequestLog);
        tracing::info!(addr = %self.addr, database = %settings.database_url_for_logs(), "Tangerine is serving");
        let served = server::serve(
            self.listener,
            app,
            settings.connection_limits(),
            shutdown,
            SHUTDOWN_GRACE,
        )
        .await;
        purger.abort();
        served.context("The server failed")
    }
}

/// Listens for Ctrl-C and SIGTERM from the moment it is called and returns
/// the future that resolves on either.
///
/// The handlers are installed here, before the server answers anything:
/// installed on the future's first poll instead, a SIGTERM that arrives
/// right after start-up would still meet the default action and kill the
/// process with no graceful shutdown and no exit code 0.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let (mut interrupt, mut terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        )
    };
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    })
}
