//! A quick scan of the source trees before a backup: how many regular files
//! and bytes the backup will go through, so its progress has a total (and an
//! ETA) from the start, also on a first backup with no files cache. The scan
//! uses the backup's own walk and filters and reads metadata only.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::walk::{Filters, Walked, walk};
use crate::error::Result;

/// What a backup of some trees will go through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanTotals {
    /// Regular files the filters let through.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Counts the regular files under `paths` that `include` and `exclude` let
/// through, and their bytes, as the backup's walk would see them now.
/// Special and unreadable entries are left out, as the backup leaves them.
pub fn scan_sources(
    paths: &[PathBuf],
    include: &[String],
    exclude: &[String],
    cancel: Option<&Arc<AtomicBool>>,
) -> Result<ScanTotals> {
    let filters = Filters::new(include, exclude)?;
    let cancelled = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let mut totals = ScanTotals::default();
    let mut ignored = Vec::new();
    for root in paths {
        walk(root, &filters, &mut ignored, &cancelled, |w| {
            if let Walked::File(e, _) = w {
                totals.files += 1;
                totals.bytes += e.size;
            }
            Ok(())
        })?;
    }
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_the_files_and_bytes_the_filters_let_through() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/one.txt"), vec![1u8; 1000]).unwrap();
        std::fs::write(root.join("a/b/two.bin"), vec![2u8; 70_000]).unwrap();
        std::fs::write(root.join("a/b/skip.tmp"), vec![3u8; 5]).unwrap();
        std::fs::write(root.join("empty"), b"").unwrap();
        std::os::unix::fs::symlink("a/one.txt", root.join("link")).unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(root.join("s.sock")).unwrap();
        let all = scan_sources(std::slice::from_ref(&root), &[], &[], None).unwrap();
        assert_eq!(
            all,
            ScanTotals {
                files: 4,
                bytes: 71_005
            }
        );
        let filtered =
            scan_sources(std::slice::from_ref(&root), &[], &["*.tmp".into()], None).unwrap();
        assert_eq!(
            filtered,
            ScanTotals {
                files: 3,
                bytes: 71_000
            }
        );
        let cancel = Arc::new(AtomicBool::new(true));
        assert!(scan_sources(&[root], &[], &[], Some(&cancel)).is_err());
    }
}
