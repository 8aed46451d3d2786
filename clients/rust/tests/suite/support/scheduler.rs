//! A scripted SchedulerService that counts calls and records metadata.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use tonic::{Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};
use vigil_proto::catalog::v1::BackupJob;
use vigil_proto::scheduler::v1::scheduler_service_server::SchedulerService;
use vigil_proto::scheduler::v1::*;

#[derive(Default)]
pub(crate) struct ScriptedScheduler {
    /// ListSchedules fails with UNAVAILABLE this many times, then succeeds.
    pub list_failures: u32,
    pub list_calls: AtomicU32,
    pub get_calls: AtomicU32,
    pub trigger_calls: AtomicU32,
    pub preview_calls: AtomicU32,
    pub pause_calls: AtomicU32,
    /// The `traceparent` metadata of the last PauseSchedule.
    pub last_traceparent: Mutex<Option<String>>,
}

#[tonic::async_trait]
impl SchedulerService for ScriptedScheduler {
    async fn list_schedules(
        &self,
        _: Request<ListSchedulesRequest>,
    ) -> Result<Response<ListSchedulesResponse>, Status> {
        let n = self.list_calls.fetch_add(1, Ordering::SeqCst);
        if n < self.list_failures {
            return Err(Status::unavailable("scheduler is starting"));
        }
        Ok(Response::new(ListSchedulesResponse {
            schedules: vec![ScheduleView::default()],
            next_page_token: String::new(),
        }))
    }

    async fn get_schedule(
        &self,
        _: Request<GetScheduleRequest>,
    ) -> Result<Response<GetScheduleResponse>, Status> {
        self.get_calls.fetch_add(1, Ordering::SeqCst);
        // Never answers: the client's request timeout must cut the call.
        futures::future::pending::<()>().await;
        unreachable!()
    }

    async fn pause_schedule(
        &self,
        request: Request<PauseScheduleRequest>,
    ) -> Result<Response<PauseScheduleResponse>, Status> {
        self.pause_calls.fetch_add(1, Ordering::SeqCst);
        let tp = request
            .metadata()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        *self.last_traceparent.lock().unwrap() = tp;
        Ok(Response::new(PauseScheduleResponse {
            schedule: Some(ScheduleView::default()),
        }))
    }

    async fn resume_schedule(
        &self,
        _: Request<ResumeScheduleRequest>,
    ) -> Result<Response<ResumeScheduleResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn trigger_schedule(
        &self,
        _: Request<TriggerScheduleRequest>,
    ) -> Result<Response<TriggerScheduleResponse>, Status> {
        self.trigger_calls.fetch_add(1, Ordering::SeqCst);
        let _ = BackupJob::default();
        Err(Status::unavailable("scheduler is starting"))
    }

    async fn backfill_schedule(
        &self,
        _: Request<BackfillScheduleRequest>,
    ) -> Result<Response<BackfillScheduleResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn preview_schedule(
        &self,
        _: Request<PreviewScheduleRequest>,
    ) -> Result<Response<PreviewScheduleResponse>, Status> {
        self.preview_calls.fetch_add(1, Ordering::SeqCst);
        let details = ErrorDetails::with_bad_request_violation(
            "schedule.cron",
            "expected 5 or 6 fields, got 3",
        );
        Err(Status::with_error_details(
            tonic::Code::InvalidArgument,
            "schedule.cron: expected 5 or 6 fields, got 3",
            details,
        ))
    }
}
