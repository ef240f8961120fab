//! The first line a run prints on stdout, `{"meta":{...}}`: where and how
//! the figures after it were measured, so that a report made from the
//! lines later (`pipework-bench report`) can say so.
//!
//! ```text
//! {"meta":{"cores":2,"cpu":"AMD EPYC 7B13","kernel":"6.1.0-18-amd64",
//!  "date":"2026-12-08T00:09:02Z","commit":"045f4fb",
//!  "command":"pipework-bench --peers --runs 3","runs":3}}
//! ```
//!
//! Every field is read from the machine at start-up; what cannot be read
//! says `unknown` rather than guessing.

use std::io::{self, Write};
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// What the report header says for a field a run could not read (or a
/// run file without a meta line).
pub(crate) const UNKNOWN: &str = "unknown";

/// The machine and the invocation behind a run's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Meta {
    /// CPUs this process may run on (`available_parallelism`).
    pub(crate) cores: Option<u64>,
    /// The first `model name` of `/proc/cpuinfo`.
    pub(crate) cpu: String,
    /// The running kernel's release (`/proc/sys/kernel/osrelease`, as
    /// `uname -r` prints it).
    pub(crate) kernel: String,
    /// When the run started, RFC 3339 in UTC.
    pub(crate) date: String,
    /// `git rev-parse --short HEAD` in the directory the run started in.
    pub(crate) commit: String,
    /// The harness's own command line, its arguments joined by spaces.
    pub(crate) command: String,
    /// Runs per (scenario, system, size) (`--runs`).
    pub(crate) runs: u64,
}

/// The line as printed: the meta object under one `meta` key, so that no
/// reader takes it for a scenario's line.
#[derive(Debug, Serialize)]
struct MetaLine<'a> {
    meta: &'a Meta,
}

/// The key of the meta line's one field.
pub(crate) const KEY: &str = "meta";

impl Meta {
    /// Reads the machine now, for a run started with `args` (the whole
    /// argv) doing `runs` runs per line.
    pub(crate) fn collect(args: &[std::ffi::OsString], runs: usize) -> Meta {
        Meta {
            cores: std::thread::available_parallelism()
                .ok()
                .map(|n| n.get() as u64),
            cpu: std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|text| cpu_model(&text))
                .unwrap_or_else(|| UNKNOWN.to_owned()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|text| text.trim().to_owned())
                .ok()
                .filter(|release| !release.is_empty())
                .unwrap_or_else(|| UNKNOWN.to_owned()),
            date: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            commit: git_commit(Path::new(".")).unwrap_or_else(|| UNKNOWN.to_owned()),
            command: args
                .iter()
                .map(|arg| arg.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            runs: runs as u64,
        }
    }
}

impl Meta {
    /// Writes the meta line to stdout and flushes, as `Line::print` does
    /// for the lines after it.
    ///
    /// # Errors
    ///
    /// When stdout cannot be written.
    pub(crate) fn print(&self) -> io::Result<()> {
        let mut out = io::stdout().lock();
        serde_json::to_writer(&mut out, &MetaLine { meta: self })?;
        out.write_all(b"\n")?;
        out.flush()
    }
}

/// The value of the first `model name` line of a `/proc/cpuinfo` text.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim() == "model name")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|model| !model.is_empty())
}

/// The short commit checked out at `dir`, when git can tell.
fn git_commit(dir: &Path) -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(dir)
        .output()
        .ok()?;
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !commit.is_empty()).then_some(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_model_is_the_first_model_name() {
        // Test data in the shape of /proc/cpuinfo.
        let cpuinfo =
            "processor\t: 0\nvendor_id\t: Example\nmodel name\t: Example CPU 9000 @ 3.00GHz\n\n\
                       processor\t: 1\nmodel name\t: Other CPU\n";
        assert_eq!(
            cpu_model(cpuinfo).as_deref(),
            Some("Example CPU 9000 @ 3.00GHz")
        );
        assert_eq!(cpu_model("processor\t: 0\n"), None);
    }

    #[test]
    fn a_directory_outside_git_has_no_commit() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(git_commit(dir.path()), None);
    }
}
