//! `tokengate completions SHELL` and `tokengate man`: generated from the clap
//! definitions, so they never drift from `--help`.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Args, CommandFactory as _};

use super::Cli;

/// `tokengate completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `tokengate man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write tokengate.1 and a page per command (tokengate-serve.1, …) into this
    /// directory instead of printing tokengate.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints the completion script.
pub(super) fn completions(args: &CompletionsArgs) -> Result<()> {
    let mut command = Cli::command();
    clap_complete::generate(
        args.shell,
        &mut command,
        "tokengate",
        &mut std::io::stdout(),
    );
    Ok(())
}

/// Prints or writes the manual pages.
pub(super) fn man(args: &ManArgs) -> Result<()> {
    match &args.dir {
        None => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .context("writing the manual page"),
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), dir)
                .with_context(|| format!("writing the manual pages into {}", dir.display()))
        }
    }
}
