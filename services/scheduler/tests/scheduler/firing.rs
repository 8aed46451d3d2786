//! Firing: exactly one job per (schedule, due time) (S3), and an outcome
//! for every due run (S4).

use vigil_proto::catalog::v1::{JobKind, JobState, JobTrigger, OutcomeKind};

use crate::common::*;

#[tokio::test]
async fn each_due_time_gets_one_scheduled_job_however_often_and_by_however_many_engines_it_is_ticked()
 {
    let h = Harness::sqlite("2025-12-20T10:00:03Z").await;
    h.create(config("ten", "*/10 * * * * *", "UTC")).await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    for step in 1..=6 {
        h.clock.advance(chrono::Duration::seconds(10));
        engine.tick(h.now()).await.unwrap();
        engine.tick(h.now()).await.unwrap();
        // A restarted replica (fresh engine, empty memory) ticks the same instant.
        h.engine(&format!("restart-{step}"), settings())
            .tick(h.now())
            .await
            .unwrap();
    }
    let jobs = h.jobs("ten").await;
    let dues: Vec<_> = jobs
        .iter()
        .map(|j| at(j.due_time.as_ref().unwrap()))
        .collect();
    let expected: Vec<_> = (1..=6)
        .map(|i| t("2025-12-20T10:00:00Z") + chrono::Duration::seconds(10 * i))
        .collect();
    assert_eq!(dues, expected);
    for j in &jobs {
        assert_eq!(j.trigger(), JobTrigger::Scheduled);
        assert_eq!(j.kind(), JobKind::Backup);
    }
}

#[tokio::test]
async fn every_due_run_ends_in_a_recorded_outcome() {
    let h = Harness::sqlite("2025-12-20T09:59:00Z").await;
    let mut c = config("c", "0 * * * *", "UTC");
    if let Some(s) = c.schedule.as_mut() {
        // Both policies left unset: catch-up once and overlap skip are the defaults.
        s.catch_up = vigil_proto::catalog::v1::CatchUpPolicy::Unspecified as i32;
        s.overlap = vigil_proto::catalog::v1::OverlapPolicy::Unspecified as i32;
    }
    h.create(c).await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();

    // 10:00 enqueued.
    h.set("2025-12-20T10:00:00Z");
    engine.tick(h.now()).await.unwrap();
    // 11:00 skipped: the 10:00 run is still queued (default overlap: skip).
    h.set("2025-12-20T11:00:00Z");
    engine.tick(h.now()).await.unwrap();
    // The executor finally runs and finishes the 10:00 job.
    let (job, token) = h
        .lease_held("e1", &["backup:full"])
        .await
        .expect("a job to lease");
    h.complete(&job.id, "e1", &token).await;
    // Paused over 12:00.
    let mut state = h.state("c", 1).await.0;
    state.paused = true;
    h.coord
        .clone()
        .put_schedule_state(vigil_proto::catalog::v1::PutScheduleStateRequest {
            state: Some(state),
        })
        .await
        .unwrap();
    h.set("2025-12-20T12:00:00Z");
    engine.tick(h.now()).await.unwrap();
    let mut state = h.state("c", 1).await.0;
    state.paused = false;
    h.coord
        .clone()
        .put_schedule_state(vigil_proto::catalog::v1::PutScheduleStateRequest {
            state: Some(state),
        })
        .await
        .unwrap();
    // Nothing ticks from 12:00 until 16:30: 13:00-15:00 missed, 16:00 caught up once.
    h.set("2025-12-20T16:30:00Z");
    engine.tick(h.now()).await.unwrap();

    let (state, outcomes) = h.state("c", 100).await;
    use OutcomeKind::*;
    assert_eq!(
        outcome_kinds(&outcomes),
        [
            Enqueued,
            SkippedOverlap,
            Paused,
            Missed,
            Missed,
            Missed,
            Enqueued
        ],
        "one outcome per due time from 10:00 to 16:00"
    );
    assert_eq!(
        (state.fired_count, state.skipped_count, state.missed_count),
        (2, 1, 3)
    );
    assert!(
        outcomes
            .iter()
            .all(|o| !o.detail.is_empty() || o.outcome() == Enqueued),
        "{outcomes:?}"
    );
    let jobs = h.jobs("c").await;
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].state(), JobState::Completed);
    assert_eq!(
        at(jobs[1].due_time.as_ref().unwrap()),
        t("2025-12-20T16:00:00Z")
    );
}

#[tokio::test]
async fn jitter_delays_the_fire_but_keeps_the_due_time_and_every_replica_agrees() {
    let h = Harness::sqlite("2025-12-20T09:30:00Z").await;
    let mut c = config("spread", "0 * * * *", "UTC");
    c.schedule.as_mut().unwrap().jitter = Some(vigil_proto::duration_to_proto(
        std::time::Duration::from_secs(600),
    ));
    h.create(c).await;
    let due = t("2025-12-20T10:00:00Z");
    let delay = vigil_scheduler::jitter::offset("spread", due, std::time::Duration::from_secs(600));
    assert!(
        delay > std::time::Duration::from_secs(1),
        "this test needs a visible delay, got {delay:?}"
    );
    let fire = due + chrono::Duration::from_std(delay).unwrap();
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();

    h.clock.set(fire - chrono::Duration::seconds(1));
    engine.tick(h.now()).await.unwrap();
    h.engine("r2", settings()).tick(h.now()).await.unwrap();
    assert!(
        h.jobs("spread").await.is_empty(),
        "not before its jittered fire time, on any replica"
    );

    h.clock.set(fire);
    let report = engine.tick(h.now()).await.unwrap();
    assert_eq!(report.enqueued, 1);
    assert_eq!(
        h.job_due_times("spread").await,
        [due],
        "the job keeps the due time as its key"
    );
    let (state, _) = h.state("spread", 1).await;
    assert_eq!(
        state.health(),
        vigil_proto::catalog::v1::ScheduleHealth::Armed,
        "{}",
        state.health_reason
    );
}
