//! Opening the repository at start, or creating it on first start.
//!
//! The repository is a local directory (the default `<data-dir>/repository`,
//! a path or `file://`) or an object store (`s3://bucket/prefix`, configured
//! by the `AWS_*` variables). Its master key lives in the repository's
//! config, wrapped by the key: the passphrase in the environment variable
//! named by `repository_passphrase_env` (Argon2id), or a key file. With
//! neither, a local repository uses `<data-dir>/repository.key`, generating
//! it (mode 0600) on first start; an object store needs one of them, since
//! every host must open it with the same key.
//!
//! Several executors starting together on a fresh location all come up:
//! the key file and the config are created with conditional creates, so one
//! process creates each and the others read what it wrote. Only the key
//! file's path and the repository location are ever logged.

use vigil_repository::{Backend, InitOptions, KeySource, Repository, backend_for};

use crate::error::{Error, Result};
use crate::settings::ExecutorOptions;

/// The repository and where it lives.
#[derive(Clone, Debug)]
pub struct Repo {
    /// The open repository.
    pub repository: Repository,
    /// Where it lives: a directory or an `s3://` URL (never a secret).
    pub location: String,
}

/// Name of the generated key file in the data directory.
pub const DEFAULT_KEY_FILE: &str = "repository.key";

fn key_source(opts: &ExecutorOptions, backend: &dyn Backend) -> Result<KeySource> {
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
    if opts.is_object_store() {
        return Err(Error::invalid(
            "repository_passphrase_env",
            format!(
                "the repository {} is shared by every executor that uses it: give its passphrase \
                 with --repository-passphrase-env VAR (or the same --repository-key-file on every host)",
                backend.location()
            ),
        ));
    }
    let default = opts.data_dir.join(DEFAULT_KEY_FILE);
    if default.is_file() {
        return Ok(KeySource::KeyFile(default));
    }
    if backend.exists(vigil_repository::FileKind::Config, "config")? {
        return Err(Error::invalid(
            "repository_key_file",
            format!(
                "the repository at {} exists but no key was given and {} is missing",
                backend.location(),
                default.display()
            ),
        ));
    }
    std::fs::create_dir_all(&opts.data_dir).map_err(|e| Error::io(&opts.data_dir, e))?;
    match vigil_repository::generate_key_file(&default) {
        Ok(()) => tracing::warn!(
            key_file = %default.display(),
            "generated a new repository key; keep a copy of it elsewhere, without it the backups cannot be read"
        ),
        // Another process starting on the same data dir generated it first.
        Err(vigil_repository::Error::AlreadyExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(KeySource::KeyFile(default))
}

/// Opens the repository of `opts`, creating it on first start. An object
/// store that cannot be reached, or refuses the credentials, is an error
/// naming the location.
pub fn open_or_create(opts: &ExecutorOptions) -> Result<Repo> {
    let location = opts.repository_location();
    let backend = backend_for(&location)?;
    let key = key_source(opts, &*backend)?;
    let (repository, created) =
        Repository::open_or_init(backend.clone(), &key, &InitOptions::default())?;
    if created {
        tracing::info!(repository = %backend.location(), id = %repository.id(), "created the repository");
    }
    Ok(Repo {
        repository,
        location: backend.location(),
    })
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

    #[test]
    fn executors_starting_together_on_a_fresh_data_dir_all_open_one_repository() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ExecutorOptions::new("http://127.0.0.1:1", dir.path());
        let ids: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|_| s.spawn(|| open_or_create(&opts).map(|r| r.repository.id().to_owned())))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    }

    #[test]
    fn an_object_store_without_a_passphrase_is_refused_naming_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = ExecutorOptions::new("http://127.0.0.1:1", dir.path());
        opts.repository = "s3://vigil-bucket/team".into();
        let e = open_or_create(&opts).unwrap_err().to_string();
        assert!(e.starts_with("repository_passphrase_env:"), "{e}");
        assert!(e.contains("s3://vigil-bucket/team"), "{e}");
    }
}
