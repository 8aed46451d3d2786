//! Catalog events: configuration changes wake the loop at once (S1: a new
//! or edited schedule is armed within moments, not at the next reconcile
//! interval); job changes are remembered for the health checks; every
//! announced change goes to the engine's inbox ([`crate::changes`]), so a
//! tick reads only what changed. The stream reconnects by itself, and every
//! (re)connect triggers a full read in case events were lost while it was
//! down.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use vigil_backoff::Backoff;
use vigil_proto::catalog::v1::EventKind;

use crate::engine::Engine;

/// Job ids buffered between loop iterations; more are dropped (the
/// periodic reconcile still sees active jobs).
pub const JOB_BUFFER: usize = 4096;

/// Follows the catalog's event stream until shutdown.
pub async fn run(
    engine: Arc<Engine>,
    wake: Arc<Notify>,
    jobs: mpsc::Sender<String>,
    shutdown: CancellationToken,
) {
    let mut failures = Backoff::new(Duration::from_millis(200), Duration::from_secs(30)).failures();
    loop {
        match engine
            .catalog
            .watch(&[
                EventKind::ConfigurationChanged,
                EventKind::JobChanged,
                EventKind::ScheduleChanged,
            ])
            .await
        {
            Ok(mut stream) => {
                failures.reset();
                engine.changes.follow();
                wake.notify_one();
                loop {
                    let message = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        m = stream.message() => m,
                    };
                    match message {
                        Ok(Some(event)) => match event.kind() {
                            EventKind::ConfigurationChanged => {
                                tracing::debug!(configuration = %event.name, "configuration changed");
                                engine.changes.configuration(event.name);
                                wake.notify_one();
                            }
                            EventKind::ScheduleChanged => {
                                engine.changes.state(event.name, event.id);
                            }
                            EventKind::JobChanged if !event.id.is_empty() => {
                                let _ = jobs.try_send(event.id);
                            }
                            _ => {}
                        },
                        Ok(None) => {
                            tracing::warn!("catalog event stream ended; reconnecting");
                            break;
                        }
                        Err(status) => {
                            tracing::warn!(code = ?status.code(), message = status.message(), "catalog event stream failed; reconnecting");
                            break;
                        }
                    }
                }
                engine.changes.unfollow();
            }
            Err(e) => tracing::warn!(error = %e, "cannot watch catalog events; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(failures.next_delay()) => {}
        }
    }
}
