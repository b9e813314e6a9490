//! The audit log: one record per token-authenticated request and per admin action,
//! committed before an allowed request is forwarded, with group commit.
//!
//! A writer task takes every pending record from its channel, has the store's
//! backend commit them in one transaction and answers each waiter, so concurrent
//! requests share one commit (one fsync with SQLite, one round trip with
//! PostgreSQL). The upstream status and latency are not known before forwarding:
//! they are filled into the same row afterwards by a `Completion` (no waiter; a
//! crash in between leaves them empty).

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::Backend;

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

/// One write of a batch, as a backend commits it.
#[derive(Debug, Clone)]
pub enum Write {
    /// A new record (and, if it counts, a use of its token).
    Append(Box<AuditRecord>),
    /// The outcome of a record written earlier.
    Complete(Completion),
}

/// Uses to count per token in one batch: how many, and the newest time and address.
pub fn uses(batch: &[Write]) -> Vec<(&str, i64, i64, &str)> {
    let mut uses: std::collections::BTreeMap<&str, (i64, i64, &str)> = Default::default();
    for write in batch {
        if let Write::Append(record) = write
            && record.count_use
            && let Some(token_id) = &record.token_id
        {
            let entry = uses
                .entry(token_id)
                .or_insert((0, record.time, &record.client_ip));
            entry.0 += 1;
            if record.time >= entry.1 {
                entry.1 = record.time;
                entry.2 = &record.client_ip;
            }
        }
    }
    // Ordered by token id, so concurrent batches lock rows in the same order.
    uses.into_iter()
        .map(|(id, (count, time, ip))| (id, count, time, ip))
        .collect()
}

/// The audit log could not take a record: the request is refused (503).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    /// The database refused the batch.
    #[error("the audit log cannot be written: {0}")]
    Write(String),
    /// The writer task is gone.
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

/// The handle requests use to reach the writer task; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    jobs: mpsc::UnboundedSender<Job>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog")
    }
}

impl AuditLog {
    /// Starts the writer task on the current runtime.
    pub fn start(backend: Arc<dyn Backend>, metrics: Arc<Metrics>) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(backend, queue, metrics));
        Self { jobs }
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

async fn write_loop(
    backend: Arc<dyn Backend>,
    mut queue: mpsc::UnboundedReceiver<Job>,
    metrics: Arc<Metrics>,
) {
    while let Some(first) = queue.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut batch = Vec::with_capacity(jobs.len());
        let mut waiters = Vec::with_capacity(jobs.len());
        let mut done = Vec::new();
        let mut stop = None;
        for job in jobs {
            match job {
                Job::Append(record, reply) => {
                    batch.push(Write::Append(record));
                    waiters.push(reply);
                }
                Job::Complete(completion) => batch.push(Write::Complete(completion)),
                Job::Flush(reply) => done.push(reply),
                Job::Shutdown(reply) => stop = Some(reply),
            }
        }
        if !batch.is_empty() {
            let records = batch.len();
            let started = Instant::now();
            let result = backend.commit_audit(batch).await;
            metrics.observe_audit_commit(started.elapsed());
            if let Err(err) = &result {
                tracing::error!(error = %err, records, "audit commit failed");
            }
            let mut ids = result.as_ref().ok().map(|ids| ids.iter());
            for reply in waiters {
                let answer = match (&result, ids.as_mut().and_then(Iterator::next)) {
                    (Ok(_), Some(id)) => Ok(*id),
                    (Err(err), _) => Err(AuditError::Write(err.to_string())),
                    (Ok(_), None) => Err(AuditError::Write("lost record id".into())),
                };
                let _ = reply.send(answer);
            }
        }
        for reply in done {
            let _ = reply.send(());
        }
        if let Some(reply) = stop {
            let _ = reply.send(());
            break;
        }
    }
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

/// Audit queries count matching records up to this many and then stop: with
/// millions of records an exact count would cost more than the page itself.
/// A total of `COUNT_CAP + 1` means "more than `COUNT_CAP`".
pub const COUNT_CAP: u64 = 10_000;

/// A value compared in an audit query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// A text column.
    Text(String),
    /// An integer column.
    Int(i64),
}

impl AuditFilter {
    /// The filter as `column operator value` conditions (joined with AND), for
    /// each backend to render in its own placeholder syntax.
    pub fn conditions(&self) -> Vec<(&'static str, &'static str, Param)> {
        let mut conditions = Vec::new();
        let text = |v: &String| Param::Text(v.clone());
        if let Some(v) = &self.token_id {
            conditions.push(("token_id", "=", text(v)));
        }
        if let Some(v) = &self.user {
            conditions.push(("user", "=", text(v)));
        }
        if let Some(v) = self.from {
            conditions.push(("time", ">=", Param::Int(v)));
        }
        if let Some(v) = self.to {
            conditions.push(("time", "<", Param::Int(v)));
        }
        if let Some(v) = &self.decision {
            conditions.push(("decision", "=", text(v)));
        }
        if let Some(v) = self.after_id {
            conditions.push(("id", ">", Param::Int(v)));
        }
        conditions
    }

    /// The `ORDER BY` of a page: oldest first by id when following (`after_id`),
    /// newest first by time otherwise (which every audit index walks).
    pub fn order(&self) -> &'static str {
        if self.after_id.is_some() {
            "id ASC"
        } else {
            "time DESC, id DESC"
        }
    }
}
