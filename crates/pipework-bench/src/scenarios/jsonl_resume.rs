//! `jsonl-resume` and `jsonl-resume-2kb`: rerun `map_by_key` over a
//! destination that already holds every row, so the run only checks DST and
//! skips the source: no call is made, nothing is written. This is the cost
//! of resuming the main job before it computes anything: its time, its
//! speed through DST (the figure's `bytes` are DST's size) and, as each
//! system runs in its own child process, its peak RSS (the child's
//! `ru_maxrss` from `wait4`), which must grow with the keys, not with the
//! size of the results.
//!
//! `jsonl-resume`: N short rows `{"id": i % (N / 2), "text": "row i"}`, two
//! rows per key, and DST `{"id":K,"double":2K}` per row. `jsonl-resume-2kb`:
//! N rows with N keys whose results are 2 KB strings.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::ensure;
use pipework::jsonl::{map_by_key, MapOptions, Row};

use crate::measure::{Job, Measurement};
use crate::scenario::{Runner, Scenario, System};

/// Bytes of each result of `jsonl-resume-2kb`.
const WIDE_RESULT: usize = 2000;

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "jsonl-resume",
    work: "rerun map_by_key over a complete DST: N short rows, N/2 keys (check DST, call nothing)",
    sizes: &[10_000, 100_000, 1_000_000, 10_000_000],
    quick_sizes: &[1_000],
    ideal_seconds: None,
    check: short_keys,
    input: Some(write_short),
    systems: &[System {
        name: "pipework",
        runner: Runner::Rust(rerun),
    }],
};

pub(crate) const WIDE: Scenario = Scenario {
    name: "jsonl-resume-2kb",
    work: "rerun map_by_key over a complete DST: N rows, N keys, 2 KB results (check DST, call nothing)",
    sizes: &[100_000],
    quick_sizes: &[1_000],
    ideal_seconds: None,
    check: wide_keys,
    input: Some(write_wide),
    systems: &[System {
        name: "pipework",
        runner: Runner::Rust(rerun),
    }],
};

/// Keys reused by a rerun over `rows` short rows: the check value.
fn short_keys(rows: u64) -> u64 {
    (rows / 2).max(1)
}

fn wide_keys(rows: u64) -> u64 {
    rows
}

/// The destination that goes with the source at `src`.
fn dst_of(src: &Path) -> PathBuf {
    let mut name = src.as_os_str().to_owned();
    name.push(".dst");
    PathBuf::from(name)
}

fn write_short(rows: u64, src: &Path) -> io::Result<()> {
    let keys = short_keys(rows);
    write_pair(rows, src, |i, src, dst| {
        let key = i % keys;
        writeln!(src, r#"{{"id": {key}, "text": "row {i}"}}"#)?;
        writeln!(dst, r#"{{"id":{key},"double":{}}}"#, 2 * key)
    })
}

fn write_wide(rows: u64, src: &Path) -> io::Result<()> {
    let blob = "x".repeat(WIDE_RESULT);
    write_pair(rows, src, |i, src, dst| {
        writeln!(src, r#"{{"id": {i}, "text": "row {i}"}}"#)?;
        writeln!(dst, r#"{{"id":{i},"blob":"{blob}"}}"#)
    })
}

/// Writes the source at `src` and, beside it, the destination a complete
/// run leaves, one line of each per row.
fn write_pair(
    rows: u64,
    src: &Path,
    mut line: impl FnMut(u64, &mut BufWriter<File>, &mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let mut src_out = BufWriter::new(File::create(src)?);
    let mut dst_out = BufWriter::new(File::create(dst_of(src))?);
    for i in 0..rows {
        line(i, &mut src_out, &mut dst_out)?;
    }
    for out in [src_out, dst_out] {
        out.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .sync_all()?;
    }
    record_manifest(src)
}

/// Reruns once over the pair, unmeasured, so that DST gets the manifest a
/// real run leaves (with SRC's fingerprint): the measured reruns then check
/// the manifest, verify SRC against it and match rows by content, as a
/// user's resume does, instead of taking the no-manifest path.
fn record_manifest(src: &Path) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime
        .block_on(map_by_key(src, dst_of(src), never, MapOptions::new("id")))
        .map(drop)
        .map_err(io::Error::other)
}

/// A function a complete rerun must never call.
async fn never(row: Row) -> Result<Row, String> {
    Err(format!(
        "called for {row:?}: the destination holds every key"
    ))
}

fn rerun(job: &Job) -> anyhow::Result<Measurement> {
    let src = job.input()?;
    let dst = dst_of(src);
    let bytes = std::fs::metadata(&dst)?.len();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    let report = runtime.block_on(map_by_key(src, &dst, never, MapOptions::new("id")))?;
    let seconds = start.elapsed().as_secs_f64();
    ensure!(
        report.rows_written == 0 && report.keys_computed == 0,
        "a complete rerun wrote {} rows and made {} calls",
        report.rows_written,
        report.keys_computed
    );
    Ok(Measurement {
        items: report.rows_resumed,
        check: report.keys_reused,
        seconds,
        bytes: Some(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rerun_over_the_written_pair_resumes_every_row_and_calls_nothing() {
        let dir = tempfile::tempdir().unwrap();
        for (write, keys, rows) in [
            (
                write_short as fn(u64, &Path) -> io::Result<()>,
                short_keys as fn(u64) -> u64,
                1000,
            ),
            (write_wide, wide_keys, 20),
        ] {
            let src = dir.path().join(format!("in-{rows}.jsonl"));
            write(rows, &src).unwrap();
            let manifest =
                std::fs::read_to_string(format!("{}.manifest", dst_of(&src).display())).unwrap();
            assert!(manifest.contains("\"dst\":{"), "{manifest}");
            let measured = rerun(&Job {
                items: rows,
                input: Some(src),
            })
            .unwrap();
            assert_eq!((measured.items, measured.check), (rows, keys(rows)));
        }
    }
}
