//! Server streams: `WatchJob` (one job until it is final) and `WatchEvents`
//! (every change, filtered by kind).

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use tonic::Status;
use vigil_proto::catalog::v1::{EventKind, WatchEventsResponse, WatchJobResponse};

use crate::error::{Error, Result};
use crate::store::{Store, is_final};

/// Stream of `WatchJob` updates.
pub(super) type JobStream = Pin<Box<dyn Stream<Item = Result<WatchJobResponse, Status>> + Send>>;
/// Stream of `WatchEvents` updates.
pub(super) type EventStream =
    Pin<Box<dyn Stream<Item = Result<WatchEventsResponse, Status>> + Send>>;

/// How often a watched job is read again without a notification, to see
/// changes made through another catalog replica.
const POLL: Duration = Duration::from_secs(2);

/// Streams the job `id` now and after each change, until it is final.
pub(super) async fn watch_job(store: Store, id: &str) -> Result<JobStream> {
    // Subscribe before the first read so no change falls in between.
    let mut changes = store.events().subscribe();
    let closing = store.events().closing();
    let first = store.get_job(id).await?;
    let stream = async_stream::stream! {
        let done = is_final(first.state);
        let mut last = first.clone();
        yield Ok(WatchJobResponse { job: Some(first) });
        if done {
            return;
        }
        loop {
            // Changes first: one published before the close still reaches the watcher.
            let reread = tokio::select! {
                biased;
                event = changes.recv() => match event {
                    Ok(e) => e.id == last.id,
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return,
                },
                _ = tokio::time::sleep(POLL) => true,
                _ = closing.cancelled() => {
                    yield Err(shutting_down());
                    return;
                }
            };
            if !reread {
                continue;
            }
            match store.get_job(&last.id).await {
                Ok(job) if job != last => {
                    let done = is_final(job.state);
                    last = job.clone();
                    yield Ok(WatchJobResponse { job: Some(job) });
                    if done {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    yield Err(Status::from(e));
                    return;
                }
            }
        }
    };
    Ok(Box::pin(stream))
}

/// Streams every change of the given kinds (all when empty).
pub(super) fn watch_events(store: &Store, kinds: &[i32]) -> Result<EventStream> {
    for (i, k) in kinds.iter().enumerate() {
        if EventKind::try_from(*k).is_err() {
            return Err(Error::invalid(
                format!("kinds[{i}]"),
                format!("unknown value {k}"),
            ));
        }
    }
    let kinds = kinds.to_vec();
    let mut changes = store.events().subscribe();
    let closing = store.events().closing();
    let stream = async_stream::stream! {
        loop {
            let event = tokio::select! {
                biased;
                event = changes.recv() => event,
                _ = closing.cancelled() => {
                    yield Err(shutting_down());
                    return;
                }
            };
            match event {
                Ok(event) => {
                    if kinds.is_empty() || kinds.contains(&(event.kind as i32)) {
                        yield Ok(event.to_proto());
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "event watcher fell behind");
                    yield Err(Status::aborted("events were lost, watch again and resync"));
                    return;
                }
                Err(RecvError::Closed) => return,
            }
        }
    };
    Ok(Box::pin(stream))
}

/// What an open stream ends with when the server shuts down: UNAVAILABLE,
/// so clients watch again (elsewhere, or once the server is back).
fn shutting_down() -> Status {
    Status::unavailable("the catalog is shutting down; watch again")
}
