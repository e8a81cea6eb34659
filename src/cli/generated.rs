//! `sepkg completions`, `sepkg man` and `sepkg help`: text generated from
//! the clap definitions, so that it cannot drift from the options.
//!
//! `help` is ours rather than clap's built-in subcommand, which refuses
//! `sepkg help --help` as a usage error (exit 2).

use clap::CommandFactory;

use super::{Cli, Output};
use crate::error::{Error, ExitCode, Result};

pub(crate) const COMPLETIONS_AFTER_HELP: &str = "\
Install, for example:
  sepkg completions bash > ~/.local/share/bash-completion/completions/sepkg
  sepkg completions zsh > \"${fpath[1]}/_sepkg\"
  sepkg completions fish > ~/.config/fish/completions/sepkg.fish
  sepkg completions powershell >> $PROFILE

Exit codes: 0 printed.";

pub(crate) const MAN_AFTER_HELP: &str = "\
Examples:
  sepkg man > sepkg.1 && man ./sepkg.1
  sepkg man transform > sepkg-transform.1

Exit codes: 0 printed, 2 no such command.";

/// `sepkg completions` arguments.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    shell: clap_complete::Shell,
}

/// `sepkg man` arguments.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The command whose page to print (`sepkg-COMMAND(1)`). Default: the
    /// page for sepkg itself, which lists the commands.
    #[arg(value_name = "COMMAND")]
    command: Option<String>,
}

/// `sepkg help` arguments.
#[derive(Debug, clap::Args)]
pub struct HelpArgs {
    /// The command to explain. Default: sepkg itself.
    #[arg(value_name = "COMMAND")]
    command: Vec<String>,
}

/// The clap definitions, built, so that every subcommand knows its full
/// name (`sepkg transform`) for its usage line.
fn built() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}

/// The subcommand at `path` under `cmd`, or a usage error naming it.
fn find<'a>(cmd: &'a mut clap::Command, path: &[String]) -> Result<&'a mut clap::Command> {
    let mut at = cmd;
    for name in path {
        let known: Vec<String> = at
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        at = at.find_subcommand_mut(name).ok_or_else(|| {
            Error::Usage(format!(
                "no command {name:?}; the commands are {}",
                known.join(", ")
            ))
        })?;
    }
    Ok(at)
}

pub(crate) fn completions(args: &CompletionsArgs, out: &Output) -> Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "sepkg", &mut script);
    let script = String::from_utf8_lossy(&script).into_owned();
    if out.json {
        out.print_json(&serde_json::json!({
            "completions": { "shell": args.shell.to_string(), "script": script }
        }))?;
    } else {
        out.print(&script)?;
    }
    Ok(ExitCode::Ok)
}

pub(crate) fn man(args: &ManArgs, out: &Output) -> Result<ExitCode> {
    let mut cmd = built();
    let page = match &args.command {
        None => cmd,
        // Built, a subcommand's display name is `sepkg-NAME`: the page's title.
        Some(name) => find(&mut cmd, std::slice::from_ref(name))?
            .clone()
            .version(env!("CARGO_PKG_VERSION")),
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .map_err(|e| Error::io("<stdout>", "cannot write", e))?;
    let roff = String::from_utf8_lossy(&roff).into_owned();
    if out.json {
        out.print_json(&serde_json::json!({ "man": roff }))?;
    } else {
        out.print(&roff)?;
    }
    Ok(ExitCode::Ok)
}

pub(crate) fn help(args: &HelpArgs, out: &Output) -> Result<ExitCode> {
    let mut cmd = built();
    let text = find(&mut cmd, &args.command)?
        .render_long_help()
        .to_string();
    if out.json {
        out.print_json(&serde_json::json!({ "help": text }))?;
    } else {
        out.print(&text)?;
    }
    Ok(ExitCode::Ok)
}
