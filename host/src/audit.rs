//! The audit log: one record per token-authenticated request and per admin action,
//! committed before an allowed request is forwarded, with group commit.
//!
//! Requests put their record into a bounded queue and wait for its commit. A writer (a
//! thread of its own for SQLite, whose commits block on fsync; a task for PostgreSQL,
//! with several commits in flight) takes every record waiting, commits them in one
//! transaction and answers each waiter, so concurrent requests share one commit. A full
//! queue refuses the request (503 `audit-backlog`) rather than holding unbounded memory.
//! The upstream status and latency are learnt after forwarding: they go into the same
//! queue as a [`Completion`], nobody waits for it, and it is written as a row of its own
//! (the record is never updated).

pub mod cursor;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

pub use tokengate_core::audit::{Reason, Record as AuditRecord, Verdict};

use crate::metrics::Metrics;
use crate::store::{Backend, StoreError};

/// Most records committed in one transaction.
const MAX_BATCH: usize = 1024;

/// `decision` of a request that was let through (or an admin action that was done).
pub const ALLOW: Verdict = Verdict::Allow;
/// `decision` of a refused request.
pub const DENY: Verdict = Verdict::Deny;

/// What is learnt after forwarding, written beside the record.
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
    pub reason: Option<Reason>,
}

/// One write of a batch, as a backend commits it.
#[derive(Debug, Clone)]
pub enum Write {
    /// A new record (and, if it counts, a use of its token).
    Append(Box<AuditRecord>),
    /// The outcome of a record written earlier.
    Complete(Completion),
    /// A proxy-wasm filter's batch: its records (and uses) are appended only if no batch
    /// with its id was stored before (a retry is stored once).
    Filter(Box<FilterBatch>),
}

/// Audit records a proxy-wasm filter decided, sent as one batch.
#[derive(Debug, Clone)]
pub struct FilterBatch {
    /// The filter instance, as the gateway names it (`credential/instance`); every record
    /// carries it too.
    pub via: String,
    /// The batch's id, unique per instance.
    pub batch: String,
    /// The records, oldest first.
    pub records: Vec<AuditRecord>,
}

/// What became of a filter batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Its records were appended.
    New,
    /// A batch with its id was stored before: nothing was written.
    Duplicate,
}

/// The records a commit appends, in order: every `Append`'s, and those of every filter
/// batch whose id was claimed (`claimed[i]` for the i-th `Filter` write).
pub fn appended<'a>(
    batch: &'a [Write],
    claimed: &'a [bool],
) -> impl Iterator<Item = &'a AuditRecord> + 'a {
    let mut filters = claimed.iter();
    batch.iter().flat_map(move |write| {
        let records: &'a [AuditRecord] = match write {
            Write::Append(record) => std::slice::from_ref(&**record),
            Write::Complete(_) => &[],
            Write::Filter(filter) => match filters.next() {
                Some(true) => &filter.records,
                _ => &[],
            },
        };
        records.iter()
    })
}

/// What a commit says of one `Append` or `Filter` write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Written with this id (a filter batch: its last record's id; 0 = stored before).
    Stored(i64),
    /// Written with this id as a `quota-exhausted` refusal: the token had no uses left.
    Exhausted(i64),
}

impl Answer {
    /// The id written, either way.
    pub fn id(self) -> i64 {
        match self {
            Self::Stored(id) | Self::Exhausted(id) => id,
        }
    }
}

/// What a commit returns from the ids of the [`appended`] records (and which of them were
/// written as quota refusals, see [`Ration`]): one answer per `Append`, and per `Filter`
/// the id of its last record, or 0 when it was stored before.
pub fn answers(batch: &[Write], claimed: &[bool], ids: &[i64], ration: &Ration) -> Vec<Answer> {
    let mut ids = ids.iter().copied().zip(ration.exhausted_flags());
    let mut filters = claimed.iter();
    let mut answers = Vec::with_capacity(batch.len());
    for write in batch {
        match write {
            Write::Append(_) => answers.push(match ids.next() {
                Some((id, true)) => Answer::Exhausted(id),
                Some((id, false)) => Answer::Stored(id),
                None => Answer::Stored(0),
            }),
            Write::Complete(_) => {}
            Write::Filter(filter) => {
                let stored = filters.next().copied().unwrap_or(false);
                let last = if stored {
                    ids.by_ref().take(filter.records.len()).last()
                } else {
                    None
                };
                answers.push(Answer::Stored(last.map_or(0, |(id, _)| id)));
            }
        }
    }
    answers
}

/// How a batch's quota uses were granted: which records found no use left, and each
/// quota token's uses left after the batch.
#[derive(Debug, Default)]
pub struct Ration {
    /// Per appended record, in order: written as a refusal for want of uses.
    exhausted: Vec<bool>,
    /// (token id, uses left) for every token whose uses the batch took.
    pub left: Vec<(String, i64)>,
}

impl Ration {
    /// Grants the quota uses among `records` in their order, from the uses each token has
    /// left (`remaining`, read under the token row's lock; `None`: unlimited).
    pub fn grant(
        records: &[&AuditRecord],
        mut remaining: impl FnMut(&str) -> Result<Option<i64>, StoreError>,
    ) -> Result<Self, StoreError> {
        let mut left: std::collections::BTreeMap<&str, Option<i64>> = Default::default();
        let mut exhausted = Vec::with_capacity(records.len());
        for record in records {
            let token = match (&record.token_id, record.quota && record.count_use) {
                (Some(token), true) => token.as_str(),
                _ => {
                    exhausted.push(false);
                    continue;
                }
            };
            let uses = match left.get_mut(token) {
                Some(uses) => uses,
                None => left.entry(token).or_insert(remaining(token)?),
            };
            match uses {
                None => exhausted.push(false),
                Some(n) if *n > 0 => {
                    *n -= 1;
                    exhausted.push(false);
                }
                Some(_) => exhausted.push(true),
            }
        }
        Ok(Self {
            exhausted,
            left: left
                .into_iter()
                .filter_map(|(token, uses)| Some((token.to_owned(), uses?)))
                .collect(),
        })
    }

    /// The tokens whose uses the batch takes (sorted: rows are locked in this order).
    pub fn tokens<'a>(records: &[&'a AuditRecord]) -> Vec<&'a str> {
        let tokens: std::collections::BTreeSet<&str> = records
            .iter()
            .filter(|record| record.quota && record.count_use)
            .filter_map(|record| record.token_id.as_deref())
            .collect();
        tokens.into_iter().collect()
    }

    /// The records as written: those that found no use left become refusals.
    pub fn apply<'a>(&self, records: &[&'a AuditRecord]) -> Vec<Cow<'a, AuditRecord>> {
        records
            .iter()
            .zip(self.exhausted_flags())
            .map(|(record, exhausted)| {
                if !exhausted {
                    return Cow::Borrowed(*record);
                }
                let mut refused = (*record).clone();
                refused.decision = DENY;
                refused.reason = Some(Reason::QuotaExhausted);
                refused.status = Some(403);
                refused.count_use = false;
                refused.note_ip = false;
                refused.line = None;
                refused.line_text = None;
                refused.set_detail("the token has no uses left");
                Cow::Owned(refused)
            })
            .collect()
    }

    fn exhausted_flags(&self) -> impl Iterator<Item = bool> + '_ {
        self.exhausted
            .iter()
            .copied()
            .chain(std::iter::repeat(false))
    }
}

/// The addresses to note among the tokens' last addresses: (token id, address, time),
/// one per pair (the newest), sorted.
pub fn noted_ips<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Vec<(&'a str, &'a str, i64)> {
    let mut noted: std::collections::BTreeMap<(&str, &str), i64> = Default::default();
    for record in records {
        if record.note_ip
            && record.count_use
            && let Some(token_id) = &record.token_id
        {
            let time = noted
                .entry((token_id, &record.client_ip))
                .or_insert(record.time);
            *time = (*time).max(record.time);
        }
    }
    noted
        .into_iter()
        .map(|((token, ip), time)| (token, ip, time))
        .collect()
}

/// Uses to count per token among `records`: how many, and the newest time and address.
pub fn uses<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Vec<(&'a str, i64, i64, &'a str)> {
    let mut uses: std::collections::BTreeMap<&str, (i64, i64, &str)> = Default::default();
    for record in records {
        if record.count_use
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
    /// More records wait than the queue holds.
    #[error("the audit writer is behind: {0} records wait")]
    Backlog(usize),
    /// The writer is gone.
    #[error("the audit writer has stopped")]
    Stopped,
    /// The token had no uses left: the record was written as a refusal.
    #[error("the token has no uses left")]
    QuotaExhausted,
}

impl AuditError {
    /// The reason a request refused for it is audited and counted under.
    pub fn reason(&self) -> Reason {
        match self {
            Self::Backlog(_) => Reason::AuditBacklog,
            Self::Write(_) | Self::Stopped => Reason::AuditUnavailable,
            Self::QuotaExhausted => Reason::QuotaExhausted,
        }
    }
}

/// A backend that commits on the writer's own thread, blocking (SQLite).
pub trait BlockingWriter: Send + 'static {
    /// Writes one batch in one transaction; [`answers`]: an id per `Append` and `Filter`.
    fn commit(&mut self, batch: &[Write]) -> Result<Vec<Answer>, StoreError>;
}

enum Job {
    Append(Box<AuditRecord>, oneshot::Sender<Result<i64, AuditError>>),
    Filter(Box<FilterBatch>, oneshot::Sender<Result<i64, AuditError>>),
    Complete(Completion),
    /// Answered once everything sent before it is committed.
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// The handle requests use to reach the writer; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    jobs: mpsc::Sender<Job>,
    capacity: usize,
    metrics: Arc<Metrics>,
    /// Poked after every commit, so the audit sink reads new records at once.
    committed: Arc<Notify>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog")
    }
}

/// Records that may wait for the writer by default.
pub const DEFAULT_QUEUE: usize = 4096;
/// Batches that commit at once by default (PostgreSQL): an eighth of the connection
/// pool. Measured on one machine with PostgreSQL local (`tests/bench/gateway.sh`, PG=1):
/// 2 gave 5,680 req/s, 4 gave 4,740 and 8 gave 3,330, since more slots make smaller
/// batches and PostgreSQL pays a commit for each; a remote database with longer round
/// trips may want more (`TOKENGATE_AUDIT_COMMITS`).
pub const DEFAULT_COMMITS: usize = crate::store::postgres::POOL_SIZE / 8;

impl AuditLog {
    /// Starts the writer for `backend` with the default queue and commits in flight.
    pub fn start(backend: Arc<dyn Backend>, metrics: Arc<Metrics>) -> Self {
        Self::with_limits(backend, metrics, DEFAULT_QUEUE, DEFAULT_COMMITS)
    }

    /// Starts the writer: a thread of its own when the backend blocks, committing one
    /// batch at a time; otherwise a task on the current runtime that keeps up to
    /// `commits` batches committing at once. At most `capacity` records wait for it,
    /// and at most `commits` batches of [`MAX_BATCH`] are being committed.
    pub fn with_limits(
        backend: Arc<dyn Backend>,
        metrics: Arc<Metrics>,
        capacity: usize,
        commits: usize,
    ) -> Self {
        let capacity = capacity.max(1);
        let (jobs, queue) = mpsc::channel(capacity);
        let writer_metrics = Arc::clone(&metrics);
        let committed = Arc::new(Notify::new());
        let poke = Arc::clone(&committed);
        match backend.blocking_writer() {
            Some(mut writer) => {
                let spawned = std::thread::Builder::new()
                    .name("audit-writer".into())
                    .spawn(move || {
                        let mut queue = queue;
                        while let Some(first) = queue.blocking_recv() {
                            let (batch, mut rest) = split(drain(first, &mut queue));
                            let result = if batch.is_empty() {
                                Ok(Vec::new())
                            } else {
                                let started = Instant::now();
                                let result = writer.commit(&batch);
                                writer_metrics.observe_audit_commit(started.elapsed(), batch.len());
                                if result.is_ok() {
                                    poke.notify_one();
                                }
                                result
                            };
                            answer(result, batch.len(), std::mem::take(&mut rest.waiters));
                            if rest.finish() {
                                break;
                            }
                        }
                    });
                if let Err(err) = spawned {
                    // No writer: every append fails (503) and says why in the log.
                    tracing::error!(error = %err, "the audit writer thread could not start");
                }
            }
            None => {
                tokio::spawn(commit_concurrently(
                    backend,
                    queue,
                    writer_metrics,
                    commits.max(1),
                    poke,
                ));
            }
        }
        Self {
            jobs,
            capacity,
            metrics,
            committed,
        }
    }

    /// Appends a record and waits until it is committed; returns its id. Refused at once
    /// when the queue is full.
    pub async fn append(&self, record: AuditRecord) -> Result<i64, AuditError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .try_send(Job::Append(Box::new(record), reply))
            .map_err(|err| match err {
                mpsc::error::TrySendError::Full(_) => AuditError::Backlog(self.capacity),
                mpsc::error::TrySendError::Closed(_) => AuditError::Stopped,
            })?;
        answer.await.map_err(|_| AuditError::Stopped)?
    }

    /// Appends a filter's batch unless a batch with its id was stored before, and waits
    /// for the commit. Refused at once when the queue is full.
    pub async fn append_filter(&self, batch: FilterBatch) -> Result<Stored, AuditError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .try_send(Job::Filter(Box::new(batch), reply))
            .map_err(|err| match err {
                mpsc::error::TrySendError::Full(_) => AuditError::Backlog(self.capacity),
                mpsc::error::TrySendError::Closed(_) => AuditError::Stopped,
            })?;
        let last_id = answer.await.map_err(|_| AuditError::Stopped)??;
        Ok(if last_id == 0 {
            Stored::Duplicate
        } else {
            Stored::New
        })
    }

    /// Records what was learnt after forwarding (committed with a later batch). When the
    /// queue is full it is dropped (the record stays, without its status) and counted.
    pub fn complete(&self, completion: Completion) {
        if self.jobs.try_send(Job::Complete(completion)).is_err() {
            self.metrics.completion_dropped();
        }
    }

    /// Waits until everything sent so far is committed: an admin action's outcome is in
    /// the audit log before its answer reaches the client.
    pub async fn flush(&self) {
        let (reply, done) = oneshot::channel();
        if self.jobs.send(Job::Flush(reply)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Notified after each commit (one waiter: the audit sink).
    pub fn committed(&self) -> Arc<Notify> {
        Arc::clone(&self.committed)
    }

    /// Commits everything sent so far and stops the writer.
    pub async fn shutdown(&self) {
        let (reply, done) = oneshot::channel();
        if self.jobs.send(Job::Shutdown(reply)).await.is_ok() {
            let _ = done.await;
        }
    }
}

/// `first` and every job waiting behind it, up to a batch.
fn drain(first: Job, queue: &mut mpsc::Receiver<Job>) -> Vec<Job> {
    let mut jobs = vec![first];
    while jobs.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
    jobs
}

/// What a batch of jobs asks for: the writes, and who waits for what.
struct Rest {
    waiters: Vec<oneshot::Sender<Result<i64, AuditError>>>,
    flushed: Vec<oneshot::Sender<()>>,
    stop: Option<oneshot::Sender<()>>,
}

fn split(jobs: Vec<Job>) -> (Vec<Write>, Rest) {
    let mut batch = Vec::with_capacity(jobs.len());
    let mut rest = Rest {
        waiters: Vec::with_capacity(jobs.len()),
        flushed: Vec::new(),
        stop: None,
    };
    for job in jobs {
        match job {
            Job::Append(record, reply) => {
                batch.push(Write::Append(record));
                rest.waiters.push(reply);
            }
            Job::Filter(filter, reply) => {
                batch.push(Write::Filter(filter));
                rest.waiters.push(reply);
            }
            Job::Complete(completion) => batch.push(Write::Complete(completion)),
            Job::Flush(reply) => rest.flushed.push(reply),
            Job::Shutdown(reply) => rest.stop = Some(reply),
        }
    }
    (batch, rest)
}

impl Rest {
    /// Answers the flushes and the shutdown, once everything before them is committed;
    /// whether the writer should stop.
    fn finish(self) -> bool {
        for reply in self.flushed {
            let _ = reply.send(());
        }
        match self.stop {
            Some(reply) => {
                let _ = reply.send(());
                true
            }
            None => false,
        }
    }
}

/// The writer of a backend whose commits are awaited (PostgreSQL). A batch is whatever
/// waits when one of `commits` slots is free, so commit latency stops bounding
/// throughput: while some batches commit, the next ones form and start. Each waiter is
/// answered when its own batch commits.
async fn commit_concurrently(
    backend: Arc<dyn Backend>,
    mut queue: mpsc::Receiver<Job>,
    metrics: Arc<Metrics>,
    commits: usize,
    committed: Arc<Notify>,
) {
    let slots = Arc::new(Semaphore::new(commits));
    let all = u32::try_from(commits).unwrap_or(u32::MAX);
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let Some(first) = queue.recv().await else {
            return;
        };
        let (batch, mut rest) = split(drain(first, &mut queue));
        let waiters = std::mem::take(&mut rest.waiters);
        if batch.is_empty() {
            drop(slot);
        } else {
            let backend = Arc::clone(&backend);
            let metrics = Arc::clone(&metrics);
            let committed = Arc::clone(&committed);
            tokio::spawn(async move {
                let records = batch.len();
                let started = Instant::now();
                let result = backend.commit_audit(batch).await;
                metrics.observe_audit_commit(started.elapsed(), records);
                if result.is_ok() {
                    committed.notify_one();
                }
                answer(result, records, waiters);
                // Free for the next batch once this one's waiters know.
                drop(slot);
            });
        }
        if !rest.flushed.is_empty() || rest.stop.is_some() {
            // Everything sent before the flush is in a batch started by now: all
            // slots free means all of them committed.
            let Ok(_idle) = slots.acquire_many(all).await else {
                return;
            };
            if rest.finish() {
                return;
            }
        }
    }
}

/// Answers each waiter with its record's id (or the failure).
fn answer(
    result: Result<Vec<Answer>, StoreError>,
    records: usize,
    waiters: Vec<oneshot::Sender<Result<i64, AuditError>>>,
) {
    if let Err(err) = &result {
        tracing::error!(error = %err, records, "audit commit failed");
    }
    let mut ids = result.as_ref().ok().map(|ids| ids.iter());
    for reply in waiters {
        let answer = match (&result, ids.as_mut().and_then(Iterator::next)) {
            (Ok(_), Some(Answer::Stored(id))) => Ok(*id),
            (Ok(_), Some(Answer::Exhausted(_))) => Err(AuditError::QuotaExhausted),
            (Err(err), _) => Err(AuditError::Write(err.to_string())),
            (Ok(_), None) => Err(AuditError::Write("lost record id".into())),
        };
        let _ = reply.send(answer);
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
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
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
    /// The proxy-wasm filter instance that decided (`credential/instance`); absent for
    /// the gateway's own records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
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
