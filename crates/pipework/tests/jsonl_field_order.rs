//! A destination means what its rows say: `map_by_key`'s replaced log, and
//! resuming a destination that abstractions' `map_by_key_jsonl_file` began.
#![cfg(feature = "jsonl")]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use pipework::jsonl::{map_by_key, Durability, MapOptions, Row};
use serde_json::{json, Value};
use support::{multiset, Calls};

/// Rows of keys 0..6, each three times, with a kept column that differs per row.
fn source(dir: &Path) -> PathBuf {
    let src = dir.join("in.jsonl");
    let text: String = (0..18)
        .map(|i| format!("{{\"other\": \"src{i}\", \"key\": {}}}\n", i % 6))
        .collect();
    std::fs::write(&src, text).unwrap();
    src
}

/// Replaces the kept column `other` for keys divisible by 3.
async fn sometimes_replacing(row: Row) -> Result<Row, std::io::Error> {
    let key = row["key"].as_i64().unwrap_or(0);
    let mut out = Row::new();
    out.insert("z".into(), json!(key));
    if key % 3 == 0 {
        out.insert("other".into(), json!(format!("f{key}")));
    }
    Ok(out)
}

/// Never returns a kept column.
async fn never_replacing(row: Row) -> Result<Row, std::io::Error> {
    let mut out = Row::new();
    out.insert("z".into(), row["key"].clone());
    Ok(out)
}

fn options() -> MapOptions {
    MapOptions::new("key")
        .keep_columns(["other"])
        .concurrency(1)
}

fn log_of(dst: &Path) -> PathBuf {
    let mut name = dst.as_os_str().to_owned();
    name.push(".replaced");
    PathBuf::from(name)
}

/// The log holds a line per key whose result replaced a kept column, in
/// the order of their first rows, and exists only when there is one; a
/// run that syncs every write writes the same files.
#[tokio::test]
async fn the_replaced_log_records_exactly_the_keys_whose_result_replaced_a_kept_column() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let plain = dir.path().join("plain.jsonl");
    map_by_key(&src, &plain, never_replacing, options())
        .await
        .unwrap();
    assert!(!log_of(&plain).exists());

    let (flushed, synced) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    map_by_key(&src, &flushed, sometimes_replacing, options())
        .await
        .unwrap();
    let fsync = options().durability(Durability::Fsync);
    map_by_key(&src, &synced, sometimes_replacing, fsync)
        .await
        .unwrap();
    let log = std::fs::read_to_string(log_of(&flushed)).unwrap();
    assert_eq!(
        log,
        "{\"key\":0,\"columns\":[\"other\"]}\n{\"key\":3,\"columns\":[\"other\"]}\n"
    );
    assert_eq!(std::fs::read_to_string(log_of(&synced)).unwrap(), log);
    let text = std::fs::read_to_string(&flushed).unwrap();
    assert_eq!(std::fs::read_to_string(&synced).unwrap(), text);
    assert!(text.starts_with("{\"key\":0,\"other\":\"f0\",\"z\":0}\n"));
    assert!(text.contains("{\"key\":1,\"other\":\"src7\",\"z\":1}\n"));
}

/// A record whose row never reached DST (a run killed between the two)
/// must not apply to the key's next result, in this run or any later one:
/// the resume that finds it drops it from the log.
#[tokio::test]
async fn a_record_left_without_its_row_never_applies_to_the_keys_next_result() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let fresh = dir.path().join("fresh.jsonl");
    map_by_key(&src, &fresh, never_replacing, options())
        .await
        .unwrap();

    let dst = dir.path().join("out.jsonl");
    std::fs::write(log_of(&dst), "{\"key\":1,\"columns\":[\"other\"]}\n").unwrap();
    map_by_key(&src, &dst, never_replacing, options())
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(log_of(&dst)).unwrap(), "");
    let fresh = std::fs::read_to_string(&fresh).unwrap();
    assert_eq!(std::fs::read_to_string(&dst).unwrap(), fresh);

    // Key 1's first row is in DST now, its later rows are not, and every
    // result is read back from DST.
    let first: String = fresh.lines().take(6).map(|l| format!("{l}\n")).collect();
    std::fs::write(&dst, first).unwrap();
    let report = map_by_key(&src, &dst, never_replacing, options().cache_bytes(0))
        .await
        .unwrap();
    assert_eq!(report.keys_computed, 0);
    assert_eq!(std::fs::read_to_string(&dst).unwrap(), fresh);
}

/// The abstractions venv's Python, as the bench's `peers/setup.sh` makes
/// it, if it is there and has abstractions.
fn abstractions_python() -> Result<PathBuf, String> {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipework-bench");
    let python = bench.join(".venv/bin/python");
    if !python.exists() {
        return Err(format!(
            "no venv at {} (make it with bash {})",
            python.display(),
            bench.join("peers/setup.sh").display()
        ));
    }
    let probe = Command::new(&python)
        .args(["-c", "import abstractions.storage"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !probe.status.success() {
        return Err(format!(
            "{} cannot import abstractions: {}",
            python.display(),
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }
    Ok(python)
}

/// abstractions' `map_by_key_jsonl_file`, with an `f` that [`score`] mirrors.
const ABSTRACTIONS_MAP: &str = r#"
import asyncio, sys
from pathlib import Path
from abstractions.storage import map_by_key_jsonl_file

async def f(row):
    return {"score": len(row["author"]) * 10 + row["n"], "title": "T" + row["book"]}

asyncio.run(map_by_key_jsonl_file(
    Path(sys.argv[1]), Path(sys.argv[2]), f=f, key="book",
    num_concurrent=3, keep_columns=["author", "n"], on_error="raise"))
"#;

/// The `f` of [`ABSTRACTIONS_MAP`] (Python's `len` counts code points).
fn score(row: &Row) -> Row {
    let author = row["author"].as_str().unwrap_or("");
    let n = row["n"].as_i64().unwrap_or(0);
    let book = row["book"].as_str().unwrap_or("");
    let mut out = Row::new();
    out.insert(
        "score".into(),
        json!(author.chars().count() as i64 * 10 + n),
    );
    out.insert("title".into(), json!(format!("T{book}")));
    out
}

/// abstractions writes kept columns before the key (`{"author": ..., "n":
/// ..., "book": ..., "score": ...}`); a DST it wrote for the first rows of
/// SRC resumes to the rows a fresh pipework run writes, calling no key it
/// has. Skipped, saying why, where the bench's Python venv is missing.
#[tokio::test]
async fn a_dst_begun_by_abstractions_resumes_to_a_fresh_runs_rows() {
    let python = match abstractions_python() {
        Ok(python) => python,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let authors = ["ann", "bob", "cy", "zoë", "dee"];
    let rows: Vec<Value> = (0..30)
        .map(|i| json!({"book": format!("b{}", i % 7), "author": authors[i % 5], "n": i, "x": 0}))
        .collect();
    let src = dir.path().join("in.jsonl");
    support::write_rows(&src, &rows);
    let part = dir.path().join("part.jsonl");
    support::write_rows(&part, &rows[..12]);
    let script = dir.path().join("map.py");
    std::fs::write(&script, ABSTRACTIONS_MAP).unwrap();

    let dst = dir.path().join("out.jsonl");
    let ran = Command::new(&python)
        .arg(&script)
        .arg(&part)
        .arg(&dst)
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "abstractions failed: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let begun = std::fs::read_to_string(&dst).unwrap();
    assert_eq!(begun.lines().count(), 12);
    assert!(begun.starts_with("{\"author\": \"ann\", \"n\": 0, \"book\": \"b0\""));

    let opts = || {
        MapOptions::new("book")
            .keep_columns(["author", "n"])
            .cache_bytes(0)
    };
    let calls = Calls::default();
    let counted = {
        let calls = calls.clone();
        move |row: Row| {
            calls.record(&row["book"]);
            async move { Ok::<_, std::io::Error>(score(&row)) }
        }
    };
    let report = map_by_key(&src, &dst, counted, opts()).await.unwrap();
    let fresh = dir.path().join("fresh.jsonl");
    let f = |row: Row| async move { Ok::<_, std::io::Error>(score(&row)) };
    map_by_key(&src, &fresh, f, opts()).await.unwrap();

    assert_eq!(multiset(&dst), multiset(&fresh));
    assert_eq!((report.rows_resumed, report.keys_reused), (12, 7));
    assert_eq!(calls.total(), 0, "{:?}", calls.get());
}
