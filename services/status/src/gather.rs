//! Reads what the report needs from the catalog.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use tonic::transport::Channel;
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
pub async fn gather(channel: Channel, now: DateTime<Utc>, window: Duration) -> Result<Inputs> {
    let mut catalog = CatalogServiceClient::new(channel.clone());
    let mut coordination = CoordinationServiceClient::new(channel);

    let mut configurations = Vec::new();
    let mut token = String::new();
    loop {
        let page = catalog
            .list_configurations(ListConfigurationsRequest {
                page_size: PAGE,
                page_token: token,
                ..Default::default()
            })
            .await?
            .into_inner();
        configurations.extend(page.configurations);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }

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

    let mut schedule_states = Vec::new();
    let mut token = String::new();
    loop {
        let page = coordination
            .list_schedule_states(ListScheduleStatesRequest {
                page_size: PAGE,
                page_token: token,
            })
            .await?
            .into_inner();
        schedule_states.extend(page.states);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }

    let components = coordination
        .list_components(ListComponentsRequest::default())
        .await?
        .into_inner()
        .components;

    let mut artifacts = Vec::new();
    let mut token = String::new();
    loop {
        let page = catalog
            .list_artifacts(ListArtifactsRequest {
                page_size: PAGE,
                page_token: token,
                ..Default::default()
            })
            .await?
            .into_inner();
        artifacts.extend(page.artifacts);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }

    let mut open_alerts = Vec::new();
    let mut token = String::new();
    loop {
        let page = catalog
            .list_alerts(ListAlertsRequest {
                page_size: PAGE,
                page_token: token,
                ..Default::default()
            })
            .await?
            .into_inner();
        open_alerts.extend(page.alerts);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }

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
