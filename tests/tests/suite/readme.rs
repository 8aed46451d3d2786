//! The README's walkthrough, played from the README itself: the fenced
//! block after the `<!-- walkthrough: ... -->` marker runs as a `sh -e`
//! script against a fresh `vigild`, with the workspace's `vigil` first on
//! the `PATH`. A README that drifts from the product fails here.

use std::path::Path;
use std::process::{Command, Stdio};

use vigil_tests::{Server, bin, bin_dir, workspace_file};

const MARKER: &str = "<!-- walkthrough:";

/// The commands of the first ```sh block after the marker.
fn walkthrough(readme: &str) -> String {
    let after = readme
        .split_once(MARKER)
        .map(|(_, rest)| rest)
        .expect("README.md has a walkthrough marker");
    let block = after
        .split_once("```sh\n")
        .map(|(_, rest)| rest)
        .expect("a ```sh block follows the walkthrough marker");
    let (script, _) = block
        .split_once("\n```")
        .expect("the walkthrough block is closed");
    script.to_owned()
}

/// The checkout as a user has it: the test's working directory holds
/// `deploy/` (a link to the workspace's), so relative paths in the
/// walkthrough mean what they mean in a checkout.
fn checkout_like(dir: &Path) {
    std::os::unix::fs::symlink(workspace_file("deploy"), dir.join("deploy")).expect("link deploy/");
}

#[test]
fn the_readme_walkthrough_runs_end_to_end_on_a_fresh_vigild() {
    let readme = std::fs::read_to_string(workspace_file("README.md")).expect("README.md");
    let script = walkthrough(&readme);
    assert!(
        script.contains("vigil backup run") && script.contains("vigil restore"),
        "the walkthrough lost its backup and restore steps:\n{script}"
    );
    let dir = tempfile::tempdir().unwrap();
    checkout_like(dir.path());
    let data = dir.path().join("vigil-data");
    let server = Server::start(
        "vigild",
        &["--data-dir", data.to_str().unwrap()],
        &[],
        dir.path(),
    );
    bin("vigil");
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .args(["-e", "-x", "-c", &script])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("VIGIL_ENDPOINT", server.endpoint())
        .stdin(Stdio::null())
        .output()
        .expect("sh runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the walkthrough failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- vigild\n{}",
        out.status,
        server.log()
    );
    for expected in [
        "quickstart_full",
        "COMPLETED",
        "invoice-0001.txt",
        "HEALTHY",
    ] {
        assert!(
            stdout.contains(expected),
            "the walkthrough's output lacks {expected:?}:\n{stdout}\n--- stderr\n{stderr}"
        );
    }
    let restored = walk_files(&dir.path().join("restored"));
    assert!(
        restored
            .iter()
            .any(|p| p.ends_with("documents/2026/invoice-0001.txt")),
        "the restore did not bring the documents back: {restored:?}"
    );
}

fn walk_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.to_string_lossy().into_owned());
            }
        }
    }
    out
}
