//! The `tokengate` binary: parses the command line, sets up logging and runs.

#![forbid(unsafe_code)]

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Log filter when `RUST_LOG` is unset.
const DEFAULT_LOG: &str = "info";

fn main() -> anyhow::Result<()> {
    let cli = tokengate::cli::parse(std::env::args_os())?;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(tokengate::cli::run(cli))
}
