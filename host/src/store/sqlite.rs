//! The embedded backend: one SQLite file in the data directory (WAL,
//! `synchronous=FULL`, schema versioned with `PRAGMA user_version`), for one gateway
//! plus the CLI beside it. Rate buckets live in the gateway's memory.
//!
//! Every call blocks (SQLite has no async interface, and writes wait for an fsync), so none
//! runs on an async worker: reads and admin writes go to tokio's blocking threads, audit
//! batches to the audit writer's own thread and connection, and a third connection copies
//! the WAL into the database file in the background (the same thread keeps the reading
//! connection's planner statistics fresh).

use std::path::Path;
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use tokio::sync::mpsc;

use super::{
    AuditSync, Backend, Loaded, Pending, RateAnswer, Revoke, SinkLease, StoreError, TokenRow,
    clamp_i64, digest_from,
};
use crate::audit::{self, Answer, AuditFilter, AuditRow, BlockingWriter, Param, Ration, Write};
use crate::events::{CLAIM_MS, Event, Settle};
use crate::index::{Lifecycle, Token};
use crate::rate::RateLimiter;

/// How long a connection waits for another writer (CLI next to a running gateway).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the WAL is copied into the database file. Under load the WAL grows by
/// tens of MiB a second (each commit rewrites the same few pages); a checkpoint
/// copies each page once.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// WAL frames (pages) after which a checkpoint also makes the next commit start
/// the WAL afresh. Under steady load a passive checkpoint never catches up with
/// the writer, so without a restart the WAL, and its index in memory, grow for
/// ever. 1024 frames are 4 MiB.
const RESTART_AT_FRAMES: i64 = 1024;
/// How often the reading connection's planner statistics are looked at again (`PRAGMA
/// optimize`: only tables that grew or shrank 25-fold since they were analysed). Those
/// taken when a young database was opened say the audit log has one row, and then a read
/// after an id (the audit sink's, `--follow`) scans the whole time index instead of the
/// rowid range.
const STATISTICS_EVERY: Duration = Duration::from_secs(1);
/// The WAL file is truncated to this when a writer starts it afresh, bytes.
const WAL_SIZE_LIMIT: i64 = 64 << 20;

/// The schema, one step per version; `user_version` counts the steps applied.
const MIGRATIONS: &[&str] = &[
    // 1: tokens and the audit log.
    "CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        digest BLOB NOT NULL UNIQUE,
        hint TEXT NOT NULL,
        label TEXT NOT NULL,
        user TEXT,
        limit_to TEXT NOT NULL,
        ip TEXT NOT NULL,
        valid_until INTEGER,
        date_created INTEGER NOT NULL,
        created_by TEXT,
        counter INTEGER NOT NULL DEFAULT 0,
        last_used INTEGER,
        last_ip TEXT,
        revoked INTEGER
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        time INTEGER NOT NULL,
        token_id TEXT,
        user TEXT,
        client_ip TEXT NOT NULL,
        method TEXT NOT NULL,
        url TEXT NOT NULL,
        decision TEXT NOT NULL,
        reason TEXT,
        detail TEXT,
        line INTEGER,
        line_text TEXT,
        action TEXT,
        upstream_status INTEGER,
        latency_ms INTEGER,
        component TEXT NOT NULL
    );
    CREATE INDEX audit_time ON audit(time);
    CREATE INDEX audit_token ON audit(token_id);
    CREATE INDEX audit_user ON audit(user);
    CREATE TABLE meta (tokens_version INTEGER NOT NULL);
    INSERT INTO meta VALUES (0);
    CREATE TRIGGER tokens_inserted AFTER INSERT ON tokens
        BEGIN UPDATE meta SET tokens_version = tokens_version + 1; END;
    CREATE TRIGGER tokens_revoked AFTER UPDATE OF revoked ON tokens
        BEGIN UPDATE meta SET tokens_version = tokens_version + 1; END;",
    // 2: a change log instead of a version counter (indexes catch up by token, not
    // by reloading everything), and the server key's id.
    "DROP TRIGGER tokens_inserted;
    DROP TRIGGER tokens_revoked;
    DROP TABLE meta;
    CREATE TABLE meta (key_id TEXT NOT NULL);
    CREATE TABLE token_changes (
        version INTEGER PRIMARY KEY AUTOINCREMENT,
        token_id TEXT NOT NULL
    );
    CREATE TRIGGER tokens_inserted AFTER INSERT ON tokens
        BEGIN INSERT INTO token_changes (token_id) VALUES (NEW.id); END;
    CREATE TRIGGER tokens_revoked AFTER UPDATE OF revoked ON tokens
        BEGIN INSERT INTO token_changes (token_id) VALUES (NEW.id); END;",
    // 3: the row `/healthz` writes to prove the store takes writes; per audit
    // filter an index that also walks newest first (pages are ordered by time, and
    // each index ends with the rowid), so a page stops after its records.
    "CREATE TABLE health (id INTEGER PRIMARY KEY CHECK (id = 1), checked INTEGER NOT NULL);
    DROP INDEX audit_token;
    DROP INDEX audit_user;
    CREATE INDEX audit_token ON audit(token_id, time);
    CREATE INDEX audit_user ON audit(user, time);
    CREATE INDEX audit_decision ON audit(decision, time);",
    // 4: what is learnt after forwarding (upstream status, latency, admin result), a row
    // of its own: an audit record is written once and never updated.
    "CREATE TABLE audit_outcomes (
        audit_id INTEGER PRIMARY KEY,
        status INTEGER,
        latency_ms INTEGER,
        action TEXT,
        reason TEXT
    );",
    // 5: the proxy-wasm filters: which filter instance decided a record (`via`), the ids
    // of the batches they sent (a retried batch is stored once), and their credentials.
    "ALTER TABLE audit ADD COLUMN via TEXT;
    CREATE TABLE filter_batches (
        via TEXT NOT NULL,
        batch TEXT NOT NULL,
        received INTEGER NOT NULL,
        records INTEGER NOT NULL,
        PRIMARY KEY (via, batch)
    ) WITHOUT ROWID;
    CREATE INDEX filter_batches_received ON filter_batches(received);
    CREATE TABLE filter_credentials (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        digest BLOB NOT NULL UNIQUE,
        hint TEXT NOT NULL,
        created INTEGER NOT NULL,
        created_by TEXT,
        revoked INTEGER
    );",
    // 6: the token lifecycle: rotation (successor, predecessor, end of the grace period,
    // logged as a change so every index learns the end), uses left, the last client
    // addresses, and the events webhooks deliver: written by triggers, so each is in the
    // transaction of the change that caused it (the outbox).
    "ALTER TABLE tokens ADD COLUMN rotated_from TEXT;
    ALTER TABLE tokens ADD COLUMN rotated_to TEXT;
    ALTER TABLE tokens ADD COLUMN retire_at INTEGER;
    ALTER TABLE tokens ADD COLUMN remaining_uses INTEGER;
    ALTER TABLE tokens ADD COLUMN expiring_noted INTEGER;
    ALTER TABLE tokens ADD COLUMN expired_noted INTEGER;
    ALTER TABLE tokens ADD COLUMN valid_from INTEGER;
    CREATE TRIGGER tokens_rotated AFTER UPDATE OF retire_at ON tokens
        BEGIN INSERT INTO token_changes (token_id) VALUES (NEW.id); END;
    CREATE TABLE token_ips (
        token_id TEXT NOT NULL,
        ip TEXT NOT NULL,
        last_seen INTEGER NOT NULL,
        PRIMARY KEY (token_id, ip)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        token_id TEXT NOT NULL,
        time INTEGER NOT NULL,
        detail TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL DEFAULT 0,
        claimed_until INTEGER,
        delivered INTEGER
    );
    CREATE INDEX events_pending ON events (next_attempt) WHERE delivered IS NULL;
    CREATE INDEX events_time ON events (time);
    CREATE TRIGGER event_created AFTER INSERT ON tokens WHEN NEW.rotated_from IS NULL
        BEGIN INSERT INTO events (kind, token_id, time)
            VALUES ('token.created', NEW.id, NEW.date_created); END;
    CREATE TRIGGER event_revoked AFTER UPDATE OF revoked ON tokens
        WHEN OLD.revoked IS NULL AND NEW.revoked IS NOT NULL
        BEGIN INSERT INTO events (kind, token_id, time)
            VALUES ('token.revoked', NEW.id, NEW.revoked); END;
    CREATE TRIGGER event_rotated AFTER UPDATE OF rotated_to ON tokens
        WHEN OLD.rotated_to IS NULL AND NEW.rotated_to IS NOT NULL
        BEGIN INSERT INTO events (kind, token_id, time, detail)
            VALUES ('token.rotated', NEW.id,
                CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), NEW.rotated_to); END;
    CREATE TRIGGER event_expiring AFTER UPDATE OF expiring_noted ON tokens
        WHEN OLD.expiring_noted IS NULL AND NEW.expiring_noted IS NOT NULL
        BEGIN INSERT INTO events (kind, token_id, time, detail)
            VALUES ('token.expiring', NEW.id, NEW.expiring_noted, NEW.valid_until); END;
    CREATE TRIGGER event_expired AFTER UPDATE OF expired_noted ON tokens
        WHEN OLD.expired_noted IS NULL AND NEW.expired_noted IS NOT NULL
        BEGIN INSERT INTO events (kind, token_id, time, detail)
            VALUES ('token.expired', NEW.id, NEW.expired_noted, NEW.valid_until); END;
    CREATE TRIGGER event_new_ip AFTER INSERT ON token_ips
        BEGIN INSERT INTO events (kind, token_id, time, detail)
            VALUES ('token.new_ip', NEW.token_id, NEW.last_seen, NEW.ip); END;",
    // 7: how far the audit sink got (the audit table is its outbox).
    "CREATE TABLE audit_sink_cursor (sink TEXT PRIMARY KEY, last_id INTEGER NOT NULL);",
];

const TOKEN_COLUMNS: &str = "id, digest, hint, label, user, limit_to, ip, valid_until, \
                             date_created, created_by, counter, last_used, last_ip, revoked, \
                             rotated_from, rotated_to, retire_at, remaining_uses, valid_from";

/// The SQLite file, opened.
pub struct Sqlite {
    conn: Arc<Mutex<Connection>>,
    /// The audit writer's own connection, used from a blocking thread.
    audit: Arc<Mutex<Connection>>,
    limiter: RateLimiter,
    /// Dropping it stops the checkpoint thread and waits for it.
    _checkpoints: Checkpoints,
}

/// Opens a connection with the settings every tokengate connection uses.
pub fn connect(db_path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(db_path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Audit records must survive power loss once the request was forwarded.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

impl Sqlite {
    /// Opens (creating and migrating) the file.
    pub fn open(db_path: &Path) -> Result<Self, StoreError> {
        let mut conn = connect(db_path)?;
        migrate(&mut conn)?;
        // Fresh planner statistics (bounded work), so a filter on a token picks the
        // token's index over the decision's.
        conn.execute_batch("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;")?;
        super::restrict_file(db_path)?;
        let audit = connect(db_path)?;
        // Checkpoints run on their own thread: an automatic one runs inside the
        // commit that crosses its threshold, and every request waiting on that
        // commit would wait for two more fsyncs and the copy.
        for conn in [&conn, &audit] {
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        }
        let conn = Arc::new(Mutex::new(conn));
        let background = connect(db_path)?;
        background.pragma_update(None, "analysis_limit", 1000)?;
        let checkpoints =
            spawn_checkpoints(background, Arc::clone(&conn)).map_err(|source| StoreError::Io {
                what: "starting the checkpoint thread for",
                path: db_path.to_owned(),
                source,
            })?;
        Ok(Self {
            conn,
            audit: Arc::new(Mutex::new(audit)),
            limiter: RateLimiter::default(),
            _checkpoints: checkpoints,
        })
    }

    /// Runs `f` on the main connection on a blocking thread.
    pub(super) fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Pending<'static, T> {
        blocking_on(&self.conn, f)
    }
}

/// Runs `f` on `conn` on a blocking thread.
fn blocking_on<T: Send + 'static>(
    conn: &Arc<Mutex<Connection>>,
    f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
) -> Pending<'static, T> {
    let conn = Arc::clone(conn);
    Box::pin(async move {
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&conn)
        })
        .await
        .map_err(|_| StoreError::Stopped)?
    })
}

/// The audit sink's cursor. One gateway serves a SQLite file, so the lease always holds.
struct SinkCursor {
    /// The audit writer's connection: a save queues behind the commits instead of
    /// contending with them for the write lock (SQLite's busy wait sleeps up to 100 ms).
    conn: Arc<Mutex<Connection>>,
    sink: String,
}

impl SinkLease for SinkCursor {
    fn held(&self) -> bool {
        true
    }

    fn cursor(&self) -> Pending<'_, Option<i64>> {
        let sink = self.sink.clone();
        blocking_on(&self.conn, move |conn| {
            Ok(conn
                .query_row(
                    "SELECT last_id FROM audit_sink_cursor WHERE sink = ?1",
                    params![sink],
                    |row| row.get(0),
                )
                .optional()?)
        })
    }

    fn save(&self, id: i64) -> Pending<'_, ()> {
        let sink = self.sink.clone();
        blocking_on(&self.conn, move |conn| {
            conn.execute(
                "INSERT INTO audit_sink_cursor (sink, last_id) VALUES (?1, ?2)
                 ON CONFLICT (sink) DO UPDATE SET last_id = excluded.last_id",
                params![sink, id],
            )?;
            Ok(())
        })
    }
}

/// The checkpoint thread. Dropping it stops the thread and waits until its
/// connection is closed, so that the store is closed when its owner is dropped
/// (the last connection to close removes the WAL).
struct Checkpoints {
    stop: Option<Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Checkpoints every `CHECKPOINT_EVERY`, and refreshes the statistics of `planner` (the
/// connection that reads) every `STATISTICS_EVERY`, until the returned handle is dropped.
fn spawn_checkpoints(
    conn: Connection,
    planner: Arc<Mutex<Connection>>,
) -> std::io::Result<Checkpoints> {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let thread = thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut failing = false;
            let mut analysed = Instant::now();
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                if analysed.elapsed() >= STATISTICS_EVERY {
                    analysed = Instant::now();
                    if let Err(err) = refresh_statistics(&conn, &planner) {
                        tracing::debug!(error = %err, "refreshing planner statistics failed");
                    }
                }
                match checkpoint(&conn) {
                    Ok(()) => failing = false,
                    Err(err) if !failing => {
                        // A full disk fails every try; say so once per streak.
                        tracing::warn!(error = %err, "WAL checkpoint failed; retrying");
                        failing = true;
                    }
                    Err(_) => {}
                }
            }
        })?;
    Ok(Checkpoints {
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// Analyses the tables whose size changed 25-fold here, where waiting for the write lock
/// holds up nobody, and has `planner` load the new statistics (a read) when they changed.
fn refresh_statistics(conn: &Connection, planner: &Mutex<Connection>) -> rusqlite::Result<()> {
    let audit_stat = |conn: &Connection| -> rusqlite::Result<Option<String>> {
        conn.query_row(
            "SELECT group_concat(stat) FROM sqlite_stat1 WHERE tbl = 'audit'",
            [],
            |row| row.get(0),
        )
    };
    let before = audit_stat(conn)?;
    conn.execute_batch("PRAGMA optimize = 0x10002;")?;
    if audit_stat(conn)? != before {
        let planner = planner.lock().unwrap_or_else(PoisonError::into_inner);
        planner.execute_batch("ANALYZE sqlite_schema;")?;
    }
    Ok(())
}

/// Copies what it can without waiting; past `RESTART_AT_FRAMES`, also the rest,
/// holding the writer back only for the frames added meanwhile.
fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    let frames: i64 = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))?;
    if frames >= RESTART_AT_FRAMES {
        conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))?;
    }
    Ok(())
}

impl Backend for Sqlite {
    fn claim_key<'a>(&'a self, key_id: &'a str) -> Pending<'a, Option<String>> {
        let key_id = key_id.to_owned();
        self.blocking(move |conn| {
            let stored: Option<String> = conn
                .query_row("SELECT key_id FROM meta", [], |row| row.get(0))
                .optional()?;
            match stored {
                Some(stored) if stored != key_id => Ok(Some(stored)),
                Some(_) => Ok(None),
                None => {
                    conn.execute("INSERT INTO meta (key_id) VALUES (?1)", params![key_id])?;
                    Ok(None)
                }
            }
        })
    }

    fn load_tokens(&self) -> Pending<'_, Loaded> {
        self.blocking(|conn| {
            // One read transaction: the version matches the rows.
            conn.execute_batch("BEGIN")?;
            let loaded = (|| {
                let version = newest_change(conn)?;
                let mut statement = conn.prepare(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM tokens WHERE revoked IS NULL"
                ))?;
                let tokens = statement
                    .query_map([], token_from_row)?
                    .collect::<Result<Vec<_>, _>>()?;
                let mut statement =
                    conn.prepare("SELECT id, digest FROM tokens WHERE revoked IS NOT NULL")?;
                let revoked = statement
                    .query_map([], |row| {
                        let digest: Vec<u8> = row.get(1)?;
                        Ok((row.get::<_, String>(0)?, digest))
                    })?
                    .filter_map(|row| match row {
                        Ok((id, digest)) => digest_from(&digest).map(|digest| Ok((id, digest))),
                        Err(err) => Some(Err(err)),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok::<_, rusqlite::Error>((tokens, revoked, version))
            })();
            conn.execute_batch("COMMIT")?;
            Ok(loaded?)
        })
    }

    fn changes_since(&self, version: i64) -> Pending<'_, (Vec<String>, i64)> {
        self.blocking(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT version, token_id FROM token_changes WHERE version > ?1 ORDER BY version",
            )?;
            let mut newest = version;
            let mut ids = Vec::new();
            for row in statement.query_map(params![version], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })? {
                let (v, id) = row?;
                newest = newest.max(v);
                ids.push(id);
            }
            Ok((ids, newest))
        })
    }

    fn insert_token<'a>(&'a self, token: &'a Token) -> Pending<'a, ()> {
        let token = token.clone();
        self.blocking(move |conn| insert_token(conn, &token))
    }

    fn rotate<'a>(
        &'a self,
        which: Revoke<'a>,
        new: Token,
        retire_at: i64,
    ) -> Pending<'a, Option<(Token, Token)>> {
        let (condition, key) = which_condition(which);
        self.blocking(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let found = tx
                .query_row(
                    &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE {condition}"),
                    params![key],
                    |row| Ok((token_from_row(row)?, row.get::<_, Option<i64>>(13)?)),
                )
                .optional()?;
            let Some((old, revoked)) = found else {
                return Ok(None);
            };
            if let Some(err) = super::not_rotatable(&old, revoked) {
                return Err(err);
            }
            let new = super::rotated_copy(&old, new);
            insert_token(&tx, &new)?;
            let old = tx.query_row(
                &format!(
                    "UPDATE tokens SET rotated_to = ?1,
                         retire_at = MIN(?2, COALESCE(retire_at, ?2))
                     WHERE id = ?3 RETURNING {TOKEN_COLUMNS}"
                ),
                params![new.id, retire_at, old.id],
                token_from_row,
            )?;
            tx.commit()?;
            Ok(Some((old, new)))
        })
    }

    fn revoke<'a>(&'a self, which: Revoke<'a>, now: i64) -> Pending<'a, Option<Token>> {
        let (condition, key) = which_condition(which);
        let condition = condition.replace("?1", "?2");
        let revoked = self.blocking(move |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "UPDATE tokens SET revoked = ?1 WHERE {condition} AND revoked IS NULL
                         RETURNING {TOKEN_COLUMNS}"
                    ),
                    params![now, key],
                    token_from_row,
                )
                .optional()?)
        });
        Box::pin(async move {
            let revoked = revoked.await?;
            if let Some(token) = &revoked {
                self.limiter.forget(&token.id);
            }
            Ok(revoked)
        })
    }

    fn list(
        &self,
        start_at: u64,
        max_results: u64,
        include_revoked: bool,
    ) -> Pending<'_, (Vec<TokenRow>, u64)> {
        self.blocking(move |conn| {
            let filter = if include_revoked {
                ""
            } else {
                "WHERE revoked IS NULL"
            };
            let total: i64 = conn.query_row(
                &format!("SELECT COUNT(*) FROM tokens {filter}"),
                [],
                |row| row.get(0),
            )?;
            let mut statement = conn.prepare(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens {filter}
                 ORDER BY date_created DESC, id LIMIT ?1 OFFSET ?2"
            ))?;
            let mut rows = statement
                .query_map(
                    params![clamp_i64(max_results), clamp_i64(start_at)],
                    token_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            for row in &mut rows {
                row.last_ips = last_ips(conn, &row.token.id)?;
            }
            Ok((rows, u64::try_from(total).unwrap_or(0)))
        })
    }

    fn get<'a>(&'a self, id: &'a str) -> Pending<'a, Option<TokenRow>> {
        let id = id.to_owned();
        self.blocking(move |conn| {
            let row = conn
                .query_row(
                    &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1"),
                    params![id],
                    token_row,
                )
                .optional()?;
            let Some(mut row) = row else { return Ok(None) };
            row.last_ips = last_ips(conn, &row.token.id)?;
            Ok(Some(row))
        })
    }

    fn check_writable(&self) -> Pending<'_, ()> {
        // A real, durable write: fails on a full disk or a read-only file system.
        self.blocking(|conn| {
            conn.execute(
                "INSERT INTO health (id, checked) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET checked = excluded.checked",
                params![crate::now_ms()],
            )?;
            Ok(())
        })
    }

    fn set_audit_sync(&self, sync: AuditSync) -> Pending<'_, ()> {
        let level = match sync {
            AuditSync::Full => "FULL",
            AuditSync::Normal => "NORMAL",
        };
        let conn = Arc::clone(&self.audit);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
                conn.pragma_update(None, "synchronous", level)
                    .map_err(StoreError::from)
            })
            .await
            .map_err(|_| StoreError::Stopped)?
        })
    }

    fn commit_audit(&self, batch: Vec<Write>) -> Pending<'_, Vec<Answer>> {
        let conn = Arc::clone(&self.audit);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
                commit(&mut conn, &batch)
            })
            .await
            .map_err(|_| StoreError::Stopped)?
        })
    }

    fn blocking_writer(&self) -> Option<Box<dyn BlockingWriter>> {
        Some(Box::new(AuditConnection(Arc::clone(&self.audit))))
    }

    fn query_audit<'a>(&'a self, filter: &'a AuditFilter) -> Pending<'a, (Vec<AuditRow>, u64)> {
        let filter = filter.clone();
        self.blocking(move |conn| Ok(query(conn, &filter)?))
    }

    fn prune_audit(&self, before: i64, limit: u64) -> Pending<'_, u64> {
        let conn = Arc::clone(&self.audit);
        Box::pin(async move {
            // On the audit connection: deletes queue behind commits instead of
            // contending with them for the write lock.
            tokio::task::spawn_blocking(move || {
                let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
                let tx = conn.transaction()?;
                let oldest = "SELECT id FROM audit WHERE time < ?1 ORDER BY time LIMIT ?2";
                tx.execute(
                    &format!("DELETE FROM audit_outcomes WHERE audit_id IN ({oldest})"),
                    params![before, clamp_i64(limit)],
                )?;
                let deleted = tx.execute(
                    &format!("DELETE FROM audit WHERE id IN ({oldest})"),
                    params![before, clamp_i64(limit)],
                )?;
                // The ids of filter batches as old: a retry comes within minutes.
                tx.execute(
                    "DELETE FROM filter_batches WHERE (via, batch) IN
                         (SELECT via, batch FROM filter_batches WHERE received < ?1 LIMIT ?2)",
                    params![before, clamp_i64(limit)],
                )?;
                tx.commit()?;
                Ok(u64::try_from(deleted).unwrap_or(0))
            })
            .await
            .map_err(|_| StoreError::Stopped)?
        })
    }

    fn count_audit<'a>(&'a self, filter: &'a AuditFilter) -> Pending<'a, u64> {
        let filter = filter.clone();
        self.blocking(move |conn| {
            let (condition, values) = where_clause(&filter);
            let count: i64 = conn.query_row(
                &format!("SELECT COUNT(*) FROM audit a {condition}"),
                params_from_iter(values.iter()),
                |row| row.get(0),
            )?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
    }

    fn last_audit_id(&self) -> Pending<'_, i64> {
        self.blocking(|conn| {
            Ok(conn.query_row("SELECT COALESCE(MAX(id), 0) FROM audit", [], |r| r.get(0))?)
        })
    }

    fn take_rate<'a>(&'a self, token_id: &'a str, per_minute: u32) -> Pending<'a, RateAnswer> {
        Box::pin(std::future::ready(Ok(self.limiter.take(
            token_id,
            per_minute,
            Instant::now(),
        ))))
    }

    fn watch(&self) -> Option<mpsc::UnboundedReceiver<()>> {
        None
    }

    fn sweep_events(
        &self,
        now: i64,
        warning_ms: i64,
        forget_before: i64,
        undelivered_too: bool,
    ) -> Pending<'_, ()> {
        self.blocking(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let live = "revoked IS NULL AND rotated_to IS NULL AND valid_until IS NOT NULL";
            tx.execute(
                &format!(
                    "UPDATE tokens SET expiring_noted = ?1 WHERE expiring_noted IS NULL AND {live}
                     AND valid_until > ?1 AND valid_until - ?2 <= ?1"
                ),
                params![now, warning_ms],
            )?;
            tx.execute(
                &format!(
                    "UPDATE tokens SET expired_noted = ?1 WHERE expired_noted IS NULL AND {live}
                     AND valid_until <= ?1"
                ),
                params![now],
            )?;
            tx.execute(
                "DELETE FROM events WHERE time < ?1 AND (delivered IS NOT NULL OR ?2)",
                params![forget_before, undelivered_too],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn claim_events(&self, now: i64, limit: u32) -> Pending<'_, Vec<Event>> {
        self.blocking(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let mut events = {
                let mut claim = tx.prepare_cached(
                    "UPDATE events SET claimed_until = ?1 + ?2 WHERE id IN (
                         SELECT id FROM events WHERE delivered IS NULL AND next_attempt <= ?1
                             AND (claimed_until IS NULL OR claimed_until <= ?1)
                         ORDER BY id LIMIT ?3)
                     RETURNING id, kind, token_id, time, detail, attempts",
                )?;
                let mut token =
                    tx.prepare_cached("SELECT label, user FROM tokens WHERE id = ?1")?;
                let claimed = claim
                    .query_map(params![now, CLAIM_MS, limit], |row| {
                        Ok(Event {
                            id: row.get(0)?,
                            kind: row.get(1)?,
                            token_id: row.get(2)?,
                            time: row.get(3)?,
                            detail: row.get(4)?,
                            attempts: row.get(5)?,
                            label: None,
                            user: None,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                let mut events = Vec::with_capacity(claimed.len());
                for mut event in claimed {
                    if let Some((label, user)) = token
                        .query_row(params![event.token_id], |row| {
                            Ok((row.get(0)?, row.get(1)?))
                        })
                        .optional()?
                    {
                        (event.label, event.user) = (Some(label), user);
                    }
                    events.push(event);
                }
                events
            };
            tx.commit()?;
            events.sort_by_key(|event| event.id);
            Ok(events)
        })
    }

    fn settle_event(&self, id: i64, settle: Settle) -> Pending<'_, ()> {
        self.blocking(move |conn| {
            match settle {
                Settle::Delivered(at) => conn.execute(
                    "UPDATE events SET delivered = ?1, attempts = attempts + 1,
                         claimed_until = NULL WHERE id = ?2",
                    params![at, id],
                )?,
                Settle::Retry(at) => conn.execute(
                    "UPDATE events SET next_attempt = ?1, attempts = attempts + 1,
                         claimed_until = NULL WHERE id = ?2",
                    params![at, id],
                )?,
            };
            Ok(())
        })
    }

    fn sink_lease<'a>(&'a self, sink: &'a str) -> Pending<'a, Option<Box<dyn SinkLease>>> {
        let lease: Box<dyn SinkLease> = Box::new(SinkCursor {
            conn: Arc::clone(&self.audit),
            sink: sink.to_owned(),
        });
        Box::pin(std::future::ready(Ok(Some(lease))))
    }
}

/// The audit connection, committed on by the audit writer's thread.
struct AuditConnection(Arc<Mutex<Connection>>);

impl BlockingWriter for AuditConnection {
    fn commit(&mut self, batch: &[Write]) -> Result<Vec<Answer>, StoreError> {
        let mut conn = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        commit(&mut conn, batch)
    }
}

/// Writes one batch in one transaction; [`audit::answers`]: an answer per `Append` and
/// `Filter`.
fn commit(conn: &mut Connection, batch: &[Write]) -> Result<Vec<Answer>, StoreError> {
    let tx = conn.transaction()?;
    let answers;
    {
        // A filter batch's id is claimed first: a retry of a stored one appends nothing.
        let mut claim = tx.prepare_cached(
            "INSERT INTO filter_batches (via, batch, received, records) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (via, batch) DO NOTHING",
        )?;
        let received = crate::now_ms();
        let mut claimed = Vec::new();
        for write in batch {
            if let Write::Filter(filter) = write {
                let records = i64::try_from(filter.records.len()).unwrap_or(i64::MAX);
                claimed.push(
                    claim.execute(params![filter.via, filter.batch, received, records])? == 1,
                );
            }
        }
        let mut insert = tx.prepare_cached(
            "INSERT INTO audit (time, token_id, user, client_ip, method, url, decision, reason,
                 detail, line, line_text, action, upstream_status, latency_ms, component, via)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?;
        // Uses left are read and taken inside the transaction, which holds SQLite's
        // one write lock: no other commit can take the same use.
        let appended: Vec<&audit::AuditRecord> = audit::appended(batch, &claimed).collect();
        let mut remaining = tx.prepare_cached("SELECT remaining_uses FROM tokens WHERE id = ?1")?;
        let ration = Ration::grant(&appended, |token| {
            Ok(remaining
                .query_row(params![token], |row| row.get(0))
                .optional()?
                .flatten())
        })?;
        let mut take = tx.prepare_cached("UPDATE tokens SET remaining_uses = ?1 WHERE id = ?2")?;
        for (token, left) in &ration.left {
            take.execute(params![left, token])?;
        }
        let records = ration.apply(&appended);
        let mut ids = Vec::new();
        for record in &records {
            insert.execute(params![
                record.time,
                record.token_id,
                record.user,
                record.client_ip,
                record.method,
                record.url,
                record.decision.as_str(),
                record.reason.map(audit::Reason::as_str),
                record.detail,
                record.line,
                record.line_text,
                record.action,
                record.status,
                record.latency_ms,
                record.component,
                record.via
            ])?;
            ids.push(tx.last_insert_rowid());
        }
        let mut complete = tx.prepare_cached(
            "INSERT OR REPLACE INTO audit_outcomes (status, latency_ms, action, reason, audit_id)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for write in batch {
            if let Write::Complete(done) = write {
                complete.execute(params![
                    done.status,
                    done.latency_ms,
                    done.action,
                    done.reason.map(audit::Reason::as_str),
                    done.id
                ])?;
            }
        }
        let mut count = tx.prepare_cached(
            "UPDATE tokens SET counter = counter + ?1,
                 last_ip = CASE WHEN ?2 >= COALESCE(last_used, 0) THEN ?3 ELSE last_ip END,
                 last_used = MAX(COALESCE(last_used, 0), ?2)
             WHERE id = ?4",
        )?;
        for (token_id, uses, time, ip) in audit::uses(records.iter().map(|r| &**r)) {
            count.execute(params![uses, time, ip, token_id])?;
        }
        let mut note = tx.prepare_cached(
            "INSERT INTO token_ips (token_id, ip, last_seen) VALUES (?1, ?2, ?3)
             ON CONFLICT (token_id, ip) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen)",
        )?;
        let mut keep = tx.prepare_cached(
            "DELETE FROM token_ips WHERE token_id = ?1 AND ip NOT IN
                 (SELECT ip FROM token_ips WHERE token_id = ?1 ORDER BY last_seen DESC LIMIT ?2)",
        )?;
        for (token_id, ip, time) in audit::noted_ips(records.iter().map(|r| &**r)) {
            note.execute(params![token_id, ip, time])?;
            keep.execute(params![token_id, super::LAST_IPS])?;
        }
        answers = audit::answers(batch, &claimed, &ids, &ration);
    }
    tx.commit()?;
    Ok(answers)
}

/// Records matching `filter` (newest first, unless `after_id` is set) and their total.
fn query(conn: &Connection, filter: &AuditFilter) -> rusqlite::Result<(Vec<AuditRow>, u64)> {
    let (condition, mut values) = where_clause(filter);
    let total: i64 = conn.query_row(
        &format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM audit a {condition} LIMIT {}) AS page",
            audit::COUNT_CAP + 1
        ),
        params_from_iter(values.iter()),
        |row| row.get(0),
    )?;
    let n = values.len();
    values.push(clamp_i64(filter.max_results).into());
    values.push(clamp_i64(filter.start_at).into());
    let mut statement = conn.prepare(&format!(
        "SELECT a.id, a.time, a.token_id, a.user, a.client_ip, a.method, a.url, a.decision,
                COALESCE(o.reason, a.reason), a.detail, a.line, a.line_text,
                COALESCE(o.action, a.action), COALESCE(o.status, a.upstream_status),
                COALESCE(o.latency_ms, a.latency_ms), a.component, a.via
         FROM audit a LEFT JOIN audit_outcomes o ON o.audit_id = a.id
         {condition} ORDER BY {} LIMIT ?{} OFFSET ?{}",
        filter.order(),
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
                via: row.get(16)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

/// The filter's `WHERE` clause (empty when none) and its values, `?1` onwards.
fn where_clause(filter: &AuditFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    let mut clauses = Vec::new();
    for (column, op, value) in filter.conditions() {
        values.push(match value {
            Param::Text(text) => text.into(),
            Param::Int(n) => n.into(),
        });
        clauses.push(format!("a.{column} {op} ?{}", values.len()));
    }
    if clauses.is_empty() {
        (String::new(), values)
    } else {
        (format!("WHERE {}", clauses.join(" AND ")), values)
    }
}

/// Inserts a new token; [`StoreError::Duplicate`] when its digest exists.
fn insert_token(conn: &Connection, token: &Token) -> Result<(), StoreError> {
    let inserted = conn.execute(
        "INSERT INTO tokens (id, digest, hint, label, user, limit_to, ip, valid_until,
             date_created, created_by, rotated_from, remaining_uses, valid_from)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            token.id,
            &token.digest[..],
            token.hint,
            token.label,
            token.user,
            token.limit_to,
            token.ip,
            token.valid_until,
            token.date_created,
            token.created_by,
            token.life.rotated_from,
            token.life.remaining_uses,
            token.life.valid_from
        ],
    );
    match inserted {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(err, _))
            if err.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::Duplicate)
        }
        Err(err) => Err(err.into()),
    }
}

/// The `WHERE` condition naming one token (`?1`) and its value.
fn which_condition(which: Revoke<'_>) -> (&'static str, rusqlite::types::Value) {
    match which {
        Revoke::Id(id) => ("id = ?1", id.to_owned().into()),
        Revoke::Digest(digest) => ("digest = ?1", digest.to_vec().into()),
    }
}

/// A token's last client addresses, newest first.
fn last_ips(conn: &Connection, token_id: &str) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut statement = conn.prepare_cached(
        "SELECT ip, last_seen FROM token_ips WHERE token_id = ?1
         ORDER BY last_seen DESC, ip LIMIT ?2",
    )?;
    statement
        .query_map(params![token_id, super::LAST_IPS], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect()
}

fn token_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Token> {
    let digest: Vec<u8> = row.get(1)?;
    let digest = digest_from(&digest).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Blob,
            "digest is not 32 bytes".into(),
        )
    })?;
    Ok(Token {
        id: row.get(0)?,
        digest,
        hint: row.get(2)?,
        label: row.get(3)?,
        user: row.get(4)?,
        limit_to: row.get(5)?,
        ip: row.get(6)?,
        valid_until: row.get(7)?,
        date_created: row.get(8)?,
        created_by: row.get(9)?,
        life: Lifecycle {
            rotated_from: row.get(14)?,
            rotated_to: row.get(15)?,
            retire_at: row.get(16)?,
            remaining_uses: row.get(17)?,
            valid_from: row.get(18)?,
        },
    })
}

fn token_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        token: token_from_row(row)?,
        counter: row.get(10)?,
        last_used: row.get(11)?,
        last_ip: row.get(12)?,
        revoked: row.get(13)?,
        last_ips: Vec::new(),
    })
}

fn newest_change(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM token_changes",
        [],
        |row| row.get(0),
    )
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(StoreError::TooNew(version));
    }
    for (step, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", step + 1)?;
        tx.commit()?;
    }
    Ok(())
}
