//! The `jsonl:PATH` sink: one JSON object per line (the admin API's record shape),
//! appended to a file that is reopened on SIGHUP, as logrotate expects.

use std::path::PathBuf;

use tokio::fs::{File, OpenOptions};
use tokio::io::AsyncWriteExt as _;

use super::SinkError;
use crate::audit::AuditRow;

/// An append-only file of records, opened on first use and after each [`Jsonl::reopen`].
#[derive(Debug)]
pub struct Jsonl {
    path: PathBuf,
    file: Option<File>,
    /// A write failed part-way: the next one starts on a line of its own, so that every
    /// whole record stays one readable line.
    broken: bool,
}

impl Jsonl {
    /// The sink for `path` (nothing is opened yet).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            broken: false,
        }
    }

    fn failed(&self, source: std::io::Error) -> SinkError {
        SinkError::Io {
            target: self.path.display().to_string(),
            source,
        }
    }

    /// Appends `rows`, one line each, and hands them to the operating system.
    pub async fn write(&mut self, rows: &[AuditRow]) -> Result<(), SinkError> {
        let mut lines = Vec::with_capacity(rows.len() * 512);
        if self.broken {
            lines.push(b'\n');
        }
        for row in rows {
            serde_json::to_writer(&mut lines, row).map_err(SinkError::Encode)?;
            lines.push(b'\n');
        }
        if self.file.is_none() {
            self.file = Some(open(&self.path).await.map_err(|err| self.failed(err))?);
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let written = async {
            file.write_all(&lines).await?;
            file.flush().await
        }
        .await;
        match written {
            Ok(()) => {
                self.broken = false;
                Ok(())
            }
            Err(err) => {
                self.broken = true;
                self.file = None;
                Err(self.failed(err))
            }
        }
    }

    /// Flushes what was written to the disk, before the cursor says it was delivered.
    pub async fn sync(&mut self) -> Result<(), SinkError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        match file.sync_data().await {
            Ok(()) => Ok(()),
            Err(err) => {
                self.file = None;
                Err(self.failed(err))
            }
        }
    }

    /// Closes the file; the path is opened afresh (created if it was moved away).
    pub async fn reopen(&mut self) -> Result<(), SinkError> {
        if let Some(file) = self.file.take() {
            // What was written is on disk in the old file before it is let go.
            file.sync_data().await.map_err(|err| self.failed(err))?;
        }
        self.file = Some(open(&self.path).await.map_err(|err| self.failed(err))?);
        Ok(())
    }
}

/// Opens `path` for appending, creating it readable by the gateway's user only: records
/// hold user names, client addresses and URLs.
async fn open(path: &std::path::Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path).await
}
