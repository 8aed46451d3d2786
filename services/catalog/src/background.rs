//! Background work of a catalog process: reclaiming expired leases (so no
//! job stays RUNNING past its lease), reporting the catalog's own
//! heartbeat, and every few minutes the housekeeping that keeps the catalog
//! bounded (deleting long-dead components, pruning old history) and its
//! query plans good (SQLite's planner statistics).

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vigil_proto::catalog::v1::{Component, ComponentKind};

use crate::store::Store;

/// How often long-dead components are deleted and old history pruned.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);

/// Deletes long-dead components and prunes old history; failures are logged.
async fn housekeeping(store: &Store) {
    match store.delete_gone_components().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            deleted = n,
            "deleted components without a heartbeat for long"
        ),
        Err(e) => tracing::warn!(error = %e, "deleting dead components failed"),
    }
    match store.prune_history().await {
        Ok(p) if p.jobs + p.outcomes > 0 => {
            tracing::info!(jobs = p.jobs, outcomes = p.outcomes, "pruned old history");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "pruning old history failed"),
    }
    if let Err(e) = store.db().refresh_statistics().await {
        tracing::warn!(error = %e, "refreshing the planner's statistics failed");
    }
}

/// Runs until `shutdown` is cancelled.
pub(crate) async fn run(store: Store, every: Duration, shutdown: CancellationToken) {
    let every = every.max(Duration::from_millis(10));
    let me = Component {
        id: format!("catalog-{}", uuid::Uuid::new_v4().simple()),
        kind: ComponentKind::Catalog as i32,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        host: vigil_server_common::host::host_name(),
        start_time: Some(vigil_proto::timestamp_from_micros(store.now())),
        ..Default::default()
    };
    let mut housekept: Option<tokio::time::Instant> = None;
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match store.reclaim_expired_leases().await {
            Ok(r) if r.requeued + r.failed > 0 => {
                tracing::info!(
                    requeued = r.requeued,
                    failed = r.failed,
                    "reclaimed expired leases"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "lease reclaim failed"),
        }
        if let Err(e) = store.report_heartbeat(&me).await {
            tracing::warn!(error = %e, "catalog heartbeat failed");
        }
        if housekept.is_none_or(|t| t.elapsed() >= HOUSEKEEPING_EVERY) {
            housekept = Some(tokio::time::Instant::now());
            housekeeping(&store).await;
        }
    }
}
