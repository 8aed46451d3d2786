//! System schedules: a configuration with a retention policy gets a daily
//! PRUNE (`name#prune`) and a weekly VERIFY drill (`name#verify`), fired as
//! SYSTEM jobs, visible and alerting like any other schedule.

use vigil_proto::catalog::v1::{JobKind, JobTrigger, OutcomeKind, ScheduleHealth, job_params};

use crate::common::*;

#[tokio::test]
async fn retention_brings_prune_and_verify_schedules_that_fire_system_jobs_and_alert() {
    let h = Harness::sqlite("2025-12-20T00:00:00Z").await;
    h.create(with_retention(config("edms", "0 2 * * *", "Europe/Berlin")))
        .await;
    let mut s = settings();
    s.system_schedules = true;
    s.verify_sample_fraction = 0.25;
    let engine = h.engine("r1", s);
    // This executor backs up but neither prunes nor verifies.
    h.executor("e1", &["backup:full"]).await;
    engine.tick(h.now()).await.unwrap();
    assert!(h.open_alert("no-capable-executor:edms").await.is_none());
    for key in ["edms#prune", "edms#verify"] {
        let alert = h
            .open_alert(&format!("no-capable-executor:{key}"))
            .await
            .unwrap_or_else(|| panic!("{key} alert"));
        assert_eq!(alert.configuration, "edms");
    }

    // 03:30 Berlin is 02:30Z; Sunday 21 December 04:30 Berlin is 03:30Z.
    for now in [
        "2025-12-20T02:30:00Z",
        "2025-12-21T02:30:00Z",
        "2025-12-21T03:30:00Z",
    ] {
        h.set(now);
        engine.tick(h.now()).await.unwrap();
    }
    let jobs = h.jobs("edms").await;
    let system: Vec<_> = jobs
        .iter()
        .filter(|j| j.trigger() == JobTrigger::System)
        .collect();
    let kinds: Vec<_> = system
        .iter()
        .map(|j| (j.kind(), at(j.due_time.as_ref().unwrap())))
        .collect();
    assert_eq!(
        kinds,
        [
            (JobKind::Prune, t("2025-12-20T02:30:00Z")),
            (JobKind::Verify, t("2025-12-21T03:30:00Z"))
        ]
    );
    let verify = system[1];
    match verify.params.as_ref().and_then(|p| p.params.as_ref()) {
        Some(job_params::Params::Verify(v)) => assert_eq!(v.sample_fraction, 0.25),
        other => panic!("verify params: {other:?}"),
    }
    assert_eq!(verify.required_capabilities, ["verify"]);

    // Nobody prunes: the second prune overlaps the first, still queued, and
    // the prune schedule is DOWN and alerting like any backup schedule.
    let (prune, outcomes) = h.state("edms#prune", 5).await;
    assert_eq!(
        outcome_kinds(&outcomes),
        [OutcomeKind::Enqueued, OutcomeKind::SkippedOverlap]
    );
    assert_eq!(prune.health(), ScheduleHealth::Down);
    assert!(h.open_alert("schedule-down:edms#prune").await.is_some());
}
