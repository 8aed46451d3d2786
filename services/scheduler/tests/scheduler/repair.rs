//! A3: a persisted next due time that disagrees with the schedule (written
//! into the database by hand, or stored by a component that lied) is
//! repaired by the reconciler, which raises an alert saying what it found.

use vigil_proto::catalog::v1::{AlertKind, AlertSeverity, PutScheduleStateRequest};

use crate::common::*;

async fn write_next_due(h: &Harness, key: &str, when: &str) {
    let sql = format!(
        "UPDATE schedule_states SET next_due_time = {} WHERE schedule = '{key}'",
        t(when).timestamp_micros()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(h.catalog.catalog.store().db().writer())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_next_due_time_written_into_the_database_is_repaired_and_reported() {
    let h = Harness::sqlite("2025-12-20T10:00:00Z").await;
    h.create(config("nightly", "0 2 * * *", "Europe/Berlin"))
        .await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    let expected = t("2025-12-21T01:00:00Z");
    assert_eq!(
        at(h.state("nightly", 1)
            .await
            .0
            .next_due_time
            .as_ref()
            .unwrap()),
        expected
    );
    assert!(h.open_alert("schedule-repaired:nightly").await.is_none());
    // 2099 would switch the schedule off; 1970 would flood the catalog
    // with half a million missed runs.
    for forged in ["2099-01-01T01:00:00Z", "1970-01-01T01:00:00Z"] {
        write_next_due(&h, "nightly", forged).await;
        engine.tick(h.now()).await.unwrap();
        let (state, outcomes) = h.state("nightly", 10).await;
        assert_eq!(at(state.next_due_time.as_ref().unwrap()), expected);
        assert!(outcomes.is_empty(), "no run was recorded: {outcomes:?}");
        let alert = h
            .open_alert("schedule-repaired:nightly")
            .await
            .expect("the repair is reported");
        assert_eq!(alert.kind(), AlertKind::ScheduleRepaired);
        assert_eq!(alert.severity(), AlertSeverity::Critical);
        assert!(
            alert.message.contains(&forged[..16]) && alert.message.contains("repaired"),
            "{}",
            alert.message
        );
    }
    // A state that agrees is left alone.
    let report = engine.tick(h.now()).await.unwrap();
    assert_eq!(report.armed, 0, "{report:?}");
}

#[tokio::test]
async fn a_component_that_stores_a_wrong_next_due_time_is_corrected() {
    let h = Harness::sqlite("2025-12-20T10:00:00Z").await;
    h.create(config("hourly", "15 * * * *", "UTC")).await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    let mut state = h.state("hourly", 1).await.0;
    state.next_due_time = Some(vigil_proto::timestamp_from_micros(
        t("2099-06-01T00:15:00Z").timestamp_micros(),
    ));
    h.coord
        .clone()
        .put_schedule_state(PutScheduleStateRequest { state: Some(state) })
        .await
        .unwrap();
    engine.tick(h.now()).await.unwrap();
    let state = h.state("hourly", 1).await.0;
    assert_eq!(
        at(state.next_due_time.as_ref().unwrap()),
        t("2025-12-20T10:15:00Z")
    );
    assert!(h.open_alert("schedule-repaired:hourly").await.is_some());
}
