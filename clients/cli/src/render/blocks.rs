//! A tiny document model (headings, paragraphs, bullets, tables) with two
//! renderers: Markdown for `vigil status --markdown`, and terminal text
//! with comfy-table tables for the default output.

use crate::output::table;

/// One piece of a document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    /// A heading of level 1 to 4.
    Heading(u8, String),
    /// A paragraph.
    Para(String),
    /// A bullet list.
    Bullets(Vec<String>),
    /// A table with a header row.
    Table(Vec<String>, Vec<Vec<String>>),
    /// A shell command.
    Code(String),
    /// A horizontal rule.
    Rule,
}

/// Renders blocks as GitHub-flavoured Markdown.
pub(crate) fn markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for b in blocks {
        match b {
            Block::Heading(level, text) => {
                out.push_str(&format!("{} {text}\n\n", "#".repeat(usize::from(*level))))
            }
            Block::Para(text) => out.push_str(&format!("{text}\n\n")),
            Block::Bullets(items) => {
                for i in items {
                    out.push_str(&format!("- {i}\n"));
                }
                out.push('\n');
            }
            Block::Table(header, rows) => {
                out.push_str(&md_row(header));
                out.push_str(&format!("|{}\n", "---|".repeat(header.len())));
                for r in rows {
                    out.push_str(&md_row(r));
                }
                out.push('\n');
            }
            Block::Code(cmd) => out.push_str(&format!("```bash\n{cmd}\n```\n\n")),
            Block::Rule => out.push_str("---\n\n"),
        }
    }
    out.trim_end().to_owned() + "\n"
}

fn md_row(cells: &[String]) -> String {
    let cells: Vec<String> = cells
        .iter()
        .map(|c| c.replace('|', "\\|").replace('\n', "<br>"))
        .collect();
    format!("| {} |\n", cells.join(" | "))
}

/// Renders blocks for a terminal: underlined headings and drawn tables.
pub(crate) fn terminal(blocks: &[Block]) -> String {
    let mut out = String::new();
    for b in blocks {
        match b {
            Block::Heading(level, text) => {
                let text = strip_markup(text);
                let underline = if *level <= 2 { '=' } else { '-' };
                out.push_str(&format!(
                    "{text}\n{}\n\n",
                    underline.to_string().repeat(text.chars().count())
                ));
            }
            Block::Para(text) => out.push_str(&format!("{}\n\n", strip_markup(text))),
            Block::Bullets(items) => {
                for i in items {
                    out.push_str(&format!("  - {}\n", strip_markup(i)));
                }
                out.push('\n');
            }
            Block::Table(header, rows) => {
                let mut t = table(header.iter().map(|h| h.to_uppercase()));
                for r in rows {
                    t.add_row(r.iter().map(|c| strip_markup(c)).collect::<Vec<_>>());
                }
                out.push_str(&format!("{t}\n\n"));
            }
            Block::Code(cmd) => out.push_str(&format!("    $ {cmd}\n\n")),
            Block::Rule => {}
        }
    }
    out.trim_end().to_owned() + "\n"
}

/// Drops Markdown emphasis and code marks for plain text.
fn strip_markup(text: &str) -> String {
    text.replace("**", "").replace('`', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Block> {
        vec![
            Block::Heading(1, "Report".into()),
            Block::Para("**Total:** 2".into()),
            Block::Table(
                vec!["Name".into(), "State".into()],
                vec![vec!["a|b".into(), "ok".into()]],
            ),
            Block::Bullets(vec!["one".into()]),
            Block::Code("vigil status".into()),
        ]
    }

    #[test]
    fn markdown_has_headings_pipes_and_escapes() {
        let md = markdown(&sample());
        assert!(
            md.starts_with(
                "# Report\n\n**Total:** 2\n\n| Name | State |\n|---|---|\n| a\\|b | ok |\n"
            ),
            "{md}"
        );
        assert!(md.contains("- one\n"));
        assert!(md.contains("```bash\nvigil status\n```"));
    }

    #[test]
    fn terminal_drops_markup_and_draws_tables() {
        let text = terminal(&sample());
        assert!(text.starts_with("Report\n======\n\nTotal: 2\n"), "{text}");
        assert!(text.contains("NAME") && text.contains("a|b"));
        assert!(text.contains("$ vigil status"));
    }
}
