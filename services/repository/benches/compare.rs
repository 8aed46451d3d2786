//! Vigil against restic and borg on one seeded dataset, in one run.
//!
//! `cargo bench -p vigil-repository --bench compare`
//! Env: `VIGIL_BENCH_DIR` (default `target/vigil-bench`),
//! `VIGIL_BENCH_SIZE_MIB` (default 1024; e.g. 128 for a quick run),
//! `VIGIL_BENCH_SKIP` (comma list of tools to skip: restic,borg).
//!
//! With `VIGIL_BENCH_S3_ENDPOINT=http://127.0.0.1:9000` (an S3-compatible
//! server; `. .ci/s3.sh && ensure_s3` starts one and exports the
//! `AWS_*` credentials it needs), both repositories live on that server in
//! a fresh bucket: Vigil's as `s3://BUCKET/vigil`, restic's through its own
//! S3 backend as `s3:ENDPOINT/BUCKET/restic`. borg has no S3 backend and is
//! left out.
//!
//! Every measured command runs as a child of a small wrapper process (this
//! binary with `--wrap`), which reports the child's CPU time and peak RSS
//! from `getrusage(RUSAGE_CHILDREN)`.

#[path = "compare/dataset.rs"]
mod dataset;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use vigil_repository::{
    BackupOptions, Control, InitOptions, KeySource, Repository, RestoreOptions, backend_for,
};

const PASS: &str = "vigil-bench-passphrase";

#[derive(Clone, Copy, Debug, Default)]
struct Measure {
    wall: f64,
    cpu: f64,
    rss_mib: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--wrap") => wrap(&args[2..]),
        Some("--vigil-child") => {
            // As every server binary does at start.
            vigil_server_common::memory::limit_malloc_arenas();
            vigil_child(&args[2..])
        }
        _ => run(),
    }
}

/// Runs a command and prints its rusage as the last stdout line.
fn wrap(cmd: &[String]) {
    let status = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::null())
        .status()
        .expect("spawn");
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    println!(
        "RUSAGE {} {} {}",
        secs(u.user_time()) + secs(u.system_time()),
        u.max_rss(),
        status.success() as u8
    );
}

fn vigil_child(a: &[String]) {
    let key = KeySource::KeyFile(PathBuf::from(&a[2]));
    let backend = backend_for(&a[1]).expect("repository location");
    match a[0].as_str() {
        "init" => {
            Repository::init(backend, &key, &InitOptions::default()).expect("init");
        }
        "backup" => {
            let repo = Repository::open(backend, &key).expect("open");
            let opts = BackupOptions {
                paths: vec![PathBuf::from(&a[3])],
                ..Default::default()
            };
            let r = repo
                .backup(&opts, vec![], &Control::default())
                .expect("backup");
            eprintln!("    vigil: {:?}", r.stats);
        }
        "restore" => {
            let repo = Repository::open(backend, &key).expect("open");
            let snap = repo
                .list_snapshots()
                .expect("list")
                .last()
                .expect("a snapshot")
                .id;
            let r = repo
                .restore(
                    &snap,
                    Path::new(&a[3]),
                    &RestoreOptions::default(),
                    &Control::default(),
                )
                .expect("restore");
            assert!(
                r.errors.is_empty(),
                "{:?}",
                &r.errors[..r.errors.len().min(5)]
            );
        }
        other => panic!("unknown child op {other}"),
    }
}

fn measure(cmd: &[&str], env: &[(&str, &str)], cwd: Option<&Path>) -> Measure {
    let me = std::env::current_exe().unwrap();
    let mut c = Command::new(me);
    c.arg("--wrap").args(cmd).envs(env.iter().copied());
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    let t = Instant::now();
    let out = c.stderr(Stdio::inherit()).output().expect("wrapper");
    let wall = t.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("RUSAGE"))
        .expect("rusage line");
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f[3], "1", "command failed: {cmd:?}");
    Measure {
        wall,
        cpu: f[1].parse().unwrap(),
        rss_mib: f[2].parse::<f64>().unwrap() / 1024.0,
    }
}

fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn dir_size(p: &Path) -> u64 {
    walkdir::WalkDir::new(p)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn have(tool: &str) -> bool {
    let skip = std::env::var("VIGIL_BENCH_SKIP").unwrap_or_default();
    !skip.split(',').any(|s| s == tool)
        && Command::new(tool)
            .arg(if tool == "restic" {
                "version"
            } else {
                "--version"
            })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

type BackupFn = Box<dyn Fn(&str, &Path, usize) -> Measure>;
type RestoreFn = Box<dyn Fn(&str, &Path) -> Measure>;

struct Tool {
    name: &'static str,
    init: Box<dyn Fn(&str)>,
    backup: BackupFn,
    restore: RestoreFn,
}

/// The tools to compare; with `s3` (an endpoint), only those with an S3
/// backend, and Vigil's children get the endpoint in `AWS_ENDPOINT_URL`.
fn tools(bench: &Path, s3: Option<&str>) -> Vec<Tool> {
    let me = std::env::current_exe().unwrap().display().to_string();
    let keyfile = bench.join("vigil.key");
    if !keyfile.exists() {
        vigil_repository::generate_key_file(&keyfile).unwrap();
    }
    let kf = keyfile.display().to_string();
    let (me2, me3, kf2, kf3) = (me.clone(), me.clone(), kf.clone(), kf.clone());
    let endpoint = s3.unwrap_or_default().to_string();
    let vigil_env = move || -> Vec<(&'static str, String)> {
        if endpoint.is_empty() {
            vec![]
        } else {
            vec![("AWS_ENDPOINT_URL", endpoint.clone())]
        }
    };
    let (env1, env2, env3) = (vigil_env(), vigil_env(), vigil_env());
    let mut v = vec![Tool {
        name: "vigil",
        init: Box::new(move |r| {
            let s = measure(&[&me, "--vigil-child", "init", r, &kf], &pairs(&env1), None);
            let _ = s;
        }),
        backup: Box::new(move |r, src, _| {
            measure(
                &[
                    &me2,
                    "--vigil-child",
                    "backup",
                    r,
                    &kf2,
                    &src.display().to_string(),
                ],
                &pairs(&env2),
                None,
            )
        }),
        restore: Box::new(move |r, dst| {
            measure(
                &[
                    &me3,
                    "--vigil-child",
                    "restore",
                    r,
                    &kf3,
                    &dst.display().to_string(),
                ],
                &pairs(&env3),
                None,
            )
        }),
    }];
    let env_r = [("RESTIC_PASSWORD", PASS)];
    if have("restic") {
        v.push(Tool {
            name: "restic",
            init: Box::new(move |r| {
                measure(&["restic", "-r", r, "init", "--quiet"], &env_r, None);
            }),
            backup: Box::new(move |r, src, _| {
                measure(
                    &[
                        "restic",
                        "-r",
                        r,
                        "backup",
                        "--quiet",
                        &src.display().to_string(),
                    ],
                    &env_r,
                    None,
                )
            }),
            restore: Box::new(move |r, dst| {
                measure(
                    &[
                        "restic",
                        "-r",
                        r,
                        "restore",
                        "latest",
                        "--quiet",
                        "--target",
                        &dst.display().to_string(),
                    ],
                    &env_r,
                    None,
                )
            }),
        });
    } else {
        eprintln!(
            "\n!!!!!!!! restic NOT FOUND: apt-get install -y restic  (printing Vigil-only figures) !!!!!!!!\n"
        );
    }
    let env_b = [
        ("BORG_PASSPHRASE", PASS),
        ("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes"),
        ("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes"),
    ];
    if s3.is_none() && have("borg") {
        v.push(Tool {
            name: "borg",
            init: Box::new(move |r| {
                measure(&["borg", "init", "-e", "repokey-blake2", r], &env_b, None);
            }),
            backup: Box::new(move |r, src, n| {
                let a = format!("{r}::s{n}");
                measure(
                    &[
                        "borg",
                        "create",
                        "--compression",
                        "lz4",
                        &a,
                        &src.display().to_string(),
                    ],
                    &env_b,
                    None,
                )
            }),
            restore: Box::new(move |r, dst| {
                std::fs::create_dir_all(dst).unwrap();
                let a = format!("{r}::s3");
                measure(&["borg", "extract", &a], &env_b, Some(dst))
            }),
        });
    } else {
        eprintln!(
            "\n!!!!!!!! borg NOT FOUND: apt-get install -y borgbackup  (printing Vigil-only figures) !!!!!!!!\n"
        );
    }
    v
}

fn run() {
    let size: u64 = std::env::var("VIGIL_BENCH_SIZE_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let bench = std::env::var("VIGIL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/vigil-bench"));
    std::fs::create_dir_all(&bench).unwrap();
    let bench = bench.canonicalize().unwrap();
    let data = bench.join("data");
    let specs = dataset::plan(&data, size);
    let marker = bench.join(format!("dataset-v2-{size}.ok"));
    if !marker.exists() {
        eprintln!("generating {size} MiB dataset in {}", data.display());
        let _ = std::fs::remove_file(bench.join(format!("dataset-v2-{size}.ok")));
        dataset::generate(&data, &specs);
        std::fs::write(&marker, b"").unwrap();
    }
    let total = dir_size(&data);
    let mib = total as f64 / (1024.0 * 1024.0);
    let t = Instant::now();
    let mut n = 0u64;
    for e in walkdir::WalkDir::new(&data)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        n += std::fs::read(e.path()).unwrap().len() as u64;
    }
    let read_s = t.elapsed().as_secs_f64();
    eprintln!(
        "dataset: {} files, {:.0} MiB; warm read of every file {:.2} s ({:.0} MiB/s)",
        specs.len(),
        mib,
        read_s,
        n as f64 / 1048576.0 / read_s
    );

    for t in ["vigil", "restic", "borg", "cp"] {
        let _ = std::fs::remove_dir_all(bench.join(format!("restore-{t}")));
    }
    let load_start = loadavg();
    let s3 = std::env::var("VIGIL_BENCH_S3_ENDPOINT").ok();
    let bucket = s3.as_deref().map(create_bucket);
    let location = |tool: &str| -> String {
        match (&s3, &bucket) {
            (Some(ep), Some(b)) if tool == "restic" => format!("s3:{ep}/{b}/restic"),
            (Some(_), Some(b)) => format!("s3://{b}/{tool}"),
            _ => bench.join(format!("repo-{tool}")).display().to_string(),
        }
    };
    let tools = tools(&bench, s3.as_deref());
    let mut res: BTreeMap<(&str, &str), Measure> = BTreeMap::new();
    let mut sizes = BTreeMap::new();
    for tool in &tools {
        let repo = location(tool.name);
        let _ = std::fs::remove_dir_all(&repo);
        (tool.init)(&repo);
        eprintln!("{}: first backup", tool.name);
        res.insert(
            (tool.name, "1 first backup"),
            (tool.backup)(&repo, &data, 1),
        );
        eprintln!("{}: unchanged re-backup", tool.name);
        res.insert((tool.name, "2 unchanged"), (tool.backup)(&repo, &data, 2));
    }
    let which = dataset::modified(&specs);
    dataset::modify(&specs, &which);
    for tool in &tools {
        let repo = location(tool.name);
        eprintln!("{}: 1% modified re-backup", tool.name);
        res.insert((tool.name, "3 1% modified"), (tool.backup)(&repo, &data, 3));
        if s3.is_none() {
            sizes.insert(tool.name, dir_size(Path::new(&repo)));
        }
    }
    let cp_dst = bench.join("restore-cp");
    eprintln!("cp -a");
    let cp = measure(
        &[
            "cp",
            "-a",
            &data.display().to_string(),
            &cp_dst.display().to_string(),
        ],
        &[],
        None,
    );
    for tool in &tools {
        let repo = location(tool.name);
        let dst = bench.join(format!("restore-{}", tool.name));
        eprintln!("{}: restore", tool.name);
        res.insert((tool.name, "4 restore"), (tool.restore)(&repo, &dst));
        let restored = dir_size(&dst);
        assert!(
            restored >= total - 4096 * which.len() as u64 && restored > 0,
            "{} restored {restored} of {total} bytes",
            tool.name
        );
        // Keeping every restore needs ~4x the dataset; on a full disk each
        // one is deleted and the next restore waits out ext4's 60 s
        // "recently deleted inode" window so it is not penalised.
        let free = rustix::fs::statvfs(&bench)
            .map(|s| s.f_bavail * s.f_frsize)
            .unwrap_or(u64::MAX);
        if free < 3 * total {
            eprintln!(
                "low disk space: deleting {} and waiting 65 s",
                dst.display()
            );
            let _ = std::fs::remove_dir_all(&dst);
            let _ = std::fs::remove_dir_all(&cp_dst);
            std::thread::sleep(std::time::Duration::from_secs(65));
        }
    }
    for t in tools.iter().map(|t| t.name).chain(["cp"]) {
        let _ = std::fs::remove_dir_all(bench.join(format!("restore-{t}")));
    }
    dataset::unmodify(&specs, &which);
    println!(
        "\nload average (1/5/15 min) at start: {load_start}; at end: {}",
        loadavg()
    );
    report(&tools, &res, &sizes, mib, cp, read_s);
}

/// Creates a bucket with a fresh name on the S3 server at `endpoint` (a
/// plain `PUT /bucket`, which S3-compatible test servers accept unsigned).
fn create_bucket(endpoint: &str) -> String {
    use std::io::{Read, Write};
    let bucket = format!(
        "vigil-bench-{}",
        &vigil_repository::Id::random().to_hex()[..12]
    );
    let host = endpoint
        .strip_prefix("http://")
        .expect("VIGIL_BENCH_S3_ENDPOINT is an http:// URL")
        .trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(host).expect("connect to the S3 server");
    write!(
        conn,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "create bucket: {answer}"
    );
    bucket
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn report(
    tools: &[Tool],
    res: &BTreeMap<(&str, &str), Measure>,
    sizes: &BTreeMap<&str, u64>,
    mib: f64,
    cp: Measure,
    read_s: f64,
) {
    let place = match std::env::var("VIGIL_BENCH_S3_ENDPOINT") {
        Ok(ep) => format!("repositories on the S3 server at {ep}"),
        Err(_) => "local repositories".into(),
    };
    println!("\n## Vigil benchmark ({mib:.0} MiB dataset, {place}; warm read {read_s:.2} s)\n");
    println!("| tool | operation | wall s | MiB/s | CPU s | peak RSS MiB |");
    println!("|---|---|---:|---:|---:|---:|");
    for ((tool, op), m) in res {
        println!(
            "| {tool} | {} | {:.2} | {:.0} | {:.2} | {:.0} |",
            &op[2..],
            m.wall,
            mib / m.wall,
            m.cpu,
            m.rss_mib
        );
    }
    println!(
        "| cp -a | restore floor | {:.2} | {:.0} | {:.2} | {:.0} |",
        cp.wall,
        mib / cp.wall,
        cp.cpu,
        cp.rss_mib
    );
    println!("\n| tool | repository size MiB |\n|---|---:|");
    for (t, s) in sizes {
        println!("| {t} | {:.1} |", *s as f64 / 1048576.0);
    }
    let ops = [
        "1 first backup",
        "2 unchanged",
        "3 1% modified",
        "4 restore",
    ];
    for peer in tools.iter().map(|t| t.name).filter(|n| *n != "vigil") {
        println!("\n| ratio (vigil faster by, x) vs {peer} | value |\n|---|---:|");
        for op in ops {
            if let (Some(v), Some(p)) = (res.get(&("vigil", op)), res.get(&(peer, op))) {
                println!("| {} | {:.2} |", &op[2..], p.wall / v.wall);
            }
        }
        if let (Some(v), Some(p)) = (sizes.get("vigil"), sizes.get(peer)) {
            println!(
                "| repository size (vigil / {peer}) | {:.3} |",
                *v as f64 / *p as f64
            );
        }
    }
    if let Some(v) = res.get(&("vigil", "4 restore")) {
        println!("\nvigil restore / cp -a wall: {:.2}x", v.wall / cp.wall);
    }
}
