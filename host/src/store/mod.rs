//! Where tokens, use counters, rate buckets and the audit log live.
//!
//! [`Store`] is what the gateway, the admin API and the CLI use: the server key that
//! tokens are digested with, the in-memory index of live tokens (a request never
//! waits on the database to find its token) and a [`Backend`] that persists.
//! Two backends implement one contract: [`sqlite`] (the embedded default, one
//! gateway) and [`postgres`] (several gateways sharing one database).
//!
//! Both record every token creation and revocation in a `token_changes` log with
//! increasing versions; [`Store::refresh`] applies the changes after the last one
//! it saw, so an index catches up with another process or instance without a full
//! reload and without missing a change.

pub mod credentials;
pub mod postgres;
pub mod sqlite;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::audit::{AuditFilter, AuditRow, BlockingWriter, Write};
use crate::events::{Event, Settle};
use crate::index::{Live, Token, TokenIndex};
use crate::token::{self, Digest, KEY_LEN, ServerKey, TokenError};
pub use credentials::{FilterCredential, FilterCredentials};

/// The SQLite file inside the data directory.
pub const DB_FILE: &str = "tokengate.db";
/// The server key file inside the data directory (32 random bytes, mode 0600).
pub const KEY_FILE: &str = "server.key";

/// Audit records deleted per statement by retention.
const PRUNE_BATCH: u64 = 10_000;
/// Pause between retention batches, for the audit writer.
const PRUNE_PAUSE: Duration = Duration::from_millis(50);

/// A boxed future borrowing the backend: the trait stays object-safe.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Every way the store can fail.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Creating or reading the data directory or key file.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file exists but is not 32 bytes.
    #[error("{0} is not a {KEY_LEN}-byte key file")]
    BadKey(PathBuf),
    /// SQLite.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL (its own message, e.g. "cannot execute INSERT in a read-only
    /// transaction", rather than the driver's bare "db error").
    #[error("database: {}", postgres_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had (pool timeout, server down).
    #[error("database: {0}")]
    Unavailable(String),
    /// The database was written by a newer tokengate.
    #[error("the database schema version {0} is newer than this tokengate knows")]
    TooNew(i64),
    /// The database's tokens were digested with another server key.
    #[error(
        "the database belongs to server key {stored}, but {path} is key {ours}: give every \
         instance a copy of the same server.key"
    )]
    KeyMismatch {
        /// Key id recorded in the database.
        stored: String,
        /// Key id of the local key file.
        ours: String,
        /// The local key file.
        path: PathBuf,
    },
    /// A token value is already in use (or was, by a revoked token).
    #[error("this token value is already in use")]
    Duplicate,
    /// A filter credential name is taken (names are never reused).
    #[error("a filter credential named `{0}` exists or existed; names are never reused")]
    NameTaken(String),
    /// A token value that cannot be used.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A rotation of a token that cannot be rotated.
    #[error("token {id} {why}")]
    NotRotatable {
        /// The token.
        id: String,
        /// What it is instead: `was revoked`, `was rotated already (to …)`.
        why: String,
    },
    /// `tokengate migrate` copies only into an empty database.
    #[error("the target database already holds tokens or audit records; migrate into an empty one")]
    NotEmpty,
    /// A background task of the store is gone.
    #[error("the database worker stopped")]
    Stopped,
}

/// Which database holds the data; the server key always stays in the data directory.
#[derive(Debug, Clone, Default)]
pub enum Location {
    /// `tokengate.db` in the data directory.
    #[default]
    Sqlite,
    /// A PostgreSQL database shared by several gateways.
    Postgres(Box<tokio_postgres::Config>),
}

impl Location {
    /// Parses `--store`: `sqlite` (the default) or a `postgres://` URL.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() || text == "sqlite" {
            return Ok(Self::Sqlite);
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            let config: tokio_postgres::Config = text
                .parse()
                .map_err(|err| format!("not a PostgreSQL URL: {err}"))?;
            if config.get_hosts().is_empty() {
                return Err("the PostgreSQL URL names no host".into());
            }
            return Ok(Self::Postgres(Box::new(config)));
        }
        Err("expected `sqlite` or a `postgres://user:password@host:port/database` URL".into())
    }
}

/// When an audit commit counts as done, and so when an allowed request is forwarded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditSync {
    /// On disk (fsync; PostgreSQL: WAL flushed): survives a power loss.
    #[default]
    Full,
    /// Handed to the operating system (SQLite `synchronous=NORMAL`; PostgreSQL
    /// `synchronous_commit=off`): survives `kill -9` of the gateway, not a power
    /// loss or a kernel crash. Saves one disk flush per batch.
    Normal,
}

/// What `create` needs; texts already validated by the policy.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// Required name.
    pub label: String,
    /// Bound user, if any.
    pub user: Option<String>,
    /// Normalised restriction lines joined by `\n`.
    pub limit_to: String,
    /// IP rules.
    pub ip: String,
    /// Expiry, epoch ms.
    pub valid_until: Option<i64>,
    /// A caller-chosen value; `None` = generate one.
    pub value: Option<String>,
    /// Who creates it.
    pub created_by: Option<String>,
    /// Uses allowed; `None` = unlimited.
    pub remaining_uses: Option<i64>,
    /// Start of validity, epoch ms.
    pub valid_from: Option<i64>,
}

/// A token as listed by `get`: the stored fields plus use counts.
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// The token.
    pub token: Token,
    /// Uses (allowed requests).
    pub counter: i64,
    /// Last allowed use, epoch ms.
    pub last_used: Option<i64>,
    /// Client address of the last allowed use.
    pub last_ip: Option<String>,
    /// Revocation time, epoch ms.
    pub revoked: Option<i64>,
    /// The most recent distinct client addresses (newest first, at most
    /// [`LAST_IPS`]) with their last-seen times, epoch ms.
    pub last_ips: Vec<(String, i64)>,
}

/// Client addresses kept per token.
pub const LAST_IPS: usize = 5;

/// What [`Store::rotate`] made.
#[derive(Debug)]
pub struct Rotated {
    /// The new token.
    pub new: Arc<Live>,
    /// Its value (the only time it is known).
    pub value: String,
    /// The old token, with its end set.
    pub old: Token,
}

/// The successor of `old` in a rotation: `new`'s id, value and creation, the rest of
/// `old`'s settings (label, user, lines, IP rules, expiry, uses left).
pub fn rotated_copy(old: &Token, new: Token) -> Token {
    Token {
        label: old.label.clone(),
        user: old.user.clone(),
        limit_to: old.limit_to.clone(),
        ip: old.ip.clone(),
        valid_until: old.valid_until,
        life: crate::index::Lifecycle {
            valid_from: old.life.valid_from,
            rotated_from: Some(old.id.clone()),
            rotated_to: None,
            retire_at: None,
            remaining_uses: old.life.remaining_uses,
        },
        ..new
    }
}

/// Why `old` cannot be rotated, if it cannot.
pub fn not_rotatable(old: &Token, revoked: Option<i64>) -> Option<StoreError> {
    let why = if revoked.is_some() {
        "was revoked".to_owned()
    } else {
        let to = old.life.rotated_to.as_ref()?;
        format!("was rotated already (to {to})")
    };
    Some(StoreError::NotRotatable {
        id: old.id.clone(),
        why,
    })
}

/// Which live token to revoke.
#[derive(Debug, Clone, Copy)]
pub enum Revoke<'a> {
    /// By id.
    Id(&'a str),
    /// By the digest of its value.
    Digest(&'a Digest),
}

/// What [`Backend::load_tokens`] gives: live tokens, revoked (id, digest) pairs and the
/// change version.
pub type Loaded = (Vec<Token>, Vec<(String, Digest)>, i64);

/// One rate-limit answer: go, or wait this long.
pub type RateAnswer = Result<(), Duration>;

/// What a database must do for the gateway. Both implementations pass the same
/// conformance suite (`tests/all/store.rs`).
pub trait Backend: FilterCredentials + Send + Sync + 'static {
    /// Records the server key's id, or refuses a database that holds another one.
    fn claim_key<'a>(&'a self, key_id: &'a str) -> Pending<'a, Option<String>>;
    /// Every live token, the (id, digest) of every revoked one, and the change version
    /// they reflect.
    fn load_tokens(&self) -> Pending<'_, Loaded>;
    /// Ids of tokens created or revoked after change `version`, with the newest version.
    fn changes_since(&self, version: i64) -> Pending<'_, (Vec<String>, i64)>;
    /// Inserts a new token; [`StoreError::Duplicate`] when its digest exists.
    fn insert_token<'a>(&'a self, token: &'a Token) -> Pending<'a, ()>;
    /// Revokes a live token at `now`; the token revoked, if one was live.
    fn revoke<'a>(&'a self, which: Revoke<'a>, now: i64) -> Pending<'a, Option<Token>>;
    /// In one transaction: inserts `new` as the successor of the token `which` (its
    /// settings copied by [`rotated_copy`]) and ends the old one at `retire_at`; the old
    /// token as it is now. `None` when no such token exists;
    /// [`StoreError::NotRotatable`] when it was revoked or rotated.
    fn rotate<'a>(
        &'a self,
        which: Revoke<'a>,
        new: Token,
        retire_at: i64,
    ) -> Pending<'a, Option<(Token, Token)>>;
    /// A page of tokens, newest first, and the total.
    fn list(
        &self,
        start_at: u64,
        max_results: u64,
        include_revoked: bool,
    ) -> Pending<'_, (Vec<TokenRow>, u64)>;
    /// One token by id, revoked or not.
    fn get<'a>(&'a self, id: &'a str) -> Pending<'a, Option<TokenRow>>;
    /// Whether the database takes writes now (for `/healthz`): `Err` says why not.
    fn check_writable(&self) -> Pending<'_, ()>;
    /// Sets how durable each audit commit is before it returns.
    fn set_audit_sync(&self, sync: AuditSync) -> Pending<'_, ()>;
    /// Writes a batch of audit records, completions and filter batches in one
    /// transaction, counting uses; [`crate::audit::answers`]: an id per `Append` and
    /// `Filter` (0: a filter batch stored before).
    fn commit_audit(&self, batch: Vec<Write>) -> Pending<'_, Vec<crate::audit::Answer>>;
    /// A writer that commits batches on the audit writer's own thread, for a backend
    /// whose commits block (SQLite); `None`: the writer awaits `commit_audit`.
    fn blocking_writer(&self) -> Option<Box<dyn BlockingWriter>> {
        None
    }
    /// Moves uses recorded beside the token rows into them (PostgreSQL, where audit
    /// commits append uses instead of updating a shared row); how many rows it moved.
    /// Reads count the uses either way: this only keeps the side table short.
    fn fold_uses(&self) -> Pending<'_, u64> {
        Box::pin(std::future::ready(Ok(0)))
    }
    /// Audit records matching `filter` and their total.
    fn query_audit<'a>(&'a self, filter: &'a AuditFilter) -> Pending<'a, (Vec<AuditRow>, u64)>;
    /// Deletes at most `limit` audit records older than `before` (epoch ms), oldest
    /// first; how many it deleted.
    fn prune_audit(&self, before: i64, limit: u64) -> Pending<'_, u64>;
    /// The exact number of audit records matching `filter` (paging ignored).
    fn count_audit<'a>(&'a self, filter: &'a AuditFilter) -> Pending<'a, u64>;
    /// The newest audit record's id (0 when empty).
    fn last_audit_id(&self) -> Pending<'_, i64>;
    /// Takes one request from the token's bucket of `per_minute`.
    fn take_rate<'a>(&'a self, token_id: &'a str, per_minute: u32) -> Pending<'a, RateAnswer>;
    /// Pushes a signal whenever another instance may have changed the tokens.
    fn watch(&self) -> Option<mpsc::UnboundedReceiver<()>>;
    /// Notes the tokens that entered their expiry warning window (`warning_ms` before
    /// `valid_until`) or expired by `now`, once each (their triggers write the events),
    /// and deletes events older than `forget_before`: delivered ones, or every one when
    /// `undelivered_too` (no webhook to deliver them).
    fn sweep_events(
        &self,
        now: i64,
        warning_ms: i64,
        forget_before: i64,
        undelivered_too: bool,
    ) -> Pending<'_, ()>;
    /// Claims up to `limit` due events for [`crate::events::CLAIM_MS`], oldest first; no
    /// other instance gets them meanwhile.
    fn claim_events(&self, now: i64, limit: u32) -> Pending<'_, Vec<Event>>;
    /// Records how the delivery of event `id` ended (and frees its claim).
    fn settle_event(&self, id: i64, settle: Settle) -> Pending<'_, ()>;
    /// The right to stream the audit log to `sink`, with its cursor; `None` while
    /// another gateway holds it.
    fn sink_lease<'a>(&'a self, sink: &'a str) -> Pending<'a, Option<Box<dyn SinkLease>>>;
}

/// The right to stream the audit log to a sink (`audit_sink`), held by one gateway at a
/// time, and how far the sink got. Dropping it gives the right up.
pub trait SinkLease: Send + Sync {
    /// Whether the right still holds (PostgreSQL: the connection that holds it is open).
    fn held(&self) -> bool;
    /// The id of the last record the sink accepted; `None` before the first.
    fn cursor(&self) -> Pending<'_, Option<i64>>;
    /// Records durably that the sink accepted every record up to `id`.
    fn save(&self, id: i64) -> Pending<'_, ()>;
}

/// The data directory's key plus a backend, with the live-token index.
pub struct Store {
    key: ServerKey,
    index: TokenIndex,
    /// The newest `token_changes` version the index reflects.
    seen: AtomicI64,
    backend: Arc<dyn Backend>,
    /// Serialises `refresh` so two catch-ups never interleave.
    refreshing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("live_tokens", &self.index.len())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the data directory and its key, then the database
    /// at `location` (migrating it), and loads live tokens into the index.
    pub async fn open(data_dir: &Path, location: &Location) -> Result<Self, StoreError> {
        create_private_dir(data_dir)?;
        let key_path = data_dir.join(KEY_FILE);
        let key = load_or_create_key(&key_path)?;
        let backend: Arc<dyn Backend> = match location {
            Location::Sqlite => Arc::new(sqlite::Sqlite::open(&data_dir.join(DB_FILE))?),
            Location::Postgres(config) => Arc::new(postgres::Postgres::open(config).await?),
        };
        Self::with_backend(key, &key_path, backend).await
    }

    /// A store over `backend` with `key` (read from `key_path`): claims the database for
    /// the key and loads the tokens.
    pub async fn with_backend(
        key: ServerKey,
        key_path: &Path,
        backend: Arc<dyn Backend>,
    ) -> Result<Self, StoreError> {
        let ours = key.id();
        if let Some(stored) = backend.claim_key(&ours).await? {
            return Err(StoreError::KeyMismatch {
                stored,
                ours,
                path: key_path.to_owned(),
            });
        }
        let (live, revoked, version) = backend.load_tokens().await?;
        Ok(Self {
            key,
            index: TokenIndex::new(live, revoked),
            seen: AtomicI64::new(version),
            backend,
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// The backend (the audit writer commits through it).
    pub fn backend(&self) -> Arc<dyn Backend> {
        Arc::clone(&self.backend)
    }

    /// The server key.
    pub fn key(&self) -> &ServerKey {
        &self.key
    }

    /// The keyed digest of a presented token value.
    pub fn digest(&self, value: &str) -> Digest {
        self.key.digest(value)
    }

    /// The server key's public id (what exports and the database record).
    pub fn key_id(&self) -> String {
        self.key.id()
    }

    /// The live token with this digest.
    pub fn find(&self, digest: &Digest) -> Option<Arc<Live>> {
        self.index.find(digest)
    }

    /// The index of live and revoked tokens (the pipeline's token table).
    pub fn index(&self) -> &TokenIndex {
        &self.index
    }

    /// Creates a token; returns it and its value (the only time the value is known).
    pub async fn create(&self, new: NewToken) -> Result<(Arc<Live>, String), StoreError> {
        let value = match new.value {
            Some(value) => {
                token::validate_chosen(&value)?;
                value
            }
            None => token::generate()?,
        };
        let token = Token {
            id: token::new_id()?,
            digest: self.key.digest(&value),
            hint: token::hint(&value),
            label: new.label,
            user: new.user,
            limit_to: new.limit_to,
            ip: new.ip,
            valid_until: new.valid_until,
            date_created: crate::now_ms(),
            created_by: new.created_by,
            life: crate::index::Lifecycle {
                remaining_uses: new.remaining_uses,
                valid_from: new.valid_from,
                ..Default::default()
            },
        };
        self.backend.insert_token(&token).await?;
        // A fresh id and digest cannot have been revoked, so the index takes it.
        let live = self
            .index
            .insert(token.clone())
            .unwrap_or_else(|| Arc::new(Live::new(token)));
        Ok((live, value))
    }

    /// Rotates a token: a new value with the old one's settings, the old value working
    /// for `grace_ms` more. The new token, its value and the old token; `None` when there
    /// is no such token.
    pub async fn rotate(
        &self,
        which: Revoke<'_>,
        grace_ms: i64,
        created_by: Option<String>,
    ) -> Result<Option<Rotated>, StoreError> {
        let value = token::generate()?;
        let now = crate::now_ms();
        let new = Token {
            id: token::new_id()?,
            digest: self.key.digest(&value),
            hint: token::hint(&value),
            date_created: now,
            created_by,
            // Filled from the old token inside the transaction.
            label: String::new(),
            user: None,
            limit_to: String::new(),
            ip: String::new(),
            valid_until: None,
            life: Default::default(),
        };
        let Some((old, new)) = self
            .backend
            .rotate(which, new, now.saturating_add(grace_ms))
            .await?
        else {
            return Ok(None);
        };
        // The old token stays live until its end; this index replaces it at once, others
        // with their next refresh.
        self.index.insert(old.clone());
        let live = self
            .index
            .insert(new.clone())
            .unwrap_or_else(|| Arc::new(Live::new(new)));
        Ok(Some(Rotated {
            new: live,
            value,
            old,
        }))
    }

    /// Revokes the token with this id; `None` when there is no live one.
    pub async fn revoke_id(&self, id: &str) -> Result<Option<Token>, StoreError> {
        self.revoke(Revoke::Id(id)).await
    }

    /// Revokes the token with this value; `None` when there is no live one.
    pub async fn revoke_value(&self, value: &str) -> Result<Option<Token>, StoreError> {
        let digest = self.key.digest(value);
        self.revoke(Revoke::Digest(&digest)).await
    }

    async fn revoke(&self, which: Revoke<'_>) -> Result<Option<Token>, StoreError> {
        let revoked = self.backend.revoke(which, crate::now_ms()).await?;
        // The row stays for the audit log; this index refuses it at once, others with
        // their next refresh.
        if let Some(token) = &revoked {
            self.index.revoke(token.digest, &token.id);
        }
        Ok(revoked)
    }

    /// A page of tokens, newest first, and the total; revoked ones only if asked.
    pub async fn list(
        &self,
        start_at: u64,
        max_results: u64,
        include_revoked: bool,
    ) -> Result<(Vec<TokenRow>, u64), StoreError> {
        self.backend
            .list(start_at, max_results, include_revoked)
            .await
    }

    /// One token by id, revoked or not.
    pub async fn get(&self, id: &str) -> Result<Option<TokenRow>, StoreError> {
        self.backend.get(id).await
    }

    /// Whether the database takes writes (for `/healthz`): `Err` says why not.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        self.backend.check_writable().await
    }

    /// The id of a revoked token with this digest (from the index: no query).
    pub fn revoked_id(&self, digest: &Digest) -> Option<String> {
        self.index.revoked(digest)
    }

    /// Audit records matching `filter` and their total.
    pub async fn query_audit(
        &self,
        filter: &AuditFilter,
    ) -> Result<(Vec<AuditRow>, u64), StoreError> {
        self.backend.query_audit(filter).await
    }

    /// Deletes audit records older than `before` (epoch ms) in batches, so the
    /// audit writer is never held up for long; how many it deleted.
    pub async fn prune_audit(&self, before: i64) -> Result<u64, StoreError> {
        self.prune_audit_reporting(before, |_| {}).await
    }

    /// [`Self::prune_audit`], telling `progress` the records deleted so far after
    /// each batch (`tokengate audit prune` shows it).
    pub async fn prune_audit_reporting(
        &self,
        before: i64,
        progress: impl Fn(u64),
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            let batch = self.backend.prune_audit(before, PRUNE_BATCH).await?;
            deleted += batch;
            progress(deleted);
            if batch < PRUNE_BATCH {
                return Ok(deleted);
            }
            tokio::time::sleep(PRUNE_PAUSE).await;
        }
    }

    /// The exact number of audit records matching `filter`: unlike the page's
    /// total, not capped, so it reads every matching index entry.
    pub async fn count_audit(&self, filter: &AuditFilter) -> Result<u64, StoreError> {
        self.backend.count_audit(filter).await
    }

    /// Moves uses recorded beside the token rows into them (see [`Backend::fold_uses`]);
    /// how many rows it moved.
    pub async fn fold_uses(&self) -> Result<u64, StoreError> {
        self.backend.fold_uses().await
    }

    /// The newest audit record's id.
    pub async fn last_audit_id(&self) -> Result<i64, StoreError> {
        self.backend.last_audit_id().await
    }

    /// Takes one request from the token's rate bucket (shared by every instance on
    /// a shared database).
    pub async fn take_rate(
        &self,
        token_id: &str,
        per_minute: u32,
    ) -> Result<RateAnswer, StoreError> {
        if per_minute == 0 {
            return Ok(Ok(()));
        }
        self.backend.take_rate(token_id, per_minute).await
    }

    /// Applies token changes made elsewhere (the CLI, another instance) since the
    /// last one seen; returns how many tokens it looked at again.
    pub async fn refresh(&self) -> Result<usize, StoreError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let seen = self.seen.load(Ordering::SeqCst);
        let (ids, newest) = self.backend.changes_since(seen).await?;
        for id in &ids {
            match self.backend.get(id).await? {
                Some(row) if row.revoked.is_none() => {
                    // Refused by the index if the token was revoked meanwhile.
                    self.index.insert(row.token);
                }
                Some(row) => {
                    self.index.revoke(row.token.digest, &row.token.id);
                }
                None => {}
            }
        }
        self.seen.store(newest.max(seen), Ordering::SeqCst);
        Ok(ids.len())
    }

    /// Signals from the database that tokens changed elsewhere (PostgreSQL only).
    pub fn watch(&self) -> Option<mpsc::UnboundedReceiver<()>> {
        self.backend.watch()
    }

    /// The right to stream the audit log to `sink`; `None` while another gateway has it.
    pub async fn sink_lease(&self, sink: &str) -> Result<Option<Box<dyn SinkLease>>, StoreError> {
        self.backend.sink_lease(sink).await
    }

    /// Number of live tokens.
    pub fn live_tokens(&self) -> usize {
        self.index.len()
    }

    /// Creates a filter credential named `name`; returns it and its value (the only time
    /// the value is known).
    pub async fn create_credential(
        &self,
        name: &str,
        created_by: Option<String>,
    ) -> Result<(FilterCredential, String), StoreError> {
        let value = token::generate_credential()?;
        let credential = FilterCredential {
            id: token::new_id()?,
            name: name.to_owned(),
            digest: self.key.digest(&value),
            hint: format!(
                "{}…{}",
                token::CREDENTIAL_PREFIX,
                value
                    .get(value.len().saturating_sub(4)..)
                    .unwrap_or_default()
            ),
            created: crate::now_ms(),
            created_by,
            revoked: None,
        };
        self.backend.insert_credential(&credential).await?;
        Ok((credential, value))
    }

    /// Every filter credential, revoked ones included, oldest first.
    pub async fn credentials(&self) -> Result<Vec<FilterCredential>, StoreError> {
        self.backend.credentials().await
    }

    /// Revokes the live credential named `name` (or with that id); `None` when there is none.
    pub async fn revoke_credential(
        &self,
        name: &str,
    ) -> Result<Option<FilterCredential>, StoreError> {
        self.backend.revoke_credential(name, crate::now_ms()).await
    }

    /// The live credential whose value was presented (looked up in the database every
    /// time, so that a revocation on any instance counts at once).
    pub async fn credential(&self, value: &str) -> Result<Option<FilterCredential>, StoreError> {
        let digest = self.key.digest(value);
        self.backend.live_credential(&digest).await
    }
}

fn postgres_message(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => err.to_string(),
    }
}

/// Page arguments beyond `i64::MAX` mean "all".
pub(crate) fn clamp_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored digest column back into a [`Digest`].
pub(crate) fn digest_from(bytes: &[u8]) -> Option<Digest> {
    Digest::try_from(bytes).ok()
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io("creating", dir))?;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io("restricting", dir))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(dir).map_err(io("creating", dir))
}

#[cfg(unix)]
fn restrict_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io("restricting", path))
}

#[cfg(not(unix))]
fn restrict_file(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

/// Reads the data directory's server key, creating it on first start.
pub fn load_or_create_key(path: &Path) -> Result<ServerKey, StoreError> {
    match fs::read(path) {
        Ok(bytes) => {
            let bytes: [u8; KEY_LEN] = bytes
                .try_into()
                .map_err(|_| StoreError::BadKey(path.to_owned()))?;
            Ok(ServerKey::new(bytes))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let bytes = token::random_bytes::<KEY_LEN>()?;
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(path).map_err(io("creating", path))?;
            file.write_all(&bytes).map_err(io("writing", path))?;
            file.sync_all().map_err(io("syncing", path))?;
            Ok(ServerKey::new(bytes))
        }
        Err(err) => Err(io("reading", path)(err)),
    }
}
