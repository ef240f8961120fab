//! `pipework recovery init`: create a dataflow recovery directory.

use anyhow::Context;
use pipework_dataflow::recovery::init_db_dir;

use crate::args::{RecoveryCommand, RecoveryInitArgs};
use crate::session::Outcome;

/// Runs `pipework recovery …`.
pub(crate) fn run(command: RecoveryCommand) -> anyhow::Result<Outcome> {
    match command {
        RecoveryCommand::Init(args) => init(args),
    }
}

fn init(args: RecoveryInitArgs) -> anyhow::Result<Outcome> {
    let parts = usize::try_from(args.parts).context("--parts does not fit this machine")?;
    init_db_dir(&args.dir, parts)
        .with_context(|| format!("initialising {}", args.dir.display()))?;
    eprintln!(
        "pipework: created {parts} recovery partition{} in {}",
        if parts == 1 { "" } else { "s" },
        args.dir.display()
    );
    Ok(Outcome::Complete)
}
