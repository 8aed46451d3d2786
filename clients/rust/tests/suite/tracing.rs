//! The trace-context interceptor end to end: the server sees `traceparent`.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use vigil_client::proto::scheduler::v1::scheduler_service_server::SchedulerServiceServer;

use support::scheduler::ScriptedScheduler;

#[tokio::test]
async fn server_receives_the_callers_trace_context() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let sched = Arc::new(ScriptedScheduler::default());
    let server = support::serve(
        tonic::transport::Server::builder()
            .add_service(SchedulerServiceServer::from_arc(sched.clone())),
    )
    .await;
    let client = support::client(&server, Duration::from_secs(5)).await;

    let span = SpanContext::new(
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        SpanId::from_hex("b7ad6b7169203331").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let cx = opentelemetry::Context::current().with_remote_span_context(span);
    // The interceptor runs when the call is first polled, on this thread
    // (the test runtime is single-threaded), while the context is attached.
    {
        let _guard = cx.attach();
        client.pause_schedule("daily_full_backup").await.unwrap();
    }
    let seen = sched.last_traceparent.lock().unwrap().clone();
    assert_eq!(
        seen.as_deref(),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    );
}
