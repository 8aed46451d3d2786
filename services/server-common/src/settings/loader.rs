//! Builds the layered [`Figment`] and extracts [`Settings`] from it.

use std::path::{Path, PathBuf};

use figment::providers::{Data, Env, Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{CatalogArgs, CommonArgs, KNOWN_KEYS, Settings, SettingsError};

/// Prefix of the environment variables read as settings.
pub(super) const ENV_PREFIX: &str = "VIGIL_";
/// Separator of nested keys in environment variable names.
pub(super) const ENV_NESTING: &str = "__";

/// Name given to the command-line layer in error messages.
const FLAGS_LAYER: &str = "command-line flag";

/// Settings after layering and validation, with the figment they came from.
#[derive(Debug, Clone)]
pub struct LoadedSettings {
    /// The typed common settings.
    pub settings: Settings,
    /// Every layer merged, for service sections.
    pub figment: Figment,
    /// The configuration file that was read, if any.
    pub config_file: Option<PathBuf>,
}

impl LoadedSettings {
    /// Extracts a service section such as `scheduler`. A missing section
    /// yields `T::default()`; a bad value names the dotted setting.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, SettingsError> {
        if !self.figment.contains(name) {
            return Ok(T::default());
        }
        self.figment
            .extract_inner(name)
            .map_err(|e| map_figment_error(e, Some(name)))
    }

    /// A bad value of `setting` (dotted, e.g. `executor.concurrency`),
    /// naming the layer it came from (file, environment variable or flag).
    pub fn invalid(&self, setting: impl Into<String>, reason: impl Into<String>) -> SettingsError {
        attach_source(SettingsError::invalid(setting, reason), &self.figment)
    }
}

/// Builder of the layered configuration.
#[derive(Debug, Clone)]
pub struct SettingsLoader {
    common: CommonArgs,
    catalog: CatalogArgs,
    service_flags: Vec<FlagLayer>,
    read_env: bool,
}

impl SettingsLoader {
    /// Starts from the common flags of a binary.
    pub fn new(common: &CommonArgs) -> Self {
        Self {
            common: common.clone(),
            catalog: CatalogArgs::default(),
            service_flags: Vec::new(),
            read_env: true,
        }
    }

    /// Adds the `--catalog` flag of the scheduler and the executor.
    pub fn with_catalog_args(mut self, catalog: &CatalogArgs) -> Self {
        self.catalog = catalog.clone();
        self
    }

    /// Adds service-specific flags, merged into `section` (e.g. `scheduler`)
    /// above every other layer. Fields that are `None` should be skipped
    /// when serialising so that they leave lower layers alone.
    pub fn with_section_flags<T: Serialize>(mut self, section: &str, flags: &T) -> Self {
        self.service_flags
            .push(FlagLayer(Serialized::default(section, flags).data()));
        self
    }

    /// The log format asked for, known even when loading fails.
    pub fn requested_log_format(&self) -> super::LogFormat {
        self.common.requested_log_format()
    }

    /// Ignores `VIGIL_` environment variables (for tests of the other layers).
    pub fn without_env(mut self) -> Self {
        self.read_env = false;
        self
    }

    /// Merges the layers, extracts the common settings and validates them.
    pub fn load(self) -> Result<LoadedSettings, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let config_file = self.common.config.clone();
        if let Some(path) = &config_file {
            figment = figment.merge(read_config_file(path)?);
        }
        if self.read_env {
            figment = figment.merge(
                Env::prefixed(ENV_PREFIX)
                    .split(ENV_NESTING)
                    .ignore(&["config", "token"]),
            );
        }
        figment = figment
            .merge(FlagLayer(Serialized::defaults(&self.common).data()))
            .merge(FlagLayer(Serialized::defaults(&self.catalog).data()));
        for layer in self.service_flags {
            figment = figment.merge(layer);
        }

        let settings: Settings = figment.extract().map_err(|e| map_figment_error(e, None))?;
        settings
            .validate()
            .map_err(|e| attach_source(e, &figment))?;
        Ok(LoadedSettings {
            settings,
            figment,
            config_file,
        })
    }
}

/// Reads and checks the TOML file: it must exist, parse, and hold no
/// unknown top-level scalar (tables are service sections).
fn read_config_file(path: &Path) -> Result<Data<Toml>, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|e| SettingsError::ConfigFile {
        path: path.to_owned(),
        reason: format!("cannot be read: {e}"),
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| SettingsError::ConfigFile {
        path: path.to_owned(),
        reason: format!("is not valid TOML: {}", e.message()),
    })?;
    for (key, value) in &table {
        if !value.is_table() && !KNOWN_KEYS.contains(&key.as_str()) {
            return Err(SettingsError::Unknown {
                setting: key.clone(),
                path: path.to_owned(),
            });
        }
    }
    Ok(Toml::file_exact(path))
}

/// A command-line layer, named so that errors say "command-line flag --x".
#[derive(Debug, Clone)]
struct FlagLayer(figment::Result<Map<Profile, Dict>>);

impl Provider for FlagLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(FLAGS_LAYER).interpolater(|_: &Profile, keys: &[&str]| {
            let last = keys.last().copied().unwrap_or_default();
            format!("--{}", last.replace('_', "-"))
        })
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        self.0.clone()
    }
}

/// Describes the layer a value came from, e.g. `environment variable VIGIL_LISTEN`.
fn describe_source(metadata: &Metadata, path: &[String]) -> Option<String> {
    if let Some(file) = metadata.source.as_ref().and_then(|s| s.file_path()) {
        return Some(format!("config file {}", file.display()));
    }
    if metadata.name.contains("environment variable") {
        let name = path.join(ENV_NESTING).to_ascii_uppercase();
        return Some(format!("environment variable {ENV_PREFIX}{name}"));
    }
    if metadata.name == FLAGS_LAYER {
        return Some(format!(
            "{FLAGS_LAYER} {}",
            metadata.interpolate(&Profile::Default, path)
        ));
    }
    None
}

fn map_figment_error(error: figment::Error, section: Option<&str>) -> SettingsError {
    // figment appends the extracted section to the end of the path.
    let mut inner = error.path.clone();
    let mut path: Vec<String> = Vec::new();
    if let Some(section) = section {
        let section: Vec<String> = section.split('.').map(str::to_owned).collect();
        if inner.ends_with(&section) {
            inner.truncate(inner.len() - section.len());
        }
        path = section;
    }
    path.extend(inner);
    if path.is_empty()
        && let Some(file) = error
            .metadata
            .as_ref()
            .and_then(|m| m.source.as_ref()?.file_path())
    {
        return SettingsError::ConfigFile {
            path: file.to_owned(),
            reason: error.kind.to_string(),
        };
    }
    let from = error
        .metadata
        .as_ref()
        .and_then(|m| describe_source(m, &path));
    let setting = if path.is_empty() {
        "(settings)".to_owned()
    } else {
        path.join(".")
    };
    SettingsError::Invalid {
        setting,
        from,
        reason: error.kind.to_string(),
    }
}

/// Adds the layer a failing setting came from to a validation error.
fn attach_source(error: SettingsError, figment: &Figment) -> SettingsError {
    match error {
        SettingsError::Invalid {
            setting,
            from: None,
            reason,
        } => {
            // `webhook_urls[1]` is looked up as `webhook_urls`.
            let key = setting.split('[').next().unwrap_or(&setting).to_owned();
            let path: Vec<String> = key.split('.').map(str::to_owned).collect();
            let from = figment
                .find_value(&key)
                .ok()
                .and_then(|v: Value| figment.get_metadata(v.tag()))
                .and_then(|m| describe_source(m, &path));
            SettingsError::Invalid {
                setting,
                from,
                reason,
            }
        }
        other => other,
    }
}
