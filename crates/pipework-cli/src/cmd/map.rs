//! `pipework map`: one CMD run per distinct key, one output row per source row.

use std::process::ExitCode;

use pipework::jsonl::{map_by_key, Row};

use crate::args::MapArgs;
use crate::process::{CommandError, Runner};
use crate::reply;
use crate::session::{count_lines, Session};

/// Runs `pipework map`.
pub(crate) async fn run(args: MapArgs) -> anyhow::Result<ExitCode> {
    Runner::check(&args.run.cmd)?;
    let total = count_lines(&args.src).await?;
    let session = Session::start(&args.run, total, &args.dst)?;
    let runner = session.runner.clone();
    let f = move |row: Row| {
        let runner = runner.clone();
        async move {
            let output = runner.run(input(&row)?).await?;
            reply::one_object(output)
        }
    };
    let opts = session.map_options(&args.key, &args.keep);
    let result = map_by_key(&args.src, &args.dst, f, opts).await;
    session.finish(result)
}

/// A row as CMD's stdin: one line of JSON.
pub(crate) fn input(row: &Row) -> Result<Vec<u8>, CommandError> {
    let mut bytes = serde_json::to_vec(row).map_err(|e| CommandError::Io(e.into()))?;
    bytes.push(b'\n');
    Ok(bytes)
}
