//! Alerts as tables.

use comfy_table::Table;
use vigil_proto::catalog::v1::Alert;

use crate::output::format::{self, or_none};
use crate::output::{Short, table};

/// The alert list.
pub(crate) fn list(alerts: &[Alert]) -> Table {
    let mut t = table([
        "SEVERITY",
        "KIND",
        "CONFIGURATION",
        "STATE",
        "OPENED",
        "LAST SEEN",
        "COUNT",
        "MESSAGE",
    ]);
    for a in alerts {
        t.add_row(vec![
            a.severity().short().to_owned(),
            a.kind().short().to_owned(),
            or_none(&a.configuration).to_owned(),
            a.state().short().to_owned(),
            format::time(a.open_time.as_ref()),
            format::ago(a.last_seen_time.as_ref()),
            a.occurrences.to_string(),
            a.message.clone(),
        ]);
    }
    t
}
