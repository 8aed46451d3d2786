//! The scheduler's only way to the catalog: its gRPC services through the
//! shared catalog client (`vigil-catalog-client`: deadlines, retries of
//! reads, paging), wrapped in small typed calls that name the RPC on error.

use tonic::{Code, Streaming};
use vigil_auth::{AuthChannel, ClientCredentials};
use vigil_catalog_client::{CatalogClient, ErrorKind};
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

/// A connection to the catalog's catalog and coordination services.
#[derive(Debug, Clone)]
pub struct Catalog {
    client: CatalogClient,
}

impl Catalog {
    /// A lazily connecting client for `endpoint` (such as `http://127.0.0.1:50051`).
    /// Calls fail with UNAVAILABLE while the catalog is down and recover by
    /// themselves when it is back.
    pub fn connect_lazy(endpoint: &str) -> Result<Self> {
        let client =
            CatalogClient::connect_lazy(&ClientCredentials::default(), endpoint).map_err(|e| {
                Error::Connect {
                    endpoint: endpoint.to_owned(),
                    reason: e.to_string(),
                }
            })?;
        Ok(Self { client })
    }

    /// A client over an existing channel, which carries the credentials.
    pub fn from_channel(channel: AuthChannel) -> Self {
        Self {
            client: CatalogClient::new(channel),
        }
    }

    /// Every configuration, all pages.
    pub async fn all_configurations(&self) -> Result<Vec<BackupConfiguration>> {
        let req = ListConfigurationsRequest::default();
        self.client.all(req).await.map_err(failed)
    }

    /// One configuration, `None` if it does not exist.
    pub async fn configuration(&self, name: &str) -> Result<Option<BackupConfiguration>> {
        let req = GetConfigurationRequest {
            name: name.to_owned(),
        };
        Ok(found(self.client.call(req).await)?.and_then(|r| r.configuration))
    }

    /// Every schedule state, all pages.
    pub async fn all_states(&self) -> Result<Vec<ScheduleState>> {
        let req = ListScheduleStatesRequest::default();
        self.client.all(req).await.map_err(failed)
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
        let answer = found(self.client.call(req).await)?;
        Ok(answer.and_then(|r| r.state.map(|s| (s, r.outcomes))))
    }

    /// Creates (empty etag) or replaces (matching etag) a schedule state.
    /// A lost race is [`Error::Conflict`].
    pub async fn put_state(&self, state: ScheduleState) -> Result<ScheduleState> {
        let key = state.schedule.clone();
        let req = PutScheduleStateRequest { state: Some(state) };
        match self.client.call(req).await {
            Ok(resp) => resp
                .state
                .ok_or_else(|| Error::Internal("PutScheduleState returned no state".into())),
            Err(e) if e.kind() == ErrorKind::Conflict => Err(Error::Conflict(format!(
                "schedule {key} changed concurrently"
            ))),
            Err(e) => Err(failed(e)),
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
            .client
            .call(PutScheduleStatesRequest { states })
            .await
            .map_err(failed)?;
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
                code if ErrorKind::of(code) == ErrorKind::Conflict => Err(Error::Conflict(
                    format!("schedule {key} changed concurrently"),
                )),
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
        found(self.client.call(req).await).map(|_| ())
    }

    /// Commits one tick. ABORTED (another replica moved the schedule first)
    /// is [`Error::Conflict`].
    pub async fn commit_tick(
        &self,
        req: CommitScheduleTickRequest,
    ) -> Result<CommitScheduleTickResponse> {
        let key = req.schedule.clone();
        let started = std::time::Instant::now();
        let answer = self.client.call(req).await;
        vigil_server_common::metrics::record_enqueue(started.elapsed().as_secs_f64());
        match answer {
            Ok(resp) => Ok(resp),
            Err(e) if e.kind() == ErrorKind::Conflict => Err(advanced(&key)),
            Err(e) => Err(failed(e)),
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
        let answer = self.client.call(CommitScheduleTicksRequest { ticks }).await;
        vigil_server_common::metrics::record_enqueue(started.elapsed().as_secs_f64());
        let resp = answer.map_err(failed)?;
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
                code if ErrorKind::of(code) == ErrorKind::Conflict => Err(advanced(&key)),
                code => Err(Error::catalog(
                    "CommitScheduleTicks",
                    tonic::Status::new(code, r.message),
                )),
            })
            .collect())
    }

    /// Queued and running jobs, handed to `each` one page at a time.
    pub async fn each_active_job_page(&self, each: impl FnMut(Vec<BackupJob>)) -> Result<()> {
        let req = ListJobsRequest {
            states: vec![JobState::Queued as i32, JobState::Running as i32],
            ..Default::default()
        };
        self.client.each_page(req, each).await.map_err(failed)
    }

    /// One job by id, `None` if it does not exist.
    pub async fn job(&self, id: &str) -> Result<Option<BackupJob>> {
        let req = GetJobRequest { id: id.to_owned() };
        Ok(found(self.client.call(req).await)?.and_then(|r| r.job))
    }

    /// Queues a job through the idempotent coordination call.
    pub async fn enqueue(&self, req: EnqueueJobRequest) -> Result<EnqueueJobResponse> {
        self.client.call(req).await.map_err(failed)
    }

    /// Processes of `kind` in the catalog's live view, all pages.
    pub async fn components(&self, kind: ComponentKind) -> Result<Vec<Component>> {
        let req = ListComponentsRequest {
            kind: kind as i32,
            include_gone: false,
            ..Default::default()
        };
        self.client.all(req).await.map_err(failed)
    }

    /// Records a heartbeat.
    pub async fn heartbeat(&self, component: Component) -> Result<Component> {
        let req = ReportHeartbeatRequest {
            component: Some(component),
        };
        self.client
            .call(req)
            .await
            .map_err(failed)?
            .component
            .ok_or_else(|| Error::Internal("ReportHeartbeat returned no component".into()))
    }

    /// Open alerts, all pages.
    pub async fn open_alerts(&self) -> Result<Vec<Alert>> {
        let req = ListAlertsRequest::default();
        self.client.all(req).await.map_err(failed)
    }

    /// Opens or refreshes an alert.
    pub async fn raise_alert(&self, alert: Alert) -> Result<RaiseAlertResponse> {
        let req = RaiseAlertRequest { alert: Some(alert) };
        self.client.call(req).await.map_err(failed)
    }

    /// Resolves the open alert with `dedup_key`; `None` if none was open.
    pub async fn resolve_alert(&self, dedup_key: &str) -> Result<Option<Alert>> {
        let req = ResolveAlertRequest {
            dedup_key: dedup_key.to_owned(),
        };
        Ok(found(self.client.call(req).await)?.and_then(|r| r.alert))
    }

    /// Records the webhook delivery state of an alert.
    pub async fn set_delivery(&self, id: &str, state: AlertDelivery, detail: &str) -> Result<()> {
        let req = SetAlertDeliveryRequest {
            id: id.to_owned(),
            state: state as i32,
            detail: detail.to_owned(),
            ..Default::default()
        };
        self.client.call(req).await.map(|_| ()).map_err(failed)
    }

    /// Subscribes to catalog changes of `kinds` (all when empty).
    pub async fn watch(&self, kinds: &[EventKind]) -> Result<Streaming<WatchEventsResponse>> {
        let req = WatchEventsRequest {
            kinds: kinds.iter().map(|k| *k as i32).collect(),
        };
        self.client.watch_events(req).await.map_err(failed)
    }

    /// Every configuration, handed to `each` one page at a time, so that a
    /// large fleet's configurations are never all held at once.
    pub async fn each_configuration_page(
        &self,
        each: impl FnMut(Vec<BackupConfiguration>),
    ) -> Result<()> {
        self.client
            .each_page(ListConfigurationsRequest::default(), each)
            .await
            .map_err(failed)
    }

    /// Every schedule state, handed to `each` one page at a time.
    pub async fn each_state_page(&self, each: impl FnMut(Vec<ScheduleState>)) -> Result<()> {
        self.client
            .each_page(ListScheduleStatesRequest::default(), each)
            .await
            .map_err(failed)
    }
}

/// The scheduler's error for a failed catalog call, naming the RPC.
fn failed(e: vigil_catalog_client::Error) -> Error {
    Error::catalog(e.rpc(), e.into_status())
}

/// The answer, or `None` when the catalog says NOT_FOUND.
fn found<T>(answer: vigil_catalog_client::Result<T>) -> Result<Option<T>> {
    match answer {
        Ok(answer) => Ok(Some(answer)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(failed(e)),
    }
}

/// The conflict of a tick another replica committed first.
fn advanced(key: &str) -> Error {
    Error::Conflict(format!("schedule {key} was advanced by another replica"))
}
