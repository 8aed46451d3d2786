//! The data directory: created on first start.

use std::path::Path;

use anyhow::Context as _;

/// Creates `dir` and its parents if missing; fails if it is not a directory.
pub fn ensure(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("data_dir {} cannot be created", dir.display()))?;
    let meta = std::fs::metadata(dir)
        .with_context(|| format!("data_dir {} cannot be read", dir.display()))?;
    anyhow::ensure!(
        meta.is_dir(),
        "data_dir {} is not a directory",
        dir.display()
    );
    Ok(())
}
