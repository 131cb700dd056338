use std::process::ExitCode;

/// mimalloc instead of glibc's allocator: a page view allocates many small
/// values on several threads, where glibc's arenas spend their time in locks.
/// (Version 2, which hands freed memory back to the system soon, such as a
/// login's 19 MiB; without transparent huge pages, which inflate a small
/// server's resident memory.)
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use tangerine::{config::Cli, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    match tangerine::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tangerine: {e:#}");
            ExitCode::FAILURE
        }
    }
}
