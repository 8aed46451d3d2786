//! Harness for end-to-end tests: starts the real server binaries on
//! ephemeral ports with their own data directories, runs the real `vigil`
//! CLI against them, and kills them with SIGKILL or SIGTERM on demand.
//!
//! Credentials are handled here, so tests read as if there were none: a
//! catalog host (`vigild`, `vigil-catalog`) started with `--data-dir`
//! writes its bootstrap tokens there; schedulers and executors started with
//! `--catalog` get its `component.token`, and [`vigil`] runs the CLI with
//! the `admin.token` of the catalog behind its endpoint.
//!
//! The binaries are the workspace's own build outputs (`target/<profile>/`);
//! `cargo test --workspace` builds them before any test runs, and the
//! harness builds them itself when a test is run alone.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub mod pki;
pub mod postgres;

/// The directory holding the workspace's binaries.
pub fn bin_dir() -> PathBuf {
    // target/<profile>/deps/<test-binary>
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target profile dir")
        .to_path_buf()
}

/// Path of a workspace binary, building it if it is missing.
pub fn bin(name: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let path = bin_dir().join(name);
    if !path.exists() {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        if !path.exists() {
            let package = if name == "vigil" {
                "vigil-cli"
            } else {
                "vigil-server"
            };
            let status = Command::new(env!("CARGO"))
                .args(["build", "-p", package, "--bin", name])
                .status()
                .expect("cargo build runs");
            assert!(status.success(), "building {name} failed");
        }
    }
    path
}

/// A running server process.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    addr: String,
    log: PathBuf,
}

impl Server {
    /// Starts `binary` with `args` (plus `--listen 127.0.0.1:0`) and waits
    /// until it prints the address it listens on.
    pub fn start(binary: &str, args: &[&str], env: &[(&str, &str)], log_dir: &Path) -> Server {
        let log = log_dir.join(format!("{binary}-{}.log", unique()));
        let stderr = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(bin(binary));
        cmd.args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let catalog_dir = flag_value(args, "--catalog").and_then(|c| catalog_data_dir(&c));
        if let Some(dir) = &catalog_dir {
            cmd.env("VIGIL_TOKEN_FILE", dir.join("component.token"));
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{binary} cannot start: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("{binary} did not announce its address; its log:\n{text}");
            }
        };
        let server = Server {
            child: Some(child),
            addr,
            log,
        };
        let own_dir = match binary {
            "vigild" | "vigil-catalog" => flag_value(args, "--data-dir").map(PathBuf::from),
            _ => None,
        };
        if let Some(dir) = own_dir.or(catalog_dir) {
            register_catalog(&server.endpoint(), dir);
        }
        server
    }

    /// `http://ADDR`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The log written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, as `kill -9`: no drain, no cleanup.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the exit; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Data dirs of the catalogs behind the endpoints of started servers.
fn catalogs() -> &'static Mutex<HashMap<String, PathBuf>> {
    static CATALOGS: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    CATALOGS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn register_catalog(endpoint: &str, data_dir: PathBuf) {
    catalogs()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(endpoint.to_owned(), data_dir);
}

/// The data dir (holding the bootstrap tokens) of the catalog behind `endpoint`.
pub fn catalog_data_dir(endpoint: &str) -> Option<PathBuf> {
    catalogs()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(endpoint)
        .cloned()
}

/// The bootstrap admin token file of the catalog behind `endpoint`.
pub fn admin_token_file(endpoint: &str) -> Option<PathBuf> {
    catalog_data_dir(endpoint).map(|dir| dir.join("admin.token"))
}

fn flag_value(args: &[&str], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| *a == flag)
        .and_then(|i| args.get(i + 1))
        .map(|v| (*v).to_owned())
}

/// Runs the `vigil` CLI against `endpoint`, as the admin of its catalog.
pub fn vigil(endpoint: &str, args: &[&str]) -> Output {
    vigil_with_env(endpoint, args, &[])
}

/// Runs the `vigil` CLI like [`vigil`], with extra environment variables.
pub fn vigil_with_env(endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin("vigil"));
    cmd.envs(env.iter().copied());
    if let Some(token) = admin_token_file(endpoint) {
        cmd.env("VIGIL_TOKEN_FILE", token);
    }
    cmd.arg("--endpoint")
        .arg(endpoint)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("vigil runs")
}

/// Runs the `vigil` CLI and returns its standard output, failing the test
/// with its standard error when it exits non-zero.
pub fn vigil_ok(endpoint: &str, args: &[&str]) -> String {
    let out = vigil(endpoint, args);
    assert!(
        out.status.success(),
        "vigil {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs `vigil --json ARGS` and parses its output.
pub fn vigil_json(endpoint: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let text = vigil_ok(endpoint, &all);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// Polls `check` every 200 ms until it returns `Some`, or panics with
/// `what` after `limit`.
pub fn eventually<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Path of a file in the workspace.
pub fn workspace_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn unique() -> u64 {
    static NEXT: OnceLock<Mutex<u64>> = OnceLock::new();
    let mut n = NEXT
        .get_or_init(|| Mutex::new(0))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    *n += 1;
    *n
}
