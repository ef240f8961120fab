//! Reading a JSONL file row by row, with errors that name file and line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::{kind_of, Error};
use super::Row;

/// Opens a JSONL file for reading row by row.
///
/// Blank lines (only whitespace) are skipped; they still count for line numbers.
/// This is a blocking reader: inside async code, run it on
/// [`spawn_blocking`](tokio::task::spawn_blocking), as this module does.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be opened.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("in.jsonl");
/// std::fs::write(&path, "{\"id\": 1}\n\n[2]\n")?;
///
/// let mut rows = pipework::jsonl::read(&path)?;
/// let (line, row) = rows.next().unwrap()?;
/// assert_eq!((line, row["id"].as_u64()), (1, Some(1)));
/// let err = rows.next().unwrap().unwrap_err();
/// assert!(err.to_string().ends_with("in.jsonl:3: expected a json object, found an array"));
/// assert!(rows.next().is_none());
/// # Ok(())
/// # }
/// ```
pub fn read(path: impl AsRef<Path>) -> Result<Rows, Error> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    Ok(Rows {
        reader: BufReader::with_capacity(64 * 1024, file),
        path: path.to_path_buf(),
        line: 0,
        buf: Vec::new(),
        done: false,
    })
}

/// An iterator over the rows of a JSONL file, made by [`read`].
///
/// Yields `(line, row)` with the 1-based line number, or an error naming the
/// file and line. After a bad line it goes on with the next one; after an I/O
/// error it ends.
#[derive(Debug)]
pub struct Rows {
    reader: BufReader<File>,
    path: PathBuf,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl Rows {
    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Iterator for Rows {
    type Item = Result<(u64, Row), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::io("reading", &self.path, e)));
                }
            }
            self.line += 1;
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(parse_row(&self.buf, &self.path, self.line).map(|row| (self.line, row)));
        }
    }
}

/// Parses one line as a JSON object.
pub(crate) fn parse_row(bytes: &[u8], path: &Path, line: u64) -> Result<Row, Error> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(row)) => Ok(row),
        Ok(other) => Err(Error::NotAnObject {
            path: path.to_path_buf(),
            line,
            found: kind_of(&other),
        }),
        Err(cause) => Err(Error::InvalidJson {
            path: path.to_path_buf(),
            line,
            cause,
        }),
    }
}

/// Takes the key column of a row and checks that it is a string, number or boolean.
pub(crate) fn key_of(row: &Row, key: &str, path: &Path, line: u64) -> Result<Value, Error> {
    match row.get(key) {
        None => Err(Error::MissingKey {
            path: path.to_path_buf(),
            line,
            key: key.to_owned(),
        }),
        Some(value @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => Ok(value.clone()),
        Some(other) => Err(Error::BadKey {
            path: path.to_path_buf(),
            line,
            key: key.to_owned(),
            found: kind_of(other),
        }),
    }
}

/// Rows the reader thread sends per message.
const BATCH: usize = 128;
/// Messages the reader thread may queue ahead.
const QUEUED_BATCHES: usize = 4;

/// A source row with its line number and validated key.
#[derive(Debug)]
pub(crate) struct SrcRow {
    pub(crate) line: u64,
    pub(crate) key: Value,
    pub(crate) row: Row,
}

/// Reads `path` on a blocking thread, checks each row's `key` column, and
/// sends the rows in batches over a bounded channel. The thread ends at the
/// end of the file, after an I/O error, or when the receiver is dropped; when
/// the channel closes, the caller joins the handle to tell the end of the file
/// from a crash of the thread.
pub(crate) fn spawn_reader(
    path: PathBuf,
    key: String,
) -> (
    tokio::sync::mpsc::Receiver<Vec<Result<SrcRow, Error>>>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(QUEUED_BATCHES);
    // A send error means the run was dropped or has ended: the thread stops.
    let handle = tokio::task::spawn_blocking(move || {
        let rows = match read(&path) {
            Ok(rows) => rows,
            Err(e) => {
                let _ = tx.blocking_send(vec![Err(e)]);
                return;
            }
        };
        let mut batch = Vec::with_capacity(BATCH);
        for item in rows {
            let item = item.and_then(|(line, row)| {
                let key = key_of(&row, &key, &path, line)?;
                Ok(SrcRow { line, key, row })
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
            let _ = tx.blocking_send(batch);
        }
    });
    (rx, handle)
}
