//! The queue: concurrent leasing, lease expiry, idempotent enqueue (S3),
//! capability matching and long polling.

use std::collections::HashSet;
use std::time::Duration;

use tonic::Code;
use vigil_catalog::CatalogOptions;
use vigil_proto::catalog::v1::*;

use crate::common::*;

both_backends!(concurrent_leasers_each_get_distinct_jobs);
async fn concurrent_leasers_each_get_distinct_jobs(options: CatalogOptions) {
    const JOBS: usize = 1000;
    const LEASERS: usize = 8;
    let (options, _clock) = manual(options);
    let mut h = start(options).await;
    let daily = h
        .catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap()
        .into_inner()
        .configuration
        .expect("the stored configuration");
    let store = h.server.catalog.store().clone();
    let mut queued = HashSet::new();
    for i in 0..JOBS {
        let due = t0() + chrono::Duration::minutes(i as i64);
        let out = store
            .enqueue_job(&scheduled("daily", due), Default::default())
            .await
            .unwrap();
        assert!(out.created);
        queued.insert(out.job.id);
    }
    let mut tasks = Vec::new();
    for n in 0..LEASERS {
        let mut coord = h.server.coordination_client().await;
        let daily = daily.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let resp = coord
                    .lease_job(LeaseJobRequest {
                        executor_id: format!("exec-{n}"),
                        capabilities: vec!["backup:full".into()],
                        ..Default::default()
                    })
                    .await
                    .expect("lease")
                    .into_inner();
                let Some(job) = resp.job else { return got };
                assert_eq!(job.state, JobState::Running as i32);
                assert_eq!(job.lease_owner, format!("exec-{n}"));
                assert_eq!(job.attempt, 1);
                // The configuration as stored, read in the lease's statement.
                assert_eq!(resp.configuration.as_ref(), Some(&daily));
                got.push(job.id);
            }
        }));
    }
    let mut leased = Vec::new();
    let mut per_leaser = Vec::new();
    for t in tasks {
        let got = t.await.unwrap();
        per_leaser.push(got.len());
        leased.extend(got);
    }
    let unique: HashSet<_> = leased.iter().cloned().collect();
    assert_eq!(leased.len(), JOBS, "every job leased exactly once");
    assert_eq!(unique, queued, "no job lost, none leased twice");
    assert!(
        per_leaser.iter().filter(|n| **n > 0).count() > 1,
        "leasers ran concurrently: {per_leaser:?}"
    );
    let running = all_jobs(&mut h)
        .await
        .iter()
        .filter(|j| j.state == JobState::Running as i32)
        .count();
    assert_eq!(running, JOBS);

    // Pages are clamped to 1000 rows: with 1001 jobs a page of 5000 is not the last.
    store
        .enqueue_job(
            &scheduled("daily", t0() - chrono::Duration::days(1)),
            Default::default(),
        )
        .await
        .unwrap();
    let page = h
        .catalog
        .list_jobs(ListJobsRequest {
            page_size: 5000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.jobs.len(), 1000);
    assert!(!page.next_page_token.is_empty());
    let rest = h
        .catalog
        .list_jobs(ListJobsRequest {
            page_size: 5000,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.jobs.len(), 1);
    assert!(rest.next_page_token.is_empty());
}

both_backends!(expired_leases_are_retried_then_fail_as_executor_lost);
async fn expired_leases_are_retried_then_fail_as_executor_lost(options: CatalogOptions) {
    let (options, clock) = manual(options);
    let mut h = start(options).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap();
    let job = h
        .coord
        .enqueue_job(scheduled("daily", t0()))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let lease_req = |who: &str| LeaseJobRequest {
        executor_id: who.into(),
        capabilities: all_capabilities(),
        lease_duration: Some(prost_types::Duration {
            seconds: 30,
            nanos: 0,
        }),
        ..Default::default()
    };
    for attempt in 1..=3u32 {
        let who = format!("exec-{attempt}");
        let resp = h
            .coord
            .lease_job(lease_req(&who))
            .await
            .unwrap()
            .into_inner();
        let token = resp.lease_token;
        let leased = resp.job.unwrap();
        assert_eq!(leased.id, job.id);
        assert_eq!(leased.attempt, attempt);
        assert_eq!(
            leased.start_time,
            Some(ts(t0())),
            "start time is the first lease"
        );
        // Within the lease nothing is reclaimed.
        clock.advance(chrono::Duration::seconds(29));
        let r = h
            .coord
            .reclaim_expired_leases(ReclaimExpiredLeasesRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!((r.requeued, r.failed), (0, 0));
        clock.advance(chrono::Duration::seconds(2));
        // The lost executor's heartbeat is still accepted until the reaper acts...
        let r = h
            .coord
            .reclaim_expired_leases(ReclaimExpiredLeasesRequest {})
            .await
            .unwrap()
            .into_inner();
        if attempt < 3 {
            assert_eq!((r.requeued, r.failed), (1, 0));
        } else {
            assert_eq!((r.requeued, r.failed), (0, 1));
        }
        // ...and refused after it: the lease is gone.
        let err = h
            .coord
            .heartbeat_job(HeartbeatJobRequest {
                job_id: job.id.clone(),
                executor_id: who.clone(),
                lease_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Aborted);
        let err = h
            .coord
            .complete_job(CompleteJobRequest {
                job_id: job.id.clone(),
                executor_id: who,
                lease_token: token,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Aborted);
    }
    let failed = h
        .catalog
        .get_job(GetJobRequest { id: job.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(failed.state, JobState::Failed as i32);
    assert_eq!(failed.error, "executor lost");
    assert!(failed.end_time.is_some());
    assert!(
        h.coord
            .lease_job(lease_req("exec-4"))
            .await
            .unwrap()
            .into_inner()
            .job
            .is_none()
    );
    let alerts = h
        .catalog
        .list_alerts(ListAlertsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::ExecutorLost as i32);
    // A component cannot clear what the catalog raised from its own records.
    let err = h
        .coord
        .resolve_alert(ResolveAlertRequest {
            dedup_key: alerts[0].dedup_key.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().starts_with("dedup_key: "), "{err:?}");
    // Nor refresh it by raising its key under a kind of its own: that opens a
    // separate alert, which it may then resolve, leaving the catalog's open.
    let raised = h
        .coord
        .raise_alert(RaiseAlertRequest {
            alert: Some(Alert {
                kind: AlertKind::ScheduleDown as i32,
                dedup_key: alerts[0].dedup_key.clone(),
                configuration: "daily".into(),
                message: "all is well".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(raised.opened);
    let resolved = h
        .coord
        .resolve_alert(ResolveAlertRequest {
            dedup_key: alerts[0].dedup_key.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .alert
        .unwrap();
    assert_eq!(resolved.id, raised.alert.unwrap().id);
    let still = h
        .catalog
        .list_alerts(ListAlertsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert_eq!(still, alerts, "the alert stays open and unchanged");
}

both_backends!(retryable_failures_requeue_until_attempts_run_out);
async fn retryable_failures_requeue_until_attempts_run_out(options: CatalogOptions) {
    let mut h = start(options).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap();
    let job = h
        .coord
        .enqueue_job(scheduled("daily", t0()))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let mut states = Vec::new();
    let mut token = String::new();
    for _ in 0..3 {
        let resp = h
            .coord
            .lease_job(LeaseJobRequest {
                executor_id: "e".into(),
                capabilities: all_capabilities(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        token = resp.lease_token;
        assert_eq!(resp.job.unwrap().id, job.id);
        let after = h
            .coord
            .fail_job(FailJobRequest {
                job_id: job.id.clone(),
                executor_id: "e".into(),
                lease_token: token.clone(),
                error: "repository busy".into(),
                retryable: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap();
        states.push(after.state);
    }
    assert_eq!(
        states,
        vec![
            JobState::Queued as i32,
            JobState::Queued as i32,
            JobState::Failed as i32
        ]
    );
    let err = h
        .coord
        .fail_job(FailJobRequest {
            job_id: job.id,
            executor_id: "e".into(),
            lease_token: token,
            error: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
}

both_backends!(an_interrupted_job_goes_back_to_the_queue_without_spending_an_attempt);
async fn an_interrupted_job_goes_back_to_the_queue_without_spending_an_attempt(
    options: CatalogOptions,
) {
    let mut h = start(options).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap();
    let job = h
        .coord
        .enqueue_job(scheduled("daily", t0()))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    // More interruptions than attempts: none of them spends one.
    for round in 0..job.max_attempts + 2 {
        let resp = h
            .coord
            .lease_job(LeaseJobRequest {
                executor_id: format!("e{round}"),
                capabilities: all_capabilities(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let leased = resp.job.unwrap();
        assert_eq!(leased.id, job.id, "the job is leasable again at once");
        assert_eq!(leased.attempt, 1, "round {round}");
        let after = h
            .coord
            .fail_job(FailJobRequest {
                job_id: job.id.clone(),
                executor_id: format!("e{round}"),
                lease_token: resp.lease_token,
                error: "executor shutting down".into(),
                interrupted: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap();
        assert_eq!(after.state(), JobState::Queued, "round {round}");
        assert_eq!(after.attempt, 0);
        assert!(after.lease_owner.is_empty());
        assert!(after.end_time.is_none());
    }
}

both_backends!(concurrent_enqueues_of_one_due_time_make_one_job);
async fn concurrent_enqueues_of_one_due_time_make_one_job(options: CatalogOptions) {
    const CALLERS: usize = 16;
    let mut h = start(options).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..CALLERS {
        let mut coord = h.server.coordination_client().await;
        tasks.push(tokio::spawn(async move {
            coord
                .enqueue_job(scheduled("daily", t0()))
                .await
                .expect("enqueue")
                .into_inner()
        }));
    }
    let mut ids = HashSet::new();
    let mut created = 0;
    for t in tasks {
        let r = t.await.unwrap();
        created += usize::from(r.created);
        ids.insert(r.job.unwrap().id);
    }
    assert_eq!(ids.len(), 1, "one job for one (schedule, due time)");
    assert_eq!(created, 1, "exactly one caller created it");
    assert_eq!(all_jobs(&mut h).await.len(), 1);
    // Another due time is another job.
    let next = h
        .coord
        .enqueue_job(scheduled("daily", t0() + chrono::Duration::days(1)))
        .await
        .unwrap()
        .into_inner();
    assert!(next.created);
    assert_eq!(all_jobs(&mut h).await.len(), 2);
}

both_backends!(leases_respect_capabilities_and_age);
async fn leases_respect_capabilities_and_age(options: CatalogOptions) {
    let (options, clock) = manual(options);
    let mut h = start(options).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(database("db")),
        })
        .await
        .unwrap();
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("files")),
        })
        .await
        .unwrap();
    let db_job = h
        .coord
        .enqueue_job(scheduled("db", t0()))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    clock.advance(chrono::Duration::seconds(1));
    let files_job = h
        .coord
        .enqueue_job(scheduled("files", t0()))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let lease = |caps: &[&str]| LeaseJobRequest {
        executor_id: "e".into(),
        capabilities: caps.iter().map(|c| c.to_string()).collect(),
        ..Default::default()
    };
    // An executor without the engine cannot take the (older) database job.
    let got = h
        .coord
        .lease_job(lease(&["backup:database", "backup:full"]))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(got.id, files_job.id);
    assert!(
        h.coord
            .lease_job(lease(&["backup:database"]))
            .await
            .unwrap()
            .into_inner()
            .job
            .is_none()
    );
    let got = h
        .coord
        .lease_job(lease(&["backup:database", "engine:postgres"]))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(got.id, db_job.id);
    let err = h.coord.lease_job(lease(&[])).await.map(|_| ());
    assert!(
        err.is_ok(),
        "no capabilities is allowed, it just gets nothing"
    );
    let err = h
        .coord
        .lease_job(LeaseJobRequest {
            executor_id: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "executor_id");
}

both_backends!(waiting_lease_returns_a_job_queued_during_the_wait);
async fn waiting_lease_returns_a_job_queued_during_the_wait(options: CatalogOptions) {
    let mut h = start(options).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap();
    let mut coord = h.server.coordination_client().await;
    let waiter = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let job = coord
            .lease_job(LeaseJobRequest {
                executor_id: "e".into(),
                capabilities: all_capabilities(),
                wait: Some(prost_types::Duration {
                    seconds: 30,
                    nanos: 0,
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .job;
        (job, started.elapsed())
    });
    // Let the waiter find the queue empty first; this is not a scheduler test
    // and the assertion below does not depend on the exact delay.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let queued = h
        .coord
        .enqueue_job(scheduled("daily", t0()))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let (job, waited) = tokio::time::timeout(Duration::from_secs(20), waiter)
        .await
        .expect("lease returned")
        .unwrap();
    assert_eq!(job.map(|j| j.id), Some(queued.id));
    assert!(
        waited < Duration::from_secs(10),
        "answered when the job came, not at the deadline: {waited:?}"
    );
    // With nothing queued, a bounded wait returns empty.
    let none = h
        .coord
        .lease_job(LeaseJobRequest {
            executor_id: "e".into(),
            capabilities: all_capabilities(),
            wait: Some(prost_types::Duration {
                seconds: 0,
                nanos: 200_000_000,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(none.job.is_none());
}

both_backends!(background_reaper_reclaims_without_being_asked);
async fn background_reaper_reclaims_without_being_asked(options: CatalogOptions) {
    let (mut options, clock) = manual(options);
    options.lease_reap_interval = Duration::from_millis(50);
    let mut h = start(options).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap();
    let job = h
        .coord
        .enqueue_job(scheduled("daily", t0()))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    h.coord
        .lease_job(LeaseJobRequest {
            executor_id: "e".into(),
            capabilities: all_capabilities(),
            ..Default::default()
        })
        .await
        .unwrap();
    // The default lease is 30 s; once the clock passes it the reaper requeues the job.
    clock.advance(chrono::Duration::seconds(31));
    let requeued = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let j = h
                .catalog
                .get_job(GetJobRequest { id: job.id.clone() })
                .await
                .unwrap()
                .into_inner()
                .job
                .unwrap();
            if j.state == JobState::Queued as i32 {
                return j;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the background reaper requeued the expired job");
    assert!(requeued.lease_owner.is_empty());
    assert_eq!(requeued.attempt, 1);
}

both_backends!(every_list_refuses_a_bad_page_token);
async fn every_list_refuses_a_bad_page_token(options: CatalogOptions) {
    let mut h = start(options).await;
    let bad = "bm90LWEtdG9rZW4".to_owned();
    let errors = [
        h.catalog
            .list_jobs(ListJobsRequest {
                page_token: bad.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err(),
        h.catalog
            .list_artifacts(ListArtifactsRequest {
                page_token: bad.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err(),
        h.catalog
            .list_alerts(ListAlertsRequest {
                page_token: bad.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err(),
        h.catalog
            .list_configurations(ListConfigurationsRequest {
                page_token: bad.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err(),
        h.coord
            .list_schedule_states(ListScheduleStatesRequest {
                page_token: bad.clone(),
                page_size: 0,
            })
            .await
            .unwrap_err(),
    ];
    for err in errors {
        assert_eq!(bad_field(&err), "page_token");
    }
    // A token of one list is refused by another.
    for name in ["a", "b", "c"] {
        h.catalog
            .create_configuration(CreateConfigurationRequest {
                configuration: Some(full(name)),
            })
            .await
            .unwrap();
    }
    let token = h
        .catalog
        .list_configurations(ListConfigurationsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    let err = h
        .catalog
        .list_jobs(ListJobsRequest {
            page_token: token,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "page_token");
    let err = h
        .catalog
        .list_jobs(ListJobsRequest {
            page_size: -5,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "page_size");
}

/// The catalog hands out pooled PostgreSQL connections without a round trip
/// to check them while they are in steady use. When the server ends their
/// sessions (a restart, an administrator), the request that meets a dead
/// connection answers UNAVAILABLE, which clients retry, never INTERNAL. That
/// loss makes the pool ping the connections it opened before, so the next
/// request already gets a new one, and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ended_database_sessions_give_unavailable_until_the_pool_reconnects_needs_postgres() {
    let options = vigil_catalog::testing::postgres_options_from_env().await;
    let url = options.database_url.clone().unwrap();
    let mut h = start(options).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap();
    // Use many pooled connections at once, so several are open.
    let reads = futures::future::join_all((0..16).map(|_| {
        let mut catalog = h.catalog.clone();
        async move {
            catalog
                .get_configuration(GetConfigurationRequest {
                    name: "daily".into(),
                })
                .await
        }
    }))
    .await;
    assert!(reads.iter().all(|r| r.is_ok()));

    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(
        ended.len() >= 2,
        "the catalog's sessions were ended: {ended:?}"
    );

    let mut unavailable = 0;
    let configuration = loop {
        match h
            .catalog
            .get_configuration(GetConfigurationRequest {
                name: "daily".into(),
            })
            .await
        {
            Ok(r) => break r.into_inner(),
            Err(e) => {
                assert_eq!(e.code(), Code::Unavailable, "{e:?}");
                assert!(e.message().contains("retry"), "{e:?}");
                unavailable += 1;
                // The first failure makes the pool check every connection
                // it opened before, so the next request gets a live one.
                assert!(
                    unavailable <= 1,
                    "a second request failed after a lost connection: {e:?}"
                );
            }
        }
    };
    assert_eq!(
        configuration.configuration.unwrap().name,
        "daily",
        "nothing was lost"
    );
}

/// On PostgreSQL a heartbeat's statement commits without waiting for the
/// WAL flush (`set_config(..., true)`, the statement's own transaction
/// only). The setting must end with that statement: every pooled
/// connection, including those that ran heartbeats, still commits with
/// `synchronous_commit` on, so leases, completions and everything else
/// wait for their flush. With the setting made for the session instead,
/// the connections that carried heartbeats answer "off" here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn heartbeats_leave_every_other_commit_flushed_needs_postgres() {
    const JOBS: usize = 8;
    const BEATS: usize = 8;
    let mut h = start(vigil_catalog::testing::postgres_options_from_env().await).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap();
    let store = h.server.catalog.store().clone();
    for i in 0..JOBS {
        let due = t0() + chrono::Duration::minutes(i as i64);
        store
            .enqueue_job(&scheduled("daily", due), Default::default())
            .await
            .unwrap();
    }
    let mut held = Vec::new();
    for n in 0..JOBS {
        let leased = h
            .coord
            .lease_job(LeaseJobRequest {
                executor_id: format!("exec-{n}"),
                capabilities: all_capabilities(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        held.push((
            format!("exec-{n}"),
            leased.job.unwrap().id,
            leased.lease_token,
        ));
    }
    // Many heartbeats at once, so they run on several pooled connections.
    let beats = futures::future::join_all(held.iter().flat_map(|(who, job, token)| {
        (0..BEATS).map(|i| {
            let mut coord = h.coord.clone();
            let request = HeartbeatJobRequest {
                job_id: job.clone(),
                executor_id: who.clone(),
                lease_token: token.clone(),
                progress: Some(JobProgress {
                    bytes_done: i as u64,
                    ..Default::default()
                }),
                ..Default::default()
            };
            async move { coord.heartbeat_job(request).await }
        })
    }))
    .await;
    for beat in &beats {
        let job = beat.as_ref().expect("heartbeat").get_ref().job.clone();
        assert_eq!(
            job.expect("the renewed job").state,
            JobState::Running as i32
        );
    }

    // Hold every connection the pool can open, the heartbeats' among them.
    let pool = store.db().writer().clone();
    let mut connections = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        connections.push(pool.acquire().await.unwrap());
    }
    for conn in &mut connections {
        let setting: String = sqlx::query_scalar("SELECT current_setting('synchronous_commit')")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(
            setting, "on",
            "a pooled connection kept a heartbeat's setting"
        );
    }
    drop(connections);

    // Each lease is still held, and completes.
    for (who, job, token) in held {
        let done = h
            .coord
            .complete_job(CompleteJobRequest {
                artifact: Some(Artifact {
                    format: ArtifactFormat::Snapshot as i32,
                    location: format!("snapshots/{job}"),
                    ..Default::default()
                }),
                job_id: job,
                executor_id: who,
                lease_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(done.job.unwrap().state, JobState::Completed as i32);
    }
}
