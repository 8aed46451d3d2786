//! The host API: [`Scheduler::start`] spawns the tick loop, the event
//! watcher, the heartbeat and the webhook delivery, and hands out the gRPC
//! service.
//!
//! The loop ticks, then sleeps until the earliest ready due time, a
//! configuration event, an explicit [`Scheduler::wake`], or the reconcile
//! interval, whichever comes first. Time decisions use the injected clock;
//! only the sleep itself uses tokio time.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vigil_proto::scheduler::v1::scheduler_service_server::{
    SchedulerService, SchedulerServiceServer,
};
use vigil_server_common::clock::SharedClock;

use crate::catalog::Catalog;
use crate::engine::Engine;
use crate::error::Result;
use crate::settings::SchedulerSettings;
use crate::{events, heartbeat, webhook};

/// Everything a host passes to start a scheduler replica.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// The catalog's gRPC endpoint, such as `http://127.0.0.1:50051`.
    pub catalog_endpoint: String,
    /// Unique id of this replica; empty means a generated one.
    pub replica_id: String,
    /// The clock every time decision reads.
    pub clock: SharedClock,
    /// The `[scheduler]` settings.
    pub settings: SchedulerSettings,
    /// The URL of this replica's `SchedulerService` (such as
    /// `http://0.0.0.0:50052`), reported in its heartbeats so that a catalog
    /// on its own can forward calls here; empty when it serves none.
    pub endpoint: String,
}

/// A running scheduler replica.
#[derive(Debug)]
pub struct Scheduler {
    engine: Arc<Engine>,
    wake: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
}

impl Scheduler {
    /// Validates the settings, connects (lazily) to the catalog and spawns
    /// the loops. They run until `shutdown` is cancelled.
    pub async fn start(opts: SchedulerOptions, shutdown: CancellationToken) -> Result<Scheduler> {
        let catalog = Catalog::connect_lazy(&opts.catalog_endpoint)?;
        Self::start_with_catalog(opts, catalog, shutdown).await
    }

    /// Like [`Scheduler::start`], with the catalog reached through `catalog`
    /// (which carries the scheduler's credentials); `opts.catalog_endpoint`
    /// is then only reported.
    pub async fn start_with_catalog(
        opts: SchedulerOptions,
        catalog: Catalog,
        shutdown: CancellationToken,
    ) -> Result<Scheduler> {
        opts.settings.validate()?;
        let replica = if opts.replica_id.trim().is_empty() {
            format!("scheduler-{}", uuid::Uuid::new_v4().simple())
        } else {
            opts.replica_id.trim().to_owned()
        };
        let notifier = webhook::spawn(
            &opts.settings,
            catalog.clone(),
            opts.clock.clone(),
            &replica,
            shutdown.clone(),
        )?;
        let engine = Engine::new(catalog, opts.clock, opts.settings, replica, notifier);
        if !opts.endpoint.is_empty() {
            engine.advertise(opts.endpoint);
        }
        tracing::info!(replica = %engine.replica(), catalog = %opts.catalog_endpoint, "scheduler starting");

        let wake = Arc::new(Notify::new());
        let (job_tx, job_rx) = mpsc::channel(events::JOB_BUFFER);
        let tasks = vec![
            tokio::spawn(heartbeat::run(engine.clone(), shutdown.clone())),
            tokio::spawn(events::run(
                engine.clone(),
                wake.clone(),
                job_tx,
                shutdown.clone(),
            )),
            tokio::spawn(run_loop(engine.clone(), wake.clone(), job_rx, shutdown)),
        ];
        Ok(Scheduler {
            engine,
            wake,
            tasks,
        })
    }

    /// The SchedulerService of this replica.
    pub fn service(&self) -> SchedulerServiceServer<impl SchedulerService> {
        SchedulerServiceServer::new(crate::service::Service::new(self.engine.clone()))
            .max_decoding_message_size(vigil_proto::MAX_REQUEST_BYTES)
    }

    /// The engine, for hosts and tests that tick by hand.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Makes the loop tick now (for example after moving a manual clock).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits for every task to finish after shutdown was cancelled.
    pub async fn stopped(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn run_loop(
    engine: Arc<Engine>,
    wake: Arc<Notify>,
    mut jobs: mpsc::Receiver<String>,
    shutdown: CancellationToken,
) {
    let reconcile = engine.settings().reconcile_interval;
    loop {
        let mut changed = Vec::new();
        while let Ok(id) = jobs.try_recv() {
            changed.push(id);
        }
        if !changed.is_empty() {
            engine.note_job_ids(&changed).await;
        }
        let wait = match engine.tick(engine.now()).await {
            Ok(report) => {
                if report.enqueued > 0
                    || report.armed > 0
                    || report.removed > 0
                    || report.alert_changes > 0
                {
                    tracing::debug!(?report, "tick");
                }
                let until_due = report
                    .next_wake
                    .map(|t| (t - engine.now()).to_std().unwrap_or(Duration::ZERO))
                    .unwrap_or(reconcile);
                let floor = if report.errors.is_empty() {
                    Duration::from_millis(5)
                } else {
                    Duration::from_secs(1)
                };
                until_due.min(reconcile).max(floor)
            }
            Err(e) => {
                tracing::warn!(error = %e, "tick failed; retrying");
                Duration::from_secs(1).min(reconcile)
            }
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    tracing::info!(replica = %engine.replica(), "scheduler stopped");
                    return;
                }
                _ = tokio::time::sleep_until(deadline) => break,
                _ = wake.notified() => break,
                Some(id) = jobs.recv() => {
                    let mut batch = vec![id];
                    while let Ok(more) = jobs.try_recv() {
                        batch.push(more);
                    }
                    engine.note_job_ids(&batch).await;
                }
            }
        }
    }
}
