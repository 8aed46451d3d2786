//! Looking inside backups through the real CLI and a fresh `vigild`:
//! `artifacts ls`, `find`, `dump` (byte for byte), `diff`, a restore of a
//! path that is not there, and tables that stay plain when piped.

use std::path::Path;

use vigil_tests::{Server, vigil, vigil_json, vigil_ok};

fn start(dir: &Path) -> Server {
    let data = dir.join("data");
    Server::start("vigild", &["--data-dir", data.to_str().unwrap()], &[], dir)
}

/// A tree with text, binary and executable files, and a configuration file
/// next to it that names it by a relative path.
fn tree(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("site");
    std::fs::create_dir_all(root.join("docs/2026")).unwrap();
    std::fs::write(root.join("docs/readme.txt"), "hello\n").unwrap();
    std::fs::write(root.join("docs/2026/report.pdf"), b"%PDF-1.4 first").unwrap();
    let binary: Vec<u8> = (0..300_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(root.join("docs/blob.bin"), &binary).unwrap();
    std::fs::write(root.join("gone.txt"), "soon removed\n").unwrap();
    let yaml = dir.join("site.yaml");
    std::fs::write(
        &yaml,
        "configurations:\n  - name: site\n    kind: FULL\n    source:\n      paths: [site]\n",
    )
    .unwrap();
    yaml
}

fn backup(endpoint: &str) -> String {
    let job = vigil_json(endpoint, &["backup", "run", "site", "--wait"]);
    assert_eq!(job["state"], "COMPLETED", "{job}");
    job["artifact"].as_str().unwrap().to_owned()
}

#[test]
fn ls_find_dump_and_diff_show_what_backups_hold() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let endpoint = server.endpoint();
    let yaml = tree(dir.path());
    vigil_ok(
        &endpoint,
        &["config", "apply", "-f", yaml.to_str().unwrap()],
    );
    let first = backup(&endpoint);
    let root = dir.path().join("site").to_str().unwrap().to_owned();

    // ls: the direct children, with type, mode, size and mtime in JSON.
    let docs = format!("{root}/docs");
    let listed = vigil_json(&endpoint, &["artifacts", "ls", &first, &docs]);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            format!("{docs}/2026"),
            format!("{docs}/blob.bin"),
            format!("{docs}/readme.txt")
        ]
    );
    let readme = &listed[2];
    assert_eq!(readme["type"], "FILE");
    assert_eq!(readme["size"], 6);
    assert_eq!(readme["mode"], 0o644);
    assert!(readme["mtime"].as_str().unwrap().ends_with('Z'), "{readme}");
    assert_eq!(listed[0]["type"], "DIRECTORY");
    // The top level leads down to the tree through implied directories.
    let top = vigil_ok(&endpoint, &["artifacts", "ls", &first]);
    let first_component = root.split('/').nth(1).unwrap();
    assert!(top.contains(&format!("/{first_component}")), "{top}");

    // find: by file name anywhere, or by a path glob.
    let found = vigil_ok(&endpoint, &["-q", "find", &first, "*.pdf"]);
    assert_eq!(found.trim(), format!("{docs}/2026/report.pdf"));
    let found = vigil_ok(
        &endpoint,
        &["-q", "find", &first, &format!("{root}/**/*.txt")],
    );
    assert_eq!(
        found.lines().collect::<Vec<_>>(),
        [format!("{docs}/readme.txt"), format!("{root}/gone.txt")]
    );

    // dump: byte for byte, binary included.
    let out = vigil(&endpoint, &["dump", &first, &format!("{docs}/blob.bin")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.stdout,
        std::fs::read(dir.path().join("site/docs/blob.bin")).unwrap()
    );
    let missing = vigil(&endpoint, &["dump", &first, &format!("{docs}/nope.txt")]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("nope.txt"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );

    // diff: edit one file, add one, remove one, touch one.
    std::fs::write(
        dir.path().join("site/docs/2026/report.pdf"),
        b"%PDF-1.4 second",
    )
    .unwrap();
    std::fs::write(dir.path().join("site/docs/new.txt"), "new\n").unwrap();
    std::fs::remove_file(dir.path().join("site/gone.txt")).unwrap();
    let second = backup(&endpoint);
    let diff = vigil_json(&endpoint, &["diff", &first, &second]);
    assert_eq!(
        diff["added"],
        serde_json::json!([format!("{docs}/new.txt")])
    );
    assert_eq!(
        diff["removed"],
        serde_json::json!([format!("{root}/gone.txt")])
    );
    let changed: Vec<&str> = diff["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        changed.contains(&format!("{docs}/2026/report.pdf").as_str()),
        "{changed:?}"
    );
    assert!(
        !changed.contains(&format!("{docs}/readme.txt").as_str()),
        "{changed:?}"
    );
    let human = vigil_ok(&endpoint, &["diff", &first, &second]);
    assert!(human.contains(&format!("+ {docs}/new.txt")), "{human}");
    assert!(human.contains("1 added, 1 removed,"), "{human}");
}

#[test]
fn a_restore_of_a_path_that_is_not_in_the_backup_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let endpoint = server.endpoint();
    let yaml = tree(dir.path());
    vigil_ok(
        &endpoint,
        &["config", "apply", "-f", yaml.to_str().unwrap()],
    );
    let artifact = backup(&endpoint);
    let target = dir.path().join("restored");
    let out = vigil(
        &endpoint,
        &[
            "restore",
            &artifact,
            "--path",
            "src/hello.txt",
            "--to",
            target.to_str().unwrap(),
            "--wait",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a restore of nothing succeeded");
    assert!(stderr.contains("src/hello.txt"), "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");
    assert!(!target.join("src").exists());
}

#[test]
fn tables_are_plain_aligned_lines_when_piped() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let endpoint = server.endpoint();
    let yaml = tree(dir.path());
    vigil_ok(
        &endpoint,
        &["config", "apply", "-f", yaml.to_str().unwrap()],
    );
    backup(&endpoint);
    // The harness pipes standard output: no borders, one record per line.
    let jobs = vigil_ok(&endpoint, &["jobs", "list", "--limit", "1"]);
    assert!(!jobs.contains('│') && !jobs.contains('─'), "{jobs}");
    let lines: Vec<&str> = jobs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 2, "a header and one job:\n{jobs}");
    assert!(lines[1].contains("COMPLETED"), "{jobs}");
    let ids = vigil_ok(&endpoint, &["-q", "jobs", "list"]);
    assert_eq!(ids.lines().count(), 1, "{ids}");
}
