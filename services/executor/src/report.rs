//! The executor's own heartbeat: every `report_interval` it tells the
//! catalog it is alive, what it can run, and which tool versions it has, so
//! the scheduler can alert on schedules no live executor can run (S8).

use std::collections::HashMap;
use std::sync::Arc;

use vigil_proto::catalog::v1::{Component, ComponentKind, ReportHeartbeatRequest};

use crate::state::Shared;

/// The component record this executor reports.
pub fn component(shared: &Shared) -> Component {
    let mut details: HashMap<String, String> = shared.engines.versions().into_iter().collect();
    details.insert("repository".into(), shared.repo.location.clone());
    details.insert(
        "repository_id".into(),
        shared.repo.repository.id().to_owned(),
    );
    details.insert(
        "running_jobs".into(),
        shared.running_jobs().len().to_string(),
    );
    details.insert(
        "concurrency".into(),
        shared.opts.settings.concurrency.to_string(),
    );
    Component {
        id: shared.opts.executor_id.clone(),
        kind: ComponentKind::Executor as i32,
        capabilities: shared.capabilities.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        host: vigil_repository::lock::hostname(),
        start_time: Some(vigil_proto::timestamp_from_system(shared.start_time)),
        details,
        endpoint: shared.opts.endpoint.clone(),
        ..Default::default()
    }
}

/// Reports until shutdown.
pub async fn report_loop(shared: Arc<Shared>) {
    let mut failing = false;
    loop {
        let req = ReportHeartbeatRequest {
            component: Some(component(&shared)),
        };
        match shared.catalog.call(req).await {
            Ok(_) => {
                if failing {
                    tracing::info!("executor heartbeat reaches the catalog again");
                }
                failing = false;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(code = ?e.code(), error = %e.message(), "executor heartbeat failed");
                }
                failing = true;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(shared.opts.settings.report_interval) => {}
            _ = shared.shutdown.cancelled() => return,
        }
    }
}
