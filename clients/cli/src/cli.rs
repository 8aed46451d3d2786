//! The command line: global flags and the command tree.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::commands::{
    about, access, alerts, archive, backup, browse, config, jobs, restore, schedules, status,
};

const AFTER_HELP: &str = "\
Output:
  Tables by default. With --json, the API's messages as JSON: proto field
  names in snake_case; every field present (unset messages as null); enum
  values as short upper-case names without their type prefix (\"FULL\",
  \"COMPLETED\", \"PARTIALLY_WORKING\", \"MEDIUM\"); timestamps as RFC 3339 UTC
  strings; durations as seconds strings (\"3600s\"). Lists are JSON arrays.

Exit codes:
  0  success
  1  failure: server unreachable or failing, service not served
     (UNIMPLEMENTED), a stale --etag (ABORTED: read again and retry), or a
     job waited on with --wait FAILED or was CANCELLED
  2  bad input: usage errors, unreadable or malformed files, and the server's
     INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION
  3  vigil status --check: the status is PARTIALLY_WORKING
  4  vigil status --check: the status is FAILING
  Errors go to standard error as `error: FIELD: REASON`.";

/// Command-line client of Vigil, the backup suite.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, about, after_long_help = AFTER_HELP, propagate_version = true)]
pub(crate) struct Cli {
    /// gRPC endpoint of vigild (all services on one port).
    #[arg(long, global = true, env = "VIGIL_ENDPOINT", default_value = vigil_client::DEFAULT_ENDPOINT, value_name = "URL")]
    pub endpoint: String,
    /// Machine-readable output: the API's messages as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Quiet: no progress while waiting; lists print one id or name per line,
    /// and a job waited on prints its artifact id (or its job id) alone.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Verbose: also say on standard error which endpoint is used, and print
    /// every progress update of a job waited on as its own line.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Time allowed for each request, such as 30s or 2m (streams and --wait are not cut by it).
    #[arg(long, global = true, env = "VIGIL_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
    /// File holding the bearer token; else VIGIL_TOKEN, else ./vigil-data/admin.token when it exists.
    #[arg(long, global = true, env = "VIGIL_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// CA certificate (PEM) of an https:// endpoint; the system roots when unset.
    #[arg(long, global = true, env = "VIGIL_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Client certificate (PEM), for servers that require mTLS.
    #[arg(
        long,
        global = true,
        env = "VIGIL_CLIENT_CERT",
        value_name = "FILE",
        requires = "client_key"
    )]
    pub client_cert: Option<PathBuf>,
    /// Key (PEM) of --client-cert.
    #[arg(
        long,
        global = true,
        env = "VIGIL_CLIENT_KEY",
        value_name = "FILE",
        requires = "client_cert"
    )]
    pub client_key: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The command tree.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Backup configurations: list, get, create, update, delete, enable, disable, apply.
    #[command(subcommand)]
    Config(config::ConfigCmd),
    /// Run backups.
    #[command(subcommand)]
    Backup(backup::BackupCmd),
    /// Jobs: list, show, logs, cancel.
    #[command(subcommand)]
    Jobs(jobs::JobsCmd),
    /// Artifacts: list, and ls to see what one holds.
    #[command(subcommand)]
    Artifacts(archive::ArtifactsCmd),
    /// Find entries of a backup by glob, such as '*.pdf'.
    Find(browse::FindArgs),
    /// Paths added, removed and changed from one backup to another.
    Diff(browse::DiffArgs),
    /// Write one file of a backup to standard output, byte for byte.
    Dump(browse::DumpArgs),
    /// Restore an artifact into a directory (--to) and/or a database (--database-url).
    Restore(restore::RestoreArgs),
    /// Verify an artifact, a configuration's artifacts, or the repository.
    Verify(backup::VerifyArgs),
    /// Apply a configuration's retention policy.
    Prune(backup::PruneArgs),
    /// Upload an export archive so that it can be restored.
    Upload(archive::UploadArgs),
    /// Download an artifact as a portable export archive.
    Download(archive::DownloadArgs),
    /// Schedules: list, show, pause, resume, trigger, preview.
    #[command(subcommand)]
    Schedules(schedules::SchedulesCmd),
    /// The status report: verdict, risk, history, schedule health and recommendations.
    Status(status::StatusArgs),
    /// Alerts: open ones, or all with --all.
    Alerts(alerts::AlertsArgs),
    /// The client's and the server's version and build.
    Version,
    /// A shell completion script on standard output.
    Completions(about::CompletionsArgs),
    /// Manual pages (roff): vigil.1 on standard output, or every page into --out-dir.
    Man(about::ManArgs),
    /// Bearer tokens: create, list, revoke.
    #[command(subcommand)]
    Tokens(access::TokensCmd),
    /// The audit trail of mutating calls, newest first.
    Audit(access::AuditArgs),
}

impl Command {
    /// The service a command talks to, for error messages.
    pub(crate) fn service(&self) -> &'static str {
        match self {
            Command::Artifacts(archive::ArtifactsCmd::Ls(_)) => "executor",
            Command::Config(_)
            | Command::Backup(_)
            | Command::Jobs(_)
            | Command::Artifacts(_)
            | Command::Restore(_)
            | Command::Verify(_)
            | Command::Prune(_)
            | Command::Alerts(_)
            | Command::Version
            | Command::Completions(_)
            | Command::Man(_) => "catalog",
            Command::Tokens(_) | Command::Audit(_) => "access",
            Command::Upload(_)
            | Command::Download(_)
            | Command::Find(_)
            | Command::Diff(_)
            | Command::Dump(_) => "executor",
            Command::Schedules(_) => "scheduler",
            Command::Status(_) => "status",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fixed_command_names_parse() {
        for args in [
            &["vigil", "config", "list"][..],
            &["vigil", "config", "apply", "-f", "x.yaml", "--dry-run"],
            &["vigil", "backup", "run", "daily_full_backup", "--wait"],
            &[
                "vigil",
                "jobs",
                "list",
                "--configuration",
                "c",
                "--state",
                "failed",
                "--limit",
                "5",
            ],
            &[
                "vigil",
                "restore",
                "a1",
                "--to",
                "/tmp/r",
                "--database-url",
                "sqlite:///tmp/x.db",
                "--overwrite",
            ],
            &[
                "vigil",
                "verify",
                "--configuration",
                "c",
                "--sample",
                "0.1",
                "--wait",
            ],
            &["vigil", "prune", "c", "--dry-run"],
            &["vigil", "upload", "f.vigil", "--configuration", "c"],
            &["vigil", "download", "a1", "-o", "out.vigil"],
            &[
                "vigil",
                "schedules",
                "preview",
                "--cron",
                "0 2 * * *",
                "--timezone",
                "Europe/Berlin",
                "--count",
                "3",
            ],
            &["vigil", "status", "--markdown"],
            &["vigil", "alerts", "--all"],
            &["vigil", "artifacts", "ls", "a1"],
            &["vigil", "artifacts", "ls", "a1", "/srv/edms", "--recursive"],
            &["vigil", "find", "a1", "*.pdf"],
            &["vigil", "diff", "a1", "a2"],
            &["vigil", "dump", "a1", "/srv/edms/documents/x.pdf"],
            &["vigil", "status", "--check"],
            &["vigil", "version", "--json"],
            &["vigil", "completions", "zsh"],
            &["vigil", "man", "--out-dir", "/tmp/man"],
            &[
                "vigil",
                "--json",
                "--endpoint",
                "http://h:1",
                "--timeout",
                "5s",
                "config",
                "get",
                "x",
            ],
            &["vigil", "config", "get", "x", "--json"],
        ] {
            Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }

    #[test]
    fn quiet_and_verbose_are_global_and_exclusive() {
        let cli = Cli::try_parse_from(["vigil", "artifacts", "list", "-q"]).unwrap();
        assert!(cli.quiet && !cli.verbose);
        let cli = Cli::try_parse_from(["vigil", "-v", "status"]).unwrap();
        assert!(cli.verbose);
        assert!(Cli::try_parse_from(["vigil", "-q", "-v", "status"]).is_err());
    }

    #[test]
    fn global_flags_are_read() {
        let cli = Cli::try_parse_from(["vigil", "status", "--json", "--timeout", "2m"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.timeout, Duration::from_secs(120));
    }
}
