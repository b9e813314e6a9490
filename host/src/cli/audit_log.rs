//! `tokengate audit`: the audit log as a table or JSON lines, with filters, paging,
//! `--count` and `--follow`; `tokengate audit prune` deletes old records now.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Args, Subcommand};

use super::table::{Table, terminal_width};
use super::time::{self, format_time};
use super::{DataDir, audit_cli_action, open_store, progress};
use crate::audit::cursor::Cursor;
use crate::audit::{self, AuditFilter, AuditRow};

/// How often `tokengate audit --follow` looks for new records.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(500);
/// Records read per query while following.
const FOLLOW_PAGE: u64 = 1000;

/// `tokengate audit`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    /// Something other than reading.
    #[command(subcommand)]
    pub action: Option<AuditCommand>,
    /// What to read.
    #[command(flatten)]
    pub query: QueryArgs,
}

/// `tokengate audit …` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Delete the records older than a time now, in batches, as retention
    /// (TOKENGATE_AUDIT_RETENTION_DAYS) does hourly. `audit --to TIME --count` tells
    /// how many that is.
    Prune(PruneArgs),
}

/// Reading the audit log.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Where the data lives.
    #[command(flatten)]
    pub data: DataDir,
    /// Only this token id.
    #[arg(long)]
    pub token_id: Option<String>,
    /// Only this user.
    #[arg(long)]
    pub user: Option<String>,
    /// From this time on: an RFC 3339 time or date, a duration ago (1h, 7d), now, or
    /// epoch milliseconds.
    #[arg(long, value_name = "TIME", value_parser = time::parse_arg)]
    pub from: Option<i64>,
    /// Before this time (same forms as --from).
    #[arg(long, value_name = "TIME", value_parser = time::parse_arg)]
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
    /// Print JSON lines, one record each (the admin API's record shape).
    #[arg(long)]
    pub json: bool,
}

/// `tokengate audit prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Where the data lives.
    #[command(flatten)]
    pub data: DataDir,
    /// Delete the records before this time: an RFC 3339 time or date, a duration
    /// ago (90d keeps the last 90 days), or epoch milliseconds.
    #[arg(long, value_name = "TIME", value_parser = time::parse_arg)]
    pub before: i64,
}

/// Runs `audit` or `audit prune`.
pub(super) async fn run(args: AuditArgs) -> Result<()> {
    match args.action {
        Some(AuditCommand::Prune(prune_args)) => prune(prune_args).await,
        None => read(args.query).await,
    }
}

/// The table's columns; widths below are the least each gets while following, when
/// later rows cannot widen a column already printed.
const COLUMNS: &[&str] = &[
    "TIME", ">ID", "DECISION", "REASON", "USER", "TOKEN", "CLIENT", "METHOD", "URL", ">STATUS",
    ">MS", "NOTE",
];
const FOLLOW_WIDTHS: &[usize] = &[24, 6, 8, 18, 10, 20, 15, 6, 40, 6, 5, 0];

fn table(rows: &[AuditRow]) -> Table {
    let mut table = Table::new(COLUMNS);
    for row in rows {
        let mut note = Vec::new();
        if let Some(n) = row.line {
            note.push(format!(
                "line {n}: {}",
                row.line_text.as_deref().unwrap_or("")
            ));
        }
        if let Some(action) = &row.action {
            note.push(format!("action: {action}"));
        }
        if let Some(detail) = &row.detail {
            note.push(detail.clone());
        }
        let dash = |value: Option<&str>| value.unwrap_or("-").to_owned();
        table.row(vec![
            format_time(row.time),
            row.id.to_string(),
            row.decision.clone(),
            dash(row.reason.as_deref()),
            dash(row.user.as_deref()),
            dash(row.token_id.as_deref()),
            row.client_ip.clone(),
            row.method.clone(),
            row.url.clone(),
            row.upstream_status
                .map_or_else(|| "-".into(), |s| s.to_string()),
            row.latency_ms
                .map_or_else(|| "-".into(), |ms| ms.to_string()),
            note.join("; "),
        ]);
    }
    table
}

fn print_json(rows: &[AuditRow]) -> Result<()> {
    for row in rows {
        println!("{}", serde_json::to_string(row)?);
    }
    Ok(())
}

async fn read(args: QueryArgs) -> Result<()> {
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
    let max_width = terminal_width();
    let first = table(&rows);
    let mut widths = first.widths();
    if args.follow {
        for (width, least) in widths.iter_mut().zip(FOLLOW_WIDTHS) {
            *width = (*width).max(*least);
        }
    }
    if args.json {
        print_json(&rows)?;
    } else {
        print!("{}", first.render(&widths, max_width));
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
    let mut cursor = FollowCursor::new(match rows.last() {
        Some(row) => row.id,
        None => store.last_audit_id().await?,
    });
    filter.start_at = 0;
    filter.max_results = FOLLOW_PAGE;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(FOLLOW_INTERVAL) => {}
        }
        filter.after_id = Some(cursor.floor());
        let (rows, _) = store.query_audit(&filter).await?;
        let rows = cursor.take_new(rows, Instant::now());
        if rows.is_empty() {
            continue;
        }
        if args.json {
            print_json(&rows)?;
        } else {
            print!("{}", table(&rows).render_rows(&widths, max_width));
        }
    }
}

/// Where `--follow` reads from: the shared [`Cursor`], plus the ids above its floor
/// already shown, since `--follow` shows a record as soon as it is visible rather than
/// waiting for the ids below it.
#[derive(Debug)]
struct FollowCursor {
    cursor: Cursor,
    /// Ids above the floor already shown.
    shown: BTreeSet<i64>,
}

impl FollowCursor {
    fn new(floor: i64) -> Self {
        Self {
            cursor: Cursor::new(floor),
            shown: BTreeSet::new(),
        }
    }

    /// The id to read after.
    fn floor(&self) -> i64 {
        self.cursor.floor()
    }

    /// The records of `rows` (read after the floor) not shown yet; moves the floor over
    /// what is shown, and past a gap that stayed open for
    /// [`GAP_WAIT`](crate::audit::cursor::GAP_WAIT).
    fn take_new(&mut self, rows: Vec<AuditRow>, now: Instant) -> Vec<AuditRow> {
        let fresh: Vec<AuditRow> = rows
            .into_iter()
            .filter(|row| row.id > self.floor() && self.shown.insert(row.id))
            .collect();
        loop {
            while self.shown.remove(&self.floor().saturating_add(1)) {
                self.cursor.advance_to(self.floor().saturating_add(1));
            }
            let Some(&next_shown) = self.shown.first() else {
                self.cursor.no_gap();
                break;
            };
            if !self.cursor.gap_expired(now) {
                break;
            }
            // The gap below the next shown id is given up on.
            self.cursor.advance_to(next_shown.saturating_sub(1));
        }
        fresh
    }
}

async fn prune(args: PruneArgs) -> Result<()> {
    let store = open_store(&args.data).await?;
    let older = AuditFilter {
        to: Some(args.before),
        ..AuditFilter::default()
    };
    let total = store.count_audit(&older).await?;
    let bar = progress::bar(total, "deleted");
    let deleted = store
        .prune_audit_reporting(args.before, |deleted| bar.set_position(deleted))
        .await?;
    bar.finish_and_clear();
    audit_cli_action(
        &store,
        tokengate_policy_artifact::COMPONENT_SHA256,
        format!(
            "pruned {deleted} audit records before {}",
            format_time(args.before)
        ),
        None,
    )
    .await?;
    println!(
        "deleted {deleted} audit records before {}",
        format_time(args.before)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::cursor::GAP_WAIT;

    fn row(id: i64) -> AuditRow {
        AuditRow {
            id,
            ..AuditRow::default()
        }
    }

    fn ids(rows: &[AuditRow]) -> Vec<i64> {
        rows.iter().map(|row| row.id).collect()
    }

    #[test]
    fn a_record_committed_after_a_higher_one_is_still_shown() {
        let start = Instant::now();
        let mut cursor = FollowCursor::new(10);
        // 11 is still committing when 12 and 13 are visible.
        assert_eq!(
            ids(&cursor.take_new(vec![row(12), row(13)], start)),
            [12, 13]
        );
        assert_eq!(cursor.floor(), 10);
        // 11 arrives; 12 and 13 are read again but not shown twice.
        let later = start + Duration::from_secs(1);
        let shown = cursor.take_new(vec![row(11), row(12), row(13)], later);
        assert_eq!(ids(&shown), [11]);
        assert_eq!(cursor.floor(), 13);
    }

    #[test]
    fn an_id_that_never_comes_is_given_up_on_after_the_wait() {
        let start = Instant::now();
        let mut cursor = FollowCursor::new(10);
        assert_eq!(ids(&cursor.take_new(vec![row(12)], start)), [12]);
        let before = start + GAP_WAIT - Duration::from_millis(1);
        assert!(cursor.take_new(vec![row(12)], before).is_empty());
        assert_eq!(cursor.floor(), 10);
        assert!(cursor.take_new(vec![row(12)], start + GAP_WAIT).is_empty());
        assert_eq!(cursor.floor(), 12);
        // A later gap gets a wait of its own.
        let next = start + GAP_WAIT + Duration::from_secs(1);
        assert_eq!(ids(&cursor.take_new(vec![row(14)], next)), [14]);
        assert_eq!(cursor.floor(), 12);
        assert_eq!(ids(&cursor.take_new(vec![row(13), row(14)], next)), [13]);
        assert_eq!(cursor.floor(), 14);
    }
}
