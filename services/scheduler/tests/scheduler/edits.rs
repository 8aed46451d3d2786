//! S7: an edit takes effect from the next due time after it is committed:
//! no retroactive fire, and never a swallowed run that was about to fire.

use vigil_proto::catalog::v1::schedule::Spec;

use crate::common::*;

fn set_cron(c: &mut vigil_proto::catalog::v1::BackupConfiguration, cron: &str) {
    c.schedule.as_mut().unwrap().spec = Some(Spec::Cron(cron.to_owned()));
}

#[tokio::test]
async fn an_edit_one_second_before_a_due_time_neither_swallows_it_nor_adds_a_retroactive_run() {
    let h = Harness::sqlite("2025-12-20T00:00:00Z").await;
    let mut c = h.create(config("nightly", "0 2 * * *", "UTC")).await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();

    // One second before 02:00 the schedule gains a 01:00 run, which is already past.
    h.set("2025-12-20T01:59:59Z");
    set_cron(&mut c, "0 1,2 * * *");
    let edited = h.update(c).await;
    engine.tick(h.now()).await.unwrap();
    let (state, _) = h.state("nightly", 1).await;
    assert_eq!(
        state.armed_etag, edited.etag,
        "re-armed for the new version"
    );
    assert_eq!(
        at(state.next_due_time.as_ref().unwrap()),
        t("2025-12-20T02:00:00Z")
    );

    h.set("2025-12-20T02:00:00Z");
    engine.tick(h.now()).await.unwrap();
    h.set("2025-12-21T01:00:00Z");
    engine.tick(h.now()).await.unwrap();
    assert_eq!(
        h.job_due_times("nightly").await,
        [t("2025-12-20T02:00:00Z"), t("2025-12-21T01:00:00Z")],
        "02:00 still fires, 01:00 is not fired retroactively, and the new 01:00 applies from the next day"
    );
}

#[tokio::test]
async fn an_edit_the_scheduler_has_not_seen_yet_is_applied_before_the_due_time_it_affects() {
    let h = Harness::sqlite("2025-12-20T00:00:00Z").await;
    let mut c = h.create(config("nightly", "0 2 * * *", "UTC")).await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    // Edited at 01:59:59 to 03:00; no tick runs until 02:00:00.
    h.set("2025-12-20T01:59:59Z");
    set_cron(&mut c, "0 3 * * *");
    h.update(c).await;
    h.set("2025-12-20T02:00:00Z");
    engine.tick(h.now()).await.unwrap();
    assert!(
        h.jobs("nightly").await.is_empty(),
        "02:00 belongs to the old version, edited away before it was due"
    );
    h.set("2025-12-20T03:00:00Z");
    engine.tick(h.now()).await.unwrap();
    assert_eq!(
        h.job_due_times("nightly").await,
        [t("2025-12-20T03:00:00Z")]
    );
}

#[tokio::test]
async fn a_due_time_that_passed_before_the_edit_still_fires_under_the_old_version() {
    let h = Harness::sqlite("2025-12-20T00:00:00Z").await;
    let mut c = h.create(config("nightly", "0 2 * * *", "UTC")).await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    // The replica was busy: 02:00 passed unhandled, then the schedule was edited at 02:00:30.
    h.set("2025-12-20T02:00:30Z");
    set_cron(&mut c, "0 3 * * *");
    h.update(c).await;
    h.set("2025-12-20T02:01:00Z");
    engine.tick(h.now()).await.unwrap();
    assert_eq!(
        h.job_due_times("nightly").await,
        [t("2025-12-20T02:00:00Z")],
        "the 02:00 run was due before the edit"
    );
    let (state, _) = h.state("nightly", 1).await;
    assert_eq!(
        at(state.next_due_time.as_ref().unwrap()),
        t("2025-12-20T03:00:00Z")
    );
}

#[tokio::test]
async fn a_restarted_replica_also_finishes_the_due_run_of_the_previous_version() {
    let h = Harness::sqlite("2025-12-20T00:00:00Z").await;
    let mut c = h.create(config("nightly", "0 2 * * *", "UTC")).await;
    h.engine("old-process", settings())
        .tick(h.now())
        .await
        .unwrap();
    h.set("2025-12-20T02:00:30Z");
    set_cron(&mut c, "0 3 * * *");
    h.update(c).await;
    h.set("2025-12-20T02:01:00Z");
    // A fresh process does not know the previous version; it still runs the pending 02:00.
    h.engine("new-process", settings())
        .tick(h.now())
        .await
        .unwrap();
    assert_eq!(
        h.job_due_times("nightly").await,
        [t("2025-12-20T02:00:00Z")]
    );
}
