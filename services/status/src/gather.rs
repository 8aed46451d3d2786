//! Reads what the report needs from the catalog.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use vigil_auth::AuthChannel;
use vigil_proto::catalog::v1::{
    Alert, Artifact, ArtifactState, ArtifactTotal, BackupConfiguration, BackupJob, Component,
    JobCount, JobKind, JobState, ListAlertsRequest, ListComponentsRequest,
    ListConfigurationsRequest, ListScheduleStatesRequest, ScheduleOutcome, ScheduleState,
    SummarizeHistoryRequest, SummarizeHistoryResponse,
    catalog_service_client::CatalogServiceClient,
    coordination_service_client::CoordinationServiceClient,
};
use vigil_proto::{timestamp_from_micros, timestamp_to_micros};

use crate::Result;

const PAGE: i32 = 1000;

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

/// Reads the inputs of a report from the catalog at `channel`: the
/// configurations, schedule states, components and alerts page by page, and
/// the history through one `SummarizeHistory` call, all at once.
pub async fn gather(channel: AuthChannel, now: DateTime<Utc>, window: Duration) -> Result<Inputs> {
    let catalog = CatalogServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20);
    let coordination = CoordinationServiceClient::new(channel).max_decoding_message_size(64 << 20);
    let since = now - window;

    let configurations = all_pages(|page_token| {
        let mut c = catalog.clone();
        async move {
            let page = c
                .list_configurations(ListConfigurationsRequest {
                    page_size: PAGE,
                    page_token,
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok((page.configurations, page.next_page_token))
        }
    });
    let summary = summarize(coordination.clone(), since);
    let schedule_states = all_pages(|page_token| {
        let mut c = coordination.clone();
        async move {
            let page = c
                .list_schedule_states(ListScheduleStatesRequest {
                    page_size: PAGE,
                    page_token,
                })
                .await?
                .into_inner();
            Ok((page.states, page.next_page_token))
        }
    });
    // Gone components too, so "scheduler down since" survives their leaving
    // the live view (until the catalog deletes them).
    let components = all_pages(|page_token| {
        let mut c = coordination.clone();
        async move {
            let page = c
                .list_components(ListComponentsRequest {
                    page_size: PAGE,
                    page_token,
                    include_gone: true,
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok((page.components, page.next_page_token))
        }
    });
    let open_alerts = open_alerts(catalog.clone());
    let (configurations, summary, schedule_states, components, open_alerts) = tokio::try_join!(
        configurations,
        summary,
        schedule_states,
        components,
        open_alerts
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

/// The history of the window in one call.
async fn summarize(
    mut coordination: CoordinationServiceClient<AuthChannel>,
    since: DateTime<Utc>,
) -> Result<SummarizeHistoryResponse> {
    let req = SummarizeHistoryRequest {
        since: Some(timestamp_from_micros(since.timestamp_micros())),
        newest_count: NEWEST_JOBS as i32,
    };
    Ok(coordination.summarize_history(req).await?.into_inner())
}

/// Every open alert, page by page.
async fn open_alerts(catalog: CatalogServiceClient<AuthChannel>) -> Result<Vec<Alert>> {
    all_pages(|page_token| {
        let mut c = catalog.clone();
        async move {
            let page = c
                .list_alerts(ListAlertsRequest {
                    page_size: PAGE,
                    page_token,
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok((page.alerts, page.next_page_token))
        }
    })
    .await
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

/// Collects every page of a paginated list: `fetch` takes a page token and
/// returns one page's items with the next token, empty on the last page.
async fn all_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<(Vec<T>, String), tonic::Status>>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let (page, next) = fetch(token).await?;
        items.extend(page);
        if next.is_empty() {
            return Ok(items);
        }
        token = next;
    }
}
