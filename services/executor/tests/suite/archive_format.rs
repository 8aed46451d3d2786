//! The export archive: round trips keep content and metadata, and every kind
//! of hostile archive is rejected before anything is written outside (or,
//! for a broken archive, inside) the target.

use std::fs;
use std::io::{Cursor, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::AtomicBool;

use vigil_executor::archive::extract::{ExtractOptions, ExtractStats, extract};
use vigil_executor::archive::writer::{ManifestHead, MemberMeta};
use vigil_executor::archive::{self, ArchiveBuilder, ArchiveReader, Manifest, Member, MemberKind};

fn meta(path: &str, mode: u32, mtime: i64) -> MemberMeta {
    MemberMeta {
        path: path.into(),
        mode,
        mtime,
        mtime_nsec: 123_456_789,
    }
}

fn sample_archive(staging: &Path) -> Vec<u8> {
    let mut b = ArchiveBuilder::new(staging, 3).unwrap();
    b.add_dir(meta("docs", 0o750, 1_700_000_000)).unwrap();
    b.add_data(meta("docs/a.txt", 0o640, 1_700_000_001), None, |w| {
        w.write_all(b"hello archive")
            .map_err(|e| vigil_executor::Error::io("x", e))
    })
    .unwrap();
    b.add_data(meta("docs/empty", 0o600, 1_700_000_002), None, |_| Ok(()))
        .unwrap();
    b.add_symlink(meta("docs/link", 0o777, 1_700_000_003), "a.txt".into())
        .unwrap();
    b.add_data(
        meta("database/postgres.sql", 0o600, 1_700_000_004),
        Some("postgres".into()),
        |w| {
            w.write_all(b"CREATE TABLE t (id int);\n")
                .map_err(|e| vigil_executor::Error::io("x", e))
        },
    )
    .unwrap();
    let mut r = b
        .finish(ManifestHead {
            created: "2025-12-20T22:23:05Z".into(),
            backup_kind: "EXPORT".into(),
            database: Some(archive::DatabaseInfo {
                engine: "postgres".into(),
                member: "database/postgres.sql".into(),
                tables: 1,
            }),
            ..Default::default()
        })
        .unwrap();
    let mut out = Vec::new();
    r.reader().unwrap().read_to_end(&mut out).unwrap();
    assert_eq!(out.len() as u64, r.size);
    assert_eq!(r.checksum, archive::checksum_text(&blake3::hash(&out)));
    out
}

fn run_extract(
    bytes: &[u8],
    target: &Path,
    opts: &ExtractOptions,
) -> vigil_executor::Result<(ExtractStats, Vec<u8>)> {
    let reader = ArchiveReader::open(Cursor::new(bytes))?;
    let mut dump = Vec::new();
    let stats = extract(
        reader,
        target,
        opts,
        &mut |_m: &Member, r: &mut dyn Read| {
            r.read_to_end(&mut dump)
                .map(drop)
                .map_err(|e| vigil_executor::Error::io("dump", e))
        },
        &|_, _| {},
        &AtomicBool::new(false),
    )?;
    Ok((stats, dump))
}

#[test]
fn round_trip_keeps_content_modes_times_and_links() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = sample_archive(dir.path());
    let manifest = archive::validate(Cursor::new(&bytes)).unwrap();
    assert_eq!(manifest.members.len(), 5);
    assert_eq!(manifest.file_count(), 2);

    let target = dir.path().join("out");
    let (stats, dump) = run_extract(&bytes, &target, &ExtractOptions::default()).unwrap();
    assert_eq!(
        stats,
        ExtractStats {
            files: 2,
            bytes: 13,
            dirs: 1,
            symlinks: 1
        }
    );
    assert_eq!(dump, b"CREATE TABLE t (id int);\n");
    assert!(
        !target.join("database").exists(),
        "streams go to the callback, not the directory"
    );
    assert_eq!(
        fs::read(target.join("docs/a.txt")).unwrap(),
        b"hello archive"
    );
    let md = fs::metadata(target.join("docs/a.txt")).unwrap();
    assert_eq!(md.permissions().mode() & 0o7777, 0o640);
    assert_eq!((md.mtime(), md.mtime_nsec()), (1_700_000_001, 123_456_789));
    let dmd = fs::metadata(target.join("docs")).unwrap();
    assert_eq!(
        (dmd.permissions().mode() & 0o7777, dmd.mtime()),
        (0o750, 1_700_000_000)
    );
    assert_eq!(
        fs::read_link(target.join("docs/link")).unwrap(),
        Path::new("a.txt")
    );
    assert_eq!(
        fs::symlink_metadata(target.join("docs/link"))
            .unwrap()
            .mtime(),
        1_700_000_003
    );
    assert_eq!(fs::read(target.join("docs/empty")).unwrap(), b"");

    let with_streams = dir.path().join("out2");
    let opts = ExtractOptions {
        streams_as_files: true,
        ..Default::default()
    };
    run_extract(&bytes, &with_streams, &opts).unwrap();
    assert_eq!(
        fs::read(with_streams.join("database/postgres.sql")).unwrap(),
        b"CREATE TABLE t (id int);\n"
    );
}

#[test]
fn existing_files_are_kept_without_overwrite_and_replaced_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = sample_archive(dir.path());
    let target = dir.path().join("out");
    fs::create_dir_all(target.join("docs")).unwrap();
    fs::write(target.join("docs/a.txt"), b"precious").unwrap();
    let e = run_extract(&bytes, &target, &ExtractOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("already exists; set overwrite"), "{e}");
    assert_eq!(fs::read(target.join("docs/a.txt")).unwrap(), b"precious");
    assert!(
        !target.join("docs/empty").exists(),
        "a refused restore writes nothing"
    );

    run_extract(
        &bytes,
        &target,
        &ExtractOptions {
            overwrite: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        fs::read(target.join("docs/a.txt")).unwrap(),
        b"hello archive"
    );
}

#[test]
fn a_symlink_already_in_the_target_is_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = sample_archive(dir.path());
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let target = dir.path().join("out");
    fs::create_dir(&target).unwrap();
    std::os::unix::fs::symlink(&outside, target.join("docs")).unwrap();
    let opts = ExtractOptions {
        overwrite: true,
        ..Default::default()
    };
    let e = run_extract(&bytes, &target, &opts).unwrap_err().to_string();
    assert!(
        e.contains("exists with another type") || e.contains("symlink"),
        "{e}"
    );
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
}

// ---- hostile archives, crafted byte by byte ----

struct Raw {
    manifest: serde_json::Value,
    body: Vec<u8>,
}

fn data_member(path: &str, content: &[u8]) -> (serde_json::Value, Vec<u8>) {
    let frame = zstd::encode_all(content, 3).unwrap();
    let m = serde_json::json!({
        "path": path, "type": "file", "mode": 0o644, "mtime": 1, "size": content.len(),
        "stored_size": frame.len(), "blake3": blake3::hash(content).to_hex().to_string(),
    });
    (m, frame)
}

fn raw(members: Vec<(serde_json::Value, Vec<u8>)>) -> Raw {
    let (ms, bodies): (Vec<_>, Vec<_>) = members.into_iter().unzip();
    Raw {
        manifest: serde_json::json!({"format": "vigil-export", "version": 1, "created": "2025-01-01T00:00:00Z", "members": ms}),
        body: bodies.concat(),
    }
}

fn encode(r: &Raw) -> Vec<u8> {
    let json = serde_json::to_vec(&r.manifest).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(b"VIGILEXP");
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(blake3::hash(&json).as_bytes());
    out.extend_from_slice(&(r.body.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&r.body);
    let total = out.len() as u64;
    out.extend_from_slice(b"VGXEND01");
    out.extend_from_slice(&total.to_le_bytes());
    out
}

/// Extracting `bytes` must fail with a message containing `expect`, and
/// leave the target empty and the directory around it untouched.
fn assert_rejected(bytes: &[u8], expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    fs::create_dir(&target).unwrap();
    let before: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let err = archive::validate(Cursor::new(bytes)).unwrap_err();
    assert!(
        matches!(err, vigil_executor::Error::InvalidArchive(_)),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(expect),
        "expected {expect:?} in {err}"
    );
    assert!(
        run_extract(
            bytes,
            &target,
            &ExtractOptions {
                overwrite: true,
                ..Default::default()
            }
        )
        .is_err()
    );
    let after: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "nothing may appear next to the target");
    assert!(!dir.path().join("etc").exists() && !Path::new("/tmp/vigil-escape-probe").exists());
}

#[test]
fn a_well_formed_crafted_archive_is_accepted() {
    // Guards the crafting helpers: every rejection below comes from one change.
    let bytes = encode(&raw(vec![data_member("ok.txt", b"fine")]));
    archive::validate(Cursor::new(&bytes)).unwrap();
}

#[test]
fn path_traversal_is_rejected() {
    assert_rejected(
        &encode(&raw(vec![data_member("../escape.txt", b"x")])),
        "path traversal",
    );
    assert_rejected(
        &encode(&raw(vec![data_member("a/../../escape.txt", b"x")])),
        "path traversal",
    );
}

#[test]
fn absolute_paths_are_rejected() {
    assert_rejected(
        &encode(&raw(vec![data_member("/tmp/vigil-escape-probe", b"x")])),
        "absolute",
    );
}

#[test]
fn symlink_escapes_are_rejected() {
    let link = |path: &str, target: &str| {
        (
            serde_json::json!({"path": path, "type": "symlink", "target": target, "mode": 0o777}),
            Vec::new(),
        )
    };
    assert_rejected(&encode(&raw(vec![link("etc", "/etc")])), "absolute");
    assert_rejected(
        &encode(&raw(vec![link("up", "../..")])),
        "leaves the archive",
    );
    assert_rejected(
        &encode(&raw(vec![link("d", "."), data_member("d/x", b"x")])),
        "passes through the symlink",
    );
    assert_rejected(
        &encode(&raw(vec![link("me", "."), link("x", "me/../outside")])),
        "climbs out",
    );
}

#[test]
fn truncated_archives_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let good = sample_archive(dir.path());
    for cut in [
        0,
        10,
        63,
        64,
        100,
        good.len() - 40,
        good.len() - 16,
        good.len() - 1,
    ] {
        let e = archive::validate(Cursor::new(&good[..cut]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("truncated") || e.contains("trailer"),
            "cut at {cut}: {e}"
        );
    }
    assert_rejected(&good[..good.len() - 20], "truncated");
}

#[test]
fn corrupt_bytes_anywhere_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let good = sample_archive(dir.path());
    let mut rejected = 0;
    for at in (0..good.len()).step_by(7) {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        if archive::validate(Cursor::new(&bad)).is_err() {
            rejected += 1;
        } else {
            panic!("flipping byte {at} of {} went unnoticed", good.len());
        }
    }
    assert!(rejected > 10);
    let mut bad = good.clone();
    bad.push(0);
    assert_rejected(&bad, "after the trailer");
}

#[test]
fn a_manifest_lying_about_sizes_or_hashes_is_rejected() {
    let mut r = raw(vec![data_member("a.txt", b"actual content")]);
    r.manifest["members"][0]["size"] = serde_json::json!(3);
    assert_rejected(&encode(&r), "more bytes than");

    let mut r = raw(vec![data_member("a.txt", b"actual content")]);
    r.manifest["members"][0]["size"] = serde_json::json!(1000);
    assert_rejected(&encode(&r), "the manifest says 1000");

    let mut r = raw(vec![data_member("a.txt", b"actual content")]);
    r.manifest["members"][0]["blake3"] =
        serde_json::json!(blake3::hash(b"other").to_hex().to_string());
    assert_rejected(&encode(&r), "blake3");

    let mut r = raw(vec![
        data_member("a.txt", b"actual content"),
        data_member("b.txt", b"b"),
    ]);
    let first = r.manifest["members"][0]["stored_size"].as_u64().unwrap();
    r.manifest["members"][0]["stored_size"] = serde_json::json!(first + 1);
    r.manifest["members"][1]["stored_size"] =
        serde_json::json!(r.manifest["members"][1]["stored_size"].as_u64().unwrap() - 1);
    assert!(archive::validate(Cursor::new(encode(&r))).is_err());

    // A manifest edited after the fact no longer matches the header's hash.
    let mut bytes = encode(&raw(vec![data_member("a.txt", b"actual content")]));
    let pos = bytes.windows(5).position(|w| w == b"a.txt").unwrap();
    bytes[pos] = b'b';
    assert_rejected(&bytes, "does not match its hash");
}

#[test]
fn a_member_of_another_type_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = encode(&raw(vec![data_member("d", b"file where a dir is")]));
    let target = dir.path().join("t");
    fs::create_dir_all(target.join("d")).unwrap();
    let e = run_extract(
        &bytes,
        &target,
        &ExtractOptions {
            overwrite: true,
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("another type"), "{e}");
    assert!(target.join("d").is_dir());
}

#[test]
fn manifest_json_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = sample_archive(dir.path());
    let m: Manifest = archive::validate(Cursor::new(&bytes)).unwrap();
    let link = m
        .members
        .iter()
        .find(|m| m.kind == MemberKind::Symlink)
        .unwrap();
    assert_eq!(link.target.as_deref(), Some("a.txt"));
    assert_eq!(m.database.as_ref().unwrap().tables, 1);
    // Identical input renders identical bytes, so a checksum taken at backup
    // time still holds when the archive is rendered again for a download.
    assert_eq!(bytes, sample_archive(dir.path()));
}
