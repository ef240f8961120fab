//! Reading the source on its own thread, parsing no more than needed.
//!
//! Most source rows of a map only contribute their key and kept columns, so
//! the reader copies just those as JSON text (see [`picked`](super::picked);
//! other fields are skipped without being built), and parses a row in full
//! only when `f` may need it: the first row of each key the destination does
//! not hold. A resume's source rows whose keys are done are never built.
//! Rows go to the async side in batches over a bounded channel.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::error::Error;
use super::key_ids::{canonical, canonical_raw, KeyBatch, KeyIds};
use super::picked::{may_be_key, Columns, Picked, PickedBatch};
use super::read::{key_of, parse_row};
use super::read_ahead::read_ahead;
use super::Row;

/// Rows the reader thread sends per message, at most.
const BATCH: usize = 256;
/// Bytes of picked text, or of whole lines kept until their keys are
/// numbered, after which a batch is sent even if it has fewer rows: wide
/// source rows make small batches, not big ones.
const BATCH_TEXT: usize = 1 << 20;
/// Messages the reader thread may queue ahead.
const QUEUED_BATCHES: usize = 4;

/// A source row: its line, key, picked columns and, when it may be needed
/// for a call, the whole row.
#[derive(Debug)]
pub(crate) struct SrcRow {
    pub(crate) line: u64,
    /// The key's number: keys are numbered 0, 1, 2... in order of first appearance.
    pub(crate) id: usize,
    pub(crate) picked: Picked,
    pub(crate) row: Option<Row>,
}

/// A row read but not yet sent: `index` is its place in the batch's picked text.
struct Staged {
    line: u64,
    id: usize,
    index: usize,
    row: Option<Row>,
}

/// Reads `path` on a blocking thread and sends its rows in batches. `columns`
/// is the key column followed by the kept columns. `ids`
/// numbers the keys the destination holds already, so the first rows of
/// those keys are not parsed in full (they start no call); new keys are
/// numbered after them. The thread ends
/// at the end of the file, after an I/O error, or when the receiver is dropped;
/// when the channel closes, the caller joins the handle to tell the end of the
/// file from a crash of the thread.
pub(crate) fn spawn_reader(
    path: PathBuf,
    columns: Arc<Columns>,
    ids: KeyIds,
) -> (mpsc::Receiver<Vec<Result<SrcRow, Error>>>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(QUEUED_BATCHES);
    let handle = tokio::task::spawn_blocking(move || {
        let mut lines = match super::read::read_lines(&path) {
            Ok(lines) => lines,
            Err(e) => {
                // A send error means the run is gone: nothing left to do.
                let _ = tx.blocking_send(vec![Err(e)]);
                return;
            }
        };
        let mut bytes = Vec::new();
        let mut ids = ids;
        read_ahead(
            || {
                let mut batch = Batch::new(&columns);
                while let Some(line) = lines.next_into(&mut bytes) {
                    batch.stage(line, &bytes, &path);
                    if batch.is_full() {
                        break;
                    }
                }
                (!batch.staged.is_empty()).then_some(batch)
            },
            |next| {
                while let Some(batch) = next() {
                    // A send error means the run is gone: nothing left to do.
                    if tx.blocking_send(batch.seal(&mut ids, &path)).is_err() {
                        return;
                    }
                }
            },
        );
    });
    (rx, handle)
}

/// Rows read, parsed on the reading thread, whose keys are not numbered yet.
struct Batch {
    picked: PickedBatch,
    staged: Vec<Result<Staged, Error>>,
    /// The keys of the rows staged without error, to number at once.
    keys: KeyBatch,
    /// For each key in `keys`, its row's place in `staged`.
    rows: Vec<usize>,
    /// The text of each staged row, while it is not known whether the row
    /// starts a new key (whose row is then parsed in full).
    text: Vec<u8>,
    text_ends: Vec<usize>,
}

impl Batch {
    fn new(columns: &Arc<Columns>) -> Batch {
        Batch {
            picked: PickedBatch::new(Arc::clone(columns)),
            staged: Vec::with_capacity(BATCH),
            keys: KeyBatch::default(),
            rows: Vec::with_capacity(BATCH),
            text: Vec::new(),
            text_ends: Vec::with_capacity(BATCH),
        }
    }

    /// Picks the key and kept columns of one line of `path`, read as line
    /// `line`, keeping its text in case it starts a new key.
    fn stage(&mut self, line: Result<u64, Error>, bytes: &[u8], path: &Path) {
        let item = line.and_then(|line| {
            let index = light(bytes, &mut self.picked, path, line)?;
            self.text.extend_from_slice(bytes);
            let (picked, raw) = (&self.picked, self.picked.raw(index, 0));
            self.keys.push(|text| {
                // The key's text as the line spells it is most often
                // canonical already: copied rather than written anew.
                match raw.map(|raw| canonical_raw(raw, text)) {
                    Some(Some(Ok(()))) => {}
                    _ => canonical(&picked.key(index).unwrap_or(Value::Null), text),
                }
                Ok::<(), Error>(())
            })?;
            self.rows.push(self.staged.len());
            Ok(Staged {
                line,
                id: usize::MAX,
                index,
                row: None,
            })
        });
        self.text_ends.push(self.text.len());
        self.staged.push(item);
    }

    fn is_full(&self) -> bool {
        self.staged.len() == BATCH
            || self.picked.text_len() >= BATCH_TEXT
            || self.text.len() >= BATCH_TEXT
    }

    /// Numbers the staged rows' keys in `ids`, parses in full the rows that
    /// start a new key, and turns the staged rows into rows that share
    /// their picked columns.
    fn seal(self, ids: &mut KeyIds, path: &Path) -> Vec<Result<SrcRow, Error>> {
        let Batch {
            picked,
            mut staged,
            keys,
            rows,
            text,
            text_ends,
        } = self;
        ids.number(&keys, |index, id, new| {
            let at = rows[index];
            let Ok(row) = &mut staged[at] else {
                unreachable!("only rows staged without error have a key")
            };
            row.id = id;
            if new {
                let start = if at == 0 { 0 } else { text_ends[at - 1] };
                match parse_row(&text[start..text_ends[at]], path, row.line) {
                    Ok(whole) => row.row = Some(whole),
                    Err(e) => staged[at] = Err(e),
                }
            }
        });
        let picked = Arc::new(picked);
        staged
            .into_iter()
            .map(|item| {
                item.map(|row| SrcRow {
                    line: row.line,
                    id: row.id,
                    picked: Picked::new(&picked, row.index),
                    row: row.row,
                })
            })
            .collect()
    }
}

/// Picks the key and the kept columns of one line into `picked` and returns
/// the row's index there. On any problem the line is parsed in full, which
/// gives the precise error (invalid JSON, not an object, missing or bad
/// key).
fn light(bytes: &[u8], picked: &mut PickedBatch, path: &Path, line: u64) -> Result<usize, Error> {
    if let Ok(index) = picked.pick(bytes) {
        if picked.raw(index, 0).is_some_and(may_be_key) {
            return Ok(index);
        }
    }
    let row = parse_row(bytes, path, line)?;
    key_of(&row, picked.columns().key(), path, line)?;
    // The full parse found nothing wrong, which the light one rules out:
    // take the full row's values to be sure.
    Ok(picked.pick_from(&row))
}

impl SrcRow {
    /// The row's key, as a value: built on demand, as most rows of a
    /// resume are skipped without it.
    pub(crate) fn key(&self) -> Value {
        self.picked.key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch holds a bounded number of bytes however wide the rows are:
    /// the whole lines it keeps until their keys are numbered count too.
    #[test]
    fn wide_rows_make_small_batches() {
        let columns = Columns::new("id", &[]);
        let wide = format!(
            "{{\"id\": 1, \"text\": \"{}\"}}",
            "x".repeat(BATCH_TEXT / 2)
        );
        let mut batch = Batch::new(&columns);
        let path = Path::new("in.jsonl");
        batch.stage(Ok(1), wide.as_bytes(), path);
        assert!(!batch.is_full());
        batch.stage(Ok(2), wide.as_bytes(), path);
        assert!(batch.is_full(), "two rows of half the bound fill a batch");
        let rows = batch.seal(&mut KeyIds::default(), path);
        assert!(
            rows[0].as_ref().unwrap().row.is_some(),
            "a new key's row is whole"
        );
        assert!(rows[1].as_ref().unwrap().row.is_none(), "a repeat's is not");
    }
}
