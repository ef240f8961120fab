//! `create_or_resume`: a file with exactly `key_count` rows per key.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use serde_json::Value;

use super::checking::CheckProgress;
use super::error::{BoxError, Error, Failed};
use super::key_ids::{canonical, same_key, KeyBatch, KeyIds};
use super::lock::DstLock;
use super::options::{Common, CreateOptions};
use super::read::{key_text_of_line, read_lines};
use super::report::Report;
use super::run_loop::{Run, Work};
use super::torn_line::repair;
use super::write::Item;
use super::Row;
use crate::internal::panic_message;
use crate::stream::task_set::Joined;

/// Makes `path` hold exactly `key_count` rows for each of `keys`, calling
/// `generate` only for the rows that are missing.
///
/// `generate(key, index)` returns one row for `key`; `index` counts that key's
/// rows from 0, starting after the rows already in the file (it is a hint for
/// the generator and is not stored). The row is written with `key_name` set to
/// `key` (a generated row that sets it to something else is
/// [`Error::KeyChanged`]). Rows are appended in completion order, each as soon
/// as it is generated; up to `opts.limit` calls run at once, each as its own
/// tokio task, and at most `limit` generated rows are ever unwritten, which
/// bounds what a crash can lose. Running the same call again after a crash,
/// a stop or skipped failures generates only what is still missing.
///
/// On an existing file, a torn last line is cut off first (and reported), then
/// every row is counted: a row whose key is not among `keys`
/// ([`Error::UnknownKey`]) or one past `key_count` ([`Error::TooManyRows`]) is
/// bad input, handled by `on_error` (under `Skip` it stays in the file and is
/// not counted). `keys` is collected first (duplicates count once), so memory
/// is the keys and one count per key; the check reads only each row's key
/// column, and never holds a row.
///
/// # Errors
///
/// A [`Failed`](super::Failed): the [`Error`] that ended the run, with the
/// [`Report`](super::Report) of what it did before (rows it wrote stay).
/// Under [`OnError::Raise`](super::OnError::Raise): the first bad row (with
/// file and line) or the first failed call ([`Error::Call`],
/// [`Error::CallPanicked`], [`Error::KeyChanged`]); no call starts after
/// it, the calls still running finish and their rows are written, then the
/// error comes back. Always: [`Error::Io`] (a write error such as a full
/// disk ends the run at once, naming the file and the OS error),
/// [`Error::Locked`] if another run holds `path` (nothing is written),
/// [`Error::InvalidOption`] for a `limit` of 0, and [`Error::Stalled`]
/// instead of a hang should the run ever have nothing left to wait for.
///
/// # Cancel safety
///
/// As [`map_by_key`](super::map_by_key): dropping the future aborts running
/// calls, and rows already generated are still written in the background.
///
/// # Examples
///
/// ```
/// use pipework::jsonl::{create_or_resume, CreateOptions, Row};
/// use serde_json::{json, Value};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("data.jsonl");
/// std::fs::write(&path, "{\"letter\": \"a\", \"n\": 0}\n")?;
///
/// let generate = |key: Value, index: usize| async move {
///     let row = json!({"n": index}).as_object().cloned().unwrap_or_default();
///     let _ = key;
///     Ok::<Row, std::io::Error>(row)
/// };
/// let report = create_or_resume(&path, "letter", 2, ["a", "b"], generate, CreateOptions::default()).await?;
/// assert_eq!((report.rows_resumed, report.rows_written), (1, 3));
/// # Ok(())
/// # }
/// ```
pub async fn create_or_resume<K, G, Fut, E>(
    path: impl AsRef<Path>,
    key_name: &str,
    key_count: usize,
    keys: impl IntoIterator<Item = K>,
    mut generate: G,
    opts: CreateOptions,
) -> Result<Report, Failed>
where
    K: Into<Value>,
    G: FnMut(Value, usize) -> Fut,
    Fut: Future<Output = Result<Row, E>> + Send + 'static,
    E: Into<BoxError>,
{
    opts.validate()?;
    let path = path.as_ref();
    let mut wanted: Vec<Value> = Vec::new();
    let mut ids = KeyIds::default();
    let (mut batch, mut pending) = (KeyBatch::default(), Vec::with_capacity(BATCH));
    let mut keys = keys.into_iter().map(Into::into).peekable();
    while let Some(key) = keys.next() {
        if !matches!(key, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
            return Err(Error::InvalidOption {
                name: "keys",
                reason: "every key must be a string, number or boolean",
            }
            .into());
        }
        batch.push(|text| {
            canonical(&key, text);
            Ok::<(), Error>(())
        })?;
        pending.push(key);
        if pending.len() == BATCH || keys.peek().is_none() {
            // The first of repeated keys is the one numbered new.
            ids.number(&batch, |index, _, new| {
                if new {
                    wanted.push(std::mem::take(&mut pending[index]));
                }
            });
            batch.clear();
            pending.clear();
        }
    }
    let lock = DstLock::acquire(path)?;
    let key_total = wanted.len();
    let (counts, report) = {
        let (path, key_name, common) =
            (path.to_path_buf(), key_name.to_owned(), opts.common.clone());
        tokio::task::spawn_blocking(move || {
            let mut counts = vec![0; key_total];
            count_rows(&path, &key_name, key_count, &mut ids, &mut counts, &common)
                .map(|report| (counts, report))
        })
        .await
        .map_err(|_| Error::Cancelled)??
    };
    let todo = wanted
        .into_iter()
        .zip(counts)
        .flat_map(move |(key, have)| (have..key_count).map(move |index| (key.clone(), index)));
    let mut work = Generate {
        todo,
        generate: &mut generate,
        limit: opts.limit,
        key_name,
        exhausted: false,
        ready: Vec::new(),
    };
    let run = Run::new(path, None, &opts.common, lock, opts.limit, report);
    run.drive(&mut work, None).await
}

/// The loop's part of a run: calls tagged with their key, giving a row.
type RowRun = Run<Value, Result<Row, BoxError>>;

/// Generating the missing rows: `todo` lists them as (key, index).
struct Generate<'a, I, G> {
    todo: I,
    generate: &'a mut G,
    limit: usize,
    key_name: &'a str,
    exhausted: bool,
    /// Rows generated and not yet handed to the writer.
    ready: Vec<Item>,
}

impl<I, G, Fut, E> Work for Generate<'_, I, G>
where
    I: Iterator<Item = (Value, usize)>,
    G: FnMut(Value, usize) -> Fut,
    Fut: Future<Output = Result<Row, E>> + Send + 'static,
    E: Into<BoxError>,
{
    type Tag = Value;
    type Out = Result<Row, BoxError>;
    /// No input channel: `todo` is pulled as calls start.
    type Batch = ();

    fn admit(&mut self, run: &mut RowRun) -> Result<bool, Error> {
        let mut started = false;
        while !self.exhausted && run.at_risk.unwritten() < self.limit && run.calls.has_room() {
            let Some((key, index)) = self.todo.next() else {
                self.exhausted = true;
                break;
            };
            started = true;
            let generate = &mut *self.generate;
            match catch_unwind(AssertUnwindSafe(|| generate(key.clone(), index))) {
                Ok(call) => {
                    run.at_risk.start();
                    run.calls
                        .start(key, async move { call.await.map_err(Into::into) });
                }
                Err(payload) => {
                    let message = panic_message(payload.as_ref());
                    fail(run, Error::CallPanicked { key, message })?;
                }
            }
        }
        Ok(started)
    }

    fn ready(&mut self, _run: &mut RowRun) -> Result<Option<(Vec<Item>, usize)>, Error> {
        if self.ready.is_empty() {
            return Ok(None);
        }
        let rows = std::mem::take(&mut self.ready);
        let units = rows.len();
        Ok(Some((rows, units)))
    }

    fn finished(
        &mut self,
        run: &mut RowRun,
        joined: Joined<Value, Result<Row, BoxError>>,
    ) -> Result<(), Error> {
        let (key, outcome) = joined.map_err(|_| Error::Cancelled)?;
        match finish(outcome, key, self.key_name) {
            Ok(row) => {
                run.report.keys_computed += 1;
                run.report.rows_written += 1;
                run.report.lines_written += 1;
                self.ready.push(Item::Plain(row));
            }
            Err(error) => {
                run.at_risk.drop_one();
                fail(run, error)?;
            }
        }
        run.common.progress(&run.report)
    }

    fn wind_down(&mut self) {}

    fn is_idle(&self) -> bool {
        self.ready.is_empty()
    }

    fn input_done(&self) -> bool {
        self.exhausted
    }

    fn wants_input(&self) -> bool {
        false
    }

    fn take(&mut self, _batch: Option<()>) {}

    fn state(&self) -> String {
        format!(
            "{} rows generated and not yet written, every row started: {}",
            self.ready.len(),
            self.exhausted
        )
    }
}

/// Turns a finished call into the row to write.
fn finish(
    outcome: Result<Result<Row, BoxError>, String>,
    key: Value,
    key_name: &str,
) -> Result<Row, Error> {
    match outcome {
        Ok(Ok(mut row)) => match row.get(key_name) {
            Some(found) if !same_key(found, &key) => Err(Error::KeyChanged {
                key,
                column: key_name.to_owned(),
                found: found.clone(),
            }),
            Some(_) => Ok(row),
            None => {
                row.insert(key_name.to_owned(), key);
                Ok(row)
            }
        },
        Ok(Err(cause)) => Err(Error::Call { key, cause }),
        Err(message) => Err(Error::CallPanicked { key, message }),
    }
}

/// Counts a failed row; under `Raise`, gives its error back.
fn fail(run: &mut RowRun, error: Error) -> Result<(), Error> {
    run.report.keys_failed += 1;
    run.report.rows_failed += 1;
    run.common.skip_or_raise(error)
}

/// Repairs a torn last line and counts the rows per key of an existing file
/// into `counts` (by the keys' numbers in `ids`).
fn count_rows(
    path: &Path,
    key_name: &str,
    key_count: usize,
    ids: &mut KeyIds,
    counts: &mut [usize],
    common: &Common,
) -> Result<Report, Error> {
    if let Some(notice) = repair(path)? {
        common.notify(&notice)?;
    }
    let mut lines = match read_lines(path) {
        Ok(lines) => lines,
        Err(Error::Io { cause, .. }) if cause.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Report::default())
        }
        Err(e) => return Err(e),
    };
    let mut progress = CheckProgress::start(common, lines.len()?)?;
    let mut buf = Vec::new();
    let mut rows = RowCounter {
        path,
        key_count,
        common,
        keys: KeyBatch::default(),
        lines: Vec::with_capacity(BATCH),
    };
    while let Some(line) = lines.next_into(&mut buf) {
        let line = line?;
        progress.at(lines.bytes_read())?;
        match key_text_of_line(&buf, key_name, path, line, &mut rows.keys) {
            Ok(()) => rows.lines.push(line),
            Err(e) if e.is_bad_input() => {
                // Errors are reported in line order: the rows before first.
                rows.count(ids, counts, progress.report())?;
                common.skip_or_raise(e)?;
                progress.report().rows_invalid += 1;
            }
            Err(e) => return Err(e),
        }
        if rows.lines.len() == BATCH {
            rows.count(ids, counts, progress.report())?;
        }
    }
    rows.count(ids, counts, progress.report())?;
    progress.finish()
}

/// Rows of a file being checked whose keys are looked up together.
const BATCH: usize = 1024;

/// The rows whose keys [`count_rows`] has read but not yet looked up.
struct RowCounter<'a> {
    path: &'a Path,
    key_count: usize,
    common: &'a Common,
    keys: KeyBatch,
    /// The line of each key in `keys`.
    lines: Vec<u64>,
}

impl RowCounter<'_> {
    /// Looks up the keys read so far and counts their rows into `counts`:
    /// a key not wanted, or one row too many, is a bad row.
    fn count(
        &mut self,
        ids: &mut KeyIds,
        counts: &mut [usize],
        report: &mut Report,
    ) -> Result<(), Error> {
        let mut found = Vec::with_capacity(self.lines.len());
        ids.lookup(&self.keys, |text, id| {
            let checked = match id {
                Some(id) if counts[id] < self.key_count => {
                    counts[id] += 1;
                    Ok(())
                }
                _ => Err((text_key(text), id.is_some())),
            };
            found.push(checked);
        });
        for (checked, &line) in found.into_iter().zip(&self.lines) {
            let error = match checked {
                Ok(()) => {
                    report.rows_resumed += 1;
                    continue;
                }
                Err((key, false)) => Error::UnknownKey {
                    path: self.path.to_path_buf(),
                    line,
                    key,
                },
                Err((key, true)) => Error::TooManyRows {
                    path: self.path.to_path_buf(),
                    line,
                    key,
                    key_count: self.key_count,
                },
            };
            self.common.skip_or_raise(error)?;
            report.rows_invalid += 1;
        }
        self.keys.clear();
        self.lines.clear();
        Ok(())
    }
}

/// The key a canonical key text stands for, for an error message.
fn text_key(text: &[u8]) -> Value {
    serde_json::from_slice(text)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(text).into_owned()))
}
