//! S3 across replicas: three replicas (each with its own client) tick the
//! same catalog at every due time while random ones are aborted mid-tick
//! (the in-process stand-in for kill -9). Every due time gets exactly one
//! job and one outcome; none inside the catch-up window is lost.

use std::sync::Arc;
use std::time::Duration;

use vigil_proto::catalog::v1::CatchUpPolicy;
use vigil_scheduler::Engine;

use crate::common::*;

/// A small deterministic generator, so a failure can be replayed from its seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

const SCHEDULES: usize = 4;
const STEPS: i64 = 90;

async fn run(h: Harness, seed: u64) {
    eprintln!("replica chaos seed {seed}");
    let mut rng = Lcg(seed);
    for i in 0..SCHEDULES {
        let mut c = config(&format!("c{i}"), "*/10 * * * * *", "UTC");
        let s = c.schedule.as_mut().unwrap();
        // Runs nobody executes must not hide later due times, and a due
        // time whose every replica died is caught up, not coalesced.
        s.catch_up = CatchUpPolicy::All as i32;
        s.catch_up_window = Some(vigil_proto::duration_to_proto(Duration::from_secs(3600)));
        s.catch_up_cap = 1000;
        h.create(c).await;
    }
    let replicas: Vec<Arc<Engine>> = (0..3)
        .map(|i| h.engine(&format!("replica-{i}"), settings()))
        .collect();
    replicas[0].tick(h.now()).await.unwrap();
    let first_due = h.now() + chrono::Duration::seconds(10);
    let mut aborted = 0;
    for _ in 0..STEPS {
        h.clock.advance(chrono::Duration::seconds(10));
        let now = h.now();
        let ticks: Vec<_> = replicas
            .iter()
            .map(|r| {
                let r = r.clone();
                tokio::spawn(async move { r.tick(now).await })
            })
            .collect();
        for tick in &ticks {
            if rng.next(3) == 0 {
                for _ in 0..rng.next(200) {
                    tokio::task::yield_now().await;
                }
                tick.abort();
            }
        }
        for tick in ticks {
            match tick.await {
                Ok(report) => {
                    report.unwrap();
                }
                Err(e) if e.is_cancelled() => aborted += 1,
                Err(e) => panic!("tick panicked: {e}"),
            }
        }
    }
    assert!(aborted > 0, "the run must abort some replicas");
    // The survivors (and a fresh process) settle whatever the last step left.
    h.engine("fresh", settings()).tick(h.now()).await.unwrap();
    replicas[1].tick(h.now()).await.unwrap();

    let expected: Vec<_> = (0..STEPS)
        .map(|i| first_due + chrono::Duration::seconds(10 * i))
        .collect();
    for i in 0..SCHEDULES {
        let name = format!("c{i}");
        assert_eq!(
            h.job_due_times(&name).await,
            expected,
            "{name}: one job per due time, seed {seed}"
        );
        let (state, outcomes) = h.state(&name, 1000).await;
        assert_eq!(
            outcomes.len(),
            expected.len(),
            "{name}: one outcome per due time, seed {seed}"
        );
        assert_eq!(state.fired_count, STEPS as u64);
    }
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_needs_postgres_with_random_aborts_enqueue_exactly_once_per_due_time() {
    let h = Harness::postgres("2025-12-20T12:00:00Z").await;
    run(h, seed()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_on_sqlite_with_random_aborts_enqueue_exactly_once_per_due_time() {
    run(Harness::sqlite("2025-12-20T12:00:00Z").await, seed()).await;
}
