//! What every subcommand shares: CMD, interrupts, progress, options, and
//! turning the outcome into messages and an exit code.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use pipework::jsonl::{Changed, CreateOptions, Error, Failed, MapOptions, OnError, Report, Row};
use tokio_util::sync::CancellationToken;

use crate::args::{OnErrorArg, RunArgs};
use crate::budget::Budget;
use crate::call::Calls;
use crate::exit::Rewritten;
use crate::failure_log::FailureLog;
use crate::interrupt::{Interrupt, Signal};
use crate::process::{CommandError, Output, Runner};
use crate::progress::Progress;
use crate::rate::Limiter;
use crate::retry::RetryPolicy;
use crate::source::{Source, SpoolName, Stopped};

/// One call of CMD, as the library awaits it (boxed: a process start costs
/// far more than the allocation).
pub(crate) type Call<T> = Pin<Box<dyn Future<Output = Result<T, CommandError>> + Send>>;

/// How a run ended, for the exit code (decided in `main`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every row is written.
    Complete,
    /// Some keys failed, or rows were invalid, under `--on-error skip`.
    Incomplete,
    /// Stopped by this signal (Ctrl-C, SIGTERM, SIGHUP); a rerun resumes.
    Interrupted(Signal),
}

/// One run of a subcommand.
#[derive(Debug)]
pub(crate) struct Session {
    calls: Arc<Calls>,
    progress: Arc<Progress>,
    interrupt: Interrupt,
    jobs: usize,
    on_error: OnError,
    /// The destination.
    dst: PathBuf,
    /// Set once SRC was spooled: messages name SRC, not the spool.
    spooled: Arc<OnceLock<SpoolName>>,
}

impl Session {
    /// Resolves CMD (a missing command is an error before any work), then
    /// listens for interrupts and shows progress for writing `dst`; the rows
    /// to do come from [`Session::read_src`] or [`Session::total`].
    ///
    /// `key` is the key column, which the failure log names.
    pub(crate) async fn start(run: &RunArgs, dst: &Path, key: &str) -> anyhow::Result<Session> {
        let kill = CancellationToken::new();
        let runner = Runner::new(&run.cmd, run.timeout, kill.clone())?;
        let progress = Arc::new(Progress::start());
        let interrupt = Interrupt::listen(kill, {
            let progress = progress.clone();
            move |message| progress.note(message)
        });
        // Cancelled by the first signal (its parent) or by a spent failure
        // budget: the library starts nothing new, calls retry nothing.
        let stop = interrupt.stop.child_token();
        let calls = Arc::new(Calls {
            runner,
            rate: run.rate.map(Limiter::new),
            retry: RetryPolicy {
                retries: run.retries,
                delay: run.retry_delay,
            },
            budget: Budget::new(run.max_failures, stop.clone()),
            failures: FailureLog::new(dst),
            key: key.to_owned(),
            stop,
            retried: progress.retried(),
        });
        let jobs = match run.jobs {
            Some(jobs) => jobs as usize,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        };
        let on_error = match run.on_error {
            OnErrorArg::Raise => OnError::Raise,
            OnErrorArg::Skip => OnError::Skip,
        };
        Ok(Session {
            calls,
            progress,
            interrupt,
            jobs,
            on_error,
            dst: dst.to_path_buf(),
            spooled: Arc::default(),
        })
    }

    /// Sets the rows to do.
    pub(crate) fn total(&self, rows: u64) {
        self.progress.total(rows);
    }

    /// Reads SRC once (see [`Source`]), counting its rows for the progress
    /// total. `Err` holds how the run ended if a signal came first.
    pub(crate) async fn read_src(&self, src: &Path) -> anyhow::Result<Result<Source, Outcome>> {
        match Source::open(src, &self.dst, &self.progress, &self.interrupt.stop).await {
            Ok(source) => {
                self.progress.total(source.rows);
                if let Some(naming) = source.naming(src) {
                    let _ = self.spooled.set(naming);
                }
                Ok(Ok(source))
            }
            Err(Stopped::Failed(error)) => Err(error),
            Err(Stopped::Interrupted) => {
                self.progress.finish(None);
                self.progress.note(&format!(
                    "interrupted while reading SRC; nothing was written to {}",
                    self.dst.display()
                ));
                Ok(Err(Outcome::Interrupted(self.interrupted())))
            }
        }
    }

    /// A call of CMD per request row (its JSON on stdin), its output read
    /// by `reply`: the function the library calls per key or row.
    pub(crate) fn call<T>(
        &self,
        reply: fn(Output) -> Result<T, CommandError>,
    ) -> impl Fn(Row) -> Call<T> + Clone + Send + 'static
    where
        T: Send + 'static,
    {
        let calls = Arc::clone(&self.calls);
        move |request: Row| Box::pin(Arc::clone(&calls).call(request, reply))
    }

    /// Options for `map_by_key` / `flatmap_by_key`.
    pub(crate) fn map_options(&self, key: &str, keep: &[String]) -> MapOptions {
        let (progress, skips) = (self.progress.clone(), self.progress.clone());
        let spooled = Arc::clone(&self.spooled);
        MapOptions::new(key)
            .keep_columns(keep.iter().cloned())
            .concurrency(self.jobs)
            .on_error(self.on_error)
            .on_skip(move |error| {
                skips.note(&shown(&spooled, &format!("{}: {error}", label(error))))
            })
            .progress(move |report| progress.update(report))
            .stop_token(self.calls.stop.clone())
            // Every call starts a process before its first `.await`: start
            // them on the runtime's workers, not one at a time on the task
            // that orders and writes rows.
            .spawn_every_call()
    }

    /// Options for `create_or_resume`.
    pub(crate) fn create_options(&self) -> CreateOptions {
        let (progress, skips) = (self.progress.clone(), self.progress.clone());
        let spooled = Arc::clone(&self.spooled);
        CreateOptions::default()
            .limit(self.jobs)
            .on_error(self.on_error)
            .on_skip(move |error| skips.note(&shown(&spooled, &format!("skipped: {error}"))))
            .progress(move |report| progress.update(report))
            .stop_token(self.calls.stop.clone())
            // Every call starts a process before its first `.await`: start
            // them on the runtime's workers, not one at a time on the task
            // that orders and writes rows.
            .spawn_every_call()
    }

    /// Waits until no command of the run is left (the calls the library
    /// dropped when it stopped end their groups in the background), then
    /// prints the summary and what to do next, and says how the run ended.
    pub(crate) async fn finish(self, result: Result<Report, Failed>) -> anyhow::Result<Outcome> {
        let spooled = Arc::clone(&self.spooled);
        self.ended(result).await.map_err(|error| {
            if spooled.get().is_none() {
                return error;
            }
            anyhow::Error::new(Rewritten::new(&error, |text| shown(&spooled, text)))
        })
    }

    async fn ended(self, result: Result<Report, Failed>) -> anyhow::Result<Outcome> {
        self.calls.runner.shutdown().await;
        let completed = result.as_ref().is_ok_and(Report::is_complete);
        let logged = self.calls.failures.finish(completed);
        if logged > 0 {
            // Printed with the summary below, before the verdict.
            self.progress.footer(format!(
                "{logged} failed key{} listed in {}",
                if logged == 1 { " is" } else { "s are" },
                self.calls.failures.path().display()
            ));
        }
        let dst = self.dst.as_path();
        let report = match result {
            Ok(report) => report,
            Err(Failed { error, report, .. }) if self.interrupt.happened().is_some() => {
                // A command killed by the second interrupt fails its key;
                // that is the interruption, not a problem to fix.
                let signal = self.interrupted();
                self.progress.finish(Some(&report));
                self.progress.note(&format!(
                    "interrupted ({error}); {} is consistent: rerun the same command to resume",
                    dst.display()
                ));
                return Ok(Outcome::Interrupted(signal));
            }
            Err(Failed { error, report, .. }) => {
                self.progress.finish(Some(&report));
                if let Some(hint) = resume_hint(&error) {
                    anyhow::bail!("nothing was written to {}: {error}; {hint}", dst.display());
                }
                // Errors before the first row (a bad option, a bad first
                // line, a destination in use) leave it as it was.
                if report.lines_written == 0 {
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
        if report.stopped && self.interrupt.happened().is_none() {
            if let Some(why) = self.calls.budget.spent() {
                self.progress.note(&format!(
                    "{why}; {} is consistent: rerun the same command to retry the failed keys and do the rest",
                    dst.display()
                ));
                return Ok(Outcome::Incomplete);
            }
        }
        if report.stopped {
            self.progress.note(&format!(
                "interrupted; {} is consistent: rerun the same command to resume",
                dst.display()
            ));
            return Ok(Outcome::Interrupted(self.interrupted()));
        }
        if !report.is_complete() {
            self.progress.note(&incomplete(&report));
            return Ok(Outcome::Incomplete);
        }
        Ok(Outcome::Complete)
    }
}

impl Session {
    /// The signal that stopped the run (Ctrl-C if the library stopped for
    /// its stop token without one, which only a signal cancels).
    fn interrupted(&self) -> Signal {
        self.interrupt.happened().unwrap_or(Signal::Interrupt)
    }
}

/// `text` naming SRC where it named the spool that holds it.
fn shown(spooled: &OnceLock<SpoolName>, text: &str) -> String {
    match spooled.get() {
        Some(naming) => naming.show(text),
        None => text.to_owned(),
    }
}

/// How a note from the library is labelled: a notice about how the run
/// resumes is not a skipped row.
fn label(error: &Error) -> &'static str {
    match error {
        Error::NoManifest { .. } | Error::NewCallAccepted { .. } => "note",
        Error::CallVersionChanged { .. } => "warning",
        _ => "skipped",
    }
}

/// What the user can do about an error of the checks a resume makes before
/// writing anything.
fn resume_hint(error: &Error) -> Option<&'static str> {
    Some(match error {
        Error::Changed { what: Changed::KeyColumn | Changed::Operation, .. } => {
            "DST's answers belong to the old keys: write to a new DST"
        }
        Error::Changed { what: Changed::KeptColumns, .. } => {
            "rerun with the old --keep columns, or add --reconcile to rewrite DST with the new ones (every answer is reused)"
        }
        Error::Changed { what: Changed::Call, .. } => {
            "add --accept-new-command to keep the old answers and let the new command answer the keys not answered yet, or write to a new DST to answer every key anew"
        }
        Error::SrcChanged { .. } => {
            "add --reconcile to rewrite DST for SRC as it is now (every answer DST holds is reused; rows no longer in SRC are dropped)"
        }
        Error::UnmatchedRow { .. } => {
            "add --reconcile to rewrite DST for SRC as it is now, dropping such rows (every other answer is reused)"
        }
        _ => return None,
    })
}

/// What is missing from an incomplete run and what a rerun does about it:
/// it retries failed keys, and skips invalid rows again. (Fixing an invalid
/// row in place changes SRC: the rerun then needs `--reconcile`.)
fn incomplete(report: &Report) -> String {
    let (keys, rows, lines) = (
        report.keys_failed,
        report.rows_invalid,
        report.dst_lines_invalid,
    );
    let mut parts = Vec::new();
    if keys > 0 {
        parts.push(format!(
            "{keys} key{} failed; rerun the same command to retry {}",
            if keys == 1 { "" } else { "s" },
            if keys == 1 { "it" } else { "them" }
        ));
    }
    if rows > 0 || (keys == 0 && lines == 0) {
        parts.push(format!(
            "{rows} invalid source row{} left out (see above; after fixing {} in SRC, rerun with --reconcile)",
            if rows == 1 { " was" } else { "s were" },
            if rows == 1 { "it" } else { "them" }
        ));
    }
    if lines > 0 {
        parts.push(format!(
            "{lines} line{} of DST could not be read and {} skipped (see above): fix or remove {}",
            if lines == 1 { "" } else { "s" },
            if lines == 1 { "was" } else { "were" },
            if lines == 1 { "it" } else { "them" }
        ));
    }
    parts.join("; ")
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
            "1 invalid source row was left out (see above; after fixing it in SRC, rerun with --reconcile)"
        );
        assert_eq!(
            incomplete(&report(2, 4)),
            "2 keys failed; rerun the same command to retry them; \
             4 invalid source rows were left out (see above; after fixing them in SRC, rerun with --reconcile)"
        );
    }
}
