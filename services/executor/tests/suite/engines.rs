//! Dump and restore through the real tools, without the repository in
//! between: the dump of the source and of the restored copy must match, the
//! password travels only through the environment, and a tool's failure is an
//! error that never echoes the password.

use crate::common;

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::db;
use vigil_executor::dburl::DbUrl;
use vigil_executor::engines::{EngineCtx, Engines, mysql, postgres, sqlite};
use vigil_executor::secret::Secret;

fn ctx(password: Option<&str>) -> EngineCtx {
    EngineCtx {
        password: password.map(Secret::new),
        cancel: Arc::new(AtomicBool::new(false)),
        timeout: Duration::from_secs(60),
        hidden_env: Vec::new(),
    }
}

#[tokio::test]
async fn probing_finds_the_machines_tools_and_advertises_them() {
    let e = Engines::probe(None).await;
    let caps = e.capabilities();
    assert!(caps.contains(&"engine:sqlite".to_owned()));
    assert!(caps.contains(&"backup:full".to_owned()) && caps.contains(&"upload".to_owned()));
    assert_eq!(
        e.postgres.is_some(),
        caps.contains(&"engine:postgres".to_owned())
    );
    if let Some(pg) = &e.postgres {
        assert!(pg.version.contains("pg_dump"), "{}", pg.version);
    }
    // With an empty search path, only SQLite (linked in) remains.
    let bare = Engines::probe(Some(&[])).await;
    assert!(bare.postgres.is_none() && bare.mysql.is_none());
    assert!(bare.capabilities().contains(&"engine:sqlite".to_owned()));
    assert!(!bare.capabilities().contains(&"engine:postgres".to_owned()));
}

#[tokio::test]
async fn needs_postgres_dump_and_restore_round_trip() {
    let admin = db::postgres_url();
    let engines = Engines::probe(None).await;
    let tools = engines
        .postgres
        .clone()
        .expect("pg_dump and psql on this machine");
    let src = db::pg_create(&admin, "vigil_src");
    db::pg_fill(&db::pg_db_url(&admin, &src));
    let dst = format!("vigil_dst_{}", uuid::Uuid::new_v4().simple());
    let (src_url, dst_url) = (db::pg_db_url(&admin, &src), db::pg_db_url(&admin, &dst));
    let DbUrl::Postgres(src_pg) = DbUrl::parse("u", &src_url).unwrap() else {
        panic!()
    };
    let DbUrl::Postgres(dst_pg) = DbUrl::parse("u", &dst_url).unwrap() else {
        panic!()
    };

    let result = tokio::task::spawn_blocking(move || {
        let c = ctx(None);
        let mut d = postgres::dump(&tools, &src_pg, &c)?;
        postgres::prepare_target(&tools, &dst_pg, false, &c)?;
        let mut w = postgres::restore(&tools, &dst_pg, &c)?;
        io::copy(&mut d.reader, &mut w).map_err(|e| vigil_executor::Error::io("copy", e))?;
        w.finish()?;
        let tables = d.tables.load(Ordering::Relaxed);
        let restored = postgres::count_tables(&tools, &dst_pg, &c)?;
        // A second restore into the now non-empty database is refused...
        let refused = postgres::prepare_target(&tools, &dst_pg, false, &c)
            .unwrap_err()
            .to_string();
        // ...unless overwrite is set, which leaves an empty database.
        postgres::prepare_target(&tools, &dst_pg, true, &c)?;
        let after_overwrite = postgres::count_tables(&tools, &dst_pg, &c)?;
        Ok::<_, vigil_executor::Error>((tables, restored, refused, after_overwrite))
    })
    .await
    .unwrap();
    let first_restore_dump = db::pg_dump(&dst_url);
    db::pg_drop(&admin, &src);
    db::pg_drop(&admin, &dst);
    let (tables, restored, refused, after_overwrite) = result.unwrap();
    assert_eq!(tables, 3);
    assert_eq!(restored, 3);
    assert!(
        refused.contains("is not empty") && refused.contains("overwrite"),
        "{refused}"
    );
    assert_eq!(after_overwrite, 0);
    assert!(!first_restore_dump.is_empty());
}

#[tokio::test]
async fn needs_postgres_dump_failure_is_an_error_not_a_short_dump() {
    let admin = db::postgres_url();
    let tools = Engines::probe(None).await.postgres.expect("pg_dump");
    let missing = db::pg_db_url(
        &admin,
        &format!("vigil_missing_{}", uuid::Uuid::new_v4().simple()),
    );
    let DbUrl::Postgres(url) = DbUrl::parse("u", &missing).unwrap() else {
        panic!()
    };
    let err = tokio::task::spawn_blocking(move || {
        let mut d = postgres::dump(&tools, &url, &ctx(Some("pw-that-must-not-leak"))).unwrap();
        let mut sink = Vec::new();
        let read = d.reader.read_to_end(&mut sink);
        assert!(read.is_err(), "the end of a failed dump must be an error");
        d.failure.lock().unwrap().take().expect("failure recorded")
    })
    .await
    .unwrap();
    let text = err.to_string();
    assert!(
        text.starts_with("pg_dump failed: exited with status 1"),
        "{text}"
    );
    assert!(text.contains("does not exist"), "{text}");
    assert!(!text.contains("pw-that-must-not-leak"));
}

#[tokio::test]
async fn needs_postgres_cancel_kills_a_running_dump() {
    let admin = db::postgres_url();
    let tools = Engines::probe(None).await.postgres.expect("pg_dump");
    let src = db::pg_create(&admin, "vigil_cancel");
    db::pg_fill(&db::pg_db_url(&admin, &src));
    let DbUrl::Postgres(url) = DbUrl::parse("u", &db::pg_db_url(&admin, &src)).unwrap() else {
        panic!()
    };
    let out = tokio::task::spawn_blocking(move || {
        let c = ctx(None);
        let mut d = postgres::dump(&tools, &url, &c).unwrap();
        let mut first = [0u8; 16];
        d.reader.read_exact(&mut first).unwrap();
        c.cancel.store(true, Ordering::Relaxed);
        let mut rest = Vec::new();
        let r = d.reader.read_to_end(&mut rest);
        (r.is_err(), d.failure.lock().unwrap().take())
    })
    .await
    .unwrap();
    db::pg_drop(&admin, &src);
    // Either the kill landed mid-output (error) or the output was already
    // buffered; in both cases the tool must report a cancel, not success.
    assert!(
        matches!(out.1, Some(vigil_executor::Error::Cancelled)),
        "{out:?}"
    );
    assert!(out.0);
}

#[tokio::test]
async fn needs_mysql_round_trip_with_a_password_protected_user() {
    let admin = db::mysql_url();
    let tools = Engines::probe(None)
        .await
        .mysql
        .expect("mariadb-dump and mariadb on this machine");
    let src = db::mysql_create(&admin, "vsrc");
    db::mysql_fill(&admin, &src);
    let dst = db::mysql_create(&admin, "vdst");
    let (user, password) = db::mysql_user(&admin, &src);
    let (user2, password2) = db::mysql_user(&admin, &dst);
    let host = admin.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = admin.port().unwrap_or(3306);
    let src_url = format!("mysql://{user}@{host}:{port}/{src}");
    let dst_url = format!("mysql://{user2}@{host}:{port}/{dst}");
    let DbUrl::Mysql(s) = DbUrl::parse("u", &src_url).unwrap() else {
        panic!()
    };
    let DbUrl::Mysql(d) = DbUrl::parse("u", &dst_url).unwrap() else {
        panic!()
    };
    let (pw, pw2) = (password.clone(), password2.clone());
    let t = tools.clone();
    let (s2, d2) = (s.clone(), d.clone());
    let result = tokio::task::spawn_blocking(move || {
        // Without the password the dump fails, and says so.
        let mut no_pw = mysql::dump(&t, &s2, &ctx(None))?;
        let denied = no_pw.reader.read_to_end(&mut Vec::new()).is_err();
        let mut dump = mysql::dump(&t, &s2, &ctx(Some(&pw)))?;
        let c2 = ctx(Some(&pw2));
        mysql::prepare_target(&t, &d2, false, &c2)?;
        let mut w = mysql::restore(&t, &d2, &c2)?;
        io::copy(&mut dump.reader, &mut w).map_err(|e| vigil_executor::Error::io("copy", e))?;
        w.into_inner().unwrap().finish()?;
        let restored = mysql::count_tables(&t, &d2, &c2)?;
        let refused = mysql::prepare_target(&t, &d2, false, &c2)
            .unwrap_err()
            .to_string();
        Ok::<_, vigil_executor::Error>((
            denied,
            dump.tables.load(Ordering::Relaxed),
            restored,
            refused,
            no_pw.failure.lock().unwrap().take(),
        ))
    })
    .await
    .unwrap();
    let (src_dump, dst_dump) = (db::mysql_dump(&admin, &src), db::mysql_dump(&admin, &dst));
    db::mysql_drop(&admin, &src);
    db::mysql_drop(&admin, &dst);
    db::mysql_drop_user(&admin, &user);
    db::mysql_drop_user(&admin, &user2);
    let (denied, tables, restored, refused, denial) = result.unwrap();
    assert!(denied);
    let denial = denial.expect("denial recorded").to_string();
    assert!(denial.contains("Access denied"), "{denial}");
    assert_eq!((tables, restored), (2, 2));
    assert!(refused.contains("not empty"), "{refused}");
    // Restored views and triggers belong to the restoring user.
    let norm = |d: &str, name: &str| {
        String::from_utf8(vigil_executor::engines::definer::strip_definer(
            d.replace(name, "X").as_bytes(),
        ))
        .unwrap()
    };
    assert_eq!(norm(&src_dump, &src), norm(&dst_dump, &dst));
    for text in [&src_dump, &dst_dump, &denial, &refused] {
        assert!(!text.contains(&password) && !text.contains(&password2));
    }
}

#[tokio::test]
async fn sqlite_copy_and_restore_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("app.db");
    db::sqlite(
        &src,
        "PRAGMA journal_mode=WAL; CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO a (v) VALUES ('x'), ('ünï'); CREATE TABLE b (blob BLOB); INSERT INTO b VALUES (x'00ff');",
    );
    let copy = sqlite::copy_for_backup(&src, dir.path()).await.unwrap();
    assert_eq!(copy.tables, 2);
    let target = dir.path().join("restored/app.db");
    let tmp = sqlite::prepare_target(&target, false).unwrap();
    std::fs::copy(&copy.path, &tmp).unwrap();
    assert_eq!(sqlite::finish_restore(&tmp, &target, 2).await.unwrap(), 2);
    assert_eq!(db::sqlite_dump(&src), db::sqlite_dump(&target));
    let e = sqlite::prepare_target(&target, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("already exists; set overwrite"), "{e}");
    // A file that is not a database fails its check and is not moved in.
    let tmp = sqlite::prepare_target(&target, true).unwrap();
    std::fs::write(
        &tmp,
        b"not a database at all, just text that is long enough to matter",
    )
    .unwrap();
    assert!(sqlite::finish_restore(&tmp, &target, 2).await.is_err());
    assert!(!tmp.exists());
    assert_eq!(db::sqlite_dump(&src), db::sqlite_dump(&target));
}
