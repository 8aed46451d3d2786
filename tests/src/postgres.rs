//! Fresh PostgreSQL databases for tests, from `VIGIL_TEST_POSTGRES_URL`.

use std::process::Command;

/// A URL of a new, empty database on the server named by
/// `VIGIL_TEST_POSTGRES_URL`. The calling test has `needs_postgres` in its
/// name (see `.config/nextest.toml`); without the variable this panics,
/// naming it, so the test never passes by skipping.
pub fn fresh_database(test: &str) -> String {
    let base = match std::env::var("VIGIL_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => base,
        _ => panic!(
            "VIGIL_TEST_POSTGRES_URL is not set: {test} needs PostgreSQL (.ci/test.sh sets it)"
        ),
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
    format!("{server}/{name}")
}
