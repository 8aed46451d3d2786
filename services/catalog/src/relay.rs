//! Relaying catalog changes between replicas that share one PostgreSQL
//! database, over LISTEN/NOTIFY. Each replica notifies its own changes and
//! republishes the others' locally, so `WatchEvents`, `WatchJob` and waiting
//! leases react to changes made through any replica. Lost notifications are
//! harmless: waiting leases and job watches also poll.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vigil_proto::catalog::v1::EventKind;

use crate::events::{Event, Events};

/// The NOTIFY channel.
const CHANNEL: &str = "vigil_catalog_events";
/// Most events sent in one statement.
const BATCH: usize = 1024;
/// How long local changes gather before they are sent: under load the
/// relay sends one statement per period, not one per change, and other
/// replicas hear of a change this much later.
const GATHER: Duration = Duration::from_millis(10);
/// Largest payload of one notification; PostgreSQL refuses 8,000 bytes.
const MAX_PAYLOAD: usize = 7_000;
/// Pause before reconnecting after an error.
const BACKOFF: Duration = Duration::from_secs(1);

/// An event as it travels between replicas.
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    /// The replica that made the change.
    o: String,
    k: i32,
    n: String,
    i: String,
    t: i64,
}

/// Relays until `shutdown`: local changes out, other replicas' changes in.
pub(crate) async fn run(
    url: String,
    events: Events,
    outgoing: mpsc::Receiver<Event>,
    shutdown: CancellationToken,
) {
    tokio::join!(
        send(
            url.clone(),
            events.origin().to_owned(),
            outgoing,
            shutdown.clone()
        ),
        listen(url, events, shutdown),
    );
}

async fn send(
    url: String,
    origin: String,
    mut outgoing: mpsc::Receiver<Event>,
    shutdown: CancellationToken,
) {
    let pool = PgPoolOptions::new().max_connections(1).connect_lazy(&url);
    let pool = match pool {
        Ok(pool) => pool,
        Err(e) => {
            tracing::error!(error = %e, "event relay cannot use the database url");
            return;
        }
    };
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        batch.clear();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            n = outgoing.recv_many(&mut batch, BATCH) => if n == 0 {
                return;
            },
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(GATHER) => {}
        }
        while batch.len() < BATCH {
            let Ok(event) = outgoing.try_recv() else {
                break;
            };
            batch.push(event);
        }
        let payloads = pack(&origin, batch.drain(..));
        // One statement, so one transaction (and one commit) per batch;
        // the events stay in order.
        let sent = sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
            .bind(CHANNEL)
            .bind(payloads)
            .execute(&pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "event relay could not notify other replicas");
        }
    }
}

async fn listen(url: String, events: Events, shutdown: CancellationToken) {
    loop {
        match PgListener::connect(&url).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => loop {
                    let note = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        note = listener.recv() => note,
                    };
                    match note {
                        Ok(note) => republish(&events, note.payload()),
                        Err(e) => {
                            tracing::warn!(error = %e, "event relay lost its connection");
                            break;
                        }
                    }
                },
                Err(e) => tracing::warn!(error = %e, "event relay cannot listen"),
            },
            Err(e) => tracing::warn!(error = %e, "event relay cannot connect"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(BACKOFF) => {}
        }
    }
}

/// The payloads that carry `batch`: JSON arrays of events in order, each
/// at most [`MAX_PAYLOAD`] bytes unless one event alone is larger.
fn pack(origin: &str, batch: impl Iterator<Item = Event>) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = String::from("[");
    for event in batch {
        let wire = Wire {
            o: origin.to_owned(),
            k: event.kind as i32,
            n: event.name,
            i: event.id,
            t: event.time,
        };
        let Ok(one) = serde_json::to_string(&wire) else {
            continue;
        };
        if current.len() > 1 && current.len() + one.len() + 2 > MAX_PAYLOAD {
            current.push(']');
            payloads.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&one);
    }
    if current.len() > 1 {
        current.push(']');
        payloads.push(current);
    }
    payloads
}

/// Publishes another replica's events here. A payload is an array of
/// events, or one event as replicas of earlier versions send it.
fn republish(events: &Events, payload: &str) {
    let wires = if payload.starts_with('[') {
        serde_json::from_str::<Vec<Wire>>(payload)
    } else {
        serde_json::from_str::<Wire>(payload).map(|w| vec![w])
    };
    let Ok(wires) = wires else {
        tracing::warn!("event relay received a malformed notification");
        return;
    };
    for wire in wires {
        if wire.o == events.origin() {
            continue;
        }
        let Ok(kind) = EventKind::try_from(wire.k) else {
            continue;
        };
        events.publish_local(Event {
            kind,
            name: wire.n,
            id: wire.i,
            time: wire.t,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_notifications_are_ignored_and_others_republished() {
        let events = Events::new();
        let mut rx = events.subscribe();
        let own = Wire {
            o: events.origin().to_owned(),
            k: 2,
            n: "c".into(),
            i: "j".into(),
            t: 1,
        };
        republish(&events, &serde_json::to_string(&own).unwrap());
        assert!(rx.try_recv().is_err());
        let other = Wire {
            o: "elsewhere".into(),
            ..own
        };
        republish(&events, &serde_json::to_string(&other).unwrap());
        let got = rx.try_recv().unwrap();
        assert_eq!((got.kind, got.id.as_str()), (EventKind::JobQueued, "j"));
        republish(&events, "not json");
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_batch_travels_as_arrays_under_the_payload_limit_and_arrives_in_order() {
        let sent = Events::new();
        let batch = (0..500).map(|i| Event {
            kind: EventKind::JobChanged,
            name: format!("configuration-{i}"),
            id: format!("job-{i}"),
            time: i,
        });
        let payloads = pack(sent.origin(), batch);
        assert!(payloads.len() > 1, "500 events need more than one payload");
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let other = Events::new();
        let mut rx = other.subscribe();
        for p in &payloads {
            republish(&other, p);
        }
        for i in 0..500 {
            let got = rx.try_recv().unwrap();
            assert_eq!(
                (got.kind, got.id),
                (EventKind::JobChanged, format!("job-{i}"))
            );
        }
        assert!(rx.try_recv().is_err());
        // The sender's own replica ignores all of them.
        let mut own = sent.subscribe();
        for p in &payloads {
            republish(&sent, p);
        }
        assert!(own.try_recv().is_err());
    }
}
