use std::process::ExitCode;

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
