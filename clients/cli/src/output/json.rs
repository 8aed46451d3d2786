//! Proto messages as JSON, through the API's descriptor set.
//!
//! The mapping (documented in the CLI's README and `--help`):
//! - field names are the proto field names (`snake_case`);
//! - every field appears: scalars with their default, lists as `[]`, maps as
//!   `{}`, unset message fields as `null`; of a oneof only the set member appears;
//! - enum values are short names without the type prefix: `"FULL"`,
//!   `"COMPLETED"`, `"PARTIALLY_WORKING"`, `"MEDIUM"` (`"UNSPECIFIED"` when unset);
//! - `google.protobuf.Timestamp` is an RFC 3339 UTC string
//!   (`"2025-12-20T22:23:05Z"`), `google.protobuf.Duration` a string of
//!   seconds (`"3600s"`, `"1.5s"`), `google.protobuf.FieldMask` a
//!   comma-separated string;
//! - 64-bit integers are JSON numbers; bytes are base64.

use std::sync::OnceLock;

use base64::Engine;
use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage, Value,
};
use serde_json::{Map, Value as Json, json};

use super::names::strip_enum_prefix;

/// A generated message with its fully qualified proto name.
pub(crate) trait ProtoName: Message {
    /// For example `vigil.catalog.v1.BackupJob`.
    const NAME: &'static str;
}

macro_rules! proto_names {
    ($($path:path => $name:literal),* $(,)?) => {
        $(impl ProtoName for $path { const NAME: &'static str = $name; })*
    };
}

proto_names!(
    vigil_proto::catalog::v1::BackupConfiguration => "vigil.catalog.v1.BackupConfiguration",
    vigil_proto::catalog::v1::ApplyResult => "vigil.catalog.v1.ApplyResult",
    vigil_proto::catalog::v1::BackupJob => "vigil.catalog.v1.BackupJob",
    vigil_proto::catalog::v1::JobEvent => "vigil.catalog.v1.JobEvent",
    vigil_proto::catalog::v1::ListJobEventsResponse => "vigil.catalog.v1.ListJobEventsResponse",
    vigil_proto::catalog::v1::Artifact => "vigil.catalog.v1.Artifact",
    vigil_proto::catalog::v1::Alert => "vigil.catalog.v1.Alert",
    vigil_proto::scheduler::v1::ScheduleView => "vigil.scheduler.v1.ScheduleView",
    vigil_proto::scheduler::v1::PreviewScheduleResponse => "vigil.scheduler.v1.PreviewScheduleResponse",
    vigil_proto::executor::v1::UploadArchiveResponse => "vigil.executor.v1.UploadArchiveResponse",
    vigil_proto::executor::v1::DownloadMetadata => "vigil.executor.v1.DownloadMetadata",
    vigil_proto::executor::v1::SnapshotEntry => "vigil.executor.v1.SnapshotEntry",
    vigil_proto::catalog::v1::GetServerInfoResponse => "vigil.catalog.v1.GetServerInfoResponse",
    vigil_proto::status::v1::StatusReport => "vigil.status.v1.StatusReport",
    vigil_proto::catalog::v1::TokenInfo => "vigil.catalog.v1.TokenInfo",
    vigil_proto::catalog::v1::AuditEvent => "vigil.catalog.v1.AuditEvent",
);

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(vigil_proto::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set compiled into vigil-proto decodes")
    })
}

/// The JSON form of one message.
pub(crate) fn to_json<M: ProtoName>(message: &M) -> Json {
    let descriptor = pool()
        .get_message_by_name(M::NAME)
        .unwrap_or_else(|| panic!("{} is in the descriptor set", M::NAME));
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .expect("a message re-decodes with its own descriptor");
    message_json(&dynamic)
}

/// The JSON array of several messages.
pub(crate) fn list_json<M: ProtoName>(messages: &[M]) -> Json {
    Json::Array(messages.iter().map(to_json).collect())
}

fn message_json(message: &DynamicMessage) -> Json {
    let descriptor = message.descriptor();
    match descriptor.full_name() {
        "google.protobuf.Timestamp" => return timestamp_json(message),
        "google.protobuf.Duration" => return duration_json(message),
        "google.protobuf.FieldMask" => return field_mask_json(message),
        _ => {}
    }
    let mut out = Map::new();
    for field in descriptor.fields() {
        let in_oneof = field.containing_oneof().is_some();
        let is_message =
            matches!(field.kind(), Kind::Message(_)) && !field.is_list() && !field.is_map();
        if in_oneof && !message.has_field(&field) {
            continue;
        }
        let value = if is_message && !message.has_field(&field) {
            Json::Null
        } else {
            field_json(&field, &message.get_field(&field))
        };
        out.insert(field.name().to_owned(), value);
    }
    Json::Object(out)
}

fn field_json(field: &FieldDescriptor, value: &Value) -> Json {
    match value {
        Value::List(items) => {
            Json::Array(items.iter().map(|v| value_json(&field.kind(), v)).collect())
        }
        Value::Map(entries) => {
            let value_kind = match field.kind() {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other,
            };
            let mut sorted: Vec<_> = entries.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            let map = sorted
                .into_iter()
                .map(|(k, v)| (map_key(k), value_json(&value_kind, v)))
                .collect();
            Json::Object(map)
        }
        single => value_json(&field.kind(), single),
    }
}

fn value_json(kind: &Kind, value: &Value) -> Json {
    match value {
        Value::Bool(b) => json!(b),
        Value::I32(n) => json!(n),
        Value::I64(n) => json!(n),
        Value::U32(n) => json!(n),
        Value::U64(n) => json!(n),
        Value::F32(n) => json!(n),
        Value::F64(n) => json!(n),
        Value::String(s) => json!(s),
        Value::Bytes(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::EnumNumber(n) => match kind {
            Kind::Enum(e) => match e.get_value(*n) {
                Some(v) => json!(strip_enum_prefix(e.name(), v.name())),
                None => json!(n),
            },
            _ => json!(n),
        },
        Value::Message(m) => message_json(m),
        Value::List(items) => Json::Array(items.iter().map(|v| value_json(kind, v)).collect()),
        Value::Map(_) => Json::Null,
    }
}

fn map_key(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

fn int_field(message: &DynamicMessage, name: &str) -> i64 {
    match message.get_field_by_name(name).as_deref() {
        Some(Value::I64(n)) => *n,
        Some(Value::I32(n)) => i64::from(*n),
        _ => 0,
    }
}

fn timestamp_json(message: &DynamicMessage) -> Json {
    let seconds = int_field(message, "seconds");
    let nanos = int_field(message, "nanos") as u32;
    match chrono::DateTime::from_timestamp(seconds, nanos) {
        Some(t) => json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        None => Json::Null,
    }
}

fn duration_json(message: &DynamicMessage) -> Json {
    json!(format_proto_duration(
        int_field(message, "seconds"),
        int_field(message, "nanos") as i32
    ))
}

/// `3600s`, `1.5s`, `-0.25s`: seconds with only the fractional digits needed.
pub(crate) fn format_proto_duration(seconds: i64, nanos: i32) -> String {
    if nanos == 0 {
        return format!("{seconds}s");
    }
    let negative = seconds < 0 || nanos < 0;
    let frac = format!("{:09}", nanos.unsigned_abs());
    let frac = frac.trim_end_matches('0');
    format!(
        "{}{}.{frac}s",
        if negative { "-" } else { "" },
        seconds.unsigned_abs()
    )
}

fn field_mask_json(message: &DynamicMessage) -> Json {
    let paths = match message.get_field_by_name("paths").as_deref() {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    json!(paths.join(","))
}

/// The descriptor of a message name, for tests and documentation.
#[cfg(test)]
fn descriptor(name: &str) -> Option<prost_reflect::MessageDescriptor> {
    pool().get_message_by_name(name)
}

#[cfg(test)]
mod tests;
