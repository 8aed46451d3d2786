//! JSON log lines: one object per event, with unique keys and plain values.
//!
//! `tracing-subscriber`'s own JSON format repeats a key when a span has a
//! field called `name` (`"name":"daily_full…","name":"job"`) and writes
//! `Option`s and lists as Rust debug text. This layer writes instead:
//!
//! - `timestamp`, `level`, `target`, `message`, then the event's fields;
//!   a field named like one of those four (or `spans`) is written as
//!   `fields.<name>`;
//! - `spans`: the event's spans from the root, each an object with the
//!   span's name under `span` and its fields beside it (a field called
//!   `span` becomes `fields.span`);
//! - values as JSON: numbers and booleans as such, `None` as `null`,
//!   `Some(x)` as `x`, and debug text that is JSON (lists of strings, maps,
//!   quoted strings) as that JSON.

use std::io::Write as _;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Keys of every line that fields never take.
const RESERVED: &[&str] = &["timestamp", "level", "target", "message", "spans"];

/// The layer writing one JSON object per event to `W`.
pub(crate) struct JsonLayer<W> {
    make_writer: W,
}

impl<W> JsonLayer<W> {
    pub(crate) fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// The recorded fields of a span, kept in its extensions.
struct SpanFields(Map<String, Value>);

impl<S, W> Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = FieldMap::default();
        attrs.record(&mut fields);
        span.extensions_mut().insert(SpanFields(fields.0));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(map)) = extensions.get_mut::<SpanFields>() {
            let mut fields = FieldMap(std::mem::take(map));
            values.record(&mut fields);
            *map = fields.0;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert("timestamp".into(), now().into());
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("target".into(), metadata.target().into());
        let mut fields = FieldMap::default();
        event.record(&mut fields);
        let mut fields = fields.0;
        let message = fields
            .remove("message")
            .unwrap_or(Value::String(String::new()));
        line.insert("message".into(), message);
        for (key, value) in fields {
            insert_unique(&mut line, RESERVED, key, value);
        }
        if let Some(scope) = ctx.event_scope(event) {
            let spans: Vec<Value> = scope
                .from_root()
                .map(|span| {
                    let mut entry = Map::new();
                    entry.insert("span".into(), span.name().into());
                    if let Some(SpanFields(map)) = span.extensions().get::<SpanFields>() {
                        for (key, value) in map {
                            insert_unique(&mut entry, &["span"], key.clone(), value.clone());
                        }
                    }
                    Value::Object(entry)
                })
                .collect();
            line.insert("spans".into(), Value::Array(spans));
        }
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        // A log line that cannot be written has nowhere else to go.
        let _ = self.make_writer.make_writer().write_all(text.as_bytes());
    }
}

/// One JSON error line written without the subscriber (before it exists).
pub(crate) fn error_line(target: &str, message: &str, fields: &[(&str, &str)]) -> String {
    let mut line = Map::new();
    line.insert("timestamp".into(), now().into());
    line.insert("level".into(), "ERROR".into());
    line.insert("target".into(), target.into());
    line.insert("message".into(), message.into());
    for (key, value) in fields {
        insert_unique(&mut line, RESERVED, (*key).to_owned(), (*value).into());
    }
    Value::Object(line).to_string()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Inserts `key`, renamed `fields.<key>` when it is reserved or taken.
fn insert_unique(map: &mut Map<String, Value>, reserved: &[&str], key: String, value: Value) {
    if reserved.contains(&key.as_str()) || map.contains_key(&key) {
        map.insert(format!("fields.{key}"), value);
    } else {
        map.insert(key, value);
    }
}

/// Records fields as JSON values.
#[derive(Default)]
struct FieldMap(Map<String, Value>);

impl Visit for FieldMap {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field, Value::from(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        let value = if field.name() == "message" {
            Value::String(text)
        } else {
            plain(&text)
        };
        self.insert(field, value);
    }
}

impl FieldMap {
    fn insert(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_owned(), value);
    }
}

/// Debug text as a plain JSON value: `None` is null, `Some(x)` is `x`,
/// JSON-shaped text (`["a", "b"]`, `{"k": "v"}`, `"s"`) is that JSON.
pub(crate) fn plain(text: &str) -> Value {
    if text == "None" {
        return Value::Null;
    }
    if let Some(inner) = text.strip_prefix("Some(").and_then(|t| t.strip_suffix(')')) {
        return plain(inner);
    }
    if text.starts_with(['[', '{', '"'])
        && let Ok(value) = serde_json::from_str::<Value>(text)
    {
        return value;
    }
    Value::String(text.to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn span_and_event_names_do_not_clash_and_values_are_plain() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(JsonLayer::new(buffer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("job", name = "daily_full_backup_1", spans = 3);
            let _entered = span.enter();
            let addr: Option<std::net::SocketAddr> = Some("127.0.0.1:56161".parse().unwrap());
            let file: Option<std::path::PathBuf> = None;
            let list = vec!["backup:FULL".to_owned(), "restore".to_owned()];
            tracing::info!(name = "x", level = 2, addr = ?addr, config_file = ?file, capabilities = ?list, "started");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["message"], "started");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["fields.level"], 2);
        assert_eq!(line["name"], "x");
        assert_eq!(line["addr"], "127.0.0.1:56161");
        assert_eq!(line["config_file"], Value::Null);
        assert_eq!(
            line["capabilities"],
            serde_json::json!(["backup:FULL", "restore"])
        );
        assert_eq!(line["spans"][0]["span"], "job");
        assert_eq!(line["spans"][0]["name"], "daily_full_backup_1");
        assert_eq!(line["spans"][0]["spans"], 3);
        assert!(!text.contains("Some("), "{text}");
    }
}
