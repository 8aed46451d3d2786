//! Checks on layered settings that types alone cannot express.

use std::time::Duration;

use super::{Settings, SettingsError};

/// Longest graceful drain accepted; longer ones are almost surely a typo.
const MAX_SHUTDOWN_GRACE: Duration = Duration::from_secs(3600);

pub(super) fn validate(s: &Settings) -> Result<(), SettingsError> {
    if s.data_dir.as_os_str().is_empty() {
        return Err(SettingsError::invalid("data_dir", "must not be empty"));
    }
    if let Some(url) = &s.database_url {
        validate_database_url(url)?;
    }
    if let Some(repository) = &s.repository {
        validate_repository(repository)?;
    }
    if let Some(path) = &s.repository_key_file
        && path.as_os_str().is_empty()
    {
        return Err(SettingsError::invalid(
            "repository_key_file",
            "must not be empty",
        ));
    }
    if let Some(name) = &s.repository_passphrase_env {
        validate_env_name(name)?;
        if s.repository_key_file.is_some() {
            return Err(SettingsError::invalid(
                "repository_passphrase_env",
                "set either repository_key_file or repository_passphrase_env, not both",
            ));
        }
    }
    if let Some(catalog) = &s.catalog {
        validate_endpoint("catalog", catalog)?;
    }
    if let Some(admin) = s.admin_listen
        && admin.port() != 0
        && admin == s.listen
    {
        return Err(SettingsError::invalid(
            "admin_listen",
            format!("must differ from listen ({admin})"),
        ));
    }
    validate_tls(s)?;
    if s.shutdown_grace.is_zero() {
        return Err(SettingsError::invalid(
            "shutdown_grace",
            "must be longer than zero",
        ));
    }
    if s.shutdown_grace > MAX_SHUTDOWN_GRACE {
        return Err(SettingsError::invalid(
            "shutdown_grace",
            "must be at most 1h",
        ));
    }
    Ok(())
}

fn validate_tls(s: &Settings) -> Result<(), SettingsError> {
    match (&s.tls_cert, &s.tls_key) {
        (Some(_), None) => {
            return Err(SettingsError::invalid(
                "tls_key",
                "is required with tls_cert",
            ));
        }
        (None, Some(_)) => {
            return Err(SettingsError::invalid(
                "tls_cert",
                "is required with tls_key",
            ));
        }
        _ => {}
    }
    if s.tls_client_ca.is_some() && s.tls_cert.is_none() {
        return Err(SettingsError::invalid(
            "tls_client_ca",
            "needs tls_cert and tls_key: client certificates are only asked for over TLS",
        ));
    }
    let files = [
        ("tls_cert", &s.tls_cert),
        ("tls_key", &s.tls_key),
        ("tls_client_ca", &s.tls_client_ca),
        ("token_file", &s.token_file),
        ("ca_cert", &s.ca_cert),
        ("client_cert", &s.client_cert),
        ("client_key", &s.client_key),
    ];
    for (setting, path) in files {
        if let Some(path) = path
            && let Err(e) = std::fs::File::open(path)
        {
            return Err(SettingsError::invalid(
                setting,
                format!("{} cannot be read: {e}", path.display()),
            ));
        }
    }
    if let Some(files) = s.tls_files() {
        crate::tls::ServerTls::load(files)
            .map_err(|e| SettingsError::invalid("tls_cert", e.to_string()))?;
    }
    Ok(())
}

fn validate_database_url(url: &str) -> Result<(), SettingsError> {
    let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
    match scheme {
        "postgres" | "postgresql" => {
            if url
                .split_once("://")
                .is_none_or(|(_, rest)| rest.is_empty())
            {
                return Err(SettingsError::invalid(
                    "database_url",
                    "expected postgres://[user@]host[:port]/database",
                ));
            }
            Ok(())
        }
        "sqlite" => Ok(()),
        "" => Err(SettingsError::invalid(
            "database_url",
            "expected a URL like postgres://user@host/db",
        )),
        other => Err(SettingsError::invalid(
            "database_url",
            format!("unsupported scheme {other:?}, expected postgres:// or sqlite:"),
        )),
    }
}

fn validate_repository(repository: &str) -> Result<(), SettingsError> {
    if repository.trim().is_empty() {
        return Err(SettingsError::invalid("repository", "must not be empty"));
    }
    if let Some((scheme, rest)) = repository.split_once("://") {
        match scheme {
            "s3" | "file" => {}
            other => {
                return Err(SettingsError::invalid(
                    "repository",
                    format!("unsupported scheme {other:?}, expected a path, file:// or s3://"),
                ));
            }
        }
        if rest.is_empty() || rest.starts_with('?') {
            return Err(SettingsError::invalid(
                "repository",
                format!("{scheme}:// URL has no bucket or path"),
            ));
        }
    }
    Ok(())
}

fn validate_env_name(name: &str) -> Result<(), SettingsError> {
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(SettingsError::invalid(
            "repository_passphrase_env",
            format!("{name:?} is not an environment variable name (letters, digits, '_')"),
        ))
    }
}

fn validate_endpoint(setting: &str, endpoint: &str) -> Result<(), SettingsError> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| SettingsError::invalid(setting, format!("{endpoint:?} is not a URL: {e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(SettingsError::invalid(
                setting,
                format!("{endpoint:?} must start with http:// or https://"),
            ));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(SettingsError::invalid(
            setting,
            format!("{endpoint:?} has no host"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(edit: impl FnOnce(&mut Settings)) -> Result<(), SettingsError> {
        let mut s = Settings::default();
        edit(&mut s);
        s.validate()
    }

    fn failing_setting(edit: impl FnOnce(&mut Settings)) -> String {
        let err = check(edit).expect_err("settings should be rejected");
        err.setting().expect("error names a setting").to_owned()
    }

    #[test]
    fn defaults_are_valid() {
        check(|_| {}).unwrap();
    }

    #[test]
    fn database_url_must_be_postgres_or_sqlite() {
        assert_eq!(
            failing_setting(|s| s.database_url = Some("mysql://x/y".into())),
            "database_url"
        );
        assert_eq!(
            failing_setting(|s| s.database_url = Some("nonsense".into())),
            "database_url"
        );
        assert_eq!(
            failing_setting(|s| s.database_url = Some("postgres://".into())),
            "database_url"
        );
        check(|s| s.database_url = Some("postgres://postgres@127.0.0.1/vigil".into())).unwrap();
        check(|s| s.database_url = Some("sqlite:///tmp/catalog.db".into())).unwrap();
    }

    #[test]
    fn repository_must_be_path_file_or_s3() {
        assert_eq!(
            failing_setting(|s| s.repository = Some("ftp://host/x".into())),
            "repository"
        );
        assert_eq!(
            failing_setting(|s| s.repository = Some("s3://".into())),
            "repository"
        );
        assert_eq!(
            failing_setting(|s| s.repository = Some("  ".into())),
            "repository"
        );
        check(|s| s.repository = Some("s3://bucket/prefix".into())).unwrap();
        check(|s| s.repository = Some("/srv/backup".into())).unwrap();
    }

    #[test]
    fn key_file_and_passphrase_are_exclusive() {
        let setting = failing_setting(|s| {
            s.repository_key_file = Some("/k".into());
            s.repository_passphrase_env = Some("VIGIL_KEY".into());
        });
        assert_eq!(setting, "repository_passphrase_env");
        assert_eq!(
            failing_setting(|s| s.repository_passphrase_env = Some("1BAD-NAME".into())),
            "repository_passphrase_env"
        );
    }

    #[test]
    fn catalog_must_be_http_url() {
        assert_eq!(
            failing_setting(|s| s.catalog = Some("127.0.0.1:50051".into())),
            "catalog"
        );
        assert_eq!(
            failing_setting(|s| s.catalog = Some("grpc://x:1".into())),
            "catalog"
        );
        check(|s| s.catalog = Some("http://catalog:50051".into())).unwrap();
    }

    #[test]
    fn shutdown_grace_is_bounded() {
        assert_eq!(
            failing_setting(|s| s.shutdown_grace = Duration::ZERO),
            "shutdown_grace"
        );
        assert_eq!(
            failing_setting(|s| s.shutdown_grace = Duration::from_secs(7200)),
            "shutdown_grace"
        );
    }

    #[test]
    fn admin_listen_must_differ_from_listen() {
        let setting = failing_setting(|s| s.admin_listen = Some(s.listen));
        assert_eq!(setting, "admin_listen");
    }
}
