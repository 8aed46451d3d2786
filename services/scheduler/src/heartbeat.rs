//! S9: each replica reports a heartbeat to the catalog, so the catalog and
//! the status report can say "scheduler down since ..." when it stops.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use vigil_proto::catalog::v1::{Component, ComponentKind};

use crate::engine::Engine;
use crate::error::Result;
use crate::spec::time_to_ts;

/// The component record of this replica.
pub fn component(engine: &Engine) -> Component {
    Component {
        id: engine.replica.clone(),
        kind: ComponentKind::Scheduler as i32,
        capabilities: Vec::new(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        host: host_name(),
        start_time: Some(time_to_ts(engine.started)),
        heartbeat_time: Some(time_to_ts(engine.now())),
        alive: true,
        details: Default::default(),
        endpoint: engine.endpoint.get().cloned().unwrap_or_default(),
    }
}

/// Reports one heartbeat.
pub async fn beat(engine: &Engine) -> Result<Component> {
    engine.catalog.heartbeat(component(engine)).await
}

/// Reports a heartbeat now and then every `heartbeat_interval` until shutdown.
pub async fn run(engine: Arc<Engine>, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(engine.settings.heartbeat_interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        if let Err(e) = beat(&engine).await {
            tracing::warn!(replica = %engine.replica, error = %e, "cannot report scheduler heartbeat");
        }
    }
}

use vigil_server_common::host::host_name;
