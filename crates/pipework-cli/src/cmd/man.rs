//! `pipework man`: roff man pages made from the clap definition, with the
//! exit codes, signals and process rules of `--help`'s footer in each.

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::args::{Cli, ManArgs};
use crate::session::Outcome;
use crate::stdout;

/// Writes `pipework.1` to stdout, or every page into `args.dir`.
pub(crate) fn run(args: &ManArgs) -> anyhow::Result<Outcome> {
    let command = Cli::command();
    match &args.dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            stdout::print(&page, "the man page")?;
        }
        Some(dir) => write_all(command, dir)?,
    }
    Ok(Outcome::Complete)
}

/// `pipework.1`, and `pipework-NAME.1` for each subcommand (and theirs).
fn write_all(command: clap::Command, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(command, dir)
        .with_context(|| format!("writing man pages into {}", dir.display()))
}
