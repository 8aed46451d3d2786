//! The `google.api.field_behavior` annotations (AIP-203) and the comments
//! agree: a field whose comment starts with "Output only." is annotated
//! OUTPUT_ONLY, one with "Required." REQUIRED, one with "Immutable."
//! IMMUTABLE, and the other way round. The descriptor set that reflection
//! serves carries the annotations and the file that defines them.

use prost_reflect::{DescriptorPool, Value};

/// The annotation words as they start a field's comment, by enum number.
const WORDS: [(i32, &str); 3] = [(2, "Required."), (3, "Output only."), (5, "Immutable.")];

#[test]
fn comments_and_field_behavior_annotations_agree() {
    let pool = DescriptorPool::decode(vigil_proto::FILE_DESCRIPTOR_SET).unwrap();
    assert!(
        pool.get_file_by_name("google/api/field_behavior.proto")
            .is_some(),
        "reflection needs google/api/field_behavior.proto to resolve the annotations"
    );
    let ext = pool
        .get_extension_by_name("google.api.field_behavior")
        .expect("the field_behavior extension is defined");
    let mut annotated = 0;
    let mut wrong = Vec::new();
    for message in pool.all_messages() {
        if !message.package_name().starts_with("vigil.") {
            continue;
        }
        let file = message.parent_file();
        let source = file
            .file_descriptor_proto()
            .source_code_info
            .as_ref()
            .expect("the descriptor set keeps source info, for reflection's comments");
        for field in message.fields() {
            let options = field.options();
            let behaviors: Vec<i32> = match options.get_extension(&ext).as_ref() {
                Value::List(values) => values.iter().filter_map(Value::as_enum_number).collect(),
                _ => Vec::new(),
            };
            annotated += usize::from(!behaviors.is_empty());
            let comment = source
                .location
                .iter()
                .find(|l| l.path == field.path())
                .and_then(|l| l.leading_comments.as_deref())
                .unwrap_or("")
                .trim_start();
            // The words lead the comment, in the order of the annotations.
            let mut rest = comment;
            let mut said = Vec::new();
            'words: loop {
                for (number, word) in WORDS {
                    if let Some(r) = rest.strip_prefix(word) {
                        said.push(number);
                        rest = r.trim_start();
                        continue 'words;
                    }
                }
                break;
            }
            let mut marked: Vec<i32> = behaviors
                .iter()
                .copied()
                .filter(|b| WORDS.iter().any(|(n, _)| n == b))
                .collect();
            marked.sort_unstable();
            said.sort_unstable();
            if marked != said {
                wrong.push(format!(
                    "{}: annotated {marked:?}, comment says {said:?}",
                    field.full_name()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "annotations and comments disagree:\n{}",
        wrong.join("\n")
    );
    assert!(
        annotated >= 30,
        "only {annotated} annotated fields: is the extension read?"
    );
}

#[test]
fn resources_mark_their_server_set_fields_output_only() {
    let pool = DescriptorPool::decode(vigil_proto::FILE_DESCRIPTOR_SET).unwrap();
    let ext = pool
        .get_extension_by_name("google.api.field_behavior")
        .unwrap();
    let output_only = |name: &str| {
        let field = pool
            .get_message_by_name(name.rsplit_once('.').unwrap().0)
            .unwrap()
            .get_field_by_name(name.rsplit_once('.').unwrap().1)
            .unwrap();
        matches!(field.options().get_extension(&ext).as_ref(),
            Value::List(v) if v.iter().any(|b| b.as_enum_number() == Some(3)))
    };
    for field in [
        "vigil.catalog.v1.BackupConfiguration.create_time",
        "vigil.catalog.v1.BackupConfiguration.update_time",
        "vigil.catalog.v1.BackupJob.id",
        "vigil.catalog.v1.BackupJob.state",
        "vigil.catalog.v1.BackupJob.create_time",
        "vigil.catalog.v1.Alert.id",
        "vigil.catalog.v1.Alert.state",
        "vigil.catalog.v1.Alert.delivery_state",
    ] {
        assert!(output_only(field), "{field} is not OUTPUT_ONLY");
    }
    assert!(!output_only("vigil.catalog.v1.BackupConfiguration.etag"));
}
