//! Snapshot entries as tables, and the changes between two snapshots.

use comfy_table::Table;
use vigil_proto::executor::v1::{SnapshotEntry, SnapshotEntryType};

use crate::output::format;
use crate::output::{Short, table};

/// `artifacts ls` and `find`: one entry per row.
pub(crate) fn list(entries: &[SnapshotEntry]) -> Table {
    let mut t = table(["TYPE", "MODE", "SIZE", "MODIFIED", "PATH"]);
    for e in entries {
        let path = if e.symlink_target.is_empty() {
            e.path.clone()
        } else {
            format!("{} -> {}", e.path, e.symlink_target)
        };
        t.add_row(vec![
            e.r#type().short().to_lowercase(),
            format!("{:04o}", e.mode),
            match e.r#type() {
                SnapshotEntryType::File | SnapshotEntryType::Stream => format::bytes(e.size),
                _ => String::new(),
            },
            format::time(e.mtime.as_ref()),
            path,
        ]);
    }
    t
}
