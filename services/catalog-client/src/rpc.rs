//! The table of catalog RPCs the components call: each request type names
//! its RPC, the stub method that sends it, and whether a failed attempt
//! may be repeated.

use std::future::Future;
use std::pin::Pin;

use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};
use vigil_auth::AuthChannel;
use vigil_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use vigil_proto::catalog::v1::coordination_service_client::CoordinationServiceClient;
use vigil_proto::catalog::v1::*;
use vigil_server_common::telemetry::TraceContextInterceptor;

/// Largest answer accepted from the catalog (a page of 1000 configurations
/// with long scripts fits).
const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// Largest page the catalog hands out; asked for when a request names none.
const PAGE: i32 = 1000;

/// The channel of every stub: it carries the credentials and the current
/// span's trace context.
pub(crate) type TracedChannel = InterceptedService<AuthChannel, TraceContextInterceptor>;

/// Whether a failed attempt of an RPC may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// A read: sending it again changes nothing.
    Read,
    /// A write the catalog recognises when it comes again (by its lease
    /// token): it answers the same or refuses it, and never applies it
    /// twice.
    Recognised,
    /// A write that is sent once; its caller decides what a failure means.
    Never,
}

/// A catalog RPC, named by its request type.
pub trait Rpc: sealed::Dispatch + Clone + Send + 'static {
    /// The answer.
    type Response: Send + 'static;
    /// The RPC's name, such as `ListJobs`.
    const NAME: &'static str;
    /// Whether a failed attempt may be repeated.
    const REPEAT: Repeat;
}

/// A List RPC, paged through by [`crate::CatalogClient::all`].
pub trait Paged: Rpc {
    /// What a page lists.
    type Item: Send + 'static;
    /// The request for the page at `token` (the first page for an empty
    /// token), asking for the largest page unless a size is set.
    fn at_page(self, token: String) -> Self;
    /// A page's items and the token of the next page (empty after the last).
    fn into_page(response: Self::Response) -> (Vec<Self::Item>, String);
}

/// The generated stubs of both services on one channel.
#[derive(Debug, Clone)]
pub struct Stubs {
    catalog: CatalogServiceClient<TracedChannel>,
    coordination: CoordinationServiceClient<TracedChannel>,
}

impl Stubs {
    pub(crate) fn new(channel: AuthChannel) -> Self {
        let traced = InterceptedService::new(channel, TraceContextInterceptor);
        Stubs {
            catalog: CatalogServiceClient::new(traced.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            coordination: CoordinationServiceClient::new(traced)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        }
    }

    /// Opens the `WatchEvents` stream.
    pub(crate) async fn watch_events(
        mut self,
        request: WatchEventsRequest,
    ) -> Result<Response<tonic::Streaming<WatchEventsResponse>>, Status> {
        self.coordination.watch_events(request).await
    }
}

/// A boxed answer of one attempt.
pub(crate) type Answer<T> = Pin<Box<dyn Future<Output = Result<Response<T>, Status>> + Send>>;

mod sealed {
    /// How a request is sent; only the table below implements it.
    pub trait Dispatch: Sized {
        /// Sends one attempt through `stubs`.
        fn send(
            stubs: super::Stubs,
            request: tonic::Request<Self>,
        ) -> super::Answer<<Self as super::Rpc>::Response>
        where
            Self: super::Rpc;
    }
}

/// Sends one attempt of `request` through `stubs`.
pub(crate) fn send<R: Rpc>(stubs: Stubs, request: Request<R>) -> Answer<R::Response> {
    <R as sealed::Dispatch>::send(stubs, request)
}

macro_rules! rpcs {
    ($($repeat:ident $service:ident . $method:ident ($request:ident) -> $response:ident = $name:literal;)*) => {$(
        impl sealed::Dispatch for $request {
            fn send(stubs: Stubs, request: Request<Self>) -> Answer<$response> {
                let mut stub = stubs.$service;
                Box::pin(async move { stub.$method(request).await })
            }
        }
        impl Rpc for $request {
            type Response = $response;
            const NAME: &'static str = $name;
            const REPEAT: Repeat = Repeat::$repeat;
        }
    )*};
}

rpcs! {
    Read catalog.get_configuration(GetConfigurationRequest) -> GetConfigurationResponse = "GetConfiguration";
    Read catalog.list_configurations(ListConfigurationsRequest) -> ListConfigurationsResponse = "ListConfigurations";
    Read catalog.get_job(GetJobRequest) -> GetJobResponse = "GetJob";
    Read catalog.list_jobs(ListJobsRequest) -> ListJobsResponse = "ListJobs";
    Read catalog.get_artifact(GetArtifactRequest) -> GetArtifactResponse = "GetArtifact";
    Read catalog.list_artifacts(ListArtifactsRequest) -> ListArtifactsResponse = "ListArtifacts";
    Read catalog.list_alerts(ListAlertsRequest) -> ListAlertsResponse = "ListAlerts";
    Read coordination.list_schedule_states(ListScheduleStatesRequest) -> ListScheduleStatesResponse = "ListScheduleStates";
    Read coordination.get_schedule_state(GetScheduleStateRequest) -> GetScheduleStateResponse = "GetScheduleState";
    Read coordination.list_components(ListComponentsRequest) -> ListComponentsResponse = "ListComponents";
    Read coordination.summarize_history(SummarizeHistoryRequest) -> SummarizeHistoryResponse = "SummarizeHistory";
    Recognised coordination.complete_job(CompleteJobRequest) -> CompleteJobResponse = "CompleteJob";
    Recognised coordination.fail_job(FailJobRequest) -> FailJobResponse = "FailJob";
    Never catalog.create_configuration(CreateConfigurationRequest) -> CreateConfigurationResponse = "CreateConfiguration";
    Never coordination.enqueue_job(EnqueueJobRequest) -> EnqueueJobResponse = "EnqueueJob";
    Never coordination.lease_job(LeaseJobRequest) -> LeaseJobResponse = "LeaseJob";
    Never coordination.heartbeat_job(HeartbeatJobRequest) -> HeartbeatJobResponse = "HeartbeatJob";
    Never coordination.append_job_events(AppendJobEventsRequest) -> AppendJobEventsResponse = "AppendJobEvents";
    Never coordination.update_artifacts(UpdateArtifactsRequest) -> UpdateArtifactsResponse = "UpdateArtifacts";
    Never coordination.put_schedule_state(PutScheduleStateRequest) -> PutScheduleStateResponse = "PutScheduleState";
    Never coordination.put_schedule_states(PutScheduleStatesRequest) -> PutScheduleStatesResponse = "PutScheduleStates";
    Never coordination.delete_schedule_state(DeleteScheduleStateRequest) -> DeleteScheduleStateResponse = "DeleteScheduleState";
    Never coordination.commit_schedule_tick(CommitScheduleTickRequest) -> CommitScheduleTickResponse = "CommitScheduleTick";
    Never coordination.commit_schedule_ticks(CommitScheduleTicksRequest) -> CommitScheduleTicksResponse = "CommitScheduleTicks";
    Never coordination.report_heartbeat(ReportHeartbeatRequest) -> ReportHeartbeatResponse = "ReportHeartbeat";
    Never coordination.raise_alert(RaiseAlertRequest) -> RaiseAlertResponse = "RaiseAlert";
    Never coordination.resolve_alert(ResolveAlertRequest) -> ResolveAlertResponse = "ResolveAlert";
    Never coordination.set_alert_delivery(SetAlertDeliveryRequest) -> SetAlertDeliveryResponse = "SetAlertDelivery";
}

macro_rules! paged {
    ($($request:ident => $items:ident: $item:ident;)*) => {$(
        impl Paged for $request {
            type Item = $item;
            fn at_page(mut self, token: String) -> Self {
                if self.page_size <= 0 {
                    self.page_size = PAGE;
                }
                self.page_token = token;
                self
            }
            fn into_page(response: Self::Response) -> (Vec<$item>, String) {
                (response.$items, response.next_page_token)
            }
        }
    )*};
}

paged! {
    ListConfigurationsRequest => configurations: BackupConfiguration;
    ListJobsRequest => jobs: BackupJob;
    ListArtifactsRequest => artifacts: Artifact;
    ListAlertsRequest => alerts: Alert;
    ListScheduleStatesRequest => states: ScheduleState;
    ListComponentsRequest => components: Component;
}
