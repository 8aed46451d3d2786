//! Resident memory across repeated backup-and-restore cycles, in one
//! process, as a long-running executor does them.
//!
//! `cargo bench -p vigil-repository --bench cycles`
//! Env: `VIGIL_CYCLES` (default 20), `VIGIL_BENCH_SIZE_MIB` (default 256),
//! `VIGIL_BENCH_DIR` (default `target/vigil-cycles`), and
//! `VIGIL_BENCH_S3_ENDPOINT` to keep the repository on an S3 server (as in
//! the compare benchmark; the bucket must exist: `VIGIL_BENCH_S3_BUCKET`).
//!
//! Prints the process's RSS after every cycle and the ratio of the last to
//! the first; the target is at most 1.20.

#[allow(dead_code)] // the compare benchmark uses the rest
#[path = "compare/dataset.rs"]
mod dataset;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use vigil_repository::{
    Backend, BackupOptions, Control, InitOptions, KeySource, ObjectStoreBackend, Repository,
    RestoreOptions, backend_for,
};

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // As every server binary does at start.
    vigil_server_common::memory::limit_malloc_arenas();
    let cycles = env_num("VIGIL_CYCLES", 20);
    let size = env_num("VIGIL_BENCH_SIZE_MIB", 256);
    let bench = std::env::var("VIGIL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/vigil-cycles")
        });
    // Restores refuse stored paths with `..`, so the data's path is made plain.
    std::fs::create_dir_all(&bench).unwrap();
    let bench = bench.canonicalize().unwrap();
    let data = bench.join("data");
    let specs = dataset::plan(&data, size);
    let marker = bench.join(format!("dataset-v2-{size}.ok"));
    if !marker.exists() {
        let _ = std::fs::remove_dir_all(&data);
        dataset::generate(&data, &specs);
        std::fs::write(&marker, b"").unwrap();
    }
    let backend: Arc<dyn Backend> = match std::env::var("VIGIL_BENCH_S3_ENDPOINT") {
        Ok(ep) => {
            let bucket = std::env::var("VIGIL_BENCH_S3_BUCKET").expect("VIGIL_BENCH_S3_BUCKET");
            let url = format!("s3://{bucket}/cycles-{}", std::process::id());
            Arc::new(ObjectStoreBackend::from_s3_url_at(&url, &ep).unwrap())
        }
        Err(_) => {
            let repo = bench.join("repo");
            let _ = std::fs::remove_dir_all(&repo);
            backend_for(&repo.display().to_string()).unwrap()
        }
    };
    let key = KeySource::passphrase("vigil-cycles");
    let repo = Repository::init(backend.clone(), &key, &InitOptions::default()).unwrap();
    println!(
        "\n## Vigil RSS across {cycles} backup-and-restore cycles ({size} MiB, {})\n",
        backend.location()
    );
    println!("| cycle | backup s | restore s | RSS MiB |\n|---:|---:|---:|---:|");
    let mut first = 0.0;
    let mut last = 0.0;
    for i in 1..=cycles {
        // Touch a few files so every backup stores something new.
        std::fs::write(
            data.join(format!("cycle-{}.txt", i % 3)),
            format!("cycle {i}"),
        )
        .unwrap();
        let t = Instant::now();
        let r = repo
            .backup(
                &BackupOptions {
                    paths: vec![data.clone()],
                    ..Default::default()
                },
                vec![],
                &Control::default(),
            )
            .unwrap();
        let b = t.elapsed().as_secs_f64();
        let out = bench.join("restore");
        let _ = std::fs::remove_dir_all(&out);
        let t = Instant::now();
        let rr = repo
            .restore(
                &r.snapshot_id,
                &out,
                &RestoreOptions::default(),
                &Control::default(),
            )
            .unwrap();
        assert!(
            rr.errors.is_empty(),
            "{:?}",
            &rr.errors[..rr.errors.len().min(3)]
        );
        let rs = t.elapsed().as_secs_f64();
        let _ = std::fs::remove_dir_all(&out);
        last = rss_mib();
        if i == 1 {
            first = last;
        }
        println!("| {i} | {b:.2} | {rs:.2} | {last:.0} |");
    }
    println!(
        "\nRSS after cycle {cycles} / after cycle 1: {:.2} (target <= 1.20)",
        last / first.max(1.0)
    );
}
