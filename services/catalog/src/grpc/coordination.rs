//! `vigil.catalog.v1.CoordinationService`.

use tonic::{Request, Response, Status};
use vigil_proto::catalog::v1::coordination_service_server::CoordinationService;
use vigil_proto::catalog::v1::*;

use super::watch::{EventStream, watch_events};
use super::{forward, trace_context};
use crate::error::Error;
use crate::store::Store;

/// The internal coordination API over a [`Store`].
#[derive(Debug, Clone)]
pub struct CoordinationApi {
    store: Store,
}

impl CoordinationApi {
    /// The API over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl CoordinationService for CoordinationApi {
    async fn enqueue_job(
        &self,
        request: Request<EnqueueJobRequest>,
    ) -> Result<Response<EnqueueJobResponse>, Status> {
        let trace = trace_context(&request);
        let out = self.store.enqueue_job(request.get_ref(), trace).await?;
        Ok(Response::new(EnqueueJobResponse {
            job: Some(out.job),
            created: out.created,
        }))
    }

    async fn lease_job(
        &self,
        request: Request<LeaseJobRequest>,
    ) -> Result<Response<LeaseJobResponse>, Status> {
        let leased = self.store.lease_job(request.get_ref()).await?;
        Ok(Response::new(match leased {
            Some(l) => LeaseJobResponse {
                job: Some(l.job),
                configuration: l.configuration,
                lease_token: l.lease_token,
            },
            None => LeaseJobResponse::default(),
        }))
    }

    async fn heartbeat_job(
        &self,
        request: Request<HeartbeatJobRequest>,
    ) -> Result<Response<HeartbeatJobResponse>, Status> {
        let job = Some(self.store.heartbeat_job(request.get_ref()).await?);
        Ok(Response::new(HeartbeatJobResponse { job }))
    }

    async fn complete_job(
        &self,
        request: Request<CompleteJobRequest>,
    ) -> Result<Response<CompleteJobResponse>, Status> {
        let (job, artifact) = self.store.complete_job(request.get_ref()).await?;
        Ok(Response::new(CompleteJobResponse {
            job: Some(job),
            artifact,
        }))
    }

    async fn fail_job(
        &self,
        request: Request<FailJobRequest>,
    ) -> Result<Response<FailJobResponse>, Status> {
        let job = Some(self.store.fail_job(request.get_ref()).await?);
        Ok(Response::new(FailJobResponse { job }))
    }

    async fn reclaim_expired_leases(
        &self,
        _request: Request<ReclaimExpiredLeasesRequest>,
    ) -> Result<Response<ReclaimExpiredLeasesResponse>, Status> {
        let r = self.store.reclaim_expired_leases().await?;
        Ok(Response::new(ReclaimExpiredLeasesResponse {
            requeued: r.requeued,
            failed: r.failed,
        }))
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        request: Request<WatchEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        Ok(Response::new(watch_events(
            &self.store,
            &request.get_ref().kinds,
        )?))
    }

    async fn list_schedule_states(
        &self,
        request: Request<ListScheduleStatesRequest>,
    ) -> Result<Response<ListScheduleStatesResponse>, Status> {
        Ok(Response::new(
            self.store.list_schedule_states(request.get_ref()).await?,
        ))
    }

    async fn get_schedule_state(
        &self,
        request: Request<GetScheduleStateRequest>,
    ) -> Result<Response<GetScheduleStateResponse>, Status> {
        let req = request.get_ref();
        let (state, outcomes) = self
            .store
            .get_schedule_state(&req.schedule, req.outcome_count)
            .await?;
        Ok(Response::new(GetScheduleStateResponse {
            state: Some(state),
            outcomes,
        }))
    }

    async fn put_schedule_state(
        &self,
        request: Request<PutScheduleStateRequest>,
    ) -> Result<Response<PutScheduleStateResponse>, Status> {
        let state = request
            .into_inner()
            .state
            .ok_or_else(|| Error::invalid("state", "is required"))?;
        let state = Some(self.store.put_schedule_state(&state).await?);
        Ok(Response::new(PutScheduleStateResponse { state }))
    }

    async fn put_schedule_states(
        &self,
        request: Request<PutScheduleStatesRequest>,
    ) -> Result<Response<PutScheduleStatesResponse>, Status> {
        let results = self
            .store
            .put_schedule_states(&request.get_ref().states)
            .await?
            .into_iter()
            .map(|result| match result {
                Ok(state) => PutScheduleStateResult {
                    state: Some(state),
                    ..Default::default()
                },
                Err(refused) => {
                    let status = Status::from(refused);
                    PutScheduleStateResult {
                        code: status.code() as i32,
                        message: status.message().to_owned(),
                        ..Default::default()
                    }
                }
            })
            .collect();
        Ok(Response::new(PutScheduleStatesResponse { results }))
    }

    async fn commit_schedule_tick(
        &self,
        request: Request<CommitScheduleTickRequest>,
    ) -> Result<Response<CommitScheduleTickResponse>, Status> {
        let (state, jobs) = self.store.commit_schedule_tick(request.get_ref()).await?;
        Ok(Response::new(CommitScheduleTickResponse {
            state: Some(state),
            jobs,
        }))
    }

    async fn commit_schedule_ticks(
        &self,
        request: Request<CommitScheduleTicksRequest>,
    ) -> Result<Response<CommitScheduleTicksResponse>, Status> {
        let results = self
            .store
            .commit_schedule_ticks(&request.get_ref().ticks)
            .await?
            .into_iter()
            .map(|result| match result {
                Ok((state, jobs)) => CommitScheduleTickResult {
                    state: Some(state),
                    jobs,
                    ..Default::default()
                },
                Err(refused) => {
                    let status = Status::from(refused);
                    CommitScheduleTickResult {
                        code: status.code() as i32,
                        message: status.message().to_owned(),
                        ..Default::default()
                    }
                }
            })
            .collect();
        Ok(Response::new(CommitScheduleTicksResponse { results }))
    }

    async fn append_job_events(
        &self,
        request: Request<AppendJobEventsRequest>,
    ) -> Result<Response<AppendJobEventsResponse>, Status> {
        Ok(Response::new(
            self.store.append_job_events(request.get_ref()).await?,
        ))
    }

    async fn summarize_history(
        &self,
        request: Request<SummarizeHistoryRequest>,
    ) -> Result<Response<SummarizeHistoryResponse>, Status> {
        Ok(Response::new(
            self.store.summarize_history(request.get_ref()).await?,
        ))
    }

    async fn delete_schedule_state(
        &self,
        request: Request<DeleteScheduleStateRequest>,
    ) -> Result<Response<DeleteScheduleStateResponse>, Status> {
        self.store
            .delete_schedule_state(&request.get_ref().schedule)
            .await?;
        Ok(Response::new(DeleteScheduleStateResponse {}))
    }

    async fn report_heartbeat(
        &self,
        request: Request<ReportHeartbeatRequest>,
    ) -> Result<Response<ReportHeartbeatResponse>, Status> {
        let peer = request.remote_addr();
        let mut component = request
            .into_inner()
            .component
            .ok_or_else(|| Error::invalid("component", "is required"))?;
        component.endpoint = forward::reachable_endpoint(&component.endpoint, peer);
        let component = Some(self.store.report_heartbeat(&component).await?);
        Ok(Response::new(ReportHeartbeatResponse { component }))
    }

    async fn list_components(
        &self,
        request: Request<ListComponentsRequest>,
    ) -> Result<Response<ListComponentsResponse>, Status> {
        Ok(Response::new(
            self.store.list_components(request.get_ref()).await?,
        ))
    }

    async fn raise_alert(
        &self,
        request: Request<RaiseAlertRequest>,
    ) -> Result<Response<RaiseAlertResponse>, Status> {
        let alert = request
            .into_inner()
            .alert
            .ok_or_else(|| Error::invalid("alert", "is required"))?;
        check_raisable(&alert)?;
        let (alert, opened) = self.store.raise_alert(&alert).await?;
        Ok(Response::new(RaiseAlertResponse {
            alert: Some(alert),
            opened,
        }))
    }

    async fn resolve_alert(
        &self,
        request: Request<ResolveAlertRequest>,
    ) -> Result<Response<ResolveAlertResponse>, Status> {
        let alert = self
            .store
            .resolve_alert(&request.get_ref().dedup_key, component_raised)
            .await?;
        Ok(Response::new(ResolveAlertResponse { alert }))
    }

    async fn set_alert_delivery(
        &self,
        request: Request<SetAlertDeliveryRequest>,
    ) -> Result<Response<SetAlertDeliveryResponse>, Status> {
        let req = request.get_ref();
        // A scheduler older than `state` sends the v1 text.
        #[allow(deprecated)]
        let legacy = &req.delivery;
        let (state, detail) = match req.state() {
            AlertDelivery::Unspecified if !legacy.is_empty() => {
                crate::store::delivery_from_legacy_text(legacy)
            }
            state => (state, req.detail.clone()),
        };
        self.store
            .set_alert_delivery(&req.id, state, &detail)
            .await?;
        Ok(Response::new(SetAlertDeliveryResponse {}))
    }

    async fn update_artifacts(
        &self,
        request: Request<UpdateArtifactsRequest>,
    ) -> Result<Response<UpdateArtifactsResponse>, Status> {
        let updated = self.store.update_artifacts(request.get_ref()).await?;
        Ok(Response::new(UpdateArtifactsResponse { updated }))
    }
}

/// Alerts a component may raise and resolve: the scheduler's findings about
/// schedules. Alerts about jobs, executors and schedulers come from the
/// catalog's own records (a lease reaped, a heartbeat gone), so nobody can
/// forge them, or clear them to hide what happened.
fn component_raised(kind: AlertKind) -> bool {
    match kind {
        AlertKind::ScheduleUnarmed
        | AlertKind::ScheduleDown
        | AlertKind::ScheduleLate
        | AlertKind::ScheduleMissed
        | AlertKind::ScheduleRepaired
        | AlertKind::NoCapableExecutor
        | AlertKind::Unspecified => true,
        AlertKind::SchedulerDown
        | AlertKind::JobFailed
        | AlertKind::VerifyFailed
        | AlertKind::ExecutorLost => false,
    }
}

fn check_raisable(alert: &Alert) -> Result<(), Error> {
    if component_raised(alert.kind()) {
        return Ok(());
    }
    Err(Error::FailedPrecondition(format!(
        "alert.kind: {} alerts are raised by the catalog from its own records",
        alert.kind().as_str_name()
    )))
}
