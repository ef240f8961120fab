//! The engine behind `map_by_key` and `flatmap_by_key`.
//!
//! One async loop owns all the state; three kinds of event drive it: a batch
//! of source rows from the reader thread, a finished call, and the appender
//! acknowledging a write. Rows wait in `pending`, in source order, until their
//! key's result is known; the head of `pending` goes to the appender as soon
//! as it can. A new key's call starts only while fewer than `concurrency` keys
//! are started-but-not-yet-written, so a crash loses at most `concurrency`
//! calls.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use super::at_risk::AtRisk;
use super::error::{BoxError, Error};
use super::lock::DstLock;
use super::options::{Common, MapOptions};
use super::picked::Columns;
use super::report::Report;
use super::resume::Resumed;
use super::source::{spawn_reader, SrcRow};
use super::write::{Base, DoneLog, Item, Writer};
use super::Row;
use crate::panic_message::panic_message;
use crate::stream::task_set::{self, TaskSet};

/// What differs between a map and a flatmap.
pub(crate) trait Shape {
    /// A successful result of `f`.
    type Out: Send + Sync + 'static;
    /// A result as it is kept until the rows that need it are written.
    type Kept: Send + Sync + 'static;
    /// Keys must be unique in the source.
    const UNIQUE_KEYS: bool;
    /// Checks that a result does not change the key column.
    fn check(out: &Self::Out, key: &Value, column: &str) -> Result<(), Error>;
    /// Prepares a result (of this run or found in the destination) for writing.
    fn keep(out: Self::Out, columns: &Columns) -> Self::Kept;
    /// The output of one source row.
    fn item(base: Base, key: &Value, kept: &Arc<Self::Kept>) -> Item;
    /// How many lines [`item`](Self::item) writes.
    fn lines(kept: &Self::Kept) -> u64;
}

/// A finished call as the task set gives it back, tagged with its key.
type Joined<O> = task_set::Joined<(usize, Value), Result<O, BoxError>>;

/// Where a key's result stands in this run.
enum Slot<K> {
    NotStarted,
    Running,
    Ready(Arc<K>),
    Failed,
    /// Keys are unique and the key's row is written: its result is dropped,
    /// or results would pile up for the whole run.
    Written,
}

struct KeyState<K> {
    /// Occurrences seen in the source so far.
    seen: u64,
    /// Rows of this key already in the destination.
    resumed: u64,
    first_line: u64,
    slot: Slot<K>,
}

struct Pending<K> {
    id: usize,
    key: Value,
    base: Base,
    /// The key's result, if it was known when the row was placed.
    ready: Option<Arc<K>>,
    /// The first row of a key computed in this run: writing it makes the key safe.
    first: bool,
}

/// Whether an error under `Raise` lets the running calls finish before the
/// run ends with it: an error about one row or key. Anything else (I/O, a
/// panicking callback, a cancelled runtime) ends the run at once.
fn winds_down(error: &Error) -> bool {
    error.is_bad_input() || error.key().is_some()
}

/// Runs the loop. `resumed` is what the destination already holds; `lock` is
/// this run's hold on it, kept until the writer has closed it.
pub(crate) async fn run<S, F, Fut, E>(
    src: &Path,
    dst: &Path,
    f: F,
    opts: &MapOptions,
    resumed: HashMap<Value, Resumed<S::Out>>,
    log: Option<DoneLog>,
    lock: DstLock,
) -> Result<Report, Error>
where
    S: Shape,
    F: FnMut(Row) -> Fut,
    Fut: Future<Output = Result<S::Out, E>> + Send + 'static,
    E: Into<BoxError>,
{
    let columns = Columns::new(&opts.key, &opts.keep_columns);
    let (rows, reader) = spawn_reader(src.to_path_buf(), Arc::clone(&columns), S::UNIQUE_KEYS);
    let mut engine = Engine::<S, F> {
        src: src.to_path_buf(),
        columns,
        concurrency: opts.concurrency,
        read_ahead: opts.read_ahead_rows(),
        common: opts.common.clone(),
        f,
        keys: Vec::new(),
        resumed,
        inbox: VecDeque::new(),
        pending: VecDeque::new(),
        calls: opts.common.calls(opts.concurrency),
        writer: Writer::spawn(dst, log, &opts.common, lock),
        dst: dst.to_path_buf(),
        at_risk: AtRisk::default(),
        report: Report::default(),
    };
    let result = engine.run(rows, reader).await;
    engine.calls.abort_all();
    // Whatever happened, the rows handed to the appender are written and
    // synced before returning; its own error comes first.
    let Engine { writer, .. } = engine;
    writer.finish(dst).await?;
    result
}

struct Engine<S: Shape, F> {
    src: PathBuf,
    /// The key column, then the kept columns (without repeats).
    columns: Arc<Columns>,
    concurrency: usize,
    read_ahead: usize,
    common: Common,
    f: F,
    /// Every key seen in the source, by its number (see `SrcRow::id`).
    keys: Vec<KeyState<S::Kept>>,
    /// What the destination holds, by key, until the key shows up in the source.
    resumed: HashMap<Value, Resumed<S::Out>>,
    /// Source rows received but not yet placed.
    inbox: VecDeque<Result<SrcRow, Error>>,
    /// Source rows waiting for their key's result, in source order.
    pending: VecDeque<Pending<S::Kept>>,
    calls: TaskSet<(usize, Value), Result<S::Out, BoxError>>,
    writer: Writer,
    dst: PathBuf,
    /// Keys started in this run whose first row is not yet written.
    at_risk: AtRisk,
    report: Report,
}

impl<S, F, Fut, E> Engine<S, F>
where
    S: Shape,
    F: FnMut(Row) -> Fut,
    Fut: Future<Output = Result<S::Out, E>> + Send + 'static,
    E: Into<BoxError>,
{
    /// The loop. Each turn first makes every move that needs no waiting
    /// ([`settle`](Self::settle)), then either ends the run or waits for one
    /// of the events that can change its state: a call finishing, the writer
    /// acknowledging a batch, a batch of source rows, or the stop token. A
    /// turn in which none of the first three can happen ends the run: with
    /// its report if all work is done, or with [`Error::Stalled`] (a bug in
    /// this loop) rather than a wait that nothing can end.
    async fn run(
        &mut self,
        mut rows: mpsc::Receiver<Vec<Result<SrcRow, Error>>>,
        mut reader: tokio::task::JoinHandle<()>,
    ) -> Result<Report, Error> {
        let mut eof = false;
        let common = self.common.clone();
        // A bad row or a failed key under `Raise` ends the run, but only
        // once the calls already running have finished and every row whose
        // result is known is written: those calls are paid for. (The failed
        // key's rows are left out, as under `Skip`; a rerun retries it.)
        let mut raised = None;
        loop {
            self.settle(&mut raised).await?;
            let winding_down = self.report.stopped || raised.is_some();
            let can_read = !eof
                && !winding_down
                && self.inbox.is_empty()
                && self.pending.len() < self.read_ahead;
            let idle = self.calls.is_empty() && self.pending.is_empty();
            if idle && (winding_down || (eof && self.inbox.is_empty())) {
                return match raised {
                    Some(error) => Err(error),
                    None => Ok(self.report.clone()),
                };
            }
            let acks_due = self.at_risk.is_waiting();
            if self.calls.is_empty() && !acks_due && !can_read {
                return Err(self.stalled(eof));
            }
            tokio::select! {
                biased;
                () = common.stopped(), if !self.report.stopped => {
                    self.report.stopped = true;
                    self.inbox.clear();
                }
                Some(joined) = self.calls.join_next(), if !self.calls.is_empty() => {
                    let mut finished = self.finish_call(joined);
                    // Take every other call that has finished too, so their
                    // rows go to the writer in one batch.
                    while finished.is_ok() {
                        let Some(joined) = self.calls.try_join_next() else {
                            break;
                        };
                        finished = self.finish_call(joined);
                    }
                    match finished {
                        Ok(()) => {}
                        // The first error is the one returned.
                        Err(error) if winds_down(&error) => {
                            if raised.is_none() {
                                raised = Some(error);
                                self.inbox.clear();
                            }
                        }
                        Err(error) => return Err(error),
                    }
                }
                written = self.writer.written(), if acks_due => match written {
                    Ok(()) => self.at_risk.acked(self.writer.acked()),
                    // The writer failed; `finish` returns its error.
                    Err(_) => return Err(self.writer_stopped()),
                },
                batch = rows.recv(), if can_read => match batch {
                    Some(batch) => self.inbox.extend(batch),
                    None => {
                        eof = true;
                        (&mut reader).await.map_err(|e| Error::io(
                            "reading",
                            &self.src,
                            std::io::Error::other(format!("the reader thread failed: {e}")),
                        ))?;
                    }
                },
                else => return Err(self.stalled(eof)),
            }
        }
    }

    /// Places rows and hands rows to the writer until neither moves: writing
    /// a failed key's rows frees a call slot, and placing a row whose result
    /// is known lets it be written.
    async fn settle(&mut self, raised: &mut Option<Error>) -> Result<(), Error> {
        loop {
            let mut moved = false;
            if !self.report.stopped && raised.is_none() {
                match self.place() {
                    Ok(placed) => moved |= placed,
                    Err(error) if winds_down(&error) => {
                        *raised = Some(error);
                        self.inbox.clear();
                    }
                    Err(error) => return Err(error),
                }
            }
            moved |= self.write_head().await?;
            if !moved {
                return Ok(());
            }
        }
    }

    /// The error for a state in which the loop could wait for nothing.
    fn stalled(&self, eof: bool) -> Error {
        Error::Stalled {
            state: format!(
                "{} rows received and not placed, {} rows waiting for a result, \
                 {} calls running, {} keys unwritten, source at its end: {eof}",
                self.inbox.len(),
                self.pending.len(),
                usize::from(!self.calls.is_empty()),
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

    /// Places rows from the inbox until one has to wait for a free call slot;
    /// true if it placed (or skipped) any.
    fn place(&mut self) -> Result<bool, Error> {
        let mut placed = false;
        while let Some(item) = self.inbox.pop_front() {
            let row = match item {
                Ok(row) => row,
                Err(e) if e.is_bad_input() => {
                    placed = true;
                    self.common.skip_or_raise(e)?;
                    self.report.rows_invalid += 1;
                    self.common.progress(&self.report)?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Some(row) = self.place_row(row)? {
                self.inbox.push_front(Ok(row));
                return Ok(placed);
            }
            placed = true;
        }
        Ok(placed)
    }

    /// Places one row; gives it back if its key needs a call and none may start.
    fn place_row(&mut self, src: SrcRow) -> Result<Option<SrcRow>, Error> {
        let has_room = self.at_risk.unwritten() < self.concurrency && self.calls.has_room();
        while self.keys.len() <= src.id {
            let resumed = self.resumed.remove(&src.key);
            self.keys.push(KeyState {
                seen: 0,
                resumed: resumed.as_ref().map_or(0, |r| r.rows),
                first_line: 0,
                slot: match resumed.and_then(|r| r.result) {
                    Some(out) => Slot::Ready(Arc::new(S::keep(out, &self.columns))),
                    None => Slot::NotStarted,
                },
            });
        }
        let id = src.id;
        let state = &mut self.keys[id];
        if S::UNIQUE_KEYS && state.seen > 0 {
            let error = Error::DuplicateKey {
                path: self.src.clone(),
                line: src.line,
                key: src.key,
                first_line: state.first_line,
            };
            self.common.skip_or_raise(error)?;
            self.report.rows_invalid += 1;
            self.common.progress(&self.report)?;
            return Ok(None);
        }
        if matches!(state.slot, Slot::NotStarted) && state.seen >= state.resumed && !has_room {
            return Ok(Some(src));
        }
        state.seen += 1;
        if state.seen == 1 {
            state.first_line = src.line;
        }
        if state.seen <= state.resumed {
            if state.seen == 1 {
                self.report.keys_reused += 1;
            }
            self.report.rows_resumed += 1;
            self.common.progress(&self.report)?;
            return Ok(None);
        }
        let SrcRow {
            key,
            picked: base,
            row,
            ..
        } = src;
        let first = matches!(state.slot, Slot::NotStarted);
        let ready = match &state.slot {
            Slot::Ready(out) => Some(Arc::clone(out)),
            _ => None,
        };
        if first {
            state.slot = Slot::Running;
            self.at_risk.start();
            let f = &mut self.f;
            // The reader parses in full the first row of every key (every row
            // of a flatmap), which is always the row that starts a call; the
            // picked columns are only a fallback.
            let row = row.unwrap_or_else(|| base.to_row());
            match catch_unwind(AssertUnwindSafe(|| f(row))) {
                Ok(call) => {
                    self.calls.start(
                        (id, key.clone()),
                        async move { call.await.map_err(Into::into) },
                    )
                }
                Err(payload) => {
                    let message = panic_message(payload.as_ref());
                    self.pending.push_back(Pending {
                        id,
                        key: key.clone(),
                        base,
                        ready: None,
                        first,
                    });
                    self.fail(id, Error::CallPanicked { key, message })?;
                    return Ok(None);
                }
            }
        }
        self.pending.push_back(Pending {
            id,
            key,
            base,
            ready,
            first,
        });
        Ok(None)
    }

    fn finish_call(&mut self, joined: Joined<S::Out>) -> Result<(), Error> {
        let ((id, key), outcome) = joined.map_err(|_| Error::Cancelled)?;
        let result = match outcome {
            Ok(Ok(out)) => S::check(&out, &key, self.columns.key()).map(|()| out),
            Ok(Err(cause)) => Err(Error::Call {
                key: key.clone(),
                cause,
            }),
            Err(message) => Err(Error::CallPanicked {
                key: key.clone(),
                message,
            }),
        };
        match result {
            Ok(out) => {
                self.report.keys_computed += 1;
                if let Some(state) = self.keys.get_mut(id) {
                    state.slot = Slot::Ready(Arc::new(S::keep(out, &self.columns)));
                }
                Ok(())
            }
            Err(error) => self.fail(id, error),
        }
    }

    /// Marks a key failed; under `Raise`, returns the error.
    fn fail(&mut self, id: usize, error: Error) -> Result<(), Error> {
        if let Some(state) = self.keys.get_mut(id) {
            state.slot = Slot::Failed;
        }
        self.report.keys_failed += 1;
        self.common.skip_or_raise(error)
    }

    /// Sends every row at the head of `pending` whose result is known; true
    /// if it took any row off `pending`.
    async fn write_head(&mut self) -> Result<bool, Error> {
        let before = self.pending.len();
        let mut batch = Vec::new();
        let mut made_safe = 0;
        while let Some(front) = self.pending.front() {
            let slot = self.keys.get(front.id).map(|state| &state.slot);
            let (slot, failed) = match (&front.ready, slot) {
                (Some(out), _) => (Some(out), false),
                (None, Some(Slot::Ready(out))) => (Some(out), false),
                (None, Some(Slot::Failed)) => (None, true),
                (None, _) => (None, false),
            };
            match (slot, failed) {
                (Some(out), _) => {
                    let out = Arc::clone(out);
                    let Some(row) = self.pending.pop_front() else {
                        break;
                    };
                    if row.first {
                        made_safe += 1;
                    }
                    if S::UNIQUE_KEYS {
                        if let Some(state) = self.keys.get_mut(row.id) {
                            state.slot = Slot::Written;
                        }
                    }
                    self.report.rows_written += 1;
                    self.report.lines_written += S::lines(&out);
                    batch.push(S::item(row.base, &row.key, &out));
                }
                (None, true) => {
                    let Some(row) = self.pending.pop_front() else {
                        break;
                    };
                    if row.first {
                        self.at_risk.drop_one();
                    }
                    self.report.rows_failed += 1;
                }
                (None, false) => break,
            }
            self.common.progress(&self.report)?;
        }
        let moved = self.pending.len() < before;
        if batch.is_empty() {
            return Ok(moved);
        }
        match self.writer.send(batch).await {
            Some(seq) => {
                self.at_risk.sent(seq, made_safe);
                Ok(moved)
            }
            // The appender stopped on an error, which `finish` returns.
            None => Err(self.writer_stopped()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A result that counts how many of its kind are alive.
    struct Counted(Arc<AtomicUsize>);

    impl Counted {
        fn new(live: &Arc<AtomicUsize>) -> Counted {
            live.fetch_add(1, Ordering::SeqCst);
            Counted(Arc::clone(live))
        }
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// A flatmap-like shape (unique keys) whose results write nothing.
    struct Unique;

    impl Shape for Unique {
        type Out = Counted;
        type Kept = Counted;
        const UNIQUE_KEYS: bool = true;

        fn check(_: &Counted, _: &Value, _: &str) -> Result<(), Error> {
            Ok(())
        }

        fn keep(out: Counted, _: &Columns) -> Counted {
            out
        }

        fn item(base: Base, key: &Value, _: &Arc<Counted>) -> Item {
            Item::Group {
                base,
                key: key.clone(),
                rows: Arc::new(Vec::new()),
            }
        }

        fn lines(_: &Counted) -> u64 {
            0
        }
    }

    /// With unique keys a result is needed for one row only: once that row
    /// is written it must be dropped, or memory grows with the whole output.
    #[tokio::test]
    async fn results_of_unique_keys_are_dropped_once_written() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
        let text: String = (0..5000).map(|k| format!("{{\"key\": {k}}}\n")).collect();
        std::fs::write(&src, text).unwrap();
        let live = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (watch, seen) = (Arc::clone(&live), Arc::clone(&most));
        let opts = MapOptions::new("key").concurrency(4).progress(move |_| {
            seen.fetch_max(watch.load(Ordering::SeqCst), Ordering::SeqCst);
        });
        let make = Arc::clone(&live);
        let f = move |_row: Row| {
            let out = Counted::new(&make);
            async move { Ok::<_, Error>(out) }
        };
        let log = DoneLog {
            path: dir.path().join("out.jsonl.done"),
            dst_len: 0,
        };
        let lock = DstLock::acquire(&dst).unwrap();
        let report = run::<Unique, _, _, _>(&src, &dst, f, &opts, HashMap::new(), Some(log), lock)
            .await
            .unwrap();
        assert_eq!(report.rows_written, 5000);
        let most = most.load(Ordering::SeqCst);
        // At most the keys started but not written, plus those in flight to
        // the writer: far fewer than the 5000 keys.
        assert!(most <= 4 + 64, "{most} results were alive at once");
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }
}
