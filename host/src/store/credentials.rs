//! Filter credentials: what a proxy-wasm filter presents to the gateway's filter endpoints
//! (`crate::filter_api`), kept as keyed digests in either backend, created and revoked
//! from the command line (`tokengate filter credential …`).
//!
//! The name of a credential is part of every record its filters send (`via`), so a name
//! is never reused, not even after a revocation.

use rusqlite::{OptionalExtension, params};
use tokio_postgres::error::SqlState;

use super::postgres::Postgres;
use super::sqlite::Sqlite;
use super::{Pending, StoreError, digest_from};
use crate::token::Digest;

/// A filter credential as stored (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterCredential {
    /// Opaque id.
    pub id: String,
    /// The name given at creation: the first part of `via` in the audit log.
    pub name: String,
    /// HMAC-SHA256 of the value under the server key.
    pub digest: Digest,
    /// A short reminder of the value.
    pub hint: String,
    /// Creation time, epoch ms.
    pub created: i64,
    /// Who created it.
    pub created_by: Option<String>,
    /// Revocation time, epoch ms.
    pub revoked: Option<i64>,
}

/// What a database keeps of filter credentials.
pub trait FilterCredentials {
    /// Stores a new credential; [`StoreError::NameTaken`] when its name was used before.
    fn insert_credential<'a>(&'a self, credential: &'a FilterCredential) -> Pending<'a, ()>;
    /// Every credential, oldest first.
    fn credentials(&self) -> Pending<'_, Vec<FilterCredential>>;
    /// Revokes the live credential with this name or id at `now`.
    fn revoke_credential<'a>(
        &'a self,
        name: &'a str,
        now: i64,
    ) -> Pending<'a, Option<FilterCredential>>;
    /// The live credential with this digest.
    fn live_credential<'a>(&'a self, digest: &'a Digest) -> Pending<'a, Option<FilterCredential>>;
}

const COLUMNS: &str = "id, name, digest, hint, created, created_by, revoked";

impl FilterCredentials for Sqlite {
    fn insert_credential<'a>(&'a self, credential: &'a FilterCredential) -> Pending<'a, ()> {
        let credential = credential.clone();
        self.blocking(move |conn| {
            let inserted = conn.execute(
                "INSERT INTO filter_credentials (id, name, digest, hint, created, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    credential.id,
                    credential.name,
                    &credential.digest[..],
                    credential.hint,
                    credential.created,
                    credential.created_by
                ],
            );
            match inserted {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(err, _))
                    if err.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Err(StoreError::NameTaken(credential.name))
                }
                Err(err) => Err(err.into()),
            }
        })
    }

    fn credentials(&self) -> Pending<'_, Vec<FilterCredential>> {
        self.blocking(|conn| {
            let mut statement = conn.prepare(&format!(
                "SELECT {COLUMNS} FROM filter_credentials ORDER BY created, id"
            ))?;
            let rows = statement
                .query_map([], sqlite_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn revoke_credential<'a>(
        &'a self,
        name: &'a str,
        now: i64,
    ) -> Pending<'a, Option<FilterCredential>> {
        let name = name.to_owned();
        self.blocking(move |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "UPDATE filter_credentials SET revoked = ?1
                         WHERE (name = ?2 OR id = ?2) AND revoked IS NULL RETURNING {COLUMNS}"
                    ),
                    params![now, name],
                    sqlite_row,
                )
                .optional()?)
        })
    }

    fn live_credential<'a>(&'a self, digest: &'a Digest) -> Pending<'a, Option<FilterCredential>> {
        let digest = *digest;
        self.blocking(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM filter_credentials WHERE digest = ?1 AND revoked IS NULL"
            ))?;
            Ok(statement
                .query_row(params![&digest[..]], sqlite_row)
                .optional()?)
        })
    }
}

fn sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<FilterCredential> {
    let digest: Vec<u8> = row.get(2)?;
    let digest = digest_from(&digest).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            2,
            rusqlite::types::Type::Blob,
            "digest is not 32 bytes".into(),
        )
    })?;
    Ok(FilterCredential {
        id: row.get(0)?,
        name: row.get(1)?,
        digest,
        hint: row.get(3)?,
        created: row.get(4)?,
        created_by: row.get(5)?,
        revoked: row.get(6)?,
    })
}

impl FilterCredentials for Postgres {
    fn insert_credential<'a>(&'a self, credential: &'a FilterCredential) -> Pending<'a, ()> {
        Box::pin(async move {
            let client = self.client().await?;
            let inserted = client
                .execute(
                    "INSERT INTO filter_credentials (id, name, digest, hint, created, created_by)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &credential.id,
                        &credential.name,
                        &&credential.digest[..],
                        &credential.hint,
                        &credential.created,
                        &credential.created_by,
                    ],
                )
                .await;
            match inserted {
                Ok(_) => Ok(()),
                Err(err) if err.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    Err(StoreError::NameTaken(credential.name.clone()))
                }
                Err(err) => Err(err.into()),
            }
        })
    }

    fn credentials(&self) -> Pending<'_, Vec<FilterCredential>> {
        Box::pin(async move {
            let client = self.client().await?;
            let rows = client
                .query(
                    &format!("SELECT {COLUMNS} FROM filter_credentials ORDER BY created, id"),
                    &[],
                )
                .await?;
            rows.iter().map(postgres_row).collect()
        })
    }

    fn revoke_credential<'a>(
        &'a self,
        name: &'a str,
        now: i64,
    ) -> Pending<'a, Option<FilterCredential>> {
        Box::pin(async move {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    &format!(
                        "UPDATE filter_credentials SET revoked = $1
                         WHERE (name = $2 OR id = $2) AND revoked IS NULL RETURNING {COLUMNS}"
                    ),
                    &[&now, &name],
                )
                .await?;
            row.as_ref().map(postgres_row).transpose()
        })
    }

    fn live_credential<'a>(&'a self, digest: &'a Digest) -> Pending<'a, Option<FilterCredential>> {
        Box::pin(async move {
            let client = self.client().await?;
            let statement = client
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM filter_credentials
                     WHERE digest = $1 AND revoked IS NULL"
                ))
                .await?;
            let row = client.query_opt(&statement, &[&&digest[..]]).await?;
            row.as_ref().map(postgres_row).transpose()
        })
    }
}

fn postgres_row(row: &tokio_postgres::Row) -> Result<FilterCredential, StoreError> {
    let digest: &[u8] = row.try_get(2)?;
    let digest = digest_from(digest)
        .ok_or_else(|| StoreError::Unavailable("a stored digest is not 32 bytes".into()))?;
    Ok(FilterCredential {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        digest,
        hint: row.try_get(3)?,
        created: row.try_get(4)?,
        created_by: row.try_get(5)?,
        revoked: row.try_get(6)?,
    })
}
