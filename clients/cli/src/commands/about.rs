//! `vigil version`, `vigil completions SHELL` and `vigil man`: what the CLI
//! and the server are, and the shell integration users expect.

use std::path::PathBuf;

use clap::{Args, CommandFactory, ValueEnum};
use serde_json::json;

use crate::cli::Cli;
use crate::ctx::Ctx;
use crate::error::CliError;
use crate::output::{self, to_json};
use crate::render::about as render;

/// The client's version, such as `0.1.0`.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `COMMIT PROFILE ARCH-OS`; the commit is `VIGIL_BUILD_COMMIT` at compile time, or `dev`.
pub(crate) fn build() -> String {
    let commit = option_env!("VIGIL_BUILD_COMMIT").unwrap_or("dev");
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    format!(
        "{commit} {profile} {}-{}",
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// Shells with completion scripts.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Shell {
    /// bash: `source <(vigil completions bash)`.
    Bash,
    /// zsh: write it as `_vigil` into a directory on `$fpath`.
    Zsh,
    /// fish: write it to `~/.config/fish/completions/vigil.fish`.
    Fish,
}

/// Arguments of `vigil completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// bash, zsh or fish.
    pub shell: Shell,
}

/// Arguments of `vigil man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write vigil.1 and one page per command (vigil-config.1, ...) into
    /// this directory, such as /usr/local/share/man/man1; without it,
    /// vigil.1 goes to standard output.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Runs `version`: the client's version, then the server's.
pub(crate) async fn version(ctx: &Ctx) -> Result<(), CliError> {
    let client = json!({"version": VERSION, "build": build()});
    if !ctx.json {
        output::print(format!("client  vigil {VERSION} ({})", build()));
    }
    let info = ctx.client().await?.server_info().await?;
    if ctx.json {
        output::print_json(&json!({"client": client, "server": to_json(&info)}));
    } else {
        output::print(format!(
            "server  {} {} ({})",
            ctx.endpoint, info.version, info.build
        ));
        if !info.components.is_empty() && !ctx.quiet() {
            output::print(render::components(&info.components));
        }
    }
    Ok(())
}

/// Runs `completions`: the script on standard output.
pub(crate) fn completions(args: &CompletionsArgs) {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "vigil", &mut out);
    output::print(String::from_utf8_lossy(&out).trim_end());
}

/// Runs `man`.
pub(crate) fn man(ctx: &Ctx, args: &ManArgs) -> Result<(), CliError> {
    let cmd = Cli::command();
    let Some(dir) = &args.out_dir else {
        let mut out = Vec::new();
        render_page(cmd, "vigil", &mut out)?;
        output::print(String::from_utf8_lossy(&out).trim_end());
        return Ok(());
    };
    std::fs::create_dir_all(dir).map_err(|e| {
        CliError::input("--out-dir", format!("cannot create {}: {e}", dir.display()))
    })?;
    let mut pages = vec![(String::from("vigil"), cmd.clone())];
    for sub in cmd.get_subcommands() {
        pages.push((format!("vigil-{}", sub.get_name()), sub.clone()));
    }
    for (name, page) in pages {
        let mut out = Vec::new();
        render_page(page, &name, &mut out)?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, out).map_err(|e| {
            CliError::input("--out-dir", format!("cannot write {}: {e}", path.display()))
        })?;
    }
    if !ctx.quiet() {
        output::print(format!("man pages written to {}", dir.display()));
    }
    Ok(())
}

fn render_page(cmd: clap::Command, title: &str, out: &mut Vec<u8>) -> Result<(), CliError> {
    clap_mangen::Man::new(cmd)
        .title(title.to_uppercase())
        .render(out)
        .map_err(|e| CliError::input("man", format!("cannot render: {e}")))
}
