//! The admin HTTP port:
//! - `/metrics` in the OpenMetrics text format: the catalog-wide families
//!   and this process's own ([`vigil_server_common::metrics`]);
//! - `/healthz`: 200 while the process is up;
//! - `/readyz`: 200 while the catalog answers its health check as SERVING
//!   (503 otherwise, and from the start of its drain).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use vigil_auth::AuthChannel;
use vigil_catalog_client::CatalogClient;
use vigil_server_common::clock::SharedClock;

use crate::{gather, metrics};

/// The catalog service whose health `/readyz` reports.
const CATALOG_SERVICE: &str = "vigil.catalog.v1.CatalogService";

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone)]
struct AdminState {
    catalog: CatalogClient,
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
        .route("/healthz", get(|| async { (StatusCode::OK, "ok\n") }))
        .route("/readyz", get(ready))
        .with_state(AdminState {
            catalog: CatalogClient::new(catalog),
            clock,
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// The Prometheus text format, for scrapers that do not ask for OpenMetrics.
const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `/metrics`: OpenMetrics when the scraper accepts it (Prometheus does),
/// the classic text format otherwise (curl, `promtool check metrics`).
async fn scrape(State(state): State<AdminState>, headers: HeaderMap) -> impl IntoResponse {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let window = Duration::hours(metrics::WINDOW_HOURS);
    match gather(&state.catalog, state.clock.now(), window).await {
        Ok(inputs) if openmetrics => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, CONTENT_TYPE)],
            metrics::render(&inputs),
        ),
        Ok(inputs) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, TEXT_CONTENT_TYPE)],
            metrics::to_prometheus_text(&metrics::render(&inputs)),
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

async fn ready(State(state): State<AdminState>) -> (StatusCode, &'static str) {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let request = HealthCheckRequest {
        service: CATALOG_SERVICE.to_owned(),
    };
    // The health check has the catalog client's deadline, like its calls.
    let deadline = state.catalog.settings().deadline;
    let mut health = HealthClient::new(state.catalog.channel().clone());
    match tokio::time::timeout(deadline, health.check(request)).await {
        Ok(Ok(answer)) if answer.get_ref().status == ServingStatus::Serving as i32 => {
            (StatusCode::OK, "ready\n")
        }
        Ok(Ok(_)) => (StatusCode::SERVICE_UNAVAILABLE, "catalog not serving\n"),
        Ok(Err(e)) => {
            tracing::debug!(code = ?e.code(), "readiness check: catalog unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "catalog unreachable\n")
        }
        Err(_) => {
            tracing::debug!(?deadline, "readiness check: no answer from the catalog");
            (StatusCode::SERVICE_UNAVAILABLE, "catalog unreachable\n")
        }
    }
}
