//! Alerts as tables.

use comfy_table::Table;
use vigil_proto::catalog::v1::{Alert, AlertDelivery};

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
        "DELIVERY",
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
            delivery(a),
            a.message.clone(),
        ]);
    }
    t
}

/// The webhook delivery state, with the last failure when there is one:
/// `RETRYING (webhook 1: HTTP 503 (attempt 1 of 5))`.
fn delivery(a: &Alert) -> String {
    let state = match a.delivery_state() {
        AlertDelivery::Unspecified => format::NONE,
        state => state.short(),
    };
    if a.delivery_detail.is_empty() {
        state.to_owned()
    } else {
        format!("{state} ({})", a.delivery_detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delivery_column_shows_the_state_and_the_last_failure() {
        let mut a = Alert::default();
        assert_eq!(delivery(&a), format::NONE);
        a.set_delivery_state(AlertDelivery::Delivered);
        assert_eq!(delivery(&a), "DELIVERED");
        a.set_delivery_state(AlertDelivery::Retrying);
        a.delivery_detail = "webhook 1: HTTP 503 (attempt 1 of 5)".into();
        assert_eq!(
            delivery(&a),
            "RETRYING (webhook 1: HTTP 503 (attempt 1 of 5))"
        );
    }
}
