//! Logging to standard error, filtered by `RUST_LOG` (a level and `target=level`
//! pairs, e.g. `info,tokengate=debug`); colours only on a terminal.

use std::io::IsTerminal as _;

use anyhow::{Context as _, Result};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Log level when `RUST_LOG` is unset.
const DEFAULT_LOG: LevelFilter = LevelFilter::INFO;

/// Installs the process's logger.
pub(super) fn init() -> Result<()> {
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
    Ok(())
}
