//! `pipework generate`: exactly `--count` rows per key, one CMD run per missing row.

use std::path::Path;

use anyhow::Context;
use pipework::jsonl::{create_or_resume, Row};
use serde_json::Value;

use crate::args::GenerateArgs;
use crate::reply;
use crate::session::{Outcome, Session};

/// Runs `pipework generate`.
pub(crate) async fn run(args: GenerateArgs) -> anyhow::Result<Outcome> {
    let keys = read_keys(&args.keys).await?;
    // Never negative (clap checked the range); usize may be 32 bits.
    let count = usize::try_from(args.count).context("--count is too large for this machine")?;
    let total = (keys.len() as u64).saturating_mul(count as u64);
    let session = Session::start(&args.run, &args.dst, &args.key).await?;
    session.total(total);
    let call = session.call(reply::one_object);
    let column = args.key.clone();
    let generate = move |key: Value, index: usize| {
        let mut request = Row::new();
        request.insert(column.clone(), key);
        request.insert("index".to_owned(), index.into());
        call(request)
    };
    let opts = session.create_options();
    let result = create_or_resume(&args.dst, &args.key, count, keys, generate, opts).await;
    session.finish(result).await
}

/// The keys of the keys file: one per line, exactly as written but for its
/// line ending (`\n` or `\r\n`), each once; blank lines are skipped.
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
    // `lines` removes the line ending, `\r\n` included, and nothing else.
    Ok(text
        .lines()
        .filter(|line| !line.trim().is_empty() && seen.insert(*line))
        .map(str::to_owned)
        .collect())
}
