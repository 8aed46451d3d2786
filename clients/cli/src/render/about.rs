//! The components a server knows, for `vigil version`.

use comfy_table::Table;
use vigil_proto::catalog::v1::Component;

use crate::output::format::{self, or_none};
use crate::output::{Short, table};

/// One row per component: kind, id, version, host, alive.
pub(crate) fn components(components: &[Component]) -> Table {
    let mut t = table([
        "COMPONENT",
        "ID",
        "VERSION",
        "HOST",
        "ALIVE",
        "LAST HEARTBEAT",
    ]);
    for c in components {
        t.add_row(vec![
            c.kind().short().to_lowercase(),
            c.id.clone(),
            or_none(&c.version).to_owned(),
            or_none(&c.host).to_owned(),
            format::yes_no(c.alive).to_owned(),
            format::ago(c.heartbeat_time.as_ref()),
        ]);
    }
    t
}
