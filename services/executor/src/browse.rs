//! Browsing a snapshot artifact: its entries under a path, page by page
//! (`ListSnapshotEntries`), and one file's bytes as stored
//! (`ReadSnapshotFile`). Both read the snapshot's tree from the repository;
//! nothing is restored to disk.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use globset::{GlobBuilder, GlobMatcher};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use vigil_proto::executor::v1::{
    ListSnapshotEntriesRequest, ListSnapshotEntriesResponse, ReadSnapshotFileRequest,
    ReadSnapshotFileResponse, SnapshotEntry, SnapshotEntryType,
};
use vigil_repository::{Entry, EntryKind, SnapshotId};

use crate::download::{ChannelWriter, artifact, finish};
use crate::error::{Error, Result};
use crate::jobs::{blocking, labels, snapshot_of};
use crate::state::Shared;

/// Entries per page when the request leaves it at 0.
const DEFAULT_PAGE: usize = 1000;
/// The most entries a page holds (larger requests are coerced, AIP-158).
const MAX_PAGE: usize = 10_000;

/// The entries of the snapshot behind artifact `id`, with its id.
pub(crate) async fn snapshot_tree(
    shared: &Arc<Shared>,
    id: &str,
) -> Result<(SnapshotId, Vec<Entry>)> {
    let artifact = artifact(shared, id).await?;
    let snap_id = snapshot_of(&artifact.location)?;
    let repo = shared.repo.repository.clone();
    let (snap, entries) =
        blocking(move || Ok((repo.snapshot(&snap_id)?, repo.snapshot_entries(&snap_id)?))).await?;
    if snap.labels.get(labels::FORMAT).map(String::as_str) == Some(labels::FORMAT_ARCHIVE) {
        return Err(Error::FailedPrecondition(format!(
            "artifact: {id} is an export archive, not a snapshot; download it to see its members"
        )));
    }
    Ok((snap_id, entries))
}

/// One page of `ListSnapshotEntries`.
pub(crate) async fn list(
    shared: &Arc<Shared>,
    req: &ListSnapshotEntriesRequest,
) -> Result<ListSnapshotEntriesResponse> {
    if req.artifact.is_empty() {
        return Err(Error::invalid("artifact", "must not be empty"));
    }
    if req.page_size < 0 {
        return Err(Error::invalid("page_size", "must not be negative"));
    }
    let dir = clean_dir(&req.path)?;
    let glob = match req.glob.as_str() {
        "" => None,
        g => Some(compile_glob(g)?),
    };
    let (_, entries) = snapshot_tree(shared, &req.artifact).await?;
    let recursive = req.recursive || glob.is_some();
    let mut found: Vec<SnapshotEntry> = if recursive {
        entries
            .iter()
            .filter(|e| is_below(&display_path(e), &dir))
            .map(to_proto)
            .filter(|e| glob.as_ref().is_none_or(|g| g.matches(&e.path)))
            .collect()
    } else {
        children(&entries, &dir)
    };
    if found.is_empty() && !dir.is_empty() && !has_dir(&entries, &dir) {
        return Err(Error::NotFound {
            what: format!("path {dir} in artifact {}", req.artifact),
        });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    let size = match req.page_size {
        0 => DEFAULT_PAGE,
        n => (n as usize).min(MAX_PAGE),
    };
    let start = match req.page_token.as_str() {
        "" => 0,
        after => found.partition_point(|e| e.path.as_str() <= after),
    };
    let page: Vec<SnapshotEntry> = found.iter().skip(start).take(size).cloned().collect();
    let next_page_token = if start + page.len() < found.len() {
        page.last().map(|e| e.path.clone()).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(ListSnapshotEntriesResponse {
        entries: page,
        next_page_token,
    })
}

/// A glob over entry paths; one without `/` matches the last component.
pub(crate) struct PathGlob {
    matcher: GlobMatcher,
    whole_path: bool,
}

impl PathGlob {
    fn matches(&self, path: &str) -> bool {
        if self.whole_path {
            self.matcher.is_match(path)
        } else {
            self.matcher
                .is_match(path.rsplit('/').next().unwrap_or(path))
        }
    }
}

fn compile_glob(glob: &str) -> Result<PathGlob> {
    let matcher = GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .map_err(|e| {
            Error::invalid(
                "glob",
                format!("{glob:?} is not a valid glob: {}", e.kind()),
            )
        })?
        .compile_matcher();
    Ok(PathGlob {
        matcher,
        whole_path: glob.contains('/'),
    })
}

/// The directory to list: "" for the top level, else "/a/b" without a trailing slash.
fn clean_dir(path: &str) -> Result<String> {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed.split('/').any(|c| c == "..") || trimmed.contains('\0') {
        return Err(Error::invalid("path", "must not contain .. or NUL"));
    }
    Ok(format!("/{}", trimmed.trim_start_matches('/')))
}

/// How an entry's path is shown: "/" + its stored path; a stream's name alone.
pub(crate) fn display_path(e: &Entry) -> String {
    let path = String::from_utf8_lossy(&e.path);
    match e.kind {
        EntryKind::Stream => path.into_owned(),
        _ => format!("/{path}"),
    }
}

fn is_below(path: &str, dir: &str) -> bool {
    dir.is_empty() || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

fn has_dir(entries: &[Entry], dir: &str) -> bool {
    entries.iter().any(|e| is_below(&display_path(e), dir))
}

/// Direct children of `dir`, with directories implied by deeper paths.
fn children(entries: &[Entry], dir: &str) -> Vec<SnapshotEntry> {
    let mut out: BTreeMap<String, SnapshotEntry> = BTreeMap::new();
    for e in entries {
        let path = display_path(e);
        if e.kind == EntryKind::Stream {
            if dir.is_empty() {
                out.insert(path, to_proto(e));
            }
            continue;
        }
        if !is_below(&path, dir) {
            continue;
        }
        let rest = &path[dir.len() + 1..];
        match rest.split_once('/') {
            None => {
                out.insert(path.clone(), to_proto(e));
            }
            Some((first, _)) => {
                let child = format!("{dir}/{first}");
                out.entry(child.clone()).or_insert_with(|| SnapshotEntry {
                    path: child,
                    r#type: SnapshotEntryType::Directory as i32,
                    mode: 0o755,
                    ..Default::default()
                });
            }
        }
    }
    out.into_values().collect()
}

/// An entry as the API shows it.
pub(crate) fn to_proto(e: &Entry) -> SnapshotEntry {
    let r#type = match e.kind {
        EntryKind::File => SnapshotEntryType::File,
        EntryKind::Dir => SnapshotEntryType::Directory,
        EntryKind::Symlink => SnapshotEntryType::Symlink,
        EntryKind::Stream => SnapshotEntryType::Stream,
    };
    let has_content = matches!(e.kind, EntryKind::File | EntryKind::Stream);
    SnapshotEntry {
        path: display_path(e),
        r#type: r#type as i32,
        size: e.size,
        mode: e.mode & 0o7777,
        mtime: (e.kind != EntryKind::Stream).then_some(prost_types::Timestamp {
            seconds: e.mtime,
            nanos: e.mtime_ns as i32,
        }),
        symlink_target: String::from_utf8_lossy(&e.target).into_owned(),
        content_digest: if has_content {
            content_digest(e)
        } else {
            String::new()
        },
    }
}

/// A digest of the entry's chunk list: chunk ids are keyed content hashes,
/// so equal digests within one repository mean equal bytes.
fn content_digest(e: &Entry) -> String {
    let mut h = blake3::Hasher::new();
    h.update(&e.size.to_le_bytes());
    for id in &e.chunks {
        h.update(&id.0);
    }
    h.finalize().to_hex()[..32].to_owned()
}

/// Starts `ReadSnapshotFile`: the entry is looked up first, so a wrong path
/// is the call's status, then its bytes stream from a blocking thread.
pub(crate) async fn read_file(
    shared: &Arc<Shared>,
    req: &ReadSnapshotFileRequest,
) -> Result<FileStream> {
    if req.artifact.is_empty() {
        return Err(Error::invalid("artifact", "must not be empty"));
    }
    if req.path.is_empty() {
        return Err(Error::invalid("path", "must not be empty"));
    }
    let (snap_id, entries) = snapshot_tree(shared, &req.artifact).await?;
    let entry = find_readable(&entries, &req.path).map_err(|e| match e {
        Error::NotFound { what } => Error::NotFound {
            what: format!("{what} in artifact {}", req.artifact),
        },
        other => other,
    })?;
    // restore_entry takes a stream's name, or a file's path as it was on the source.
    let name = match entry.kind {
        EntryKind::Stream => String::from_utf8_lossy(&entry.path).into_owned(),
        _ => display_path(entry),
    };
    let repo = shared.repo.repository.clone();
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter::new(tx.clone(), |chunk| ReadSnapshotFileResponse { chunk });
        let sent = repo
            .restore_entry(&snap_id, &name, &mut w)
            .map(drop)
            .map_err(Error::from);
        finish(&tx, sent);
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}

/// The stream of `ReadSnapshotFile`.
pub(crate) type FileStream =
    Pin<Box<dyn Stream<Item = std::result::Result<ReadSnapshotFileResponse, Status>> + Send>>;

/// The entry `path` names (a file or a stream), for `ReadSnapshotFile`.
pub(crate) fn find_readable<'a>(entries: &'a [Entry], path: &str) -> Result<&'a Entry> {
    let wanted = path.trim_end_matches('/');
    let with_slash = format!("/{}", wanted.trim_start_matches('/'));
    let entry = entries
        .iter()
        .find(|e| {
            let shown = display_path(e);
            shown == wanted || (e.kind != EntryKind::Stream && shown == with_slash)
        })
        .ok_or_else(|| Error::NotFound {
            what: format!("path {path}"),
        })?;
    match entry.kind {
        EntryKind::File | EntryKind::Stream => Ok(entry),
        EntryKind::Dir => Err(Error::invalid("path", format!("{path} is a directory"))),
        EntryKind::Symlink => Err(Error::invalid(
            "path",
            format!(
                "{path} is a symlink to {}",
                String::from_utf8_lossy(&entry.target)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: EntryKind, path: &str) -> Entry {
        let mut e = Entry::new(kind, path.as_bytes().to_vec());
        e.mode = 0o100644;
        e
    }

    fn paths(v: &[SnapshotEntry]) -> Vec<&str> {
        v.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn children_imply_the_directories_above_the_stored_roots() {
        let entries = vec![
            entry(EntryKind::Stream, "db.sqlite"),
            entry(EntryKind::Dir, "srv/app"),
            entry(EntryKind::File, "srv/app/a.txt"),
            entry(EntryKind::File, "srv/app/sub/b.txt"),
        ];
        assert_eq!(paths(&children(&entries, "")), ["/srv", "db.sqlite"]);
        assert_eq!(paths(&children(&entries, "/srv")), ["/srv/app"]);
        assert_eq!(
            paths(&children(&entries, "/srv/app")),
            ["/srv/app/a.txt", "/srv/app/sub"]
        );
        let sub = children(&entries, "/srv/app");
        assert_eq!(sub[1].r#type, SnapshotEntryType::Directory as i32);
    }

    #[test]
    fn globs_without_a_slash_match_the_last_component() {
        let g = compile_glob("*.txt").unwrap();
        assert!(g.matches("/srv/app/sub/b.txt"));
        assert!(!g.matches("/srv/app/b.txt.bak"));
        let g = compile_glob("/srv/*/a.txt").unwrap();
        assert!(g.matches("/srv/app/a.txt"));
        assert!(!g.matches("/srv/app/sub/a.txt"));
        let g = compile_glob("/srv/**/b.txt").unwrap();
        assert!(g.matches("/srv/app/sub/b.txt"));
        assert!(compile_glob("[").is_err());
    }

    #[test]
    fn readable_entries_are_files_and_streams() {
        let entries = vec![
            entry(EntryKind::Stream, "db.sqlite"),
            entry(EntryKind::Dir, "srv/app"),
            entry(EntryKind::File, "srv/app/a.txt"),
        ];
        assert!(find_readable(&entries, "/srv/app/a.txt").is_ok());
        assert!(find_readable(&entries, "srv/app/a.txt").is_ok());
        assert!(find_readable(&entries, "db.sqlite").is_ok());
        assert!(matches!(
            find_readable(&entries, "/srv/app"),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            find_readable(&entries, "/srv/nope"),
            Err(Error::NotFound { .. })
        ));
    }
}
