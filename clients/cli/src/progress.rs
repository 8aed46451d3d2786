//! Waiting for a job: a progress bar on a terminal (phase, bytes, rate,
//! ETA), one line per change otherwise, and nothing extra with `--json`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use vigil_proto::catalog::v1::{BackupJob, JobState};

use crate::ctx::{Ctx, Verbosity};
use crate::error::CliError;
use crate::output::Short;
use crate::output::format;

/// Waits for `job` to finish and returns its final state; a job that ends
/// FAILED or CANCELLED is returned too (the caller decides the exit code).
pub(crate) async fn wait(ctx: &Ctx, job: &BackupJob) -> Result<BackupJob, CliError> {
    let client = ctx.client().await?;
    let silent = ctx.json || ctx.quiet();
    let every_update = ctx.verbosity == Verbosity::Verbose;
    let bar = (!silent && !every_update && std::io::stderr().is_terminal()).then(new_bar);
    let mut last_line = String::new();
    let result = client
        .wait_for_job(&job.id, None, |j| match &bar {
            Some(bar) => update_bar(bar, j),
            None if !silent => {
                let line = status_line(j);
                if every_update || line != last_line {
                    eprintln!("{line}");
                    last_line = line;
                }
            }
            None => {}
        })
        .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(result?)
}

/// The error for a job that did not complete, if it did not.
pub(crate) fn outcome(job: &BackupJob) -> Result<(), CliError> {
    match job.state() {
        JobState::Failed | JobState::Cancelled => Err(CliError::JobFailed {
            job: if job.name.is_empty() {
                job.id.clone()
            } else {
                job.name.clone()
            },
            state: job.state().short(),
            error: job.error.clone(),
        }),
        _ => Ok(()),
    }
}

fn new_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(spinner_style());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} [{bar:30}] {percent:>3}% {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn update_bar(bar: &ProgressBar, j: &BackupJob) {
    let total = j.progress.as_ref().map_or(0, |p| p.bytes_total);
    if total > 0 {
        if bar.length() != Some(total) {
            bar.set_style(bar_style());
            bar.set_length(total);
        }
        bar.set_position(j.progress.as_ref().map_or(0, |p| p.bytes_done).min(total));
    }
    // The bar shows the percentage itself.
    bar.set_message(describe(j, false));
}

/// `daily_full_backup_20251220_222305 RUNNING backing up 1.2 GiB of 4.0 GiB (30%), 120 of 400 files, 210.0 MiB/s, ETA 13s`.
pub(crate) fn status_line(j: &BackupJob) -> String {
    describe(j, true)
}

fn describe(j: &BackupJob, percent: bool) -> String {
    let mut line = format!(
        "{} {}",
        if j.name.is_empty() { &j.id } else { &j.name },
        j.state().short()
    );
    if vigil_client::handed_back(j) {
        line.push_str(&format!(
            " handed back to the queue ({}); waiting for its next run",
            j.error
        ));
        return line;
    }
    // A finished job's last heartbeat is stale: the final figures are in its stats.
    if let Some(p) = j
        .progress
        .as_ref()
        .filter(|_| !vigil_client::is_final(j.state()))
    {
        if !p.phase.is_empty() {
            line.push_str(&format!(" {}", p.phase));
        }
        if p.bytes_done > 0 || p.bytes_total > 0 {
            line.push_str(&format!(" {}", format::bytes(p.bytes_done)));
            if p.bytes_total > 0 {
                line.push_str(&format!(" of {}", format::bytes(p.bytes_total)));
                if percent {
                    let done = p.bytes_done.min(p.bytes_total) as f64 / p.bytes_total as f64;
                    line.push_str(&format!(" ({:.0}%)", (done * 100.0).floor()));
                }
            }
        }
        if p.files_total > 0 {
            line.push_str(&format!(", {} of {} files", p.files_done, p.files_total));
        } else if p.files_done > 0 {
            line.push_str(&format!(", {} files", p.files_done));
        }
        if p.bytes_per_second > 0.0 {
            line.push_str(&format!(", {}/s", format::bytes(p.bytes_per_second as u64)));
        }
        if p.eta.is_some() {
            line.push_str(&format!(", ETA {}", format::duration(p.eta.as_ref())));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_proto::catalog::v1::JobProgress;

    #[test]
    fn status_line_shows_phase_bytes_rate_and_eta() {
        let j = BackupJob {
            name: "daily_full_backup_20251220_222305".into(),
            state: JobState::Running as i32,
            progress: Some(JobProgress {
                phase: "reading files".into(),
                bytes_done: 1024 * 1024,
                bytes_total: 4 * 1024 * 1024,
                files_done: 3,
                files_total: 12,
                bytes_per_second: 2.0 * 1024.0 * 1024.0,
                eta: Some(prost_types::Duration {
                    seconds: 13,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            status_line(&j),
            "daily_full_backup_20251220_222305 RUNNING reading files 1.0 MiB of 4.0 MiB (25%), 3 of 12 files, 2.0 MiB/s, ETA 13s"
        );
    }

    #[test]
    fn status_line_says_when_a_job_was_handed_back() {
        let j = BackupJob {
            name: "nightly".into(),
            state: JobState::Queued as i32,
            error: "executor shutting down".into(),
            progress: Some(JobProgress {
                phase: "dumping".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            status_line(&j),
            "nightly QUEUED handed back to the queue (executor shutting down); waiting for its next run"
        );
    }

    #[test]
    fn a_finished_job_shows_no_stale_progress() {
        let j = BackupJob {
            name: "n".into(),
            state: JobState::Completed as i32,
            progress: Some(JobProgress {
                phase: "backing up".into(),
                bytes_done: 9,
                bytes_total: 10,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(status_line(&j), "n COMPLETED");
    }

    #[test]
    fn failed_and_cancelled_jobs_are_errors() {
        let mut j = BackupJob {
            name: "n".into(),
            state: JobState::Failed as i32,
            error: "disk full".into(),
            ..Default::default()
        };
        assert_eq!(
            outcome(&j).unwrap_err().to_string(),
            "job n ended FAILED: disk full"
        );
        j.state = JobState::Cancelled as i32;
        assert!(outcome(&j).is_err());
        j.state = JobState::Completed as i32;
        assert!(outcome(&j).is_ok());
    }
}
