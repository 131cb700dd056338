//! The `tangerine` binary as an operator uses it: subcommands, flags,
//! environment variables, signals.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use reqwest::StatusCode;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_tangerine");

/// Starts `tangerine serve` on port 0 and returns it with its address, read
/// off its start-up log line.
fn serve(database_url: &str, envs: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--database-url", database_url])
        .env_remove("TANGERINE_SECURE_COOKIES")
        .envs(envs.iter().copied())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let address = wait_until_serving(&mut child);
    (child, address)
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn serve_answers_and_exits_0_on_sigterm() {
    let database = TestDatabase::fresh().await;
    let (mut child, address) = serve(&database.url, &[]);
    let resp = bare_client()
        .get(format!("{address}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    sigterm(&child);
    let status = wait_with_timeout(&mut child, Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
}

/// The signal handlers are in place before the server says it is serving: a
/// SIGTERM that comes at once still ends it gracefully, with exit code 0.
#[tokio::test]
async fn sigterm_right_after_start_up_exits_0() {
    let database = TestDatabase::fresh().await;
    for _ in 0..3 {
        let (mut child, _) = serve(&database.url, &[]);
        sigterm(&child);
        let status = wait_with_timeout(&mut child, Duration::from_secs(15));
        assert_eq!(status.code(), Some(0));
    }
}

#[tokio::test]
async fn switch_environment_variables_accept_true_false_1_and_0() {
    let database = TestDatabase::fresh().await;
    for (value, secure) in [("1", true), ("true", true), ("0", false), ("false", false)] {
        let (mut child, address) = serve(&database.url, &[("TANGERINE_SECURE_COOKIES", value)]);
        let resp = bare_client()
            .get(format!("{address}/login"))
            .send()
            .await
            .unwrap();
        let names = set_cookies(&resp);
        let expected = if secure {
            "__Host-tangerine_csrf="
        } else {
            "tangerine_csrf="
        };
        assert!(
            names.iter().any(|c| c.starts_with(expected)),
            "{value}: {names:?}"
        );
        sigterm(&child);
        wait_with_timeout(&mut child, Duration::from_secs(15));
    }
}

const MIGRATIONS: [&str; 12] = [
    "m20261129_000001_create_users",
    "m20261129_000002_create_sessions",
    "m20261129_000003_create_signing_keys",
    "m20261129_000004_create_posts",
    "m20261129_000005_add_sessions_remember",
    "m20261129_000006_create_login_failures",
    "m20261203_000007_add_credential_epochs",
    "m20261203_000008_create_rate_limits",
    "m20261204_000009_render_headings_below_titles",
    "m20261205_000010_add_roles_and_moderation",
    "m20261206_000011_add_emails_and_recovery",
    "m20261207_000012_create_api_tokens",
];

/// `migrate` says which migrations it applied, one a line, or that none
/// were pending; the database flag works before and after it.
#[tokio::test]
async fn migrate_says_what_it_applied_or_that_none_were_pending() {
    let database = TestDatabase::fresh().await;
    let out = Command::new(BIN)
        .args(["migrate", "--database-url", &database.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let applied: String = MIGRATIONS
        .iter()
        .map(|m| format!("applied {m}\n"))
        .collect();
    assert_eq!(String::from_utf8_lossy(&out.stdout), applied);
    // Applying them again finds nothing to do.
    let again = Command::new(BIN)
        .args(["--database-url", &database.url, "migrate"])
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "no migrations pending\n"
    );
}

#[tokio::test]
async fn clear_sessions_deletes_expired_sessions_and_prints_how_many() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    app.insert_expired_sessions(3).await;
    assert_eq!(app.count("sessions").await, 4);

    // Flags after the subcommand work as well as before it.
    let out = Command::new(BIN)
        .args(["clear-sessions", "--database-url", &app.database.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3");
    assert_eq!(app.count("sessions").await, 1);
    assert!(app.get_text("/").await.contains("Welcome, alice"));

    let out = Command::new(BIN)
        .args(["--database-url", &app.database.url, "clear-sessions"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
}

#[tokio::test]
async fn a_bad_flag_value_is_a_clear_error() {
    let out = Command::new(BIN)
        .args(["--session-idle", "forever", "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--session-idle") && err.contains("14d"),
        "{err}"
    );
}

#[tokio::test]
async fn logs_carry_no_password_secret_or_token() {
    let database = TestDatabase::fresh().await;
    let mut child = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--database-url", &database.url])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let address = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a start-up line");
        log.push(line.clone());
        if let Some(address) = serving_address(&line) {
            break address;
        }
    };
    let browser = Browser::new(address);
    let resp = browser.signup("alice", PASSWORD).await;
    let secret = cookie_value(&set_cookie(&resp, "tangerine_session").unwrap());
    let token = browser.csrf_token().await;
    browser.logout().await;
    browser.login("alice", "a wrong password").await;
    sigterm(&child);
    wait_with_timeout(&mut child, Duration::from_secs(15));
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
        log.push(line);
    }
    let log = log.join("\n");
    assert!(
        log.contains("POST /login 422"),
        "one line per request:\n{log}"
    );
    for secret_thing in [PASSWORD, "a wrong password", &secret, &token] {
        assert!(
            !log.contains(secret_thing),
            "{secret_thing} leaked into:\n{log}"
        );
    }
}

#[tokio::test]
async fn listening_beyond_loopback_without_secure_cookies_warns() {
    let database = TestDatabase::fresh().await;
    let mut child = Command::new(BIN)
        .args(["--addr", "0.0.0.0:0", "--database-url", &database.url])
        .env_remove("TANGERINE_SECURE_COOKIES")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut warned = false;
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        warned |= line.contains("WARN") && line.contains("--secure-cookies");
        if line.contains("Tangerine is serving") {
            break;
        }
    }
    sigterm(&child);
    wait_with_timeout(&mut child, Duration::from_secs(15));
    assert!(warned, "no warning about --secure-cookies");
}

/// A folder of its own to run the binary in, removed when dropped.
pub struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("tangerine-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&path).unwrap();
        Self(path)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// The names of the files in it.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a run of the binary that ends by itself left behind.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs the binary with `args` in `dir`, with none of Tangerine's
/// variables from the test's own environment, and waits for it (at most 60 s).
fn tangerine(args: &[&str], dir: &std::path::Path, envs: &[(&str, &str)]) -> Ran {
    let mut command = Command::new(BIN);
    command.args(args).current_dir(dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("TANGERINE_") || name == "DATABASE_URL" || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command.envs(envs.iter().copied());
    let started = std::time::Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).unwrap();
        s
    });
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut err, &mut stderr).unwrap();
    let status = wait_with_timeout(&mut child, Duration::from_secs(60));
    Ran {
        code: status.code(),
        stdout: reader.join().unwrap(),
        stderr,
        took: started.elapsed(),
    }
}

/// Every configuration that cannot work is one line on standard error that
/// names the flag and what would work, with exit code 2, and nothing is
/// touched: no database file appears.
#[test]
fn configuration_mistakes_are_one_line_with_exit_code_2_and_touch_nothing() {
    let durations = "use a duration such as 90s, 15m, 12h or 14d";
    let forms =
        "use HOST:PORT, :PORT or PORT, such as 127.0.0.1:3000, localhost:3000, [::1]:3000 or :3000";
    let urls = "use sqlite://FILE or postgres://USER:PASSWORD@HOST:PORT/DATABASE";
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["--session-max-age", "300000y"],
            "invalid value '300000y' for '--session-max-age <DURATION>': longer than 100 years, the longest a duration may be; use at most 100y (see tangerine --help)".into(),
        ),
        (
            vec!["--session-idle", "300000y"],
            "invalid value '300000y' for '--session-idle <DURATION>': longer than 100 years, the longest a duration may be; use at most 100y (see tangerine --help)".into(),
        ),
        (
            vec!["--login-window", "300000y"],
            "invalid value '300000y' for '--login-window <DURATION>': longer than 100 years, the longest a duration may be; use at most 100y (see tangerine --help)".into(),
        ),
        (
            vec!["--session-idle", "-5m"],
            format!("invalid value '-5m' for '--session-idle <DURATION>': a duration cannot be negative; {durations} (see tangerine --help)"),
        ),
        (
            vec!["--session-idle=-5m"],
            format!("invalid value '-5m' for '--session-idle <DURATION>': a duration cannot be negative; {durations} (see tangerine --help)"),
        ),
        (
            vec!["serve", "--session-refresh", "-1s"],
            format!("invalid value '-1s' for '--session-refresh <DURATION>': a duration cannot be negative; {durations} (see tangerine --help)"),
        ),
        (
            vec!["--session-idle", "40d", "--session-max-age", "1d"],
            "--session-idle (40d) is longer than --session-max-age (1d); make --session-idle at most 1d, or --session-max-age at least 40d".into(),
        ),
        (
            vec!["--session-idle-short", "90d"],
            "--session-idle-short (90d) is longer than --session-idle (14d, its default); make --session-idle-short at most 14d, or --session-idle at least 90d".into(),
        ),
        (
            vec!["--session-refresh", "12h"],
            "--session-refresh (12h) is not shorter than --session-idle-short (12h, its default): sessions would end between refreshes; make --session-refresh shorter than 12h".into(),
        ),
        (
            vec!["--addr", "localhost"],
            format!("invalid value 'localhost' for '--addr <HOST:PORT>': no port; {forms} (see tangerine --help)"),
        ),
        (
            vec!["--addr", "localhost:70000"],
            "invalid value 'localhost:70000' for '--addr <HOST:PORT>': the port must be a number from 0 to 65535 (see tangerine --help)".into(),
        ),
        (
            vec!["--database-url", "postgress://tangerine:hunter2@127.0.0.1:5432/x"],
            format!("--database-url has an unknown scheme `postgress:`; {urls}"),
        ),
        (
            vec!["migrate", "--database-url", "mysql://root:hunter2@localhost/x"],
            format!("--database-url has an unknown scheme `mysql:`; {urls}"),
        ),
        (
            vec!["--database-url", "sqlite:"],
            "--database-url names no SQLite file; use sqlite://FILE, such as sqlite://tangerine.db".into(),
        ),
        (
            vec!["--database-url", "postgres://postgres@127.0.0.1:5432/"],
            "--database-url names no PostgreSQL database; add its name, as in postgres://USER:PASSWORD@HOST:5432/tangerine".into(),
        ),
        (
            vec!["--database-url", "postgres://postgres@127.0.0.1:5432/x", "--sqlite-synchronous", "full"],
            "--sqlite-synchronous applies to SQLite only, and --database-url names a PostgreSQL database (whose durability is its own setting, synchronous_commit); leave --sqlite-synchronous out".into(),
        ),
        (
            vec!["--sqlite-synchronous", "off"],
            "invalid value 'off' for '--sqlite-synchronous <MODE>'; [possible values: normal, full] (see tangerine --help)".into(),
        ),
        (
            vec!["--session-idle", "2h", "migrate"],
            "`migrate` does not use --session-idle (a flag of `serve`); it takes only --database-url and --sqlite-synchronous".into(),
        ),
        (
            vec!["clear-sessions", "--trust-proxy"],
            "unexpected argument '--trust-proxy' found (see tangerine --help)".into(),
        ),
    ];
    let dir = Scratch::new();
    for (args, message) in cases {
        let ran = tangerine(&args, dir.path(), &[]);
        assert_eq!(
            (ran.code, ran.stderr.as_str()),
            (Some(2), format!("tangerine: {message}\n").as_str()),
            "{args:?}"
        );
        assert_eq!(ran.stdout, "", "{args:?}");
    }
    assert!(dir.files().is_empty(), "touched: {:?}", dir.files());
}

/// `tangerine` serving in the background, its log collected line by line.
pub struct Serving {
    child: Child,
    pub address: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Serving {
    /// Starts the binary with `args` in `dir` (none of Tangerine's variables
    /// from the test's environment, `envs` added) and waits until it serves.
    pub fn start(args: &[&str], dir: &std::path::Path, envs: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command.args(args).current_dir(dir);
        for (name, _) in std::env::vars() {
            if name.starts_with("TANGERINE_")
                || name == "DATABASE_URL"
                || name == "RUST_LOG"
                || name == "RUST_BACKTRACE"
            {
                command.env_remove(name);
            }
        }
        let mut child = command
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let address = serving_address(&line);
                kept.lock().unwrap().push(line);
                if let Some(address) = address {
                    let _ = tx.send(address);
                }
            }
        });
        let address = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address,
            Err(_) => panic!("not serving; the log:\n{}", log.lock().unwrap().join("\n")),
        };
        Self {
            child,
            address,
            log,
        }
    }

    /// The log so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Lines logged from the `from`th on.
    pub fn log_since(&self, from: usize) -> Vec<String> {
        self.log.lock().unwrap()[from..].to_vec()
    }

    /// Waits (at most 10 s) for a line of the log from the `from`th on to
    /// satisfy `wanted`, and returns it.
    pub fn wait_for_line(&self, from: usize, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.log_since(from).into_iter().find(|l| wanted(l)) {
                return line;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no such line in:\n{}",
                self.log().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit code.
    pub fn stop(mut self) -> Option<i32> {
        sigterm(&self.child);
        wait_with_timeout(&mut self.child, Duration::from_secs(15)).code()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A password given in a database URL appears in no message, however the
/// URL is wrong and wherever it is given: a scheme with a typo, another
/// database's scheme, a server that refuses, a missing database, a host that
/// does not resolve, an impossible port, a broken URL, a URL without a
/// database, a URL where no URL belongs; on the command line (with and
/// without `=`) or in `DATABASE_URL`; for every subcommand; with every log
/// line on and backtraces asked for.
#[test]
fn a_password_in_a_database_url_appears_in_no_message() {
    const MARKER: &str = "Marker-Pw-7c1e";
    let dir = Scratch::new();
    let urls = [
        format!("postgress://tangerine:{MARKER}@127.0.0.1:5432/x"),
        format!("mysql://root:{MARKER}@localhost/x"),
        format!("postgres://tangerine:{MARKER}@127.0.0.1:1/x"),
        format!("postgres://postgres:{MARKER}@127.0.0.1:5432/tangerine_no_such_database_17"),
        format!("postgres://tangerine:{MARKER}@no-such-host.invalid:5432/x"),
        format!("postgres://tangerine:{MARKER}@127.0.0.1:99999/x"),
        format!("postgres://tangerine:{MARKER}@[::1/x"),
        format!("postgres://tangerine:{MARKER}@127.0.0.1:5432"),
        format!("sqlite://tangerine:{MARKER}@/nowhere/x.db"),
    ];
    let noisy = [("RUST_LOG", "trace"), ("RUST_BACKTRACE", "full")];
    for url in &urls {
        let with_equals = format!("--database-url={url}");
        type Run<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);
        let runs: Vec<Run> = vec![
            (vec!["--addr", "127.0.0.1:0", "--database-url", url], vec![]),
            (vec!["migrate", "--database-url", url], vec![]),
            (vec!["clear-sessions", &with_equals], vec![]),
            (vec!["serve", url], vec![]),
            (vec!["--addr", "127.0.0.1:0"], vec![("DATABASE_URL", url)]),
            (vec!["migrate"], vec![("DATABASE_URL", url)]),
        ];
        for (args, mut envs) in runs {
            envs.extend(noisy);
            let ran = tangerine(&args, dir.path(), &envs);
            assert_ne!(ran.code, Some(0), "{args:?} {envs:?}");
            assert!(
                !ran.stdout.contains(MARKER) && !ran.stderr.contains(MARKER),
                "{args:?} {envs:?} showed the password:\n{}{}",
                ran.stdout,
                ran.stderr
            );
            assert_eq!(ran.stderr.lines().count(), 1, "{args:?}: {}", ran.stderr);
        }
    }
}

/// What fails when the database cannot be opened is said in one line,
/// with exit code 1, within 5 seconds, naming what to do.
#[tokio::test]
async fn database_problems_are_one_clear_line_with_exit_code_1_within_5_seconds() {
    let dir = Scratch::new();
    let here = std::fs::canonicalize(dir.path()).unwrap();
    let mut cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--addr".into(), "127.0.0.1:0".into(), "--database-url".into(), "postgres://tangerine@127.0.0.1:1/board".into()],
            "cannot connect to PostgreSQL at 127.0.0.1:1: connection refused (is PostgreSQL running there?)".into(),
        ),
        (
            vec!["migrate".into(), "--database-url".into(), "postgres://tangerine@127.0.0.1:1/board".into()],
            "cannot connect to PostgreSQL at 127.0.0.1:1: connection refused (is PostgreSQL running there?)".into(),
        ),
        (
            vec!["migrate".into(), "--database-url".into(), "sqlite:///nonexistent-17/sub/board.db".into()],
            "cannot open the SQLite database /nonexistent-17/sub/board.db: the folder /nonexistent-17/sub does not exist; create it, or choose another path with --database-url".into(),
        ),
        (
            vec!["--addr".into(), "127.0.0.1:0".into(), "--database-url".into(), "sqlite://missing/board.db".into()],
            format!("cannot open the SQLite database {}/missing/board.db: the folder {}/missing does not exist; create it, or choose another path with --database-url", here.display(), here.display()),
        ),
    ];
    if let Some(folder) = read_only_folder(dir.path()) {
        cases.push((
            vec!["--addr".into(), "127.0.0.1:0".into(), "--database-url".into(), format!("sqlite://{}/board.db", folder.display())],
            format!("cannot create the SQLite database {}/board.db: the folder {} is not writable (permission denied); make it writable for this user, or choose another path with --database-url", folder.display(), folder.display()),
        ));
    } else {
        eprintln!("skipped the read-only folder: no folder here is read-only for this user");
    }
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(admin) => {
            let url = admin.rsplit_once('/').unwrap().0.to_owned() + "/tangerine_missing_17";
            let tangerine::store::Target::Postgres(pg) =
                tangerine::store::Target::parse(&url).unwrap()
            else {
                unreachable!()
            };
            for subcommand in ["serve", "migrate", "clear-sessions"] {
                cases.push((
                    vec![subcommand.into(), "--database-url".into(), url.clone()],
                    format!("PostgreSQL at {} has no database \"tangerine_missing_17\"; create it, for example with `createdb tangerine_missing_17`", pg.server),
                ));
            }
        }
        None => eprintln!("skipped the missing PostgreSQL database: TEST_DATABASE_URL is not set"),
    }
    for (args, message) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = tangerine(&args, dir.path(), &[]);
        assert_eq!(
            (ran.code, ran.stderr.as_str()),
            (Some(1), format!("tangerine: {message}\n").as_str()),
            "{args:?}"
        );
        assert!(
            ran.took < Duration::from_secs(5),
            "{args:?} took {:?}",
            ran.took
        );
    }
    assert!(dir.files().is_empty(), "created: {:?}", dir.files());
}

/// A folder this user cannot create files in: a folder of the scratch one
/// made read-only, or, for root (whom permissions do not stop), /sys.
fn read_only_folder(scratch: &std::path::Path) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let folder = scratch.join("read-only");
    std::fs::create_dir(&folder).ok()?;
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).ok()?;
    let probe = folder.join("probe");
    if std::fs::File::create(&probe).is_err() {
        return Some(folder);
    }
    let _ = std::fs::remove_file(probe);
    let _ = std::fs::remove_dir(&folder);
    let sys = std::path::PathBuf::from("/sys");
    std::fs::File::create(sys.join("tangerine-probe"))
        .is_err()
        .then_some(sys)
        .filter(|s| s.is_dir())
}

/// `clear-sessions` cleans and does nothing else: a SQLite file that does
/// not exist is reported rather than created (a cron job with a mistyped
/// path would otherwise print 0 for ever), and a database that was never
/// migrated is reported rather than migrated.
#[tokio::test]
async fn clear_sessions_refuses_a_missing_or_unmigrated_database() {
    let dir = Scratch::new();
    let here = std::fs::canonicalize(dir.path()).unwrap();
    let ran = tangerine(
        &["clear-sessions", "--database-url", "sqlite://typo.db"],
        dir.path(),
        &[],
    );
    assert_eq!(
        (ran.code, ran.stdout.as_str(), ran.stderr.as_str()),
        (
            Some(1),
            "",
            format!(
                "tangerine: there is no SQLite database at {}/typo.db; check --database-url (`tangerine migrate` creates a new one)\n",
                here.display()
            )
            .as_str()
        )
    );
    assert!(dir.files().is_empty(), "created: {:?}", dir.files());

    let database = TestDatabase::fresh().await;
    if !database.is_postgres() {
        // An empty file: a SQLite database without tables.
        std::fs::File::create(database.url.trim_start_matches("sqlite://")).unwrap();
    }
    let target = tangerine::store::Target::parse(&database.url).unwrap();
    let ran = tangerine(
        &["clear-sessions", "--database-url", &database.url],
        dir.path(),
        &[],
    );
    assert_eq!(
        (ran.code, ran.stderr.as_str()),
        (
            Some(1),
            format!(
                "tangerine: the {target} lacks {} of this version's migrations; run `tangerine migrate` first\n",
                MIGRATIONS.len()
            )
            .as_str()
        )
    );
}

/// Each subcommand's help lists the flags it uses, and only those.
#[test]
fn each_subcommand_help_lists_only_its_own_flags() {
    let dir = Scratch::new();
    let serving = [
        "--addr",
        "--session-idle",
        "--session-idle-short",
        "--session-max-age",
        "--session-refresh",
        "--secure-cookies",
        "--expire-at-browser-close",
        "--max-sessions-per-user",
        "--login-max-failures",
        "--login-max-failures-per-address",
        "--login-window",
        "--max-pending-logins",
        "--password-min-length",
        "--signup-limit",
        "--post-limit",
        "--trust-proxy",
        "--max-connections",
        "--idle-timeout",
        "--header-timeout",
        "--body-timeout",
        "--card-cache-size",
        "--api-page-size",
    ];
    let database = ["--database-url", "--sqlite-synchronous"];
    for args in [["migrate", "--help"], ["clear-sessions", "--help"]] {
        let ran = tangerine(&args, dir.path(), &[]);
        assert_eq!(ran.code, Some(0), "{args:?}");
        for flag in database {
            assert!(ran.stdout.contains(flag), "{args:?} lacks {flag}");
        }
        for flag in serving {
            assert!(!ran.stdout.contains(flag), "{args:?} lists {flag}");
        }
    }
    for args in [&["serve", "--help"][..], &["--help"][..]] {
        let ran = tangerine(args, dir.path(), &[]);
        assert_eq!(ran.code, Some(0), "{args:?}");
        for flag in serving.iter().chain(&database) {
            assert!(ran.stdout.contains(flag), "{args:?} lacks {flag}");
        }
    }
}

/// A port in use stops the server before any database is created or
/// migrated.
#[tokio::test]
async fn a_port_in_use_is_reported_before_the_database_is_touched() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let dir = Scratch::new();
    let database = TestDatabase::fresh().await;
    let addr = format!("127.0.0.1:{port}");
    for args in [
        vec!["--addr", &addr],
        vec!["--addr", &addr, "--database-url", &database.url],
    ] {
        let ran = tangerine(&args, dir.path(), &[]);
        assert_eq!(
            (ran.code, ran.stderr.as_str()),
            (
                Some(1),
                format!("tangerine: cannot listen on {addr}: the address is already in use\n")
                    .as_str()
            ),
            "{args:?}"
        );
    }
    assert!(dir.files().is_empty(), "created: {:?}", dir.files());
    if database.is_postgres() {
        let db = tangerine::store::connect(&database.url).await.unwrap();
        let tables = sea_orm::ConnectionTrait::query_one_raw(
            &db,
            sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
            ),
        )
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
        assert_eq!(tables, 0, "the database was migrated");
    } else {
        assert!(!std::path::Path::new(database.url.trim_start_matches("sqlite://")).exists());
    }
    drop(held);
}

/// The start-up log says what runs: the database (a SQLite file by its
/// absolute path; a PostgreSQL database by server and name, never a
/// password), the migrations applied, the defaults lowered to fit, the
/// effective security settings, and the version with a URL to click.
#[tokio::test]
async fn the_start_up_log_tells_an_operator_what_runs() {
    let dir = Scratch::new();
    let here = std::fs::canonicalize(dir.path()).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let applied = format!(
        "migrations: applied {} ({})",
        MIGRATIONS.len(),
        MIGRATIONS.join(", ")
    );
    let has = |log: &[String], wanted: &str| {
        assert!(
            log.iter().any(|l| l.contains(wanted)),
            "no {wanted:?} in:\n{}",
            log.join("\n")
        )
    };

    // `:PORT` and the default database, a SQLite file in the working folder.
    let server = Serving::start(&["--addr", ":0"], dir.path(), &[]);
    let port = server.address.rsplit(':').next().unwrap().to_owned();
    server.wait_for_line(0, |l| l.contains("Tangerine is serving"));
    let log = server.log();
    has(
        &log,
        &format!(
            "database: SQLite file {}/tangerine.db (WAL, synchronous=NORMAL)",
            here.display()
        ),
    );
    has(&log, &applied);
    has(
        &log,
        "security: --secure-cookies off, --trust-proxy off, --expire-at-browser-close off, --session-idle 14d, --session-idle-short 12h, --session-max-age 30d, --session-refresh 1m, --max-sessions-per-user 50, --max-tokens-per-user 50, --login-max-failures 5, --login-max-failures-per-address 50, --login-window 15m, --max-pending-logins 64, --password-min-length 8, --signup-limit 10/1h, --post-limit 30/10m, --signups open, --invite-lifetime 7d, --public-moderation-log true, --max-connections 768, --idle-timeout 30s, --header-timeout 10s, --body-timeout 30s",
    );
    has(
        &log,
        &format!(
            "Tangerine is serving http://127.0.0.1:{port}/ version=\"{version}\" addr=127.0.0.1:{port}"
        ),
    );
    assert_eq!(server.stop(), Some(0));

    // A host name, settings given, and nothing left to migrate.
    let server = Serving::start(
        &[
            "--addr",
            "localhost:0",
            "--session-max-age",
            "1h",
            "--secure-cookies",
            "--trust-proxy",
        ],
        dir.path(),
        &[("TANGERINE_SQLITE_SYNCHRONOUS", "full")],
    );
    let port = server.address.rsplit(':').next().unwrap().to_owned();
    let log = server.log();
    has(&log, "(WAL, synchronous=FULL)");
    has(&log, "migrations: none pending");
    has(
        &log,
        "--session-idle lowered from its default 14d to 1h to fit --session-max-age 1h",
    );
    has(
        &log,
        "--session-idle-short lowered from its default 12h to 1h to fit --session-max-age 1h",
    );
    has(
        &log,
        "security: --secure-cookies on, --trust-proxy on, --expire-at-browser-close off, --session-idle 1h, --session-idle-short 1h, --session-max-age 1h,",
    );
    has(
        &log,
        &format!("Tangerine is serving http://localhost:{port}/ version=\"{version}\""),
    );
    assert_eq!(server.stop(), Some(0));

    // `PORT` alone, on the test's database: PostgreSQL by server and name.
    let database = TestDatabase::fresh().await;
    let target = tangerine::store::Target::parse(&database.url).unwrap();
    let server = Serving::start(
        &["--addr", "0", "--database-url", &database.url],
        dir.path(),
        &[],
    );
    let log = server.log();
    has(&log, &format!("database: {target}"));
    has(&log, &applied);
    has(&log, "Tangerine is serving http://127.0.0.1:");
    assert_eq!(server.stop(), Some(0));
}

/// Each access line starts with the client's address, as the login
/// throttle sees it (the proxy's entry under `--trust-proxy`, else the
/// socket's peer), and gives the bytes of the body sent.
#[tokio::test]
async fn access_lines_carry_the_client_address_and_the_bytes_sent() {
    let database = TestDatabase::fresh().await;
    let dir = Scratch::new();
    for (args, client) in [
        (
            vec!["--addr", "127.0.0.1:0", "--database-url", &database.url],
            "127.0.0.1",
        ),
        (
            vec![
                "--addr",
                "127.0.0.1:0",
                "--database-url",
                &database.url,
                "--trust-proxy",
            ],
            "203.0.113.9",
        ),
    ] {
        let server = Serving::start(&args, dir.path(), &[]);
        let from = server.log().len();
        let body = bare_client()
            .get(format!("{}/login", server.address))
            .header("X-Forwarded-For", "198.51.100.1, 203.0.113.9")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let expected = format!("{client} GET /login 200 {}B ", body.len());
        server.wait_for_line(from, |l| l.contains(&expected));
        assert_eq!(server.stop(), Some(0));
    }
}
