//! `tokengate migrate`: copies a SQLite data directory's tokens and audit log into an
//! empty PostgreSQL database, showing progress on a terminal.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;

use super::progress;
use crate::store::postgres::Postgres;
use crate::store::{Backend as _, DB_FILE, KEY_FILE, Location, Store};

/// `tokengate migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The source: `sqlite:DATA_DIR`, the directory holding tokengate.db and server.key.
    #[arg(long)]
    pub from: String,
    /// The target: `postgres://user:password@host:port/database` (empty).
    #[arg(long)]
    pub to: String,
}

/// Copies the data.
pub(super) async fn run(args: MigrateArgs) -> Result<()> {
    let Some(source) = args.from.strip_prefix("sqlite:") else {
        bail!("--from: expected sqlite:DATA_DIR, got {:?}", args.from);
    };
    let mut data_dir = PathBuf::from(source);
    if data_dir.file_name() == Some(std::ffi::OsStr::new(DB_FILE)) {
        data_dir.pop();
    }
    if !data_dir.join(DB_FILE).is_file() {
        bail!("--from: {} holds no {DB_FILE}", data_dir.display());
    }
    let Location::Postgres(target) =
        Location::parse(&args.to).map_err(|err| anyhow::anyhow!("--to: {err}"))?
    else {
        bail!("--to: expected a postgres:// URL");
    };
    let source = Store::open(&data_dir, &Location::Sqlite)
        .await
        .with_context(|| format!("opening {}", data_dir.display()))?;
    let target = Postgres::open(&target)
        .await
        .context("opening the PostgreSQL database")?;
    let key_id = source.key_id();
    if let Some(stored) = target.claim_key(&key_id).await? {
        bail!(
            "the PostgreSQL database belongs to server key {stored}, not {key_id} of {}",
            data_dir.join(KEY_FILE).display()
        );
    }
    let records = source
        .count_audit(&crate::audit::AuditFilter::default())
        .await
        .context("counting the audit records")?;
    let bar = progress::bar(records, "audit records");
    let copied = target
        .import_from_reporting(source.backend().as_ref(), &|copied| {
            bar.set_position(u64::try_from(copied.records).unwrap_or(u64::MAX));
        })
        .await
        .context("copying into PostgreSQL")?;
    bar.finish_and_clear();
    println!(
        "copied {} tokens and {} audit records.\n\
         Start every gateway with --store <the URL> and a copy of {} (mode 0600) in its \
         --data-dir: tokens are stored as digests under that key.",
        copied.tokens,
        copied.records,
        data_dir.join(KEY_FILE).display()
    );
    Ok(())
}
