//! Change notifications.
//!
//! Every committed change is published on a broadcast channel (for
//! `WatchEvents` and `WatchJob`); changes to the queue also bump a watch
//! counter that wakes long-polling `LeaseJob` calls. On PostgreSQL the
//! changes are also relayed to the other catalog replicas (see `relay`).

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;
use vigil_proto::catalog::v1::{EventKind, WatchEventsResponse};

/// How many events a slow subscriber may fall behind before it is cut off.
const CAPACITY: usize = 4096;
/// How many events may wait for the relay to other replicas.
const RELAY_CAPACITY: usize = 4096;

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What changed.
    pub kind: EventKind,
    /// Configuration name or schedule key.
    pub name: String,
    /// Job, artifact or alert id; for a schedule change, the state's new etag.
    pub id: String,
    /// When it changed, in microseconds since the epoch.
    pub time: i64,
}

impl Event {
    /// The event as an API message.
    pub fn to_proto(&self) -> WatchEventsResponse {
        WatchEventsResponse {
            kind: self.kind as i32,
            name: self.name.clone(),
            id: self.id.clone(),
            event_time: Some(vigil_proto::timestamp_from_micros(self.time)),
        }
    }
}

/// The publisher side, shared by the store and the services.
#[derive(Debug, Clone)]
pub struct Events {
    changes: broadcast::Sender<Event>,
    queue: watch::Sender<u64>,
    origin: Arc<str>,
    relay: Option<mpsc::Sender<Event>>,
    closing: CancellationToken,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    /// A publisher with no subscribers yet.
    pub fn new() -> Self {
        let (changes, _) = broadcast::channel(CAPACITY);
        let (queue, _) = watch::channel(0);
        let origin = uuid::Uuid::new_v4().simple().to_string().into();
        Self {
            changes,
            queue,
            origin,
            relay: None,
            closing: CancellationToken::new(),
        }
    }

    /// A publisher that also hands every local change to the returned
    /// receiver, for relaying to other replicas.
    pub fn with_relay() -> (Self, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(RELAY_CAPACITY);
        let mut events = Self::new();
        events.relay = Some(tx);
        (events, rx)
    }

    /// Identifies this process among the replicas.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Publishes committed changes; queued or requeued jobs also wake leasers.
    pub fn publish(&self, events: impl IntoIterator<Item = Event>) {
        for event in events {
            if let Some(relay) = &self.relay
                && relay.try_send(event.clone()).is_err()
            {
                tracing::warn!(kind = ?event.kind, "event relay is full, other replicas will poll");
            }
            self.publish_local(event);
        }
    }

    /// Publishes a change that another replica made, without relaying it back.
    pub fn publish_local(&self, event: Event) {
        let wake = event.kind == EventKind::JobQueued;
        // No subscriber is fine: nobody is watching.
        let _ = self.changes.send(event);
        if wake {
            self.queue.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Ends every open stream (`WatchJob`, `WatchEvents`): the server is
    /// going away, and a drain must not wait for streams that never end.
    pub fn close(&self) {
        self.closing.cancel();
    }

    /// Cancelled once [`Events::close`] was called.
    pub fn closing(&self) -> CancellationToken {
        self.closing.clone()
    }

    /// Subscribes to every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.changes.subscribe()
    }

    /// A receiver that changes whenever a job becomes runnable.
    pub fn queue_changes(&self) -> watch::Receiver<u64> {
        self.queue.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn queued_jobs_wake_leasers() {
        let events = Events::new();
        let mut queue = events.queue_changes();
        let mut all = events.subscribe();
        let event = Event {
            kind: EventKind::JobQueued,
            name: "c".into(),
            id: "j".into(),
            time: 1,
        };
        events.publish([event.clone()]);
        assert!(queue.has_changed().unwrap());
        queue.mark_unchanged();
        assert_eq!(all.recv().await.unwrap(), event);
        events.publish([Event {
            kind: EventKind::AlertChanged,
            ..event
        }]);
        assert!(!queue.has_changed().unwrap());
    }
}
