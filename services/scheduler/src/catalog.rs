//! The scheduler's only way to the catalog: its gRPC services, wrapped in
//! small typed calls that page through lists and name the RPC on error.

use std::time::Duration;

use tonic::transport::Endpoint;
use tonic::{Code, Request, Streaming};
use vigil_auth::{AuthChannel, ClientCredentials};
use vigil_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use vigil_proto::catalog::v1::coordination_service_client::CoordinationServiceClient;
use vigil_proto::catalog::v1::{
    Alert, AlertDelivery, BackupConfiguration, BackupJob, CommitScheduleTickRequest,
    CommitScheduleTickResponse, CommitScheduleTicksRequest, Component, ComponentKind,
    DeleteScheduleStateRequest, EnqueueJobRequest, EnqueueJobResponse, EventKind,
    GetConfigurationRequest, GetJobRequest, GetScheduleStateRequest, JobState, ListAlertsRequest,
    ListComponentsRequest, ListConfigurationsRequest, ListJobsRequest, ListScheduleStatesRequest,
    PutScheduleStateRequest, PutScheduleStatesRequest, RaiseAlertRequest, RaiseAlertResponse,
    ReportHeartbeatRequest, ResolveAlertRequest, ScheduleOutcome, ScheduleState,
    SetAlertDeliveryRequest, WatchEventsRequest, WatchEventsResponse,
};

use crate::error::{Error, Result};

/// Largest page the catalog hands out.
const PAGE: i32 = 1000;

/// A connection to the catalog's catalog and coordination services.
#[derive(Debug, Clone)]
pub struct Catalog {
    coordination: CoordinationServiceClient<AuthChannel>,
    catalog: CatalogServiceClient<AuthChannel>,
}

impl Catalog {
    /// A lazily connecting client for `endpoint` (such as `http://127.0.0.1:50051`).
    /// Calls fail with UNAVAILABLE while the catalog is down and recover by
    /// themselves when it is back.
    pub fn connect_lazy(endpoint: &str) -> Result<Self> {
        let connect_error = |reason: String| Error::Connect {
            endpoint: endpoint.to_owned(),
            reason,
        };
        let channel = Endpoint::from_shared(endpoint.to_owned())
            .map_err(|e| connect_error(e.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(20))
            .keep_alive_while_idle(true)
            .connect_lazy();
        Ok(Self::from_channel(
            ClientCredentials::default().wrap(channel),
        ))
    }

    /// A client over an existing channel, which carries the credentials.
    pub fn from_channel(channel: AuthChannel) -> Self {
        Self {
            coordination: CoordinationServiceClient::new(channel.clone())
                .max_decoding_message_size(64 << 20),
            catalog: CatalogServiceClient::new(channel).max_decoding_message_size(64 << 20),
        }
    }

    /// Every configuration, all pages.
    pub async fn all_configurations(&self) -> Result<Vec<BackupConfiguration>> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let req = ListConfigurationsRequest {
                page_size: PAGE,
                page_token: token,
                ..Default::default()
            };
            let resp = self
                .catalog
                .clone()
                .list_configurations(req)
                .await
                .map_err(|s| Error::catalog("ListConfigurations", s))?
                .into_inner();
            out.extend(resp.configurations);
            if resp.next_page_token.is_empty() {
                return Ok(out);
            }
            token = resp.next_page_token;
        }
    }

    /// One configuration, `None` if it does not exist.
    pub async fn configuration(&self, name: &str) -> Result<Option<BackupConfiguration>> {
        let req = GetConfigurationRequest {
            name: name.to_owned(),
        };
        match self.catalog.clone().get_configuration(req).await {
            Ok(resp) => Ok(resp.into_inner().configuration),
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(Error::catalog("GetConfiguration", s)),
        }
    }

    /// Every schedule state, all pages.
    pub async fn all_states(&self) -> Result<Vec<ScheduleState>> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let req = ListScheduleStatesRequest {
                page_size: PAGE,
                page_token: token,
            };
            let resp = self
                .coordination
                .clone()
                .list_schedule_states(req)
                .await
                .map_err(|s| Error::catalog("ListScheduleStates", s))?
                .into_inner();
            out.extend(resp.states);
            if resp.next_page_token.is_empty() {
                return Ok(out);
            }
            token = resp.next_page_token;
        }
    }

    /// One schedule state with its newest `outcomes`, `None` if it does not exist.
    pub async fn state(
        &self,
        key: &str,
        outcomes: i32,
    ) -> Result<Option<(ScheduleState, Vec<ScheduleOutcome>)>> {
        let req = GetScheduleStateRequest {
            schedule: key.to_owned(),
            outcome_count: outcomes,
        };
        match self.coordination.clone().get_schedule_state(req).await {
            Ok(resp) => {
                let resp = resp.into_inner();
                Ok(resp.state.map(|s| (s, resp.outcomes)))
            }
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(Error::catalog("GetScheduleState", s)),
        }
    }

    /// Creates (empty etag) or replaces (matching etag) a schedule state.
    /// A lost race is [`Error::Conflict`].
    pub async fn put_state(&self, state: ScheduleState) -> Result<ScheduleState> {
        let key = state.schedule.clone();
        let req = PutScheduleStateRequest { state: Some(state) };
        match self.coordination.clone().put_schedule_state(req).await {
            Ok(resp) => resp
                .into_inner()
                .state
                .ok_or_else(|| Error::Internal("PutScheduleState returned no state".into())),
            Err(s) if is_conflict(s.code()) => Err(Error::Conflict(format!(
                "schedule {key} changed concurrently"
            ))),
            Err(s) => Err(Error::catalog("PutScheduleState", s)),
        }
    }

    /// Creates or replaces many schedule states in one catalog transaction.
    /// Each has its own result: a lost race is [`Error::Conflict`], any
    /// other refusal [`Error::Catalog`].
    pub async fn put_states(
        &self,
        states: Vec<ScheduleState>,
    ) -> Result<Vec<Result<ScheduleState>>> {
        let keys: Vec<String> = states.iter().map(|s| s.schedule.clone()).collect();
        let resp = self
            .coordination
            .clone()
            .put_schedule_states(PutScheduleStatesRequest { states })
            .await
            .map_err(|s| Error::catalog("PutScheduleStates", s))?
            .into_inner();
        if resp.results.len() != keys.len() {
            return Err(Error::Internal(format!(
                "PutScheduleStates returned {} results for {} states",
                resp.results.len(),
                keys.len()
            )));
        }
        Ok(resp
            .results
            .into_iter()
            .zip(keys)
            .map(|(r, key)| match Code::from_i32(r.code) {
                Code::Ok => r
                    .state
                    .ok_or_else(|| Error::Internal("PutScheduleStates returned no state".into())),
                code if is_conflict(code) => Err(Error::Conflict(format!(
                    "schedule {key} changed concurrently"
                ))),
                code => Err(Error::catalog(
                    "PutScheduleStates",
                    tonic::Status::new(code, r.message),
                )),
            })
            .collect())
    }

    /// Removes a schedule state; a missing one is fine.
    pub async fn delete_state(&self, key: &str) -> Result<()> {
        let req = DeleteScheduleStateRequest {
            schedule: key.to_owned(),
        };
        match self.coordination.clone().delete_schedule_state(req).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == Code::NotFound => Ok(()),
            Err(s) => Err(Error::catalog("DeleteScheduleState", s)),
        }
    }

    /// Commits one tick. ABORTED (another replica moved the schedule first)
    /// is [`Error::Conflict`].
    pub async fn commit_tick(
        &self,
        req: CommitScheduleTickRequest,
    ) -> Result<CommitScheduleTickResponse> {
        let key = req.schedule.clone();
        let started = std::time::Instant::now();
        let answer = self.coordination.clone().commit_schedule_tick(req).await;
        vigil_server_common::metrics::record_enqueue(started.elapsed().as_secs_f64());
        match answer {
            Ok(resp) => Ok(resp.into_inner()),
            Err(s) if is_conflict(s.code()) => Err(Error::Conflict(format!(
                "schedule {key} was advanced by another replica"
            ))),
            Err(s) => Err(Error::catalog("CommitScheduleTick", s)),
        }
    }

    /// Commits many schedules' ticks in one catalog transaction. Each tick
    /// has its own result: ABORTED (another replica moved the schedule
    /// first) is [`Error::Conflict`], any other refusal [`Error::Catalog`].
    pub async fn commit_ticks(
        &self,
        ticks: Vec<CommitScheduleTickRequest>,
    ) -> Result<Vec<Result<CommitScheduleTickResponse>>> {
        let keys: Vec<String> = ticks.iter().map(|t| t.schedule.clone()).collect();
        let started = std::time::Instant::now();
        let answer = self
            .coordination
            .clone()
            .commit_schedule_ticks(CommitScheduleTicksRequest { ticks })
            .await;
        vigil_server_common::metrics::record_enqueue(started.elapsed().as_secs_f64());
        let resp = answer
            .map_err(|s| Error::catalog("CommitScheduleTicks", s))?
            .into_inner();
        if resp.results.len() != keys.len() {
            return Err(Error::Internal(format!(
                "CommitScheduleTicks returned {} results for {} ticks",
                resp.results.len(),
                keys.len()
            )));
        }
        Ok(resp
            .results
            .into_iter()
            .zip(keys)
            .map(|(r, key)| match Code::from_i32(r.code) {
                Code::Ok => Ok(CommitScheduleTickResponse {
                    state: r.state,
                    jobs: r.jobs,
                }),
                code if is_conflict(code) => Err(Error::Conflict(format!(
                    "schedule {key} was advanced by another replica"
                ))),
                code => Err(Error::catalog(
                    "CommitScheduleTicks",
                    tonic::Status::new(code, r.message),
                )),
            })
            .collect())
    }

    /// Queued and running jobs, all pages.
    pub async fn active_jobs(&self) -> Result<Vec<BackupJob>> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let req = ListJobsRequest {
                page_size: PAGE,
                page_token: token,
                states: vec![JobState::Queued as i32, JobState::Running as i32],
                ..Default::default()
            };
            let resp = self
                .catalog
                .clone()
                .list_jobs(req)
                .await
                .map_err(|s| Error::catalog("ListJobs", s))?
                .into_inner();
            out.extend(resp.jobs);
            if resp.next_page_token.is_empty() {
                return Ok(out);
            }
            token = resp.next_page_token;
        }
    }

    /// One job by id, `None` if it does not exist.
    pub async fn job(&self, id: &str) -> Result<Option<BackupJob>> {
        match self
            .catalog
            .clone()
            .get_job(GetJobRequest { id: id.to_owned() })
            .await
        {
            Ok(resp) => Ok(resp.into_inner().job),
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(Error::catalog("GetJob", s)),
        }
    }

    /// Queues a job through the idempotent coordination call.
    pub async fn enqueue(&self, req: EnqueueJobRequest) -> Result<EnqueueJobResponse> {
        self.coordination
            .clone()
            .enqueue_job(req)
            .await
            .map(|r| r.into_inner())
            .map_err(|s| Error::catalog("EnqueueJob", s))
    }

    /// Processes of `kind` in the catalog's live view, all pages.
    pub async fn components(&self, kind: ComponentKind) -> Result<Vec<Component>> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let req = ListComponentsRequest {
                kind: kind as i32,
                page_size: PAGE,
                page_token: token,
                include_gone: false,
            };
            let resp = self
                .coordination
                .clone()
                .list_components(req)
                .await
                .map_err(|s| Error::catalog("ListComponents", s))?
                .into_inner();
            out.extend(resp.components);
            if resp.next_page_token.is_empty() {
                return Ok(out);
            }
            token = resp.next_page_token;
        }
    }

    /// Records a heartbeat.
    pub async fn heartbeat(&self, component: Component) -> Result<Component> {
        let req = ReportHeartbeatRequest {
            component: Some(component),
        };
        self.coordination
            .clone()
            .report_heartbeat(req)
            .await
            .map_err(|s| Error::catalog("ReportHeartbeat", s))?
            .into_inner()
            .component
            .ok_or_else(|| Error::Internal("ReportHeartbeat returned no component".into()))
    }

    /// Open alerts, all pages.
    pub async fn open_alerts(&self) -> Result<Vec<Alert>> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let req = ListAlertsRequest {
                page_size: PAGE,
                page_token: token,
                ..Default::default()
            };
            let resp = self
                .catalog
                .clone()
                .list_alerts(req)
                .await
                .map_err(|s| Error::catalog("ListAlerts", s))?
                .into_inner();
            out.extend(resp.alerts);
            if resp.next_page_token.is_empty() {
                return Ok(out);
            }
            token = resp.next_page_token;
        }
    }

    /// Opens or refreshes an alert.
    pub async fn raise_alert(&self, alert: Alert) -> Result<RaiseAlertResponse> {
        self.coordination
            .clone()
            .raise_alert(RaiseAlertRequest { alert: Some(alert) })
            .await
            .map(|r| r.into_inner())
            .map_err(|s| Error::catalog("RaiseAlert", s))
    }

    /// Resolves the open alert with `dedup_key`; `None` if none was open.
    pub async fn resolve_alert(&self, dedup_key: &str) -> Result<Option<Alert>> {
        let req = ResolveAlertRequest {
            dedup_key: dedup_key.to_owned(),
        };
        match self.coordination.clone().resolve_alert(req).await {
            Ok(resp) => Ok(resp.into_inner().alert),
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(Error::catalog("ResolveAlert", s)),
        }
    }

    /// Records the webhook delivery state of an alert.
    pub async fn set_delivery(&self, id: &str, state: AlertDelivery, detail: &str) -> Result<()> {
        let req = SetAlertDeliveryRequest {
            id: id.to_owned(),
            state: state as i32,
            detail: detail.to_owned(),
            ..Default::default()
        };
        self.coordination
            .clone()
            .set_alert_delivery(req)
            .await
            .map(|_| ())
            .map_err(|s| Error::catalog("SetAlertDelivery", s))
    }

    /// Subscribes to catalog changes of `kinds` (all when empty).
    pub async fn watch(&self, kinds: &[EventKind]) -> Result<Streaming<WatchEventsResponse>> {
        let req = WatchEventsRequest {
            kinds: kinds.iter().map(|k| *k as i32).collect(),
        };
        self.coordination
            .clone()
            .watch_events(Request::new(req))
            .await
            .map(|r| r.into_inner())
            .map_err(|s| Error::catalog("WatchEvents", s))
    }

    /// Every configuration, handed to `each` one page at a time, so that a
    /// large fleet's configurations are never all held at once.
    pub async fn each_configuration_page(
        &self,
        mut each: impl FnMut(Vec<BackupConfiguration>),
    ) -> Result<()> {
        let mut token = String::new();
        loop {
            let req = ListConfigurationsRequest {
                page_size: PAGE,
                page_token: std::mem::take(&mut token),
                ..Default::default()
            };
            let resp = self
                .catalog
                .clone()
                .list_configurations(req)
                .await
                .map_err(|s| Error::catalog("ListConfigurations", s))?
                .into_inner();
            each(resp.configurations);
            if resp.next_page_token.is_empty() {
                return Ok(());
            }
            token = resp.next_page_token;
        }
    }
}

/// Codes the catalog uses for a lost compare-and-set.
fn is_conflict(code: Code) -> bool {
    matches!(
        code,
        Code::Aborted | Code::FailedPrecondition | Code::AlreadyExists
    )
}
