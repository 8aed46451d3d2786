//! Alert webhooks: each alert transition (opened, resolved) caused by this
//! replica is POSTed as JSON to every configured URL.
//!
//! - Signed: `X-Vigil-Signature: sha256=<hex>` is the HMAC-SHA256 of
//!   `"<X-Vigil-Timestamp>.<body>"` with the secret from
//!   `webhook_secret_env`, so receivers can check origin and freshness.
//! - Deduplicated: one delivery per alert transition; every attempt carries
//!   the same `Idempotency-Key: <alert id>:<opened|resolved>` header.
//! - Retried with exponential backoff, bounded by `webhook_max_attempts`
//!   and `webhook_max_backoff`, with jitter (`vigil_backoff`). A 4xx answer
//!   other than 408 and 429 is final.
//! - The delivery state is recorded on the alert with SetAlertDelivery.
//!   Webhook URLs often embed tokens, so states name a webhook by its
//!   position (`webhook 1`), never by its URL.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use vigil_backoff::Backoff;
use vigil_proto::catalog::v1::{Alert, AlertDelivery, AlertKind, AlertSeverity, AlertState};
use vigil_server_common::clock::SharedClock;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::settings::SchedulerSettings;
use crate::spec::ts_to_time;

/// Header with the HMAC signature.
pub const SIGNATURE_HEADER: &str = "x-vigil-signature";
/// Header with the signing time (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "x-vigil-timestamp";
/// Header with the event name.
pub const EVENT_HEADER: &str = "x-vigil-event";
/// Header with the delivery's idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Deliveries remembered for deduplication.
const REMEMBERED: usize = 10_000;
/// Deliveries in flight at once.
const CONCURRENT: usize = 8;

/// An alert transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The alert was opened.
    Opened,
    /// The alert was resolved.
    Resolved,
}

impl Transition {
    fn word(self) -> &'static str {
        match self {
            Transition::Opened => "opened",
            Transition::Resolved => "resolved",
        }
    }
}

/// Hands alert transitions to the delivery task.
#[derive(Debug, Clone)]
pub struct Notifier {
    tx: mpsc::UnboundedSender<(Alert, Transition)>,
}

impl Notifier {
    /// Queues the delivery of a transition.
    pub fn notify(&self, alert: Alert, transition: Transition) {
        if self.tx.send((alert, transition)).is_err() {
            tracing::warn!("webhook delivery task has stopped; transition not delivered");
        }
    }
}

/// The secret, kept out of debug output.
#[derive(Clone)]
struct Secret(Arc<[u8]>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What the delivery task needs.
#[derive(Debug, Clone)]
struct Deliverer {
    http: reqwest::Client,
    urls: Arc<[String]>,
    secret: Option<Secret>,
    catalog: Catalog,
    clock: SharedClock,
    replica: String,
    max_attempts: u32,
    backoff: Backoff,
}

/// Starts the delivery task when webhooks are configured.
pub fn spawn(
    settings: &SchedulerSettings,
    catalog: Catalog,
    clock: SharedClock,
    replica: &str,
    shutdown: CancellationToken,
) -> Result<Option<Notifier>> {
    if settings.webhook_urls.is_empty() {
        return Ok(None);
    }
    let secret = settings
        .webhook_secret()?
        .map(|bytes| Secret(Arc::from(bytes)));
    if secret.is_none() {
        tracing::warn!("no webhook secret is configured; webhooks are sent unsigned");
    }
    let http = reqwest::Client::builder()
        .timeout(settings.webhook_timeout)
        .user_agent(concat!("vigil-scheduler/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Settings {
            setting: "scheduler.webhook_urls".into(),
            reason: e.to_string(),
        })?;
    let deliverer = Deliverer {
        http,
        urls: settings.webhook_urls.clone().into(),
        secret,
        catalog,
        clock,
        replica: replica.to_owned(),
        max_attempts: settings.webhook_max_attempts.max(1),
        backoff: Backoff::new(
            settings.webhook_initial_backoff,
            settings.webhook_max_backoff,
        ),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(deliverer, rx, shutdown));
    Ok(Some(Notifier { tx }))
}

async fn run(
    d: Deliverer,
    mut rx: mpsc::UnboundedReceiver<(Alert, Transition)>,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(CONCURRENT));
    let mut seen: HashSet<String> = HashSet::new();
    let mut order: VecDeque<String> = VecDeque::new();
    loop {
        let (alert, transition) = tokio::select! {
            _ = shutdown.cancelled() => return,
            next = rx.recv() => match next {
                Some(item) => item,
                None => return,
            },
        };
        let key = format!("{}:{}", alert.id, transition.word());
        if !seen.insert(key.clone()) {
            continue;
        }
        order.push_back(key.clone());
        if order.len() > REMEMBERED
            && let Some(old) = order.pop_front()
        {
            seen.remove(&old);
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let d = d.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = d.deliver(&alert, transition, &key) => {}
            }
            drop(permit);
        });
    }
}

impl Deliverer {
    /// Delivers one transition to every URL and records the outcome.
    async fn deliver(&self, alert: &Alert, transition: Transition, key: &str) {
        let body = payload(alert, transition, key, &self.replica).to_string();
        let event = format!("alert.{}", transition.word());
        let results = futures::future::join_all(
            self.urls
                .iter()
                .enumerate()
                .map(|(i, url)| self.deliver_one(alert, i + 1, url, &event, &body, key)),
        )
        .await;
        let failed: Vec<String> = results.into_iter().filter_map(|r| r.err()).collect();
        let state = if failed.is_empty() {
            AlertDelivery::Delivered
        } else if failed.len() == self.urls.len() {
            AlertDelivery::Failed
        } else {
            AlertDelivery::PartlyDelivered
        };
        let detail = failed.join("; ");
        tracing::info!(alert = %alert.dedup_key, transition = transition.word(), delivery = state.as_str_name(), detail = %detail, "webhook delivery finished");
        self.record(alert, state, &detail).await;
    }

    async fn deliver_one(
        &self,
        alert: &Alert,
        index: usize,
        url: &str,
        event: &str,
        body: &str,
        key: &str,
    ) -> Result<(), String> {
        for attempt in 1..=self.max_attempts {
            let result = self.post(url, event, body, key, attempt).await;
            let failure = match result {
                Ok(status) if status.is_success() => return Ok(()),
                Ok(status) => {
                    let retryable = status.is_server_error()
                        || status == reqwest::StatusCode::REQUEST_TIMEOUT
                        || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                    if !retryable {
                        return Err(format!(
                            "webhook {index}: HTTP {} (not retried)",
                            status.as_u16()
                        ));
                    }
                    format!("HTTP {}", status.as_u16())
                }
                Err(e) => describe(&e),
            };
            if attempt == self.max_attempts {
                return Err(format!(
                    "webhook {index}: {failure} after {attempt} attempts"
                ));
            }
            self.record(
                alert,
                AlertDelivery::Retrying,
                &format!(
                    "webhook {index}: {failure} (attempt {attempt} of {})",
                    self.max_attempts
                ),
            )
            .await;
            tokio::time::sleep(self.backoff.delay(attempt)).await;
        }
        Err(format!("webhook {index}: not attempted"))
    }

    async fn post(
        &self,
        url: &str,
        event: &str,
        body: &str,
        key: &str,
        attempt: u32,
    ) -> reqwest::Result<reqwest::StatusCode> {
        let timestamp = self.clock.now().timestamp().to_string();
        let mut req = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_HEADER, event)
            .header(TIMESTAMP_HEADER, &timestamp)
            .header(IDEMPOTENCY_HEADER, key)
            .header("x-vigil-delivery-attempt", attempt.to_string());
        if let Some(secret) = &self.secret {
            req = req.header(SIGNATURE_HEADER, sign(&secret.0, &timestamp, body));
        }
        Ok(req.body(body.to_owned()).send().await?.status())
    }

    async fn record(&self, alert: &Alert, state: AlertDelivery, detail: &str) {
        if alert.id.is_empty() {
            return;
        }
        if let Err(e) = self.catalog.set_delivery(&alert.id, state, detail).await {
            tracing::warn!(alert = %alert.dedup_key, error = %e, "cannot record webhook delivery state");
        }
    }
}

/// The signature header value for `body` signed at `timestamp`.
pub fn sign(secret: &[u8], timestamp: &str, body: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A transport error without the URL (which may hold a token).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    if e.is_connect() {
        return "connection failed".into();
    }
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<webhook url>");
    }
    text
}

/// The JSON body of a delivery.
pub fn payload(
    alert: &Alert,
    transition: Transition,
    key: &str,
    replica: &str,
) -> serde_json::Value {
    let time = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .map(|t| serde_json::Value::String(crate::plan::stamp(ts_to_time(t))))
            .unwrap_or(serde_json::Value::Null)
    };
    let kind = AlertKind::try_from(alert.kind).unwrap_or(AlertKind::Unspecified);
    let severity = AlertSeverity::try_from(alert.severity).unwrap_or(AlertSeverity::Unspecified);
    let state = AlertState::try_from(alert.state).unwrap_or(AlertState::Unspecified);
    serde_json::json!({
        "event": format!("alert.{}", transition.word()),
        "idempotency_key": key,
        "sent_by": replica,
        "alert": {
            "id": alert.id,
            "kind": kind.as_str_name().trim_start_matches("ALERT_KIND_"),
            "severity": severity.as_str_name().trim_start_matches("ALERT_SEVERITY_"),
            "state": state.as_str_name().trim_start_matches("ALERT_STATE_"),
            "configuration": alert.configuration,
            "message": alert.message,
            "dedup_key": alert.dedup_key,
            "open_time": time(&alert.open_time),
            "last_seen_time": time(&alert.last_seen_time),
            "resolve_time": time(&alert.resolve_time),
            "occurrences": alert.occurrences,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_covers_timestamp_and_body() {
        let a = sign(b"s3cret", "1766275200", "{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64, "{a}");
        assert_ne!(a, sign(b"s3cret", "1766275201", "{}"));
        assert_ne!(a, sign(b"s3cret", "1766275200", "{ }"));
        assert_ne!(a, sign(b"other", "1766275200", "{}"));
        assert_eq!(a, sign(b"s3cret", "1766275200", "{}"));
    }

    #[test]
    fn payload_names_kind_and_transition() {
        let alert = Alert {
            id: "a1".into(),
            kind: AlertKind::ScheduleDown as i32,
            severity: AlertSeverity::Critical as i32,
            state: AlertState::Open as i32,
            dedup_key: "schedule-down:nightly".into(),
            ..Default::default()
        };
        let p = payload(&alert, Transition::Opened, "a1:opened", "r1");
        assert_eq!(p["event"], "alert.opened");
        assert_eq!(p["alert"]["kind"], "SCHEDULE_DOWN");
        assert_eq!(p["alert"]["severity"], "CRITICAL");
        assert_eq!(p["alert"]["open_time"], serde_json::Value::Null);
    }
}
