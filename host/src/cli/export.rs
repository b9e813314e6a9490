//! `tokengate token export --for proxy-wasm`: the filter's configuration from the live
//! tokens and the gateway settings, and its HMAC key in a file of its own.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::Args;

use crate::config::ServeArgs;
use crate::config::file::Origins;
use crate::export;
use crate::store::Store;

/// `tokengate token export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export for.
    #[arg(long = "for", value_enum)]
    pub target: ExportTarget,
    /// File to write the configuration to (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// File to write the filter's HMAC key to (hex, mode 0600).
    #[arg(long)]
    pub key_out: Option<PathBuf>,
    /// The gateway settings the filter applies.
    #[command(flatten)]
    pub settings: Box<ServeArgs>,
}

/// Consumers of `tokengate token export`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportTarget {
    /// The Envoy-style proxy-wasm filter (`policy/proxy-wasm`).
    ProxyWasm,
}

/// Writes the export.
pub(super) async fn run(args: ExportArgs, origins: &Origins) -> Result<()> {
    let ExportTarget::ProxyWasm = args.target;
    let config = args
        .settings
        .into_config()
        .map_err(|err| origins.locate(err))?;
    let store = Store::open(&config.data_dir, &config.store)
        .await
        .with_context(|| {
            format!(
                "opening the store (data directory {})",
                config.data_dir.display()
            )
        })?;
    let filter = export::FilterSettings::from_config(&config);
    let exported = export::proxy_wasm_config(&store, &filter).await?;
    let text = serde_json::to_string_pretty(&exported)?;
    match args.out {
        Some(path) => std::fs::write(&path, text + "\n")
            .with_context(|| format!("writing {}", path.display()))?,
        None => println!("{text}"),
    }
    if let Some(path) = args.key_out {
        let key = export::filter_key(&config.data_dir)?;
        write_private(&path, key.expose())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Writes a secret to a new file only its owner can read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}
