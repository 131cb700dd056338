//! Starting the real application on a random port with a fresh database,
//! and a browser-like client to talk to it.

use std::{
    io::{BufRead, BufReader},
    os::unix::process::CommandExt,
    process::{Child, Command, Stdio},
    sync::LazyLock,
    time::Duration,
};

use clap::Parser;
use reqwest::{Client, Response, StatusCode, header};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tangerine::{
    config::{Cli, Settings},
    services::passwords::PasswordHasher,
    startup::Application,
};
use tokio::sync::oneshot;
use uuid::Uuid;

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        tangerine::telemetry::init();
    }
});

/// A fresh database: a SQLite file, or a PostgreSQL database of its own
/// when `TEST_DATABASE_URL` is set (the same helper the unit tests use).
pub use tangerine::store::scratch::ScratchDatabase as TestDatabase;

pub struct TestApp {
    /// A connection of the test's own, to look at rows directly.
    pub db: DatabaseConnection,
    /// The first browser; `app.get(…)` and friends go through it.
    pub browser: Browser,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    pub database: TestDatabase,
    /// This instance's password hasher, to hold hashes on purpose.
    pub hasher: PasswordHasher,
    /// Where this instance writes mail without `--smtp-url`.
    pub mail_dir: std::path::PathBuf,
}

/// Limits that every test runs without unless it sets them itself: most
/// tests sign up more people from 127.0.0.1 than a public site allows.
const LIMITS_OFF: &[(&str, &str)] = &[("--signup-limit", "0")];

/// Settings as the command line would give them, on port 0 and `database`.
pub fn settings_for(database: &TestDatabase, args: &[&str]) -> Settings {
    let mut argv = vec![
        "tangerine",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        &database.url,
    ];
    for (flag, off) in LIMITS_OFF {
        if !args.contains(flag) {
            argv.extend([*flag, *off]);
        }
    }
    // Mail goes to a folder of the test's own, never the working directory.
    let mail_dir = std::env::temp_dir()
        .join(format!("tangerine-mail-{}", Uuid::new_v4().simple()))
        .display()
        .to_string();
    if !args.contains(&"--mail-dir") {
        argv.extend(["--mail-dir", &mail_dir]);
    }
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv)
        .expect("valid test flags")
        .settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts the app with extra command-line flags, for example
/// `&["--session-idle", "1s"]`.
pub async fn spawn_app_with(args: &[&str]) -> TestApp {
    let database = TestDatabase::fresh().await;
    let settings = settings_for(&database, args);
    spawn_on(database, settings).await
}

pub async fn spawn_on(database: TestDatabase, settings: Settings) -> TestApp {
    LazyLock::force(&TRACING);
    let mail_dir = settings.mail_dir.clone();
    let app = Application::build(settings).await.expect("the app builds");
    let address = format!("http://{}", app.addr());
    let hasher = app.hasher();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until(async {
            let _ = rx.await;
        })
        .await
        .expect("the server runs");
    });
    let db = tangerine::store::connect(&database.url)
        .await
        .expect("a test connection");
    TestApp {
        db,
        browser: Browser::new(address),
        shutdown: Some(tx),
        server: Some(server),
        database,
        hasher,
        mail_dir,
    }
}

/// Another instance on the same database, served in this process until the
/// returned guard is dropped.
pub struct Instance {
    pub browser: Browser,
    pub hasher: PasswordHasher,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestApp {
    pub async fn second_instance(&self, args: &[&str]) -> Instance {
        let app = Application::build(settings_for(&self.database, args))
            .await
            .expect("the second instance builds");
        let browser = Browser::new(format!("http://{}", app.addr()));
        let hasher = app.hasher();
        let server = tokio::spawn(async move {
            let _ = app.run_until(std::future::pending()).await;
        });
        Instance {
            browser,
            hasher,
            server,
        }
    }
}

/// Waits until `hasher` holds `n` hashes (queued or running).
pub async fn until_pending(hasher: &PasswordHasher, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while hasher.pending() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} hashes pending, waiting for {n}",
            hasher.pending()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        let _ = std::fs::remove_dir_all(&self.mail_dir);
    }
}

impl std::ops::Deref for TestApp {
    type Target = Browser;

    fn deref(&self) -> &Browser {
        &self.browser
    }
}

impl TestApp {
    /// Another browser, with a cookie jar of its own.
    pub fn new_browser(&self) -> Browser {
        Browser::new(self.browser.address.clone())
    }

    /// Another browser that says it is `user_agent`.
    pub fn browser_as(&self, user_agent: &str) -> Browser {
        Browser::with_user_agent(self.browser.address.clone(), user_agent)
    }

    /// Stores `n` sessions that expired a minute ago, as if their owners
    /// had left long before the server's purge came round.
    pub async fn insert_expired_sessions(&self, n: usize) {
        use tangerine::{
            domain::session::{ClientInfo, Deadlines, now},
            store::sessions::{NewSession, create},
        };
        let past = now() - chrono::TimeDelta::minutes(1);
        for _ in 0..n {
            let secret = tangerine::domain::SessionSecret::generate().unwrap();
            create(
                &self.db,
                NewSession {
                    secret_hash: secret.hash(),
                    user_id: None,
                    data: Default::default(),
                    now: past - chrono::TimeDelta::hours(1),
                    deadlines: Deadlines {
                        expires_at: past,
                        absolute_expires_at: past,
                    },
                    remember: true,
                    client: &ClientInfo::default(),
                    credential_epoch: tangerine::domain::CredentialEpoch::FIRST,
                },
            )
            .await
            .expect("an expired session");
        }
    }

    pub async fn count(&self, table: &str) -> i64 {
        use sea_orm::Statement;
        let stmt = Statement::from_string(
            self.db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        );
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .expect("count")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("a number")
    }
}

/// A client that keeps no cookies: every header is the test's own.
pub fn bare_client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client")
}

pub const PASSWORD: &str = "correct horse battery";
pub const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36";

/// A browser: a cookie jar, no automatic redirects.
pub struct Browser {
    pub address: String,
    pub client: Client,
}

impl Browser {
    pub fn new(address: String) -> Self {
        Self::with_user_agent(address, USER_AGENT)
    }

    pub fn with_user_agent(address: String, user_agent: &str) -> Self {
        let client = Client::builder()
            .user_agent(user_agent)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a client");
        Self { address, client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("a body")
    }

    /// GET with `HX-Request: true`, as htmx sends it.
    pub async fn hx_get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .header("HX-Request", "true")
            .send()
            .await
            .expect("GET")
    }

    /// The CSRF token of this browser, read off the homepage when logged in
    /// (the log-out form), else off the login page.
    pub async fn csrf_token(&self) -> String {
        for page in ["/", "/login"] {
            if let Some(token) = csrf_token_in(&self.get_text(page).await) {
                return token;
            }
        }
        panic!("no page offered a CSRF token")
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    /// Posts a form with this browser's CSRF token added.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf_token().await;
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &token));
        self.post_form(path, &fields).await
    }

    /// The same, as htmx would send it: the token in `X-CSRF-Token`.
    pub async fn hx_submit(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf_token().await;
        self.client
            .post(self.url(path))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", token)
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    pub async fn signup(&self, username: &str, password: &str) -> Response {
        self.submit(
            "/signup",
            &[
                ("username", username),
                ("password", password),
                ("password_confirm", password),
            ],
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.submit("/login", &[("username", username), ("password", password)])
            .await
    }

    /// Logs in with "Remember me" ticked, as a browser sends it.
    pub async fn login_remembered(&self, username: &str, password: &str) -> Response {
        self.submit(
            "/login",
            &[
                ("username", username),
                ("password", password),
                ("remember", "on"),
            ],
        )
        .await
    }

    pub async fn logout(&self) -> Response {
        self.submit("/logout", &[]).await
    }

    /// Publishes a post without htmx and returns its id.
    pub async fn publish(&self, title: &str, body: &str) -> String {
        let resp = self
            .submit("/posts", &[("title", title), ("body", body)])
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "publishing {title:?}");
        location(&resp)
            .and_then(|l| l.strip_prefix("/posts/").map(str::to_owned))
            .expect("a redirect to the new post")
    }

    /// POSTs JSON to the API.
    pub async fn api_post(&self, path: &str, body: serde_json::Value) -> Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("POST")
    }

    /// The CSRF token, as the API gives it.
    pub async fn api_csrf(&self) -> String {
        let resp = self.get("/api/session/csrf").await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: serde_json::Value = resp.json().await.expect("JSON");
        body["token"].as_str().expect("a token").to_owned()
    }

    /// A state-changing API call with this client's cookie and CSRF token.
    pub async fn api_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Response {
        let token = self.api_csrf().await;
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("X-CSRF-Token", token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    /// Signs up and logs in through the API.
    pub async fn api_user(&self, username: &str) {
        let resp = self
            .api_post(
                "/api/users",
                serde_json::json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "API sign-up of {username}"
        );
        let resp = self
            .api_post(
                "/api/session",
                serde_json::json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "API login of {username}");
    }

    /// Signs up `username` (logged in afterwards) and checks it worked.
    pub async fn signed_up(&self, username: &str) {
        let resp = self.signup(username, PASSWORD).await;
        assert_eq!(
            resp.status(),
            StatusCode::SEE_OTHER,
            "sign-up of {username}"
        );
    }

    /// Logs in `username` with [`PASSWORD`] and checks it worked.
    pub async fn logged_in(&self, username: &str) {
        let resp = self.login(username, PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "login of {username}");
    }

    /// The public id of this browser's session, as the API lists it.
    pub async fn session_id(&self) -> uuid::Uuid {
        sessions_listed(self)
            .await
            .into_iter()
            .find(|(_, current)| *current)
            .map(|(id, _)| id)
            .expect("this browser's session is listed")
    }
}

/// The value of the first `csrf_token` input in `html`.
pub fn csrf_token_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\" value=\"")?;
    let rest = &html[at + "name=\"csrf_token\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// Every `Set-Cookie` header of a response.
/// The ids of the posts in an HTML page or fragment, in order.
pub fn post_ids(html: &str) -> Vec<String> {
    html.split(r#"<article id="post-"#)
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

/// The address of the link marked `rel` (`next`, `prev`) in a page, if any.
fn rel_link(html: &str, rel: &str) -> Option<String> {
    let at = html.find(&format!(r#"rel="{rel}""#))?;
    let before = &html[..at];
    let href = before.rfind("href=\"")?;
    let url = &before[href + 6..];
    Some(url[..url.find('"')?].replace("&#x2f;", "/"))
}

/// The "Older posts" address in a feed page, if any.
pub fn older_link(html: &str) -> Option<String> {
    rel_link(html, "next")
}

/// The "Newer posts" address in a feed page, if any.
pub fn newer_link(html: &str) -> Option<String> {
    rel_link(html, "prev")
}

/// The message of an htmx answer that swaps nothing in place of its target
/// (so that the element goes) and only puts a message into the page's live
/// region (`#messages`, out of band, its content only); `None` for anything
/// else.
pub fn only_announcement(html: &str) -> Option<String> {
    let message = html
        .trim()
        .strip_prefix(r#"<div id="messages" hx-swap-oob="innerHTML"><p class="message">"#)?
        .strip_suffix("</p></div>")?;
    (!message.contains('<')).then(|| message.to_owned())
}

pub fn set_cookies(resp: &Response) -> Vec<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

/// The `Set-Cookie` header for cookie `name`, if any.
pub fn set_cookie(resp: &Response, name: &str) -> Option<String> {
    set_cookies(resp)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// The value a `Set-Cookie` header sets.
pub fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap_or_default();
    pair.split_once('=')
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

pub fn location(resp: &Response) -> Option<String> {
    resp.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub fn header_of(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The sessions `/api/sessions` lists for a browser: (id, current).
pub async fn sessions_listed(browser: &Browser) -> Vec<(uuid::Uuid, bool)> {
    let resp = browser.get("/api/sessions").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let list: serde_json::Value = resp.json().await.expect("JSON");
    list.as_array()
        .expect("a list")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().parse().unwrap(),
                s["current"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// The base URL a `tangerine` process serves on, read off its start-up log
/// line ("Tangerine is serving addr=…"); `None` for any other line.
pub fn serving_address(line: &str) -> Option<String> {
    let at = line.find("addr=")?;
    let addr = line[at + 5..].split_whitespace().next()?;
    line.contains("Tangerine is serving")
        .then(|| format!("http://{addr}"))
}

/// Reads `child`'s log (its stderr, piped) until it says where it serves,
/// and returns that base URL; the rest of the log is drained in the
/// background, so that the server never blocks on a full pipe.
pub fn wait_until_serving(child: &mut Child) -> String {
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let address = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("exited before serving:\n{}", seen.join("\n")))
            .expect("a readable log line");
        if let Some(address) = serving_address(&line) {
            break address;
        }
        seen.push(line);
    };
    std::thread::spawn(move || lines.for_each(drop));
    address
}

/// The server process, killed when the test ends however it ends.
pub struct Server {
    pub child: Child,
    pub address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the `tangerine` binary on port 0 with `args`, and with
/// `RLIMIT_NOFILE` at `max_files` when given.
pub fn serve_binary(database_url: &str, args: &[&str], max_files: Option<u64>) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tangerine"));
    command
        .args(["--addr", "127.0.0.1:0", "--database-url", database_url])
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(files) = max_files {
        // SAFETY: setrlimit is async-signal-safe, and nothing else runs here.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: files,
                    rlim_max: files,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = command.spawn().expect("the binary starts");
    let address = wait_until_serving(&mut child);
    Server { child, address }
}

/// CPU time the process has used (user and system), from `/proc`.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / per_second)
}

/// An SMTP server of the test's own (aiosmtpd, through
/// `tests/http/smtp_sink.py`), writing each message it receives to a folder.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    pub dir: std::path::PathBuf,
}

impl SmtpSink {
    /// Starts the server; None (and a line saying the test is skipped) when
    /// Python or aiosmtpd is missing. `.ci/run` installs both.
    pub fn start() -> Option<Self> {
        Self::start_on(None)
    }

    /// The same, on `port` when given.
    pub fn start_on(port: Option<u16>) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("tangerine-smtp-{}", Uuid::new_v4().simple()));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/http/smtp_sink.py");
        let child = Command::new("python3")
            .arg(script)
            .arg(&dir)
            .args(port.map(|p| p.to_string()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("skipped: python3 is not installed (needed for the SMTP test server)");
            return None;
        };
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        match line.trim().parse::<u16>() {
            Ok(port) => Some(Self { child, port, dir }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                eprintln!("skipped: aiosmtpd is not installed (pip install aiosmtpd)");
                None
            }
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The messages in `dir` (`.eml` files), oldest first.
pub fn mails_in(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    names.sort();
    names
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

/// Waits (up to 10 s) until `dir` holds at least `n` messages; returns them.
pub async fn wait_for_mails(dir: &std::path::Path, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let mails = mails_in(dir);
        if mails.len() >= n {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "expected {n} messages in {}, found {:?}",
        dir.display(),
        mails_in(dir)
    );
}

/// The path of the first link in `mail` under `prefix` (such as
/// `/password/reset/`), with its token.
pub fn link_in(mail: &str, prefix: &str) -> String {
    let pattern = format!(
        r"https?://[^\s/]+(?:/[^\s]*)?({}[A-Za-z0-9_-]{{43}})",
        regex::escape(prefix)
    );
    let re = regex::Regex::new(&pattern).expect("a pattern");
    // Undo quoted-printable's soft line breaks, should a message use it.
    let mail = mail.replace("=\r\n", "").replace("=\n", "");
    re.captures(&mail)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| panic!("no {prefix} link in {mail}"))
}

impl TestApp {
    /// Signs `name` up in the first browser with address `email`, and
    /// follows the verification link mailed to `mail_dir` (the app's own
    /// unless it sends through SMTP).
    pub async fn verified_user(&self, name: &str, email: &str, mail_dir: &std::path::Path) {
        let before = mails_in(mail_dir).len();
        let resp = self
            .submit(
                "/signup",
                &[
                    ("username", name),
                    ("email", email),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "sign-up of {name}");
        let mails = wait_for_mails(mail_dir, before + 1).await;
        let link = link_in(&mails[before], "/email/verify/");
        let resp = self.submit(&link, &[]).await;
        assert_eq!(resp.status(), StatusCode::OK, "verifying {email}");
    }
}

/// Waits (up to 10 s) for a message in `dir` that contains `needle`;
/// returns the newest such.
pub async fn wait_for_mail(dir: &std::path::Path, needle: &str) -> String {
    for _ in 0..200 {
        if let Some(mail) = mails_in(dir).into_iter().rev().find(|m| m.contains(needle)) {
            return mail;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no message with {needle:?} in {}: {:?}",
        dir.display(),
        mails_in(dir)
    );
}
