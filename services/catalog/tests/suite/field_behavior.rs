//! The catalog honours the `google.api.field_behavior` annotations of its
//! protos (AIP-203), read from the descriptor set that reflection serves:
//! a REQUIRED field left out of a CatalogService request is refused with
//! INVALID_ARGUMENT naming it, and OUTPUT_ONLY fields that a client sends
//! are ignored rather than stored or refused.

use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value,
};
use tonic_types::StatusExt as _;
use vigil_catalog::CatalogOptions;
use vigil_proto::catalog::v1::*;

use crate::common::*;

const REQUIRED: i32 = 2;
const OUTPUT_ONLY: i32 = 3;

fn pool() -> DescriptorPool {
    DescriptorPool::decode(vigil_proto::FILE_DESCRIPTOR_SET).unwrap()
}

/// The fields of `message` annotated with `behavior`.
fn fields_with(
    pool: &DescriptorPool,
    message: &MessageDescriptor,
    behavior: i32,
) -> Vec<FieldDescriptor> {
    let ext = pool
        .get_extension_by_name("google.api.field_behavior")
        .expect("the field_behavior extension is defined");
    message
        .fields()
        .filter(|f| {
            matches!(f.options().get_extension(&ext).as_ref(),
                Value::List(v) if v.iter().any(|b| b.as_enum_number() == Some(behavior)))
        })
        .collect()
}

/// The field paths of every BadRequest violation of `status`.
fn bad_fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// Sends the CatalogService request of `method` with every field empty.
async fn call_empty(h: &mut Harness, method: &str) -> Result<(), tonic::Status> {
    let c = &mut h.catalog;
    match method {
        "CreateConfiguration" => c
            .create_configuration(CreateConfigurationRequest::default())
            .await
            .map(drop),
        "GetConfiguration" => c
            .get_configuration(GetConfigurationRequest::default())
            .await
            .map(drop),
        "UpdateConfiguration" => c
            .update_configuration(UpdateConfigurationRequest::default())
            .await
            .map(drop),
        "DeleteConfiguration" => c
            .delete_configuration(DeleteConfigurationRequest::default())
            .await
            .map(drop),
        "EnableConfiguration" => c
            .enable_configuration(EnableConfigurationRequest::default())
            .await
            .map(drop),
        "DisableConfiguration" => c
            .disable_configuration(DisableConfigurationRequest::default())
            .await
            .map(drop),
        "CreateJob" => c.create_job(CreateJobRequest::default()).await.map(drop),
        "GetJob" => c.get_job(GetJobRequest::default()).await.map(drop),
        "CancelJob" => c.cancel_job(CancelJobRequest::default()).await.map(drop),
        "WatchJob" => c.watch_job(WatchJobRequest::default()).await.map(drop),
        "GetArtifact" => c
            .get_artifact(GetArtifactRequest::default())
            .await
            .map(drop),
        other => panic!("{other} has REQUIRED fields: add it to this test"),
    }
}

both_backends!(a_request_without_a_required_field_is_refused_naming_it);
async fn a_request_without_a_required_field_is_refused_naming_it(options: CatalogOptions) {
    let mut h = start(options).await;
    let pool = pool();
    let service = pool
        .get_service_by_name("vigil.catalog.v1.CatalogService")
        .unwrap();
    let mut checked = 0;
    for method in service.methods() {
        let required = fields_with(&pool, &method.input(), REQUIRED);
        if required.is_empty() {
            continue;
        }
        let err = call_empty(&mut h, method.name()).await.unwrap_err();
        let named = bad_fields(&err);
        for field in required {
            assert!(
                named.iter().any(|n| n == field.name()),
                "{}: {} is REQUIRED but the refusal names {named:?}",
                method.name(),
                field.name()
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} REQUIRED fields checked");

    // Inside a resource: a configuration without its REQUIRED fields.
    let message = pool
        .get_message_by_name("vigil.catalog.v1.BackupConfiguration")
        .unwrap();
    let err = h
        .catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(BackupConfiguration::default()),
        })
        .await
        .unwrap_err();
    let named = bad_fields(&err);
    for field in fields_with(&pool, &message, REQUIRED) {
        let path = format!("configuration.{}", field.name());
        assert!(named.contains(&path), "{path} not named in {named:?}");
    }
}

/// `config` with every OUTPUT_ONLY field set to a value the server would
/// never choose, and those fields.
fn with_output_only_set(
    pool: &DescriptorPool,
    config: &BackupConfiguration,
) -> (BackupConfiguration, Vec<FieldDescriptor>) {
    let message = pool
        .get_message_by_name("vigil.catalog.v1.BackupConfiguration")
        .unwrap();
    let fields = fields_with(pool, &message, OUTPUT_ONLY);
    assert!(!fields.is_empty());
    let mut dynamic = DynamicMessage::decode(message, config.encode_to_vec().as_slice()).unwrap();
    for field in &fields {
        let value = match field.kind() {
            Kind::Message(m) if m.full_name() == "google.protobuf.Timestamp" => {
                let mut ts = DynamicMessage::new(m);
                ts.set_field_by_name("seconds", Value::I64(1_000_000_000));
                Value::Message(ts)
            }
            Kind::String => Value::String("set by the client".into()),
            other => panic!("no test value for {} of kind {other:?}", field.full_name()),
        };
        dynamic.set_field(field, value);
    }
    let sent = BackupConfiguration::decode(dynamic.encode_to_vec().as_slice()).unwrap();
    (sent, fields)
}

/// The value of `field` in `config`.
fn value_of(config: &BackupConfiguration, field: &FieldDescriptor) -> Value {
    DynamicMessage::decode(
        field.parent_message().clone(),
        config.encode_to_vec().as_slice(),
    )
    .unwrap()
    .get_field(field)
    .into_owned()
}

both_backends!(output_only_fields_sent_by_a_client_are_ignored);
async fn output_only_fields_sent_by_a_client_are_ignored(options: CatalogOptions) {
    let mut h = start(options).await;
    let pool = pool();
    let (sent, fields) = with_output_only_set(&pool, &full("outputs"));
    let created = h
        .catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(sent.clone()),
        })
        .await
        .expect("OUTPUT_ONLY fields are ignored, not refused")
        .into_inner()
        .configuration
        .unwrap();
    for field in &fields {
        assert_ne!(
            value_of(&created, field),
            value_of(&sent, field),
            "{} was taken from the request",
            field.name()
        );
    }

    // A full replacement keeps the server's values as well.
    let (mut sent, _) = with_output_only_set(&pool, &created);
    sent.description = "replaced".into();
    let updated = h
        .catalog
        .update_configuration(UpdateConfigurationRequest {
            configuration: Some(sent.clone()),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["*".into()],
            }),
        })
        .await
        .expect("OUTPUT_ONLY fields are ignored, not refused")
        .into_inner()
        .configuration
        .unwrap();
    assert_eq!(updated.description, "replaced");
    assert_eq!(updated.create_time, created.create_time);
    for field in &fields {
        assert_ne!(
            value_of(&updated, field),
            value_of(&sent, field),
            "{} was taken from the request",
            field.name()
        );
    }
}
