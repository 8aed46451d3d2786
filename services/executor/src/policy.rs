//! The executor's own limits (A4): whatever a configuration or a restore
//! request says, a backup reads only inside `source_roots`, a restore writes
//! only inside `restore_roots`, and a database password comes only from an
//! environment variable in `allowed_secret_env` or a file in `secret_dirs`.
//! Each setting left unset allows everything else, with two limits that no
//! setting lifts:
//! - the executor never hands its own credentials to a source: its repository
//!   passphrase variable, any variable named `VIGIL_*` or `AWS_*`, its key and
//!   token files, or anything under `/proc` (which holds its environment);
//! - it never backs up, restores into, or reads a password from its own data
//!   directory, repository, key file or staging directory.
//!
//! Paths are compared after canonicalisation (of the path and of the roots,
//! at each check, so a root mounted after start counts), so neither `..` nor
//! a symlink leads out of a root. A refusal is a job error that names the
//! setting.

use std::path::{Component, Path, PathBuf};

use vigil_proto::catalog::v1::{SecretRef, secret_ref};

use crate::error::{Error, Result};
use crate::settings::{ExecutorOptions, ExecutorSettings};

/// Prefixes of environment variables that hold the executor's own credentials.
const OWN_ENV_PREFIXES: [&str; 2] = ["VIGIL_", "AWS_"];

/// The limits.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    source_roots: Option<Vec<PathBuf>>,
    restore_roots: Option<Vec<PathBuf>>,
    allowed_secret_env: Option<Vec<String>>,
    secret_dirs: Option<Vec<PathBuf>>,
    /// The executor's own files and directories.
    own_paths: Vec<PathBuf>,
    /// The variable holding the repository passphrase, if any.
    passphrase_env: Option<String>,
}

/// Checks the policy settings' shape; the error names the setting.
pub(crate) fn validate_settings(s: &ExecutorSettings) -> Result<()> {
    for (name, roots) in [
        ("source_roots", &s.source_roots),
        ("restore_roots", &s.restore_roots),
        ("secret_dirs", &s.secret_dirs),
    ] {
        for (i, root) in roots.iter().flatten().enumerate() {
            if !root.is_absolute() {
                return Err(Error::invalid(
                    format!("executor.{name}[{i}]"),
                    "must be an absolute path",
                ));
            }
        }
    }
    for (i, var) in s.allowed_secret_env.iter().flatten().enumerate() {
        if let Some(why) = own_env(var, None) {
            return Err(Error::invalid(
                format!("executor.allowed_secret_env[{i}]"),
                format!("{var} {why} and never serves as a database password"),
            ));
        }
    }
    Ok(())
}

/// Whether `var` is named like one of the executor's own credentials
/// (`VIGIL_*`, `AWS_*`).
pub fn is_credential_env(var: &str) -> bool {
    let upper = var.to_ascii_uppercase();
    OWN_ENV_PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// Why `var` is one of the executor's own credentials, if it is.
fn own_env(var: &str, passphrase_env: Option<&str>) -> Option<&'static str> {
    if is_credential_env(var) {
        return Some("is an executor credential variable (VIGIL_* or AWS_*)");
    }
    if passphrase_env == Some(var) {
        return Some("holds the repository passphrase");
    }
    None
}

/// `path` made absolute and free of `.`, `..` and symlinks: the longest
/// existing ancestor is canonicalised and the rest appended (it cannot hold
/// `..`, which is refused).
pub fn normalise(field: &str, path: &Path) -> Result<PathBuf> {
    if !path.is_absolute() {
        return Err(Error::invalid(field, "must be an absolute path"));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(Error::invalid(field, "must not contain '..'"));
    }
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(real) => {
                return Ok(rest.iter().rev().fold(real, |p: PathBuf, c| p.join(c)));
            }
            Err(_) => match (
                existing.file_name().map(ToOwned::to_owned),
                existing.parent(),
            ) {
                (Some(name), Some(parent)) => {
                    rest.push(name);
                    existing = parent.to_path_buf();
                }
                _ => return Err(Error::invalid(field, "cannot be resolved")),
            },
        }
    }
}

/// Whether the canonical `path` lies inside one of `roots` (canonicalised now).
fn inside(path: &Path, roots: &[PathBuf]) -> bool {
    roots
        .iter()
        .filter_map(|r| normalise("root", r).ok())
        .any(|r| path.starts_with(r))
}

fn show(roots: &[PathBuf]) -> String {
    let list: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    list.join(", ")
}

fn denied(field: &str, why: String) -> Error {
    Error::FailedPrecondition(format!("{field}: {why}"))
}

impl Policy {
    /// The executor's own credential variables that [`is_credential_env`]
    /// does not recognise by name (the repository passphrase's), which no
    /// dump or restore tool may inherit.
    pub(crate) fn hidden_env(&self) -> Vec<String> {
        self.passphrase_env.iter().cloned().collect()
    }

    /// The policy of an executor started with `opts`; `own_paths` are its
    /// data directory, repository, key file and staging directory (and
    /// whatever else the host adds).
    pub fn new(opts: &ExecutorOptions, own_paths: &[PathBuf]) -> Result<Policy> {
        let s = &opts.settings;
        validate_settings(s)?;
        let own_paths = own_paths
            .iter()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| {
                normalise(
                    "data_dir",
                    &std::path::absolute(p).unwrap_or_else(|_| p.clone()),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Policy {
            source_roots: s.source_roots.clone(),
            restore_roots: s.restore_roots.clone(),
            allowed_secret_env: s.allowed_secret_env.clone(),
            secret_dirs: s.secret_dirs.clone(),
            own_paths,
            passphrase_env: opts.repository_passphrase_env.clone(),
        })
    }

    /// Whether `path` is, holds or lies inside one of the executor's own files.
    fn own(&self, path: &Path) -> Option<&Path> {
        self.own_paths
            .iter()
            .find(|o| path.starts_with(o) || o.starts_with(path))
            .map(PathBuf::as_path)
            .or_else(|| path.starts_with("/proc").then_some(Path::new("/proc")))
    }

    /// The path a backup reads for `path` (canonical), if the policy allows it.
    pub fn source(&self, field: &str, path: &Path) -> Result<PathBuf> {
        self.within(
            field,
            path,
            (
                "would include the executor's own files",
                "; it never backs them up",
            ),
            ("source_roots", self.source_roots.as_deref()),
        )
    }

    /// The path a restore writes for `path` (canonical), if the policy allows it.
    pub fn restore_target(&self, field: &str, path: &Path) -> Result<PathBuf> {
        self.within(
            field,
            path,
            ("would write over the executor's own files", ""),
            ("restore_roots", self.restore_roots.as_deref()),
        )
    }

    /// `path`, canonical, unless it touches the executor's own files (the
    /// refusal says `own.0 (FILE)own.1`) or lies outside the roots of the
    /// setting (none set: anywhere).
    fn within(
        &self,
        field: &str,
        path: &Path,
        own: (&str, &str),
        (setting, roots): (&str, Option<&[PathBuf]>),
    ) -> Result<PathBuf> {
        let real = normalise(field, path)?;
        if let Some(o) = self.own(&real) {
            return Err(denied(
                field,
                format!("{} {} ({}){}", path.display(), own.0, o.display(), own.1),
            ));
        }
        if let Some(roots) = roots
            && !inside(&real, roots)
        {
            return Err(denied(
                field,
                format!(
                    "{} is outside executor.{setting} ({})",
                    path.display(),
                    show(roots)
                ),
            ));
        }
        Ok(real)
    }

    /// Checks that `secret` may serve as a database password, before it is read.
    pub fn secret(&self, field: &str, secret: Option<&SecretRef>) -> Result<()> {
        match secret.and_then(|r| r.source.as_ref()) {
            None => Ok(()),
            Some(secret_ref::Source::Env(var)) => self.secret_env(&format!("{field}.env"), var),
            Some(secret_ref::Source::File(file)) => {
                self.secret_file(&format!("{field}.file"), Path::new(file))
            }
        }
    }

    fn secret_env(&self, field: &str, var: &str) -> Result<()> {
        if let Some(why) = own_env(var, self.passphrase_env.as_deref()) {
            return Err(denied(
                field,
                format!("{var} {why}; the executor never sends its own credentials"),
            ));
        }
        match &self.allowed_secret_env {
            Some(allowed) if !allowed.iter().any(|a| a == var) => Err(denied(
                field,
                format!("{var} is not in executor.allowed_secret_env"),
            )),
            _ => Ok(()),
        }
    }

    fn secret_file(&self, field: &str, file: &Path) -> Result<()> {
        let real = normalise(field, file)?;
        if let Some(o) = self.own(&real) {
            return Err(denied(
                field,
                format!(
                    "{} is one of the executor's own files ({}); the executor never sends its own credentials",
                    file.display(),
                    o.display()
                ),
            ));
        }
        match &self.secret_dirs {
            Some(dirs) if !inside(&real, dirs) => Err(denied(
                field,
                format!(
                    "{} is outside executor.secret_dirs ({})",
                    file.display(),
                    show(dirs)
                ),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_resolves_symlinks_and_keeps_a_missing_tail() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::fs::create_dir(real.join("inside")).unwrap();
        std::os::unix::fs::symlink("/etc", real.join("inside/link")).unwrap();
        assert_eq!(
            normalise("p", &real.join("inside/link/passwd")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(
            normalise("p", &real.join("inside/new/dir")).unwrap(),
            real.join("inside/new/dir")
        );
        let e = normalise("p", &real.join("inside/../x")).unwrap_err();
        assert!(e.to_string().starts_with("p: must not contain '..'"), "{e}");
        assert!(normalise("p", Path::new("relative")).is_err());
    }

    #[test]
    fn own_credentials_are_recognised_whatever_the_case() {
        assert!(is_credential_env("VIGIL_TOKEN"));
        assert!(is_credential_env("aws_secret_access_key"));
        assert!(!is_credential_env("EDMS_DB_PASSWORD"));
        assert!(own_env("REPO_PASS", Some("REPO_PASS")).is_some());
        assert!(own_env("EDMS_DB_PASSWORD", Some("REPO_PASS")).is_none());
    }

    #[test]
    fn settings_that_cannot_work_are_refused_naming_the_setting() {
        let s = ExecutorSettings {
            allowed_secret_env: Some(vec!["EDMS_DB_PASSWORD".into(), "VIGIL_TOKEN".into()]),
            ..Default::default()
        };
        let e = validate_settings(&s).unwrap_err().to_string();
        assert!(e.starts_with("executor.allowed_secret_env[1]:"), "{e}");
        let s = ExecutorSettings {
            restore_roots: Some(vec!["restores".into()]),
            ..Default::default()
        };
        let e = validate_settings(&s).unwrap_err().to_string();
        assert!(e.starts_with("executor.restore_roots[0]:"), "{e}");
    }

    #[test]
    fn the_executor_never_reads_or_writes_its_own_files() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let o = ExecutorOptions::new("http://127.0.0.1:1", &data);
        let p = Policy::new(&o, std::slice::from_ref(&data)).unwrap();
        for path in [
            data.join("repository.key"),
            data.clone(),
            dir.path().to_owned(),
        ] {
            assert!(p.source("s", &path).is_err(), "{}", path.display());
            assert!(p.restore_target("t", &path).is_err(), "{}", path.display());
        }
        assert!(p.source("s", &dir.path().join("elsewhere")).is_ok());
    }
}
