//! Capability strings: what an executor advertises and what a job requires.
//!
//! The catalog derives a job's required capabilities from its kind and its
//! configuration; the scheduler uses the same derivation to raise an alert
//! when no live executor could run an enabled schedule (guarantee S8).

use crate::catalog::v1::{BackupConfiguration, BackupKind, DatabaseEngine, JobKind};

/// Capability to take FULL backups.
pub const BACKUP_FULL: &str = "backup:full";
/// Capability to take DATABASE backups.
pub const BACKUP_DATABASE: &str = "backup:database";
/// Capability to take EXPORT backups.
pub const BACKUP_EXPORT: &str = "backup:export";
/// Capability to restore.
pub const RESTORE: &str = "restore";
/// Capability to verify.
pub const VERIFY: &str = "verify";
/// Capability to prune.
pub const PRUNE: &str = "prune";
/// Capability to check uploaded archives.
pub const UPLOAD: &str = "upload";

/// The capability to dump or restore a database engine, such as `engine:postgres`.
pub fn engine(engine: DatabaseEngine) -> Option<&'static str> {
    match engine {
        DatabaseEngine::Postgres => Some("engine:postgres"),
        DatabaseEngine::Mysql => Some("engine:mysql"),
        DatabaseEngine::Sqlite => Some("engine:sqlite"),
        DatabaseEngine::Unspecified => None,
    }
}

/// The capability needed to back up a configuration of this kind.
pub fn backup(kind: BackupKind) -> Option<&'static str> {
    match kind {
        BackupKind::Full => Some(BACKUP_FULL),
        BackupKind::Database => Some(BACKUP_DATABASE),
        BackupKind::Export => Some(BACKUP_EXPORT),
        BackupKind::Unspecified => None,
    }
}

/// The capability of every executor using the repository `id`: a job that
/// must run against that repository (an upload staged in it) requires it.
pub fn repository(id: &str) -> String {
    format!("repository:{}", id.get(..32).unwrap_or(id))
}

/// Capabilities an executor needs to run a job of `kind` for `config`.
///
/// A restore into a database needs that engine too; the caller adds it from
/// the restore target, which the configuration does not know.
pub fn required_for(kind: JobKind, config: Option<&BackupConfiguration>) -> Vec<String> {
    let mut caps: Vec<String> = Vec::new();
    match kind {
        JobKind::Backup => {
            if let Some(cap) = config.and_then(|c| backup(c.kind())) {
                caps.push(cap.to_owned());
            }
            let engine_cap = config
                .and_then(|c| c.source.as_ref())
                .and_then(|s| s.database.as_ref())
                .and_then(|d| engine(d.engine()));
            if let Some(cap) = engine_cap {
                caps.push(cap.to_owned());
            }
        }
        JobKind::Restore => caps.push(RESTORE.to_owned()),
        JobKind::Verify => caps.push(VERIFY.to_owned()),
        JobKind::Prune => caps.push(PRUNE.to_owned()),
        JobKind::Upload => caps.push(UPLOAD.to_owned()),
        JobKind::Unspecified => {}
    }
    caps
}

/// Whether `offered` covers every capability in `required`.
pub fn satisfies(offered: &[String], required: &[String]) -> bool {
    required.iter().all(|r| offered.iter().any(|o| o == r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::v1::{DatabaseSource, Source};

    #[test]
    fn database_backup_needs_kind_and_engine() {
        let config = BackupConfiguration {
            kind: BackupKind::Database as i32,
            source: Some(Source {
                database: Some(DatabaseSource {
                    engine: DatabaseEngine::Postgres as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let caps = required_for(JobKind::Backup, Some(&config));
        assert_eq!(caps, vec!["backup:database", "engine:postgres"]);
        assert!(!satisfies(&["backup:database".to_owned()], &caps));
        assert!(satisfies(
            &[
                "engine:postgres".to_owned(),
                "backup:database".to_owned(),
                "verify".to_owned()
            ],
            &caps
        ));
    }
}
