//! Database URLs: `postgres://user@host:5432/db`, `mysql://user@host:3306/db`
//! and `sqlite:///path/to/file.db`. A URL never carries a password; the
//! password comes from a secret reference.

use std::path::PathBuf;

use url::Url;
use vigil_proto::catalog::v1::DatabaseEngine;

use crate::error::{Error, Result};

/// A parsed database location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbUrl {
    /// A PostgreSQL database.
    Postgres(PgUrl),
    /// A MariaDB or MySQL schema.
    Mysql(MyUrl),
    /// A SQLite file.
    Sqlite(PathBuf),
}

/// A PostgreSQL connection, as a libpq URI without a password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgUrl {
    url: Url,
    /// The database name.
    pub database: String,
}

impl PgUrl {
    /// The libpq connection URI for the database.
    pub fn uri(&self) -> String {
        self.url.to_string()
    }

    /// The URI of another database on the same server (for CREATE DATABASE).
    pub fn uri_for(&self, database: &str) -> String {
        let mut u = self.url.clone();
        u.set_path(&format!("/{}", encode_segment(database)));
        u.to_string()
    }
}

/// A MariaDB/MySQL connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MyUrl {
    /// Host name or address; `None` uses the local socket.
    pub host: Option<String>,
    /// TCP port.
    pub port: u16,
    /// User, if given.
    pub user: Option<String>,
    /// Schema name.
    pub database: String,
}

impl MyUrl {
    /// Connection arguments for `mariadb` and `mariadb-dump` (no password).
    pub fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(h) = &self.host {
            a.push(format!("--host={h}"));
            a.push(format!("--port={}", self.port));
            a.push("--protocol=TCP".to_owned());
        }
        if let Some(u) = &self.user {
            a.push(format!("--user={u}"));
        }
        a
    }
}

impl DbUrl {
    /// Parses `text`; `field` names it in errors.
    pub fn parse(field: &str, text: &str) -> Result<DbUrl> {
        let url =
            Url::parse(text).map_err(|e| Error::invalid(field, format!("not a valid URL: {e}")))?;
        if url.password().is_some() {
            return Err(Error::invalid(
                field,
                "must not contain a password; give it through a password reference (env or file)",
            ));
        }
        match url.scheme() {
            "postgres" | "postgresql" => {
                let database = single_segment(field, &url)?;
                Ok(DbUrl::Postgres(PgUrl { url, database }))
            }
            "mysql" | "mariadb" => {
                let database = single_segment(field, &url)?;
                let host = url.host_str().filter(|h| !h.is_empty()).map(str::to_owned);
                let user = Some(decode(url.username())).filter(|u| !u.is_empty());
                Ok(DbUrl::Mysql(MyUrl {
                    host,
                    port: url.port().unwrap_or(3306),
                    user,
                    database,
                }))
            }
            "sqlite" => {
                if url.host_str().is_some_and(|h| !h.is_empty()) {
                    return Err(Error::invalid(
                        field,
                        "sqlite URLs take an absolute path: sqlite:///path/to/file.db",
                    ));
                }
                let path = PathBuf::from(decode(url.path()));
                if !path.is_absolute() || path.file_name().is_none() {
                    return Err(Error::invalid(
                        field,
                        "sqlite URLs take an absolute file path: sqlite:///path/to/file.db",
                    ));
                }
                Ok(DbUrl::Sqlite(path))
            }
            other => Err(Error::invalid(
                field,
                format!("unsupported scheme {other:?}; use postgres://, mysql:// or sqlite:///"),
            )),
        }
    }

    /// The engine of this URL.
    pub fn engine(&self) -> DatabaseEngine {
        match self {
            DbUrl::Postgres(_) => DatabaseEngine::Postgres,
            DbUrl::Mysql(_) => DatabaseEngine::Mysql,
            DbUrl::Sqlite(_) => DatabaseEngine::Sqlite,
        }
    }
}

/// The engine's short name, as used in capabilities and archive manifests.
pub fn engine_name(e: DatabaseEngine) -> &'static str {
    match e {
        DatabaseEngine::Postgres => "postgres",
        DatabaseEngine::Mysql => "mysql",
        DatabaseEngine::Sqlite => "sqlite",
        DatabaseEngine::Unspecified => "unspecified",
    }
}

/// The engine for a short name.
pub fn engine_from_name(name: &str) -> Option<DatabaseEngine> {
    match name {
        "postgres" => Some(DatabaseEngine::Postgres),
        "mysql" => Some(DatabaseEngine::Mysql),
        "sqlite" => Some(DatabaseEngine::Sqlite),
        _ => None,
    }
}

fn single_segment(field: &str, url: &Url) -> Result<String> {
    let path = url.path().trim_start_matches('/');
    if path.is_empty() {
        return Err(Error::invalid(field, "must name a database: .../dbname"));
    }
    if path.contains('/') {
        return Err(Error::invalid(
            field,
            "the path must be just the database name",
        ));
    }
    let name = decode(path);
    if name.contains('\0') || name.len() > 63 {
        return Err(Error::invalid(
            field,
            "the database name must be 1 to 63 characters without NUL",
        ));
    }
    Ok(name)
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn encode_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_keep_their_parameters() {
        let DbUrl::Postgres(p) =
            DbUrl::parse("u", "postgres://edms@127.0.0.1:5432/edms?sslmode=disable").unwrap()
        else {
            panic!("not postgres")
        };
        assert_eq!(p.database, "edms");
        assert_eq!(
            p.uri_for("postgres"),
            "postgres://edms@127.0.0.1:5432/postgres?sslmode=disable"
        );
    }

    #[test]
    fn passwords_are_refused_without_echoing_them() {
        let e = DbUrl::parse("source.database.url", "postgres://u:hunter2@h/db")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("source.database.url: must not contain a password"),
            "{e}"
        );
        assert!(!e.contains("hunter2"));
    }

    #[test]
    fn mysql_and_sqlite_parse() {
        let DbUrl::Mysql(m) = DbUrl::parse("u", "mysql://root@127.0.0.1/shop").unwrap() else {
            panic!()
        };
        assert_eq!(
            (m.port, m.database.as_str(), m.user.as_deref()),
            (3306, "shop", Some("root"))
        );
        assert_eq!(
            DbUrl::parse("u", "sqlite:///tmp/a%20b.db").unwrap(),
            DbUrl::Sqlite("/tmp/a b.db".into())
        );
        assert!(DbUrl::parse("u", "sqlite://relative.db").is_err());
        assert!(DbUrl::parse("u", "mysql://h/").is_err());
        assert!(
            DbUrl::parse("u", "oracle://h/x")
                .unwrap_err()
                .to_string()
                .contains("unsupported scheme")
        );
    }
}
