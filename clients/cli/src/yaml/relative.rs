//! Relative paths in a configuration file are resolved against the file's
//! directory, as docker compose does, so that a file shipped with its data
//! (such as `deploy/examples/quickstart.yaml`) works from any working
//! directory. The catalog only ever sees absolute paths.
//!
//! Resolved: `source.paths`, and a `sqlite:` URL whose path is relative
//! (`sqlite:data/app.db` or `sqlite://data/app.db`). The Python SDK's file
//! reader applies the same rules.

use std::path::{Component, Path, PathBuf};

use vigil_proto::catalog::v1::{BackupConfiguration, DatabaseEngine};

/// Rewrites every relative source path and relative SQLite URL of
/// `configurations` against `base`, an absolute directory.
pub(crate) fn resolve_against(configurations: &mut [BackupConfiguration], base: &Path) {
    for source in configurations.iter_mut().filter_map(|c| c.source.as_mut()) {
        for path in &mut source.paths {
            if let Some(resolved) = resolve_path(base, path) {
                *path = resolved;
            }
        }
        if let Some(db) = source.database.as_mut()
            && db.engine() == DatabaseEngine::Sqlite
            && let Some(url) = resolve_sqlite_url(base, &db.url)
        {
            db.url = url;
        }
    }
}

/// `base/path`, lexically normalised, when `path` is relative and not empty.
fn resolve_path(base: &Path, path: &str) -> Option<String> {
    if path.is_empty() || Path::new(path).is_absolute() {
        return None;
    }
    let mut out = PathBuf::new();
    for part in base.join(path).components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.to_str().map(str::to_owned)
}

/// `sqlite:///base/rel` for `sqlite:rel` and `sqlite://rel`.
fn resolve_sqlite_url(base: &Path, url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let resolved = resolve_path(base, path)?;
    Some(match query {
        Some(q) => format!("sqlite://{resolved}?{q}"),
        None => format!("sqlite://{resolved}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_joined_to_the_file_directory_and_normalised() {
        let base = Path::new("/etc/vigil");
        assert_eq!(
            resolve_path(base, "data/docs").as_deref(),
            Some("/etc/vigil/data/docs")
        );
        assert_eq!(
            resolve_path(base, "./a/../b").as_deref(),
            Some("/etc/vigil/b")
        );
        assert_eq!(resolve_path(base, "../srv").as_deref(), Some("/etc/srv"));
        assert_eq!(resolve_path(base, "/srv/a"), None);
        assert_eq!(resolve_path(base, ""), None);
    }

    #[test]
    fn relative_sqlite_urls_become_absolute_and_keep_their_query() {
        let base = Path::new("/opt/q");
        assert_eq!(
            resolve_sqlite_url(base, "sqlite:app.db").as_deref(),
            Some("sqlite:///opt/q/app.db")
        );
        assert_eq!(
            resolve_sqlite_url(base, "sqlite://data/app.db?mode=ro").as_deref(),
            Some("sqlite:///opt/q/data/app.db?mode=ro")
        );
        assert_eq!(resolve_sqlite_url(base, "sqlite:///var/app.db"), None);
        assert_eq!(resolve_sqlite_url(base, "postgres://h/db"), None);
    }
}
