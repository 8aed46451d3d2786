//! A real webhook receiver on 127.0.0.1:0 that checks the HMAC signature
//! independently of the scheduler's code, and can fail its first requests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::Notify;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub event: String,
    pub idempotency_key: String,
    pub signature_ok: bool,
    pub body: serde_json::Value,
    pub answered: u16,
}

#[derive(Clone)]
struct Shared {
    secret: Arc<Vec<u8>>,
    fail_first: usize,
    hits: Arc<Mutex<Vec<Hit>>>,
    notify: Arc<Notify>,
}

/// A running receiver.
pub(crate) struct Receiver {
    pub url: String,
    shared: Shared,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts a receiver checking signatures with `secret` that answers 500
    /// to its first `fail_first` requests and 200 afterwards.
    pub(crate) async fn start(secret: &[u8], fail_first: usize) -> Receiver {
        let shared = Shared {
            secret: Arc::new(secret.to_vec()),
            fail_first,
            hits: Arc::default(),
            notify: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            url,
            shared,
            _server: server,
        }
    }

    /// Everything received so far.
    pub(crate) fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// Waits (event-driven, at most 10 s) until `check` holds for the hits.
    pub(crate) async fn until(&self, what: &str, check: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.shared.notify.notified();
            let hits = self.hits();
            if check(&hits) {
                return hits;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out waiting for webhooks: {what}; got {hits:#?}");
            }
        }
    }
}

async fn receive(State(s): State<Shared>, headers: HeaderMap, body: String) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let timestamp = header("x-vigil-timestamp");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&s.secret).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let signature_ok = !timestamp.is_empty() && header("x-vigil-signature") == expected;
    let mut hits = s.hits.lock().unwrap();
    let answered = if hits.len() < s.fail_first { 500 } else { 200 };
    hits.push(Hit {
        event: header("x-vigil-event"),
        idempotency_key: header("idempotency-key"),
        signature_ok,
        body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        answered,
    });
    drop(hits);
    s.notify.notify_waiters();
    StatusCode::from_u16(answered).unwrap()
}
