//! Finding what a test's runs left running: every process whose working
//! directory is the test's scratch directory. `pipework` runs there and
//! every command (and whatever it starts) inherits it, so this sees a whole
//! command tree without knowing its pids.

use std::path::Path;
use std::time::{Duration, Instant};

/// A process found in a scratch directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) pid: u32,
    pub(crate) cmdline: String,
}

/// Every live process whose working directory is `dir` (zombies, which have
/// none, are not counted: they are exited, waiting to be reaped).
pub(crate) fn working_in(dir: &Path) -> Vec<Found> {
    let Ok(dir) = dir.canonicalize() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // Gone meanwhile, or not ours to read: not a leftover of this test.
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        if cwd != dir {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline"))
            .map(|raw| {
                String::from_utf8_lossy(&raw)
                    .replace('\0', " ")
                    .trim()
                    .to_owned()
            })
            .unwrap_or_default();
        found.push(Found { pid, cmdline });
    }
    found
}

/// Waits up to `within` for every process in `dir` to be gone; returns those
/// still there at the deadline.
pub(crate) fn wait_until_gone(dir: &Path, within: Duration) -> Vec<Found> {
    let deadline = Instant::now() + within;
    loop {
        let left = working_in(dir);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGKILLs every process in `dir`: the cleanup of a test that failed, or of
/// what a test knowingly left (a `kill -9`ed run's grandchildren).
pub(crate) fn kill_all(dir: &Path) {
    for Found { pid, .. } in working_in(dir) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    }
}
