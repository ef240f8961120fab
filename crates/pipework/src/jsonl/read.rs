//! Reading a JSONL file row by row, with errors that name file and line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::{kind_of, Error};
use super::exact_value::parse_value_bytes;
use super::key_ids::{canonical, canonical_raw, KeyBatch};
use super::picked::pick_key;
use super::Row;

/// Opens a JSONL file for reading row by row.
///
/// Blank lines (only whitespace) are skipped; they still count for line
/// numbers. CRLF line ends and a UTF-8 byte order mark at the start of the
/// file are accepted.
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
    Ok(Rows {
        lines: read_lines(path.as_ref())?,
        buf: Vec::new(),
    })
}

/// An iterator over the rows of a JSONL file, made by [`read`].
///
/// Yields `(line, row)` with the 1-based line number, or an error naming the
/// file and line. After a bad line it goes on with the next one; after an I/O
/// error it ends.
#[derive(Debug)]
pub struct Rows {
    lines: Lines,
    buf: Vec<u8>,
}

impl Rows {
    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.lines.path
    }
}

impl Iterator for Rows {
    type Item = Result<(u64, Row), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let line = match self.lines.next_into(&mut self.buf)? {
            Ok(line) => line,
            Err(e) => return Some(Err(e)),
        };
        Some(parse_row(&self.buf, &self.lines.path, line).map(|row| (line, row)))
    }
}

/// Parses one line as a JSON object.
pub(crate) fn parse_row(bytes: &[u8], path: &Path, line: u64) -> Result<Row, Error> {
    match parse_value_bytes(bytes) {
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

/// The key column of one line, parsing no more of the line than it takes
/// to check it: errors are those of [`parse_row`] and [`key_of`].
pub(crate) fn key_of_line(bytes: &[u8], key: &str, path: &Path, line: u64) -> Result<Value, Error> {
    if let Ok(Some(raw)) = pick_key(bytes, key) {
        if let Ok(value @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) =
            serde_json::from_str(raw.get())
        {
            return Ok(value);
        }
    }
    // Something is wrong with the line: the full parse says what, precisely.
    let row = parse_row(bytes, path, line)?;
    key_of(&row, key, path, line)
}

/// Adds the canonical text of the key column of one line to `keys`, as
/// [`key_of_line`] would find it, without building the key when its text is
/// canonical already (most are).
pub(crate) fn key_text_of_line(
    bytes: &[u8],
    key: &str,
    path: &Path,
    line: u64,
    keys: &mut KeyBatch,
) -> Result<(), Error> {
    if let Ok(Some(raw)) = pick_key(bytes, key) {
        let added = keys.push(|text| match canonical_raw(raw.get(), text) {
            Some(Ok(())) => Ok(()),
            // Not a string, number or boolean, or not a valid one: the
            // slow path says which.
            _ => Err(()),
        });
        if added.is_ok() {
            return Ok(());
        }
    }
    let value = key_of_line(bytes, key, path, line)?;
    keys.push(|text| {
        canonical(&value, text);
        Ok::<(), Error>(())
    })
}

/// The UTF-8 encoding of U+FEFF, the byte order mark.
pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The non-blank lines of a file with their 1-based numbers, as raw bytes.
/// A UTF-8 byte order mark at the start of the file is dropped.
pub(crate) fn read_lines(path: &Path) -> Result<Lines, Error> {
    let file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    Ok(Lines {
        reader: BufReader::with_capacity(256 * 1024, file),
        path: path.to_path_buf(),
        line: 0,
        offset: 0,
        line_start: 0,
        done: false,
    })
}

/// A reader of raw lines, made by [`read_lines`].
#[derive(Debug)]
pub(crate) struct Lines {
    reader: BufReader<File>,
    path: PathBuf,
    line: u64,
    /// Bytes read so far.
    offset: u64,
    /// Where the last line returned starts in the file.
    line_start: u64,
    done: bool,
}

impl Lines {
    /// The file's size when it was opened.
    pub(crate) fn len(&self) -> Result<u64, Error> {
        let meta = self.reader.get_ref().metadata();
        Ok(meta.map_err(|e| Error::io("reading", &self.path, e))?.len())
    }

    /// Bytes of the file read so far: the end of the last line returned.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.offset
    }

    /// Where the last line returned starts in the file (after a byte order mark).
    pub(crate) fn line_start(&self) -> u64 {
        self.line_start
    }

    /// Reads the next non-blank line into `buf` (replacing its contents) and
    /// returns its number; `None` at the end of the file.
    pub(crate) fn next_into(&mut self, buf: &mut Vec<u8>) -> Option<Result<u64, Error>> {
        loop {
            if self.done {
                return None;
            }
            buf.clear();
            match self.reader.read_until(b'\n', buf) {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(n) => {
                    self.line_start = self.offset;
                    self.offset += n as u64;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::io("reading", &self.path, e)));
                }
            }
            self.line += 1;
            if self.line == 1 && buf.starts_with(UTF8_BOM) {
                // Some editors and Windows tools start UTF-8 files with a
                // byte order mark; JSON parsers refuse it, and it is invisible
                // in the error message, so it is dropped here.
                buf.drain(..UTF8_BOM.len());
                self.line_start += UTF8_BOM.len() as u64;
            }
            if !buf.iter().all(u8::is_ascii_whitespace) {
                return Some(Ok(self.line));
            }
        }
    }
}
