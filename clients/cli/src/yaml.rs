//! Reading configuration files: the `configurations:` list of
//! `vigil config apply -f`, or a single configuration for `config create -f`.

mod convert;
mod model;
mod relative;

use std::collections::HashMap;
use std::path::Path;

use vigil_proto::catalog::v1::BackupConfiguration;

pub(crate) use convert::{check_url_has_no_password, preset_proto, secret};
pub(crate) use model::{ConfigurationSpec, ConfigurationsFile, PresetSpec};

use crate::error::CliError;

/// Parses the text of an apply file into proto configurations, in file order.
///
/// Errors name the YAML path, such as
/// `configurations[1].schedule: unknown field `cronn`, expected one of …`.
pub(crate) fn parse_configurations(text: &str) -> Result<Vec<BackupConfiguration>, CliError> {
    let file: ConfigurationsFile = from_yaml(text)?;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(file.configurations.len());
    for (i, spec) in file.configurations.iter().enumerate() {
        let path = format!("configurations[{i}]");
        if let Some(first) = seen.insert(spec.name.as_str(), i) {
            return Err(CliError::input(
                format!("{path}.name"),
                format!(
                    "{:?} is also the name of configurations[{first}]",
                    spec.name
                ),
            ));
        }
        out.push(convert::configuration(&path, spec)?);
    }
    Ok(out)
}

/// Parses a file holding one configuration: either a bare configuration
/// mapping, or the apply shape with exactly one entry.
pub(crate) fn parse_single(text: &str) -> Result<BackupConfiguration, CliError> {
    let value: serde_norway::Value = from_yaml(text)?;
    if value.get("configurations").is_some() {
        let mut all = parse_configurations(text)?;
        if all.len() != 1 {
            return Err(CliError::input(
                "configurations",
                format!(
                    "holds {} configurations; use `vigil config apply -f` for several",
                    all.len()
                ),
            ));
        }
        return Ok(all.remove(0));
    }
    let spec: ConfigurationSpec = from_yaml(text)?;
    convert::configuration("configuration", &spec)
}

/// Reads an apply file: its configurations in file order, with relative
/// paths resolved against the file's directory. Errors name the file.
pub(crate) fn load_configurations(file: &Path) -> Result<Vec<BackupConfiguration>, CliError> {
    let text = read_file(file)?;
    let mut configurations = parse_configurations(&text).map_err(|e| match e {
        CliError::Input { field, reason } => {
            CliError::input(format!("{}: {field}", file.display()), reason)
        }
        other => other,
    })?;
    relative::resolve_against(&mut configurations, &file_dir(file)?);
    Ok(configurations)
}

/// Reads a file holding one configuration (see [`parse_single`]), with
/// relative paths resolved against the file's directory.
pub(crate) fn load_single(file: &Path) -> Result<BackupConfiguration, CliError> {
    let mut configuration = parse_single(&read_file(file)?)?;
    relative::resolve_against(std::slice::from_mut(&mut configuration), &file_dir(file)?);
    Ok(configuration)
}

/// The absolute directory holding `file`.
fn file_dir(file: &Path) -> Result<std::path::PathBuf, CliError> {
    let absolute = std::path::absolute(file)
        .map_err(|e| CliError::input("file", format!("cannot resolve {}: {e}", file.display())))?;
    Ok(absolute
        .parent()
        .map_or_else(|| std::path::PathBuf::from("/"), Path::to_path_buf))
}

/// Reads a file, naming it on failure.
fn read_file(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| CliError::input("file", format!("cannot read {}: {e}", path.display())))
}

/// Deserialises YAML; errors name the exact path of the bad value, such as
/// `configurations[0].schedule.catch_up`, and keep the line and column.
fn from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, CliError> {
    let de = serde_norway::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde_norway starts its message with the enclosing mapping's path.
        let reason = match inner.split_once(": ") {
            Some((prefix, rest)) if looks_like_path(prefix) => rest.to_owned(),
            _ => inner,
        };
        if path.is_empty() || path == "." {
            CliError::input("yaml", reason)
        } else {
            CliError::input(path, reason)
        }
    })
}

fn looks_like_path(s: &str) -> bool {
    !s.is_empty()
        && !s.contains(' ')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c))
}

#[cfg(test)]
mod tests;
