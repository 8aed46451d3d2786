//! Fresh PostgreSQL databases for tests, from `VIGIL_TEST_POSTGRES_URL`.

use std::process::Command;

/// A URL of a new, empty database on the server named by
/// `VIGIL_TEST_POSTGRES_URL`, or `None` (after a loud line on standard
/// error) when the variable is unset.
pub fn fresh_database(test: &str) -> Option<String> {
    let Ok(base) = std::env::var("VIGIL_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: VIGIL_TEST_POSTGRES_URL not set; {test} needs PostgreSQL");
        return None;
    };
    let name = format!("vigil_e2e_{}_{}", test, std::process::id());
    let server = base
        .rsplit_once('/')
        .map(|(s, _)| s.to_owned())
        .unwrap_or(base.clone());
    let admin = format!("{server}/postgres");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        let status = Command::new("psql")
            .args([admin.as_str(), "-qc", sql.as_str()])
            .status()
            .expect("psql runs");
        assert!(status.success(), "{sql} failed");
    }
    Some(format!("{server}/{name}"))
}
