//! Background work of a catalog process: reclaiming expired leases (so no
//! job stays RUNNING past its lease) and reporting the catalog's own
//! heartbeat.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vigil_proto::catalog::v1::{Component, ComponentKind};

use crate::store::Store;

/// Runs until `shutdown` is cancelled.
pub(crate) async fn run(store: Store, every: Duration, shutdown: CancellationToken) {
    let every = every.max(Duration::from_millis(10));
    let me = Component {
        id: format!("catalog-{}", uuid::Uuid::new_v4().simple()),
        kind: ComponentKind::Catalog as i32,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        host: std::env::var("HOSTNAME").unwrap_or_default(),
        start_time: Some(vigil_proto::timestamp_from_micros(store.now())),
        ..Default::default()
    };
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
    }
}
