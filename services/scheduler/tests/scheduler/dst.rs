//! S6 end to end: a tick across DST changes fires a due time inside a gap at
//! the first valid instant after it, and a due time inside a repeated hour
//! once. (The arithmetic itself is property-tested in vigil-schedule.)

use crate::common::*;

#[tokio::test]
async fn a_due_time_in_the_spring_gap_fires_once_at_the_end_of_the_gap() {
    // Berlin skips 02:00-03:00 local on 2025-03-30 (01:00Z).
    let h = Harness::sqlite("2025-03-29T12:00:00Z").await;
    h.create(config("gap", "30 2 * * *", "Europe/Berlin")).await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    for now in [
        "2025-03-30T00:30:00Z",
        "2025-03-30T00:59:59Z",
        "2025-03-30T01:00:00Z",
        "2025-03-30T01:30:00Z",
        "2025-03-31T00:30:00Z",
    ] {
        h.set(now);
        engine.tick(h.now()).await.unwrap();
    }
    assert_eq!(
        h.job_due_times("gap").await,
        [t("2025-03-30T01:00:00Z"), t("2025-03-31T00:30:00Z")],
        "the gap day fires at 03:00 CEST, the next day at 02:30 CEST"
    );
}

#[tokio::test]
async fn a_due_time_in_the_repeated_autumn_hour_fires_once() {
    // Berlin repeats 02:00-03:00 local on 2025-10-26: 02:30 is 00:30Z and 01:30Z.
    let h = Harness::sqlite("2025-10-25T12:00:00Z").await;
    h.create(config("twice", "30 2 * * *", "Europe/Berlin"))
        .await;
    h.create(config("hourly", "0 * * * *", "America/New_York"))
        .await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    for now in [
        "2025-10-26T00:30:00Z",
        "2025-10-26T01:30:00Z",
        "2025-10-26T02:30:00Z",
    ] {
        h.set(now);
        engine.tick(h.now()).await.unwrap();
    }
    assert_eq!(h.job_due_times("twice").await, [t("2025-10-26T00:30:00Z")]);
    let (state, _) = h.state("twice", 1).await;
    assert_eq!(
        at(state.next_due_time.as_ref().unwrap()),
        t("2025-10-27T01:30:00Z")
    );
}

#[tokio::test]
async fn an_hourly_schedule_keeps_firing_every_hour_across_the_new_york_fall_back() {
    // New York falls back at 06:00Z on 2025-11-02: local 01:00 happens twice.
    let h = Harness::sqlite("2025-11-02T03:30:00Z").await;
    h.create(config("ny", "0 * * * *", "America/New_York"))
        .await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    for hour in 4..=8 {
        h.set(&format!("2025-11-02T{hour:02}:00:00Z"));
        engine.tick(h.now()).await.unwrap();
    }
    // Local 00:00, 01:00 (EDT), 02:00 (EST; the repeated 01:00 EST is not a new due time), 03:00.
    assert_eq!(
        h.job_due_times("ny").await,
        [
            t("2025-11-02T04:00:00Z"),
            t("2025-11-02T05:00:00Z"),
            t("2025-11-02T07:00:00Z"),
            t("2025-11-02T08:00:00Z")
        ]
    );
}
