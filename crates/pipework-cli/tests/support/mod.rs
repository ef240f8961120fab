//! The harness of the CLI tests: a scratch directory, test commands written
//! as POSIX sh scripts, and running the real `pipework` binary in it.

pub(crate) mod http;
pub(crate) mod killed_reruns;
pub(crate) mod processes;
pub(crate) mod running;
pub(crate) mod scripts;
pub(crate) mod small_disk;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use running::{Running, PATIENCE};

use serde_json::Value;

/// A scratch directory in which `pipework` runs.
pub(crate) struct Env {
    dir: tempfile::TempDir,
}

impl Drop for Env {
    /// Nothing a test started outlives it, whether it passed or not.
    fn drop(&mut self) {
        processes::kill_all(self.dir.path());
    }
}

/// The outcome of one `pipework` run.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stderr: String,
}

impl Env {
    pub(crate) fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
        }
    }

    /// The scratch directory.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the scratch directory.
    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }

    /// Writes rows as JSONL.
    pub(crate) fn write_rows(&self, name: &str, rows: &[Value]) -> PathBuf {
        let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
        self.write(name, &text)
    }

    /// Writes an executable sh script.
    pub(crate) fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.write(name, &format!("#!/bin/sh\n{body}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        path
    }

    /// A `pipework` command in the scratch directory.
    pub(crate) fn pipework(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pipework"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("CALLS", self.path("calls.log"));
        command
    }

    /// Runs `pipework` to the end (failing the test if it hangs).
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        let (status, stderr) = self.start(args).finish();
        Run {
            code: status.code(),
            stderr,
        }
    }

    /// Runs a `pipework` command made with [`Env::pipework`] (and, say, its
    /// stdin set) to the end, failing the test if it hangs.
    pub(crate) fn run_command(&self, command: Command) -> Run {
        let (status, stderr) = Running::start(command).finish();
        Run {
            code: status.code(),
            stderr,
        }
    }

    /// Starts `pipework` in the background.
    pub(crate) fn start(&self, args: &[&str]) -> Running {
        Running::start(self.pipework(args))
    }

    /// Runs `pipework SUBCOMMAND in.jsonl out.jsonl --key id OPTIONS... -- CMD...`
    /// (`map` or `flatmap`), the shape of most tests.
    pub(crate) fn run_by_id(&self, subcommand: &str, options: &[&str], cmd: &[&str]) -> Run {
        self.run(&by_id(subcommand, options, cmd))
    }

    /// Starts the run [`Env::run_by_id`] would make, in the background.
    pub(crate) fn start_by_id(&self, subcommand: &str, options: &[&str], cmd: &[&str]) -> Running {
        self.start(&by_id(subcommand, options, cmd))
    }

    /// The rows of a JSONL file in the scratch directory (none if missing).
    pub(crate) fn rows(&self, name: &str) -> Vec<Value> {
        rows(&self.path(name))
    }

    /// Waits until the test commands have started `n` times in all (each
    /// appends its line to `calls.log` first thing); fails the test after
    /// [`PATIENCE`]. A command starting is the sign that a run is under way,
    /// its Ctrl-C handler in place.
    pub(crate) fn wait_for_calls(&self, n: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.calls().len() < n {
            assert!(
                Instant::now() < deadline,
                "{} of {n} commands started within {PATIENCE:?}",
                self.calls().len()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The processes running in the scratch directory now (a run's own, and
    /// every command tree it started).
    pub(crate) fn processes(&self) -> Vec<processes::Found> {
        processes::working_in(self.dir.path())
    }

    /// Asserts that no process started in the scratch directory is left,
    /// allowing `within` for those on their way out.
    #[track_caller]
    pub(crate) fn assert_nothing_left(&self, within: Duration) {
        let left = processes::wait_until_gone(self.dir.path(), within);
        assert!(left.is_empty(), "processes left running: {left:#?}");
    }

    /// How many times the test commands ran (each appends a line to `calls.log`).
    pub(crate) fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// `SUBCOMMAND in.jsonl out.jsonl --key id OPTIONS... -- CMD...`.
pub(crate) fn by_id<'a>(subcommand: &'a str, options: &[&'a str], cmd: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![subcommand, "in.jsonl", "out.jsonl", "--key", "id"];
    args.extend_from_slice(options);
    args.push("--");
    args.extend_from_slice(cmd);
    args
}

/// The rows of a JSONL file; panics on a bad line.
pub(crate) fn rows(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {l:?}: {e}", path.display()))
        })
        .collect()
}

/// Asserts an exit code, showing stderr when it differs.
#[track_caller]
pub(crate) fn assert_code(run: &Run, code: i32) {
    assert_eq!(run.code, Some(code), "stderr:\n{}", run.stderr);
}

/// Asserts that stderr says `text`, showing stderr when it does not.
#[track_caller]
pub(crate) fn assert_stderr(run: &Run, text: &str) {
    assert!(
        run.stderr.contains(text),
        "stderr lacks {text:?}:\n{}",
        run.stderr
    );
}
