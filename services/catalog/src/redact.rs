//! Defence in depth for guarantee E5: text that executors send back (errors,
//! warnings) is scrubbed of URL passwords and `password=` pairs before it is
//! stored, in case a tool echoed its connection string.

/// `text` with the password of every `scheme://user:password@host` URL and
/// the value of every `password=`/`PGPASSWORD=` pair replaced by `***`.
pub fn redact_secrets(text: &str) -> String {
    redact_pairs(&redact_urls(text))
}

fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        // The authority ends at the first '/', whitespace or quote.
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn redact_pairs(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let hit = lower[i..].find("password=").map(|p| i + p);
        let Some(start) = hit else { break };
        let value_start = start + "password=".len();
        let value_end = text[value_start..]
            .find(|c: char| c.is_whitespace() || c == '&' || c == ';' || c == '"' || c == '\'')
            .map(|p| value_start + p)
            .unwrap_or(text.len());
        out.push_str(&text[i..value_start]);
        out.push_str("***");
        i = value_end;
    }
    out.push_str(&text[i.min(text.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_masked() {
        assert_eq!(
            redact_secrets("pg_dump: connection to postgres://edms:hunter2@db:5432/edms failed"),
            "pg_dump: connection to postgres://edms:***@db:5432/edms failed"
        );
        assert_eq!(
            redact_secrets("postgres://edms@db/edms"),
            "postgres://edms@db/edms"
        );
        assert_eq!(
            redact_secrets("see http://host:8080/x"),
            "see http://host:8080/x"
        );
    }

    #[test]
    fn password_pairs_are_masked() {
        assert_eq!(
            redact_secrets("PGPASSWORD=s3cret pg_dump"),
            "PGPASSWORD=*** pg_dump"
        );
        assert_eq!(redact_secrets("a?password=x&b=1"), "a?password=***&b=1");
        assert_eq!(redact_secrets("no secrets"), "no secrets");
    }

    proptest::proptest! {
        #[test]
        fn no_url_password_survives(
            prefix in "[ -~]{0,30}",
            user in "[a-z][a-z0-9_]{0,10}",
            password in "[A-Za-z0-9!$&()*+,;=._~-]{6,20}",
            host in "[a-z][a-z0-9.-]{0,15}",
            suffix in "[ -~]{0,30}",
        ) {
            let text = format!("{prefix} postgres://{user}:{password}@{host}/db {suffix}");
            let out = redact_secrets(&text);
            proptest::prop_assert!(out.contains(&format!("postgres://{user}:***@{host}/db")), "{}", out);
            // The password may only survive where the caller's own text held it.
            let elsewhere = prefix.contains(&password) || suffix.contains(&password);
            proptest::prop_assert!(elsewhere || !out.contains(&password), "{}", out);
        }

        #[test]
        fn text_without_secrets_is_unchanged(text in "[a-zA-Z0-9 .,:/_-]{0,80}") {
            let has_url_password = text.contains("://") && text.contains('@');
            proptest::prop_assume!(!has_url_password && !text.to_ascii_lowercase().contains("password="));
            proptest::prop_assert_eq!(redact_secrets(&text), text);
        }
    }
}
