//! Checks of single fields shared by configurations and jobs: paths, secret
//! references, database URLs and keys. Reasons never repeat the value when
//! it could hold a secret.

use vigil_proto::catalog::v1::{DatabaseEngine, SecretRef, secret_ref};

use super::{Checker, char_len};

/// Longest accepted path.
const MAX_PATH: usize = 4096;
/// Longest accepted URL.
const MAX_URL: usize = 2048;

/// Whether `text` holds a control character: C0 (NUL, ESC, newline and the
/// rest), DEL or C1. Any of them could move a terminal's cursor or start an
/// escape sequence when the value is printed.
pub fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// Text that is printed to terminals as it is stored: names, descriptions,
/// labels. Control characters are refused (terminal-safe data).
pub fn check_terminal_safe(v: &mut Checker, field: &str, text: &str) {
    if has_control(text) {
        v.add(
            field,
            "must not contain control characters (NUL, ESC, other C0 or C1 codes, DEL)",
        );
    }
}

/// An absolute path without `..` components or control characters.
pub fn check_absolute_path(v: &mut Checker, field: &str, path: &str) {
    if path.is_empty() {
        v.add(field, "must not be empty");
    } else if char_len(path) > MAX_PATH {
        v.add(field, format!("must be at most {MAX_PATH} characters"));
    } else if path.contains('\0') {
        v.add(field, "must not contain a NUL byte");
    } else if has_control(path) {
        v.add(field, "must not contain control characters");
    } else if !path.starts_with('/') {
        v.add(field, "must be an absolute path");
    } else if path.split('/').any(|part| part == "..") {
        v.add(field, "must not contain '..'");
    }
}

/// A short identifier: non-empty, bounded, printable.
pub fn check_key(v: &mut Checker, field: &str, key: &str, max: usize) {
    if key.is_empty() {
        v.add(field, "must not be empty");
    } else if char_len(key) > max {
        v.add(field, format!("must be at most {max} characters"));
    } else if key.chars().any(char::is_control) {
        v.add(field, "must not contain control characters");
    }
}

/// A reference to a secret: an environment variable name or an absolute file.
pub fn check_secret_ref(v: &mut Checker, field: &str, secret: &SecretRef) {
    match &secret.source {
        None => v.add(field, "must set env or file"),
        Some(secret_ref::Source::Env(name)) => {
            let field = format!("{field}.env");
            let valid = !name.is_empty()
                && name.len() <= 255
                && name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                v.add(
                    field,
                    "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
                );
            }
        }
        Some(secret_ref::Source::File(path)) => {
            check_absolute_path(v, &format!("{field}.file"), path);
        }
    }
}

/// The engine a database URL's scheme names, if any.
pub fn engine_of_url(url: &str) -> Option<DatabaseEngine> {
    let scheme = url.split_once("://")?.0.to_ascii_lowercase();
    match scheme.as_str() {
        "postgres" | "postgresql" => Some(DatabaseEngine::Postgres),
        "mysql" | "mariadb" => Some(DatabaseEngine::Mysql),
        "sqlite" => Some(DatabaseEngine::Sqlite),
        _ => None,
    }
}

/// A database URL for `engine`: the right scheme, a host or an absolute
/// file, and never a password.
pub fn check_database_url(v: &mut Checker, field: &str, engine: DatabaseEngine, url: &str) {
    if url.is_empty() {
        v.add(field, "must not be empty");
        return;
    }
    if char_len(url) > MAX_URL {
        v.add(field, format!("must be at most {MAX_URL} characters"));
        return;
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        v.add(field, "must not contain spaces or control characters");
        return;
    }
    let parsed = match url::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => {
            v.add(field, format!("is not a valid URL ({e})"));
            return;
        }
    };
    let has_password = parsed.password().is_some()
        || parsed.query_pairs().any(|(k, _)| {
            let k = k.to_ascii_lowercase();
            k == "password" || k == "sslpassword" || k == "pass"
        });
    if has_password {
        v.add(field, "must not contain a password, use password env/file");
        return;
    }
    let expected = match engine {
        DatabaseEngine::Postgres => "postgres://",
        DatabaseEngine::Mysql => "mysql:// or mariadb://",
        DatabaseEngine::Sqlite => "sqlite:///absolute/path",
        DatabaseEngine::Unspecified => "postgres://, mysql:// or sqlite:///",
    };
    if engine_of_url(url) != Some(engine) {
        v.add(field, format!("must start with {expected}"));
        return;
    }
    match engine {
        DatabaseEngine::Sqlite => {
            let path = parsed.path();
            if parsed.host_str().is_some_and(|h| !h.is_empty())
                || !path.starts_with('/')
                || path == "/"
            {
                v.add(field, "must be sqlite:///absolute/path");
            } else if path.split('/').any(|part| part == ".." || part == "%2e%2e") {
                v.add(field, "must not contain '..'");
            }
        }
        _ => {
            if parsed.host_str().is_none_or(str::is_empty) {
                v.add(field, "must name a host");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(f: impl FnOnce(&mut Checker)) -> String {
        let mut v = Checker::new();
        f(&mut v);
        v.finish().err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn paths_must_be_absolute_and_clean() {
        assert_eq!(reasons(|v| check_absolute_path(v, "p", "/srv/a")), "");
        assert_eq!(
            reasons(|v| check_absolute_path(v, "p", "srv/a")),
            "p: must be an absolute path"
        );
        assert_eq!(
            reasons(|v| check_absolute_path(v, "p", "/srv/../etc")),
            "p: must not contain '..'"
        );
        assert_eq!(
            reasons(|v| check_absolute_path(v, "p", "/a\0b")),
            "p: must not contain a NUL byte"
        );
    }

    #[test]
    fn urls_with_passwords_are_refused_without_echoing_them() {
        let msg = reasons(|v| {
            check_database_url(
                v,
                "u",
                DatabaseEngine::Postgres,
                "postgres://edms:hunter2@db/edms",
            )
        });
        assert_eq!(msg, "u: must not contain a password, use password env/file");
        let msg = reasons(|v| {
            check_database_url(
                v,
                "u",
                DatabaseEngine::Mysql,
                "mysql://root@db/x?password=hunter2",
            )
        });
        assert!(msg.contains("must not contain a password") && !msg.contains("hunter2"));
    }

    #[test]
    fn urls_match_their_engine() {
        let ok = |e, u| reasons(|v| check_database_url(v, "u", e, u)).is_empty();
        assert!(ok(
            DatabaseEngine::Postgres,
            "postgres://edms@127.0.0.1:5432/edms"
        ));
        assert!(ok(DatabaseEngine::Mysql, "mariadb://root@db:3306/app"));
        assert!(ok(DatabaseEngine::Sqlite, "sqlite:///var/lib/app.db"));
        assert!(!ok(DatabaseEngine::Sqlite, "sqlite://relative.db"));
        assert!(!ok(DatabaseEngine::Postgres, "mysql://root@db/app"));
        assert!(!ok(DatabaseEngine::Postgres, "postgres:///nohost"));
    }

    #[test]
    fn env_names_are_identifiers() {
        let env = |name: &str| SecretRef {
            source: Some(secret_ref::Source::Env(name.into())),
        };
        assert_eq!(
            reasons(|v| check_secret_ref(v, "s", &env("EDMS_DB_PASSWORD"))),
            ""
        );
        assert!(!reasons(|v| check_secret_ref(v, "s", &env("1BAD"))).is_empty());
        assert!(!reasons(|v| check_secret_ref(v, "s", &env("A-B"))).is_empty());
    }
}
