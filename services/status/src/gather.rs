//! Reads what the report needs from the catalog.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use vigil_catalog_client::CatalogClient;
use vigil_proto::catalog::v1::{
    Alert, Artifact, ArtifactState, ArtifactTotal, BackupConfiguration, BackupJob, Component,
    JobCount, JobKind, JobState, ListAlertsRequest, ListComponentsRequest,
    ListConfigurationsRequest, ListScheduleStatesRequest, ScheduleOutcome, ScheduleState,
    SummarizeHistoryRequest, SummarizeHistoryResponse,
};
use vigil_proto::{timestamp_from_micros, timestamp_to_micros};

use crate::Result;

/// Everything the report is computed from.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// When the report is computed.
    pub now: DateTime<Utc>,
    /// How far back the job history goes.
    pub window: Duration,
    /// Every configuration.
    pub configurations: Vec<BackupConfiguration>,
    /// The newest jobs created within the window (at most 200),
    /// newest first.
    pub jobs: Vec<BackupJob>,
    /// Queued and running jobs of any age (at most 1000), oldest first.
    pub active: Vec<BackupJob>,
    /// Failed jobs created within the window (at most 100), newest first.
    pub failed: Vec<BackupJob>,
    /// Counts of every job created within the window.
    pub counts: Vec<JobCount>,
    /// Per configuration, its newest completed backup of any age.
    pub last_success: HashMap<String, BackupJob>,
    /// Per configuration, its newest completed prune of any age.
    pub last_prune: HashMap<String, BackupJob>,
    /// Every persisted schedule state.
    pub schedule_states: Vec<ScheduleState>,
    /// Every known process, gone ones included.
    pub components: Vec<Component>,
    /// Per configuration, its artifacts that are not pruned.
    pub artifacts: HashMap<String, ArtifactTotal>,
    /// Open alerts.
    pub open_alerts: Vec<Alert>,
    /// MISSED outcomes (single due times or ranges) reaching into the
    /// window, newest first; at most 500.
    pub missed: Vec<ScheduleOutcome>,
}

/// Newest jobs of the window the report lists and judges adherence by.
pub(crate) const NEWEST_JOBS: usize = 200;

impl Inputs {
    /// Fills the job and artifact facts from complete lists, the way the
    /// catalog's `SummarizeHistory` answers them (for tests and tools that
    /// hold the whole history in memory). `jobs` may be in any order.
    pub fn with_history(mut self, mut jobs: Vec<BackupJob>, artifacts: &[Artifact]) -> Self {
        let created = |j: &BackupJob| j.create_time.as_ref().map(timestamp_to_micros);
        jobs.sort_by_key(|j| std::cmp::Reverse(created(j)));
        let since = (self.now - self.window).timestamp_micros();
        let in_window: Vec<BackupJob> = jobs
            .iter()
            .filter(|j| created(j).is_some_and(|t| t >= since))
            .cloned()
            .collect();
        let mut counts: Vec<JobCount> = Vec::new();
        for j in &in_window {
            let found = counts
                .iter()
                .position(|c| (c.kind, c.state, c.trigger) == (j.kind, j.state, j.trigger));
            let i = found.unwrap_or_else(|| {
                counts.push(JobCount {
                    kind: j.kind,
                    state: j.state,
                    trigger: j.trigger,
                    ..Default::default()
                });
                counts.len() - 1
            });
            counts[i].count += 1;
            if j.state() == JobState::Completed {
                counts[i].bytes_read += j.stats.as_ref().map(|s| s.bytes_read).unwrap_or(0);
            }
            if j.attempt > 1 || j.error.contains("executor lost") {
                counts[i].lease_expiries += 1;
            }
        }
        self.counts = counts;
        self.failed = in_window
            .iter()
            .filter(|j| j.state() == JobState::Failed)
            .take(100)
            .cloned()
            .collect();
        self.active = jobs
            .iter()
            .rev()
            .filter(|j| matches!(j.state(), JobState::Queued | JobState::Running))
            .cloned()
            .collect();
        self.jobs = in_window.into_iter().take(NEWEST_JOBS).collect();
        for j in jobs.iter().filter(|j| j.state() == JobState::Completed) {
            let into = match j.kind() {
                JobKind::Backup => &mut self.last_success,
                JobKind::Prune => &mut self.last_prune,
                _ => continue,
            };
            into.entry(j.configuration.clone())
                .or_insert_with(|| j.clone());
        }
        self.artifacts = HashMap::new();
        for a in artifacts
            .iter()
            .filter(|a| a.state() != ArtifactState::Pruned)
        {
            let t = self
                .artifacts
                .entry(a.configuration.clone())
                .or_insert_with(|| ArtifactTotal {
                    configuration: a.configuration.clone(),
                    ..Default::default()
                });
            t.count += 1;
            t.stored_bytes += a.stored_bytes;
            let older = match (&t.oldest_create_time, &a.create_time) {
                (None, Some(_)) => true,
                (Some(o), Some(c)) => timestamp_to_micros(c) < timestamp_to_micros(o),
                _ => false,
            };
            if older {
                t.oldest_create_time = a.create_time;
            }
        }
        self
    }
}

/// Reads the inputs of a report from the catalog: the configurations,
/// schedule states, components and alerts page by page, and the history
/// through one `SummarizeHistory` call, all at once.
pub async fn gather(
    catalog: &CatalogClient,
    now: DateTime<Utc>,
    window: Duration,
) -> Result<Inputs> {
    let since = now - window;
    let summary = catalog.call(SummarizeHistoryRequest {
        since: Some(timestamp_from_micros(since.timestamp_micros())),
        newest_count: NEWEST_JOBS as i32,
    });
    // Gone components too, so "scheduler down since" survives their leaving
    // the live view (until the catalog deletes them).
    let components = catalog.all(ListComponentsRequest {
        include_gone: true,
        ..Default::default()
    });
    let (configurations, summary, schedule_states, components, open_alerts) = tokio::try_join!(
        catalog.all(ListConfigurationsRequest::default()),
        summary,
        catalog.all(ListScheduleStatesRequest::default()),
        components,
        catalog.all(ListAlertsRequest::default()),
    )?;

    Ok(assemble(
        now,
        window,
        configurations,
        summary,
        schedule_states,
        components,
        open_alerts,
    ))
}

/// The report's inputs from what the catalog returned: the newest success
/// and prune per configuration picked out of the history summary.
fn assemble(
    now: DateTime<Utc>,
    window: Duration,
    configurations: Vec<BackupConfiguration>,
    summary: SummarizeHistoryResponse,
    schedule_states: Vec<ScheduleState>,
    components: Vec<Component>,
    open_alerts: Vec<Alert>,
) -> Inputs {
    let mut last_success = HashMap::new();
    let mut last_prune = HashMap::new();
    for job in summary.newest_completed {
        match job.kind() {
            JobKind::Backup => last_success.insert(job.configuration.clone(), job),
            JobKind::Prune => last_prune.insert(job.configuration.clone(), job),
            _ => None,
        };
    }
    Inputs {
        now,
        window,
        configurations,
        jobs: summary.newest_jobs,
        active: summary.active_jobs,
        failed: summary.failed_jobs,
        counts: summary.job_counts,
        last_success,
        last_prune,
        schedule_states,
        components,
        artifacts: summary
            .artifact_totals
            .into_iter()
            .map(|t| (t.configuration.clone(), t))
            .collect(),
        open_alerts,
        missed: summary.missed_outcomes,
    }
}
