//! The engine behind `map_by_key` and `flatmap_by_key`.
//!
//! Source rows come in batches from the reader thread and wait in
//! `pending`, in source order, until their key's result is known; the head
//! of `pending` goes to the appender as soon as it can. A new key's call
//! starts only while fewer than `concurrency` keys are started-but-not-yet-
//! written, so a crash loses at most `concurrency` calls. The loop that
//! drives it is [`run_loop`](super::run_loop), shared with `create_or_resume`.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tokio::task::JoinHandle;

use super::error::{BoxError, Error, Failed};
use super::lock::DstLock;
use super::options::MapOptions;
use super::picked::Columns;
use super::replaced::ReplacedColumns;
use super::report::Report;
use super::resume::{Resumed, Stored};
use super::row_match::Matched;
use super::run_loop::{Run, Work};
use super::source::{spawn_reader, SrcRow};
use super::stored::StoredRows;
use super::write::{Base, DoneLog, Item};
use super::Row;
use crate::internal::panic_message;
use crate::stream::task_set;

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
    /// Prepares a result (of this run or read back from the destination) for writing.
    fn keep(out: Self::Out, columns: &Columns) -> Self::Kept;
    /// The result a destination row holds, its key and kept columns removed.
    fn stored(row: Row) -> Self::Out;
    /// The output of one source row; `first_of` is the key's number if the
    /// row is the first of a key computed in this run and the writer should
    /// say where it starts (see [`Item::Merged`]).
    fn item(base: Base, key: &Value, kept: &Arc<Self::Kept>, first_of: Option<usize>) -> Item;
    /// Bytes a kept result holds, as the result cache counts them.
    fn size(kept: &Self::Kept) -> usize;
    /// The kept columns (indices in [`Columns::names`]) whose value the
    /// result replaces: a result read back from the destination keeps those.
    fn replaced(kept: &Self::Kept) -> Box<[usize]>;
    /// Whether a written result is kept for later rows of its key: in the
    /// cache, and read back from the key's first row once dropped from it.
    const REUSES_RESULTS: bool;
    /// How many lines [`item`](Self::item) writes.
    fn lines(kept: &Self::Kept) -> u64;
}

/// A finished call as the task set gives it back, tagged with its key.
type Joined<O> = task_set::Joined<(usize, Value), Result<O, BoxError>>;
/// The loop's part of a run: calls tagged with their key.
type KeyRun<O> = Run<(usize, Value), Result<O, BoxError>>;

/// Where a key's result stands in this run.
enum Slot<K> {
    NotStarted,
    /// The destination holds it, in the row starting at this byte: read
    /// back when a row needs it, so that a resume holds no results and a
    /// fresh run only those in its cache.
    Stored(u64),
    /// Reconciling: the old destination holds it, in the row starting at
    /// this byte (see [`OldAnswers`]).
    Old(u64),
    Running,
    Ready(Arc<K>),
    Failed,
    /// Keys are unique and the key's row is written: its result is dropped,
    /// or results would pile up for the whole run.
    Written,
}

impl<K> Slot<K> {
    /// Where the result is stored, and whether in the old destination.
    fn clone_at(&self) -> Option<(u64, bool)> {
        match self {
            Slot::Stored(at) => Some((*at, false)),
            Slot::Old(at) => Some((*at, true)),
            _ => None,
        }
    }
}

struct KeyState<K> {
    /// Occurrences seen in the source so far.
    seen: u64,
    /// Rows of this key already in the destination.
    resumed: u64,
    first_line: u64,
    slot: Slot<K>,
}

impl<K> KeyState<K> {
    fn new(stored: Stored) -> KeyState<K> {
        KeyState {
            seen: 0,
            resumed: stored.rows,
            first_line: 0,
            slot: stored.at.map_or(Slot::NotStarted, Slot::Stored),
        }
    }
}

/// Results of keys whose first row is written, kept in memory for the
/// key's later rows up to a bound in bytes; the oldest go first, back to
/// [`Slot::Stored`], and are read back (and cached again) if a row needs them.
/// A bound in bytes, not in keys: a source whose keys repeat every 100k rows
/// needs 100k results at hand, which a count chosen for long results would miss.
struct Cache {
    bound: usize,
    bytes: usize,
    /// Oldest first.
    order: VecDeque<Cached>,
}

struct Cached {
    id: usize,
    at: u64,
    /// Read from the old destination, when reconciling.
    old: bool,
    size: usize,
}

/// Reconciling: the destination being replaced, where the answers of the
/// keys it holds are read from, with the columns it was made with.
pub(crate) struct OldAnswers {
    pub(crate) stored: StoredRows,
    /// The key and the kept columns of the old destination (its manifest's).
    pub(crate) columns: Arc<Columns>,
    /// Its replaced log, by key number, in `columns`' indices.
    pub(crate) replaced: ReplacedColumns,
}

/// What a cached result costs beyond [`Shape::size`]: its entry here, its
/// `Arc` and allocator headers.
const CACHED_OVERHEAD: usize = 96;

struct Pending<K> {
    id: usize,
    key: Value,
    base: Base,
    /// The key's result, if it was known when the row was placed.
    ready: Option<Arc<K>>,
    /// The first row of a key computed in this run: writing it makes the key safe.
    first: bool,
}

/// What the head of `pending` waits for.
enum Head<K> {
    Ready(Arc<K>),
    Failed,
    Waiting,
}

/// Runs the loop. `resumed` is what the destination already holds, and
/// `matched` which source rows it holds where a count cannot say; `lock` is
/// this run's hold on it, kept until the writer has closed it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run<S, F, Fut, E>(
    src: &Path,
    dst: &Path,
    f: F,
    opts: &MapOptions,
    resumed: Resumed,
    matched: Matched,
    old: Option<OldAnswers>,
    log: Option<DoneLog>,
    lock: DstLock,
) -> Result<Report, Failed>
where
    S: Shape,
    F: FnMut(Row) -> Fut,
    Fut: Future<Output = Result<S::Out, E>> + Send + 'static,
    E: Into<BoxError>,
{
    let columns = Columns::new(&opts.key, &opts.keep_columns);
    let Resumed {
        ids,
        keys,
        replaced,
        invalid_lines,
        kept_sums: _,
    } = resumed;
    let (rows, reader) = spawn_reader(src.to_path_buf(), Arc::clone(&columns), ids);
    let mut engine = Engine::<S, F>::new(src, dst, columns, opts, f, keys);
    engine.replaced = replaced;
    engine.matched = matched;
    if old.is_some() {
        for state in &mut engine.keys {
            if let Slot::Stored(at) = state.slot {
                state.slot = Slot::Old(at);
            }
        }
    }
    engine.old = old;
    let run = Run::new(
        dst,
        log,
        &opts.common,
        lock,
        opts.concurrency,
        Report {
            dst_lines_invalid: invalid_lines,
            ..Report::default()
        },
    );
    let report = run.drive(&mut engine, Some(rows)).await?;
    join_reader(src, reader, report).await
}

/// The channel closes at the end of the file or when the reader thread
/// dies: its join tells the two apart.
async fn join_reader(src: &Path, reader: JoinHandle<()>, report: Report) -> Result<Report, Failed> {
    match reader.await {
        Ok(()) => Ok(report),
        Err(e) => Err(Failed {
            error: Error::io(
                "reading",
                src,
                std::io::Error::other(format!("the reader thread failed: {e}")),
            ),
            report,
        }),
    }
}

struct Engine<S: Shape, F> {
    src: PathBuf,
    /// The key column, then the kept columns (without repeats).
    columns: Arc<Columns>,
    concurrency: usize,
    read_ahead: usize,
    f: F,
    /// Every key of the destination, then every new key of the source, by
    /// its number (see `SrcRow::id`).
    keys: Vec<KeyState<S::Kept>>,
    /// Where stored results are read back from.
    stored: StoredRows,
    /// The replaced kept columns of the keys whose result is only in the
    /// destination ([`Slot::Stored`]) and replaced some: the replaced log's
    /// on resume, then those of results leaving the cache. Few results
    /// replace a kept column, so this is small.
    replaced: ReplacedColumns,
    cache: Cache,
    /// Source rows received but not yet placed.
    inbox: VecDeque<Result<SrcRow, Error>>,
    /// Source rows waiting for their key's result, in source order.
    pending: VecDeque<Pending<S::Kept>>,
    /// The reader has sent its last batch.
    eof: bool,
    /// The keys whose stored rows were matched to source rows one by one.
    matched: Matched,
    /// Reconciling: where the old destination's answers are read from.
    old: Option<OldAnswers>,
}

impl<S, F, Fut, E> Work for Engine<S, F>
where
    S: Shape,
    F: FnMut(Row) -> Fut,
    Fut: Future<Output = Result<S::Out, E>> + Send + 'static,
    E: Into<BoxError>,
{
    type Tag = (usize, Value);
    type Out = Result<S::Out, BoxError>;
    type Batch = Vec<Result<SrcRow, Error>>;

    fn admit(&mut self, run: &mut KeyRun<S::Out>) -> Result<bool, Error> {
        self.place(run)
    }

    fn ready(&mut self, run: &mut KeyRun<S::Out>) -> Result<Option<(Vec<Item>, usize)>, Error> {
        self.write_head(run)
    }

    fn finished(&mut self, run: &mut KeyRun<S::Out>, joined: Joined<S::Out>) -> Result<(), Error> {
        self.finish_call(run, joined)
    }

    fn wind_down(&mut self) {
        self.inbox.clear();
    }

    fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    fn input_done(&self) -> bool {
        self.eof && self.inbox.is_empty()
    }

    fn wants_input(&self) -> bool {
        !self.eof && self.inbox.is_empty() && self.pending.len() < self.read_ahead
    }

    fn first_rows_written(&mut self, rows: Vec<(usize, u64)>) {
        for (id, at) in rows {
            let Some(Slot::Ready(kept)) = self.keys.get(id).map(|state| &state.slot) else {
                continue;
            };
            if S::REUSES_RESULTS {
                let size = S::size(kept);
                self.cache_result(id, at, false, size);
            }
        }
    }

    fn take(&mut self, batch: Option<Vec<Result<SrcRow, Error>>>) {
        match batch {
            Some(batch) => self.inbox.extend(batch),
            None => self.eof = true,
        }
    }

    fn state(&self) -> String {
        format!(
            "{} rows received and not placed, {} rows waiting for a result, source at its end: {}",
            self.inbox.len(),
            self.pending.len(),
            self.eof,
        )
    }
}

impl<S, F, Fut, E> Engine<S, F>
where
    S: Shape,
    F: FnMut(Row) -> Fut,
    Fut: Future<Output = Result<S::Out, E>> + Send + 'static,
    E: Into<BoxError>,
{
    fn new(
        src: &Path,
        dst: &Path,
        columns: Arc<Columns>,
        opts: &MapOptions,
        f: F,
        stored: Vec<Stored>,
    ) -> Self {
        Engine {
            src: src.to_path_buf(),
            columns,
            concurrency: opts.concurrency,
            read_ahead: opts.read_ahead_rows(),
            f,
            keys: stored.into_iter().map(KeyState::new).collect(),
            stored: StoredRows::new(dst),
            replaced: ReplacedColumns::new(),
            cache: Cache {
                bound: opts.cache_bytes,
                bytes: 0,
                order: VecDeque::new(),
            },
            inbox: VecDeque::new(),
            pending: VecDeque::new(),
            eof: false,
            matched: Matched::default(),
            old: None,
        }
    }

    /// Places rows from the inbox until one has to wait for a free call slot;
    /// true if it placed (or skipped) any.
    fn place(&mut self, run: &mut KeyRun<S::Out>) -> Result<bool, Error> {
        let mut placed = false;
        while let Some(item) = self.inbox.pop_front() {
            let row = match item {
                Ok(row) => row,
                Err(e) if e.is_bad_input() => {
                    placed = true;
                    self.skip_row(run, e)?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Some(row) = self.place_row(run, row)? {
                self.inbox.push_front(Ok(row));
                return Ok(placed);
            }
            placed = true;
        }
        Ok(placed)
    }

    /// Places one row; gives it back if its key needs a call and none may start.
    fn place_row(
        &mut self,
        run: &mut KeyRun<S::Out>,
        src: SrcRow,
    ) -> Result<Option<SrcRow>, Error> {
        while self.keys.len() <= src.id {
            self.keys.push(KeyState::new(Stored { rows: 0, at: None }));
        }
        let state = &self.keys[src.id];
        if S::UNIQUE_KEYS && state.seen > 0 {
            let error = Error::DuplicateKey {
                path: self.src.clone(),
                line: src.line,
                key: src.key(),
                first_line: state.first_line,
            };
            self.skip_row(run, error)?;
            return Ok(None);
        }
        // Which source rows the destination holds: a key's first `resumed`
        // ones, or for the keys whose rows were matched one by one (see
        // `row_match`), the lines that found a partner.
        let resumed = if !self.matched.by_line.is_empty() && self.matched.by_line.contains(&src.id)
        {
            self.matched.lines.contains(&src.line)
        } else {
            state.seen < state.resumed
        };
        let needs_call = matches!(state.slot, Slot::NotStarted) && !resumed;
        if needs_call && !(run.at_risk.unwritten() < self.concurrency && run.calls.has_room()) {
            return Ok(Some(src));
        }
        let state = &mut self.keys[src.id];
        state.seen += 1;
        if state.seen == 1 {
            state.first_line = src.line;
        }
        if resumed {
            return self.count_resumed(run, src.id).map(|()| None);
        }
        if needs_call {
            return self.start_call(run, src).map(|()| None);
        }
        if self.keys[src.id].seen == 1 && matches!(self.keys[src.id].slot, Slot::Old(_)) {
            // Reconciling: the answer comes from the old destination.
            run.report.keys_reused += 1;
        }
        let ready = self.result_of(src.id)?;
        self.queue(src, ready, false);
        Ok(None)
    }

    /// Counts a bad row, or under `Raise` gives its error back.
    fn skip_row(&mut self, run: &mut KeyRun<S::Out>, error: Error) -> Result<(), Error> {
        run.common.skip_or_raise(error)?;
        run.report.rows_invalid += 1;
        run.common.progress(&run.report)
    }

    /// Counts a row the destination already holds.
    fn count_resumed(&mut self, run: &mut KeyRun<S::Out>, id: usize) -> Result<(), Error> {
        if self.keys[id].seen == 1 {
            run.report.keys_reused += 1;
        }
        run.report.rows_resumed += 1;
        run.common.progress(&run.report)
    }

    /// The key's result if it is known, read back from the destination if
    /// it is stored there.
    fn result_of(&mut self, id: usize) -> Result<Option<Arc<S::Kept>>, Error> {
        let (at, row) = match (self.keys[id].slot.clone_at(), &mut self.old) {
            (Some((at, false)), _) => {
                let replaced = self.replaced.remove(&id).unwrap_or_default();
                (at, self.stored.result_at(at, &self.columns, &replaced)?)
            }
            (Some((at, true)), Some(old)) => {
                let replaced = old.replaced.get(&id).cloned().unwrap_or_default();
                (at, old.stored.result_at(at, &old.columns, &replaced)?)
            }
            _ => {
                return Ok(match &self.keys[id].slot {
                    Slot::Ready(out) => Some(Arc::clone(out)),
                    _ => None,
                })
            }
        };
        let from_old = matches!(self.keys[id].slot, Slot::Old(_));
        let kept = Arc::new(S::keep(S::stored(row), &self.columns));
        self.keys[id].slot = Slot::Ready(Arc::clone(&kept));
        let size = S::size(&kept);
        self.cache_result(id, at, from_old, size);
        Ok(Some(kept))
    }

    /// Keeps a written key's result in the cache, dropping the oldest over
    /// the bound (rows already waiting hold their own reference).
    fn cache_result(&mut self, id: usize, at: u64, old: bool, size: usize) {
        let size = size + CACHED_OVERHEAD;
        self.cache.bytes += size;
        self.cache.order.push_back(Cached { id, at, old, size });
        while self.cache.bytes > self.cache.bound {
            let Some(old) = self.cache.order.pop_front() else {
                break;
            };
            self.cache.bytes -= old.size;
            if let Some(state) = self.keys.get_mut(old.id) {
                if old.old {
                    // The old destination's replaced log still says it.
                    state.slot = Slot::Old(old.at);
                    continue;
                }
                if let Slot::Ready(kept) = &state.slot {
                    let replaced = S::replaced(kept);
                    if !replaced.is_empty() {
                        self.replaced.insert(old.id, replaced);
                    }
                }
                state.slot = Slot::Stored(old.at);
            }
        }
    }

    /// Starts the call for a key's first row that is not in the destination.
    fn start_call(&mut self, run: &mut KeyRun<S::Out>, src: SrcRow) -> Result<(), Error> {
        let id = src.id;
        self.keys[id].slot = Slot::Running;
        run.at_risk.start();
        // The reader parses in full the first row of every new key (every row
        // of a flatmap), which is always the row that starts a call; the
        // picked columns are only a fallback.
        let row = src.row.clone().unwrap_or_else(|| src.picked.to_row());
        let key = src.key();
        let f = &mut self.f;
        let called = catch_unwind(AssertUnwindSafe(|| f(row)));
        self.queue(src, None, true);
        match called {
            Ok(call) => {
                let call = async move { call.await.map_err(Into::into) };
                run.calls.start((id, key), call);
                Ok(())
            }
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                self.fail(run, id, Error::CallPanicked { key, message })
            }
        }
    }

    /// Puts a row in line to be written once its key's result is known.
    fn queue(&mut self, src: SrcRow, ready: Option<Arc<S::Kept>>, first: bool) {
        self.pending.push_back(Pending {
            id: src.id,
            key: src.key(),
            base: src.picked,
            ready,
            first,
        });
    }

    fn finish_call(
        &mut self,
        run: &mut KeyRun<S::Out>,
        joined: Joined<S::Out>,
    ) -> Result<(), Error> {
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
                run.report.keys_computed += 1;
                if let Some(state) = self.keys.get_mut(id) {
                    state.slot = Slot::Ready(Arc::new(S::keep(out, &self.columns)));
                }
                Ok(())
            }
            Err(error) => self.fail(run, id, error),
        }
    }

    /// Marks a key failed; under `Raise`, returns the error.
    fn fail(&mut self, run: &mut KeyRun<S::Out>, id: usize, error: Error) -> Result<(), Error> {
        if let Some(state) = self.keys.get_mut(id) {
            state.slot = Slot::Failed;
        }
        run.report.keys_failed += 1;
        run.common.skip_or_raise(error)
    }

    /// Takes every row at the head of `pending` whose result is known: the
    /// items to write and how many keys they make safe; `None` if no row
    /// could be taken.
    fn write_head(
        &mut self,
        run: &mut KeyRun<S::Out>,
    ) -> Result<Option<(Vec<Item>, usize)>, Error> {
        let before = self.pending.len();
        let mut batch = Vec::new();
        let mut made_safe = 0;
        loop {
            self.read_back_head()?;
            let head = self.head();
            if matches!(head, Head::Waiting) {
                break;
            }
            let Some(row) = self.pending.pop_front() else {
                break;
            };
            if let Head::Ready(out) = head {
                made_safe += usize::from(row.first);
                batch.push(self.written(run, row, &out));
            } else {
                if row.first {
                    run.at_risk.drop_one();
                }
                run.report.rows_failed += 1;
            }
            run.common.progress(&run.report)?;
        }
        if self.pending.len() == before {
            return Ok(None);
        }
        Ok(Some((batch, made_safe)))
    }

    /// Reads back the result of the head of `pending` if it was placed
    /// while its key ran and the result has since left the cache: the key's
    /// first row went ahead of it, was written, and its result dropped.
    fn read_back_head(&mut self) -> Result<(), Error> {
        let Some(front) = self.pending.front() else {
            return Ok(());
        };
        let id = front.id;
        let stored = matches!(
            self.keys.get(id).map(|state| &state.slot),
            Some(Slot::Stored(_) | Slot::Old(_))
        );
        if front.ready.is_none() && stored {
            let ready = self.result_of(id)?;
            if let Some(front) = self.pending.front_mut() {
                front.ready = ready;
            }
        }
        Ok(())
    }

    /// What the head of `pending` waits for, if anything.
    fn head(&self) -> Head<S::Kept> {
        let Some(front) = self.pending.front() else {
            return Head::Waiting;
        };
        if let Some(out) = &front.ready {
            return Head::Ready(Arc::clone(out));
        }
        match self.keys.get(front.id).map(|state| &state.slot) {
            Some(Slot::Ready(out)) => Head::Ready(Arc::clone(out)),
            Some(Slot::Failed) => Head::Failed,
            _ => Head::Waiting,
        }
    }

    /// Counts a row going to the writer and gives its item.
    fn written(
        &mut self,
        run: &mut KeyRun<S::Out>,
        row: Pending<S::Kept>,
        out: &Arc<S::Kept>,
    ) -> Item {
        if S::UNIQUE_KEYS {
            if let Some(state) = self.keys.get_mut(row.id) {
                state.slot = Slot::Written;
            }
        }
        run.report.rows_written += 1;
        run.report.lines_written += S::lines(out);
        // A map's later rows need the result: once the first row is written
        // the result may leave memory, to be read back from there.
        let first_of = (row.first && !S::UNIQUE_KEYS).then_some(row.id);
        S::item(row.base, &row.key, out, first_of)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::LazyLock;
    use std::time::Duration;

    use super::*;
    use crate::jsonl::rendered::Rendered;
    use crate::jsonl::resume::scan_map_dst;
    use crate::jsonl::within::block_on_within;

    /// Far longer than any test here needs (a second or two on a busy
    /// machine): reaching it is a run that never ends.
    const BOUND: Duration = Duration::from_secs(60);

    /// Results read back from a destination by the shapes below, alive now.
    static READ_BACK: LazyLock<Arc<AtomicUsize>> = LazyLock::new(Arc::default);
    /// Results read back by the shapes below, ever.
    static READ_BACK_EVER: AtomicUsize = AtomicUsize::new(0);

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
        const REUSES_RESULTS: bool = true;

        fn check(_: &Counted, _: &Value, _: &str) -> Result<(), Error> {
            Ok(())
        }

        fn keep(out: Counted, _: &Columns) -> Counted {
            out
        }

        fn stored(_: Row) -> Counted {
            READ_BACK_EVER.fetch_add(1, Ordering::SeqCst);
            Counted::new(&READ_BACK)
        }

        fn item(base: Base, key: &Value, _: &Arc<Counted>, _: Option<usize>) -> Item {
            Item::Group {
                base,
                key: key.clone(),
                rows: Arc::new(Vec::new()),
            }
        }

        fn lines(_: &Counted) -> u64 {
            0
        }

        fn size(_: &Counted) -> usize {
            0
        }

        fn replaced(_: &Counted) -> Box<[usize]> {
            Box::default()
        }
    }

    /// With unique keys a result is needed for one row only: once that row
    /// is written it must be dropped, or memory grows with the whole output.
    #[test]
    fn results_of_unique_keys_are_dropped_once_written() {
        block_on_within(BOUND, async {
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
            let report = run::<Unique, _, _, _>(
                &src,
                &dst,
                f,
                &opts,
                Resumed::default(),
                Matched::default(),
                None,
                Some(log),
                lock,
            )
            .await
            .unwrap();
            assert_eq!(report.rows_written, 5000);
            let most = most.load(Ordering::SeqCst);
            // At most the keys started but not written, plus those in flight to
            // the writer: far fewer than the 5000 keys.
            assert!(most <= 4 + 64, "{most} results were alive at once");
            assert_eq!(live.load(Ordering::SeqCst), 0);
        })
    }

    /// A map-like shape (keys repeat) whose results count themselves and
    /// write the source's columns only.
    struct Repeated;

    impl Shape for Repeated {
        type Out = Counted;
        type Kept = (Arc<Rendered>, Counted);
        const UNIQUE_KEYS: bool = false;
        const REUSES_RESULTS: bool = true;

        fn check(_: &Counted, _: &Value, _: &str) -> Result<(), Error> {
            Ok(())
        }

        fn keep(out: Counted, columns: &Columns) -> (Arc<Rendered>, Counted) {
            (Arc::new(Rendered::new(&Row::new(), columns)), out)
        }

        fn stored(_: Row) -> Counted {
            READ_BACK_EVER.fetch_add(1, Ordering::SeqCst);
            Counted::new(&READ_BACK)
        }

        fn item(
            base: Base,
            _: &Value,
            kept: &Arc<(Arc<Rendered>, Counted)>,
            first_of: Option<usize>,
        ) -> Item {
            Item::Merged {
                base,
                result: Arc::clone(&kept.0),
                first_of,
            }
        }

        fn lines(_: &(Arc<Rendered>, Counted)) -> u64 {
            1
        }

        fn replaced(kept: &(Arc<Rendered>, Counted)) -> Box<[usize]> {
            kept.0.replaced_columns().collect()
        }

        fn size(kept: &(Arc<Rendered>, Counted)) -> usize {
            kept.0.size()
        }
    }

    /// `keys` keys, each `rows / keys` times, in a repeating pattern.
    fn rows_text(rows: u64, keys: u64) -> String {
        (0..rows)
            .map(|i| format!("{{\"key\":{}}}\n", i % keys))
            .collect()
    }

    /// Resumes `Repeated` over a source of 5000 rows with 1000 keys whose
    /// destination holds its first `done` rows; gives the report, the
    /// calls made, and the most results read back alive at once.
    async fn resume_repeated(done: u64) -> (Report, usize, usize) {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
        std::fs::write(&src, rows_text(5000, 1000)).unwrap();
        std::fs::write(
            &dst,
            rows_text(5000, 1000)
                .lines()
                .take(done as usize)
                .map(|line| format!("{line}\n"))
                .collect::<String>(),
        )
        .unwrap();
        let most = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&most);
        let opts = MapOptions::new("key").concurrency(4).progress(move |_| {
            seen.fetch_max(READ_BACK.load(Ordering::SeqCst), Ordering::SeqCst);
        });
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let f = move |_row: Row| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Error>(Counted::new(&Arc::new(AtomicUsize::new(0)))) }
        };
        let resumed = scan_map_dst(&dst, &Columns::new("key", &[]), &opts.common).unwrap();
        let lock = DstLock::acquire(&dst).unwrap();
        let report = run::<Repeated, _, _, _>(
            &src,
            &dst,
            f,
            &opts,
            resumed,
            Matched::default(),
            None,
            None,
            lock,
        )
        .await
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&dst).unwrap(),
            rows_text(5000, 1000)
        );
        let calls = calls.load(Ordering::SeqCst);
        (report, calls, most.load(Ordering::SeqCst))
    }

    /// A resume keeps per key a count and an offset, never a result: over a
    /// complete destination no result is ever read back or alive, and over
    /// one holding the first rows of every key, each key's result is read
    /// back once (not once per row) and no call is made.
    #[test]
    fn a_resume_holds_no_result_and_reads_each_stored_one_back_once() {
        block_on_within(BOUND, async {
            let before = READ_BACK_EVER.load(Ordering::SeqCst);
            let (report, calls, most) = resume_repeated(5000).await;
            assert_eq!(
                (report.rows_resumed, report.keys_reused, calls),
                (5000, 1000, 0)
            );
            assert_eq!(most, 0, "a complete rerun held {most} results");
            assert_eq!(READ_BACK_EVER.load(Ordering::SeqCst), before);

            let (report, calls, most) = resume_repeated(2500).await;
            assert_eq!(
                (report.rows_resumed, report.rows_written, calls),
                (2500, 2500, 0)
            );
            assert_eq!(READ_BACK_EVER.load(Ordering::SeqCst) - before, 1000);
            assert!(most <= 1000, "{most} results alive");
            assert_eq!(READ_BACK.load(Ordering::SeqCst), 0);

            // A resume reads results back and caches them as it places rows,
            // so what the cache keeps is exact here (the counters are shared,
            // so this runs after the runs above, not beside them). Ten keys
            // stored, then three passes over them: the second reads each
            // back; the third finds them all cached when the bound holds ten
            // results exactly, and all but the oldest (read back again) when
            // it is a byte short.
            let one =
                Rendered::new(&Row::new(), &Columns::new("key", &[])).size() + CACHED_OVERHEAD;
            let forward: Vec<u64> = (0..10).collect();
            let backward: Vec<u64> = (0..10).rev().collect();
            for (bound, third, read_back) in
                [(10 * one, &forward, 10), (10 * one - 1, &backward, 11)]
            {
                let before = READ_BACK_EVER.load(Ordering::SeqCst);
                let report = resume_passes(bound, &[&forward, &forward, third]).await;
                assert_eq!((report.rows_resumed, report.rows_written), (10, 20));
                assert_eq!(
                    READ_BACK_EVER.load(Ordering::SeqCst) - before,
                    read_back,
                    "cache of {bound} bytes, {one} a result"
                );
            }
        })
    }

    /// Resumes `Repeated` with a cache of `bound` bytes over a source that
    /// makes `passes` over keys whose destination holds the first pass.
    async fn resume_passes(bound: usize, passes: &[&Vec<u64>]) -> Report {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
        let text = |keys: &[&Vec<u64>]| -> String {
            keys.iter()
                .flat_map(|pass| pass.iter())
                .map(|k| format!("{{\"key\":{k}}}\n"))
                .collect()
        };
        std::fs::write(&src, text(passes)).unwrap();
        std::fs::write(&dst, text(&passes[..1])).unwrap();
        let opts = MapOptions::new("key").concurrency(4).cache_bytes(bound);
        let f =
            move |_row: Row| async { Ok::<_, Error>(Counted::new(&Arc::new(AtomicUsize::new(0)))) };
        let resumed = scan_map_dst(&dst, &Columns::new("key", &[]), &opts.common).unwrap();
        let lock = DstLock::acquire(&dst).unwrap();
        let report = run::<Repeated, _, _, _>(
            &src,
            &dst,
            f,
            &opts,
            resumed,
            Matched::default(),
            None,
            None,
            lock,
        )
        .await
        .unwrap();
        assert_eq!(std::fs::read_to_string(&dst).unwrap(), text(passes));
        report
    }

    /// Results of `CountedMap` alive now, computed or read back.
    static LIVE: LazyLock<Arc<AtomicUsize>> = LazyLock::new(Arc::default);
    /// Results `CountedMap` read back, ever.
    static LIVE_READ_BACK: AtomicUsize = AtomicUsize::new(0);

    /// The `f` of the cache tests: `v` is twice the key, with a live token.
    fn doubled(row: Row) -> std::future::Ready<Result<(Row, Counted), Error>> {
        let key = row["key"].as_i64().unwrap_or(0);
        let mut out = Row::new();
        out.insert("v".into(), (2 * key).into());
        std::future::ready(Ok((out, Counted::new(&LIVE))))
    }

    /// A map whose results count themselves and write `f`'s row.
    struct CountedMap;

    impl Shape for CountedMap {
        type Out = (Row, Counted);
        type Kept = (Arc<Rendered>, Counted);
        const UNIQUE_KEYS: bool = false;
        const REUSES_RESULTS: bool = true;

        fn check(_: &(Row, Counted), _: &Value, _: &str) -> Result<(), Error> {
            Ok(())
        }

        fn keep((row, live): (Row, Counted), columns: &Columns) -> (Arc<Rendered>, Counted) {
            (Arc::new(Rendered::new(&row, columns)), live)
        }

        fn stored(row: Row) -> (Row, Counted) {
            LIVE_READ_BACK.fetch_add(1, Ordering::SeqCst);
            (row, Counted::new(&LIVE))
        }

        fn item(
            base: Base,
            key: &Value,
            kept: &Arc<(Arc<Rendered>, Counted)>,
            first_of: Option<usize>,
        ) -> Item {
            Repeated::item(base, key, kept, first_of)
        }

        fn lines(_: &(Arc<Rendered>, Counted)) -> u64 {
            1
        }

        fn replaced(kept: &(Arc<Rendered>, Counted)) -> Box<[usize]> {
            kept.0.replaced_columns().collect()
        }

        fn size(kept: &(Arc<Rendered>, Counted)) -> usize {
            kept.0.size()
        }
    }

    /// A fresh run keeps a written key's result only within the cache's
    /// bound: over 3000 keys each seen twice, 3000 rows apart, the results
    /// alive at once stay near what the bound holds (plus the calls running
    /// and the rows waiting or queued for the writer), the later rows read
    /// theirs back, and the output is what keeping them all would write.
    /// Then a bound that holds every result exactly reads none back.
    #[test]
    fn a_fresh_run_keeps_written_results_within_the_cache_bound() {
        block_on_within(BOUND, async {
            const KEYS: u64 = 3000;
            let dir = tempfile::tempdir().unwrap();
            let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
            // An existing destination: offsets must count from its end.
            std::fs::write(&dst, "{\"key\":-1}\n").unwrap();
            std::fs::write(&src, rows_text(2 * KEYS, KEYS)).unwrap();
            let one = Rendered::new(
                &serde_json::json!({"v": 0}).as_object().unwrap().clone(),
                &Columns::new("key", &[]),
            );
            let cached = 20;
            let bound = cached * (one.size() + 2 + CACHED_OVERHEAD);
            let most = Arc::new(AtomicUsize::new(0));
            let seen = Arc::clone(&most);
            let opts = MapOptions::new("key")
                .concurrency(4)
                .read_ahead(64)
                .cache_bytes(bound)
                .progress(move |_| {
                    seen.fetch_max(LIVE.load(Ordering::SeqCst), Ordering::SeqCst);
                });
            let f = doubled;
            let resumed = scan_map_dst(&dst, &Columns::new("key", &[]), &opts.common).unwrap();
            let lock = DstLock::acquire(&dst).unwrap();
            let before = LIVE_READ_BACK.load(Ordering::SeqCst);
            let report = run::<CountedMap, _, _, _>(
                &src,
                &dst,
                f,
                &opts,
                resumed,
                Matched::default(),
                None,
                None,
                lock,
            )
            .await
            .unwrap();
            assert_eq!(
                (report.keys_computed, report.rows_written),
                (KEYS, 2 * KEYS)
            );
            let expected: String = std::iter::once("{\"key\":-1}\n".to_owned())
                .chain(
                    (0..2 * KEYS)
                        .map(|i| format!("{{\"key\":{},\"v\":{}}}\n", i % KEYS, 2 * (i % KEYS))),
                )
                .collect();
            assert_eq!(std::fs::read_to_string(&dst).unwrap(), expected);
            let read_back = LIVE_READ_BACK.load(Ordering::SeqCst) - before;
            assert!(
                read_back as u64 >= KEYS - cached as u64 - 64,
                "{read_back} read back"
            );
            let most = most.load(Ordering::SeqCst);
            // The cache, the calls running, and the rows pending (64) or queued
            // for the writer (a few batches of at most 64): far below 3000.
            assert!(
                most <= cached + 4 + 6 * 64,
                "{most} results were alive at once"
            );
            assert_eq!(LIVE.load(Ordering::SeqCst), 0);

            // A bound that holds every result exactly: nothing leaves the
            // cache, so nothing is read back (the CountedMap counters are
            // shared, so this runs after the run above, not beside it).
            const FEW: u64 = 50;
            let dst = dir.path().join("exact.jsonl");
            let src = dir.path().join("exact_in.jsonl");
            std::fs::write(&src, rows_text(2 * FEW, FEW)).unwrap();
            let exact: usize = (0..FEW)
                .map(|key| {
                    let out = serde_json::json!({"v": 2 * key});
                    let rendered =
                        Rendered::new(out.as_object().unwrap(), &Columns::new("key", &[]));
                    rendered.size() + CACHED_OVERHEAD
                })
                .sum();
            let opts = MapOptions::new("key").concurrency(4).cache_bytes(exact);
            let f = doubled;
            let lock = DstLock::acquire(&dst).unwrap();
            let before = LIVE_READ_BACK.load(Ordering::SeqCst);
            let report = run::<CountedMap, _, _, _>(
                &src,
                &dst,
                f,
                &opts,
                Resumed::default(),
                Matched::default(),
                None,
                None,
                lock,
            )
            .await
            .unwrap();
            assert_eq!(report.rows_written, 2 * FEW);
            assert_eq!(LIVE_READ_BACK.load(Ordering::SeqCst) - before, 0);
            assert_eq!(LIVE.load(Ordering::SeqCst), 0);
        })
    }
}
