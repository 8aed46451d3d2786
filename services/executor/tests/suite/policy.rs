//! A4: the executor's own limits hold whatever a configuration or a restore
//! asks: it never backs up its own files, reads only inside `source_roots`,
//! restores only inside `restore_roots`, and hands a database server only
//! the passwords `allowed_secret_env` and `secret_dirs` allow, never its own
//! credentials. Each attack fails as a job naming the setting, and changes
//! nothing.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Harness, config, tree};
use vigil_proto::catalog::v1::*;

#[allow(unsafe_code)]
fn set_env(name: &str, value: &str) {
    // Each test runs in its own process under nextest, and this runs before
    // any thread of the executor reads the environment.
    unsafe { std::env::set_var(name, value) };
}

fn restore_job(artifact: &str, to: &Path) -> Option<job_params::Params> {
    Some(job_params::Params::Restore(common::restore_params(
        artifact,
        Some(to),
        None,
        true,
    )))
}

async fn artifacts(h: &Harness) -> Vec<Artifact> {
    h.catalog_client()
        .await
        .list_artifacts(ListArtifactsRequest {
            include_pruned: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .artifacts
}

#[tokio::test]
async fn the_repository_key_is_never_backed_up_even_without_source_roots() {
    let h = Harness::start().await;
    let data = h.exec().data_dir.clone();
    let key = data.join("repository.key");
    assert!(key.is_file(), "the executor generated its key");
    // EXPORT of the key file (then a download), a FULL of the data dir,
    // and a FULL of a directory that holds the data dir.
    let attacks: [(&str, BackupKind, PathBuf); 3] = [
        ("steal_key", BackupKind::Export, key.clone()),
        ("steal_data", BackupKind::Full, data.clone()),
        ("steal_parent", BackupKind::Full, h.path().to_owned()),
    ];
    for (name, kind, path) in attacks {
        h.configure(config(name, kind, &[&path], None)).await;
        let job = h.run_failing(name, JobKind::Backup, None).await;
        assert!(
            job.error.starts_with("source.paths[0]:")
                && job.error.contains("the executor's own files"),
            "{name}: {}",
            job.error
        );
    }
    assert!(artifacts(&h).await.is_empty(), "nothing to download");
}

#[tokio::test]
async fn backups_read_only_inside_source_roots() {
    let h = Harness::start_with(|dir, o| {
        std::fs::create_dir_all(dir.join("allowed")).unwrap();
        o.settings.source_roots = Some(vec![dir.join("allowed")]);
    })
    .await;
    let allowed = h.path().join("allowed");
    let outside = h.path().join("outside");
    tree::build(&allowed.join("tree"));
    tree::build(&outside);
    std::os::unix::fs::symlink(&outside, allowed.join("escape")).unwrap();
    for (name, path) in [
        ("outside", outside.clone()),
        ("escape", allowed.join("escape")),
    ] {
        h.configure(config(name, BackupKind::Full, &[&path], None))
            .await;
        let job = h.run_failing(name, JobKind::Backup, None).await;
        assert!(
            job.error.starts_with("source.paths[0]:")
                && job.error.contains("outside executor.source_roots"),
            "{name}: {}",
            job.error
        );
    }
    assert!(artifacts(&h).await.is_empty());
    h.configure(config(
        "inside",
        BackupKind::Full,
        &[&allowed.join("tree")],
        None,
    ))
    .await;
    h.run_ok("inside", JobKind::Backup, None).await;
}

#[tokio::test]
async fn restores_write_only_inside_restore_roots() {
    let h = Harness::start_with(|dir, o| {
        std::fs::create_dir_all(dir.join("restores")).unwrap();
        o.settings.restore_roots = Some(vec![dir.join("restores")]);
    })
    .await;
    let files = h.path().join("files");
    tree::build(&files);
    h.configure(config("files", BackupKind::Full, &[&files], None))
        .await;
    let done = h.run_ok("files", JobKind::Backup, None).await;
    let elsewhere = h.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("keep.txt"), b"untouched").unwrap();
    let restores = h.path().join("restores");
    std::os::unix::fs::symlink(&elsewhere, restores.join("link")).unwrap();
    // Outside the roots, through a symlink out of them, and into the
    // executor's own data dir: all refused, even with --overwrite.
    let data = h.exec().data_dir.clone();
    for (to, setting) in [
        (elsewhere.clone(), "outside executor.restore_roots"),
        (restores.join("link/sub"), "outside executor.restore_roots"),
        (data.clone(), "the executor's own files"),
    ] {
        let job = h
            .run_failing("", JobKind::Restore, restore_job(&done.artifact, &to))
            .await;
        assert!(
            job.error.starts_with("params.restore.target_dir:") && job.error.contains(setting),
            "{}: {}",
            to.display(),
            job.error
        );
    }
    let mut left: Vec<_> = std::fs::read_dir(&elsewhere)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, vec![std::ffi::OsString::from("keep.txt")]);
    assert_eq!(
        std::fs::read(elsewhere.join("keep.txt")).unwrap(),
        b"untouched"
    );
    let inside = restores.join("ok");
    h.run_ok("", JobKind::Restore, restore_job(&done.artifact, &inside))
        .await;
    assert!(inside.exists());
}

/// A PostgreSQL server an attacker runs: it answers SSL and GSS requests
/// with "no", asks for a cleartext password (AuthenticationCleartextPassword)
/// and records every byte clients send.
struct FakePostgres {
    port: u16,
    received: Arc<Mutex<Vec<u8>>>,
}

impl FakePostgres {
    fn start() -> FakePostgres {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let sink = sink.clone();
                std::thread::spawn(move || serve(stream, sink));
            }
        });
        FakePostgres { port, received }
    }

    fn url(&self) -> String {
        format!("postgres://edms@127.0.0.1:{}/edms", self.port)
    }

    fn received(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }
}

fn read_exact(s: &mut std::net::TcpStream, n: usize, sink: &Mutex<Vec<u8>>) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).ok()?;
    sink.lock().unwrap().extend_from_slice(&buf);
    Some(buf)
}

fn serve(mut s: std::net::TcpStream, sink: Arc<Mutex<Vec<u8>>>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    // Startup phase: SSLRequest / GSSENCRequest get 'N', then the startup message.
    loop {
        let Some(len) = read_exact(&mut s, 4, &sink) else {
            return;
        };
        let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
        let Some(body) = read_exact(&mut s, len.saturating_sub(4), &sink) else {
            return;
        };
        let code = u32::from_be_bytes(body[..4].try_into().unwrap());
        if code == 80_877_103 || code == 80_877_104 {
            if s.write_all(b"N").is_err() {
                return;
            }
            continue;
        }
        break;
    }
    // AuthenticationCleartextPassword: 'R', length 8, code 3.
    if s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).is_err() {
        return;
    }
    // The password message, if the client sends one, is recorded.
    let Some(head) = read_exact(&mut s, 5, &sink) else {
        return;
    };
    let len = u32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
    let _ = read_exact(&mut s, len.saturating_sub(4), &sink);
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn secret_from(source: secret_ref::Source) -> DatabaseSource {
    DatabaseSource {
        engine: DatabaseEngine::Postgres as i32,
        url: String::new(),
        password: Some(SecretRef {
            source: Some(source),
        }),
    }
}

#[tokio::test]
async fn a_fake_postgres_server_never_receives_a_denied_secret() {
    let allowed = format!("allowed-{}", uuid::Uuid::new_v4().simple());
    let denied = format!("denied-{}", uuid::Uuid::new_v4().simple());
    let own = format!("own-{}", uuid::Uuid::new_v4().simple());
    set_env("FAKE_PG_ALLOWED_PASSWORD", &allowed);
    set_env("FAKE_PG_DENIED_PASSWORD", &denied);
    set_env("VIGIL_FAKE_OWN_SECRET", &own);
    set_env("AWS_SECRET_ACCESS_KEY", &own);
    let h = Harness::start_with(|dir, o| {
        std::fs::create_dir_all(dir.join("secrets")).unwrap();
        std::fs::create_dir_all(dir.join("other")).unwrap();
        o.settings.allowed_secret_env = Some(vec!["FAKE_PG_ALLOWED_PASSWORD".into()]);
        o.settings.secret_dirs = Some(vec![dir.join("secrets")]);
    })
    .await;
    let info = h
        .executor_client()
        .await
        .get_executor_info(vigil_proto::executor::v1::GetExecutorInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        info.capabilities.iter().any(|c| c == "engine:postgres"),
        "pg_dump must be installed for this test: {:?}",
        info.capabilities
    );
    std::fs::write(h.path().join("other/db-password"), &denied).unwrap();
    std::fs::write(h.path().join("secrets/db-password"), &allowed).unwrap();
    let key = h.exec().data_dir.join("repository.key");
    let server = FakePostgres::start();
    let env = |v: &str| secret_ref::Source::Env(v.into());
    let file = |p: &Path| secret_ref::Source::File(p.display().to_string());
    let attacks = [
        (
            env("FAKE_PG_DENIED_PASSWORD"),
            "executor.allowed_secret_env",
        ),
        (
            env("VIGIL_FAKE_OWN_SECRET"),
            "never sends its own credentials",
        ),
        (
            env("AWS_SECRET_ACCESS_KEY"),
            "never sends its own credentials",
        ),
        (
            file(&h.path().join("other/db-password")),
            "executor.secret_dirs",
        ),
        (file(&key), "never sends its own credentials"),
        (
            file(Path::new("/proc/self/environ")),
            "never sends its own credentials",
        ),
    ];
    for (i, (source, setting)) in attacks.into_iter().enumerate() {
        let name = format!("attack{i}");
        let mut db = secret_from(source);
        db.url = server.url();
        h.configure(config(&name, BackupKind::Database, &[], Some(db)))
            .await;
        let job = h.run_failing(&name, JobKind::Backup, None).await;
        assert!(
            job.error.starts_with("source.database.password.") && job.error.contains(setting),
            "{name}: {}",
            job.error
        );
    }
    let got = server.received();
    assert!(got.is_empty(), "no connection was even made: {got:?}");

    // The same server does receive an allowed password: the test can see a leak.
    let mut db = secret_from(env("FAKE_PG_ALLOWED_PASSWORD"));
    db.url = server.url();
    h.configure(config("allowed", BackupKind::Database, &[], Some(db)))
        .await;
    let job = h.run_failing("allowed", JobKind::Backup, None).await;
    let got = server.received();
    assert!(contains(&got, &allowed), "{job:?}");
    for secret in [&denied, &own] {
        assert!(
            !contains(&got, secret),
            "a denied secret reached the server"
        );
    }
}
