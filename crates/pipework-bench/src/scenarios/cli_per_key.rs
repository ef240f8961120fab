//! `cli-per-key` and `cli-rerun`: the `pipework` CLI's main job, one
//! process per key, against GNU parallel doing the same per-key call.
//!
//! `cli-per-key`: N rows `{"id": i, "text": "row i"}`, N keys, each row
//! piped to one `/bin/cat` at 4 jobs: `pipework map SRC DST --key id
//! --jobs 4 -- /bin/cat` against `parallel --pipe -N1 -j4 --joblog LOG
//! /bin/cat` (one record on each command's stdin, a job log to resume
//! from: the closest GNU parallel has to the main job). The figure is keys
//! a second, mostly process starts: it is the per-key overhead a user pays
//! on top of the call itself.
//!
//! `cli-rerun`: the same command over a DST that already holds every row,
//! so the run checks DST and starts nothing (what a user pays to find a
//! finished job finished).
//!
//! Both need the `pipework` binary beside this one (`cargo build --release
//! -p pipework-cli`); GNU parallel's system needs `parallel` on PATH
//! (`apt-get install parallel`). A missing one gives that system an error
//! line saying so.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, ensure, Context};

use crate::measure::{Job, Measurement};
use crate::scenario::{Runner, Scenario, System};

/// How many commands run at once, in every system.
const JOBS: &str = "4";

pub(crate) const SCENARIO: Scenario = Scenario {
    name: "cli-per-key",
    work: "pipework map over N keys, one /bin/cat per key at 4 jobs, against GNU parallel --pipe -N1 --joblog",
    sizes: &[3_000],
    quick_sizes: &[100],
    ideal_seconds: None,
    check: id_sum,
    input: Some(write_rows),
    systems: &[
        System {
            name: "pipework",
            runner: Runner::Rust(pipework_fresh),
        },
        System {
            name: "gnu-parallel",
            runner: Runner::Rust(parallel_fresh),
        },
    ],
};

pub(crate) const RERUN: Scenario = Scenario {
    name: "cli-rerun",
    work: "pipework map rerun over a complete DST of N rows: check DST, start nothing",
    sizes: &[100_000, 1_000_000],
    quick_sizes: &[1_000],
    ideal_seconds: None,
    check: id_sum,
    input: Some(write_complete),
    systems: &[System {
        name: "pipework",
        runner: Runner::Rust(pipework_rerun),
    }],
};

/// The sum of the ids 0..rows: what every system's output must add up to.
fn id_sum(rows: u64) -> u64 {
    rows * rows.saturating_sub(1) / 2
}

fn write_rows(rows: u64, src: &Path) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(src)?);
    for i in 0..rows {
        writeln!(out, r#"{{"id": {i}, "text": "row {i}"}}"#)?;
    }
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()
}

/// SRC, and beside it the DST a complete run of `/bin/cat` leaves: each
/// row is its own answer.
fn write_complete(rows: u64, src: &Path) -> io::Result<()> {
    write_rows(rows, src)?;
    let mut dst = BufWriter::new(File::create(dst_of(src))?);
    for i in 0..rows {
        writeln!(dst, r#"{{"id":{i},"text":"row {i}"}}"#)?;
    }
    dst.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()
}

fn dst_of(src: &Path) -> PathBuf {
    let mut name = src.as_os_str().to_owned();
    name.push(".dst");
    PathBuf::from(name)
}

/// The `pipework` binary built beside this one.
fn pipework_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("finding this binary")?;
    let binary = me.with_file_name("pipework");
    ensure!(
        binary.is_file(),
        "no {} (build it first: cargo build --release -p pipework-cli)",
        binary.display()
    );
    Ok(binary)
}

/// Runs `pipework map SRC DST --key id --jobs 4 -- /bin/cat`, timed.
fn run_map(src: &Path, dst: &Path) -> anyhow::Result<f64> {
    let binary = pipework_binary()?;
    let start = Instant::now();
    let output = Command::new(&binary)
        .args(["map"])
        .arg(src)
        .arg(dst)
        .args(["--key", "id", "--jobs", JOBS, "--", "/bin/cat"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    let seconds = start.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "pipework map failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(seconds)
}

/// The count and the id sum of a JSONL file's rows.
fn count_ids(path: &Path) -> anyhow::Result<(u64, u64)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (mut rows, mut sum) = (0u64, 0u64);
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let row: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}: {line:?}", path.display()))?;
        rows += 1;
        sum += row["id"].as_u64().context("a row without its id")?;
    }
    Ok((rows, sum))
}

fn pipework_fresh(job: &Job) -> anyhow::Result<Measurement> {
    let src = job.input()?;
    let dst = dst_of(src);
    // A fresh run each time: the parent may run a system several times.
    let _ = std::fs::remove_file(&dst);
    let seconds = run_map(src, &dst)?;
    let (items, check) = count_ids(&dst)?;
    Ok(Measurement {
        items,
        check,
        seconds,
        bytes: None,
    })
}

fn pipework_rerun(job: &Job) -> anyhow::Result<Measurement> {
    let src = job.input()?;
    let dst = dst_of(src);
    let before = std::fs::metadata(&dst)?.len();
    let seconds = run_map(src, &dst)?;
    ensure!(
        std::fs::metadata(&dst)?.len() == before,
        "a complete rerun changed DST"
    );
    let (items, check) = count_ids(&dst)?;
    Ok(Measurement {
        items,
        check,
        seconds,
        bytes: Some(before),
    })
}

fn parallel_fresh(job: &Job) -> anyhow::Result<Measurement> {
    let src = job.input()?;
    let out = dst_of(src);
    let mut log = out.as_os_str().to_owned();
    log.push(".joblog");
    let log = PathBuf::from(log);
    let _ = std::fs::remove_file(&log);
    let start = Instant::now();
    let status = Command::new("parallel")
        .args(["--will-cite", "--pipe", "-N1", "-j", JOBS, "--joblog"])
        .arg(&log)
        .arg("/bin/cat")
        .stdin(File::open(src)?)
        .stdout(File::create(&out)?)
        .stderr(Stdio::null())
        .status()
        .context("running GNU parallel (apt-get install parallel)")?;
    let seconds = start.elapsed().as_secs_f64();
    ensure!(status.success(), "GNU parallel failed ({status})");
    let (items, check) = count_ids(&out)?;
    Ok(Measurement {
        items,
        check,
        seconds,
        bytes: None,
    })
}
