//! Artifacts as tables.

use comfy_table::Table;
use vigil_proto::catalog::v1::Artifact;

use crate::output::format::{self, or_none};
use crate::output::{Short, table};

/// The artifact list.
pub(crate) fn list(artifacts: &[Artifact]) -> Table {
    let mut t = table([
        "ID",
        "CONFIGURATION",
        "KIND",
        "FORMAT",
        "STATE",
        "CREATED",
        "SIZE",
        "STORED",
        "FILES",
        "VERIFIED",
    ]);
    for a in artifacts {
        t.add_row(vec![
            a.id.clone(),
            or_none(&a.configuration).to_owned(),
            a.backup_kind().short().to_owned(),
            a.format().short().to_owned(),
            a.state().short().to_owned(),
            format::time(a.create_time.as_ref()),
            format::bytes(a.size_bytes),
            format::bytes(a.stored_bytes),
            a.file_count.to_string(),
            format::time(a.verify_time.as_ref()),
        ]);
    }
    t
}
