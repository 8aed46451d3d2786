//! A job's event log: phases with their durations, warnings and files that
//! could not be read, read in pages or followed until the job ends.

use std::time::Duration;

use futures::stream::BoxStream;
use vigil_proto::catalog::v1::{JobEvent, JobState, ListJobEventsRequest, ListJobEventsResponse};

use crate::client::{Shape, VigilClient};
use crate::error::Result;
use crate::jobs::is_final;
use crate::pagination::paginate;
use crate::retry::Idempotency::Idempotent;

/// Longest wait for new entries per call while following; the catalog allows 60 s.
const FOLLOW_WAIT: Duration = Duration::from_secs(20);

/// What a follower sees: new entries, then the job's end.
#[derive(Debug, Clone, PartialEq)]
pub enum LogUpdate {
    /// An entry of the log, in order.
    Event(JobEvent),
    /// The job reached a final state; no entry follows. Carries how many
    /// entries the catalog did not keep because the log was full.
    Ended {
        /// The final state.
        state: JobState,
        /// Entries counted but not kept.
        omitted: u64,
    },
}

impl VigilClient {
    /// One page of a job's log (`ListJobEvents`), as the catalog answers it.
    pub async fn list_job_events_page(
        &self,
        request: ListJobEventsRequest,
    ) -> Result<ListJobEventsResponse> {
        self.call(
            &self.catalog,
            "ListJobEvents",
            Idempotent,
            Shape::Unary,
            request,
            |mut c, r| async move { c.list_job_events(r).await },
        )
        .await
    }

    /// Streams every entry of a job's log, oldest first.
    pub fn list_job_events(&self, job: &str) -> BoxStream<'static, Result<JobEvent>> {
        let client = self.clone();
        let job = job.to_owned();
        paginate(move |token| {
            let client = client.clone();
            let req = ListJobEventsRequest {
                job: job.clone(),
                page_size: 1000,
                page_token: token,
                ..Default::default()
            };
            async move {
                let resp = client.list_job_events_page(req).await?;
                Ok((resp.events, resp.next_page_token))
            }
        })
    }

    /// Streams a job's log as it is written, and ends with
    /// [`LogUpdate::Ended`] once the job is final and every entry was seen.
    /// Waits on the catalog (a long poll that wakes on each new entry), not on
    /// a timer.
    pub fn follow_job_events(&self, job: &str) -> BoxStream<'static, Result<LogUpdate>> {
        let client = self.clone();
        let job = job.to_owned();
        // The wait must end before the request's own deadline.
        let wait = match self.request_timeout() {
            Some(t) => FOLLOW_WAIT.min(t * 2 / 3),
            None => FOLLOW_WAIT,
        };
        Box::pin(async_stream::try_stream! {
            let mut after = 0;
            loop {
                let req = ListJobEventsRequest {
                    job: job.clone(),
                    page_size: 1000,
                    after_sequence: after,
                    wait: Some(vigil_proto::duration_to_proto(wait)),
                    ..Default::default()
                };
                let resp = client.list_job_events_page(req).await?;
                let more = !resp.next_page_token.is_empty();
                let got_any = !resp.events.is_empty();
                for event in resp.events {
                    after = after.max(event.sequence);
                    yield LogUpdate::Event(event);
                }
                let state = JobState::try_from(resp.job_state).unwrap_or(JobState::Unspecified);
                if is_final(state) && !more && !got_any {
                    yield LogUpdate::Ended { state, omitted: resp.omitted_count };
                    break;
                }
            }
        })
    }
}
