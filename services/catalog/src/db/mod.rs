//! The connection pool, the SQL dialect switch and the embedded migrations.
//!
//! `AnyPool`s serve both SQLite and PostgreSQL so every query is written
//! once, with `$N` placeholders (SQLite accepts them too). The few dialect
//! differences (row locks, how a write transaction starts) live in
//! [`Dialect`]. Reads use [`Db::pool`], writes [`Db::writer`] or
//! [`Db::begin`]: on PostgreSQL the same pool, on SQLite one writer
//! connection beside read-only ones.

mod sql;
mod values;

use std::path::Path;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor, Transaction};

pub use sql::Sql;
pub use values::{RowExt, u64_from_db, u64_to_db};

use crate::error::{Error, Result};

/// A pooled PostgreSQL connection idle for this long is pinged before it
/// is handed out; one in steady use is not, unless a connection was lost
/// since it was last used (see [`needs_ping`]).
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// The start of this process's clock for [`LOST_AT`].
static CLOCK: LazyLock<Instant> = LazyLock::new(Instant::now);
/// When this process last lost a database connection, in microseconds on
/// [`CLOCK`]; zero if it never has.
static LOST_AT: AtomicU64 = AtomicU64::new(0);

/// Notes that a database connection was just found lost: after a server
/// restart every pooled connection is dead, and each would otherwise fail
/// one request before the pool replaces it.
pub(crate) fn connection_lost() {
    let now = u64::try_from(CLOCK.elapsed().as_micros()).unwrap_or(u64::MAX);
    LOST_AT.fetch_max(now.max(1), Ordering::Relaxed);
}

/// Whether this process has noted a lost connection.
#[cfg(test)]
pub(crate) fn lost_a_connection() -> bool {
    LOST_AT.load(Ordering::Relaxed) != 0
}

/// Whether a pooled connection idle for `idle_for` is pinged before use:
/// when it has been idle long enough to have been dropped unnoticed, or
/// when it was last used before a connection was lost. The ping of a dead
/// one fails, and the pool opens a new connection in its place.
fn needs_ping(idle_for: Duration) -> bool {
    if idle_for >= IDLE_BEFORE_PING {
        return true;
    }
    let lost = LOST_AT.load(Ordering::Relaxed);
    let last_used = CLOCK.elapsed().saturating_sub(idle_for);
    lost != 0 && u64::try_from(last_used.as_micros()).unwrap_or(u64::MAX) <= lost
}

/// Connections of the SQLite pool that only read. SQLite lets one
/// connection write at a time; its writes all go through one connection of
/// their own, so a writer waits in that pool's queue and is woken when the
/// connection is free, where a second writing connection would meet the
/// lock and sleep in SQLite's busy handler (1 ms, 2, 5, 10, ... up to
/// 100 ms per try), which made the slowest writes wait 100 ms and more.
const SQLITE_READERS: u32 = 8;

/// The options of a SQLite pool of `connections`; those of a `read_only`
/// one refuse to write (`PRAGMA query_only`), so a write that misses the
/// writer fails in tests instead of contending for the lock.
fn sqlite_pool(connections: u32, read_only: bool) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute("PRAGMA busy_timeout = 30000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                if read_only {
                    conn.execute("PRAGMA query_only = ON").await?;
                }
                Ok(())
            })
        })
}

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// `path` percent-encoded for a `sqlite://` URL, whose path is decoded.
fn encode_path(path: &Path) -> String {
    let mut out = String::new();
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Creates the SQLite file with mode 0600, or narrows an existing one to
/// it: the catalog holds token hashes and the audit trail. SQLite gives its
/// `-wal` and `-shm` files the database file's mode.
fn restrict_to_owner(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let io = |e: std::io::Error| {
        Error::Internal(format!(
            "catalog database {} cannot be prepared: {e}",
            path.display()
        ))
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(())
}

/// A write transaction on the catalog database.
pub type Tx = Transaction<'static, Any>;

/// Which SQL dialect the pool speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The embedded default: a file in the data directory.
    Sqlite,
    /// A shared server, for several replicas.
    Postgres,
}

impl Dialect {
    /// Suffix that locks the selected rows for the rest of the transaction.
    ///
    /// SQLite needs none: a write transaction there starts with
    /// `BEGIN IMMEDIATE` and holds the only write lock.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// Suffix that locks the selected rows and skips rows locked by others.
    pub fn for_update_skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// Collation that sorts text byte-wise, as SQLite does by default, so
    /// name order and keyset pagination agree on both backends.
    pub fn collate_c(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " COLLATE \"C\"",
        }
    }

    fn begin_write(self) -> &'static str {
        match self {
            // Take the write lock up front, so a transaction that reads and
            // then writes never fails to upgrade its lock.
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }
}

/// The catalog database.
#[derive(Debug, Clone)]
pub struct Db {
    /// For reads.
    pool: AnyPool,
    /// For writes: on PostgreSQL the same pool, on SQLite one connection.
    writer: AnyPool,
    dialect: Dialect,
}

impl Db {
    /// Connects to `database_url`, or to `catalog.db` in `data_dir` when no
    /// URL is given, and applies the migrations.
    pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Db> {
        install_default_drivers();
        let (url, dialect) = match database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                (url.to_owned(), Dialect::Postgres)
            }
            Some(url) if url.starts_with("sqlite:") => (url.to_owned(), Dialect::Sqlite),
            Some(_) => {
                return Err(Error::invalid(
                    "database_url",
                    "must start with postgres:// or sqlite:",
                ));
            }
            None => {
                std::fs::create_dir_all(data_dir).map_err(|e| {
                    Error::Internal(format!(
                        "cannot create data directory {}: {e}",
                        data_dir.display()
                    ))
                })?;
                let path = data_dir.join("catalog.db");
                restrict_to_owner(&path)?;
                (
                    format!("sqlite://{}?mode=rwc", encode_path(&path)),
                    Dialect::Sqlite,
                )
            }
        };
        let (pool, writer) = match dialect {
            Dialect::Sqlite => {
                // The writer first: it puts a new database into WAL mode
                // and applies the migrations before any reader opens.
                let writer = sqlite_pool(1, false).connect(&url).await?;
                SQLITE_MIGRATOR.run(&writer).await?;
                let readers = sqlite_pool(SQLITE_READERS, true).connect(&url).await?;
                (readers, writer)
            }
            Dialect::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if needs_ping(meta.idle_for) {
                                sqlx::Connection::ping(conn).await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect(&url)
                    .await?;
                POSTGRES_MIGRATOR.run(&pool).await?;
                (pool.clone(), pool)
            }
        };
        Ok(Db {
            pool,
            writer,
            dialect,
        })
    }

    /// Refreshes the query planner's statistics where the database does not
    /// keep them itself. SQLite gathers none unless asked, and without them
    /// it reads the status report's newest completed job per configuration
    /// through the wrong index (107 ms against 18 ms at 100,000 jobs).
    /// `PRAGMA optimize` with these flags looks at every table and analyses
    /// only those whose statistics are missing or stale, with a bounded
    /// sample. PostgreSQL's autovacuum analyses tables by itself.
    pub async fn refresh_statistics(&self) -> Result<()> {
        if self.dialect == Dialect::Sqlite {
            sqlx::query("PRAGMA optimize=0x10002")
                .execute(&self.writer)
                .await?;
        }
        Ok(())
    }

    /// The dialect of the pool.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The pool for reads outside a transaction. On SQLite its
    /// connections refuse to write.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool for a single writing statement outside a transaction. On
    /// SQLite it is the one writer connection.
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// Starts a transaction that will write. End it with [`Db::finish`].
    pub async fn begin(&self) -> Result<Tx> {
        Ok(self.writer.begin_with(self.dialect.begin_write()).await?)
    }

    /// Commits `tx` when `result` is `Ok`, rolls it back otherwise.
    ///
    /// The rollback is explicit: a dropped transaction only rolls back when
    /// its connection is next used, and until then its row locks (which
    /// `SKIP LOCKED` honours) and SQLite's write lock would outlive the
    /// request that failed.
    pub async fn finish<T>(tx: Tx, result: Result<T>) -> Result<T> {
        match result {
            Ok(value) => {
                tx.commit().await?;
                Ok(value)
            }
            Err(e) => {
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(error = %rollback, "rollback failed");
                }
                Err(e)
            }
        }
    }
}
