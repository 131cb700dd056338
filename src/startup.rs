//! The application: shared state, routes, middleware and the listening socket.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use poem::{EndpointExt, Route, get};
use tokio::net::TcpListener;

use crate::{
    RunError,
    config::{BaseUrl, ConfigError, ListenAddr, Settings},
    http::api,
    http::compress::Compression,
    http::cookies::CookiePolicy,
    http::csrf::{CsrfKey, CsrfLayer},
    http::devices::DeviceCookies,
    http::failures::Failures,
    http::middleware::{DecodablePaths, RequestLog, SecurityHeaders},
    http::server,
    http::session::{SessionConfig, SessionLayer, SessionManager},
    http::web::{self, assets, cards::Cards, health, templates::Templates},
    services::accounts::Accounts,
    services::mail::{Delivery, Mailer},
    services::passwords::PasswordHasher,
    services::recovery::{Recovery, RecoveryParts},
    services::sessions::purge,
    services::throttle::Throttle,
    services::{moderation::Moderation, posts::Posts, sessions::Sessions, tokens::Tokens},
    state::AppState,
    store::{self, IfMissing, Store, Target},
};

/// The background task deletes expired sessions every half idle time, but
/// never more often than every second nor less often than every 5 minutes.
fn purge_interval(settings: &Settings) -> Duration {
    (settings.session_idle / 2).clamp(Duration::from_secs(1), Duration::from_secs(300))
}
/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    /// The URL the start-up log offers: the host name given, or the address bound.
    url: String,
    state: AppState,
    /// The database, for the background purge.
    store: Store,
    sessions: Arc<SessionManager>,
    /// The cookies' attributes (`--secure-cookies`, `--expire-at-browser-close`).
    cookies: CookiePolicy,
    csrf_key: CsrfKey,
    /// Defaults lowered to fit values given (see `Settings::check`).
    lowered: Vec<String>,
}

impl Application {
    /// Checks the settings, binds the socket, then opens and migrates the
    /// database, in that order: a configuration that cannot work or a port
    /// in use leaves no database behind. The server starts with
    /// [`Self::run_until`].
    pub async fn build(mut settings: Settings) -> Result<Self, RunError> {
        let checked = settings.check()?;
        let (listener, addr) = listen(&settings.addr).await?;

        let db =
            crate::open_checked(&settings.database, &checked.database, IfMissing::Create).await?;
        match &checked.database {
            Target::SqliteFile(_) => tracing::info!(
                "database: {} (WAL, synchronous={})",
                checked.database,
                settings.database.sqlite_synchronous
            ),
            Target::SqliteMemory => tracing::info!(
                "database: {} (gone when the process ends)",
                checked.database
            ),
            Target::Postgres(_) => tracing::info!("database: {}", checked.database),
        }
        let applied = crate::migrate(&db, &checked.database).await?;
        match applied.as_slice() {
            [] => tracing::info!("migrations: none pending"),
            names => tracing::info!("migrations: applied {} ({})", names.len(), names.join(", ")),
        }

        let mut candidate = [0u8; 32];
        getrandom::fill(&mut candidate).context("Failed to read OS randomness")?;
        let key = store::signing_keys::get_or_create(&db, "csrf", candidate)
            .await
            .map_err(|e| RunError::database("load the CSRF key", &checked.database, &e))?;
        let csrf_key = CsrfKey::new(&key).context("Failed to key the CSRF MAC")?;
        getrandom::fill(&mut candidate).context("Failed to read OS randomness")?;
        let device_key = store::signing_keys::get_or_create(&db, "device", candidate)
            .await
            .map_err(|e| RunError::database("load the device-cookie key", &checked.database, &e))?;

        let templates = Arc::new(Templates::load().context("Failed to load templates")?);
        let cookies = CookiePolicy {
            secure: settings.secure_cookies,
            expire_at_browser_close: settings.expire_at_browser_close,
        };
        let devices = DeviceCookies::new(&device_key, cookies.clone())
            .context("Failed to key the device-cookie MAC")?;
        let store = Store::new(db.clone(), settings.database.database_url.expose());
        let sessions = Arc::new(SessionManager::new(
            Sessions::new(store.clone()),
            SessionConfig {
                policy: settings.session_policy(),
                cookies: cookies.clone(),
                trust_proxy: settings.trust_proxy,
                max_per_user: settings.max_sessions_per_user as usize,
            },
            devices,
        ));

        let url = match (settings.addr.host_name(), addr.ip()) {
            (Some(name), _) => format!("http://{name}:{}/", addr.port()),
            // Browsers do not open the unspecified address; this machine's is the same socket.
            (None, ip) if ip.is_unspecified() => format!("http://127.0.0.1:{}/", addr.port()),
            (None, _) => format!("http://{addr}/"),
        };
        if !addr.ip().is_loopback() && !settings.secure_cookies {
            tracing::warn!(
                %addr,
                "listening beyond this machine without --secure-cookies: cookies will travel without the Secure flag"
            );
        }

        let base = match &settings.base_url {
            Some(base) => base.clone(),
            None => BaseUrl::parse(&url).map_err(|e| {
                anyhow::anyhow!("Failed to read the listening address {url} as a URL: {e}")
            })?,
        };
        let mailer = match &checked.smtp {
            Some(server) => {
                tracing::info!("mail: through {server:?}");
                Mailer::start(checked.mail_from.clone(), Delivery::Smtp(server))?
            }
            None => {
                tracing::info!(
                    "mail: written as files into {} (no --smtp-url)",
                    settings.mail_dir.display()
                );
                Mailer::start(
                    checked.mail_from.clone(),
                    Delivery::Files(&settings.mail_dir),
                )?
            }
        };
        let hasher = PasswordHasher::per_cpu(settings.max_pending_logins as usize);
        // One set of limits, counted in the database, shared by every use case.
        let throttle = Throttle::new(store.clone(), settings.limits());
        let recovery = Recovery::new(RecoveryParts {
            store: store.clone(),
            hasher: hasher.clone(),
            throttle: throttle.clone(),
            rules: settings.password_rules(),
            mailer,
            base,
            reset_lifetime: settings.reset_token_lifetime,
        });

        Ok(Self {
            listener,
            addr,
            url,
            state: AppState {
                accounts: Accounts::new(
                    store.clone(),
                    hasher,
                    throttle.clone(),
                    settings.password_rules(),
                )
                .with_signups(settings.signups),
                posts: Posts::new(store.clone(), throttle.clone()),
                sessions: Sessions::new(store.clone()),
                moderation: Moderation::new(store.clone()).with_notices(recovery.clone()),
                tokens: Tokens::new(store.clone(), throttle),
                recovery,
                cards: Arc::new(Cards::new(settings.card_cache_size)),
                settings: Arc::new(settings),
                templates,
            },
            store,
            sessions,
            cookies,
            csrf_key,
            lowered: checked.lowered,
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
            self.store.clone(),
            self.state.accounts.throttle().clone(),
            purge_interval(&settings),
        ));
        let cookies = self.cookies;
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
            .at("/api/docs/:name", get(assets::serve_docs))
            .at("/favicon.ico", get(assets::favicon))
            .nest("/", dynamic)
            .with(Failures::new(self.state.templates.clone()))
            .data(self.state)
            .with(DecodablePaths)
            .with(SecurityHeaders {
                hsts: settings.secure_cookies,
            })
            .with(Compression)
            .with(RequestLog {
                trust_proxy: settings.trust_proxy,
            });
        for note in &self.lowered {
            tracing::info!("{note}");
        }
        let security = settings
            .effective_security()
            .into_iter()
            .map(|(flag, value)| format!("{flag} {value}"))
            .collect::<Vec<_>>()
            .join(", ");
        tracing::info!("security: {security}");
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            addr = %self.addr,
            "Tangerine is serving {}",
            self.url
        );
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

/// Binds `addr`: its address, or the first address its host name resolves
/// to that can be bound.
async fn listen(addr: &ListenAddr) -> Result<(TcpListener, SocketAddr), RunError> {
    let candidates: Vec<SocketAddr> = tokio::net::lookup_host(addr.to_string())
        .await
        .map_err(|e| {
            ConfigError(format!(
                "--addr {addr}: the host name does not resolve ({}); use an address such as 127.0.0.1:{}",
                store::errors::describe_io(&e),
                addr.port()
            ))
        })?
        .collect();
    let mut failed = None;
    for candidate in candidates {
        match TcpListener::bind(candidate).await {
            Ok(listener) => {
                let bound = listener.local_addr().unwrap_or(candidate);
                return Ok((listener, bound));
            }
            Err(e) => failed = Some((candidate, e)),
        }
    }
    Err(match failed {
        Some((candidate, e)) => RunError::Listen {
            addr: candidate.to_string(),
            reason: match e.kind() {
                std::io::ErrorKind::PermissionDenied if candidate.port() < 1024 => {
                    "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE; \
                     or listen on a higher port behind a reverse proxy)"
                        .to_owned()
                }
                _ => store::errors::describe_io(&e),
            },
        },
        None => ConfigError(format!(
            "--addr {addr}: the host name resolves to no address; use an address such as 127.0.0.1:{}",
            addr.port()
        ))
        .into(),
    })
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
