//! Scratch databases on the machine's PostgreSQL and MariaDB, driven
//! through their command-line clients.

#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

/// The PostgreSQL admin URL from `VIGIL_TEST_POSTGRES_URL` (required).
pub(crate) fn postgres_url() -> url::Url {
    let url = vigil_catalog::testing::service_env("VIGIL_TEST_POSTGRES_URL");
    url::Url::parse(&url).expect("VIGIL_TEST_POSTGRES_URL is a URL")
}

/// The URL of database `db` on the server of `admin`.
pub(crate) fn pg_db_url(admin: &url::Url, db: &str) -> String {
    let mut u = admin.clone();
    u.set_path(&format!("/{db}"));
    u.to_string()
}

/// Runs SQL through psql against `url`; panics on failure; returns stdout.
pub(crate) fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh, uniquely named database; returns its name.
pub(crate) fn pg_create(admin: &url::Url, prefix: &str) -> String {
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    psql(
        &pg_db_url(admin, "postgres"),
        &format!("CREATE DATABASE \"{name}\""),
    );
    name
}

/// Drops a database if it exists.
pub(crate) fn pg_drop(admin: &url::Url, name: &str) {
    psql(
        &pg_db_url(admin, "postgres"),
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    );
}

/// `pg_dump` of `url` in the executor's own format, for comparisons.
pub(crate) fn pg_dump(url: &str) -> String {
    let out = Command::new("pg_dump")
        .args(["--format=plain", "--no-owner", "--no-privileges", "-d", url])
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // pg_dump writes a fresh random key into its \restrict and \unrestrict lines.
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict ") && !l.starts_with("\\unrestrict "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a `pg_dump` process of database `name` is running on this machine.
pub(crate) fn pg_dump_running(name: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline);
        let argv0 = text.split('\0').next().unwrap_or_default();
        argv0.ends_with("pg_dump") && text.contains(name)
    })
}

/// Fills a database with a few tables, a view, a sequence, and awkward data.
pub(crate) fn pg_fill(url: &str) {
    psql(
        url,
        "CREATE TABLE docs (id serial PRIMARY KEY, title text NOT NULL, body bytea, created timestamptz DEFAULT '2025-01-02 03:04:05+00');
         CREATE TABLE tags (doc int REFERENCES docs(id), tag text);
         CREATE SCHEMA media; CREATE TABLE media.files (path text PRIMARY KEY, size bigint);
         INSERT INTO docs (title, body) SELECT 'doc ' || g || E' with \\'quotes\\' and\\ttabs', decode(md5(g::text), 'hex') FROM generate_series(1, 500) g;
         INSERT INTO tags SELECT g, 'tag' || (g % 7) FROM generate_series(1, 500) g;
         INSERT INTO media.files VALUES ('/srv/a', 1), ('/srv/ünïcode', 2);
         CREATE VIEW doc_count AS SELECT count(*) FROM docs;",
    );
}

/// The MariaDB server to test against, from `VIGIL_TEST_MYSQL_URL` (required).
pub(crate) fn mysql_url() -> url::Url {
    let url = vigil_catalog::testing::service_env("VIGIL_TEST_MYSQL_URL");
    url::Url::parse(&url).expect("VIGIL_TEST_MYSQL_URL is a URL")
}

fn mysql_args(admin: &url::Url) -> Vec<String> {
    vec![
        "--no-defaults".into(),
        format!("--host={}", admin.host_str().unwrap_or("127.0.0.1")),
        format!("--port={}", admin.port().unwrap_or(3306)),
        "--protocol=TCP".into(),
        format!(
            "--user={}",
            if admin.username().is_empty() {
                "root"
            } else {
                admin.username()
            }
        ),
    ]
}

/// Runs SQL as the admin; returns stdout.
pub(crate) fn mysql(admin: &url::Url, db: Option<&str>, sql: &str) -> String {
    let mut c = Command::new("mariadb");
    c.args(mysql_args(admin))
        .args(["--batch", "--skip-column-names"]);
    if let Some(pw) = admin.password() {
        c.env("MYSQL_PWD", pw);
    }
    if let Some(db) = db {
        c.arg(format!("--database={db}"));
    }
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mariadb");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "mariadb {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh schema; returns its name.
pub(crate) fn mysql_create(admin: &url::Url, prefix: &str) -> String {
    let name = format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    mysql(
        admin,
        None,
        &format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4;"),
    );
    name
}

/// Drops a schema if it exists.
pub(crate) fn mysql_drop(admin: &url::Url, name: &str) {
    mysql(admin, None, &format!("DROP DATABASE IF EXISTS `{name}`;"));
}

/// A user with a password and every right on `db`; returns (user, password).
pub(crate) fn mysql_user(admin: &url::Url, db: &str) -> (String, String) {
    let user = format!("vigil_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let password = format!("S3cret-{}-pw", uuid::Uuid::new_v4().simple());
    mysql(
        admin,
        None,
        &format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'; CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}';
             GRANT ALL ON `{db}`.* TO '{user}'@'%'; GRANT ALL ON `{db}`.* TO '{user}'@'localhost';"
        ),
    );
    (user, password)
}

/// Drops a user.
pub(crate) fn mysql_drop_user(admin: &url::Url, user: &str) {
    mysql(
        admin,
        None,
        &format!("DROP USER IF EXISTS '{user}'@'%'; DROP USER IF EXISTS '{user}'@'localhost';"),
    );
}

/// Fills a schema with tables, a view, a trigger and awkward data.
pub(crate) fn mysql_fill(admin: &url::Url, db: &str) {
    mysql(
        admin,
        Some(db),
        "CREATE TABLE docs (id INT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(200) NOT NULL, body BLOB, created DATETIME DEFAULT '2025-01-02 03:04:05') ENGINE=InnoDB;
         CREATE TABLE tags (doc INT, tag VARCHAR(20), FOREIGN KEY (doc) REFERENCES docs(id)) ENGINE=InnoDB;
         INSERT INTO docs (title, body) VALUES ('first \\'quoted\\'', UNHEX('00FF10')), ('ünïcode', NULL), ('tab\\there', 'x');
         INSERT INTO tags VALUES (1, 'a'), (2, 'b');
         CREATE VIEW doc_titles AS SELECT title FROM docs;
         CREATE TRIGGER tags_upper BEFORE INSERT ON tags FOR EACH ROW SET NEW.tag = UPPER(NEW.tag);",
    );
}

/// `mariadb-dump` of a schema as the admin, without the lines naming the
/// schema or the server, for comparisons.
pub(crate) fn mysql_dump(admin: &url::Url, db: &str) -> String {
    let out = Command::new("mariadb-dump")
        .args(mysql_args(admin))
        .args([
            "--single-transaction",
            "--routines",
            "--triggers",
            "--skip-dump-date",
            "--hex-blob",
            db,
        ])
        .output()
        .expect("run mariadb-dump");
    assert!(
        out.status.success(),
        "mariadb-dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("-- Host:") && !l.starts_with("-- Server version"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `.dump` of a SQLite file through the sqlite3 shell.
pub(crate) fn sqlite_dump(path: &std::path::Path) -> String {
    let out = Command::new("sqlite3")
        .arg(path)
        .arg(".dump")
        .output()
        .expect("run sqlite3");
    assert!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs SQL through the sqlite3 shell.
pub(crate) fn sqlite(path: &std::path::Path, sql: &str) {
    let out = Command::new("sqlite3")
        .arg(path)
        .arg(sql)
        .output()
        .expect("run sqlite3");
    assert!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
