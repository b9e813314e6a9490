//! The `tokengate` command line, one module per command: run the gateway or the demo,
//! manage tokens and read the audit log in the data directory, explain a decision.
//!
//! [`parse`] reads the arguments and, with `--config FILE`, the configuration file
//! under them; [`run`] runs the command.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

use crate::audit::{self, AuditRecord};
use crate::config::file::{ConfigFile, Origins};
use crate::config::{ServeArgs, default, env};
use crate::store::{Location, Store};

mod audit_log;
mod check;
mod completions;
mod config_file;
mod demo;
mod export;
mod filter;
mod logging;
mod migrate;
mod progress;
mod serve;
mod table;
pub mod time;
mod token;

pub use serve::shutdown_signal;
pub use time::format_time;

/// tokengate: revocable, restricted API tokens in front of any REST API.
///
/// Clients use a token instead of a password (`curl -u USER:TOKEN ...`, or
/// `Authorization: Bearer TOKEN`). tokengate checks it, applies the token's
/// restrictions, writes the audit log and forwards allowed requests to the upstream
/// as that user.
///
/// Start with `tokengate demo`, then `tokengate serve --upstream URL --admins NAME`.
/// Every `serve` flag can also be set with its TOKENGATE_* variable or in a
/// configuration file (`--config FILE`).
#[derive(Debug, Parser)]
#[command(name = "tokengate", version, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Which settings came from the configuration file, to point at their lines.
    #[arg(skip)]
    pub origins: Origins,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway in front of an upstream REST API.
    Serve(Box<ServeArgs>),
    /// Try tokengate locally: a gateway in front of a built-in echo server, two
    /// tokens and curl commands to paste.
    Demo(demo::DemoArgs),
    /// Create, list, revoke or export tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Read the audit log (filters, paging, or --follow), or prune it.
    Audit(audit_log::AuditArgs),
    /// Explain whether a token's restriction lines admit a method and URL.
    Check(check::CheckArgs),
    /// Copy tokens and the audit log from a SQLite data directory into an empty
    /// PostgreSQL database, for several gateways to share.
    Migrate(migrate::MigrateArgs),
    /// Check a configuration file, or print one with every setting.
    #[command(subcommand)]
    Config(config_file::ConfigCommand),
    /// Print a shell completion script: `source <(tokengate completions bash)`.
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff), or write one per command into a directory.
    Man(completions::ManArgs),
    /// Manage what proxy-wasm filters present to the gateway to pull their configuration
    /// and push their audit records (`/tokengate/filter/…`).
    #[command(subcommand)]
    Filter(filter::FilterCommand),
}

/// Where the data lives (shared by the commands that read it).
#[derive(Debug, Clone, Args)]
pub struct DataDir {
    /// Directory of the server key and (by default) the SQLite file.
    #[arg(long, env = env::DATA_DIR, default_value = default::DATA_DIR)]
    pub data_dir: PathBuf,
    /// The database: `sqlite` (in the data directory) or a PostgreSQL URL.
    #[arg(long, env = env::STORE, default_value = default::STORE, value_parser = crate::config::store_parser())]
    pub store: Location,
    /// The gateway's configuration file, for its `data_dir` and `store`.
    #[arg(long, env = env::CONFIG, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Parses the command line. With `--config FILE` (or `TOKENGATE_CONFIG`) the file's
/// settings become the defaults of a second parse, under the flags and environment.
/// Usage errors, `--help` and `--version` exit here, as clap does.
pub fn parse<I, T>(args: I) -> Result<Cli>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let command = Cli::command();
    // A first look, for the file only: what is missing may be in the file.
    let first = command
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(&args)
        .unwrap_or_else(|err| err.exit());
    let path = subcommand_path(&first);
    let config = leaf_matches(&first)
        .try_get_one::<PathBuf>("config")
        .ok()
        .flatten()
        .cloned();
    let (matches, origins) = match config {
        None => (
            command
                .try_get_matches_from(&args)
                .unwrap_or_else(|err| err.exit()),
            Origins::default(),
        ),
        Some(file) => {
            let file = ConfigFile::read(&file, &serve_command())?;
            let command = with_subcommand(command, &path, &|leaf| file.apply(leaf));
            let matches = command
                .clone()
                .try_get_matches_from(&args)
                .unwrap_or_else(|err| err.exit());
            let origins = match find_subcommand(&command, &path) {
                Some(leaf) => file.origins(leaf, leaf_matches(&matches)),
                None => Origins::default(),
            };
            (matches, origins)
        }
    };
    ServeArgs::refuse_secret_flags(leaf_matches(&matches))?;
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    cli.origins = origins;
    Ok(cli)
}

/// `tokengate serve` as clap defines it: the settings the configuration file may hold.
fn serve_command() -> clap::Command {
    Cli::command()
        .find_subcommand("serve")
        .cloned()
        .unwrap_or_else(|| clap::Command::new("serve"))
}

/// The names of the subcommands chosen, outermost first.
fn subcommand_path(matches: &clap::ArgMatches) -> Vec<String> {
    let mut path = Vec::new();
    let mut current = matches;
    while let Some((name, sub)) = current.subcommand() {
        path.push(name.to_owned());
        current = sub;
    }
    path
}

/// The matches of the innermost subcommand.
fn leaf_matches(matches: &clap::ArgMatches) -> &clap::ArgMatches {
    let mut current = matches;
    while let Some((_, sub)) = current.subcommand() {
        current = sub;
    }
    current
}

fn find_subcommand<'a>(command: &'a clap::Command, path: &[String]) -> Option<&'a clap::Command> {
    path.iter()
        .try_fold(command, |command, name| command.find_subcommand(name))
}

/// `command` with `change` applied to the subcommand at `path`.
fn with_subcommand(
    command: clap::Command,
    path: &[String],
    change: &dyn Fn(clap::Command) -> clap::Command,
) -> clap::Command {
    match path.split_first() {
        None => change(command),
        Some((name, rest)) => {
            command.mut_subcommand(name, |sub| with_subcommand(sub, rest, change))
        }
    }
}

/// The `tokengate` binary: parses the command line, sets up logging, runs the command
/// on a multi-threaded runtime.
pub fn main() -> Result<()> {
    let cli = parse(std::env::args_os())?;
    logging::init()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

/// Runs a command.
pub async fn run(cli: Cli) -> Result<()> {
    let origins = cli.origins;
    match cli.command {
        Command::Serve(args) => serve::run(*args, &origins).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Token(command) => token::run(command, &origins).await,
        Command::Audit(args) => audit_log::run(args).await,
        Command::Check(args) => check::run(args).await,
        Command::Migrate(args) => migrate::run(args).await,
        Command::Config(command) => config_file::run(command),
        Command::Completions(args) => completions::completions(&args),
        Command::Man(args) => completions::man(&args),
        Command::Filter(command) => filter::run(command).await,
    }
}

async fn open_store(data: &DataDir) -> Result<Store> {
    Store::open(&data.data_dir, &data.store)
        .await
        .with_context(|| {
            format!(
                "opening the store (data directory {})",
                data.data_dir.display()
            )
        })
}

/// Who runs the CLI, for `createdBy` and the audit log.
fn cli_actor() -> String {
    match std::env::var("USER") {
        Ok(user) if !user.is_empty() => format!("cli:{user}"),
        _ => "cli".into(),
    }
}

/// Records an administrative action taken on the command line in the audit log.
async fn audit_cli_action(
    store: &Store,
    policy_digest: &str,
    action: String,
    token_id: Option<String>,
) -> Result<()> {
    let record = AuditRecord {
        time: crate::now_ms(),
        token_id,
        user: Some(cli_actor()),
        client_ip: "cli".into(),
        method: "CLI".into(),
        url: String::new(),
        decision: audit::ALLOW,
        action: Some(action),
        component: policy_digest.into(),
        ..AuditRecord::default()
    };
    store
        .backend()
        .commit_audit(vec![audit::Write::Append(Box::new(record))])
        .await
        .context("writing the audit log")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn secrets_are_refused_as_flags() {
        let parsed = parse([
            "tokengate",
            "serve",
            "--upstream",
            "http://up",
            "--upstream-authorization",
            "Basic x",
        ]);
        let err = parsed.err().map(|err| err.to_string()).unwrap_or_default();
        assert!(
            err.starts_with("TOKENGATE_UPSTREAM_AUTHORIZATION (--upstream-authorization): not accepted as a flag"),
            "{err}"
        );
    }
}
