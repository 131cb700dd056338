//! The ceiling of the HTTP stack: a bare poem handler that answers every
//! request with the same page, read once from a file (the benchmark gives it
//! Tangerine's own logged-in homepage, so the bytes on the wire match).
//!
//!   bench-bare PAGE_FILE ADDR

use anyhow::Context;
use poem::{Route, Server, endpoint::make_sync, listener::TcpListener, web::Html};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let page = args.next().context("usage: bench-bare PAGE_FILE ADDR")?;
    let addr = args.next().context("usage: bench-bare PAGE_FILE ADDR")?;
    let body = std::fs::read_to_string(&page).with_context(|| format!("Failed to read {page}"))?;
    let app = Route::new().at("/", make_sync(move |_| Html(body.clone())));
    eprintln!("bench-bare: serving {page} on {addr}");
    Server::new(TcpListener::bind(addr)).run(app).await?;
    Ok(())
}
