//! Finding the dump and restore tools on this machine, with their versions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tokio::process::Command;
use vigil_proto::capabilities;
use vigil_proto::catalog::v1::DatabaseEngine;

/// The PostgreSQL client tools.
#[derive(Clone, Debug)]
pub struct PgTools {
    /// `pg_dump`.
    pub pg_dump: PathBuf,
    /// `psql`.
    pub psql: PathBuf,
    /// `pg_dump --version`.
    pub version: String,
}

/// The MariaDB/MySQL client tools.
#[derive(Clone, Debug)]
pub struct MyTools {
    /// `mariadb-dump` or `mysqldump`.
    pub dump: PathBuf,
    /// `mariadb` or `mysql`.
    pub client: PathBuf,
    /// The dump tool's `--version`.
    pub version: String,
}

/// The engines this executor can dump and restore.
#[derive(Clone, Debug, Default)]
pub struct Engines {
    /// PostgreSQL, when `pg_dump` and `psql` were found.
    pub postgres: Option<PgTools>,
    /// MariaDB/MySQL, when a dump tool and a client were found.
    pub mysql: Option<MyTools>,
    /// The SQLite library linked in (always there).
    pub sqlite_version: String,
}

impl Engines {
    /// Probes `PATH` (or `search`, when given, for tests) for the tools.
    pub async fn probe(search: Option<&[PathBuf]>) -> Engines {
        let find = |name: &str| find_tool(name, search);
        let postgres = match (find("pg_dump"), find("psql")) {
            (Some(pg_dump), Some(psql)) => version_of(&pg_dump).await.map(|version| PgTools {
                pg_dump,
                psql,
                version,
            }),
            _ => None,
        };
        let dump = find("mariadb-dump").or_else(|| find("mysqldump"));
        let client = find("mariadb").or_else(|| find("mysql"));
        let mysql = match (dump, client) {
            (Some(dump), Some(client)) => version_of(&dump).await.map(|version| MyTools {
                dump,
                client,
                version,
            }),
            _ => None,
        };
        let sqlite_version = sqlite_version().await.unwrap_or_else(|| "unknown".into());
        let engines = Engines {
            postgres,
            mysql,
            sqlite_version,
        };
        tracing::info!(engines = ?engines.versions(), "dump engines probed");
        engines
    }

    /// Whether `engine` can be dumped and restored here.
    pub fn supports(&self, engine: DatabaseEngine) -> bool {
        match engine {
            DatabaseEngine::Postgres => self.postgres.is_some(),
            DatabaseEngine::Mysql => self.mysql.is_some(),
            DatabaseEngine::Sqlite => true,
            DatabaseEngine::Unspecified => false,
        }
    }

    /// Capability strings to advertise.
    pub fn capabilities(&self) -> Vec<String> {
        let mut caps: Vec<String> = [
            capabilities::BACKUP_FULL,
            capabilities::BACKUP_DATABASE,
            capabilities::BACKUP_EXPORT,
            capabilities::RESTORE,
            capabilities::VERIFY,
            capabilities::PRUNE,
            capabilities::UPLOAD,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for e in [
            DatabaseEngine::Postgres,
            DatabaseEngine::Mysql,
            DatabaseEngine::Sqlite,
        ] {
            if self.supports(e)
                && let Some(cap) = capabilities::engine(e)
            {
                caps.push(cap.to_owned());
            }
        }
        caps
    }

    /// Tool versions by engine, for GetExecutorInfo and the heartbeat.
    pub fn versions(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        if let Some(p) = &self.postgres {
            m.insert("postgres".to_owned(), p.version.clone());
        }
        if let Some(my) = &self.mysql {
            m.insert("mysql".to_owned(), my.version.clone());
        }
        m.insert(
            "sqlite".to_owned(),
            format!("sqlite {}", self.sqlite_version),
        );
        m
    }
}

fn find_tool(name: &str, search: Option<&[PathBuf]>) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = match search {
        Some(dirs) => dirs.to_vec(),
        None => std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default(),
    };
    dirs.iter().map(|d| d.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

async fn version_of(tool: &Path) -> Option<String> {
    let out = Command::new(tool)
        .arg("--version")
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    if !out.status.success() {
        tracing::warn!(tool = %tool.display(), "tool does not answer --version; not advertised");
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().next().unwrap_or_default().trim().to_owned())
}

async fn sqlite_version() -> Option<String> {
    use sqlx::Connection;
    let mut c = sqlx::SqliteConnection::connect("sqlite::memory:")
        .await
        .ok()?;
    let v: (String,) = sqlx::query_as("SELECT sqlite_version()")
        .fetch_one(&mut c)
        .await
        .ok()?;
    let _ = c.close().await;
    Some(v.0)
}
