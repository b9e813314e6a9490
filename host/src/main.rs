//! The `tokengate` binary: parses the command line, sets up logging and runs.

#![forbid(unsafe_code)]

use std::io::IsTerminal as _;

use anyhow::Context as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Log level when `RUST_LOG` is unset.
const DEFAULT_LOG: LevelFilter = LevelFilter::INFO;

fn main() -> anyhow::Result<()> {
    let cli = tokengate::cli::parse(std::env::args_os())?;
    // `RUST_LOG`: a level and `target=level` pairs, e.g. `info,tokengate=debug`.
    let filter = match std::env::var("RUST_LOG") {
        Ok(text) if !text.trim().is_empty() => text
            .parse::<Targets>()
            .with_context(|| format!("RUST_LOG={text:?}: expected level,target=level,…"))?,
        _ => Targets::new().with_default(DEFAULT_LOG),
    };
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .with(filter)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(tokengate::cli::run(cli))
}
