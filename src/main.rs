use std::process::ExitCode;

/// mimalloc instead of glibc's allocator: a page view allocates many small
/// values on several threads, where glibc's arenas spend their time in locks.
/// (Version 2, which hands freed memory back to the system soon, such as a
/// login's 19 MiB; without transparent huge pages, which inflate a small
/// server's resident memory.)
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, error::ErrorKind};
use tangerine::{config::Cli, store::target::passwords_in, telemetry};

/// What a configuration that cannot work exits with (as clap does).
const EXIT_CONFIG: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    keep_passwords_secret();
    let invocation = match Cli::try_parse()
        .map_err(one_line)
        .and_then(|cli| cli.invocation().map_err(|e| e.to_string()))
    {
        Ok(invocation) => invocation,
        Err(message) => {
            eprintln!("tangerine: {}", telemetry::redact(&message));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init();
    telemetry::install_panic_hook();
    match tangerine::run(invocation).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tangerine: {}", telemetry::redact(&e.to_string()));
            ExitCode::from(e.exit_code())
        }
    }
}

/// Every password in a URL on the command line, in `DATABASE_URL` or in
/// `TANGERINE_SMTP_URL` is kept
/// out of every message from the start, before anything could print one:
/// even a URL too broken to read as one, or given where no URL belongs.
fn keep_passwords_secret() {
    let args = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    let envs = ["DATABASE_URL", "TANGERINE_SMTP_URL"]
        .into_iter()
        .filter_map(|name| std::env::var(name).ok());
    for arg in args.chain(envs) {
        for password in passwords_in(&arg) {
            telemetry::keep_secret(&password);
        }
    }
}

/// clap's error in one line (its usage and "For more information" lines
/// left out); help and version are printed as they are, and exit 0.
fn one_line(err: clap::Error) -> String {
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    let rendered = err.render().to_string();
    let lines: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .collect();
    let joined = lines.join("; ");
    let message = joined.strip_prefix("error: ").unwrap_or(&joined);
    format!("{message} (see tangerine --help)")
}
