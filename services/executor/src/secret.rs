//! Secrets: database passwords read from a [`SecretRef`], kept out of every
//! `Debug`, log line and error, and scrubbed from child-process output.

use std::fmt;

use vigil_proto::catalog::v1::{SecretRef, secret_ref};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A secret value. Its `Debug` never shows the value, and the memory is
/// wiped when it is dropped.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(Zeroizing::new(value.into()))
    }

    /// The value, for handing to a child process's environment only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Resolves a secret reference: an environment variable of this process
    /// or a file. `field` names the reference in errors; the errors name the
    /// variable or the file, never the value.
    pub fn resolve(field: &str, r: Option<&SecretRef>) -> Result<Option<Secret>> {
        let Some(source) = r.and_then(|r| r.source.as_ref()) else {
            return Ok(None);
        };
        match source {
            secret_ref::Source::Env(var) => {
                if var.is_empty() {
                    return Err(Error::invalid(format!("{field}.env"), "must not be empty"));
                }
                match std::env::var(var) {
                    Ok(v) => Ok(Some(Secret::new(v))),
                    Err(std::env::VarError::NotPresent) => Err(Error::invalid(
                        format!("{field}.env"),
                        format!("environment variable {var} is not set in the executor process"),
                    )),
                    Err(std::env::VarError::NotUnicode(_)) => Err(Error::invalid(
                        format!("{field}.env"),
                        format!("environment variable {var} is not valid UTF-8"),
                    )),
                }
            }
            secret_ref::Source::File(path) => {
                if path.is_empty() {
                    return Err(Error::invalid(format!("{field}.file"), "must not be empty"));
                }
                let raw = std::fs::read(path).map_err(|e| {
                    Error::invalid(
                        format!("{field}.file"),
                        format!("cannot read {path}: {}", e.kind()),
                    )
                })?;
                let raw = Zeroizing::new(raw);
                let text = std::str::from_utf8(&raw).map_err(|_| {
                    Error::invalid(
                        format!("{field}.file"),
                        format!("{path} is not valid UTF-8"),
                    )
                })?;
                // A trailing newline is what editors and `echo` leave; it is not part of the password.
                let text = text.strip_suffix('\n').unwrap_or(text);
                let text = text.strip_suffix('\r').unwrap_or(text);
                Ok(Some(Secret::new(text)))
            }
        }
    }
}

/// Replaces every occurrence of each secret (and its percent-encoded form)
/// in `text` with `***`.
pub fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        let v = s.expose();
        if v.is_empty() {
            continue;
        }
        out = out.replace(v, "***");
        let form: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
        let percent = percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        for encoded in [form, percent] {
            if encoded != v {
                out = out.replace(&encoded, "***");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn file_secrets_lose_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "p4ss word\n").unwrap();
        let r = SecretRef {
            source: Some(secret_ref::Source::File(p.display().to_string())),
        };
        let s = Secret::resolve("password", Some(&r)).unwrap().unwrap();
        assert_eq!(s.expose(), "p4ss word");
    }

    #[test]
    fn missing_sources_name_the_reference_not_a_value() {
        let r = SecretRef {
            source: Some(secret_ref::Source::Env("VIGIL_TEST_NO_SUCH_VAR_91".into())),
        };
        let e = Secret::resolve("source.database.password", Some(&r))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("source.database.password.env:"), "{e}");
        assert!(e.contains("VIGIL_TEST_NO_SUCH_VAR_91"));
        assert!(Secret::resolve("x", None).unwrap().is_none());
    }

    #[test]
    fn scrub_removes_plain_and_encoded_forms() {
        let s = Secret::new("p@ss w0rd");
        let out = scrub("auth failed for p@ss w0rd and p%40ss+w0rd", &[&s]);
        assert_eq!(out, "auth failed for *** and ***");
    }
}
