//! What every subcommand shares: CMD, Ctrl-C, progress, options, and turning
//! the outcome into messages and an exit code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use pipework::jsonl::{CreateOptions, Error, MapOptions, OnError, Report};

use crate::args::{OnErrorArg, RunArgs};
use crate::interrupt::Interrupt;
use crate::process::Runner;
use crate::progress::Progress;

/// Exit code: every row written.
const OK: u8 = 0;
/// Exit code: some keys failed (or rows were invalid) under `--on-error skip`.
const SOME_FAILED: u8 = 1;
/// Exit code: interrupted by Ctrl-C (128 + SIGINT).
const INTERRUPTED: u8 = 130;

/// One run of a subcommand.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) runner: Runner,
    progress: Arc<Progress>,
    interrupt: Interrupt,
    jobs: usize,
    on_error: OnError,
    /// The destination, and its length before the run (0 if missing).
    dst: PathBuf,
    dst_len: u64,
}

impl Session {
    /// Checks CMD (a missing one is an error before any work), then starts
    /// listening for Ctrl-C and shows progress for `total` rows written to `dst`.
    pub(crate) fn start(run: &RunArgs, total: u64, dst: &Path) -> anyhow::Result<Session> {
        let progress = Arc::new(Progress::start(total));
        let interrupt = Interrupt::listen({
            let progress = progress.clone();
            move |message| progress.note(message)
        });
        let runner = Runner::new(&run.cmd, run.timeout, interrupt.kill.clone())?;
        let jobs = match run.jobs {
            Some(jobs) => jobs as usize,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        };
        let on_error = match run.on_error {
            OnErrorArg::Raise => OnError::Raise,
            OnErrorArg::Skip => OnError::Skip,
        };
        Ok(Session {
            runner,
            progress,
            interrupt,
            jobs,
            on_error,
            dst: dst.to_path_buf(),
            dst_len: file_len(dst),
        })
    }

    /// Options for `map_by_key` / `flatmap_by_key`.
    pub(crate) fn map_options(&self, key: &str, keep: &[String]) -> MapOptions {
        let (progress, skips) = (self.progress.clone(), self.progress.clone());
        MapOptions::new(key)
            .keep_columns(keep.iter().cloned())
            .concurrency(self.jobs)
            .on_error(self.on_error)
            .on_skip(move |error| skips.note(&format!("skipped: {error}")))
            .progress(move |report| progress.update(report))
            .stop_token(self.interrupt.stop.clone())
            // Every call starts a process before its first `.await`: start
            // them on the runtime's workers, not one at a time on the task
            // that orders and writes rows.
            .spawn_every_call()
    }

    /// Options for `create_or_resume`.
    pub(crate) fn create_options(&self) -> CreateOptions {
        let (progress, skips) = (self.progress.clone(), self.progress.clone());
        CreateOptions::default()
            .limit(self.jobs)
            .on_error(self.on_error)
            .on_skip(move |error| skips.note(&format!("skipped: {error}")))
            .progress(move |report| progress.update(report))
            .stop_token(self.interrupt.stop.clone())
            // Every call starts a process before its first `.await`: start
            // them on the runtime's workers, not one at a time on the task
            // that orders and writes rows.
            .spawn_every_call()
    }

    /// Prints the summary and what to do next, and picks the exit code.
    pub(crate) fn finish(self, result: Result<Report, Error>) -> anyhow::Result<ExitCode> {
        let dst = self.dst.as_path();
        let report = match result {
            Ok(report) => report,
            Err(error) if self.interrupt.happened() => {
                // A command killed by the second Ctrl-C fails its key; that is
                // the interruption, not a problem to fix.
                self.progress.finish(None);
                self.progress.note(&format!(
                    "interrupted ({error}); {} is consistent: rerun the same command to resume",
                    dst.display()
                ));
                return Ok(ExitCode::from(INTERRUPTED));
            }
            Err(error) => {
                self.progress.finish(None);
                // Errors before the first row (a bad option, a bad first
                // line, a destination that cannot be opened) leave it as it
                // was, at most created empty.
                if file_len(dst) == self.dst_len {
                    return Err(error)
                        .with_context(|| format!("nothing was written to {}", dst.display()));
                }
                return Err(error).with_context(|| {
                    format!(
                        "stopped while writing {}; the rows written so far are kept: fix the problem and rerun the same command to resume",
                        dst.display()
                    )
                });
            }
        };
        self.progress.finish(Some(&report));
        if report.stopped {
            self.progress.note(&format!(
                "interrupted; {} is consistent: rerun the same command to resume",
                dst.display()
            ));
            return Ok(ExitCode::from(INTERRUPTED));
        }
        if !report.is_complete() {
            self.progress.note(&incomplete(&report));
            return Ok(ExitCode::from(SOME_FAILED));
        }
        Ok(ExitCode::from(OK))
    }
}

/// What is missing from an incomplete run and what a rerun does about it:
/// it retries failed keys, and skips invalid rows again. (Fixing an invalid
/// row in place and rerunning into the same destination is not safe: resume
/// counts each key's rows already written, and a row that was skipped
/// before would shift that count.)
fn incomplete(report: &Report) -> String {
    let (keys, rows) = (report.keys_failed, report.rows_invalid);
    let failed = format!(
        "{keys} key{} failed; rerun the same command to retry {}",
        if keys == 1 { "" } else { "s" },
        if keys == 1 { "it" } else { "them" }
    );
    let invalid = format!(
        "{rows} invalid source row{} left out (see above)",
        if rows == 1 { " was" } else { "s were" }
    );
    match (keys > 0, rows > 0) {
        (true, false) => failed,
        (false, _) => invalid,
        (true, true) => format!("{failed}; {invalid}"),
    }
}

/// The length of a file; 0 if it cannot be read (a missing file).
fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |meta| meta.len())
}

/// Counts the lines of a file (for the progress total), off the async threads.
pub(crate) async fn count_lines(path: &Path) -> anyhow::Result<u64> {
    let owned = path.to_path_buf();
    let counted = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        use std::io::Read;
        let mut file = std::fs::File::open(&owned)?;
        let mut buf = vec![0u8; 64 * 1024];
        let (mut lines, mut last) = (0u64, b'\n');
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            last = buf[n - 1];
        }
        Ok(lines + u64::from(last != b'\n'))
    })
    .await
    .context("counting lines")?;
    counted.with_context(|| format!("reading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(keys_failed: u64, rows_invalid: u64) -> Report {
        let mut report = Report::default();
        report.keys_failed = keys_failed;
        report.rows_invalid = rows_invalid;
        report
    }

    #[test]
    fn an_incomplete_run_says_what_a_rerun_will_and_will_not_do() {
        assert_eq!(
            incomplete(&report(1, 0)),
            "1 key failed; rerun the same command to retry it"
        );
        assert_eq!(
            incomplete(&report(3, 0)),
            "3 keys failed; rerun the same command to retry them"
        );
        assert_eq!(
            incomplete(&report(0, 1)),
            "1 invalid source row was left out (see above)"
        );
        assert_eq!(
            incomplete(&report(2, 4)),
            "2 keys failed; rerun the same command to retry them; \
             4 invalid source rows were left out (see above)"
        );
    }
}
