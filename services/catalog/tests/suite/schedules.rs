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
    assert_eq!(err.code(), Code::Aborted);

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
    let config = h
        .catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(utc_daily("daily")),
        })
        .await
        .unwrap()
        .into_inner()
        .configuration
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
        configuration_etag: config.etag.clone(),
    };

    // A stale expected time is ABORTED and changes nothing.
    let before = snapshot(&mut h, "daily").await;
    let mut stale = tick.clone();
    stale.expected_next_due_time = Some(ts(t0() - day));
    let err = h.coord.commit_schedule_tick(stale).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert_eq!(snapshot(&mut h, "daily").await, before);
    // So is a tick planned from a configuration version that is no longer
    // the stored one (S7: an edit is never overlooked by a stale planner).
    let mut outdated = tick.clone();
    outdated.configuration_etag = format!("{}-older", config.etag);
    let err = h.coord.commit_schedule_tick(outdated).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert!(err.message().starts_with("configuration_etag:"), "{err:?}");
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

/// A one-run ENQUEUED tick of configuration `name` due at `due`.
fn one_run_tick(name: &str, due: chrono::DateTime<chrono::Utc>) -> CommitScheduleTickRequest {
    CommitScheduleTickRequest {
        schedule: name.into(),
        expected_next_due_time: Some(ts(due)),
        new_next_due_time: Some(ts(due + chrono::Duration::days(1))),
        runs: vec![TickRun {
            due_time: Some(ts(due)),
            outcome: OutcomeKind::Enqueued as i32,
            job: Some(scheduled(name, due)),
            detail: String::new(),
        }],
        owner: "scheduler-a".into(),
        ..Default::default()
    }
}

async fn arm_configurations(h: &mut Harness, names: &[&str]) {
    arm_with(h, names, utc_daily).await;
}

/// Creates and arms `names` at `t0()`, each made by `configuration`.
async fn arm_with(h: &mut Harness, names: &[&str], configuration: fn(&str) -> BackupConfiguration) {
    for name in names {
        h.catalog
            .create_configuration(CreateConfigurationRequest {
                configuration: Some(configuration(name)),
            })
            .await
            .unwrap();
        let mut state = armed(name, t0());
        state.configuration = (*name).into();
        h.coord
            .put_schedule_state(PutScheduleStateRequest { state: Some(state) })
            .await
            .unwrap();
    }
}

both_backends!(batched_ticks_keep_each_tick_own_checks);
async fn batched_ticks_keep_each_tick_own_checks(options: CatalogOptions) {
    let (options, _clock) = manual(options);
    let mut h = start(options).await;
    arm_configurations(&mut h, &["a", "b", "c"]).await;
    let before_b = snapshot(&mut h, "b").await.0;
    let before_c = snapshot(&mut h, "c").await.0;

    let good = one_run_tick("a", t0());
    let mut stale = one_run_tick("b", t0());
    stale.expected_next_due_time = Some(ts(t0() - chrono::Duration::days(1)));
    let mut bad = one_run_tick("c", t0());
    bad.runs[0].job.as_mut().unwrap().kind = 0;
    let missing = one_run_tick("nobody", t0());
    let results = h
        .coord
        .commit_schedule_ticks(CommitScheduleTicksRequest {
            ticks: vec![good.clone(), stale, bad, missing],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    let codes: Vec<Code> = results.iter().map(|r| Code::from_i32(r.code)).collect();
    assert_eq!(
        codes,
        vec![
            Code::Ok,
            Code::Aborted,
            Code::InvalidArgument,
            Code::NotFound
        ]
    );
    assert!(
        results[2].message.contains("runs[0].job.kind"),
        "{}",
        results[2].message
    );
    let committed = results[0].state.as_ref().unwrap();
    assert_eq!(
        committed.next_due_time,
        Some(ts(t0() + chrono::Duration::days(1)))
    );
    assert_eq!(committed.fired_count, 1);
    assert_eq!(results[0].jobs.len(), 1);
    // The refused ticks changed nothing.
    assert_eq!(snapshot(&mut h, "b").await.0, before_b);
    assert_eq!(snapshot(&mut h, "c").await.0, before_c);
    assert_eq!(all_jobs(&mut h).await.len(), 1);

    // Replaying the batch: the committed tick is now ABORTED too.
    let again = h
        .coord
        .commit_schedule_ticks(CommitScheduleTicksRequest { ticks: vec![good] })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(Code::from_i32(again[0].code), Code::Aborted);
    assert_eq!(all_jobs(&mut h).await.len(), 1);

    // A batch naming a schedule twice is refused as a whole.
    let err = h
        .coord
        .commit_schedule_ticks(CommitScheduleTicksRequest {
            ticks: vec![one_run_tick("b", t0()), one_run_tick("b", t0())],
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "ticks[1].schedule");
    assert_eq!(snapshot(&mut h, "b").await.0, before_b);
}

both_backends!(concurrent_batches_commit_each_schedule_once);
async fn concurrent_batches_commit_each_schedule_once(options: CatalogOptions) {
    let (options, _clock) = manual(options);
    let mut h = start(options).await;
    let names: Vec<String> = (0..40).map(|i| format!("s{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    arm_configurations(&mut h, &refs).await;
    let mut tasks = Vec::new();
    for replica in 0..3 {
        let mut coord = h.server.coordination_client().await;
        // Each replica sends the same schedules in its own order.
        let mut ticks: Vec<_> = names.iter().map(|n| one_run_tick(n, t0())).collect();
        ticks.rotate_left(replica * 13);
        tasks.push(tokio::spawn(async move {
            coord
                .commit_schedule_ticks(CommitScheduleTicksRequest { ticks })
                .await
                .unwrap()
                .into_inner()
                .results
        }));
    }
    let mut committed = 0;
    for t in tasks {
        for r in t.await.unwrap() {
            match Code::from_i32(r.code) {
                Code::Ok => committed += 1,
                code => assert_eq!(code, Code::Aborted, "{}", r.message),
            }
        }
    }
    assert_eq!(
        committed,
        names.len(),
        "each schedule committed exactly once"
    );
    assert_eq!(all_jobs(&mut h).await.len(), names.len());
}

both_backends!(missed_runs_are_stored_as_one_range);
async fn missed_runs_are_stored_as_one_range(options: CatalogOptions) {
    let (options, clock) = manual(options);
    let mut h = start(options).await;
    // An hourly schedule, and a catalog clock past the last due time ticked.
    arm_with(&mut h, &["daily"], |name| {
        let mut c = utc_daily(name);
        if let Some(s) = c.schedule.as_mut() {
            s.spec = Some(schedule::Spec::Cron("0 * * * *".into()));
        }
        c
    })
    .await;
    let hour = chrono::Duration::hours(1);
    clock.advance(hour * 7);
    let missed = |i: i32| TickRun {
        due_time: Some(ts(t0() + hour * i)),
        outcome: OutcomeKind::Missed as i32,
        detail: "outside the catch-up window".into(),
        job: None,
    };
    // A long outage committed in two slices, then the run that fires.
    let slices = [
        (0..3).map(missed).collect::<Vec<_>>(),
        (3..6).map(missed).collect(),
        vec![TickRun {
            due_time: Some(ts(t0() + hour * 6)),
            outcome: OutcomeKind::Enqueued as i32,
            job: Some(scheduled("daily", t0() + hour * 6)),
            detail: String::new(),
        }],
    ];
    let mut expected = t0();
    for runs in slices {
        let last = runs.last().unwrap().due_time.unwrap();
        let next = vigil_proto::timestamp_to_micros(&last) + hour.num_microseconds().unwrap();
        h.coord
            .commit_schedule_tick(CommitScheduleTickRequest {
                schedule: "daily".into(),
                expected_next_due_time: Some(ts(expected)),
                new_next_due_time: Some(vigil_proto::timestamp_from_micros(next)),
                runs,
                ..Default::default()
            })
            .await
            .unwrap();
        expected = chrono::DateTime::from_timestamp_micros(next).unwrap();
    }
    let (state, outcomes, _) = snapshot(&mut h, "daily").await;
    assert_eq!(state.missed_count, 6);
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert_eq!(outcomes[0].outcome, OutcomeKind::Enqueued as i32);
    assert_eq!(outcomes[0].count, 1);
    assert_eq!(outcomes[0].last_due_time, None);
    let range = &outcomes[1];
    assert_eq!(range.outcome, OutcomeKind::Missed as i32);
    assert_eq!(range.due_time, Some(ts(t0())));
    assert_eq!(range.last_due_time, Some(ts(t0() + hour * 5)));
    assert_eq!(range.count, 6);
}

/// A job and a schedule state without what names them, to compare rows
/// written by the one-tick path with rows written in bulk.
fn without_names(mut job: BackupJob, mut state: ScheduleState) -> (BackupJob, ScheduleState) {
    job.id.clear();
    job.name.clear();
    job.configuration.clear();
    state.schedule.clear();
    state.configuration.clear();
    (job, state)
}

both_backends!(bulk_ticks_store_what_single_ticks_store);
async fn bulk_ticks_store_what_single_ticks_store(options: CatalogOptions) {
    let (options, _clock) = manual(options);
    let mut h = start(options).await;
    arm_configurations(&mut h, &["one", "many", "m2", "late"]).await;
    // A second schedule of configuration "many", so two jobs of one batch
    // draw their names from the same counter; it and "late" are due from
    // a few minutes before t0 (a skipped and a missed run).
    for (key, configuration, minutes) in [("many-verify", "many", 1), ("late", "late", 2)] {
        let mut state = armed(key, t0() - chrono::Duration::minutes(minutes));
        state.configuration = configuration.into();
        if key == "late" {
            state.etag = snapshot(&mut h, key).await.0.etag;
        }
        h.coord
            .put_schedule_state(PutScheduleStateRequest { state: Some(state) })
            .await
            .unwrap();
    }

    let single = h
        .coord
        .commit_schedule_tick(one_run_tick("one", t0()))
        .await
        .unwrap()
        .into_inner();
    let mut shared = one_run_tick("many-verify", t0());
    shared.runs[0].job.as_mut().unwrap().configuration = "many".into();
    shared.runs[0].job.as_mut().unwrap().schedule = "many-verify".into();
    shared.runs.push(TickRun {
        due_time: Some(ts(t0() - chrono::Duration::minutes(1))),
        outcome: OutcomeKind::SkippedOverlap as i32,
        job: None,
        detail: "the previous run is still going".into(),
    });
    shared.expected_next_due_time = Some(ts(t0() - chrono::Duration::minutes(1)));
    // Not simple: a MISSED run goes the one-tick way inside the same batch.
    let mut missed = one_run_tick("late", t0());
    missed.runs.insert(
        0,
        TickRun {
            due_time: Some(ts(t0() - chrono::Duration::minutes(2))),
            outcome: OutcomeKind::Missed as i32,
            job: None,
            detail: "outside the catch-up window".into(),
        },
    );
    missed.expected_next_due_time = Some(ts(t0() - chrono::Duration::minutes(2)));
    let results = h
        .coord
        .commit_schedule_ticks(CommitScheduleTicksRequest {
            ticks: vec![
                one_run_tick("many", t0()),
                shared,
                missed,
                one_run_tick("m2", t0()),
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    for r in &results {
        assert_eq!(Code::from_i32(r.code), Code::Ok, "{}", r.message);
    }

    // The bulk rows equal the one-tick rows, names aside.
    let (one_job, one_state) = without_names(single.jobs[0].clone(), single.state.unwrap());
    let (bulk_job, bulk_state) = without_names(
        results[3].jobs[0].clone(),
        results[3].state.clone().unwrap(),
    );
    assert_eq!(bulk_job, one_job);
    assert_eq!(bulk_state, one_state);
    // What the responses say is what is stored.
    let stored = all_jobs(&mut h).await;
    for r in &results {
        for job in &r.jobs {
            assert!(stored.contains(job), "{job:?} is stored as returned");
        }
    }
    // Jobs of one configuration at one due time get distinct names.
    let mut names: Vec<&str> = results[..2]
        .iter()
        .map(|r| r.jobs[0].name.as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["many_20251220_020000", "many_20251220_020000_2"]);

    // The skipped and missed runs are recorded beside the enqueued ones.
    let (state, outcomes, _) = snapshot(&mut h, "many-verify").await;
    assert_eq!((state.fired_count, state.skipped_count), (1, 1));
    let kinds: Vec<i32> = outcomes.iter().map(|o| o.outcome).collect();
    assert!(
        kinds.contains(&(OutcomeKind::SkippedOverlap as i32)),
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| o.outcome == OutcomeKind::Enqueued as i32 && o.job == results[1].jobs[0].id)
    );
    let (state, outcomes, _) = snapshot(&mut h, "late").await;
    assert_eq!((state.fired_count, state.missed_count), (1, 1));
    assert!(
        outcomes
            .iter()
            .any(|o| o.outcome == OutcomeKind::Missed as i32)
    );
}

both_backends!(put_schedule_states_stores_each_state_under_its_own_compare_and_set);
async fn put_schedule_states_stores_each_state_under_its_own_compare_and_set(
    options: CatalogOptions,
) {
    let mut h = start(options).await;
    let existing = h
        .coord
        .put_schedule_state(PutScheduleStateRequest {
            state: Some(armed("taken", t0())),
        })
        .await
        .unwrap()
        .into_inner()
        .state
        .unwrap();
    let mut stale = existing.clone();
    stale.etag = "0".into();
    stale.paused = true;
    let mut replaced = existing.clone();
    replaced.health_reason = "replaced in a batch".into();
    let batch = |states: Vec<ScheduleState>| PutScheduleStatesRequest { states };

    // A stale etag and a taken key are refused on their own; the rest is stored.
    let results = h
        .coord
        .put_schedule_states(batch(vec![armed("fresh", t0()), stale]))
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].code, 0, "{:?}", results[0]);
    assert_eq!(results[0].state.as_ref().unwrap().schedule, "fresh");
    assert_eq!(results[1].code, Code::Aborted as i32, "{:?}", results[1]);
    assert!(
        results[1].message.starts_with("state.etag:"),
        "{:?}",
        results[1]
    );
    assert!(results[1].state.is_none());
    let (taken, _, _) = snapshot(&mut h, "taken").await;
    assert!(!taken.paused, "a refused state changes nothing");

    let results = h
        .coord
        .put_schedule_states(batch(vec![armed("fresh", t0()), replaced]))
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(
        results[0].code,
        Code::AlreadyExists as i32,
        "{:?}",
        results[0]
    );
    assert_eq!(results[1].code, 0, "{:?}", results[1]);
    let (taken, _, _) = snapshot(&mut h, "taken").await;
    assert_eq!(taken.health_reason, "replaced in a batch");

    // The batch as a whole: a key twice, or more than 1000 states, is
    // INVALID_ARGUMENT naming the field, and nothing is stored.
    let err = h
        .coord
        .put_schedule_states(batch(vec![armed("twice", t0()), armed("twice", t0())]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "states");
    let many = (0..1001).map(|i| armed(&format!("s{i}"), t0())).collect();
    let err = h.coord.put_schedule_states(batch(many)).await.unwrap_err();
    assert_eq!(bad_field(&err), "states");
    let listed = h
        .coord
        .list_schedule_states(ListScheduleStatesRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .states;
    let mut keys: Vec<String> = listed.into_iter().map(|s| s.schedule).collect();
    keys.sort();
    assert_eq!(keys, ["fresh", "taken"]);
}
