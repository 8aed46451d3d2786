//! Redaction of secrets embedded in URLs, so settings can be logged.

/// Placeholder written in place of a secret.
pub const REDACTED: &str = "***";

/// Query parameters whose values are treated as secrets.
const SECRET_QUERY_HINTS: &[&str] = &["password", "secret", "token", "key", "credential", "sig"];

/// Returns `url` with any password in its user info and any secret-looking
/// query parameter value replaced by [`REDACTED`].
///
/// Plain paths come back unchanged.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _password)) => format!("{user}:{REDACTED}{host}"),
                None => authority.to_owned(),
            }
        }
        None => authority.to_owned(),
    };
    format!("{scheme}{authority}{}", redact_query(tail))
}

fn redact_query(tail: &str) -> String {
    let Some(q) = tail.find('?') else {
        return tail.to_owned();
    };
    let (path, query_and_fragment) = tail.split_at(q + 1);
    let (query, fragment) = match query_and_fragment.find('#') {
        Some(h) => query_and_fragment.split_at(h),
        None => (query_and_fragment, ""),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => format!("{name}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}{}{fragment}", pairs.join("&"))
}

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_QUERY_HINTS.iter().any(|hint| name.contains(hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_in_user_info_is_hidden() {
        assert_eq!(
            redact_url("postgres://vigil:hunter2@db:5432/vigil?sslmode=require"),
            "postgres://vigil:***@db:5432/vigil?sslmode=require"
        );
    }

    #[test]
    fn password_containing_at_sign_is_hidden() {
        let out = redact_url("postgres://vigil:p@ss@db/vigil");
        assert!(!out.contains("p@ss"), "{out}");
        assert_eq!(out, "postgres://vigil:***@db/vigil");
    }

    #[test]
    fn user_without_password_is_kept() {
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
    }

    #[test]
    fn secret_query_values_are_hidden() {
        assert_eq!(
            redact_url("s3://bucket/prefix?region=eu&secret_access_key=abc&access_key_id=AK#frag"),
            "s3://bucket/prefix?region=eu&secret_access_key=***&access_key_id=***#frag"
        );
    }

    #[test]
    fn plain_paths_are_unchanged() {
        assert_eq!(
            redact_url("/var/lib/vigil/repository"),
            "/var/lib/vigil/repository"
        );
        assert_eq!(redact_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
    }
}
