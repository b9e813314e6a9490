//! The audit log: one record per token-authenticated request and per admin action,
//! committed before an allowed request is forwarded, with group commit.
//!
//! A dedicated writer thread owns a SQLite connection (WAL, `synchronous=FULL`),
//! takes every pending record from its channel, commits them in one transaction and
//! answers each waiter, so concurrent requests share one fsync. The upstream status
//! and latency are not known before forwarding: they are filled into the same row
//! afterwards by a `Completion` (no waiter; a crash in between leaves them empty).

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use rusqlite::{Connection, params, params_from_iter};
use serde::Serialize;
use tokio::sync::oneshot;

use crate::metrics::Metrics;
use crate::store::{self, StoreError};

/// Most records committed in one transaction.
const MAX_BATCH: usize = 1024;

/// `decision` of a request that was let through (or an admin action that was done).
pub const ALLOW: &str = "allow";
/// `decision` of a refused request.
pub const DENY: &str = "deny";

/// One audit record as written before the outcome is known.
#[derive(Debug, Clone, Default)]
pub struct AuditRecord {
    /// Epoch ms.
    pub time: i64,
    /// The token's id (never its value); `None` when no token was found.
    pub token_id: Option<String>,
    /// The user the request runs as, or the presented user of a refused one.
    pub user: Option<String>,
    /// The client address as resolved (trusted proxies considered).
    pub client_ip: String,
    /// HTTP method.
    pub method: String,
    /// The canonical URL (public base + path, `?query`), or the raw target if refused.
    pub url: String,
    /// [`ALLOW`] or [`DENY`].
    pub decision: &'static str,
    /// Why: a policy deny reason, an authentication failure, `rate-limited`, …
    pub reason: Option<String>,
    /// A sentence for administrators (the policy's explanation of a refusal).
    pub detail: Option<String>,
    /// The restriction line that admitted the request (1-based).
    pub line: Option<u32>,
    /// That line's text.
    pub line_text: Option<String>,
    /// Admin action (`tokenTools.set` …) and its result.
    pub action: Option<String>,
    /// Status the client got, for requests not forwarded.
    pub status: Option<u16>,
    /// Latency, ms, for requests not forwarded.
    pub latency_ms: Option<i64>,
    /// Hex SHA-256 of the policy component that decided.
    pub component: String,
    /// Count this as a use of the token (counter, last used time and address).
    pub count_use: bool,
}

/// What is learnt after forwarding.
#[derive(Debug, Clone)]
pub struct Completion {
    /// The record's id.
    pub id: i64,
    /// Upstream (or admin) status; `None` when the upstream failed.
    pub status: Option<u16>,
    /// Time from request to response headers, ms.
    pub latency_ms: i64,
    /// Replaces the record's action text (admin results such as the new token id).
    pub action: Option<String>,
    /// Replaces the record's reason (e.g. `upstream-timeout`).
    pub reason: Option<String>,
}

/// The audit log could not take a record: the request is refused (503).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    /// SQLite refused the batch.
    #[error("the audit log cannot be written: {0}")]
    Write(String),
    /// The writer thread is gone.
    #[error("the audit writer has stopped")]
    Stopped,
}

enum Job {
    Append(Box<AuditRecord>, oneshot::Sender<Result<i64, AuditError>>),
    Complete(Completion),
    /// Answered once everything sent before it is committed.
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// The handle requests use to reach the writer thread; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog")
    }
}

impl AuditLog {
    /// Opens the writer's own connection and starts the writer thread.
    pub fn start(db_path: &Path, metrics: Arc<Metrics>) -> Result<Self, StoreError> {
        let conn = store::connect(db_path)?;
        let (jobs, queue) = mpsc::channel();
        thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || write_loop(conn, queue, &metrics))
            .map_err(|source| StoreError::Io {
                what: "starting the audit writer for",
                path: db_path.to_owned(),
                source,
            })?;
        Ok(Self { jobs })
    }

    /// Appends a record and waits until it is committed; returns its id.
    pub async fn append(&self, record: AuditRecord) -> Result<i64, AuditError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Append(Box::new(record), reply))
            .map_err(|_| AuditError::Stopped)?;
        answer.await.map_err(|_| AuditError::Stopped)?
    }

    /// Fills in what was learnt after forwarding (committed with the next batch).
    pub fn complete(&self, completion: Completion) {
        if self.jobs.send(Job::Complete(completion)).is_err() {
            tracing::warn!("audit writer stopped; completion dropped");
        }
    }

    /// Waits until everything sent so far is committed: an admin action's
    /// outcome is in the audit log before its answer reaches the client.
    pub async fn flush(&self) {
        let (reply, done) = oneshot::channel();
        if self.jobs.send(Job::Flush(reply)).is_ok() {
            let _ = done.await;
        }
    }

    /// Commits everything sent so far and stops the writer.
    pub async fn shutdown(&self) {
        let (reply, done) = oneshot::channel();
        if self.jobs.send(Job::Shutdown(reply)).is_ok() {
            let _ = done.await;
        }
    }
}

fn write_loop(mut conn: Connection, queue: mpsc::Receiver<Job>, metrics: &Metrics) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let result = commit(&mut conn, &batch);
        metrics.observe_audit_commit(started.elapsed());
        if let Err(err) = &result {
            tracing::error!(error = %err, records = batch.len(), "audit commit failed");
        }
        let mut ids = result.as_ref().ok().map(|ids| ids.iter());
        let mut stop = false;
        for job in batch {
            match job {
                Job::Append(_, reply) => {
                    let answer = match (&result, ids.as_mut().and_then(Iterator::next)) {
                        (Ok(_), Some(id)) => Ok(*id),
                        (Err(err), _) => Err(AuditError::Write(err.to_string())),
                        (Ok(_), None) => Err(AuditError::Write("lost record id".into())),
                    };
                    let _ = reply.send(answer);
                }
                Job::Complete(_) => {}
                Job::Flush(reply) => {
                    let _ = reply.send(());
                }
                Job::Shutdown(reply) => {
                    let _ = reply.send(());
                    stop = true;
                }
            }
        }
        if stop {
            break;
        }
    }
}

/// Writes one batch in one transaction; the ids of its appended records, in order.
fn commit(conn: &mut Connection, batch: &[Job]) -> rusqlite::Result<Vec<i64>> {
    let tx = conn.transaction()?;
    let mut ids = Vec::new();
    for job in batch {
        match job {
            Job::Append(record, _) => ids.push(insert(&tx, record)?),
            Job::Complete(done) => {
                tx.execute(
                    "UPDATE audit SET upstream_status = ?1, latency_ms = ?2,
                         action = COALESCE(?3, action), reason = COALESCE(?4, reason)
                     WHERE id = ?5",
                    params![
                        done.status,
                        done.latency_ms,
                        done.action,
                        done.reason,
                        done.id
                    ],
                )?;
            }
            Job::Flush(_) | Job::Shutdown(_) => {}
        }
    }
    tx.commit()?;
    Ok(ids)
}

/// Inserts one record (and counts the use) on `conn`; used by the writer and the CLI.
pub fn insert(conn: &Connection, record: &AuditRecord) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO audit (time, token_id, user, client_ip, method, url, decision, reason,
             detail, line, line_text, action, upstream_status, latency_ms, component)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            record.time,
            record.token_id,
            record.user,
            record.client_ip,
            record.method,
            record.url,
            record.decision,
            record.reason,
            record.detail,
            record.line,
            record.line_text,
            record.action,
            record.status,
            record.latency_ms,
            record.component
        ],
    )?;
    let id = conn.last_insert_rowid();
    if record.count_use
        && let Some(token_id) = &record.token_id
    {
        conn.execute(
            "UPDATE tokens SET counter = counter + 1, last_used = ?1, last_ip = ?2 WHERE id = ?3",
            params![record.time, record.client_ip, token_id],
        )?;
    }
    Ok(id)
}

/// Which records to return.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this token.
    pub token_id: Option<String>,
    /// Only this user.
    pub user: Option<String>,
    /// From this time on, epoch ms.
    pub from: Option<i64>,
    /// Before this time, epoch ms.
    pub to: Option<i64>,
    /// Only `allow` or `deny`.
    pub decision: Option<String>,
    /// Only records after this id (oldest first; for `--follow`).
    pub after_id: Option<i64>,
    /// Skip this many.
    pub start_at: u64,
    /// At most this many.
    pub max_results: u64,
}

/// One stored audit record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuditRow {
    /// Record id.
    pub id: i64,
    /// Epoch ms.
    pub time: i64,
    /// Token id.
    pub token_id: Option<String>,
    /// User.
    pub user: Option<String>,
    /// Client address.
    pub client_ip: String,
    /// Method.
    pub method: String,
    /// URL.
    pub url: String,
    /// `allow` or `deny`.
    pub decision: String,
    /// Reason.
    pub reason: Option<String>,
    /// Explanation for administrators.
    pub detail: Option<String>,
    /// Matched line number.
    pub line: Option<u32>,
    /// Matched line text.
    pub line_text: Option<String>,
    /// Admin action.
    pub action: Option<String>,
    /// Upstream status (or the gateway's own for requests not forwarded).
    pub upstream_status: Option<u16>,
    /// Latency, ms.
    pub latency_ms: Option<i64>,
    /// Policy component digest.
    pub component: String,
}

/// Records matching `filter` (newest first, unless `after_id` is set) and their total.
pub fn query(conn: &Connection, filter: &AuditFilter) -> rusqlite::Result<(Vec<AuditRow>, u64)> {
    let mut clauses = Vec::new();
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    let mut add = |clause: &str, value: rusqlite::types::Value| {
        values.push(value);
        clauses.push(clause.replace('?', &format!("?{}", values.len())));
    };
    if let Some(v) = &filter.token_id {
        add("token_id = ?", v.clone().into());
    }
    if let Some(v) = &filter.user {
        add("user = ?", v.clone().into());
    }
    if let Some(v) = filter.from {
        add("time >= ?", v.into());
    }
    if let Some(v) = filter.to {
        add("time < ?", v.into());
    }
    if let Some(v) = &filter.decision {
        add("decision = ?", v.clone().into());
    }
    if let Some(v) = filter.after_id {
        add("id > ?", v.into());
    }
    let condition = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM audit {condition}"),
        params_from_iter(values.iter()),
        |row| row.get(0),
    )?;
    let order = if filter.after_id.is_some() {
        "ASC"
    } else {
        "DESC"
    };
    let n = values.len();
    values.push(i64::try_from(filter.max_results).unwrap_or(i64::MAX).into());
    values.push(i64::try_from(filter.start_at).unwrap_or(i64::MAX).into());
    let mut statement = conn.prepare(&format!(
        "SELECT id, time, token_id, user, client_ip, method, url, decision, reason, detail,
                line, line_text, action, upstream_status, latency_ms, component
         FROM audit {condition} ORDER BY id {order} LIMIT ?{} OFFSET ?{}",
        n + 1,
        n + 2
    ))?;
    let rows = statement
        .query_map(params_from_iter(values.iter()), |row| {
            Ok(AuditRow {
                id: row.get(0)?,
                time: row.get(1)?,
                token_id: row.get(2)?,
                user: row.get(3)?,
                client_ip: row.get(4)?,
                method: row.get(5)?,
                url: row.get(6)?,
                decision: row.get(7)?,
                reason: row.get(8)?,
                detail: row.get(9)?,
                line: row.get(10)?,
                line_text: row.get(11)?,
                action: row.get(12)?,
                upstream_status: row.get(13)?,
                latency_ms: row.get(14)?,
                component: row.get(15)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}
