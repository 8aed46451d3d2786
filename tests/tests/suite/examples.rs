//! The Rust SDK's example, run as a user runs it against a fresh `vigild`:
//! it registers the quickstart's FULL configuration and backs it up.

use std::path::PathBuf;
use std::process::Command;

use vigil_tests::{Server, bin_dir, vigil_json};

/// The example binary, built if a test is run alone.
fn example(name: &str) -> PathBuf {
    let path = bin_dir().join("examples").join(name);
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "vigil-client", "--example", name])
            .status()
            .expect("cargo build runs");
        assert!(status.success(), "building the example {name} failed");
    }
    path
}

#[test]
fn the_rust_example_backs_up_the_quickstart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(
        "vigild",
        &["--data-dir", data.to_str().unwrap()],
        &[],
        dir.path(),
    );
    let out = Command::new(example("apply_and_backup"))
        .arg(server.endpoint())
        .env("VIGIL_TOKEN_FILE", data.join("admin.token"))
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the example failed ({}):\n{stdout}\n{}\n--- vigild\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert!(stdout.contains("quickstart_full: Created"), "{stdout}");
    assert!(stdout.contains("completed, artifact "), "{stdout}");
    let artifacts = vigil_json(
        &server.endpoint(),
        &["artifacts", "list", "--configuration", "quickstart_full"],
    );
    assert_eq!(artifacts.as_array().map(Vec::len), Some(1), "{artifacts}");
}
