//! `pipework flatmap`: one CMD run per (unique) key, any number of output rows.

use std::process::ExitCode;

use pipework::jsonl::{flatmap_by_key, Row};

use crate::args::MapArgs;
use crate::cmd::map::input;
use crate::process::Runner;
use crate::reply;
use crate::session::{count_lines, Session};

/// Runs `pipework flatmap`.
pub(crate) async fn run(args: MapArgs) -> anyhow::Result<ExitCode> {
    Runner::check(&args.run.cmd)?;
    let total = count_lines(&args.src).await?;
    let session = Session::start(&args.run, total, &args.dst)?;
    let runner = session.runner.clone();
    let f = move |row: Row| {
        let runner = runner.clone();
        async move {
            let output = runner.run(input(&row)?).await?;
            reply::objects(output)
        }
    };
    let opts = session.map_options(&args.key, &args.keep);
    let result = flatmap_by_key(&args.src, &args.dst, f, opts).await;
    session.finish(result)
}
