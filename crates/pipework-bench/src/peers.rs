//! The Python peers: the libraries pipework ports, run from a venv that
//! `peers/setup.sh` creates with pinned versions (paipa 0.3.3, abstractions
//! 0.9.0, asyncio-buffered-pipeline 0.0.8, bytewax 0.21.1).
//!
//! Each peer is one script in `peers/` that does the scenario's work, times
//! it with `time.perf_counter`, and prints the same measurement line as the
//! Rust children. The venv lives at `crates/pipework-bench/.venv` (found
//! through the crate's source directory, so the harness is meant to be run
//! from its checkout with `cargo run`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The crate's source directory.
fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's Python, ready to use: runs `peers/setup.sh` first when the
/// venv is missing.
///
/// # Errors
///
/// A message for the peer lines' `error` field when there is no usable venv.
pub(crate) fn python() -> Result<PathBuf, String> {
    let python = crate_dir().join(".venv").join("bin").join("python");
    if python.exists() {
        return Ok(python);
    }
    let setup = crate_dir().join("peers").join("setup.sh");
    eprintln!(
        "pipework-bench: creating the Python venv with {}",
        setup.display()
    );
    let status = Command::new("bash")
        .arg(&setup)
        .stdin(Stdio::null())
        // Keep stdout for the JSON lines: pip's chatter goes to stderr.
        .stdout(Stdio::null())
        .status()
        .map_err(|err| format!("cannot run {}: {err}", setup.display()))?;
    if !status.success() {
        eprintln!(
            "pipework-bench: {} ended with {status}; peers whose package is missing will report an error",
            setup.display()
        );
    }
    if python.exists() {
        Ok(python)
    } else {
        Err(format!(
            "no Python venv: {} failed ({status})",
            setup.display()
        ))
    }
}

/// The command that runs a peer script on `items` items.
pub(crate) fn command(python: &Path, script: &str, items: u64, input: Option<&Path>) -> Command {
    let mut command = Command::new(python);
    command
        .arg(crate_dir().join("peers").join(script))
        .arg(items.to_string());
    if let Some(input) = input {
        command.arg(input);
    }
    command
}

/// The command that runs a peer script on `items` items against the
/// `pipework` package: `peers/as_pipework.py` points the library's module
/// names at `pipework.*`, then runs the script unchanged.
pub(crate) fn on_pipework(
    python: &Path,
    script: &str,
    items: u64,
    input: Option<&Path>,
) -> Command {
    let mut command = Command::new(python);
    let peers = crate_dir().join("peers");
    command
        .arg(peers.join("as_pipework.py"))
        .arg(peers.join(script))
        .arg(items.to_string());
    if let Some(input) = input {
        command.arg(input);
    }
    command
}
