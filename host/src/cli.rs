//! The `tokengate` command line: run the gateway or the demo, manage tokens and read
//! the audit log directly in the data directory, and explain a decision.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::admin;
use crate::audit::{self, AuditFilter, AuditRecord, AuditRow};
use crate::config::{ScopeSetting, ServeArgs, default, env};
use crate::export;
use crate::policy::{
    AuthScheme, Decision, PolicyRuntime, RequestFacts, Settings, TokenFacts, TokenRules,
};
use crate::store::postgres::Postgres;
use crate::store::{Backend as _, DB_FILE, KEY_FILE, Location, Store};

/// How often `tokengate audit --follow` looks for new records.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(500);

/// tokengate: revocable, restricted API tokens in front of any REST API.
///
/// Clients use a token instead of a password (`curl -u USER:TOKEN ...`, or
/// `Authorization: Bearer TOKEN`). tokengate checks it, applies the token's
/// restrictions, writes the audit log and forwards allowed requests to the upstream
/// as that user.
///
/// Start with `tokengate demo`, then `tokengate serve --upstream URL --admins NAME`.
/// Every `serve` flag can also be set with its TOKENGATE_* variable.
#[derive(Debug, Parser)]
#[command(name = "tokengate", version, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway in front of an upstream REST API.
    Serve(Box<ServeArgs>),
    /// Try tokengate locally: a gateway in front of a built-in echo server, two
    /// tokens and curl commands to paste.
    Demo(DemoArgs),
    /// Create, list or revoke tokens in the data directory.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Read the audit log (filters, paging, or --follow).
    Audit(AuditArgs),
    /// Explain whether a token's restriction lines admit a method and URL.
    Check(CheckArgs),
    /// Copy tokens and the audit log from a SQLite data directory into an empty
    /// PostgreSQL database, for several gateways to share.
    Migrate(MigrateArgs),
    /// Manage what proxy-wasm filters present to the gateway to pull their configuration
    /// and push their audit records (`/tokengate/filter/…`).
    #[command(subcommand)]
    Filter(FilterCommand),
}

/// `tokengate filter …`.
#[derive(Debug, Subcommand)]
pub enum FilterCommand {
    /// Filter credentials: one per fleet of filters, revocable.
    #[command(subcommand)]
    Credential(CredentialCommand),
}

/// `tokengate filter credential …`.
#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Create a credential and print it (the only time it is shown): hand it to the
    /// filters as TOKENGATE_FILTER_CREDENTIAL.
    Create {
        /// Where the data lives.
        #[command(flatten)]
        data: DataDir,
        /// A name for the fleet (letters, digits, `.`, `_`, `-`): the audit log names
        /// each filter instance `NAME/INSTANCE` (`via`). Never reused.
        #[arg(long)]
        name: String,
    },
    /// List credentials (a hint of each, never the value).
    List {
        /// Where the data lives.
        #[command(flatten)]
        data: DataDir,
    },
    /// Revoke a credential by name or id: its filters are refused at their next call.
    Revoke {
        /// Where the data lives.
        #[command(flatten)]
        data: DataDir,
        /// The credential's name or id.
        name: String,
    },
}

/// Longest filter credential name.
const MAX_CREDENTIAL_NAME: usize = 64;

/// Where the data lives (shared by the commands that read it).
#[derive(Debug, Clone, Args)]
pub struct DataDir {
    /// Directory of the server key and (by default) the SQLite file.
    #[arg(long, env = env::DATA_DIR, default_value = default::DATA_DIR)]
    pub data_dir: PathBuf,
    /// The database: `sqlite` (in the data directory) or a PostgreSQL URL.
    #[arg(long, env = env::STORE, default_value = "sqlite", value_parser = crate::config::store_parser())]
    pub store: Location,
}

/// `tokengate demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address and port of the demo gateway.
    #[arg(long, default_value = default::LISTEN)]
    pub listen: SocketAddr,
    /// Where the data lives.
    #[command(flatten)]
    pub data: DataDir,
}

/// `tokengate token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its value (the only time it is shown).
    Create(CreateArgs),
    /// List tokens (a hint of each value, never the value).
    List {
        /// Where the data lives.
        #[command(flatten)]
        data: DataDir,
        /// Include revoked tokens.
        #[arg(long)]
        all: bool,
        /// Print JSON (the admin API's `tokens` shape).
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id or value; a running gateway stops accepting it within a second.
    Revoke {
        /// Where the data lives.
        #[command(flatten)]
        data: DataDir,
        /// The token's id (from `token list`).
        #[arg(long, conflicts_with = "token", required_unless_present = "token")]
        id: Option<String>,
        /// The token's value.
        #[arg(long)]
        token: Option<String>,
    },
    /// Write the proxy-wasm filter's configuration: the live tokens as keyed digests,
    /// with the gateway settings given as to `serve` (the same flags and TOKENGATE_*
    /// variables). The HMAC key is never in it; `--key-out` writes it to a file of its
    /// own, for the proxy's secret store.
    Export {
        /// What to export for.
        #[arg(long = "for", value_enum)]
        target: ExportTarget,
        /// File to write the configuration to (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// File to write the filter's HMAC key to (hex, mode 0600).
        #[arg(long)]
        key_out: Option<PathBuf>,
        /// The gateway settings the filter applies.
        #[command(flatten)]
        settings: Box<ServeArgs>,
    },
}

/// Consumers of `tokengate token export`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportTarget {
    /// The Envoy-style proxy-wasm filter (`policy/proxy-wasm`).
    ProxyWasm,
}

/// `tokengate token create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Where the data lives.
    #[command(flatten)]
    pub data: DataDir,
    /// Name of the token (required).
    #[arg(long)]
    pub label: String,
    /// Bind the token to this user (recommended); without it, any user name works (Basic only).
    #[arg(long)]
    pub user: Option<String>,
    /// Restriction lines, e.g. '[post].*/rest/api/space/EXTENDER/property.*' (separate
    /// lines with a newline, the two characters \n, or <br>).
    #[arg(long, default_value = "")]
    pub limit_to: String,
    /// Client addresses allowed: addresses, CIDR ranges, `!` exclusions.
    #[arg(long, default_value = "")]
    pub ip: String,
    /// Expire after this many days (0 = never).
    #[arg(long, default_value_t = 0)]
    pub days: i64,
    /// Use this value instead of generating one (16–256 visible ASCII characters).
    #[arg(long)]
    pub token: Option<String>,
}

/// `tokengate audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Where the data lives.
    #[command(flatten)]
    pub data: DataDir,
    /// Only this token id.
    #[arg(long)]
    pub token_id: Option<String>,
    /// Only this user.
    #[arg(long)]
    pub user: Option<String>,
    /// From this time on (epoch milliseconds).
    #[arg(long)]
    pub from: Option<i64>,
    /// Before this time (epoch milliseconds).
    #[arg(long)]
    pub to: Option<i64>,
    /// Only `allow` or `deny`.
    #[arg(long)]
    pub decision: Option<String>,
    /// Skip this many records (newest first).
    #[arg(long, default_value_t = 0)]
    pub start_at: u64,
    /// Show at most this many records.
    #[arg(long, default_value_t = 50)]
    pub max_results: u64,
    /// Keep printing new records as they are written (Ctrl-C to stop).
    #[arg(long, conflicts_with = "count")]
    pub follow: bool,
    /// Print only the exact number of matching records (counts every one).
    #[arg(long)]
    pub count: bool,
    /// Print JSON lines.
    #[arg(long)]
    pub json: bool,
}

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

/// `tokengate check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Where the data lives.
    #[command(flatten)]
    pub data: DataDir,
    /// A stored token's id (its lines, IP rules, user and expiry are used).
    #[arg(long, conflicts_with = "limit_to")]
    pub token_id: Option<String>,
    /// Restriction lines to try instead of a stored token's.
    #[arg(long)]
    pub limit_to: Option<String>,
    /// IP rules to try with --limit-to.
    #[arg(long, default_value = "")]
    pub ip: String,
    /// The user presenting the token (default: the token's user, or `user`).
    #[arg(long)]
    pub user: Option<String>,
    /// Present the token as Bearer instead of Basic.
    #[arg(long)]
    pub bearer: bool,
    /// The client address.
    #[arg(long, default_value = "127.0.0.1")]
    pub client_ip: String,
    /// A request body (for [JsonData::…] conditions).
    #[arg(long)]
    pub body: Option<String>,
    /// Scope setting of the gateway.
    #[arg(long, env = env::SCOPE, value_enum, default_value = "rest")]
    pub scope: ScopeSetting,
    /// Public base used when URL is only a path.
    #[arg(long, env = env::PUBLIC_BASE, default_value = "http://localhost:8080")]
    pub public_base: String,
    /// HTTP method, e.g. GET.
    pub method: String,
    /// URL (https://host/path?query) or path (/rest/...).
    pub url: String,
}

/// Runs a command.
pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Demo(args) => crate::demo::run(args.listen, &args.data.data_dir).await,
        Command::Token(command) => token(command).await,
        Command::Audit(args) => audit_log(args).await,
        Command::Check(args) => check(args).await,
        Command::Migrate(args) => migrate(args).await,
        Command::Filter(FilterCommand::Credential(command)) => credential(command).await,
    }
}

async fn credential(command: CredentialCommand) -> Result<()> {
    match command {
        CredentialCommand::Create { data, name } => {
            let valid = !name.is_empty()
                && name.len() <= MAX_CREDENTIAL_NAME
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !valid {
                bail!(
                    "--name: 1 to {MAX_CREDENTIAL_NAME} letters, digits, `.`, `_` or `-`, got {name:?}"
                );
            }
            let store = open_store(&data).await?;
            let (credential, value) = store.create_credential(&name, Some(cli_actor())).await?;
            audit_cli_action(
                &store,
                tokengate_policy_artifact::COMPONENT_SHA256,
                format!(
                    "created filter credential {} ({})",
                    credential.name, credential.id
                ),
                None,
            )
            .await?;
            println!("{value}");
            eprintln!(
                "created filter credential {} (shown once; only its digest is stored)",
                credential.name
            );
            Ok(())
        }
        CredentialCommand::List { data } => {
            let store = open_store(&data).await?;
            println!(
                "{:<20}  {:<24}  {:<12}  {:<24}  revoked",
                "id", "name", "hint", "created"
            );
            for credential in store.credentials().await? {
                println!(
                    "{:<20}  {:<24}  {:<12}  {:<24}  {}",
                    credential.id,
                    credential.name,
                    credential.hint,
                    format_time(credential.created),
                    credential.revoked.map_or("-".into(), format_time)
                );
            }
            Ok(())
        }
        CredentialCommand::Revoke { data, name } => {
            let store = open_store(&data).await?;
            let Some(credential) = store.revoke_credential(&name).await? else {
                bail!("no live filter credential is named {name:?} or has that id");
            };
            audit_cli_action(
                &store,
                tokengate_policy_artifact::COMPONENT_SHA256,
                format!(
                    "revoked filter credential {} ({})",
                    credential.name, credential.id
                ),
                None,
            )
            .await?;
            println!("revoked {}", credential.name);
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let config = args.into_config()?;
    let listen = config.listen;
    tracing::info!(
        listen = %listen,
        upstream = %format!("{}://{}{}", config.upstream.scheme, config.upstream.authority, config.upstream.prefix),
        public_base = %config.public_base,
        auth_mode = ?config.auth_mode,
        scope = ?config.scope,
        "starting"
    );
    let app = crate::gateway::app(config)
        .await
        .context("starting the gateway")?;
    tracing::info!(component = app.policy().digest(), "policy component loaded");
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("{} (--listen): cannot listen on {listen}", env::LISTEN))?;
    // The bound address, which differs from `listen` when its port is 0.
    let bound = listener.local_addr()?;
    tracing::info!(addr = %bound, "listening");
    crate::server::serve(app, listener, shutdown_signal()).await?;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
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

async fn token(command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Create(args) => {
            let store = open_store(&args.data).await?;
            let policy = PolicyRuntime::new()?;
            let request = json!({
                "label": args.label,
                "userName": args.user,
                "limitTo": args.limit_to,
                "ip": args.ip,
                "daysUntilExpiry": args.days,
                "token": args.token,
            });
            let created = admin::create(&store, &policy, &request, &cli_actor()).await;
            let (answer, action) = match created {
                Ok(created) => created,
                Err(crate::response::Refusal::Invalid(problems)) => {
                    bail!("the token was not created:\n  {}", problems.join("\n  "))
                }
                Err(err) => bail!("the token was not created: {err}"),
            };
            let id = answer["id"].as_str().map(str::to_owned);
            audit_cli_action(
                &store,
                policy.digest(),
                action.unwrap_or_default(),
                id.clone(),
            )
            .await?;
            println!("{}", answer["token"].as_str().unwrap_or_default());
            eprintln!(
                "created token {} (shown once; only its digest is stored)",
                id.unwrap_or_default()
            );
            Ok(())
        }
        TokenCommand::List { data, all, json } => {
            let store = open_store(&data).await?;
            let (rows, total) = store.list(0, u64::MAX, all).await?;
            if json {
                let tokens: Vec<_> = rows.iter().map(admin::token_json).collect();
                println!(
                    "{}",
                    json!({ "tokens": tokens, "total": total, "status": "ok" })
                );
                return Ok(());
            }
            println!(
                "{:<20}  {:<12}  {:<24}  {:<12}  {:>8}  {:<10}  limitTo",
                "id", "hint", "label", "user", "counter", "expires"
            );
            for row in rows {
                let token = &row.token;
                let expires = match (row.revoked, token.valid_until) {
                    (Some(_), _) => "revoked".to_owned(),
                    (None, Some(until)) => format_time(until).chars().take(10).collect(),
                    (None, None) => "never".to_owned(),
                };
                println!(
                    "{:<20}  {:<12}  {:<24}  {:<12}  {:>8}  {:<10}  {}",
                    token.id,
                    token.hint,
                    token.label,
                    token.user.as_deref().unwrap_or("(any)"),
                    row.counter,
                    expires,
                    token.limit_to.replace('\n', " | ")
                );
            }
            Ok(())
        }
        TokenCommand::Export {
            target: ExportTarget::ProxyWasm,
            out,
            key_out,
            settings,
        } => {
            let config = settings.into_config()?;
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
            match out {
                Some(path) => std::fs::write(&path, text + "\n")
                    .with_context(|| format!("writing {}", path.display()))?,
                None => println!("{text}"),
            }
            if let Some(path) = key_out {
                let key = export::filter_key(&config.data_dir)?;
                write_private(&path, key.expose())
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(())
        }
        TokenCommand::Revoke { data, id, token } => {
            let store = open_store(&data).await?;
            let revoked = match (id, token) {
                (Some(id), _) => store.revoke_id(&id).await?,
                (None, Some(value)) => store.revoke_value(&value).await?,
                (None, None) => bail!("give --id or --token"),
            };
            let Some(token) = revoked else {
                bail!("no live token matches");
            };
            audit_cli_action(
                &store,
                tokengate_policy_artifact::COMPONENT_SHA256,
                format!("revoked token {}", token.id),
                Some(token.id.clone()),
            )
            .await?;
            println!("revoked {}", token.id);
            Ok(())
        }
    }
}

async fn migrate(args: MigrateArgs) -> Result<()> {
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
    let copied = target
        .import_from(source.backend().as_ref())
        .await
        .context("copying into PostgreSQL")?;
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

/// Writes a secret to a new file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
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

/// `time` (epoch ms) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn print_record(row: &AuditRow, as_json: bool) {
    if as_json {
        println!("{}", serde_json::to_string(row).unwrap_or_default());
        return;
    }
    let mut line = format!(
        "{}  #{}  {:<5}  {:<20}  user={} token={} ip={}  {} {}",
        format_time(row.time),
        row.id,
        row.decision,
        row.reason.as_deref().unwrap_or("-"),
        row.user.as_deref().unwrap_or("-"),
        row.token_id.as_deref().unwrap_or("-"),
        row.client_ip,
        row.method,
        row.url
    );
    if let Some(status) = row.upstream_status {
        line.push_str(&format!("  status={status}"));
    }
    if let Some(latency) = row.latency_ms {
        line.push_str(&format!(" {latency}ms"));
    }
    if let Some(n) = row.line {
        line.push_str(&format!(
            "  line {n}: {}",
            row.line_text.as_deref().unwrap_or("")
        ));
    }
    if let Some(action) = &row.action {
        line.push_str(&format!("  action: {action}"));
    }
    if let Some(detail) = &row.detail {
        line.push_str(&format!("  ({detail})"));
    }
    println!("{line}");
}

async fn audit_log(args: AuditArgs) -> Result<()> {
    let store = open_store(&args.data).await?;
    let mut filter = AuditFilter {
        token_id: args.token_id,
        user: args.user,
        from: args.from,
        to: args.to,
        decision: args.decision,
        after_id: None,
        start_at: args.start_at,
        max_results: args.max_results,
    };
    if args.count {
        println!("{}", store.count_audit(&filter).await?);
        return Ok(());
    }
    let (mut rows, total) = store.query_audit(&filter).await?;
    // Oldest first on screen, like a log.
    rows.reverse();
    let mut last = rows.last().map(|row| row.id).unwrap_or(0);
    for row in &rows {
        print_record(row, args.json);
    }
    if !args.follow {
        if !args.json {
            if total > audit::COUNT_CAP {
                eprintln!("{} of more than {} records", rows.len(), audit::COUNT_CAP);
            } else {
                eprintln!("{} of {total} records", rows.len());
            }
        }
        return Ok(());
    }
    if rows.is_empty() {
        last = store.last_audit_id().await?;
    }
    filter.start_at = 0;
    filter.max_results = 1000;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(FOLLOW_INTERVAL) => {}
        }
        filter.after_id = Some(last);
        let (rows, _) = store.query_audit(&filter).await?;
        for row in &rows {
            print_record(row, args.json);
            last = row.id;
        }
    }
}

/// Splits a URL into public base and origin-form target.
fn split_url(url: &str, default_base: &str) -> (String, String) {
    for scheme in ["https://", "http://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let cut = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, target) = rest.split_at(cut);
            let target = if target.starts_with('/') {
                target.to_owned()
            } else {
                format!("/{target}")
            };
            return (format!("{scheme}{authority}"), target);
        }
    }
    (
        default_base.trim_end_matches('/').to_owned(),
        url.to_owned(),
    )
}

async fn check(args: CheckArgs) -> Result<()> {
    let policy = PolicyRuntime::new()?;
    let (rules, token_facts) = match (&args.token_id, &args.limit_to) {
        (Some(id), _) => {
            let store = open_store(&args.data).await?;
            let row = store
                .get(id)
                .await?
                .with_context(|| format!("no token with id {id}"))?;
            if row.revoked.is_some() {
                eprintln!(
                    "note: token {id} is revoked; the gateway refuses it whatever the lines say"
                );
            }
            let token = row.token;
            (
                TokenRules {
                    id: token.id.clone(),
                    limit_to: token.limit_to.clone(),
                    ip: token.ip.clone(),
                },
                TokenFacts {
                    user: token.user.clone(),
                    valid_until: token.valid_until,
                },
            )
        }
        (None, Some(limit_to)) => {
            let mut session = policy.session()?;
            if let Err(error) = session.check(limit_to, &args.ip)? {
                bail!(
                    "the lines are not valid:\n  {}",
                    admin::compile_messages(&error).join("\n  ")
                );
            }
            (
                TokenRules {
                    id: "check".into(),
                    limit_to: limit_to.clone(),
                    ip: args.ip.clone(),
                },
                TokenFacts {
                    user: args.user.clone(),
                    valid_until: None,
                },
            )
        }
        (None, None) => bail!("give --token-id ID or --limit-to LINES"),
    };
    let (base, target) = split_url(&args.url, &args.public_base);
    let mut session = policy.session()?;
    let canonical = match session.canonicalize(&target, &base)? {
        Ok(canonical) => canonical,
        Err(refusal) => {
            println!(
                "refused target ({}): {}",
                refusal.reason.as_str(),
                refusal.detail
            );
            std::process::exit(1);
        }
    };
    let user = args
        .user
        .clone()
        .or_else(|| token_facts.user.clone())
        .unwrap_or_else(|| "user".into());
    let request = RequestFacts {
        scheme: if args.bearer {
            AuthScheme::Bearer
        } else {
            AuthScheme::Basic
        },
        presented_user: (!args.bearer).then_some(user),
        method: args.method.to_ascii_uppercase(),
        target: canonical.clone(),
        body: args.body.clone(),
        client_ip: args.client_ip.clone(),
        now_ms: crate::now_ms(),
    };
    println!("{} {}", request.method, canonical.url);
    for line in session.explain(&rules, &request)? {
        let method = match line.method {
            None => "any",
            Some(true) => "yes",
            Some(false) => "no",
        };
        println!(
            "  line {}: {}\n    method: {method}, url: {}{}  => {}",
            line.line,
            line.text,
            if line.url { "yes" } else { "no" },
            line.conditions
                .iter()
                .map(|c| format!(", {}: {}", c.text, if c.matched { "yes" } else { "no" }))
                .collect::<String>(),
            if line.matched { "matches" } else { "no match" }
        );
    }
    let settings = Settings {
        scope: args.scope.to_native().into(),
    };
    match session.decide(&rules, &token_facts, &request, settings)? {
        Decision::Allow(allowed) => {
            match allowed.line {
                Some(line) => println!("allow: line {line}, as user {}", allowed.user),
                None => println!("allow: the token has no lines, as user {}", allowed.user),
            }
            Ok(())
        }
        Decision::Deny(denied) => {
            println!("deny: {} ({})", denied.reason.as_str(), denied.detail);
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_iso() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_time(1_622_700_718_964), "2021-06-03T06:11:58.964Z");
    }

    #[test]
    fn urls_split_into_base_and_target() {
        assert_eq!(
            split_url("https://wiki.example.com/rest/api?x=1", "http://b"),
            ("https://wiki.example.com".into(), "/rest/api?x=1".into())
        );
        assert_eq!(
            split_url("/rest/api", "http://b/"),
            ("http://b".into(), "/rest/api".into())
        );
    }

    #[test]
    fn help_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
