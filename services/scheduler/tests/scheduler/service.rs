//! SchedulerService over real gRPC on 127.0.0.1:0: views, pause and
//! resume, manual triggers, backfills and previews; bad input is
//! INVALID_ARGUMENT naming the field and changes nothing.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;
use vigil_proto::catalog::v1::{self as pb, JobTrigger, OutcomeKind, ScheduleHealth};
use vigil_proto::scheduler::v1::scheduler_service_client::SchedulerServiceClient;
use vigil_proto::scheduler::v1::scheduler_service_server::SchedulerServiceServer;
use vigil_proto::scheduler::v1::{
    BackfillScheduleRequest, GetScheduleRequest, ListSchedulesRequest, PauseScheduleRequest,
    PreviewScheduleRequest, ResumeScheduleRequest, TriggerScheduleRequest,
};
use vigil_scheduler::Engine;
use vigil_scheduler::service::Service;

use crate::common::*;

struct Api {
    client: SchedulerServiceClient<Channel>,
    _stop: tokio_util::sync::DropGuard,
}

async fn serve(engine: Arc<Engine>) -> Api {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(SchedulerServiceServer::new(Service::new(engine)))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                token.cancelled_owned(),
            )
            .await
            .unwrap();
    });
    let client = SchedulerServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    Api {
        client,
        _stop: stop.drop_guard(),
    }
}

fn invalid_field(status: tonic::Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().starts_with(&format!("{field}: ")),
        "{:?} should name {field}",
        status.message()
    );
}

#[tokio::test]
async fn pause_records_paused_runs_and_resume_continues_from_the_next_due_time_without_a_flood() {
    let h = Harness::sqlite("2025-12-20T09:30:00Z").await;
    h.create(config("c", "0 * * * *", "UTC")).await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    let mut api = serve(engine.clone()).await;

    let paused = api
        .client
        .pause_schedule(PauseScheduleRequest {
            schedule: "c".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        paused.schedule.unwrap().state.unwrap().health(),
        ScheduleHealth::Paused
    );
    for now in [
        "2025-12-20T10:00:00Z",
        "2025-12-20T11:00:00Z",
        "2025-12-20T12:00:00Z",
    ] {
        h.set(now);
        engine.tick(h.now()).await.unwrap();
    }
    assert!(h.jobs("c").await.is_empty());
    assert!(
        h.alerts(false)
            .await
            .iter()
            .all(|a| !a.dedup_key.starts_with("schedule-")),
        "paused is not an outage"
    );

    h.set("2025-12-20T12:30:00Z");
    let resumed = api
        .client
        .resume_schedule(ResumeScheduleRequest {
            schedule: "c".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let view = resumed.schedule.unwrap();
    assert_eq!(view.state.as_ref().unwrap().health(), ScheduleHealth::Armed);
    assert_eq!(at(&view.next_due_times[0]), t("2025-12-20T13:00:00Z"));
    engine.tick(h.now()).await.unwrap();
    assert!(
        h.jobs("c").await.is_empty(),
        "resuming does not replay the paused hours"
    );
    h.set("2025-12-20T13:00:00Z");
    engine.tick(h.now()).await.unwrap();
    assert_eq!(h.job_due_times("c").await, [t("2025-12-20T13:00:00Z")]);
    let view = api
        .client
        .get_schedule(GetScheduleRequest {
            schedule: "c".into(),
            outcome_count: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    let kinds: Vec<_> = view
        .recent_outcomes
        .iter()
        .rev()
        .flat_map(|o| std::iter::repeat_n(o.outcome(), o.count.max(1) as usize))
        .collect();
    assert_eq!(
        kinds,
        [
            OutcomeKind::Paused,
            OutcomeKind::Paused,
            OutcomeKind::Paused,
            OutcomeKind::Enqueued
        ]
    );
    assert_eq!(
        view.next_due_times.len(),
        5,
        "five next due times by default"
    );
}

#[tokio::test]
async fn trigger_queues_a_manual_run_now_outside_the_schedule() {
    let h = Harness::sqlite("2025-12-20T09:30:00Z").await;
    h.create(config("c", "0 2 * * *", "UTC")).await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    let mut api = serve(engine).await;
    let job = api
        .client
        .trigger_schedule(TriggerScheduleRequest {
            schedule: "c".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(job.trigger(), JobTrigger::Manual);
    assert_eq!(job.required_capabilities, ["backup:full"]);
    assert_eq!(h.jobs("c").await.len(), 1);
    let err = api
        .client
        .trigger_schedule(TriggerScheduleRequest {
            schedule: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = api
        .client
        .trigger_schedule(TriggerScheduleRequest {
            schedule: "c#prune".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "no retention, nothing to prune"
    );
}

#[tokio::test]
async fn backfill_queues_each_missing_due_time_once_and_never_reaches_the_future() {
    let h = Harness::sqlite("2025-12-20T09:30:00Z").await;
    h.create(config("c", "0 * * * *", "UTC")).await;
    let engine = h.engine("r1", settings());
    let mut api = serve(engine).await;
    let req = |start: &str, end: &str| BackfillScheduleRequest {
        schedule: "c".into(),
        start_time: Some(ts(t(start))),
        end_time: Some(ts(t(end))),
        max_runs: 0,
    };
    let first = api
        .client
        .backfill_schedule(req("2025-12-20T05:00:00Z", "2025-12-20T07:00:00Z"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.jobs.len(), 3);
    assert_eq!(first.already_present, 0);
    let again = api
        .client
        .backfill_schedule(req("2025-12-20T06:00:00Z", "2025-12-20T08:00:00Z"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.jobs.len(), again.already_present), (1, 2));
    assert_eq!(
        h.job_due_times("c").await,
        [
            t("2025-12-20T05:00:00Z"),
            t("2025-12-20T06:00:00Z"),
            t("2025-12-20T07:00:00Z"),
            t("2025-12-20T08:00:00Z")
        ]
    );

    invalid_field(
        api.client
            .backfill_schedule(req("2025-12-20T08:00:00Z", "2025-12-20T10:00:00Z"))
            .await
            .unwrap_err(),
        "end_time",
    );
    invalid_field(
        api.client
            .backfill_schedule(req("2025-12-20T08:00:00Z", "2025-12-20T07:00:00Z"))
            .await
            .unwrap_err(),
        "end_time",
    );
    let mut too_many = req("2025-12-19T00:00:00Z", "2025-12-20T09:00:00Z");
    too_many.max_runs = 5;
    invalid_field(
        api.client.backfill_schedule(too_many).await.unwrap_err(),
        "max_runs",
    );
    assert_eq!(
        h.jobs("c").await.len(),
        4,
        "refused backfills change nothing"
    );
}

#[tokio::test]
async fn preview_lists_fire_times_and_names_the_bad_field() {
    let h = Harness::sqlite("2025-12-20T09:30:00Z").await;
    let mut api = serve(h.engine("r1", settings())).await;
    let sched = |cron: &str, tz: &str| pb::Schedule {
        spec: Some(pb::schedule::Spec::Cron(cron.into())),
        timezone: tz.into(),
        ..Default::default()
    };
    let ok = api
        .client
        .preview_schedule(PreviewScheduleRequest {
            schedule: Some(sched("0 2 * * *", "Europe/Berlin")),
            count: 3,
            after: None,
        })
        .await
        .unwrap()
        .into_inner();
    let times: Vec<_> = ok.fire_times.iter().map(at).collect();
    assert_eq!(
        times,
        [
            t("2025-12-21T01:00:00Z"),
            t("2025-12-22T01:00:00Z"),
            t("2025-12-23T01:00:00Z")
        ],
        "after now"
    );
    assert_eq!(ok.description, "daily at 02:00 Europe/Berlin");
    for (cron, tz, field) in [
        ("0 2 * *", "UTC", "schedule.cron"),
        ("61 2 * * *", "UTC", "schedule.cron"),
        ("0 2 * * *", "+02:00", "schedule.timezone"),
        ("0 2 * * *", "Mars/Olympus", "schedule.timezone"),
    ] {
        let err = api
            .client
            .preview_schedule(PreviewScheduleRequest {
                schedule: Some(sched(cron, tz)),
                count: 0,
                after: None,
            })
            .await
            .unwrap_err();
        invalid_field(err, field);
    }
    let err = api
        .client
        .preview_schedule(PreviewScheduleRequest::default())
        .await
        .unwrap_err();
    invalid_field(err, "schedule");
}

#[tokio::test]
async fn list_pages_through_every_schedule_and_shows_an_unarmed_one_as_unarmed() {
    let h = Harness::sqlite("2025-12-20T09:30:00Z").await;
    for i in 0..4 {
        h.create(config(&format!("c{i}"), "0 * * * *", "UTC")).await;
    }
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    // Created after the last tick: no replica has armed it yet.
    h.create(config("late", "0 * * * *", "UTC")).await;
    let mut api = serve(engine).await;

    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = api
            .client
            .list_schedules(ListSchedulesRequest {
                page_size: 2,
                page_token: token,
                next_count: 2,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.schedules.len() <= 2);
        for v in &page.schedules {
            let state = v.state.as_ref().unwrap();
            names.push(state.schedule.clone());
            if state.schedule == "late" {
                assert_eq!(state.health(), ScheduleHealth::Unarmed);
                assert!(v.next_due_times.is_empty());
            } else {
                assert_eq!(state.health(), ScheduleHealth::Armed);
                assert_eq!(v.next_due_times.len(), 2);
            }
            assert!(v.enabled);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(names, ["c0", "c1", "c2", "c3", "late"]);
    let err = api
        .client
        .list_schedules(ListSchedulesRequest {
            page_token: "not-a-token".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    invalid_field(err, "page_token");
    let err = api
        .client
        .list_schedules(ListSchedulesRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    invalid_field(err, "page_size");
}

#[tokio::test]
async fn bad_or_unknown_schedule_keys_are_refused_and_change_nothing() {
    let h = Harness::sqlite("2025-12-20T09:30:00Z").await;
    h.create(config("c", "0 * * * *", "UTC")).await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    let before = h.state("c", 1).await.0;
    let mut api = serve(engine).await;
    invalid_field(
        api.client
            .pause_schedule(PauseScheduleRequest {
                schedule: "".into(),
            })
            .await
            .unwrap_err(),
        "schedule",
    );
    invalid_field(
        api.client
            .pause_schedule(PauseScheduleRequest {
                schedule: "a#b".into(),
            })
            .await
            .unwrap_err(),
        "schedule",
    );
    let err = api
        .client
        .pause_schedule(PauseScheduleRequest {
            schedule: "missing".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = api
        .client
        .get_schedule(GetScheduleRequest {
            schedule: "c#verify".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::NotFound,
        "no retention, no verify schedule"
    );
    invalid_field(
        api.client
            .get_schedule(GetScheduleRequest {
                schedule: "c".into(),
                next_count: -1,
                ..Default::default()
            })
            .await
            .unwrap_err(),
        "next_count",
    );
    assert_eq!(h.state("c", 1).await.0, before);
}
