//! `dataflow-file`: read a file of N lines, map each line to its length,
//! count the lines and sum the lengths. The harness writes the file
//! (line `i` is `line-i:` followed by `i % 32` letters) before any system is
//! timed. The baseline is a plain single-threaded `BufRead` loop reusing one
//! line buffer.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use crate::measure::{Job, Measurement};
use crate::scenario::{Runner, Scenario, System};

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "dataflow-file",
    work: "N-line file -> map(len) -> count",
    sizes: &[2_000_000],
    quick_sizes: &[20_000],
    ideal_seconds: None,
    check,
    input: Some(write_input),
    systems: &[
        System {
            name: "bufread-loop",
            runner: Runner::Rust(bufread_loop),
        },
        System {
            name: "bytewax",
            runner: Runner::Python {
                script: "bytewax_file.py",
                divisor: 1,
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
fn check(lines: u64) -> u64 {
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

fn write_input(lines: u64, path: &Path) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    let mut buf = Vec::new();
    for i in 0..lines {
        line(i, &mut buf);
        buf.push(b'\n');
        out.write_all(&buf)?;
    }
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()
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
    fn bufread_loop_counts_lines_and_sums_lengths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines");
        write_input(500, &path).unwrap();
        let job = Job {
            items: 500,
            input: Some(path),
        };
        let measured = bufread_loop(&job).unwrap();
        assert_eq!((measured.items, measured.check), (500, check(500)));
    }
}
