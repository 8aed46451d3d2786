//! The shared gRPC server on a real ephemeral port: health, reflection v1
//! and v1alpha, and the bounded drain.

use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use vigil_proto::status::v1::status_service_server::{StatusService, StatusServiceServer};
use vigil_proto::status::v1::{GetStatusReportRequest, GetStatusReportResponse};
use vigil_server_common::server::{
    HEALTH_SERVICE, REFLECTION_V1_SERVICE, REFLECTION_V1ALPHA_SERVICE,
};
use vigil_server_common::{GrpcServer, ServerHandle, Shutdown};

const STATUS_SERVICE: &str = "vigil.status.v1.StatusService";

#[derive(Debug, Default)]
struct EmptyStatus;

#[tonic::async_trait]
impl StatusService for EmptyStatus {
    async fn get_status_report(
        &self,
        _request: tonic::Request<GetStatusReportRequest>,
    ) -> Result<tonic::Response<GetStatusReportResponse>, tonic::Status> {
        Ok(tonic::Response::new(GetStatusReportResponse::default()))
    }
}

async fn start(grace: Duration) -> (ServerHandle, Shutdown, Channel) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = Shutdown::new(grace);
    let handle = GrpcServer::builder()
        .add_service(StatusServiceServer::new(EmptyStatus))
        .spawn(listener, &shutdown)
        .unwrap();
    let channel = Channel::from_shared(handle.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    (handle, shutdown, channel)
}

async fn check(channel: &Channel, service: &str) -> Result<HealthCheckResponse, tonic::Status> {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn health_reports_overall_and_each_service_serving() {
    let (handle, _shutdown, channel) = start(Duration::from_secs(5)).await;
    for service in ["", STATUS_SERVICE] {
        let status = check(&channel, service).await.unwrap().status;
        assert_eq!(status, ServingStatus::Serving as i32, "service {service:?}");
    }
    let unknown = check(&channel, "vigil.catalog.v1.CatalogService")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound, "not served here");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn registered_service_answers_through_the_trace_layer() {
    use vigil_proto::status::v1::status_service_client::StatusServiceClient;
    let (handle, _shutdown, channel) = start(Duration::from_secs(5)).await;
    let response = StatusServiceClient::new(channel)
        .get_status_report(GetStatusReportRequest::default())
        .await
        .unwrap();
    assert_eq!(response.into_inner(), GetStatusReportResponse::default());
    handle.shutdown().await.unwrap();
}

mod reflection {
    use super::*;
    use tonic_reflection::pb::{v1, v1alpha};

    pub(super) async fn list_v1(channel: &Channel) -> Vec<String> {
        use v1::server_reflection_client::ServerReflectionClient;
        use v1::server_reflection_request::MessageRequest;
        use v1::server_reflection_response::MessageResponse;
        let request = v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new(channel.clone())
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        match stream.next().await.unwrap().unwrap().message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("unexpected reflection answer {other:?}"),
        }
    }

    pub(super) async fn list_v1alpha(channel: &Channel) -> Vec<String> {
        use v1alpha::server_reflection_client::ServerReflectionClient;
        use v1alpha::server_reflection_request::MessageRequest;
        use v1alpha::server_reflection_response::MessageResponse;
        let request = v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new(channel.clone())
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        match stream.next().await.unwrap().unwrap().message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("unexpected reflection answer {other:?}"),
        }
    }

    /// Asks v1 for the file defining `symbol`; returns its file names.
    pub(super) async fn files_for_symbol(
        channel: &Channel,
        symbol: &str,
    ) -> Result<Vec<String>, String> {
        use prost::Message as _;
        use v1::server_reflection_client::ServerReflectionClient;
        use v1::server_reflection_request::MessageRequest;
        use v1::server_reflection_response::MessageResponse;
        let request = v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(symbol.to_owned())),
        };
        let mut stream = ServerReflectionClient::new(channel.clone())
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let answer = match stream.next().await.unwrap() {
            Ok(answer) => answer,
            Err(status) => return Err(status.message().to_owned()),
        };
        match answer.message_response {
            Some(MessageResponse::FileDescriptorResponse(files)) => Ok(files
                .file_descriptor_proto
                .iter()
                .map(|raw| prost_types::FileDescriptorProto::decode(raw.as_slice()).unwrap())
                .map(|fd| fd.name().to_owned())
                .collect()),
            Some(MessageResponse::ErrorResponse(e)) => Err(e.error_message),
            other => panic!("unexpected reflection answer {other:?}"),
        }
    }
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_exactly_the_served_services() {
    let (handle, _shutdown, channel) = start(Duration::from_secs(5)).await;
    let mut expected = vec![
        HEALTH_SERVICE.to_owned(),
        REFLECTION_V1_SERVICE.to_owned(),
        REFLECTION_V1ALPHA_SERVICE.to_owned(),
        STATUS_SERVICE.to_owned(),
    ];
    expected.sort();
    let mut v1 = reflection::list_v1(&channel).await;
    v1.sort();
    assert_eq!(v1, expected);
    let mut v1alpha = reflection::list_v1alpha(&channel).await;
    v1alpha.sort();
    assert_eq!(v1alpha, expected);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn reflection_describes_vigil_and_health_symbols() {
    let (handle, _shutdown, channel) = start(Duration::from_secs(5)).await;
    let status = reflection::files_for_symbol(&channel, STATUS_SERVICE)
        .await
        .unwrap();
    assert!(
        status
            .iter()
            .any(|f| f == "vigil/status/v1/status_service.proto"),
        "{status:?}"
    );
    let health = reflection::files_for_symbol(&channel, HEALTH_SERVICE)
        .await
        .unwrap();
    assert!(
        health.iter().any(|f| f.ends_with("health.proto")),
        "{health:?}"
    );
    let missing = reflection::files_for_symbol(&channel, "vigil.nothing.v1.Nope").await;
    assert!(
        missing.is_err(),
        "unknown symbols are an error: {missing:?}"
    );
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn drain_reports_not_serving_and_is_bounded_by_grace() {
    let grace = Duration::from_millis(800);
    let (handle, shutdown, channel) = start(grace).await;
    let mut watch = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: STATUS_SERVICE.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);

    let started = Instant::now();
    shutdown.trigger();
    let next = watch.next().await.unwrap().unwrap();
    assert_eq!(next.status, ServingStatus::NotServing as i32);

    // The open watch stream would keep a graceful drain waiting forever;
    // the grace period ends it.
    tokio::time::timeout(grace * 5, handle.wait())
        .await
        .expect("server stops")
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= grace,
        "stopped before the grace period with a call open: {took:?}"
    );
    drop(watch);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server_without_touching_the_parent() {
    let (handle, shutdown, channel) = start(Duration::from_secs(5)).await;
    let addr = handle.local_addr();
    drop(handle);
    drop(channel);
    assert!(
        !shutdown.is_requested(),
        "a server's handle must not stop the whole process"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server still accepts connections after drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
