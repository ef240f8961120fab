//! Reading the source on its own thread, parsing no more than needed.
//!
//! Most source rows of a map only contribute their key and kept columns, so
//! the reader extracts just those (other fields are skipped without being
//! built), and parses a row in full only when `f` may need it: the first
//! row of each key (or every row, for a flatmap). Rows go to the async side
//! in batches over a bounded channel.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::error::Error;
use super::read::{key_of, parse_row};
use super::Row;

/// Rows the reader thread sends per message.
const BATCH: usize = 256;
/// Messages the reader thread may queue ahead.
const QUEUED_BATCHES: usize = 4;

/// A source row: its line, key, the values of `columns` and, when it may be
/// needed for a call, the whole row.
#[derive(Debug)]
pub(crate) struct SrcRow {
    pub(crate) line: u64,
    pub(crate) key: Value,
    /// The key's number: keys are numbered 0, 1, 2... in order of first appearance.
    pub(crate) id: usize,
    /// Lines up with the columns the reader was given; `[0]` is the key.
    pub(crate) values: Vec<Option<Value>>,
    pub(crate) row: Option<Row>,
}

/// Reads `path` on a blocking thread and sends its rows in batches. `columns`
/// is the key column followed by the kept columns; `every_row_whole` asks for
/// the whole row of every line, not only of each key's first. The thread ends
/// at the end of the file, after an I/O error, or when the receiver is dropped;
/// when the channel closes, the caller joins the handle to tell the end of the
/// file from a crash of the thread.
pub(crate) fn spawn_reader(
    path: PathBuf,
    columns: Arc<[String]>,
    every_row_whole: bool,
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
        let mut ids: HashMap<Value, usize> = HashMap::new();
        let mut batch = Vec::with_capacity(BATCH);
        let mut bytes = Vec::new();
        while let Some(line) = lines.next_into(&mut bytes) {
            let item = line.and_then(|line| {
                let (key, values) = light(&bytes, &columns, &path, line)?;
                let (id, new) = match ids.get(&key) {
                    Some(&id) => (id, false),
                    None => {
                        let id = ids.len();
                        ids.insert(key.clone(), id);
                        (id, true)
                    }
                };
                let row = if every_row_whole || new {
                    Some(parse_row(&bytes, &path, line)?)
                } else {
                    None
                };
                Ok(SrcRow {
                    line,
                    key,
                    id,
                    values,
                    row,
                })
            });
            batch.push(item);
            if batch.len() == BATCH
                && tx
                    .blocking_send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                    .is_err()
            {
                return;
            }
        }
        if !batch.is_empty() {
            // As above: if the run is gone, the batch has nowhere to go.
            let _ = tx.blocking_send(batch);
        }
    });
    (rx, handle)
}

/// Extracts the key and the kept columns of one line. On any problem the line
/// is parsed in full, which gives the precise error (invalid JSON, not an
/// object, missing or bad key).
fn light(
    bytes: &[u8],
    columns: &[String],
    path: &Path,
    line: u64,
) -> Result<(Value, Vec<Option<Value>>), Error> {
    let mut values = vec![None; columns.len()];
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = (Pick {
        columns,
        values: &mut values,
    })
    .deserialize(&mut de)
    .and_then(|()| de.end());
    let key = match (parsed, &values[0]) {
        (Ok(()), Some(key @ (Value::String(_) | Value::Number(_) | Value::Bool(_)))) => key.clone(),
        _ => {
            let row = parse_row(bytes, path, line)?;
            key_of(&row, &columns[0], path, line)?;
            // The full parse found nothing wrong: the light one cannot fail
            // where it succeeds, but take the full row's values to be sure.
            return Ok(pick_from(&row, columns));
        }
    };
    Ok((key, values))
}

fn pick_from(row: &Row, columns: &[String]) -> (Value, Vec<Option<Value>>) {
    let values: Vec<Option<Value>> = columns.iter().map(|c| row.get(c).cloned()).collect();
    (values[0].clone().unwrap_or(Value::Null), values)
}

/// Deserializes a JSON object, keeping only the values of `columns`.
struct Pick<'a> {
    columns: &'a [String],
    values: &'a mut Vec<Option<Value>>,
}

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(column) = map.next_key_seed(ColumnIndex(self.columns))? {
            match column {
                Some(i) => self.values[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Deserializes a field name into its index in `columns`, without allocating.
struct ColumnIndex<'a>(&'a [String]);

impl<'de> DeserializeSeed<'de> for ColumnIndex<'_> {
    type Value = Option<usize>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for ColumnIndex<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|c| c == name))
    }
}
