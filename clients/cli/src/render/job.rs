//! Jobs as tables.

use comfy_table::Table;
use vigil_proto::catalog::v1::{BackupJob, job_params};

use crate::output::format::{self, or_none};
use crate::output::{Short, fields, table};

/// How long a job ran, or has been running.
fn run_time(j: &BackupJob) -> String {
    if let Some(d) = j.stats.as_ref().and_then(|s| s.duration.as_ref()) {
        return format::duration(Some(d));
    }
    match (
        format::utc(j.start_time.as_ref()),
        format::utc(j.end_time.as_ref()),
    ) {
        (Some(start), Some(end)) => {
            format::short_duration((end - start).to_std().unwrap_or_default())
        }
        (Some(start), None) => {
            format::short_duration((chrono::Utc::now() - start).to_std().unwrap_or_default())
        }
        _ => format::NONE.to_owned(),
    }
}

/// The job list, newest first as the catalog returns it.
pub(crate) fn list(jobs: &[BackupJob]) -> Table {
    let mut t = table([
        "NAME",
        "CONFIGURATION",
        "KIND",
        "TRIGGER",
        "STATE",
        "STARTED",
        "TOOK",
        "NOTE",
    ]);
    for j in jobs {
        let started = if j.start_time.is_some() {
            &j.start_time
        } else {
            &j.create_time
        };
        let note = if !j.error.is_empty() {
            j.error.clone()
        } else if j.cancel_requested && !vigil_client::is_final(j.state()) {
            "cancel requested".to_owned()
        } else if vigil_client::is_final(j.state()) {
            String::new()
        } else {
            j.progress
                .as_ref()
                .map(|p| p.phase.clone())
                .unwrap_or_default()
        };
        t.add_row(vec![
            j.name.clone(),
            or_none(&j.configuration).to_owned(),
            j.kind().short().to_owned(),
            j.trigger().short().to_owned(),
            j.state().short().to_owned(),
            format::time(started.as_ref()),
            run_time(j),
            note,
        ]);
    }
    t
}

/// Every field of one job.
pub(crate) fn detail(j: &BackupJob) -> Table {
    let mut rows: Vec<(&str, String)> = vec![
        ("id", j.id.clone()),
        ("name", j.name.clone()),
        ("configuration", or_none(&j.configuration).to_owned()),
        ("kind", j.kind().short().to_owned()),
        ("backup kind", j.backup_kind().short().to_owned()),
        ("trigger", j.trigger().short().to_owned()),
        ("state", j.state().short().to_owned()),
        ("due", format::time(j.due_time.as_ref())),
        ("queued", format::time(j.create_time.as_ref())),
        ("started", format::time(j.start_time.as_ref())),
        ("ended", format::time(j.end_time.as_ref())),
        ("took", run_time(j)),
        ("attempt", format!("{} of {}", j.attempt, j.max_attempts)),
        ("executor", or_none(&j.lease_owner).to_owned()),
    ];
    // Progress is a running job's; a finished one shows its final figures.
    if let Some(p) = j
        .progress
        .as_ref()
        .filter(|_| !vigil_client::is_final(j.state()))
    {
        rows.push(("phase", or_none(&p.phase).to_owned()));
        let total = if p.bytes_total > 0 {
            format!(" of {}", format::bytes(p.bytes_total))
        } else {
            String::new()
        };
        rows.push((
            "progress",
            format!(
                "{}{total}, {} files, {}/s",
                format::bytes(p.bytes_done),
                p.files_done,
                format::bytes(p.bytes_per_second as u64)
            ),
        ));
    }
    if let Some(s) = &j.stats {
        rows.push(("files", s.files.to_string()));
        rows.push(("read", format::bytes(s.bytes_read)));
        if let Some(rate) = final_rate(s) {
            rows.push(("rate", format!("{}/s", format::bytes(rate))));
        }
        rows.push(("new", format::bytes(s.bytes_new)));
        rows.push(("stored", format::bytes(s.stored_bytes_added)));
        rows.push((
            "chunks",
            format!("{} new, {} reused", s.chunks_new, s.chunks_reused),
        ));
        if s.artifacts_removed > 0 {
            rows.push(("removed", s.artifacts_removed.to_string()));
        }
        if s.errors_found > 0 {
            rows.push(("errors found", s.errors_found.to_string()));
        }
    }
    if let Some(params) = j.params.as_ref().and_then(|p| p.params.as_ref()) {
        rows.push(("params", params_summary(params)));
    }
    rows.push(("artifact", or_none(&j.artifact).to_owned()));
    if j.cancel_requested {
        rows.push(("cancel", "requested".to_owned()));
    }
    rows.push(("error", or_none(&j.error).to_owned()));
    if !j.warnings.is_empty() {
        rows.push(("warnings", j.warnings.join("\n")));
    }
    // Phases, warnings and unreadable files are in the job's log.
    rows.push(("log", format!("vigil jobs logs {}", j.name)));
    fields(rows)
}

/// Bytes read per second over the whole job, when it took any time.
fn final_rate(s: &vigil_proto::catalog::v1::JobStats) -> Option<u64> {
    let d = s.duration.as_ref()?;
    let secs = d.seconds as f64 + f64::from(d.nanos) / 1e9;
    (secs > 0.0 && s.bytes_read > 0).then(|| (s.bytes_read as f64 / secs) as u64)
}

fn params_summary(p: &job_params::Params) -> String {
    match p {
        job_params::Params::Restore(r) => {
            let mut parts = vec![format!("artifact {}", r.artifact)];
            if !r.target_dir.is_empty() {
                parts.push(format!("to {}", r.target_dir));
            }
            if !r.database_url.is_empty() {
                parts.push(format!("into {}", r.database_url));
            }
            if r.overwrite {
                parts.push("overwrite".to_owned());
            }
            if !r.paths.is_empty() {
                parts.push(format!("paths {}", r.paths.join(", ")));
            }
            parts.join(", ")
        }
        job_params::Params::Verify(v) => format!(
            "artifact {}, sample {}{}",
            or_none(&v.artifact),
            if v.sample_fraction > 0.0 {
                format!("{:.0}%", v.sample_fraction * 100.0)
            } else {
                "all".to_owned()
            },
            if v.drill { ", drill" } else { "" }
        ),
        job_params::Params::Prune(p) => if p.dry_run { "dry run" } else { "prune" }.to_owned(),
        job_params::Params::Upload(u) => {
            format!("{} ({})", u.file_name, format::bytes(u.size_bytes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_proto::catalog::v1::{JobKind, JobState, JobTrigger};

    #[test]
    fn list_shows_state_and_error() {
        let j = BackupJob {
            name: "daily_full_backup_20251220_222305".into(),
            configuration: "daily_full_backup".into(),
            kind: JobKind::Backup as i32,
            trigger: JobTrigger::Manual as i32,
            state: JobState::Failed as i32,
            error: "pg_dump: connection refused".into(),
            ..Default::default()
        };
        let shown = list(std::slice::from_ref(&j)).to_string();
        for part in [
            "daily_full_backup_20251220_222305",
            "BACKUP",
            "MANUAL",
            "FAILED",
            "pg_dump: connection refused",
        ] {
            assert!(shown.contains(part), "{part} in\n{shown}");
        }
        let shown = detail(&j).to_string();
        assert!(shown.contains("FAILED") && shown.contains("connection refused"));
        assert!(
            shown.contains("vigil jobs logs daily_full_backup_20251220_222305"),
            "{shown}"
        );
    }
}
