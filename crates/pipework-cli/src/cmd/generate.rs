//! `pipework generate`: exactly `--count` rows per key, one CMD run per missing row.

use std::path::Path;

use anyhow::Context;
use pipework::jsonl::{create_or_resume, Row};
use serde_json::Value;

use crate::args::GenerateArgs;
use crate::reply;
use crate::session::{Outcome, Session, Total};

/// Runs `pipework generate`.
pub(crate) async fn run(args: GenerateArgs) -> anyhow::Result<Outcome> {
    let keys = read_keys(&args.keys).await?;
    let total = (keys.len() * args.count) as u64;
    let session = Session::start(&args.run, &args.dst, Total::Rows(total)).await?;
    let call = session.call(reply::one_object);
    let column = args.key.clone();
    let generate = move |key: Value, index: usize| {
        let mut request = Row::new();
        request.insert(column.clone(), key);
        request.insert("index".to_owned(), index.into());
        call(request)
    };
    let opts = session.create_options();
    let result = create_or_resume(&args.dst, &args.key, args.count, keys, generate, opts).await;
    session.finish(result).await
}

/// The keys of the keys file: one per non-empty line, trimmed, each once.
async fn read_keys(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = tokio::task::spawn_blocking({
        let path = path.to_path_buf();
        move || std::fs::read_to_string(path)
    })
    .await
    .context("reading the keys file")?
    .with_context(|| format!("reading {}", path.display()))?;
    // Sized up front and with foldhash rather than SipHash: growing a SipHash
    // set took a fifth of a rerun's time with a million keys.
    let lines = text.lines().count();
    let mut seen = std::collections::HashSet::with_capacity_and_hasher(
        lines,
        foldhash::fast::RandomState::default(),
    );
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && seen.insert(*line))
        .map(str::to_owned)
        .collect())
}
