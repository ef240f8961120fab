//! `DST.failed`: every key that failed in the last run, one JSON object a
//! line: the key (and the row index, for `generate`), how many attempts it
//! had, the last error, its exit status or signal, the tail of its stderr,
//! and when (RFC 3339, UTC):
//!
//! ```text
//! {"key":"b7","attempts":3,"error":"the command failed (exit status: 22)","exit":22,"stderr":"curl: (22) 503","at":"2026-12-07T09:14:03Z"}
//! ```
//!
//! The log describes the last run that failed keys. It is created at a
//! run's first failure (when the run already holds DST's lock, so a run
//! refused because another holds DST never touches that one's log),
//! replacing the previous run's; synced when the run ends; and removed when
//! a run completes DST, when there is nothing left to say.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use pipework::internal::lock;
use serde_json::{json, Value};

use crate::process::CommandError;

/// The failure log of one run.
#[derive(Debug)]
pub(crate) struct FailureLog {
    path: PathBuf,
    /// Opened (truncated) at the first failure.
    file: Mutex<Option<File>>,
    /// Lines written.
    lines: Mutex<u64>,
}

/// The failure log's path for `dst`.
pub(crate) fn failure_log_path(dst: &Path) -> PathBuf {
    let mut name = dst.as_os_str().to_owned();
    name.push(".failed");
    PathBuf::from(name)
}

impl FailureLog {
    /// The log beside `dst`; nothing is touched until the first failure.
    pub(crate) fn new(dst: &Path) -> FailureLog {
        FailureLog {
            path: failure_log_path(dst),
            file: Mutex::new(None),
            lines: Mutex::new(0),
        }
    }

    /// Where the log is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Records that the call for `request` (its key column `key`, and the
    /// `index` of a generated row) failed for good after `attempts`. A log
    /// that cannot be written is reported once, and the run goes on: the
    /// failure is still counted and the rows are still right.
    pub(crate) fn record(&self, request: &Value, key: &str, attempts: u32, error: &CommandError) {
        let mut line = json!({
            "key": request.get(key).cloned().unwrap_or(Value::Null),
            "attempts": attempts,
            "error": error.to_string(),
            "at": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        });
        if let Some(index) = request.get("index") {
            line["index"] = index.clone();
        }
        match error {
            CommandError::Exit { status, stderr } => {
                if let Some(code) = status.code() {
                    line["exit"] = code.into();
                }
                if let Some(signal) = status.signal() {
                    line["signal"] = signal.into();
                }
                line["stderr"] = stderr.as_str().into();
            }
            CommandError::Timeout { stderr, .. } | CommandError::Output { stderr, .. } => {
                line["stderr"] = stderr.as_str().into();
            }
            _ => {}
        }
        let mut text = line.to_string();
        text.push('\n');
        let mut file = lock(&self.file);
        if file.is_none() {
            *file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&self.path)
                .ok();
        }
        if let Some(open) = file.as_mut() {
            if open.write_all(text.as_bytes()).is_ok() {
                *lock(&self.lines) += 1;
            }
        }
    }

    /// Ends the log with the run: syncs it if this run failed keys, and
    /// removes it if the run `completed` DST. Returns the lines this run
    /// wrote, for the closing message.
    pub(crate) fn finish(&self, completed: bool) -> u64 {
        if let Some(file) = lock(&self.file).take() {
            // Durable like DST, whose end is synced too.
            let _ = file.sync_all();
        }
        if completed {
            // Every key is done: no failure is left to tell. Missing is fine.
            let _ = std::fs::remove_file(&self.path);
        }
        *lock(&self.lines)
    }
}

#[cfg(test)]
mod tests {
    use std::process::ExitStatus;

    use super::*;

    #[test]
    fn a_run_with_failures_replaces_the_log_and_a_complete_one_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        std::fs::write(failure_log_path(&dst), "{\"key\":\"old\"}\n").unwrap();
        let log = FailureLog::new(&dst);
        let failed = CommandError::Exit {
            status: ExitStatus::from_raw(22 << 8),
            stderr: "curl: (22) 503".to_owned(),
        };
        log.record(&json!({"id": "k1"}), "id", 3, &failed);
        log.record(
            &json!({"topic": "t", "index": 2}),
            "topic",
            1,
            &CommandError::Killed,
        );
        assert_eq!(log.finish(false), 2);
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "the old run's line is gone: {text}");
        assert_eq!(lines[0]["key"], "k1");
        assert_eq!(lines[0]["attempts"], 3);
        assert_eq!(lines[0]["exit"], 22);
        assert_eq!(lines[0]["stderr"], "curl: (22) 503");
        assert!(lines[0]["at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(
            (&lines[1]["key"], &lines[1]["index"]),
            (&json!("t"), &json!(2))
        );

        let stopped = FailureLog::new(&dst);
        assert_eq!(stopped.finish(false), 0);
        assert!(
            log.path().exists(),
            "an incomplete run without failures leaves it"
        );
        let complete = FailureLog::new(&dst);
        assert_eq!(complete.finish(true), 0);
        assert!(!log.path().exists(), "a run that completes DST removes it");
    }
}
