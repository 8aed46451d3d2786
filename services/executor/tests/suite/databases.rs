//! Every backup kind against every engine on this machine, through the real
//! catalog and executor: the database restored into another database (or
//! file) dumps exactly like the original; a non-empty target is refused
//! without the overwrite flag; an EXPORT archive moved to another Vigil
//! restores there.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::{Harness, config, database, db, tree};
use vigil_proto::catalog::v1::*;

fn password_file(dir: &Path, name: &str, password: &str) -> SecretRef {
    let p = dir.join(name);
    std::fs::write(&p, format!("{password}\n")).unwrap();
    SecretRef {
        source: Some(secret_ref::Source::File(p.display().to_string())),
    }
}

async fn restore_ok(
    h: &Harness,
    artifact: &str,
    dir: Option<&Path>,
    url: Option<&str>,
    password: Option<SecretRef>,
) -> BackupJob {
    let mut params = common::restore_params(artifact, dir, url, false);
    params.database_password = password;
    let job = h
        .create_job(
            "",
            JobKind::Restore,
            Some(job_params::Params::Restore(params)),
        )
        .await;
    let done = h.wait_job(&job.id, Duration::from_secs(120)).await;
    assert_eq!(
        done.state(),
        JobState::Completed,
        "restore failed: {}",
        done.error
    );
    done
}

#[tokio::test]
async fn needs_postgres_database_full_and_export_round_trips() {
    let admin = db::postgres_url();
    let h = Harness::start().await;
    let src = db::pg_create(&admin, "vigil_rt_src");
    let src_url = db::pg_db_url(&admin, &src);
    db::pg_fill(&src_url);
    let files = h.path().join("files");
    tree::build(&files);
    let original = db::pg_dump(&src_url);
    let mut made = vec![src.clone()];

    // DATABASE: restore into a database that does not exist yet.
    h.configure(config(
        "pg_db",
        BackupKind::Database,
        &[],
        Some(database(DatabaseEngine::Postgres, &src_url, None)),
    ))
    .await;
    let job = h.run_ok("pg_db", JobKind::Backup, None).await;
    let artifact = h.artifact(&job.artifact).await;
    assert_eq!(
        artifact
            .labels
            .get("vigil.database.engine")
            .map(String::as_str),
        Some("postgres")
    );
    assert_eq!(
        artifact
            .labels
            .get("vigil.database.tables")
            .map(String::as_str),
        Some("3")
    );
    let dst = format!("vigil_rt_dst_{}", uuid::Uuid::new_v4().simple());
    made.push(dst.clone());
    let dst_url = db::pg_db_url(&admin, &dst);
    restore_ok(&h, &job.artifact, None, Some(&dst_url), None).await;
    assert_eq!(db::pg_dump(&dst_url), original);

    // A second restore into it is refused: it is not empty any more.
    let refused = h.restore(&job.artifact, None, Some(&dst_url), false).await;
    let refused = h.wait_job(&refused.id, Duration::from_secs(60)).await;
    assert_eq!(refused.state(), JobState::Failed);
    assert!(
        refused.error.contains("is not empty") && refused.error.contains("overwrite"),
        "{}",
        refused.error
    );
    assert_eq!(db::pg_dump(&dst_url), original);
    // With the flag it is replaced.
    db::psql(&dst_url, "CREATE TABLE stray (x int)");
    let again = h.restore(&job.artifact, None, Some(&dst_url), true).await;
    assert_eq!(
        h.wait_job(&again.id, Duration::from_secs(60)).await.state(),
        JobState::Completed
    );
    assert_eq!(db::pg_dump(&dst_url), original);

    // FULL: database and files in one snapshot, restored in one job.
    h.configure(config(
        "pg_full",
        BackupKind::Full,
        &[&files],
        Some(database(DatabaseEngine::Postgres, &src_url, None)),
    ))
    .await;
    let full = h.run_ok("pg_full", JobKind::Backup, None).await;
    let dst2 = format!("vigil_rt_full_{}", uuid::Uuid::new_v4().simple());
    made.push(dst2.clone());
    let target = h.path().join("full-restore");
    restore_ok(
        &h,
        &full.artifact,
        Some(&target),
        Some(&db::pg_db_url(&admin, &dst2)),
        None,
    )
    .await;
    assert_eq!(db::pg_dump(&db::pg_db_url(&admin, &dst2)), original);
    tree::assert_same(&files, &tree::restored_root(&target, &files));
    assert!(
        !target.join("db.postgres.sql").exists(),
        "the dump went to the database, not the directory"
    );

    // EXPORT: download, upload to another Vigil, restore there.
    h.configure(config(
        "pg_export",
        BackupKind::Export,
        &[&files],
        Some(database(DatabaseEngine::Postgres, &src_url, None)),
    ))
    .await;
    let export = h.run_ok("pg_export", JobKind::Backup, None).await;
    let (meta, bytes) = h.download(&export.artifact).await;
    let other = Harness::start().await;
    let up = other
        .upload(&meta.file_name, "", bytes, None)
        .await
        .expect("upload");
    let up_artifact = up.artifact.unwrap();
    assert_eq!(
        up_artifact
            .labels
            .get("vigil.database.engine")
            .map(String::as_str),
        Some("postgres")
    );
    let dst3 = format!("vigil_rt_export_{}", uuid::Uuid::new_v4().simple());
    made.push(dst3.clone());
    let target3 = other.path().join("export-restore");
    restore_ok(
        &other,
        &up_artifact.id,
        Some(&target3),
        Some(&db::pg_db_url(&admin, &dst3)),
        None,
    )
    .await;
    let restored = db::pg_dump(&db::pg_db_url(&admin, &dst3));
    for name in &made {
        db::pg_drop(&admin, name);
    }
    assert_eq!(restored, original);
    tree::assert_same(&files, &tree::restored_root(&target3, &files));
}

#[tokio::test]
async fn needs_mysql_round_trips_with_password_protected_users() {
    let admin = db::mysql_url();
    let h = Harness::start().await;
    let src = db::mysql_create(&admin, "vsrc");
    db::mysql_fill(&admin, &src);
    let (user, password) = db::mysql_user(&admin, &src);
    let dst = db::mysql_create(&admin, "vdst");
    let (user2, password2) = db::mysql_user(&admin, &dst);
    let host = format!(
        "{}:{}",
        admin.host_str().unwrap_or("127.0.0.1"),
        admin.port().unwrap_or(3306)
    );
    let src_url = format!("mysql://{user}@{host}/{src}");
    let dst_url = format!("mysql://{user2}@{host}/{dst}");
    let mut source = database(DatabaseEngine::Mysql, &src_url, None);
    source.password = Some(password_file(h.path(), "src-pw", &password));
    let files = h.path().join("files");
    tree::build(&files);
    h.configure(config(
        "my_db",
        BackupKind::Database,
        &[],
        Some(source.clone()),
    ))
    .await;
    h.configure(config(
        "my_export",
        BackupKind::Export,
        &[&files],
        Some(source),
    ))
    .await;

    let job = h.run_ok("my_db", JobKind::Backup, None).await;
    assert_eq!(
        h.artifact(&job.artifact)
            .await
            .labels
            .get("vigil.database.tables")
            .map(String::as_str),
        Some("2")
    );
    let pw2 = password_file(h.path(), "dst-pw", &password2);
    restore_ok(&h, &job.artifact, None, Some(&dst_url), Some(pw2.clone())).await;
    let norm = |d: &str, name: &str| {
        String::from_utf8(vigil_executor::engines::definer::strip_definer(
            d.replace(name, "X").as_bytes(),
        ))
        .unwrap()
    };
    let original = norm(&db::mysql_dump(&admin, &src), &src);
    assert_eq!(norm(&db::mysql_dump(&admin, &dst), &dst), original);

    // Refused without overwrite, replaced with it.
    let mut params = common::restore_params(&job.artifact, None, Some(&dst_url), false);
    params.database_password = Some(pw2.clone());
    let refused = h
        .create_job(
            "",
            JobKind::Restore,
            Some(job_params::Params::Restore(params.clone())),
        )
        .await;
    let refused = h.wait_job(&refused.id, Duration::from_secs(60)).await;
    assert!(refused.error.contains("not empty"), "{}", refused.error);

    // EXPORT through another Vigil, into the same schema with overwrite.
    let export = h.run_ok("my_export", JobKind::Backup, None).await;
    let (meta, bytes) = h.download(&export.artifact).await;
    let other = Harness::start().await;
    let up = other
        .upload(&meta.file_name, "", bytes, None)
        .await
        .expect("upload")
        .artifact
        .unwrap();
    params.artifact = up.id.clone();
    params.overwrite = true;
    params.target_dir = other.path().join("out").display().to_string();
    let r = other
        .create_job(
            "",
            JobKind::Restore,
            Some(job_params::Params::Restore(params)),
        )
        .await;
    let r = other.wait_job(&r.id, Duration::from_secs(120)).await;
    assert_eq!(r.state(), JobState::Completed, "{}", r.error);
    let restored = norm(&db::mysql_dump(&admin, &dst), &dst);
    db::mysql_drop(&admin, &src);
    db::mysql_drop(&admin, &dst);
    db::mysql_drop_user(&admin, &user);
    db::mysql_drop_user(&admin, &user2);
    assert_eq!(restored, original);
    tree::assert_same(
        &files,
        &tree::restored_root(&other.path().join("out"), &files),
    );
    for j in h
        .all_jobs()
        .await
        .iter()
        .chain(other.all_jobs().await.iter())
    {
        let text = format!("{j:?}");
        assert!(
            !text.contains(&password) && !text.contains(&password2),
            "a job record holds a password"
        );
    }
}

#[tokio::test]
async fn sqlite_database_and_export_round_trips() {
    let h = Harness::start().await;
    let src = h.path().join("app.db");
    db::sqlite(
        &src,
        "PRAGMA journal_mode=WAL; CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT, body BLOB); \
         INSERT INTO docs (title, body) VALUES ('a', x'00ff'), ('ünï', NULL); CREATE TABLE tags (doc INT, tag TEXT); \
         CREATE INDEX tags_doc ON tags(doc); INSERT INTO tags VALUES (1, 'x');",
    );
    let original = db::sqlite_dump(&src);
    let url = format!("sqlite://{}", src.display());
    h.configure(config(
        "lite_db",
        BackupKind::Database,
        &[],
        Some(database(DatabaseEngine::Sqlite, &url, None)),
    ))
    .await;
    let job = h.run_ok("lite_db", JobKind::Backup, None).await;
    assert_eq!(
        h.artifact(&job.artifact)
            .await
            .labels
            .get("vigil.database.tables")
            .map(String::as_str),
        Some("2")
    );
    let target = h.path().join("restored/app.db");
    let target_url = format!("sqlite://{}", target.display());
    restore_ok(&h, &job.artifact, None, Some(&target_url), None).await;
    assert_eq!(db::sqlite_dump(&target), original);
    // Refused over an existing database file without overwrite.
    let refused = h
        .restore(&job.artifact, None, Some(&target_url), false)
        .await;
    let refused = h.wait_job(&refused.id, Duration::from_secs(60)).await;
    assert!(
        refused.error.contains("already exists; set overwrite"),
        "{}",
        refused.error
    );
    // A directory restore of a DATABASE artifact gives the dump as a file.
    let dir = h.path().join("as-file");
    restore_ok(&h, &job.artifact, Some(&dir), None, None).await;
    let copy = dir.join("db.sqlite");
    assert_eq!(db::sqlite_dump(&copy), original);

    // EXPORT of the database alone, restored from the uploaded archive.
    h.configure(config(
        "lite_export",
        BackupKind::Export,
        &[],
        Some(database(DatabaseEngine::Sqlite, &url, None)),
    ))
    .await;
    let export = h.run_ok("lite_export", JobKind::Backup, None).await;
    let (meta, bytes) = h.download(&export.artifact).await;
    let up = h
        .upload(&meta.file_name, "lite_export", bytes, None)
        .await
        .expect("upload")
        .artifact
        .unwrap();
    assert_eq!(up.configuration, "lite_export");
    let t2 = h.path().join("restored2/app.db");
    restore_ok(
        &h,
        &up.id,
        None,
        Some(&format!("sqlite://{}", t2.display())),
        None,
    )
    .await;
    assert_eq!(db::sqlite_dump(&t2), original);
}

#[tokio::test]
async fn needs_postgres_a_dump_that_fails_fails_the_job_and_records_no_artifact() {
    let admin = db::postgres_url();
    let h = Harness::start().await;
    let missing = db::pg_db_url(
        &admin,
        &format!("vigil_missing_{}", uuid::Uuid::new_v4().simple()),
    );
    h.configure(config(
        "pg_missing",
        BackupKind::Database,
        &[],
        Some(database(DatabaseEngine::Postgres, &missing, None)),
    ))
    .await;
    let job = h.create_job("pg_missing", JobKind::Backup, None).await;
    let done = h.wait_job(&job.id, Duration::from_secs(120)).await;
    assert_eq!(done.state(), JobState::Failed);
    assert!(
        done.error
            .starts_with("pg_dump failed: exited with status 1"),
        "{}",
        done.error
    );
    assert!(done.artifact.is_empty());
    assert_eq!(
        done.attempt, 1,
        "a database that does not exist is not retried"
    );
}
