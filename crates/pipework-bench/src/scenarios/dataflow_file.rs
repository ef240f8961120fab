//! `dataflow-file`: read a file of N lines, map each line to its length,
//! count the lines and sum the lengths. The harness writes the file
//! (line `i` is `line-i:` followed by `i % 32` letters) before any system is
//! timed. The baseline is a plain single-threaded `BufRead` loop reusing one
//! line buffer.
//!
//! pipework-dataflow runs `FileSource -> map("len") -> output` with one
//! worker in this thread (`pipework-w1`) and with two worker threads
//! (`pipework-w2`). A file is one partition, so the second worker has no
//! lines to read: the w2 line shows what the second worker costs, not a
//! speed-up. The `-dir4` systems read the same lines from a directory of
//! 4 files (the input's quarters, one partition each) with `DirSource`, so
//! two workers have two files each: `pipework-w2-dir4` over
//! `pipework-w1-dir4` is the speed-up of a second worker.
//!
//! `FileSource` hands out each line as a [`Line`] view of a 64 KiB chunk
//! checked once, not as a `String` of its own: the allocation, copy and
//! free per line were half the instructions of `pipework-w1` (callgrind,
//! 200k lines: 138M, of which 68M in malloc and free, against the loop's
//! 67M).
//!
//! The size, 40M lines (about 0.9 GB), makes each Rust system run for about
//! a second or more; bytewax reads a tenth of it (4M lines), and its rate
//! is compared as for the other Python peers.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Context;
use pipework_dataflow::connectors::{DirSource, FileSource, Line};
use pipework_dataflow::{run, Dataflow, ExecutionConfig};

use super::count_sink::{CountSink, Totals};
use crate::measure::{Job, Measurement};
use crate::scenario::{Runner, Scenario, System};

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "dataflow-file",
    work: "N-line file -> map(len) -> count",
    sizes: &[40_000_000],
    quick_sizes: &[200_000],
    ideal_seconds: None,
    check,
    input: Some(write_input),
    systems: &[
        System {
            name: "pipework-w1",
            runner: Runner::Rust(pipework_w1),
        },
        System {
            name: "pipework-w2",
            runner: Runner::Rust(pipework_w2),
        },
        System {
            name: "pipework-w1-dir4",
            runner: Runner::Rust(pipework_w1_dir4),
        },
        System {
            name: "pipework-w2-dir4",
            runner: Runner::Rust(pipework_w2_dir4),
        },
        System {
            name: "bufread-loop",
            runner: Runner::Rust(bufread_loop),
        },
        System {
            name: "bytewax",
            runner: Runner::Python {
                script: "bytewax_file.py",
                divisor: 10,
            },
        },
    ],
};

const LETTERS: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyzABCDEF";

/// Line `i` of the input, without its newline.
fn line(i: u64, out: &mut Vec<u8>) {
    out.clear();
    // Writing into a Vec cannot fail.
    let _ = write!(out, "line-{i}:");
    out.extend_from_slice(&LETTERS[..(i % 32) as usize]);
}

/// The sum of the line lengths (bytes, newline excluded).
pub(crate) fn check(lines: u64) -> u64 {
    (0..lines)
        .map(|i| "line-:".len() as u64 + decimal_digits(i) + i % 32)
        .sum()
}

fn decimal_digits(mut i: u64) -> u64 {
    let mut digits = 1;
    while i >= 10 {
        i /= 10;
        digits += 1;
    }
    digits
}

/// Files in the directory of the `-dir4` systems.
const PARTS: u64 = 4;

/// The directory beside the input file holding its lines in [`PARTS`]
/// files.
fn parts_dir(path: &Path) -> PathBuf {
    let mut dir = path.as_os_str().to_owned();
    dir.push(".parts");
    PathBuf::from(dir)
}

/// Writes the input file, and the same lines split in [`PARTS`] files of
/// consecutive lines in [`parts_dir`].
pub(crate) fn write_input(lines: u64, path: &Path) -> io::Result<()> {
    let dir = parts_dir(path);
    std::fs::create_dir_all(&dir)?;
    let mut out = BufWriter::new(File::create(path)?);
    let mut parts = (0..PARTS)
        .map(|p| {
            Ok(BufWriter::new(File::create(
                dir.join(format!("part-{p}.txt")),
            )?))
        })
        .collect::<io::Result<Vec<_>>>()?;
    let mut buf = Vec::new();
    for i in 0..lines {
        line(i, &mut buf);
        buf.push(b'\n');
        out.write_all(&buf)?;
        // Line i goes to part i * PARTS / lines: consecutive quarters.
        let part = (u128::from(i) * u128::from(PARTS) / u128::from(lines)) as usize;
        parts[part].write_all(&buf)?;
    }
    for file in std::iter::once(out).chain(parts) {
        file.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .sync_all()?;
    }
    Ok(())
}

fn pipework_w1(job: &Job) -> anyhow::Result<Measurement> {
    pipework(job, ExecutionConfig::single())
}

fn pipework_w2(job: &Job) -> anyhow::Result<Measurement> {
    pipework(job, ExecutionConfig::threads(2)?)
}

fn pipework_w1_dir4(job: &Job) -> anyhow::Result<Measurement> {
    pipework_dir(job, ExecutionConfig::single())
}

fn pipework_w2_dir4(job: &Job) -> anyhow::Result<Measurement> {
    pipework_dir(job, ExecutionConfig::threads(2)?)
}

fn pipework(job: &Job, config: ExecutionConfig) -> anyhow::Result<Measurement> {
    let path = job.input()?.clone();
    let totals = Totals::default();
    let sink = CountSink(totals.clone());
    let flow = Dataflow::new("dataflow-file", move |flow| {
        flow.input("lines", FileSource::new(&path))
            .map("len", |line: Line| line.len() as u64)
            .output("count", sink.clone());
    });
    timed(&flow, &config, &totals)
}

fn pipework_dir(job: &Job, config: ExecutionConfig) -> anyhow::Result<Measurement> {
    let dir = parts_dir(job.input()?);
    let totals = Totals::default();
    let sink = CountSink(totals.clone());
    let flow = Dataflow::new("dataflow-file-dir4", move |flow| {
        flow.input("lines", DirSource::new(&dir))
            .map("len", |line: Line| line.len() as u64)
            .output("count", sink.clone());
    });
    timed(&flow, &config, &totals)
}

/// Runs `flow` and reads the sink's totals.
fn timed(
    flow: &Dataflow,
    config: &ExecutionConfig,
    totals: &Totals,
) -> anyhow::Result<Measurement> {
    let start = Instant::now();
    run(flow, config)?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(Measurement {
        items: totals.count.load(Ordering::Acquire),
        check: totals.sum.load(Ordering::Acquire),
        seconds,
        bytes: None,
    })
}

fn bufread_loop(job: &Job) -> anyhow::Result<Measurement> {
    let path = job.input()?;
    let start = Instant::now();
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    let (mut count, mut total) = (0u64, 0u64);
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .with_context(|| format!("reading {} after line {count}", path.display()))?;
        if read == 0 {
            break;
        }
        total += line.strip_suffix('\n').unwrap_or(&line).len() as u64;
        count += 1;
    }
    Ok(Measurement {
        items: count,
        check: total,
        seconds: start.elapsed().as_secs_f64(),
        bytes: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_matches_the_lengths_in_the_written_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines");
        // 1234 lines cross the 1-, 2-, 3- and 4-digit boundaries.
        write_input(1234, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lengths: u64 = text.lines().map(|line| line.len() as u64).sum();
        assert_eq!(text.lines().count(), 1234);
        assert_eq!(check(1234), lengths);
    }

    #[test]
    fn every_system_counts_lines_and_sums_lengths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines");
        write_input(5000, &path).unwrap();
        let job = Job {
            items: 5000,
            input: Some(path),
        };
        for work in [bufread_loop, pipework_w1, pipework_w2] {
            let measured = work(&job).unwrap();
            assert_eq!((measured.items, measured.check), (5000, check(5000)));
        }
    }
}
