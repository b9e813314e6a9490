//! `tokengate token create|list|revoke|export`: tokens in the data directory, without
//! a running gateway (which picks changes up within a second).

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;

use super::table::Table;
use super::{DataDir, audit_cli_action, cli_actor, export, format_time, open_store};
use crate::admin;
use crate::config::file::Origins;
use crate::lifetime::Lifetime;
use crate::policy::PolicyRuntime;

/// `tokengate token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its value (the only time it is shown).
    Create(CreateArgs),
    /// List tokens (a hint of each value, never the value): a table, or --json.
    List(ListArgs),
    /// Revoke a token by id or value; a running gateway stops accepting it within a second.
    Revoke(RevokeArgs),
    /// Replace a token's value, keeping its settings; print the new value (shown once).
    /// The old value keeps working for --grace-minutes, then is refused as `rotated`.
    Rotate(RotateArgs),
    /// Write the proxy-wasm filter's configuration: the live tokens as keyed digests,
    /// with the gateway settings given as to `serve` (the same flags, TOKENGATE_*
    /// variables and --config file). The HMAC key is never in it; `--key-out` writes
    /// it to a file of its own, for the proxy's secret store.
    Export(export::ExportArgs),
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
    /// Allow this many uses (allowed requests), then refuse with 403 (default: unlimited).
    #[arg(long)]
    pub remaining_uses: Option<u64>,
    /// Refuse the token before this time (an RFC 3339 time, a date or epoch ms).
    #[arg(long, value_name = "TIME", value_parser = super::time::parse_instant)]
    pub valid_from: Option<i64>,
    /// Lifetime rules (as `serve` takes them).
    #[command(flatten)]
    pub lifetime: Lifetime,
}

/// `tokengate token list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Where the data lives.
    #[command(flatten)]
    pub data: DataDir,
    /// Include revoked tokens.
    #[arg(long)]
    pub all: bool,
    /// Print JSON (the admin API's `tokens` shape).
    #[arg(long)]
    pub json: bool,
    /// Only tokens that break the lifetime limit (--max-token-days), with why.
    #[arg(long)]
    pub violations: bool,
    /// Lifetime rules (as `serve` takes them).
    #[command(flatten)]
    pub lifetime: Lifetime,
}

/// Which token a command acts on, in which data directory.
#[derive(Debug, Args)]
pub struct WhichToken {
    /// Where the data lives.
    #[command(flatten)]
    pub data: DataDir,
    /// The token's id (from `token list`).
    #[arg(long, conflicts_with = "token", required_unless_present = "token")]
    pub id: Option<String>,
    /// The token's value.
    #[arg(long)]
    pub token: Option<String>,
}

/// `tokengate token revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The token.
    #[command(flatten)]
    pub which: WhichToken,
}

/// `tokengate token rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The token.
    #[command(flatten)]
    pub which: WhichToken,
    /// Minutes the old value keeps working (0 to 1440).
    #[arg(long, default_value_t = 0)]
    pub grace_minutes: u32,
}

/// Runs a `token` subcommand.
pub(super) async fn run(command: TokenCommand, origins: &Origins) -> Result<()> {
    match command {
        TokenCommand::Create(args) => create(args).await,
        TokenCommand::List(args) => list(args).await,
        TokenCommand::Revoke(args) => revoke(args).await,
        TokenCommand::Rotate(args) => rotate(args).await,
        TokenCommand::Export(args) => export::run(args, origins).await,
    }
}

async fn create(args: CreateArgs) -> Result<()> {
    let store = open_store(&args.data).await?;
    let policy = PolicyRuntime::new()?;
    let request = json!({
        "label": args.label,
        "userName": args.user,
        "limitTo": args.limit_to,
        "ip": args.ip,
        "daysUntilExpiry": args.days,
        "token": args.token,
        "remainingUses": args.remaining_uses,
        "validFrom": args.valid_from,
    });
    let created = admin::create(&store, &policy, &args.lifetime, &request, &cli_actor()).await;
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

async fn list(args: ListArgs) -> Result<()> {
    let store = open_store(&args.data).await?;
    let (mut rows, mut total) = store.list(0, u64::MAX, args.all).await?;
    let lifetime = args.lifetime;
    if args.violations {
        rows.retain(|row| lifetime.violation(&row.token).is_some());
        total = rows.len() as u64;
    }
    let now = crate::now_ms();
    if args.json {
        let tokens: Vec<_> = rows
            .iter()
            .map(|row| {
                let mut json = admin::token_json(row, &lifetime, now);
                if let Some(why) = lifetime.violation(&row.token) {
                    json["violation"] = why.into();
                }
                json
            })
            .collect();
        println!(
            "{}",
            json!({ "tokens": tokens, "total": total, "status": "ok" })
        );
        return Ok(());
    }
    let mut table = Table::new(&[
        "ID", "HINT", "LABEL", "USER", ">USES", ">LEFT", "EXPIRES", "LIMIT TO",
    ]);
    for row in rows {
        let token = &row.token;
        let mut expires = match (row.revoked, token.valid_until, token.life.retire_at) {
            (Some(_), _, _) => "revoked".to_owned(),
            (None, _, Some(end)) => format!("rotated, ends {}", format_time(end)),
            (None, Some(until), None) => format_time(until).chars().take(10).collect(),
            (None, None, None) => "never".to_owned(),
        };
        if let Some(why) = args.violations.then(|| lifetime.violation(token)).flatten() {
            expires = format!("{expires} ({why})");
        } else if row.revoked.is_none() && lifetime.expires_soon(token, now) {
            expires.push_str(" (soon)");
        }
        table.row(vec![
            token.id.clone(),
            token.hint.clone(),
            token.label.clone(),
            token.user.clone().unwrap_or_else(|| "(any)".into()),
            row.counter.to_string(),
            token
                .life
                .remaining_uses
                .map_or_else(|| "-".to_owned(), |n| n.to_string()),
            expires,
            token.limit_to.replace('\n', " | "),
        ]);
    }
    table.print();
    Ok(())
}

async fn revoke(args: RevokeArgs) -> Result<()> {
    let which = args.which;
    let store = open_store(&which.data).await?;
    let revoked = match (which.id, which.token) {
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

async fn rotate(args: RotateArgs) -> Result<()> {
    let which = args.which;
    let store = open_store(&which.data).await?;
    let request = json!({
        "id": which.id,
        "token": which.token,
        "graceMinutes": args.grace_minutes,
    });
    let (answer, action) = match admin::rotate(&store, &request, &cli_actor()).await {
        Ok(rotated) => rotated,
        Err(crate::response::Refusal::Invalid(problems)) => {
            bail!("the token was not rotated: {}", problems.join("; "))
        }
        Err(crate::response::Refusal::NotFound) => bail!("no token matches"),
        Err(err) => bail!("the token was not rotated: {err}"),
    };
    let id = answer["id"].as_str().map(str::to_owned);
    audit_cli_action(
        &store,
        tokengate_policy_artifact::COMPONENT_SHA256,
        action.unwrap_or_default(),
        id.clone(),
    )
    .await?;
    println!("{}", answer["token"].as_str().unwrap_or_default());
    eprintln!(
        "rotated {} to {} (the new value is shown once)",
        answer["rotatedFrom"].as_str().unwrap_or_default(),
        id.unwrap_or_default()
    );
    Ok(())
}
