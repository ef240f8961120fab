//! The one loop under `map_by_key`, `flatmap_by_key` and `create_or_resume`:
//! admit work, wind down on the first error, wait for acknowledgements.
//!
//! What the loop owns ([`Run`]): the running calls, the writer, the count of
//! unwritten work and the report. What differs per function (a [`Work`]):
//! how work is admitted (source rows matched with keys' results, or rows to
//! generate), what a finished call turns into, and what waits for writing.
//!
//! Each turn first makes every move that needs no waiting (admitting and
//! writing until neither moves: writing a failed key's rows frees a call
//! slot, admitting a row whose result is known lets it be written). Then it
//! ends the run, or waits for one of the events that can change its state:
//! a call finishing, the writer acknowledging a batch, a batch of input, or
//! the stop token. A turn in which none of the first three can happen ends
//! the run: with its report when all work is done, or with
//! [`Error::Stalled`] (a bug) rather than a wait that nothing can end.
//!
//! An error about one row or key under `Raise` winds the run down: nothing
//! more is admitted, the calls already running finish (they are paid for)
//! and every row whose result is known is written, then the first such error
//! is returned. Any other error (I/O, a panicking callback, a cancelled
//! runtime) ends the run at once.

use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use super::at_risk::AtRisk;
use super::error::{Error, Failed};
use super::lock::DstLock;
use super::options::Common;
use super::report::Report;
use super::write::{DoneLog, Item, Writer};
use crate::stream::task_set::{Joined, TaskSet};

/// What the loop owns: calls tagged `K` returning `T`, and the writer.
#[derive(Debug)]
pub(crate) struct Run<K, T> {
    pub(crate) common: Common,
    pub(crate) calls: TaskSet<K, T>,
    /// Work started in this run and not yet written.
    pub(crate) at_risk: AtRisk,
    pub(crate) report: Report,
    writer: Writer,
    dst: PathBuf,
}

/// One function's part of the loop.
///
/// The tag and output of its calls are associated types rather than
/// parameters: a trait reference that names a `Box<dyn Error + 'static>`
/// makes rustc unable to prove the driving future `Send` (its lifetimes are
/// erased in the future's witness types).
pub(crate) trait Work {
    /// What a call is tagged with.
    type Tag: Send + 'static;
    /// What a call returns.
    type Out: Send + 'static;
    /// What the input channel carries, if the work has one.
    type Batch;

    /// Starts the calls that may start and queues what can be written;
    /// true if anything moved.
    fn admit(&mut self, run: &mut Run<Self::Tag, Self::Out>) -> Result<bool, Error>;

    /// Takes the items that can be written now (with how many units of work
    /// they make safe), leaving the rest. `None` if nothing moved; an empty
    /// batch if something moved with nothing to write (a failed key's rows,
    /// which frees its call slot).
    fn ready(
        &mut self,
        run: &mut Run<Self::Tag, Self::Out>,
    ) -> Result<Option<(Vec<Item>, usize)>, Error>;

    /// Takes in a finished call.
    fn finished(
        &mut self,
        run: &mut Run<Self::Tag, Self::Out>,
        joined: Joined<Self::Tag, Self::Out>,
    ) -> Result<(), Error>;

    /// Drops whatever input was received but not yet admitted (the run is
    /// winding down or stopped).
    fn wind_down(&mut self);

    /// True if nothing waits to be written.
    fn is_idle(&self) -> bool;

    /// True if every piece of input has been taken in and admitted.
    fn input_done(&self) -> bool;

    /// True if the work has room for another batch of input.
    fn wants_input(&self) -> bool;

    /// Learns where keys' first rows start in the destination, once they
    /// are written: (key number, byte offset) pairs of items that asked
    /// (see [`Item::Merged`]). Work that asks for none ignores this.
    fn first_rows_written(&mut self, _rows: Vec<(usize, u64)>) {}

    /// Takes a batch of input, or its end (`None`).
    fn take(&mut self, batch: Option<Self::Batch>);

    /// What the work holds, for [`Error::Stalled`].
    fn state(&self) -> String;
}

/// Whether an error under `Raise` lets the running calls finish before the
/// run ends with it: an error about one row or key.
fn winds_down(error: &Error) -> bool {
    error.is_bad_input() || error.key().is_some()
}

impl<K, T> Run<K, T>
where
    K: Send + 'static,
    T: Send + 'static,
{
    /// Starts the writer of `dst` (which keeps `lock` until it has closed
    /// it) and a set of at most `limit` calls.
    pub(crate) fn new(
        dst: &Path,
        log: Option<DoneLog>,
        common: &Common,
        lock: DstLock,
        limit: usize,
        report: Report,
    ) -> Self {
        Run {
            common: common.clone(),
            calls: common.calls(limit),
            at_risk: AtRisk::default(),
            report,
            writer: Writer::spawn(dst, log, common, lock),
            dst: dst.to_path_buf(),
        }
    }

    /// Drives `work` to its end, then has every row handed to the writer
    /// written and synced; the writer's own error comes first, and an error
    /// comes with the report so far.
    pub(crate) async fn drive<W: Work<Tag = K, Out = T>>(
        mut self,
        work: &mut W,
        input: Option<mpsc::Receiver<W::Batch>>,
    ) -> Result<Report, Failed> {
        let result = self.turns(work, input).await;
        let Run {
            mut calls,
            writer,
            dst,
            report,
            ..
        } = self;
        calls.abort_all();
        let written = writer.finish(&dst).await;
        match written.and(result) {
            Ok(report) => Ok(report),
            Err(error) => Err(Failed { error, report }),
        }
    }

    async fn turns<W: Work<Tag = K, Out = T>>(
        &mut self,
        work: &mut W,
        mut input: Option<mpsc::Receiver<W::Batch>>,
    ) -> Result<Report, Error> {
        let common = self.common.clone();
        let mut raised: Option<Error> = None;
        loop {
            self.settle(work, &mut raised).await?;
            let winding_down = self.report.stopped || raised.is_some();
            let can_read = input.is_some() && !winding_down && work.wants_input();
            if self.calls.is_empty() && work.is_idle() && (winding_down || work.input_done()) {
                return match raised {
                    Some(error) => Err(error),
                    None => Ok(self.report.clone()),
                };
            }
            let acks_due = self.at_risk.is_waiting();
            if self.calls.is_empty() && !acks_due && !can_read {
                return Err(self.stalled(work));
            }
            let next_batch = async {
                match input.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = common.stopped(), if !self.report.stopped => {
                    self.report.stopped = true;
                    work.wind_down();
                }
                Some(joined) = self.calls.join_next(), if !self.calls.is_empty() => {
                    let mut finished = work.finished(self, joined);
                    // Take every other call that has finished too, so their
                    // rows go to the writer in one batch.
                    while finished.is_ok() {
                        let Some(joined) = self.calls.try_join_next() else {
                            break;
                        };
                        finished = work.finished(self, joined);
                    }
                    match finished {
                        Ok(()) => {}
                        // The first error is the one returned.
                        Err(error) if winds_down(&error) => {
                            if raised.is_none() {
                                raised = Some(error);
                                work.wind_down();
                            }
                        }
                        Err(error) => return Err(error),
                    }
                }
                written = self.writer.written(), if acks_due => match written {
                    Ok(()) => {
                        self.at_risk.acked(self.writer.acked());
                        work.first_rows_written(self.writer.first_rows());
                    }
                    // The writer failed; `finish` returns its error.
                    Err(_) => return Err(self.writer_stopped()),
                },
                batch = next_batch, if can_read => {
                    if batch.is_none() {
                        input = None;
                    }
                    work.take(batch);
                }
                else => return Err(self.stalled(work)),
            }
        }
    }

    /// Admits and writes until neither moves.
    async fn settle<W: Work<Tag = K, Out = T>>(
        &mut self,
        work: &mut W,
        raised: &mut Option<Error>,
    ) -> Result<(), Error> {
        loop {
            let mut moved = false;
            if !self.report.stopped && raised.is_none() {
                match work.admit(self) {
                    Ok(admitted) => moved |= admitted,
                    Err(error) if winds_down(&error) => {
                        *raised = Some(error);
                        work.wind_down();
                    }
                    Err(error) => return Err(error),
                }
            }
            if let Some((batch, units)) = work.ready(self)? {
                moved = true;
                if !batch.is_empty() {
                    let seq = self
                        .writer
                        .send(batch)
                        .await
                        .ok_or_else(|| self.writer_stopped())?;
                    self.at_risk.sent(seq, units);
                }
            }
            if !moved {
                return Ok(());
            }
        }
    }

    fn stalled<W: Work<Tag = K, Out = T>>(&self, work: &W) -> Error {
        Error::Stalled {
            state: format!(
                "{}, {} calls running, {} units of work unwritten",
                work.state(),
                self.calls.len(),
                self.at_risk.unwritten(),
            ),
        }
    }

    /// The error that ends the loop when the writer has stopped; the writer's
    /// own error, returned by `finish`, takes its place.
    fn writer_stopped(&self) -> Error {
        Error::io(
            "appending to",
            &self.dst,
            std::io::Error::other("the writer stopped"),
        )
    }
}
