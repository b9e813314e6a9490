//! The data directory: the SQLite file (tokens and audit log, schema versioned with
//! `PRAGMA user_version`) and the server key that tokens are digested with.
//!
//! Only HMAC digests of tokens are stored; the plaintext leaves once, from `create`.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use crate::index::{Token, TokenIndex};
use crate::token::{self, Digest, KEY_LEN, ServerKey, TokenError};

/// The SQLite file inside the data directory.
pub const DB_FILE: &str = "tokengate.db";
/// The server key file inside the data directory (32 random bytes, mode 0600).
pub const KEY_FILE: &str = "server.key";
/// How long a connection waits for another writer (CLI next to a running gateway).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
];

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
    /// The database was written by a newer tokengate.
    #[error("the database schema version {0} is newer than this tokengate knows")]
    TooNew(i64),
    /// A token value is already in use (or was, by a revoked token).
    #[error("this token value is already in use")]
    Duplicate,
    /// A token value that cannot be used.
    #[error(transparent)]
    Token(#[from] TokenError),
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
}

/// The data directory, opened.
pub struct Store {
    conn: Mutex<Connection>,
    /// `meta.tokens_version` when the index was last loaded: another process (the
    /// CLI) that creates or revokes a token bumps it, and `refresh` reloads.
    tokens_version: AtomicI64,
    key: ServerKey,
    index: TokenIndex,
    db_path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("db_path", &self.db_path)
            .finish_non_exhaustive()
    }
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        what,
        path: path.to_owned(),
        source,
    }
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

impl Store {
    /// Opens (creating if needed) the data directory, its key and its database, and
    /// loads live tokens into the index.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        create_private_dir(data_dir)?;
        let key = load_or_create_key(&data_dir.join(KEY_FILE))?;
        let db_path = data_dir.join(DB_FILE);
        let mut conn = connect(&db_path)?;
        migrate(&mut conn)?;
        restrict_file(&db_path)?;
        let version = tokens_version(&conn)?;
        let index = TokenIndex::new(load_live(&conn)?);
        Ok(Self {
            conn: Mutex::new(conn),
            tokens_version: AtomicI64::new(version),
            key,
            index,
            db_path,
        })
    }

    /// The SQLite file (the audit writer opens its own connection to it).
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The keyed digest of a presented token value.
    pub fn digest(&self, value: &str) -> Digest {
        self.key.digest(value)
    }

    /// The live token with this digest.
    pub fn find(&self, digest: &Digest) -> Option<Arc<Token>> {
        self.index.find(digest)
    }

    /// Runs `f` with the store's connection.
    pub fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        f(&conn)
    }

    /// Creates a token; returns it and its value (the only time the value is known).
    pub fn create(&self, new: NewToken) -> Result<(Arc<Token>, String), StoreError> {
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
        };
        let inserted = self.with_conn(|conn| {
            conn.execute(
                "INSERT INTO tokens (id, digest, hint, label, user, limit_to, ip, valid_until,
                     date_created, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
                    token.created_by
                ],
            )
        });
        match inserted {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(err, _))
                if err.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(StoreError::Duplicate);
            }
            Err(err) => return Err(err.into()),
        }
        let token = Arc::new(token);
        self.index.insert(Arc::clone(&token));
        Ok((token, value))
    }

    /// Revokes the token with this id; `None` when there is no live one.
    pub fn revoke_id(&self, id: &str) -> Result<Option<Arc<Token>>, StoreError> {
        let digest: Option<Vec<u8>> = self.with_conn(|conn| {
            conn.query_row(
                "SELECT digest FROM tokens WHERE id = ?1 AND revoked IS NULL",
                params![id],
                |row| row.get(0),
            )
            .optional()
        })?;
        match digest.and_then(|bytes| Digest::try_from(bytes.as_slice()).ok()) {
            Some(digest) => self.revoke_digest(&digest),
            None => Ok(None),
        }
    }

    /// Revokes the token with this value; `None` when there is no live one.
    pub fn revoke_value(&self, value: &str) -> Result<Option<Arc<Token>>, StoreError> {
        self.revoke_digest(&self.key.digest(value))
    }

    fn revoke_digest(&self, digest: &Digest) -> Result<Option<Arc<Token>>, StoreError> {
        let changed = self.with_conn(|conn| {
            conn.execute(
                "UPDATE tokens SET revoked = ?1 WHERE digest = ?2 AND revoked IS NULL",
                params![crate::now_ms(), &digest[..]],
            )
        })?;
        // The row stays for the audit log; the index forgets it at once.
        let removed = self.index.remove(digest);
        Ok(if changed > 0 { removed } else { None })
    }

    /// A page of tokens, newest first, and the total; revoked ones only if asked.
    pub fn list(
        &self,
        start_at: u64,
        max_results: u64,
        include_revoked: bool,
    ) -> Result<(Vec<TokenRow>, u64), StoreError> {
        self.with_conn(|conn| {
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
                "SELECT id, digest, hint, label, user, limit_to, ip, valid_until, date_created,
                        created_by, counter, last_used, last_ip, revoked
                 FROM tokens {filter} ORDER BY date_created DESC, id LIMIT ?1 OFFSET ?2"
            ))?;
            let rows = statement
                .query_map(
                    params![clamp_i64(max_results), clamp_i64(start_at)],
                    |row| {
                        Ok(TokenRow {
                            token: token_from_row(row)?,
                            counter: row.get(10)?,
                            last_used: row.get(11)?,
                            last_ip: row.get(12)?,
                            revoked: row.get(13)?,
                        })
                    },
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok((rows, u64::try_from(total).unwrap_or(0)))
        })
    }

    /// Whether the database takes writes (for `/healthz`).
    pub fn writable(&self) -> bool {
        self.with_conn(|conn| conn.execute_batch("BEGIN IMMEDIATE; COMMIT;").is_ok())
    }

    /// The id of a revoked token with this digest (to audit `revoked` precisely).
    pub fn revoked_id(&self, digest: &Digest) -> Option<String> {
        self.with_conn(|conn| {
            conn.query_row(
                "SELECT id FROM tokens WHERE digest = ?1 AND revoked IS NOT NULL",
                params![&digest[..]],
                |row| row.get(0),
            )
            .optional()
            .ok()
            .flatten()
        })
    }

    /// Reloads the index when another process changed the tokens; returns whether
    /// it did. The gateway calls this every second so CLI revocations take effect.
    pub fn refresh(&self) -> Result<bool, StoreError> {
        let reloaded = self.with_conn(|conn| -> Result<Option<Vec<Token>>, StoreError> {
            let version = tokens_version(conn)?;
            if version == self.tokens_version.swap(version, Ordering::SeqCst) {
                return Ok(None);
            }
            Ok(Some(load_live(conn)?))
        })?;
        match reloaded {
            Some(tokens) => {
                self.index.replace(tokens);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// One token by id, revoked or not.
    pub fn get(&self, id: &str) -> Result<Option<TokenRow>, StoreError> {
        self.with_conn(|conn| {
            conn.query_row(
                "SELECT id, digest, hint, label, user, limit_to, ip, valid_until, date_created,
                        created_by, counter, last_used, last_ip, revoked
                 FROM tokens WHERE id = ?1",
                params![id],
                |row| {
                    Ok(TokenRow {
                        token: token_from_row(row)?,
                        counter: row.get(10)?,
                        last_used: row.get(11)?,
                        last_ip: row.get(12)?,
                        revoked: row.get(13)?,
                    })
                },
            )
            .optional()
        })
        .map_err(StoreError::from)
    }

    /// Number of live tokens.
    pub fn live_tokens(&self) -> usize {
        self.index.len()
    }
}

/// SQLite's integers are signed; page arguments beyond `i64::MAX` mean "all".
fn clamp_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn token_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Token> {
    let digest: Vec<u8> = row.get(1)?;
    let digest = Digest::try_from(digest.as_slice()).map_err(|_| {
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
    })
}

fn tokens_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT tokens_version FROM meta", [], |row| row.get(0))
}

fn load_live(conn: &Connection) -> Result<Vec<Token>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT id, digest, hint, label, user, limit_to, ip, valid_until, date_created,
                created_by FROM tokens WHERE revoked IS NULL",
    )?;
    let tokens = statement
        .query_map([], token_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(tokens)
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

fn load_or_create_key(path: &Path) -> Result<ServerKey, StoreError> {
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
