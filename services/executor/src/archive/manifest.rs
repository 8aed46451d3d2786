//! The archive manifest: what the archive holds, member by member, and the
//! checks every manifest passes before a single member is trusted.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The `format` value of every manifest.
pub const FORMAT: &str = "vigil-export";
/// The manifest version this code reads and writes.
pub const VERSION: u32 = 1;
/// Longest member path, in bytes.
pub const MAX_PATH: usize = 4096;

/// What a member is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link; `target` holds where it points.
    Symlink,
    /// A named stream such as a database dump.
    Stream,
}

impl MemberKind {
    /// Whether members of this kind carry data in the archive body.
    pub fn has_data(self) -> bool {
        matches!(self, MemberKind::File | MemberKind::Stream)
    }
}

/// One member of the archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Relative path, `/`-separated, no `.` or `..` components.
    pub path: String,
    /// What it is.
    #[serde(rename = "type")]
    pub kind: MemberKind,
    /// Permission bits (`0o7777` at most).
    #[serde(default)]
    pub mode: u32,
    /// Modification time, seconds since the Unix epoch.
    #[serde(default)]
    pub mtime: i64,
    /// Modification time, nanoseconds.
    #[serde(default)]
    pub mtime_nsec: u32,
    /// Content size in bytes (files and streams).
    #[serde(default)]
    pub size: u64,
    /// Bytes the member takes in the archive body (its zstd frame).
    #[serde(default)]
    pub stored_size: u64,
    /// BLAKE3 of the content, 64 hex digits (files and streams).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub blake3: String,
    /// Symlink target (symlinks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Database engine of a dump stream: `postgres`, `mysql` or `sqlite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

/// The database dump an archive carries, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    /// Engine: `postgres`, `mysql` or `sqlite`.
    pub engine: String,
    /// Path of the stream member holding the dump.
    pub member: String,
    /// Tables the dump creates, checked after a restore.
    #[serde(default)]
    pub tables: u64,
}

/// The manifest at the head of every archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// When the archive's content was taken, RFC 3339.
    pub created: String,
    /// Configuration the content came from, if any.
    #[serde(default)]
    pub configuration: String,
    /// Backup kind of the content: `FULL`, `DATABASE` or `EXPORT`.
    #[serde(default)]
    pub backup_kind: String,
    /// The job that took the content.
    #[serde(default)]
    pub job: String,
    /// Source paths of the file trees.
    #[serde(default)]
    pub source_paths: Vec<String>,
    /// The database dump, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseInfo>,
    /// Every member, in body order.
    pub members: Vec<Member>,
}

impl Manifest {
    /// Total content bytes of files and streams.
    pub fn content_bytes(&self) -> u64 {
        self.members
            .iter()
            .filter(|m| m.kind.has_data())
            .map(|m| m.size)
            .sum()
    }

    /// Number of regular files.
    pub fn file_count(&self) -> u64 {
        self.members
            .iter()
            .filter(|m| m.kind == MemberKind::File)
            .count() as u64
    }

    /// Checks everything that can be checked without the body; returns the
    /// body length the members need. Errors name the member and the reason.
    pub fn validate(&self) -> Result<u64> {
        if self.format != FORMAT {
            return Err(Error::archive(format!(
                "manifest format is {:?}, expected {FORMAT:?}",
                self.format
            )));
        }
        if self.version != VERSION {
            return Err(Error::archive(format!(
                "manifest version {} is not supported (expected {VERSION})",
                self.version
            )));
        }
        let mut kinds: HashMap<&str, MemberKind> = HashMap::with_capacity(self.members.len());
        let mut body: u64 = 0;
        for (i, m) in self.members.iter().enumerate() {
            let at =
                |reason: String| Error::archive(format!("member {i} ({:?}): {reason}", m.path));
            check_path(&m.path).map_err(at)?;
            if kinds.insert(m.path.as_str(), m.kind).is_some() {
                return Err(at("appears twice".into()));
            }
            if m.mode > 0o7777 {
                return Err(at(format!("mode {:o} has bits beyond 7777", m.mode)));
            }
            if m.mtime_nsec >= 1_000_000_000 {
                return Err(at("mtime_nsec must be below one second".into()));
            }
            check_kind(m).map_err(at)?;
            body = body
                .checked_add(m.stored_size)
                .ok_or_else(|| at("stored sizes overflow".into()))?;
        }
        for (i, m) in self.members.iter().enumerate() {
            let at =
                |reason: String| Error::archive(format!("member {i} ({:?}): {reason}", m.path));
            for prefix in ancestors(&m.path) {
                match kinds.get(prefix) {
                    None | Some(MemberKind::Dir) => {}
                    Some(MemberKind::Symlink) => {
                        return Err(at(format!("passes through the symlink {prefix:?}")));
                    }
                    Some(_) => return Err(at(format!("its parent {prefix:?} is not a directory"))),
                }
            }
            if let Some(target) = &m.target {
                check_symlink(&m.path, target, &kinds).map_err(at)?;
            }
        }
        if let Some(db) = &self.database {
            if crate::dburl::engine_from_name(&db.engine).is_none() {
                return Err(Error::archive(format!(
                    "database engine {:?} is not known",
                    db.engine
                )));
            }
            if kinds.get(db.member.as_str()) != Some(&MemberKind::Stream) {
                return Err(Error::archive(format!(
                    "database member {:?} is not a stream of the archive",
                    db.member
                )));
            }
        }
        Ok(body)
    }
}

fn check_kind(m: &Member) -> std::result::Result<(), String> {
    match m.kind {
        MemberKind::File | MemberKind::Stream => {
            if m.target.is_some() {
                return Err("only symlinks have a target".into());
            }
            if m.stored_size == 0 {
                return Err("data members need a stored size".into());
            }
            if m.blake3.len() != 64 || !m.blake3.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("blake3 must be 64 hex digits".into());
            }
        }
        MemberKind::Dir | MemberKind::Symlink => {
            if m.size != 0 || m.stored_size != 0 || !m.blake3.is_empty() {
                return Err("directories and symlinks carry no data".into());
            }
            if (m.kind == MemberKind::Dir) == m.target.is_some() {
                return Err("symlinks need a target and directories have none".into());
            }
        }
    }
    if m.engine.is_some() && m.kind != MemberKind::Stream {
        return Err("only streams have an engine".into());
    }
    Ok(())
}

/// A member path: relative, `/`-separated, no empty, `.` or `..` components.
pub fn check_path(path: &str) -> std::result::Result<(), String> {
    if path.is_empty() {
        return Err("path is empty".into());
    }
    if path.len() > MAX_PATH {
        return Err(format!("path is longer than {MAX_PATH} bytes"));
    }
    if path.starts_with('/') {
        return Err("absolute paths are not allowed".into());
    }
    if path.contains('\0') {
        return Err("path contains NUL".into());
    }
    for c in path.split('/') {
        match c {
            "" => return Err("path has an empty component".into()),
            "." | ".." => {
                return Err("path traversal: `.` and `..` components are not allowed".into());
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every proper ancestor of a member path, shortest first.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// Checks one symlink of a set whose kinds are known; see [`Manifest::validate`].
pub fn check_symlink_member(
    path: &str,
    target: &str,
    kinds: &HashMap<&str, MemberKind>,
) -> std::result::Result<(), String> {
    check_symlink(path, target, kinds)
}

/// A symlink must resolve inside the archive root, lexically, without its
/// resolution passing through another symlink of the archive (whose own
/// target could move the walk somewhere a lexical `..` does not expect).
fn check_symlink(
    path: &str,
    target: &str,
    kinds: &HashMap<&str, MemberKind>,
) -> std::result::Result<(), String> {
    if target.is_empty() || target.contains('\0') || target.len() > MAX_PATH {
        return Err("symlink target must be 1 to 4096 bytes without NUL".into());
    }
    if target.starts_with('/') {
        return Err(format!("symlink escape: target {target:?} is absolute"));
    }
    let mut stack: Vec<&str> = path.split('/').collect();
    stack.pop();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                let here = stack.join("/");
                if !here.is_empty() && kinds.get(here.as_str()) == Some(&MemberKind::Symlink) {
                    return Err(format!(
                        "symlink escape: target {target:?} climbs out of the symlink {here:?}"
                    ));
                }
                if stack.pop().is_none() {
                    return Err(format!(
                        "symlink escape: target {target:?} leaves the archive"
                    ));
                }
            }
            name => stack.push(name),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(path: &str, kind: MemberKind) -> Member {
        let data = kind.has_data();
        Member {
            path: path.into(),
            kind,
            mode: 0o644,
            mtime: 0,
            mtime_nsec: 0,
            size: 0,
            stored_size: if data { 9 } else { 0 },
            blake3: if data { "0".repeat(64) } else { String::new() },
            target: None,
            engine: None,
        }
    }

    fn link(path: &str, target: &str) -> Member {
        Member {
            target: Some(target.into()),
            ..member(path, MemberKind::Symlink)
        }
    }

    fn manifest(members: Vec<Member>) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            created: "2025-12-20T22:23:05Z".into(),
            configuration: String::new(),
            backup_kind: "EXPORT".into(),
            job: String::new(),
            source_paths: vec![],
            database: None,
            members,
        }
    }

    fn reason(m: Manifest) -> String {
        m.validate().unwrap_err().to_string()
    }

    #[test]
    fn a_plain_tree_passes_and_reports_its_body_length() {
        let m = manifest(vec![
            member("a", MemberKind::Dir),
            member("a/b.txt", MemberKind::File),
            link("a/l", "b.txt"),
            link("a/up", "../a/b.txt"),
        ]);
        assert_eq!(m.validate().unwrap(), 9);
    }

    #[test]
    fn traversal_and_absolute_paths_are_rejected() {
        assert!(
            reason(manifest(vec![member("../etc/passwd", MemberKind::File)]))
                .contains("path traversal")
        );
        assert!(
            reason(manifest(vec![member("a/../../x", MemberKind::File)]))
                .contains("path traversal")
        );
        assert!(
            reason(manifest(vec![member("/etc/passwd", MemberKind::File)])).contains("absolute")
        );
        assert!(
            reason(manifest(vec![member("a//b", MemberKind::File)])).contains("empty component")
        );
    }

    #[test]
    fn symlink_escapes_are_rejected() {
        assert!(reason(manifest(vec![link("l", "/etc")])).contains("absolute"));
        assert!(reason(manifest(vec![link("a/l", "../../etc")])).contains("leaves the archive"));
        // a link to the root, then a `..` through it, would climb out physically.
        let m = manifest(vec![link("self", "."), link("x", "self/../etc")]);
        assert!(reason(m).contains("climbs out of the symlink"));
        // writing through a symlink member
        let m = manifest(vec![
            link("l", "d"),
            member("d", MemberKind::Dir),
            member("l/f", MemberKind::File),
        ]);
        assert!(reason(m).contains("passes through the symlink"));
    }

    #[test]
    fn duplicate_and_inconsistent_members_are_rejected() {
        let m = manifest(vec![
            member("a", MemberKind::File),
            member("a", MemberKind::File),
        ]);
        assert!(reason(m).contains("appears twice"));
        let m = manifest(vec![
            member("a", MemberKind::File),
            member("a/b", MemberKind::File),
        ]);
        assert!(reason(m).contains("is not a directory"));
        let mut bad = member("a", MemberKind::File);
        bad.blake3 = "zz".into();
        assert!(reason(manifest(vec![bad])).contains("blake3"));
        let mut bad = member("d", MemberKind::Dir);
        bad.size = 3;
        assert!(reason(manifest(vec![bad])).contains("carry no data"));
        let mut m = manifest(vec![]);
        m.version = 2;
        assert!(reason(m).contains("version 2"));
    }
}
