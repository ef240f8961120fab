//! Runs a dataflow three ways (one worker, two threads, two processes on
//! 127.0.0.1) and collects what it wrote.
//!
//! For two processes, the test binary runs itself twice as children: each
//! child runs only the `#[ignore]`d entry test named by the caller, which
//! reads the flow name, output directory and cluster layout from the
//! environment (`PIPEWORK_PROCESS_ID`, `PIPEWORK_ADDRESSES`, the variables
//! every dataflow binary reads).

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Environment variable naming the flow a child runs.
pub(crate) const FLOW_VAR: &str = "PIPEWORK_TEST_FLOW";
/// Environment variable naming the child's output directory.
pub(crate) const OUT_VAR: &str = "PIPEWORK_TEST_OUT";

/// `n` addresses on 127.0.0.1 with ports that were free a moment ago.
pub(crate) fn free_addresses(n: usize) -> String {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(";")
}

/// The sorted lines of every file in `dir`.
pub(crate) fn sorted_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            lines.extend(
                std::fs::read_to_string(&path)
                    .unwrap()
                    .lines()
                    .map(str::to_owned),
            );
        }
    }
    lines.sort();
    lines
}

/// What one child process did.
#[derive(Debug)]
pub(crate) struct ChildOutcome {
    pub(crate) status: Option<ExitStatus>,
    pub(crate) stderr: String,
}

impl ChildOutcome {
    pub(crate) fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

/// Starts `processes` children of `program` with `args`, each with the
/// cluster variables and `envs`; waits for all of them, killing any still
/// running after `timeout` (its status is then `None`).
pub(crate) fn run_processes(
    program: &Path,
    args: &[&str],
    envs: &[(&str, String)],
    processes: usize,
    workers_per_process: usize,
    timeout: Duration,
) -> Vec<ChildOutcome> {
    let addresses = free_addresses(processes);
    let children = spawn_processes(program, args, envs, &addresses, workers_per_process);
    wait_all(children, timeout)
}

pub(crate) fn spawn_processes(
    program: &Path,
    args: &[&str],
    envs: &[(&str, String)],
    addresses: &str,
    workers_per_process: usize,
) -> Vec<std::process::Child> {
    let processes = addresses.split(';').count();
    (0..processes)
        .map(|id| {
            let mut command = Command::new(program);
            command
                .args(args)
                .env("PIPEWORK_PROCESS_ID", id.to_string())
                .env("PIPEWORK_ADDRESSES", addresses)
                .env(
                    "PIPEWORK_WORKERS_PER_PROCESS",
                    workers_per_process.to_string(),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            for (key, value) in envs {
                command.env(key, value);
            }
            command.spawn().unwrap()
        })
        .collect()
}

/// Waits for every child, each on its own thread; kills those still running
/// after `timeout`.
pub(crate) fn wait_all(children: Vec<std::process::Child>, timeout: Duration) -> Vec<ChildOutcome> {
    let (done_tx, done_rx) = mpsc::channel();
    let mut pids = Vec::new();
    for (index, child) in children.into_iter().enumerate() {
        pids.push(child.id());
        let done_tx = done_tx.clone();
        std::thread::spawn(move || {
            let output = child.wait_with_output().unwrap();
            // The receiver waits for all children; it is gone only if the test already failed.
            let _ = done_tx.send((index, output));
        });
    }
    drop(done_tx);
    let mut outcomes: Vec<Option<ChildOutcome>> = pids.iter().map(|_| None).collect();
    let deadline = std::time::Instant::now() + timeout;
    while outcomes.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match done_rx.recv_timeout(left) {
            Ok((index, output)) => {
                outcomes[index] = Some(ChildOutcome {
                    status: Some(output.status),
                    stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
                });
            }
            Err(_) => {
                for (index, pid) in pids.iter().enumerate() {
                    if outcomes[index].is_none() {
                        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                        outcomes[index] = Some(ChildOutcome {
                            status: None,
                            stderr: "killed after the timeout".into(),
                        });
                    }
                }
            }
        }
    }
    outcomes.into_iter().map(Option::unwrap).collect()
}

/// Runs the `#[ignore]`d test `entry` of this test binary in two processes,
/// running flow `flow` with output to a new directory, and returns the
/// sorted lines written there.
pub(crate) fn run_flow_in_two_processes(entry: &str, flow: &str, out: &Path) -> Vec<String> {
    let me = std::env::current_exe().unwrap();
    let outcomes = run_processes(
        &me,
        &["--ignored", "--exact", entry, "--nocapture"],
        &[
            (FLOW_VAR, flow.to_owned()),
            (OUT_VAR, out.display().to_string()),
        ],
        2,
        1,
        Duration::from_secs(60),
    );
    for outcome in &outcomes {
        assert!(outcome.succeeded(), "a child failed: {outcome:?}");
    }
    sorted_lines(out)
}

/// A fresh empty directory under `root`.
pub(crate) fn subdir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
