//! Audit streaming (`TOKENGATE_AUDIT_SINK`): every committed audit record, in id order,
//! to a JSON-lines file or a syslog collector, with the audit table as the outbox.
//!
//! One task per gateway reads the records after its cursor a page at a time, hands them
//! to the sink and only then moves the cursor, which is saved in the database (at most
//! every [`SAVE_EVERY`], and at shutdown): a sink that is down holds nothing up but
//! itself, and a restart, even after `kill -9`, sends again at most the records since the
//! last save (at least once, never lost). The audit writer wakes the task after each
//! commit (a round at most every [`ROUND_GAP`]); on PostgreSQL one gateway streams at a
//! time (a lease), and another takes over within [`POLL`] when it stops.

pub mod jsonl;
pub mod syslog;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::audit::AuditFilter;
use crate::audit::cursor::Cursor;
use crate::gateway::App;
use crate::store::{SinkLease, StoreError};

/// The name the cursor is kept under: one per database, whatever the address, so that a
/// sink moved to another address goes on where the last one stopped.
const CURSOR_NAME: &str = "audit-sink";
/// Records read and sent per round (bounds the memory a backlog takes).
const PAGE: u64 = 1000;
/// Reads without a wake-up this often (records another gateway committed), and tries for
/// the lease this often while another gateway holds it.
pub const POLL: Duration = Duration::from_secs(1);
/// Least time between two rounds woken by commits: under load a commit every
/// millisecond would otherwise cost a round (a query, a write) each; with it a round
/// sends whatever those commits added. A full page is followed at once.
const ROUND_GAP: Duration = Duration::from_millis(25);
/// The cursor is saved at most this often while records flow.
pub const SAVE_EVERY: Duration = Duration::from_millis(200);
/// First wait after the sink failed; doubled on each failure up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(100);
/// Longest wait between attempts while the sink is down.
const RETRY_MAX: Duration = Duration::from_secs(5);
/// At shutdown, how long the last records may take to reach the sink (the rest wait in the
/// outbox for the next start).
const DRAIN: Duration = Duration::from_secs(5);

/// Where records are streamed (`TOKENGATE_AUDIT_SINK`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkAddress {
    /// `jsonl:PATH`: a file, one JSON object per line.
    Jsonl(PathBuf),
    /// `syslog:udp://HOST:PORT`.
    SyslogUdp(String),
    /// `syslog:tcp://HOST:PORT`.
    SyslogTcp(String),
}

impl FromStr for SinkAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        const EXPECTED: &str =
            "expected `jsonl:PATH`, `syslog:udp://HOST:PORT` or `syslog:tcp://HOST:PORT`";
        if let Some(path) = text.strip_prefix("jsonl:") {
            if path.is_empty() || path.ends_with('/') {
                return Err(format!("`{text}` names no file; {EXPECTED}"));
            }
            return Ok(Self::Jsonl(PathBuf::from(path)));
        }
        let (udp, target) = match (
            text.strip_prefix("syslog:udp://"),
            text.strip_prefix("syslog:tcp://"),
        ) {
            (Some(target), _) => (true, target),
            (_, Some(target)) => (false, target),
            _ => return Err(format!("`{text}`: {EXPECTED}")),
        };
        let port = target
            .rsplit_once(':')
            .filter(|(host, _)| !host.is_empty() && !host.contains('/'))
            .and_then(|(_, port)| port.parse::<u16>().ok())
            .filter(|port| *port > 0);
        if port.is_none() {
            return Err(format!("`{text}` needs a HOST:PORT; {EXPECTED}"));
        }
        let target = target.to_owned();
        Ok(if udp {
            Self::SyslogUdp(target)
        } else {
            Self::SyslogTcp(target)
        })
    }
}

impl fmt::Display for SinkAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Jsonl(path) => write!(f, "jsonl:{}", path.display()),
            Self::SyslogUdp(target) => write!(f, "syslog:udp://{target}"),
            Self::SyslogTcp(target) => write!(f, "syslog:tcp://{target}"),
        }
    }
}

/// Why a round of streaming failed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The sink did not take the records.
    #[error("{target}: {source}")]
    Io {
        /// The file or collector.
        target: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A record could not be written as JSON.
    #[error("encoding a record: {0}")]
    Encode(serde_json::Error),
    /// The records or the cursor could not be read or saved.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The file or collector records go to.
#[derive(Debug)]
enum Output {
    Jsonl(jsonl::Jsonl),
    Syslog(syslog::Syslog),
}

impl Output {
    fn new(address: &SinkAddress) -> Self {
        match address {
            SinkAddress::Jsonl(path) => Self::Jsonl(jsonl::Jsonl::new(path.clone())),
            SinkAddress::SyslogUdp(target) => Self::Syslog(syslog::Syslog::udp(target.clone())),
            SinkAddress::SyslogTcp(target) => Self::Syslog(syslog::Syslog::tcp(target.clone())),
        }
    }

    async fn send(&mut self, rows: &[crate::audit::AuditRow]) -> Result<(), SinkError> {
        match self {
            Self::Jsonl(file) => file.write(rows).await,
            Self::Syslog(collector) => collector.send(rows).await,
        }
    }

    /// Makes what was sent durable before the cursor says so (a file's data on disk).
    async fn sync(&mut self) -> Result<(), SinkError> {
        match self {
            Self::Jsonl(file) => file.sync().await,
            Self::Syslog(_) => Ok(()),
        }
    }
}

/// The streaming task of a gateway with a sink; [`Streaming::stop`] ends it.
#[derive(Debug)]
pub struct Streaming {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Streaming {
    /// Starts streaming when the gateway has a sink.
    pub fn start(app: &App) -> Option<Self> {
        let address = app.config().audit_sink.clone()?;
        // Taken now, not in the task: SIGHUP must not end the process in between.
        let hangups = match address {
            SinkAddress::Jsonl(_) => hangups(),
            _ => None,
        };
        let (stop, stopped) = oneshot::channel();
        let mut stream = Stream::new(app.clone(), &address);
        tracing::info!(sink = %address, "streaming the audit log");
        let task = tokio::spawn(async move { stream.run(stopped, hangups).await });
        Some(Self { stop, task })
    }

    /// Sends what is committed (for at most [`DRAIN`]), saves the cursor and stops.
    /// Called once the audit writer has committed everything.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(err) = self.task.await {
            tracing::warn!(error = %err, "the audit sink task failed");
        }
    }
}

#[cfg(unix)]
type Hangups = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type Hangups = ();

#[cfg(unix)]
fn hangups() -> Option<Hangups> {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(err) => {
            tracing::warn!(error = %err, "SIGHUP cannot be caught; the file is never reopened");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangups() -> Option<Hangups> {
    None
}

async fn hangup(hangups: &mut Option<Hangups>) {
    #[cfg(unix)]
    if let Some(signal) = hangups.as_mut()
        && signal.recv().await.is_some()
    {
        return;
    }
    let _ = hangups;
    std::future::pending::<()>().await
}

/// What a round found.
#[derive(Debug, PartialEq, Eq)]
enum Round {
    /// A full page was sent: more may wait.
    More,
    /// Everything readable was sent (or waits for a missing id).
    CaughtUp,
    /// Another gateway streams.
    Standby,
}

/// The lease, and how far this gateway sent and saved.
struct Leased {
    lease: Arc<dyn SinkLease>,
    cursor: Cursor,
    saved: i64,
    saved_at: Instant,
    /// A save in flight, and the id it saves. Rounds go on meanwhile: on SQLite a save
    /// waits for the audit writer's connection, which is busy under load.
    saving: Option<JoinHandle<Result<i64, StoreError>>>,
}

struct Stream {
    app: App,
    output: Output,
    leased: Option<Leased>,
}

impl Stream {
    fn new(app: App, address: &SinkAddress) -> Self {
        app.inner.metrics.sink_started();
        Self {
            output: Output::new(address),
            app,
            leased: None,
        }
    }

    async fn run(&mut self, mut stopped: oneshot::Receiver<()>, mut hangups: Option<Hangups>) {
        let committed = self.app.inner.audit.committed();
        let mut wait = Duration::ZERO;
        let mut retry = RETRY_FIRST;
        let mut failing = false;
        let mut earliest = tokio::time::Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = &mut stopped => break,
                () = hangup(&mut hangups) => self.reopen().await,
                () = committed.notified(), if !failing => {
                    tokio::time::sleep_until(earliest).await;
                }
                () = tokio::time::sleep(wait) => {}
            }
            earliest = tokio::time::Instant::now() + ROUND_GAP;
            match self.round().await {
                Ok(round) => {
                    if failing {
                        tracing::info!("the audit sink takes records again");
                    }
                    failing = false;
                    retry = RETRY_FIRST;
                    wait = match round {
                        Round::More => Duration::ZERO,
                        Round::CaughtUp => self.save_due().unwrap_or(POLL),
                        Round::Standby => POLL,
                    };
                }
                Err(err) => {
                    if !failing {
                        tracing::warn!(error = %err, "the audit sink is down; records wait in the audit log");
                    }
                    failing = true;
                    wait = retry;
                    retry = (retry * 2).min(RETRY_MAX);
                }
            }
        }
        self.drain().await;
    }

    /// At shutdown: the records committed until now, then the cursor.
    async fn drain(&mut self) {
        let deadline = tokio::time::Instant::now() + DRAIN;
        let drained = tokio::time::timeout_at(deadline, async {
            while self.round().await? == Round::More {}
            Ok::<_, SinkError>(())
        })
        .await;
        match drained {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "the audit sink stopped behind; the rest is sent at the next start")
            }
            Err(_) => {
                tracing::warn!("the audit sink stopped behind; the rest is sent at the next start")
            }
        }
        if let Err(err) = self.save(true).await {
            tracing::warn!(error = %err, "saving the audit sink's cursor failed");
        }
    }

    async fn reopen(&mut self) {
        if let Output::Jsonl(file) = &mut self.output {
            match file.reopen().await {
                Ok(()) => tracing::info!("SIGHUP: the audit sink's file was reopened"),
                Err(err) => {
                    tracing::warn!(error = %err, "SIGHUP: reopening the audit sink's file failed")
                }
            }
        }
    }

    /// How long until the unsaved cursor is due for saving, if it is unsaved.
    fn save_due(&self) -> Option<Duration> {
        let leased = self.leased.as_ref()?;
        if leased.saving.is_some() {
            // Looked at again once it may have finished.
            return Some(SAVE_EVERY);
        }
        (leased.cursor.floor() > leased.saved)
            .then(|| SAVE_EVERY.saturating_sub(leased.saved_at.elapsed()))
    }

    /// Holds the lease (with the cursor it saved), taking it if it is free.
    async fn lease(&mut self) -> Result<bool, SinkError> {
        if self
            .leased
            .as_ref()
            .is_some_and(|leased| leased.lease.held())
        {
            return Ok(true);
        }
        self.leased = None;
        let store = self.app.store();
        let Some(lease) = store.sink_lease(CURSOR_NAME).await? else {
            self.app.inner.metrics.sink_active(false);
            return Ok(false);
        };
        let floor = match lease.cursor().await? {
            Some(floor) => floor,
            // A first start sends the whole audit log; records pruned before it are no
            // gap to wait for.
            None => {
                let (first, _) = store
                    .query_audit(&AuditFilter {
                        after_id: Some(0),
                        max_results: 1,
                        ..AuditFilter::default()
                    })
                    .await?;
                first.first().map_or(0, |row| row.id.saturating_sub(1))
            }
        };
        tracing::info!(after = floor, "this gateway streams the audit log");
        self.app.inner.metrics.sink_active(true);
        self.leased = Some(Leased {
            lease: Arc::from(lease),
            cursor: Cursor::new(floor),
            saved: floor,
            saved_at: Instant::now(),
            saving: None,
        });
        Ok(true)
    }

    /// Sends the next page of committed records, in id order.
    async fn round(&mut self) -> Result<Round, SinkError> {
        let result = self.send_page().await;
        if let Err(SinkError::Store(_)) = &result {
            // The lease may be gone with its connection: taken again from the saved cursor.
            self.leased = None;
        }
        result
    }

    async fn send_page(&mut self) -> Result<Round, SinkError> {
        if !self.lease().await? {
            return Ok(Round::Standby);
        }
        let Some(leased) = self.leased.as_mut() else {
            return Ok(Round::Standby);
        };
        let store = self.app.store();
        let metrics = &self.app.inner.metrics;
        let (rows, _) = store
            .query_audit(&AuditFilter {
                after_id: Some(leased.cursor.floor()),
                max_results: PAGE,
                ..AuditFilter::default()
            })
            .await?;
        let full = u64::try_from(rows.len()).unwrap_or(u64::MAX) >= PAGE;
        let ready = leased.cursor.in_order(&rows, Instant::now());
        let sent = match rows.get(..ready) {
            Some(batch @ [.., last]) => match self.output.send(batch).await {
                Ok(()) => {
                    leased.cursor.advance_to(last.id);
                    let now = crate::now_ms();
                    metrics.sink_delivered(batch.iter().map(|row| now.saturating_sub(row.time)));
                    ready
                }
                Err(err) => {
                    metrics.sink_failed();
                    metrics.sink_lag(lag_records(&rows, 0, full, store).await, lag_ms(&rows, 0));
                    return Err(err);
                }
            },
            _ => 0,
        };
        metrics.sink_lag(
            lag_records(&rows, sent, full, store).await,
            lag_ms(&rows, sent),
        );
        self.save(false).await?;
        Ok(if full && sent == rows.len() {
            Round::More
        } else {
            Round::CaughtUp
        })
    }

    /// Saves the cursor when it moved, at most every [`SAVE_EVERY`] unless `now`.
    /// In the background (one save at a time), or, when `now`, before it returns.
    async fn save(&mut self, now: bool) -> Result<(), SinkError> {
        let Some(leased) = self.leased.as_mut() else {
            return Ok(());
        };
        if let Some(saving) = leased.saving.take_if(|saving| now || saving.is_finished()) {
            leased.saved = saving.await.map_err(|_| StoreError::Stopped)??;
        }
        let floor = leased.cursor.floor();
        if floor <= leased.saved
            || leased.saving.is_some()
            || (!now && leased.saved_at.elapsed() < SAVE_EVERY)
        {
            return Ok(());
        }
        // What the cursor will say was sent is on disk first.
        self.output.sync().await?;
        leased.saved_at = Instant::now();
        if now {
            leased.lease.save(floor).await?;
            leased.saved = floor;
        } else {
            let lease = Arc::clone(&leased.lease);
            leased.saving = Some(tokio::spawn(async move {
                lease.save(floor).await.map(|()| floor)
            }));
        }
        Ok(())
    }
}

/// Committed records not sent yet: those of the page after the `sent` ones, or, when the
/// page was full, every record after them (ids never used count too).
async fn lag_records(
    rows: &[crate::audit::AuditRow],
    sent: usize,
    full: bool,
    store: &crate::store::Store,
) -> u64 {
    let unsent = u64::try_from(rows.len().saturating_sub(sent)).unwrap_or(u64::MAX);
    if !full {
        return unsent;
    }
    let after = match sent.checked_sub(1).and_then(|last| rows.get(last)) {
        Some(row) => row.id,
        None => rows.first().map_or(0, |row| row.id.saturating_sub(1)),
    };
    match store.last_audit_id().await {
        Ok(newest) => u64::try_from(newest.saturating_sub(after)).unwrap_or(0),
        Err(_) => unsent,
    }
}

/// Age of the oldest record read but not sent, ms (0 when there is none).
fn lag_ms(rows: &[crate::audit::AuditRow], sent: usize) -> i64 {
    rows.get(sent)
        .map_or(0, |row| crate::now_ms().saturating_sub(row.time).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_or_say_what_is_expected() {
        assert_eq!(
            "jsonl:/var/log/tokengate/audit.jsonl".parse(),
            Ok(SinkAddress::Jsonl("/var/log/tokengate/audit.jsonl".into()))
        );
        assert_eq!(
            "syslog:udp://127.0.0.1:514".parse(),
            Ok(SinkAddress::SyslogUdp("127.0.0.1:514".into()))
        );
        assert_eq!(
            "syslog:tcp://[::1]:6514".parse(),
            Ok(SinkAddress::SyslogTcp("[::1]:6514".into()))
        );
        for bad in [
            "jsonl:",
            "file:/x",
            "syslog:udp://127.0.0.1",
            "syslog:tcp://:514",
            "syslog:tcp://host:0",
            "syslog://host:514",
        ] {
            let err = bad.parse::<SinkAddress>().err().unwrap_or_default();
            assert!(err.contains("expected `jsonl:PATH`"), "{bad}: {err}");
        }
        let address: SinkAddress = "syslog:tcp://logs:601"
            .parse()
            .unwrap_or(SinkAddress::Jsonl(PathBuf::new()));
        assert_eq!(address.to_string(), "syslog:tcp://logs:601");
    }
}
