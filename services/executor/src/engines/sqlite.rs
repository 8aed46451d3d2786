//! SQLite: a consistent copy with `VACUUM INTO` (the one engine that goes
//! through a temporary file, in the staging directory, because SQLite has no
//! streaming dump of a live database file); restore by writing the file
//! next to the target, checking it, and renaming it into place.

use std::path::{Path, PathBuf};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::error::{Error, Result};

/// A consistent copy of a database, removed when dropped.
#[derive(Debug)]
pub struct Copy {
    /// The copy.
    pub path: tempfile::TempPath,
    /// Tables in it.
    pub tables: u64,
}

fn engine_err(e: impl std::fmt::Display) -> Error {
    Error::engine("sqlite", e.to_string())
}

async fn open(path: &Path, read_only: bool) -> Result<sqlx::SqliteConnection> {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(read_only)
        .create_if_missing(false)
        .foreign_keys(false)
        .connect()
        .await
        .map_err(engine_err)
}

/// Copies `src` into the staging directory with `VACUUM INTO`.
pub async fn copy_for_backup(src: &Path, staging: &Path) -> Result<Copy> {
    if !src.is_file() {
        return Err(Error::invalid(
            "source.database.url",
            format!("{} is not an existing SQLite file", src.display()),
        ));
    }
    let path = tempfile::Builder::new()
        .prefix("sqlite-copy-")
        .suffix(".db")
        .tempfile_in(staging)
        .map_err(|e| Error::io(staging, e))?
        .into_temp_path();
    // VACUUM INTO wants a path that does not exist yet.
    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    let mut c = open(src, true).await?;
    let target = path
        .to_str()
        .ok_or_else(|| Error::Internal("staging path is not UTF-8".into()))?;
    let sql = format!("VACUUM INTO '{}'", target.replace('\'', "''"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut c)
        .await
        .map_err(engine_err)?;
    let _ = c.close().await;
    let tables = count_tables(&path).await?;
    Ok(Copy { path, tables })
}

/// User tables in the database file at `path`.
pub async fn count_tables(path: &Path) -> Result<u64> {
    let mut c = open(path, true).await?;
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_one(&mut c)
    .await
    .map_err(engine_err)?;
    let _ = c.close().await;
    Ok(n.max(0) as u64)
}

/// Refuses a non-empty target without `overwrite`; returns where to write
/// the restored file before it is checked and renamed into place.
pub fn prepare_target(target: &Path, overwrite: bool) -> Result<PathBuf> {
    match std::fs::symlink_metadata(target) {
        Ok(md) if md.is_dir() => {
            return Err(Error::FailedPrecondition(format!(
                "database_url: {} is a directory",
                target.display()
            )));
        }
        Ok(md) if md.len() > 0 && !overwrite => {
            return Err(Error::FailedPrecondition(format!(
                "database_url: {} already exists; set overwrite to replace it",
                target.display()
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(target, e)),
    }
    let dir = target
        .parent()
        .ok_or_else(|| Error::invalid("database_url", "the file needs a directory"))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    Ok(dir.join(format!(
        ".vigil-restore-{}.db",
        uuid::Uuid::new_v4().simple()
    )))
}

/// Checks the restored file at `tmp` and moves it to `target`. Returns the
/// tables it holds.
pub async fn finish_restore(tmp: &Path, target: &Path, expected_tables: u64) -> Result<u64> {
    let outcome = async {
        let mut c = open(tmp, true).await?;
        let (verdict,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&mut c)
            .await
            .map_err(engine_err)?;
        let _ = c.close().await;
        if verdict != "ok" {
            return Err(Error::Check(format!(
                "sqlite integrity_check says {verdict:?}"
            )));
        }
        let tables = count_tables(tmp).await?;
        if tables < expected_tables {
            return Err(Error::Check(format!(
                "expected {expected_tables} tables, found {tables}"
            )));
        }
        std::fs::File::open(tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(tmp, e))?;
        // A journal of the database being replaced must not be applied to the new one.
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut side = target.as_os_str().to_owned();
            side.push(suffix);
            match std::fs::remove_file(&side) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(PathBuf::from(side), e)),
            }
        }
        std::fs::rename(tmp, target).map_err(|e| Error::io(target, e))?;
        Ok(tables)
    }
    .await;
    if outcome.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    outcome
}
