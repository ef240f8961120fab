//! Reading a key's result back from the destination when a row needs it.
//!
//! A resume keeps no results in memory: for a key whose rows are only partly
//! in the destination it keeps where its first row starts, and the first
//! later row of that key in the source reads that one line back. The line
//! was checked by the scan that found it, and the run's lock keeps every
//! other writer away, so reading it again cannot fail but for the disk.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use memchr::memchr;

use super::error::Error;
use super::picked::Columns;
use super::read::parse_row;
use super::Row;

/// Bytes read at first for a line, before any line was read.
const FIRST_READ: usize = 256;

/// The most bytes read at a time while looking for the end of a line.
const CHUNK: usize = 16 * 1024;

/// The destination, opened for reading on first use.
#[derive(Debug)]
pub(crate) struct StoredRows {
    path: PathBuf,
    file: Option<File>,
    buf: Vec<u8>,
    /// Bytes the next read asks for first: a little more than the last line
    /// read. A fresh run whose keys come back after more keys than the cache
    /// holds reads one line per row, and rows of one file are alike in
    /// length, so one short read usually takes the whole line, where a
    /// fixed 16 KiB read copied 16 KiB per row from the page cache (3M rows,
    /// 300k keys: most of the run's time).
    guess: usize,
}

impl StoredRows {
    pub(crate) fn new(path: &Path) -> StoredRows {
        StoredRows {
            path: path.to_path_buf(),
            file: None,
            buf: Vec::new(),
            guess: FIRST_READ,
        }
    }

    /// The result of `f` that the row starting at byte `at` holds: the row
    /// without its key column and without the kept columns, which are the
    /// source's, except those in `replaced` (indices in `columns`), which
    /// the result replaced (see [`replaced`](super::replaced)). The order of
    /// the row's fields says nothing: tools reorder them.
    pub(crate) fn result_at(
        &mut self,
        at: u64,
        columns: &Columns,
        replaced: &[usize],
    ) -> Result<Row, Error> {
        let mut row = self.row_at(at)?;
        for (column, name) in columns.names().iter().enumerate() {
            if !replaced.contains(&column) {
                row.remove(name);
            }
        }
        Ok(row)
    }

    /// The error for a row that a scan found good and is no longer.
    fn changed(&self, at: u64, why: &str) -> Error {
        Error::io(
            "reading back",
            &self.path,
            std::io::Error::other(format!(
                "the row at byte {at} changed since it was checked: {why}"
            )),
        )
    }

    /// The row whose line starts at byte `at`.
    ///
    /// This is a blocking read, done on the task that places rows: once
    /// per key that a resume finds half done, and once per later row of a
    /// key whose result left the cache (a fresh run whose keys come back
    /// after more keys than the cache holds). The line was written or
    /// scanned by this run, so it is read from the page cache.
    pub(crate) fn row_at(&mut self, at: u64) -> Result<Row, Error> {
        let file = match &self.file {
            Some(file) => file,
            None => {
                let file =
                    File::open(&self.path).map_err(|e| Error::io("opening", &self.path, e))?;
                self.file.insert(file)
            }
        };
        self.buf.clear();
        let mut ask = self.guess;
        loop {
            let start = self.buf.len();
            self.buf.resize(start + ask, 0);
            ask = CHUNK;
            let n = file
                .read_at(&mut self.buf[start..], at + start as u64)
                .map_err(|e| Error::io("reading", &self.path, e))?;
            self.buf.truncate(start + n);
            if let Some(end) = memchr(b'\n', &self.buf[start..]) {
                self.buf.truncate(start + end);
                break;
            }
            if n == 0 {
                break;
            }
        }
        self.guess = (self.buf.len() + self.buf.len() / 4 + 2).clamp(FIRST_READ, CHUNK);
        parse_row(&self.buf, &self.path, 0).map_err(|e| self.changed(at, &e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::jsonl::within::within;

    /// Bounded: a read loop that never finds the line's end would spin.
    /// Whatever line was read before (which sets the first read's size),
    /// every line comes back whole: lengths around the first read, its
    /// growth and the chunk, read in both orders.
    #[test]
    fn every_line_comes_back_whole_after_lines_of_any_length() {
        within(Duration::from_secs(20), || {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("out.jsonl");
            let lengths = [
                0,
                1,
                200,
                240,
                241,
                255,
                256,
                257,
                300,
                1000,
                CHUNK - 1,
                CHUNK,
                CHUNK + 1,
                3 * CHUNK,
            ];
            let mut text = String::new();
            let mut starts = Vec::new();
            for (id, len) in lengths.iter().enumerate() {
                starts.push(text.len() as u64);
                text.push_str(&format!(
                    "{{\"id\": {id}, \"pad\": \"{}\"}}\n",
                    "p".repeat(*len)
                ));
            }
            std::fs::write(&path, &text).unwrap();
            let mut stored = StoredRows::new(&path);
            let order: Vec<usize> = (0..lengths.len()).chain((0..lengths.len()).rev()).collect();
            for id in order {
                let row = stored.row_at(starts[id]).unwrap();
                assert_eq!(row["id"], id, "line {id}");
                assert_eq!(row["pad"].as_str().unwrap().len(), lengths[id], "line {id}");
            }
        });
    }

    #[test]
    fn reads_the_line_at_an_offset_whatever_its_length() {
        within(Duration::from_secs(20), || {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("out.jsonl");
            let long = "x".repeat(3 * CHUNK);
            let first = format!("{{\"id\": 1, \"long\": \"{long}\"}}\n");
            std::fs::write(&path, format!("{first}{{\"id\": 2}}\n{{\"id\": 3}}")).unwrap();
            let mut stored = StoredRows::new(&path);
            let row = |stored: &mut StoredRows, at: usize| {
                stored.row_at(at as u64).unwrap()["id"].clone()
            };
            assert_eq!(row(&mut stored, first.len()), 2);
            assert_eq!(row(&mut stored, 0), 1);
            assert_eq!(row(&mut stored, first.len() + "{\"id\": 2}\n".len()), 3);
            assert!(stored.row_at(1).is_err());
        });
    }
}
