//! A live schedule on a real `vigild`: a 6-field cron firing every 10
//! seconds creates one SCHEDULED job per due time, the executor completes
//! them, `vigil schedules show` gives the next due times and the outcomes,
//! and the status report says HEALTHY and LOW.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use vigil_tests::{Server, eventually, vigil_json, vigil_ok};

fn scheduled_due_times(endpoint: &str) -> Vec<DateTime<Utc>> {
    let jobs = vigil_json(
        endpoint,
        &[
            "jobs",
            "list",
            "--configuration",
            "every_ten_seconds",
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
fn six_field_cron_every_ten_seconds_enqueues_one_job_per_due_time() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    std::fs::create_dir_all(source.join("docs")).unwrap();
    std::fs::write(source.join("docs/a.txt"), "the document").unwrap();
    let data = dir.path().join("data");
    let server = Server::start(
        "vigild",
        &["--data-dir", data.to_str().unwrap()],
        &[],
        dir.path(),
    );
    let endpoint = server.endpoint();
    let file = dir.path().join("live.yaml");
    std::fs::write(
        &file,
        format!(
            "configurations:\n  - name: every_ten_seconds\n    kind: FULL\n    enabled: true\n    schedule:\n      cron: \"*/10 * * * * *\"\n      timezone: UTC\n    source:\n      paths: [{}]\n",
            source.display()
        ),
    )
    .unwrap();
    vigil_ok(
        &endpoint,
        &["config", "apply", "-f", file.to_str().unwrap()],
    );

    let due = eventually(Duration::from_secs(60), "three scheduled runs", || {
        let due = scheduled_due_times(&endpoint);
        (due.len() >= 3).then_some(due)
    });
    let distinct: BTreeSet<_> = due.iter().collect();
    assert_eq!(
        distinct.len(),
        due.len(),
        "a due time has two jobs: {due:?}"
    );
    for d in &due {
        assert_eq!(
            d.timestamp() % 10,
            0,
            "due time {d} is not on the 10-second grid"
        );
    }
    // Consecutive due times are 10 seconds apart: none was skipped.
    let sorted: Vec<_> = distinct.into_iter().collect();
    for pair in sorted.windows(2) {
        assert_eq!((*pair[1] - *pair[0]).num_seconds(), 10, "{sorted:?}");
    }

    eventually(
        Duration::from_secs(60),
        "the scheduled runs to complete",
        || {
            let jobs = vigil_json(
                &endpoint,
                &["jobs", "list", "--configuration", "every_ten_seconds"],
            );
            let jobs = jobs.as_array().unwrap().clone();
            let done = jobs
                .iter()
                .filter(|j| j["trigger"] == "SCHEDULED" && j["state"] == "COMPLETED")
                .count();
            (done >= 3).then_some(())
        },
    );

    let show = vigil_json(&endpoint, &["schedules", "show", "every_ten_seconds"]);
    let next = show["next_due_times"].as_array().expect("next due times");
    assert!(next.len() >= 2, "{show}");
    let outcomes = show["recent_outcomes"].as_array().expect("recent outcomes");
    assert!(
        outcomes.iter().any(|o| o["outcome"] == "ENQUEUED"),
        "{show}"
    );
    assert_eq!(show["never_fired"], false);

    let report = vigil_json(&endpoint, &["status"]);
    assert_eq!(report["verdict"], "HEALTHY", "{}", report["headline"]);
    assert_eq!(report["risk"], "LOW", "{}", report["risk_reasons"]);
}
