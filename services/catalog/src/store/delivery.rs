//! An alert's webhook delivery state: the `AlertDelivery` enum and a detail,
//! and the v1 text (`Alert.delivery`, `SetAlertDeliveryRequest.delivery`)
//! that schedulers used to send and that older clients still read. The text
//! forms are the ones migration `0011_alert_delivery.sql` converts.

use vigil_proto::catalog::v1::AlertDelivery;

/// The word of a state in the v1 text, or "" for none.
fn word(state: AlertDelivery) -> &'static str {
    match state {
        AlertDelivery::Unspecified => "",
        AlertDelivery::Retrying => "retrying",
        AlertDelivery::Delivered => "delivered",
        AlertDelivery::PartlyDelivered => "partly delivered",
        AlertDelivery::Failed => "failed",
    }
}

/// The v1 text of a state and its detail: `"failed: webhook 1: HTTP 500"`.
pub(crate) fn legacy_text(state: AlertDelivery, detail: &str) -> String {
    match (word(state), detail) {
        (w, "") => w.to_owned(),
        ("", d) => d.to_owned(),
        (w, d) => format!("{w}: {d}"),
    }
}

/// `text` with every URL replaced by `<url>`: a delivery detail names the
/// webhook by its number, and a URL may carry a token.
pub(crate) fn without_urls(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|word| match word.find("://") {
            Some(scheme_end) => {
                let start = word[..scheme_end]
                    .rfind(|c: char| !c.is_ascii_alphanumeric() && c != '+' && c != '-' && c != '.')
                    .map_or(0, |p| p + 1);
                let end = word
                    .find(|c: char| c.is_whitespace() || c == ')' || c == '"' || c == '\'')
                    .filter(|&e| e > scheme_end)
                    .unwrap_or(word.len());
                format!("{}<url>{}", &word[..start], &word[end..])
            }
            None => word.to_owned(),
        })
        .collect()
}

/// The state and detail that v1 text stands for; text in no known form is
/// the detail of an unspecified state.
pub(crate) fn from_legacy_text(text: &str) -> (AlertDelivery, String) {
    const STATES: [AlertDelivery; 4] = [
        AlertDelivery::Retrying,
        AlertDelivery::PartlyDelivered,
        AlertDelivery::Delivered,
        AlertDelivery::Failed,
    ];
    for state in STATES {
        let w = word(state);
        if text == w {
            return (state, String::new());
        }
        if let Some(detail) = text.strip_prefix(w).and_then(|r| r.strip_prefix(": ")) {
            return (state, detail.to_owned());
        }
    }
    (AlertDelivery::Unspecified, text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_leave_a_detail() {
        assert_eq!(
            without_urls(
                "webhook 1: error sending request for url (https://h.example/x?token=s3cret) after 5 attempts"
            ),
            "webhook 1: error sending request for url (<url>) after 5 attempts"
        );
        assert_eq!(without_urls("webhook 2: HTTP 503"), "webhook 2: HTTP 503");
    }

    #[test]
    fn the_text_forms_schedulers_sent_become_states_and_details() {
        let cases = [
            ("delivered", AlertDelivery::Delivered, ""),
            (
                "retrying: webhook 1: HTTP 503 (attempt 1 of 5)",
                AlertDelivery::Retrying,
                "webhook 1: HTTP 503 (attempt 1 of 5)",
            ),
            (
                "partly delivered: webhook 2: timed out after 5 attempts",
                AlertDelivery::PartlyDelivered,
                "webhook 2: timed out after 5 attempts",
            ),
            (
                "failed: webhook 1: HTTP 404 (not retried)",
                AlertDelivery::Failed,
                "webhook 1: HTTP 404 (not retried)",
            ),
            ("", AlertDelivery::Unspecified, ""),
            (
                "something else",
                AlertDelivery::Unspecified,
                "something else",
            ),
        ];
        for (text, state, detail) in cases {
            assert_eq!(from_legacy_text(text), (state, detail.to_owned()), "{text}");
            assert_eq!(legacy_text(state, detail), text, "{text}");
        }
    }
}
