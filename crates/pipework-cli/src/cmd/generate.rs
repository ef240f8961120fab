//! `pipework generate`: exactly `--count` rows per key, one CMD run per missing row.

use std::process::ExitCode;

use anyhow::Context;
use pipework::jsonl::{create_or_resume, Row};
use serde_json::Value;

use crate::args::GenerateArgs;
use crate::cmd::map::input;
use crate::process::Runner;
use crate::reply;
use crate::session::Session;

/// Runs `pipework generate`.
pub(crate) async fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    Runner::check(&args.run.cmd)?;
    let text = tokio::task::spawn_blocking({
        let path = args.keys.clone();
        move || std::fs::read_to_string(path)
    })
    .await
    .context("reading the keys file")?
    .with_context(|| format!("reading {}", args.keys.display()))?;
    let mut keys: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    let total = (keys.len() * args.count) as u64;
    let session = Session::start(&args.run, total, &args.dst)?;
    let runner = session.runner.clone();
    let column = args.key.clone();
    let generate = move |key: Value, index: usize| {
        let runner = runner.clone();
        let mut request = Row::new();
        request.insert(column.clone(), key);
        request.insert("index".to_owned(), index.into());
        async move {
            let output = runner.run(input(&request)?).await?;
            reply::one_object(output)
        }
    };
    let opts = session.create_options();
    let result = create_or_resume(&args.dst, &args.key, args.count, keys, generate, opts).await;
    session.finish(result)
}
