//! A job's log through the real CLI and a fresh `vigild`: a backup with a
//! file it cannot read shows the path and the reason in `vigil jobs logs`,
//! phases carry their durations, `jobs show` points to the log, and
//! `--follow` ends when the job ends.

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;

use vigil_tests::{Server, vigil, vigil_json, vigil_ok};

fn start(dir: &Path) -> Server {
    let data = dir.join("data");
    Server::start("vigild", &["--data-dir", data.to_str().unwrap()], &[], dir)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A tree with ordinary files, a socket (which no backup can read, whoever
/// runs it) and, when not running as root, a file without read permission.
/// Returns the configuration file and what must stay open.
fn tree(dir: &Path, size: usize) -> (std::path::PathBuf, UnixListener, Vec<String>) {
    let root = dir.join("site");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/readme.txt"), "hello\n").unwrap();
    let bulk: Vec<u8> = (0..size as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(root.join("docs/bulk.bin"), &bulk).unwrap();
    let socket = root.join("docs/agent.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let mut unreadable = vec![socket.to_str().unwrap().to_owned()];
    if !running_as_root() {
        use std::os::unix::fs::PermissionsExt;
        let locked = root.join("docs/locked.txt");
        std::fs::write(&locked, "secret\n").unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        unreadable.push(locked.to_str().unwrap().to_owned());
    }
    let yaml = dir.join("site.yaml");
    std::fs::write(
        &yaml,
        "configurations:\n  - name: site\n    kind: FULL\n    source:\n      paths: [site]\n",
    )
    .unwrap();
    (yaml, listener, unreadable)
}

#[test]
fn an_unreadable_file_shows_in_the_job_log_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let endpoint = server.endpoint();
    let (yaml, _listener, unreadable) = tree(dir.path(), 100_000);
    vigil_ok(
        &endpoint,
        &["config", "apply", "-f", yaml.to_str().unwrap()],
    );
    let job = vigil_json(&endpoint, &["backup", "run", "site", "--wait"]);
    assert_eq!(job["state"], "COMPLETED", "{job}");
    let name = job["name"].as_str().unwrap().to_owned();

    let shown = vigil_ok(&endpoint, &["jobs", "show", &name]);
    assert!(
        shown.contains(&format!("vigil jobs logs {name}")),
        "jobs show points to the log:\n{shown}"
    );

    let log = vigil_ok(&endpoint, &["jobs", "logs", &name]);
    for path in &unreadable {
        let line = log
            .lines()
            .find(|l| l.contains(path.as_str()))
            .unwrap_or_else(|| panic!("{path} is in the log:\n{log}"));
        assert!(line.contains("skipped "), "{line}");
    }
    assert!(
        log.contains(&format!("skipped {}: special file (socket)", unreadable[0])),
        "the reason is given:\n{log}"
    );
    assert!(log.contains("[backing up]  started"), "{log}");
    assert!(log.contains("[backing up]  finished in "), "{log}");
    assert!(log.contains("[reading back]  finished in "), "{log}");

    let json = vigil_json(&endpoint, &["jobs", "logs", &name]);
    assert_eq!(json["job_state"], "COMPLETED", "{json}");
    assert_eq!(json["omitted_count"], 0, "{json}");
    let events = json["events"].as_array().unwrap();
    let socket = events
        .iter()
        .find(|e| e["path"] == unreadable[0].as_str())
        .unwrap_or_else(|| panic!("the socket is in the JSON log: {json}"));
    assert_eq!(socket["kind"], "FILE_SKIPPED", "{socket}");
    assert_eq!(socket["phase"], "backing up", "{socket}");
    assert_eq!(socket["message"], "special file (socket)", "{socket}");
    let finished: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["kind"] == "PHASE_FINISHED")
        .collect();
    assert!(!finished.is_empty(), "{json}");
    assert!(
        finished
            .iter()
            .all(|e| e["duration"].as_str().is_some_and(|d| d.ends_with('s'))),
        "every finished phase has its duration: {json}"
    );
    let sequences: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=events.len() as i64).collect::<Vec<_>>());

    let missing = vigil(&endpoint, &["jobs", "logs", "no_such_job"]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("not found"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

#[test]
fn follow_prints_the_log_as_it_grows_and_ends_with_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let endpoint = server.endpoint();
    // Large enough that the backup is still running when the follower starts.
    let (yaml, _listener, unreadable) = tree(dir.path(), 40 << 20);
    vigil_ok(
        &endpoint,
        &["config", "apply", "-f", yaml.to_str().unwrap()],
    );
    let job = vigil_json(&endpoint, &["backup", "run", "site"]);
    let name = job["name"].as_str().unwrap().to_owned();
    // Returns only once the job has ended: the test's own timeout bounds it.
    let followed = vigil_ok(&endpoint, &["jobs", "logs", &name, "--follow"]);
    assert!(
        followed.trim_end().ends_with("job ended COMPLETED"),
        "--follow ends with the job:\n{followed}"
    );
    assert!(followed.contains(unreadable[0].as_str()), "{followed}");
    assert!(
        followed.contains("[backing up]  finished in "),
        "{followed}"
    );
    let now = vigil_json(&endpoint, &["jobs", "show", &name]);
    assert_eq!(now["state"], "COMPLETED", "{now}");

    // Following a job that has already ended prints its log and returns.
    let again = vigil_ok(&endpoint, &["jobs", "logs", &name, "--follow"]);
    assert_eq!(again, followed);
    let lines = vigil_ok(&endpoint, &["--json", "jobs", "logs", &name, "--follow"]);
    for line in lines.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(entry["sequence"].as_i64().is_some(), "{line}");
    }
}
