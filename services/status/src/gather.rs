//! Reads what the report needs from the catalog.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use vigil_auth::AuthChannel;
use vigil_proto::catalog::v1::{
    Alert, Artifact, BackupConfiguration, BackupJob, Component, JobKind, JobState,
    ListAlertsRequest, ListArtifactsRequest, ListComponentsRequest, ListConfigurationsRequest,
    ListJobsRequest, ListScheduleStatesRequest, ScheduleState,
    catalog_service_client::CatalogServiceClient,
    coordination_service_client::CoordinationServiceClient,
};

use crate::Result;
use crate::time::instant;

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
    /// Jobs created within the window, newest first.
    pub jobs: Vec<BackupJob>,
    /// Per configuration, its newest completed backup of any age.
    pub last_success: HashMap<String, BackupJob>,
    /// Per configuration, its newest completed prune of any age.
    pub last_prune: HashMap<String, BackupJob>,
    /// Every persisted schedule state.
    pub schedule_states: Vec<ScheduleState>,
    /// Every known process.
    pub components: Vec<Component>,
    /// Available artifacts.
    pub artifacts: Vec<Artifact>,
    /// Open alerts.
    pub open_alerts: Vec<Alert>,
}

/// Reads the inputs of a report from the catalog at `channel`.
pub async fn gather(channel: AuthChannel, now: DateTime<Utc>, window: Duration) -> Result<Inputs> {
    let mut catalog = CatalogServiceClient::new(channel.clone());
    let mut coordination = CoordinationServiceClient::new(channel);

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
    })
    .await?;

    let since = now - window;
    let mut jobs = Vec::new();
    let mut token = String::new();
    'pages: loop {
        let page = catalog
            .list_jobs(ListJobsRequest {
                page_size: PAGE,
                page_token: token,
                ..Default::default()
            })
            .await?
            .into_inner();
        for job in page.jobs {
            if instant(&job.create_time).is_some_and(|t| t < since) {
                break 'pages;
            }
            jobs.push(job);
        }
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }

    let mut last_success = HashMap::new();
    let mut last_prune = HashMap::new();
    for config in &configurations {
        for (kind, into) in [
            (JobKind::Backup, &mut last_success),
            (JobKind::Prune, &mut last_prune),
        ] {
            let newest = catalog
                .list_jobs(ListJobsRequest {
                    page_size: 1,
                    configuration: config.name.clone(),
                    states: vec![JobState::Completed as i32],
                    kind: kind as i32,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .jobs
                .into_iter()
                .next();
            if let Some(job) = newest {
                into.insert(config.name.clone(), job);
            }
        }
    }

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
    })
    .await?;

    let components = coordination
        .list_components(ListComponentsRequest::default())
        .await?
        .into_inner()
        .components;

    let artifacts = all_pages(|page_token| {
        let mut c = catalog.clone();
        async move {
            let page = c
                .list_artifacts(ListArtifactsRequest {
                    page_size: PAGE,
                    page_token,
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok((page.artifacts, page.next_page_token))
        }
    })
    .await?;

    let open_alerts = all_pages(|page_token| {
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
    .await?;

    Ok(Inputs {
        now,
        window,
        configurations,
        jobs,
        last_success,
        last_prune,
        schedule_states,
        components,
        artifacts,
        open_alerts,
    })
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
