//! Database engines: finding the tools, dumping (streamed, never through a
//! temporary file, except SQLite's consistent copy), restoring into a
//! target, and checking the restored database.
//!
//! Every dump is plain SQL (PostgreSQL, MariaDB) or a plain database file
//! (SQLite), uncompressed, so the repository deduplicates across dumps.

pub mod child;
pub mod definer;
pub mod mysql;
pub mod postgres;
pub mod probe;
pub mod sqlite;
pub mod tables;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use probe::Engines;
use vigil_proto::catalog::v1::DatabaseEngine;

use crate::secret::Secret;

/// The stream name of a dump of `engine` in a snapshot or an archive.
pub fn stream_name(engine: DatabaseEngine) -> &'static str {
    match engine {
        DatabaseEngine::Postgres => "db.postgres.sql",
        DatabaseEngine::Mysql => "db.mysql.sql",
        DatabaseEngine::Sqlite => "db.sqlite",
        DatabaseEngine::Unspecified => "db.dump",
    }
}

/// What every engine operation needs besides its URL.
#[derive(Clone, Debug)]
pub struct EngineCtx {
    /// The password, if the database needs one.
    pub password: Option<Secret>,
    /// Set to stop (the child is killed).
    pub cancel: Arc<AtomicBool>,
    /// How long to wait for a tool to exit once its data has ended.
    pub timeout: Duration,
    /// The executor's own credential variables that `VIGIL_*` and `AWS_*`
    /// do not cover, kept from every tool's environment.
    pub hidden_env: Vec<String>,
}

/// Where a restore writes a dump: a tool's stdin, maybe behind a filter.
pub trait DbSink: std::io::Write + Send {
    /// Closes the input and waits for the tool.
    fn finish(self: Box<Self>) -> crate::Result<()>;
    /// Ends after a failure on the writing side; returns the better error.
    fn abandon(self: Box<Self>, cause: crate::Error) -> crate::Error;
}

impl DbSink for child::RestoreWriter {
    fn finish(self: Box<Self>) -> crate::Result<()> {
        child::RestoreWriter::finish(*self)
    }
    fn abandon(self: Box<Self>, cause: crate::Error) -> crate::Error {
        child::RestoreWriter::abandon(*self, cause)
    }
}

impl DbSink for definer::DefinerFilter<child::RestoreWriter> {
    fn finish(self: Box<Self>) -> crate::Result<()> {
        let inner = self
            .into_inner()
            .map_err(|e| crate::Error::engine("mariadb", format!("writing the dump: {e}")))?;
        inner.finish()
    }
    fn abandon(self: Box<Self>, cause: crate::Error) -> crate::Error {
        match self.into_inner() {
            Ok(inner) => inner.abandon(cause),
            Err(_) => cause,
        }
    }
}
