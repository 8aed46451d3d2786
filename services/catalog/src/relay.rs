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
const BATCH: usize = 256;
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
        let payloads: Vec<String> = batch
            .drain(..)
            .map(|event| {
                let wire = Wire {
                    o: origin.clone(),
                    k: event.kind as i32,
                    n: event.name,
                    i: event.id,
                    t: event.time,
                };
                serde_json::to_string(&wire).unwrap_or_default()
            })
            .collect();
        // One statement, so one transaction (and one commit) per batch;
        // each event stays a notification of its own, in order.
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

fn republish(events: &Events, payload: &str) {
    let Ok(wire) = serde_json::from_str::<Wire>(payload) else {
        tracing::warn!("event relay received a malformed notification");
        return;
    };
    if wire.o == events.origin() {
        return;
    }
    let Ok(kind) = EventKind::try_from(wire.k) else {
        return;
    };
    events.publish_local(Event {
        kind,
        name: wire.n,
        id: wire.i,
        time: wire.t,
    });
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
    }
}
