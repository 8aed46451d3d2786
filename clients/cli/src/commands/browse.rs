//! Looking inside snapshots without restoring them: `vigil artifacts ls`,
//! `vigil find`, `vigil diff` and `vigil dump`.

use std::collections::BTreeMap;
use std::io::Write;

use clap::Args;
use futures::TryStreamExt;
use serde_json::json;
use vigil_proto::executor::v1::{ListSnapshotEntriesRequest, SnapshotEntry};

use crate::ctx::Ctx;
use crate::error::CliError;
use crate::output::{self, list_json};
use crate::render::entry as render;

/// Arguments of `vigil artifacts ls`.
#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// Artifact id of a FULL or DATABASE backup.
    pub artifact: String,
    /// Directory to list, such as /srv/edms/documents; the top level when left out.
    pub path: Option<String>,
    /// Everything below the directory, not only its direct entries.
    #[arg(short, long)]
    pub recursive: bool,
}

/// Arguments of `vigil find`.
#[derive(Debug, Args)]
pub(crate) struct FindArgs {
    /// Artifact id of a FULL or DATABASE backup.
    pub artifact: String,
    /// `*` within a path component, `**` across them, `?` one character; a
    /// glob without `/` matches file names, such as '*.pdf'.
    pub glob: String,
}

/// Arguments of `vigil diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The older artifact.
    pub a: String,
    /// The newer artifact.
    pub b: String,
}

/// Arguments of `vigil dump`.
#[derive(Debug, Args)]
pub(crate) struct DumpArgs {
    /// Artifact id of a FULL or DATABASE backup.
    pub artifact: String,
    /// Path of a file as `vigil artifacts ls` shows it, or a database dump's name.
    pub path: String,
}

async fn entries(
    ctx: &Ctx,
    filter: ListSnapshotEntriesRequest,
) -> Result<Vec<SnapshotEntry>, CliError> {
    Ok(ctx
        .client()
        .await?
        .list_snapshot_entries(filter)
        .try_collect()
        .await?)
}

fn print_entries(ctx: &Ctx, all: &[SnapshotEntry], empty: &str) {
    if ctx.json {
        output::print_json(&list_json(all));
    } else if ctx.quiet() {
        output::print_ids(all.iter().map(|e| e.path.as_str()));
    } else if all.is_empty() {
        output::print(empty);
    } else {
        output::print(render::list(all));
    }
}

/// Runs `artifacts ls`.
pub(crate) async fn ls(ctx: &Ctx, args: LsArgs) -> Result<(), CliError> {
    let all = entries(
        ctx,
        ListSnapshotEntriesRequest {
            artifact: args.artifact,
            path: args.path.unwrap_or_default(),
            recursive: args.recursive,
            ..Default::default()
        },
    )
    .await?;
    print_entries(ctx, &all, "empty");
    Ok(())
}

/// Runs `find`.
pub(crate) async fn find(ctx: &Ctx, args: FindArgs) -> Result<(), CliError> {
    let all = entries(
        ctx,
        ListSnapshotEntriesRequest {
            artifact: args.artifact,
            glob: args.glob,
            ..Default::default()
        },
    )
    .await?;
    print_entries(ctx, &all, "no match");
    Ok(())
}

/// Runs `diff`: every entry of both snapshots, compared by path.
pub(crate) async fn diff(ctx: &Ctx, args: DiffArgs) -> Result<(), CliError> {
    let everything = |artifact: String| ListSnapshotEntriesRequest {
        artifact,
        recursive: true,
        ..Default::default()
    };
    let a = entries(ctx, everything(args.a)).await?;
    let b = entries(ctx, everything(args.b)).await?;
    let changes = compare(&a, &b);
    if ctx.json {
        output::print_json(&json!({
            "added": changes.added,
            "removed": changes.removed,
            "changed": changes.changed,
        }));
        return Ok(());
    }
    for (mark, paths) in [
        ("+", &changes.added),
        ("-", &changes.removed),
        ("M", &changes.changed),
    ] {
        for p in paths {
            output::print(format!("{mark} {p}"));
        }
    }
    if !ctx.quiet() {
        output::print(format!(
            "{} added, {} removed, {} changed",
            changes.added.len(),
            changes.removed.len(),
            changes.changed.len()
        ));
    }
    Ok(())
}

/// What differs between two snapshots, by path.
#[derive(Debug, Default, PartialEq)]
struct Changes {
    added: Vec<String>,
    removed: Vec<String>,
    changed: Vec<String>,
}

/// Paths only in `b` are added, only in `a` removed; a path in both is
/// changed when its type, content, mode or symlink target differs (a new
/// modification time alone is not a change).
fn compare(a: &[SnapshotEntry], b: &[SnapshotEntry]) -> Changes {
    let old: BTreeMap<&str, &SnapshotEntry> = a.iter().map(|e| (e.path.as_str(), e)).collect();
    let new: BTreeMap<&str, &SnapshotEntry> = b.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut out = Changes::default();
    for (path, e) in &new {
        match old.get(path) {
            None => out.added.push((*path).to_owned()),
            Some(o) if differs(o, e) => out.changed.push((*path).to_owned()),
            Some(_) => {}
        }
    }
    out.removed = old
        .keys()
        .filter(|p| !new.contains_key(*p))
        .map(|p| (*p).to_owned())
        .collect();
    out
}

fn differs(a: &SnapshotEntry, b: &SnapshotEntry) -> bool {
    a.r#type != b.r#type
        || a.size != b.size
        || a.content_digest != b.content_digest
        || a.mode != b.mode
        || a.symlink_target != b.symlink_target
}

/// Runs `dump`: the file's bytes to standard output as they arrive.
pub(crate) async fn dump(ctx: &Ctx, args: DumpArgs) -> Result<(), CliError> {
    let mut stream = ctx
        .client()
        .await?
        .read_snapshot_file(&args.artifact, &args.path)
        .await?;
    let mut out = std::io::stdout().lock();
    while let Some(msg) = stream.message().await.map_err(vigil_client::Error::from)? {
        if let Err(e) = out.write_all(&msg.chunk) {
            return write_failed(e);
        }
    }
    out.flush().or_else(write_failed)
}

fn write_failed(e: std::io::Error) -> Result<(), CliError> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        // `vigil dump ... | head` is a normal way to stop reading.
        return Ok(());
    }
    Err(CliError::input("output", format!("cannot write: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_proto::executor::v1::SnapshotEntryType;

    fn file(path: &str, digest: &str, mode: u32) -> SnapshotEntry {
        SnapshotEntry {
            path: path.into(),
            r#type: SnapshotEntryType::File as i32,
            size: 3,
            mode,
            content_digest: digest.into(),
            ..Default::default()
        }
    }

    #[test]
    fn compare_finds_added_removed_and_changed_paths() {
        let a = [
            file("/d/same", "x", 0o644),
            file("/d/gone", "y", 0o644),
            file("/d/edited", "z", 0o644),
            file("/d/chmod", "w", 0o644),
        ];
        let mut touched = file("/d/same", "x", 0o644);
        touched.mtime = Some(prost_types::Timestamp {
            seconds: 5,
            nanos: 0,
        });
        let b = [
            touched,
            file("/d/edited", "z2", 0o644),
            file("/d/chmod", "w", 0o755),
            file("/d/new", "n", 0o644),
        ];
        assert_eq!(
            compare(&a, &b),
            Changes {
                added: vec!["/d/new".into()],
                removed: vec!["/d/gone".into()],
                changed: vec!["/d/chmod".into(), "/d/edited".into()],
            }
        );
    }
}
