//! The admin HTTP port: `/metrics` in the OpenMetrics text format.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use vigil_auth::AuthChannel;
use vigil_server_common::clock::SharedClock;

use crate::{gather, metrics};

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone)]
struct AdminState {
    catalog: AuthChannel,
    clock: SharedClock,
}

/// Serves `/metrics` on `listener` until `shutdown` is cancelled.
pub async fn serve_metrics(
    listener: TcpListener,
    catalog: AuthChannel,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(AdminState { catalog, clock });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn scrape(State(state): State<AdminState>) -> impl IntoResponse {
    match gather(state.catalog, state.clock.now(), Duration::days(1)).await {
        Ok(inputs) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, CONTENT_TYPE)],
            metrics::render(&inputs),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "metrics scrape failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "catalog unavailable\n".to_owned(),
            )
        }
    }
}
