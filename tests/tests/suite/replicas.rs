//! Guarantee S3 with real processes: three scheduler replicas against one
//! PostgreSQL catalog, a random one killed with SIGKILL (and restarted)
//! every 2.5 s for the length of the soak (`VIGIL_SOAK_SECS`, 30 s by
//! default; set it to 120 or more for a long run). Exactly one job exists
//! per due time, and the due times form an unbroken 2-second grid: none
//! doubled, none lost. Each schedule belongs to one replica's share, and a
//! killed replica's share is taken over after the takeover delay; the
//! schedule catches up with `all`, so the due times in between are enqueued
//! then rather than recorded as missed.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use vigil_tests::postgres::fresh_database;
use vigil_tests::{Server, eventually, vigil_json, vigil_ok};

/// How long the replicas are killed and restarted, from `VIGIL_SOAK_SECS`.
fn soak() -> Duration {
    let secs = std::env::var("VIGIL_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}

fn scheduled_due_times(endpoint: &str) -> Vec<DateTime<Utc>> {
    let jobs = vigil_json(
        endpoint,
        &[
            "jobs",
            "list",
            "--configuration",
            "every_two_seconds",
            "--limit",
            "1000",
        ],
    );
    jobs.as_array()
        .unwrap()
        .iter()
        .filter(|j| j["trigger"] == "SCHEDULED")
        .map(|j| j["due_time"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn needs_postgres_three_replicas_with_random_kills_enqueue_exactly_one_job_per_due_time() {
    let url = fresh_database("replicas");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("catalog");
    let catalog = Server::start(
        "vigil-catalog",
        &["--data-dir", data.to_str().unwrap(), "--database-url", &url],
        &[],
        dir.path(),
    );
    let endpoint = catalog.endpoint();
    let yaml = dir.path().join("c.yaml");
    std::fs::write(
        &yaml,
        "configurations:\n  - name: every_two_seconds\n    kind: FULL\n    enabled: true\n    schedule:\n      cron: \"*/2 * * * * *\"\n      timezone: UTC\n      overlap: allow\n      catch_up: all\n    source:\n      paths: [/srv/data]\n",
    )
    .unwrap();
    vigil_ok(
        &endpoint,
        &["config", "apply", "-f", yaml.to_str().unwrap()],
    );

    let replica_dir = |i: usize| dir.path().join(format!("replica-{i}"));
    let start = |i: usize| {
        let d = replica_dir(i);
        Server::start(
            "vigil-scheduler",
            &["--data-dir", d.to_str().unwrap(), "--catalog", &endpoint],
            &[],
            dir.path(),
        )
    };
    let mut replicas: Vec<Server> = (0..3).map(start).collect();

    let soak = soak();
    let mut rng: u64 = 7;
    let began = Instant::now();
    let mut kills = 0;
    while began.elapsed() < soak {
        // The pace of the kills, not a wait for an event: a replica dies
        // every 2.5 s, at a random point of the 2-second firing grid.
        std::thread::sleep(Duration::from_millis(2_500));
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let victim = ((rng >> 33) % 3) as usize;
        replicas[victim].kill9();
        kills += 1;
        replicas[victim] = start(victim);
    }
    // The replicas keep firing after the last restart: wait for a due time
    // after it before stopping them.
    let last_restart = Utc::now();
    eventually(
        Duration::from_secs(60),
        "a run after the last restart",
        || {
            scheduled_due_times(&endpoint)
                .iter()
                .any(|due| *due > last_restart)
                .then_some(())
        },
    );
    for r in &mut replicas {
        r.kill9();
    }

    let due = scheduled_due_times(&endpoint);
    let distinct: BTreeSet<_> = due.iter().copied().collect();
    let expected_at_least = (soak.as_secs() / 2) as usize * 3 / 4;
    assert!(
        due.len() >= expected_at_least,
        "only {} jobs after {kills} kills in {soak:?}",
        due.len()
    );
    assert_eq!(distinct.len(), due.len(), "some due time has two jobs");
    let first = *distinct.first().unwrap();
    let last = *distinct.last().unwrap();
    let expected = (last - first).num_seconds() / 2 + 1;
    assert_eq!(
        distinct.len() as i64,
        expected,
        "due times between {first} and {last} are missing after {kills} kills"
    );
}
