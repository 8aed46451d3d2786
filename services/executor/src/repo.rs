//! Opening the repository at start, or creating it on first start.
//!
//! The key comes from `--repository-key-file`, or from the passphrase in the
//! environment variable named by `repository_passphrase_env`. With neither,
//! the executor uses `<data-dir>/repository.key`, generating it (mode 0600)
//! on first start. Only the key file's path is ever logged.

use std::path::{Path, PathBuf};

use vigil_repository::{InitOptions, KeySource, Repository};

use crate::error::{Error, Result};
use crate::settings::ExecutorOptions;

/// The repository and where it lives.
#[derive(Clone, Debug)]
pub struct Repo {
    /// The open repository.
    pub repository: Repository,
    /// Its directory.
    pub path: PathBuf,
}

/// Name of the generated key file in the data directory.
pub const DEFAULT_KEY_FILE: &str = "repository.key";

fn key_source(opts: &ExecutorOptions, repo_exists: bool) -> Result<KeySource> {
    if let Some(file) = &opts.repository_key_file {
        if !file.is_file() {
            return Err(Error::invalid(
                "repository_key_file",
                format!("{} does not exist or is not a file", file.display()),
            ));
        }
        return Ok(KeySource::KeyFile(file.clone()));
    }
    if let Some(var) = &opts.repository_passphrase_env {
        return match std::env::var(var) {
            Ok(p) if !p.is_empty() => Ok(KeySource::passphrase(p)),
            Ok(_) => Err(Error::invalid(
                "repository_passphrase_env",
                format!("environment variable {var} is empty"),
            )),
            Err(_) => Err(Error::invalid(
                "repository_passphrase_env",
                format!("environment variable {var} is not set"),
            )),
        };
    }
    let default = opts.data_dir.join(DEFAULT_KEY_FILE);
    if default.is_file() {
        return Ok(KeySource::KeyFile(default));
    }
    if repo_exists {
        return Err(Error::invalid(
            "repository_key_file",
            format!(
                "the repository at {} exists but no key was given and {} is missing",
                opts.repository_path().display(),
                default.display()
            ),
        ));
    }
    std::fs::create_dir_all(&opts.data_dir).map_err(|e| Error::io(&opts.data_dir, e))?;
    vigil_repository::generate_key_file(&default)?;
    tracing::warn!(
        key_file = %default.display(),
        "generated a new repository key; keep a copy of it elsewhere, without it the backups cannot be read"
    );
    Ok(KeySource::KeyFile(default))
}

fn exists(path: &Path) -> bool {
    path.join("config").is_file()
}

/// Opens the repository of `opts`, creating it on first start.
pub fn open_or_create(opts: &ExecutorOptions) -> Result<Repo> {
    let path = opts.repository_path();
    let found = exists(&path);
    let key = key_source(opts, found)?;
    let repository = if found {
        Repository::open_local(&path, &key)?
    } else {
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        let r = Repository::init_local(&path, &key, &InitOptions::default())?;
        tracing::info!(repository = %path.display(), id = %r.id(), "created the repository");
        r
    };
    Ok(Repo { repository, path })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn first_start_generates_a_private_key_file_and_reopens_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ExecutorOptions::new("http://127.0.0.1:1", dir.path());
        let first = open_or_create(&opts).unwrap();
        let key = dir.path().join(DEFAULT_KEY_FILE);
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let again = open_or_create(&opts).unwrap();
        assert_eq!(first.repository.id(), again.repository.id());
        std::fs::remove_file(&key).unwrap();
        let e = open_or_create(&opts).unwrap_err().to_string();
        assert!(e.starts_with("repository_key_file:"), "{e}");
    }

    #[test]
    fn a_missing_passphrase_variable_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = ExecutorOptions::new("http://127.0.0.1:1", dir.path());
        opts.repository_passphrase_env = Some("VIGIL_TEST_UNSET_PASSPHRASE_7".into());
        let e = open_or_create(&opts).unwrap_err().to_string();
        assert!(
            e.contains("VIGIL_TEST_UNSET_PASSPHRASE_7 is not set"),
            "{e}"
        );
    }
}
