//! A live replica: a 6-field cron firing every 10 seconds creates SCHEDULED
//! jobs at those due times, one per due time, and the API shows its next
//! due times and last outcomes. The manual clock drives time; the running
//! loop is woken as a host would after moving it.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic::Request;
use vigil_proto::catalog::v1::{JobTrigger, OutcomeKind};
use vigil_proto::scheduler::v1::GetScheduleRequest;
use vigil_proto::scheduler::v1::scheduler_service_server::SchedulerService;
use vigil_scheduler::service::Service;

use crate::common::*;

#[tokio::test]
async fn a_six_field_cron_every_ten_seconds_creates_one_scheduled_job_per_due_time() {
    let h = Harness::sqlite("2025-12-20T12:00:03Z").await;
    let shutdown = CancellationToken::new();
    let mut s = settings();
    s.reconcile_interval = Duration::from_secs(3600);
    let scheduler = h.start_scheduler("live", s, &shutdown).await;
    h.create(config("every10", "*/10 * * * * *", "UTC")).await;
    h.until(Duration::from_secs(10), "armed", || async {
        h.try_state("every10", 1).await.is_some()
    })
    .await;

    for i in 1..=6usize {
        h.clock.advance(chrono::Duration::seconds(10));
        scheduler.wake();
        h.until(Duration::from_secs(10), &format!("job {i}"), || async {
            h.jobs("every10").await.len() >= i
        })
        .await;
    }
    // More ticks at the same instant add nothing.
    scheduler.engine().tick(h.now()).await.unwrap();
    scheduler.engine().tick(h.now()).await.unwrap();

    let jobs = h.jobs("every10").await;
    let expected: Vec<_> = (1..=6)
        .map(|i| t("2025-12-20T12:00:00Z") + chrono::Duration::seconds(10 * i))
        .collect();
    assert_eq!(
        jobs.iter()
            .map(|j| at(j.due_time.as_ref().unwrap()))
            .collect::<Vec<_>>(),
        expected
    );
    assert!(jobs.iter().all(|j| j.trigger() == JobTrigger::Scheduled));

    let view = Service::new(scheduler.engine().clone())
        .get_schedule(Request::new(GetScheduleRequest {
            schedule: "every10".into(),
            next_count: 3,
            outcome_count: 4,
        }))
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    let next: Vec<_> = view.next_due_times.iter().map(at).collect();
    assert_eq!(
        next,
        [
            t("2025-12-20T12:01:10Z"),
            t("2025-12-20T12:01:20Z"),
            t("2025-12-20T12:01:30Z")
        ]
    );
    assert_eq!(view.recent_outcomes.len(), 4);
    assert!(
        view.recent_outcomes
            .iter()
            .all(|o| o.outcome() == OutcomeKind::Enqueued && !o.job.is_empty())
    );
    assert_eq!(
        at(view.recent_outcomes[0].due_time.as_ref().unwrap()),
        t("2025-12-20T12:01:00Z"),
        "newest first"
    );
    assert_eq!(view.state.as_ref().unwrap().fired_count, 6);
    assert!(!view.never_fired);
    assert_eq!(view.description, "every 10 seconds");
    assert_eq!(view.expected_interval.unwrap().seconds, 10);
    shutdown.cancel();
    scheduler.stopped().await;
}
