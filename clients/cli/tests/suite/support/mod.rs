//! Runs the real `vigil` binary against a real catalog on 127.0.0.1:0.

#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;

use vigil_catalog::testing::{self, TestCatalog};

/// The seed file shipped in deploy/examples.
pub(crate) fn seed_file() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples/seed-configurations.yaml")
}

/// A catalog on SQLite in a temporary directory.
pub(crate) struct Env {
    pub catalog: TestCatalog,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub(crate) async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = testing::spawn(testing::sqlite_options(dir.path())).await;
        Self { catalog, dir }
    }

    pub(crate) fn endpoint(&self) -> String {
        self.catalog.endpoint()
    }

    /// Runs `vigil ARGS` against this catalog.
    pub(crate) async fn vigil(&self, args: &[&str]) -> Run {
        vigil_at(&self.endpoint(), args).await
    }
}

/// What a run of the binary produced.
#[derive(Debug)]
pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    pub(crate) fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "vigil failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.stdout
    }

    /// Asserts success and parses stdout as JSON.
    pub(crate) fn json(self) -> serde_json::Value {
        let out = self.ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{out}"))
    }
}

/// Runs `vigil ARGS` with `VIGIL_ENDPOINT=endpoint`.
pub(crate) async fn vigil_at(endpoint: &str, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env("VIGIL_ENDPOINT", endpoint)
        .env_remove("VIGIL_TIMEOUT")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run the vigil binary");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
