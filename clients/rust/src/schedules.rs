//! The scheduler: schedule health, pause and resume, triggers, backfills and previews.

use futures::stream::BoxStream;
use vigil_proto::catalog::v1::{BackupJob, Schedule};
use vigil_proto::scheduler::v1::{
    BackfillScheduleRequest, BackfillScheduleResponse, GetScheduleRequest, ListSchedulesRequest,
    PauseScheduleRequest, PreviewScheduleRequest, PreviewScheduleResponse, ResumeScheduleRequest,
    ScheduleView, TriggerScheduleRequest,
};

use crate::client::{Shape, VigilClient};
use crate::error::{Error, Result};
use crate::jobs::required_job;
use crate::pagination::paginate;
use crate::retry::Idempotency::{Idempotent, NonIdempotent};

fn required(view: Option<ScheduleView>) -> Result<ScheduleView> {
    view.ok_or_else(|| Error::Protocol("schedule missing from the response".to_owned()))
}

impl VigilClient {
    /// Streams every schedule with `next_count` next due times each (0 means 1).
    pub fn list_schedules(&self, next_count: i32) -> BoxStream<'static, Result<ScheduleView>> {
        let client = self.clone();
        paginate(move |token| {
            let client = client.clone();
            let req = ListSchedulesRequest {
                page_size: 0,
                page_token: token,
                next_count,
            };
            async move {
                let resp = client
                    .call(
                        &client.scheduler,
                        "ListSchedules",
                        Idempotent,
                        Shape::Unary,
                        req,
                        |mut c, r| async move { c.list_schedules(r).await },
                    )
                    .await?;
                Ok((resp.schedules, resp.next_page_token))
            }
        })
    }

    /// Returns one schedule (a configuration name, or `name#prune`, `name#verify`)
    /// with its next due times and recent outcomes; zero counts take the server's defaults.
    pub async fn get_schedule(
        &self,
        schedule: &str,
        next_count: i32,
        outcome_count: i32,
    ) -> Result<ScheduleView> {
        let req = GetScheduleRequest {
            schedule: schedule.to_owned(),
            next_count,
            outcome_count,
        };
        let resp = self
            .call(
                &self.scheduler,
                "GetSchedule",
                Idempotent,
                Shape::Unary,
                req,
                |mut c, r| async move { c.get_schedule(r).await },
            )
            .await?;
        required(resp.schedule)
    }

    /// Pauses a schedule: due runs are recorded as PAUSED until it is resumed.
    pub async fn pause_schedule(&self, schedule: &str) -> Result<ScheduleView> {
        let req = PauseScheduleRequest {
            schedule: schedule.to_owned(),
        };
        let resp = self
            .call(
                &self.scheduler,
                "PauseSchedule",
                NonIdempotent,
                Shape::Unary,
                req,
                |mut c, r| async move { c.pause_schedule(r).await },
            )
            .await?;
        required(resp.schedule)
    }

    /// Resumes a paused schedule from its next due time.
    pub async fn resume_schedule(&self, schedule: &str) -> Result<ScheduleView> {
        let req = ResumeScheduleRequest {
            schedule: schedule.to_owned(),
        };
        let resp = self
            .call(
                &self.scheduler,
                "ResumeSchedule",
                NonIdempotent,
                Shape::Unary,
                req,
                |mut c, r| async move { c.resume_schedule(r).await },
            )
            .await?;
        required(resp.schedule)
    }

    /// Queues a run of the schedule now.
    pub async fn trigger_schedule(&self, schedule: &str) -> Result<BackupJob> {
        let req = TriggerScheduleRequest {
            schedule: schedule.to_owned(),
        };
        let resp = self
            .call(
                &self.scheduler,
                "TriggerSchedule",
                NonIdempotent,
                Shape::Unary,
                req,
                |mut c, r| async move { c.trigger_schedule(r).await },
            )
            .await?;
        required_job(resp.job)
    }

    /// Queues one run per due time in a past range that has none yet.
    pub async fn backfill_schedule(
        &self,
        request: BackfillScheduleRequest,
    ) -> Result<BackfillScheduleResponse> {
        self.call(
            &self.scheduler,
            "BackfillSchedule",
            NonIdempotent,
            Shape::Unary,
            request,
            |mut c, r| async move { c.backfill_schedule(r).await },
        )
        .await
    }

    /// Computes the next `count` fire times of `schedule` after `after` (now when unset).
    pub async fn preview_schedule(
        &self,
        schedule: Schedule,
        count: i32,
        after: Option<prost_types::Timestamp>,
    ) -> Result<PreviewScheduleResponse> {
        let req = PreviewScheduleRequest {
            schedule: Some(schedule),
            count,
            after,
        };
        self.call(
            &self.scheduler,
            "PreviewSchedule",
            Idempotent,
            Shape::Unary,
            req,
            |mut c, r| async move { c.preview_schedule(r).await },
        )
        .await
    }
}
