//! Layering tests. `figment::Jail` runs each in a scratch directory with a
//! scratch environment, one at a time.

use std::path::PathBuf;
use std::time::Duration;

use figment::Jail;
use serde::{Deserialize, Serialize};

use super::*;

fn args_with_config(file: &str) -> CommonArgs {
    CommonArgs {
        config: Some(PathBuf::from(file)),
        ..CommonArgs::default()
    }
}

fn load_err(args: &CommonArgs) -> SettingsError {
    SettingsLoader::new(args)
        .load()
        .expect_err("settings should be rejected")
}

#[test]
fn defaults_apply_when_nothing_is_set() {
    Jail::expect_with(|_jail| {
        let loaded = SettingsLoader::new(&CommonArgs::default())
            .without_env()
            .load()
            .unwrap();
        let s = loaded.settings;
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(s.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(s.shutdown_grace, DEFAULT_SHUTDOWN_GRACE);
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.repository_location(), "./vigil-data/repository");
        assert_eq!(
            s.repository_key(),
            RepositoryKeySource::File {
                path: PathBuf::from("./vigil-data/repository.key"),
                is_default: true
            }
        );
        assert_eq!(s.catalog_endpoint(), DEFAULT_CATALOG_ENDPOINT);
        Ok(())
    });
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "vigil.toml",
            r#"
                listen = "127.0.0.1:7001"
                data_dir = "/from/file"
                repository = "/repo/from/file"
                shutdown_grace = "45s"
            "#,
        )?;
        jail.set_env("VIGIL_LISTEN", "127.0.0.1:7002");
        jail.set_env("VIGIL_DATA_DIR", "/from/env");
        let args = CommonArgs {
            listen: Some("127.0.0.1:7003".into()),
            ..args_with_config("vigil.toml")
        };
        let s = SettingsLoader::new(&args).load().unwrap().settings;
        assert_eq!(
            s.listen.to_string(),
            "127.0.0.1:7003",
            "flag wins over env and file"
        );
        assert_eq!(s.data_dir, PathBuf::from("/from/env"), "env wins over file");
        assert_eq!(
            s.repository.as_deref(),
            Some("/repo/from/file"),
            "file wins over default"
        );
        assert_eq!(s.shutdown_grace, Duration::from_secs(45));
        assert_eq!(s.log_format, LogFormat::Text, "default kept");
        Ok(())
    });
}

#[test]
fn config_file_can_come_from_the_environment() {
    Jail::expect_with(|jail| {
        jail.create_file("other.toml", "listen = \"127.0.0.1:7010\"")?;
        jail.set_env("VIGIL_CONFIG", "other.toml");
        // clap reads VIGIL_CONFIG; emulate what it hands over.
        let args = args_with_config(&std::env::var("VIGIL_CONFIG").unwrap());
        let loaded = SettingsLoader::new(&args).load().unwrap();
        assert_eq!(loaded.settings.listen.to_string(), "127.0.0.1:7010");
        assert_eq!(loaded.config_file, Some(PathBuf::from("other.toml")));
        Ok(())
    });
}

#[test]
fn bad_env_value_names_setting_and_variable() {
    Jail::expect_with(|jail| {
        jail.set_env("VIGIL_LISTEN", "not-an-address");
        let err = load_err(&CommonArgs::default());
        assert_eq!(err.setting(), Some("listen"));
        let msg = err.to_string();
        assert!(msg.contains("environment variable VIGIL_LISTEN"), "{msg}");
        Ok(())
    });
}

#[test]
fn bad_file_value_names_setting_and_file() {
    Jail::expect_with(|jail| {
        jail.create_file("vigil.toml", "shutdown_grace = \"soon\"")?;
        let err = load_err(&args_with_config("vigil.toml"));
        assert_eq!(err.setting(), Some("shutdown_grace"));
        let msg = err.to_string();
        assert!(msg.contains("vigil.toml"), "{msg}");
        assert!(msg.contains("soon"), "{msg}");
        Ok(())
    });
}

#[test]
fn validation_error_names_the_flag_it_came_from() {
    Jail::expect_with(|_jail| {
        let args = CommonArgs {
            database_url: Some("mysql://root@db/vigil".into()),
            ..CommonArgs::default()
        };
        let err = load_err(&args);
        assert_eq!(err.setting(), Some("database_url"));
        let msg = err.to_string();
        assert!(msg.contains("command-line flag --database-url"), "{msg}");
        assert!(msg.contains("unsupported scheme"), "{msg}");
        assert!(!msg.ends_with('.'), "{msg}");
        Ok(())
    });
}

#[test]
fn unknown_top_level_key_in_file_is_rejected() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "vigil.toml",
            "listne = \"127.0.0.1:1\"\n[scheduler]\nx = 1\n",
        )?;
        match load_err(&args_with_config("vigil.toml")) {
            SettingsError::Unknown { setting, .. } => assert_eq!(setting, "listne"),
            other => panic!("unexpected error {other}"),
        }
        Ok(())
    });
}

#[test]
fn missing_or_broken_config_file_is_rejected() {
    Jail::expect_with(|jail| {
        assert!(matches!(
            load_err(&args_with_config("absent.toml")),
            SettingsError::ConfigFile { .. }
        ));
        jail.create_file("broken.toml", "listen = ")?;
        let err = load_err(&args_with_config("broken.toml"));
        assert!(matches!(err, SettingsError::ConfigFile { .. }), "{err}");
        assert!(err.to_string().contains("not valid TOML"), "{err}");
        Ok(())
    });
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct DemoSection {
    tick: Option<String>,
    replicas: u32,
    name: String,
}

#[derive(Serialize)]
struct DemoFlags {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

#[test]
fn service_sections_layer_like_common_settings() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "vigil.toml",
            "[demo]\ntick = \"5s\"\nreplicas = 1\nname = \"file\"\n",
        )?;
        jail.set_env("VIGIL_DEMO__REPLICAS", "3");
        let loaded = SettingsLoader::new(&args_with_config("vigil.toml"))
            .with_section_flags(
                "demo",
                &DemoFlags {
                    name: Some("flag".into()),
                },
            )
            .load()
            .unwrap();
        let demo: DemoSection = loaded.section("demo").unwrap();
        assert_eq!(
            demo,
            DemoSection {
                tick: Some("5s".into()),
                replicas: 3,
                name: "flag".into()
            }
        );
        let absent: DemoSection = loaded.section("absent").unwrap();
        assert_eq!(absent, DemoSection::default());
        Ok(())
    });
}

#[test]
fn bad_section_value_names_the_dotted_setting() {
    Jail::expect_with(|jail| {
        jail.set_env("VIGIL_DEMO__REPLICAS", "many");
        let loaded = SettingsLoader::new(&CommonArgs::default()).load().unwrap();
        let err = loaded.section::<DemoSection>("demo").unwrap_err();
        assert_eq!(err.setting(), Some("demo.replicas"));
        assert!(err.to_string().contains("VIGIL_DEMO__REPLICAS"), "{err}");
        Ok(())
    });
}

#[test]
fn catalog_flag_and_durations_in_seconds() {
    Jail::expect_with(|jail| {
        jail.set_env("VIGIL_SHUTDOWN_GRACE", "12");
        jail.set_env("VIGIL_CATALOG", "http://from-env:1");
        let catalog = CatalogArgs {
            catalog: Some("http://catalog.internal:50051".into()),
            ..CatalogArgs::default()
        };
        let s = SettingsLoader::new(&CommonArgs::default())
            .with_catalog_args(&catalog)
            .load()
            .unwrap()
            .settings;
        assert_eq!(s.shutdown_grace, Duration::from_secs(12));
        assert_eq!(s.catalog_endpoint(), "http://catalog.internal:50051");
        Ok(())
    });
}

#[test]
fn secrets_never_show_in_debug_or_redacted_output() {
    let settings = Settings {
        database_url: Some("postgres://vigil:s3cr3t-pw@db/vigil".into()),
        repository: Some("s3://bucket/p?secret_access_key=AKIASECRET".into()),
        repository_passphrase_env: Some("VIGIL_PASSPHRASE".into()),
        ..Settings::default()
    };
    for text in [format!("{settings:?}"), settings.redacted().to_string()] {
        assert!(!text.contains("s3cr3t-pw"), "{text}");
        assert!(!text.contains("AKIASECRET"), "{text}");
        assert!(text.contains("postgres://vigil:***@db/vigil"), "{text}");
        assert!(text.contains("passphrase from $VIGIL_PASSPHRASE"), "{text}");
    }
}
