//! Output: human tables by default, JSON with `--json`.

pub(crate) mod format;
pub(crate) mod json;
pub(crate) mod names;

use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets};
use serde_json::Value as Json;

pub(crate) use json::{list_json, to_json};
pub(crate) use names::Short;

/// A table with the house look: condensed UTF-8 borders, wrapped to the terminal.
pub(crate) fn table<I, S>(header: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    t
}

/// Two-column key/value table for one object.
pub(crate) fn fields<'a>(rows: impl IntoIterator<Item = (&'a str, String)>) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    for (k, v) in rows {
        t.add_row(vec![k.to_owned(), v]);
    }
    t
}

/// Writes text and a newline to standard output. A closed pipe (for
/// example `vigil jobs list | head`) ends the process quietly.
pub(crate) fn print(text: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing output: {e}");
        std::process::exit(1);
    }
}

/// Prints JSON, pretty.
pub(crate) fn print_json(value: &Json) {
    print(serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned()));
}
