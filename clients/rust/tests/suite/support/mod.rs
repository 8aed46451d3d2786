//! Test servers: real tonic servers on 127.0.0.1:0 with scripted services.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::server::Router;
use vigil_client::{RetryPolicy, VigilClient};

pub(crate) mod catalog;
pub(crate) mod executor;
pub(crate) mod scheduler;

/// A running server; dropping it shuts the server down.
pub(crate) struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Running {
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `router` on an ephemeral loopback port.
pub(crate) async fn serve(router: Router) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = stopped.await;
            })
            .await
            .expect("test server");
    });
    Running {
        addr,
        stop: Some(stop),
    }
}

/// A fast retry policy, so tests do not wait long between attempts.
pub(crate) fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        multiplier: 2.0,
    }
}

/// A client of `server` with the fast retry policy and the given request timeout.
pub(crate) async fn client(server: &Running, request_timeout: Duration) -> VigilClient {
    VigilClient::builder()
        .endpoint(server.url())
        .request_timeout(Some(request_timeout))
        .retry_policy(fast_retry())
        .poll_interval(Duration::from_millis(10))
        .connect()
        .await
        .expect("connect to the test server")
}
