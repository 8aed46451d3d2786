//! Output: human tables by default, JSON with `--json`.

pub(crate) mod format;
pub(crate) mod json;
pub(crate) mod names;

use std::io::{IsTerminal, Write};

use comfy_table::{ContentArrangement, Table, presets};
use serde_json::Value as Json;

pub(crate) use json::{list_json, to_json};
pub(crate) use names::Short;

/// A table with the house look on a terminal (condensed UTF-8 borders,
/// wrapped to its width); plain aligned columns, one record per line, when
/// standard output is not a terminal or its width is unknown or zero.
pub(crate) fn table<I, S>(header: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut t = styled(Table::new());
    t.set_header(header);
    t
}

/// Two-column key/value table for one object.
pub(crate) fn fields<'a>(rows: impl IntoIterator<Item = (&'a str, String)>) -> Table {
    let mut t = styled(Table::new());
    for (k, v) in rows {
        t.add_row(vec![k.to_owned(), v]);
    }
    t
}

/// Borders and wrapping on a usable terminal, plain columns otherwise.
fn styled(mut t: Table) -> Table {
    if terminal_width(&t).is_some() {
        t.load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        t.force_no_tty()
            .load_style(presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled);
    }
    t
}

/// The width of the terminal on standard output, when there is one and it
/// reports a usable width (`script` and some CI consoles report zero).
fn terminal_width(t: &Table) -> Option<u16> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    t.width().filter(|w| *w > 0)
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

/// `-q` lists: one id or name per line, nothing for an empty list.
pub(crate) fn print_ids<'a>(ids: impl IntoIterator<Item = &'a str>) {
    for id in ids {
        print(id);
    }
}

/// Prints JSON, pretty.
pub(crate) fn print_json(value: &Json) {
    print(serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned()));
}
