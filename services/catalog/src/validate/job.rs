//! Validation of job parameters against the job kind.

use vigil_proto::catalog::v1::{
    DatabaseEngine, JobKind, JobParams, RestoreParams, UploadParams, job_params::Params,
};

use super::fields::{check_absolute_path, check_database_url, check_secret_ref, engine_of_url};
use super::{Checker, char_len};

/// Checks that `params` (at `field`) fit `kind` and are well formed.
pub fn check_job_params(v: &mut Checker, field: &str, kind: JobKind, params: Option<&JobParams>) {
    let params = params.and_then(|p| p.params.as_ref());
    match (kind, params) {
        (JobKind::Backup, None) | (JobKind::Prune, None) | (JobKind::Verify, None) => {}
        (JobKind::Backup, Some(_)) => v.add(field, "must be empty for a BACKUP job"),
        (JobKind::Restore, Some(Params::Restore(r))) => check_restore(v, field, r),
        (JobKind::Restore, _) => v.add(format!("{field}.restore"), "is required for a RESTORE job"),
        (JobKind::Verify, Some(Params::Verify(p))) => {
            if !(0.0..=1.0).contains(&p.sample_fraction) {
                v.add(
                    format!("{field}.verify.sample_fraction"),
                    "must be between 0 and 1",
                );
            }
            if char_len(&p.artifact) > 128 {
                v.add(
                    format!("{field}.verify.artifact"),
                    "must be at most 128 characters",
                );
            }
        }
        (JobKind::Prune, Some(Params::Prune(_))) => {}
        (JobKind::Upload, Some(Params::Upload(u))) => check_upload(v, field, u),
        (JobKind::Upload, _) => v.add(format!("{field}.upload"), "is required for an UPLOAD job"),
        (JobKind::Verify | JobKind::Prune, Some(_)) => {
            v.add(field, "do not match the job kind");
        }
        (JobKind::Unspecified, _) => {}
    }
}

/// A restore names its artifact and a target: a directory, a database or
/// both; its paths stay inside the snapshot.
fn check_restore(v: &mut Checker, field: &str, r: &RestoreParams) {
    let f = |name: &str| format!("{field}.restore.{name}");
    if r.artifact.is_empty() {
        v.add(f("artifact"), "must not be empty");
    } else if char_len(&r.artifact) > 128 {
        v.add(f("artifact"), "must be at most 128 characters");
    }
    if r.target_dir.is_empty() && r.database_url.is_empty() {
        v.add(
            format!("{field}.restore"),
            "needs target_dir, database_url or both",
        );
    }
    if !r.target_dir.is_empty() {
        check_absolute_path(v, &f("target_dir"), &r.target_dir);
    }
    if !r.database_url.is_empty() {
        let engine = engine_of_url(&r.database_url).unwrap_or(DatabaseEngine::Unspecified);
        check_database_url(v, &f("database_url"), engine, &r.database_url);
    }
    if let Some(secret) = &r.database_password {
        check_secret_ref(v, &f("database_password"), secret);
    }
    for (i, p) in r.paths.iter().enumerate() {
        let pf = f(&format!("paths[{i}]"));
        if p.is_empty() || p.contains('\0') || char_len(p) > 4096 {
            v.add(pf, "must be a non-empty path without NUL bytes");
        } else if p.split('/').any(|part| part == "..") {
            v.add(pf, "must not contain '..'");
        }
    }
}

/// An upload names a plain file and where the executor staged it.
fn check_upload(v: &mut Checker, field: &str, u: &UploadParams) {
    let f = |name: &str| format!("{field}.upload.{name}");
    if u.file_name.is_empty() || u.file_name.contains(['/', '\0']) || char_len(&u.file_name) > 255 {
        v.add(
            f("file_name"),
            "must be a plain file name of 1 to 255 characters",
        );
    }
    // Where the executor staged the file: its own business, maybe relative
    // to its data directory, so only its shape is checked.
    let staged = &u.staging_path;
    if staged.is_empty() || staged.contains('\0') || char_len(staged) > 4096 {
        v.add(
            f("staging_path"),
            "must be a non-empty path without NUL bytes",
        );
    }
}

/// The engine a restore writes into, when it targets a database.
pub fn restore_engine(params: Option<&JobParams>) -> Option<DatabaseEngine> {
    match params.and_then(|p| p.params.as_ref()) {
        Some(Params::Restore(r)) if !r.database_url.is_empty() => engine_of_url(&r.database_url),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_proto::catalog::v1::RestoreParams;

    fn check(kind: JobKind, params: Option<JobParams>) -> String {
        let mut v = Checker::new();
        check_job_params(&mut v, "params", kind, params.as_ref());
        v.finish().err().map(|e| e.to_string()).unwrap_or_default()
    }

    fn restore(r: RestoreParams) -> Option<JobParams> {
        Some(JobParams {
            params: Some(Params::Restore(r)),
        })
    }

    #[test]
    fn restore_needs_an_artifact_and_a_target() {
        assert_eq!(
            check(JobKind::Restore, None),
            "params.restore: is required for a RESTORE job"
        );
        let msg = check(JobKind::Restore, restore(RestoreParams::default()));
        assert!(
            msg.contains("params.restore.artifact: must not be empty"),
            "{msg}"
        );
        assert!(msg.contains("params.restore: needs target_dir"), "{msg}");
        let ok = restore(RestoreParams {
            artifact: "a".into(),
            database_url: "postgres://app@db/app".into(),
            ..Default::default()
        });
        assert_eq!(check(JobKind::Restore, ok.clone()), "");
        assert_eq!(restore_engine(ok.as_ref()), Some(DatabaseEngine::Postgres));
    }

    #[test]
    fn restore_url_must_not_hold_a_password() {
        let msg = check(
            JobKind::Restore,
            restore(RestoreParams {
                artifact: "a".into(),
                database_url: "postgres://app:pw@db/app".into(),
                ..Default::default()
            }),
        );
        assert_eq!(
            msg,
            "params.restore.database_url: must not contain a password, use password env/file"
        );
    }

    #[test]
    fn backup_takes_no_params() {
        let params = restore(RestoreParams::default());
        assert_eq!(
            check(JobKind::Backup, params),
            "params: must be empty for a BACKUP job"
        );
    }
}
