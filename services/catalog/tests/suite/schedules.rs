//! Schedule state: compare-and-set puts and the guarded tick.

use tonic::Code;
use vigil_catalog::CatalogOptions;
use vigil_proto::catalog::v1::*;

use crate::common::*;

fn armed(key: &str, next: chrono::DateTime<chrono::Utc>) -> ScheduleState {
    ScheduleState {
        schedule: key.into(),
        configuration: "daily".into(),
        role: ScheduleRole::Backup as i32,
        health: ScheduleHealth::Armed as i32,
        next_due_time: Some(ts(next)),
        armed_etag: "abc".into(),
        ..Default::default()
    }
}

/// A FULL configuration due daily at 02:00 UTC, the suite's `t0()` time of day.
fn utc_daily(name: &str) -> BackupConfiguration {
    let mut c = full(name);
    if let Some(s) = c.schedule.as_mut() {
        s.timezone = "UTC".into();
    }
    c
}

async fn snapshot(
    h: &mut Harness,
    key: &str,
) -> (ScheduleState, Vec<ScheduleOutcome>, Vec<BackupJob>) {
    let got = h
        .coord
        .get_schedule_state(GetScheduleStateRequest {
            schedule: key.into(),
            outcome_count: 100,
        })
        .await
        .unwrap()
        .into_inner();
    (got.state.unwrap(), got.outcomes, all_jobs(h).await)
}

both_backends!(put_schedule_state_is_compare_and_set);
async fn put_schedule_state_is_compare_and_set(options: CatalogOptions) {
    let mut h = start(options).await;
    let first = h
        .coord
        .put_schedule_state(PutScheduleStateRequest {
            state: Some(armed("daily", t0())),
        })
        .await
        .unwrap()
        .into_inner()
        .state
        .unwrap();
    assert!(!first.etag.is_empty());
    // Creating again without an etag is a duplicate.
    let err = h
        .coord
        .put_schedule_state(PutScheduleStateRequest {
            state: Some(armed("daily", t0())),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let mut next = first.clone();
    next.paused = true;
    let second = h
        .coord
        .put_schedule_state(PutScheduleStateRequest {
            state: Some(next.clone()),
        })
        .await
        .unwrap()
        .into_inner()
        .state
        .unwrap();
    assert!(second.paused);
    assert_ne!(second.etag, first.etag);
    // The first etag is stale now.
    let err = h
        .coord
        .put_schedule_state(PutScheduleStateRequest { state: Some(next) })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    for i in 0..3 {
        h.coord
            .put_schedule_state(PutScheduleStateRequest {
                state: Some(armed(&format!("other{i}"), t0())),
            })
            .await
            .unwrap();
    }
    let mut keys = Vec::new();
    let mut token = String::new();
    loop {
        let page = h
            .coord
            .list_schedule_states(ListScheduleStatesRequest {
                page_size: 3,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        keys.extend(page.states.into_iter().map(|s| s.schedule));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(keys, vec!["daily", "other0", "other1", "other2"]);
    h.coord
        .delete_schedule_state(DeleteScheduleStateRequest {
            schedule: "other0".into(),
        })
        .await
        .unwrap();
    let err = h
        .coord
        .get_schedule_state(GetScheduleStateRequest {
            schedule: "other0".into(),
            outcome_count: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

both_backends!(commit_tick_records_outcomes_and_enqueues_once);
async fn commit_tick_records_outcomes_and_enqueues_once(options: CatalogOptions) {
    let (options, clock) = manual(options);
    let mut h = start(options).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(utc_daily("daily")),
        })
        .await
        .unwrap();
    h.coord
        .put_schedule_state(PutScheduleStateRequest {
            state: Some(armed("daily", t0())),
        })
        .await
        .unwrap();
    let day = chrono::Duration::days(1);
    // A run enqueued earlier (say by a replica that crashed before its tick
    // committed) is found again through the (schedule, due time) key.
    let earlier = h
        .coord
        .enqueue_job(scheduled("daily", t0() + day))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    clock.advance(day * 2);
    let job = |due| Some(scheduled("daily", due));
    let tick = CommitScheduleTickRequest {
        schedule: "daily".into(),
        expected_next_due_time: Some(ts(t0())),
        new_next_due_time: Some(ts(t0() + day * 3)),
        runs: vec![
            TickRun {
                due_time: Some(ts(t0())),
                outcome: OutcomeKind::Missed as i32,
                detail: "outside the window".into(),
                job: None,
            },
            TickRun {
                due_time: Some(ts(t0() + day)),
                outcome: OutcomeKind::Enqueued as i32,
                job: job(t0() + day),
                detail: String::new(),
            },
            TickRun {
                due_time: Some(ts(t0() + day * 2)),
                outcome: OutcomeKind::Enqueued as i32,
                job: job(t0() + day * 2),
                detail: String::new(),
            },
        ],
        owner: "scheduler-a".into(),
        health: ScheduleHealth::Armed as i32,
        health_reason: "caught up".into(),
    };

    // A stale expected time is ABORTED and changes nothing.
    let before = snapshot(&mut h, "daily").await;
    let mut stale = tick.clone();
    stale.expected_next_due_time = Some(ts(t0() - day));
    let err = h.coord.commit_schedule_tick(stale).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert_eq!(snapshot(&mut h, "daily").await, before);
    // So is a bad run, with its field named.
    let mut bad = tick.clone();
    bad.runs[2].job.as_mut().unwrap().kind = 0;
    let err = h.coord.commit_schedule_tick(bad).await.unwrap_err();
    assert_eq!(bad_field(&err), "runs[2].job.kind");
    assert_eq!(snapshot(&mut h, "daily").await, before);

    let done = h
        .coord
        .commit_schedule_tick(tick.clone())
        .await
        .unwrap()
        .into_inner();
    let state = done.state.unwrap();
    assert_eq!(state.next_due_time, Some(ts(t0() + day * 3)));
    assert_eq!(state.last_due_time, Some(ts(t0() + day * 2)));
    assert_eq!(state.last_fire_time, Some(ts(t0() + day * 2)));
    assert_eq!(
        (state.fired_count, state.missed_count, state.skipped_count),
        (2, 1, 0)
    );
    assert_eq!(state.owner, "scheduler-a");
    assert_eq!(state.health_reason, "caught up");
    assert_eq!(done.jobs.len(), 2);
    assert_eq!(
        done.jobs[0].id, earlier.id,
        "the earlier job is reused, not duplicated"
    );
    assert_eq!(all_jobs(&mut h).await.len(), 2);
    let (_, outcomes, _) = snapshot(&mut h, "daily").await;
    let kinds: Vec<i32> = outcomes.iter().map(|o| o.outcome).collect();
    assert_eq!(
        kinds,
        vec![
            OutcomeKind::Enqueued as i32,
            OutcomeKind::Enqueued as i32,
            OutcomeKind::Missed as i32
        ]
    );
    assert_eq!(outcomes[0].job, done.jobs[1].id);

    // Replaying the same tick is refused: the due time moved.
    let err = h.coord.commit_schedule_tick(tick).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    assert_eq!(all_jobs(&mut h).await.len(), 2);
}

both_backends!(concurrent_ticks_commit_once);
async fn concurrent_ticks_commit_once(options: CatalogOptions) {
    let mut h = start(options).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(utc_daily("daily")),
        })
        .await
        .unwrap();
    h.coord
        .put_schedule_state(PutScheduleStateRequest {
            state: Some(armed("daily", t0())),
        })
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for replica in 0..6 {
        let mut coord = h.server.coordination_client().await;
        tasks.push(tokio::spawn(async move {
            coord
                .commit_schedule_tick(CommitScheduleTickRequest {
                    schedule: "daily".into(),
                    expected_next_due_time: Some(ts(t0())),
                    new_next_due_time: Some(ts(t0() + chrono::Duration::days(1))),
                    runs: vec![TickRun {
                        due_time: Some(ts(t0())),
                        outcome: OutcomeKind::Enqueued as i32,
                        job: Some(scheduled("daily", t0())),
                        detail: String::new(),
                    }],
                    owner: format!("replica-{replica}"),
                    ..Default::default()
                })
                .await
                .map(|_| ())
                .map_err(|s| s.code())
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(code) => assert_eq!(code, Code::Aborted),
        }
    }
    assert_eq!(ok, 1, "exactly one replica advances the schedule");
    assert_eq!(all_jobs(&mut h).await.len(), 1);
    let (state, outcomes, _) = snapshot(&mut h, "daily").await;
    assert_eq!(state.fired_count, 1);
    assert_eq!(outcomes.len(), 1);
}

both_backends!(ticks_that_disagree_with_the_schedule_are_refused);
async fn ticks_that_disagree_with_the_schedule_are_refused(options: CatalogOptions) {
    let (options, clock) = manual(options);
    let mut h = start(options).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(utc_daily("daily")),
        })
        .await
        .unwrap();
    h.coord
        .put_schedule_state(PutScheduleStateRequest {
            state: Some(armed("daily", t0())),
        })
        .await
        .unwrap();
    let day = chrono::Duration::days(1);
    clock.advance(chrono::Duration::minutes(1));
    let at = |y, m, d| {
        chrono::NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(2, 0, 0)
            .unwrap()
            .and_utc()
    };
    let tick = |next: chrono::DateTime<chrono::Utc>, due: chrono::DateTime<chrono::Utc>| {
        CommitScheduleTickRequest {
            schedule: "daily".into(),
            expected_next_due_time: Some(ts(t0())),
            new_next_due_time: Some(ts(next)),
            runs: vec![TickRun {
                due_time: Some(ts(due)),
                outcome: OutcomeKind::Enqueued as i32,
                job: Some(scheduled("daily", due)),
                detail: String::new(),
            }],
            owner: "liar".into(),
            ..Default::default()
        }
    };
    let before = snapshot(&mut h, "daily").await;
    // 2099 would switch the schedule off; 1970 would make the scheduler
    // record half a million missed runs. Neither is the next occurrence.
    for next in [at(2099, 1, 1), at(1970, 1, 1), t0() + day * 2] {
        let err = h
            .coord
            .commit_schedule_tick(tick(next, t0()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
        assert!(err.message().starts_with("new_next_due_time:"), "{err:?}");
        assert_eq!(snapshot(&mut h, "daily").await, before, "nothing changed");
    }
    // Due times before the persisted next due time or in the future are
    // refused as well: a tick cannot invent a backlog.
    for due in [at(1970, 1, 1), t0() + day] {
        let err = h
            .coord
            .commit_schedule_tick(tick(due + day, due))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
        assert!(err.message().starts_with("runs[0].due_time:"), "{err:?}");
        assert_eq!(snapshot(&mut h, "daily").await, before, "nothing changed");
    }
    // The schedule's own next occurrence is accepted.
    let state = h
        .coord
        .commit_schedule_tick(tick(t0() + day, t0()))
        .await
        .unwrap()
        .into_inner()
        .state
        .unwrap();
    assert_eq!(state.next_due_time, Some(ts(t0() + day)));
}
