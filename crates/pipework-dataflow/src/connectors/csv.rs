//! A CSV file read row by row, each row a map from column name to value.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::files::{file_part, DEFAULT_BATCH_SIZE};
use crate::inputs::{FixedPartitionedSource, SourceError, StatefulSourcePartition};

/// One CSV row: column name (from the header) to value.
pub type CsvRow = BTreeMap<String, String>;

/// Where a CSV partition resumes: the byte offset and line number of the next
/// record. The header is read again from the start of the file on resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvPosition {
    /// Byte offset of the next record.
    pub byte: u64,
    /// 1-based line number of the next record.
    pub line: u64,
}

/// Reads a CSV file with a header row; each record becomes a [`CsvRow`].
///
/// One partition, keyed by the path (bytewax's `CSVSource`). A record with
/// more or fewer fields than the header is an error naming file and line.
///
/// # Examples
///
/// ```
/// use std::time::SystemTime;
/// use pipework_dataflow::connectors::CsvSource;
/// use pipework_dataflow::inputs::{FixedPartitionedSource, StatefulSourcePartition};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("m.csv");
/// std::fs::write(&path, "index,value\n0,0.5\n1,0.25\n")?;
/// let source = CsvSource::new(&path);
/// let part_key = &source.list_parts()?[0];
/// let mut part = source.build_part(SystemTime::now(), part_key, None)?;
/// let rows = part.next_batch()?.unwrap();
/// assert_eq!(rows[1]["value"], "0.25");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CsvSource {
    path: PathBuf,
    batch_size: usize,
    delimiter: u8,
}

impl CsvSource {
    /// Reads `path`, comma-separated, 1000 rows a batch.
    pub fn new(path: impl AsRef<Path>) -> Self {
        CsvSource {
            path: path.as_ref().to_path_buf(),
            batch_size: DEFAULT_BATCH_SIZE,
            delimiter: b',',
        }
    }

    /// Sets the field delimiter.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Sets the number of rows per batch (at least 1).
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows;
        self
    }
}

impl FixedPartitionedSource for CsvSource {
    type Item = CsvRow;
    type State = CsvPosition;
    type Partition = CsvPartition;

    /// One partition, keyed by the path.
    ///
    /// # Errors
    ///
    /// [`SourceError::NotFound`] when the file does not exist.
    fn list_parts(&self) -> Result<Vec<String>, SourceError> {
        Ok(vec![file_part(&self.path)?])
    }

    fn build_part(
        &self,
        _now: SystemTime,
        part: &str,
        resume_state: Option<CsvPosition>,
    ) -> Result<CsvPartition, SourceError> {
        SourceError::check_only_part(part, &self.path.display().to_string())?;
        SourceError::check_batch_size(self.batch_size)?;
        let file = File::open(&self.path).map_err(|source| SourceError::Io {
            path: self.path.clone(),
            source,
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .from_reader(file);
        let headers = reader
            .headers()
            .map_err(|err| csv_error(&self.path, &err))?
            .clone();
        if let Some(resume) = resume_state {
            let mut pos = csv::Position::new();
            pos.set_byte(resume.byte).set_line(resume.line);
            reader
                .seek(pos)
                .map_err(|err| csv_error(&self.path, &err))?;
        }
        Ok(CsvPartition {
            path: self.path.clone(),
            reader,
            headers,
            batch_size: self.batch_size,
        })
    }
}

fn csv_error(path: &Path, err: &csv::Error) -> SourceError {
    let line = err.position().map(|pos| pos.line()).unwrap_or(0);
    SourceError::Csv {
        path: path.to_path_buf(),
        line,
        message: err.to_string(),
    }
}

/// The partition of a [`CsvSource`].
#[derive(Debug)]
pub struct CsvPartition {
    path: PathBuf,
    reader: csv::Reader<File>,
    headers: csv::StringRecord,
    batch_size: usize,
}

impl StatefulSourcePartition for CsvPartition {
    type Item = CsvRow;
    type State = CsvPosition;

    fn next_batch(&mut self) -> Result<Option<Vec<CsvRow>>, SourceError> {
        let mut batch = Vec::new();
        let mut record = csv::StringRecord::new();
        while batch.len() < self.batch_size {
            let more = self
                .reader
                .read_record(&mut record)
                .map_err(|err| csv_error(&self.path, &err))?;
            if !more {
                break;
            }
            let row = self
                .headers
                .iter()
                .zip(record.iter())
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            batch.push(row);
        }
        Ok(if batch.is_empty() { None } else { Some(batch) })
    }

    fn snapshot(&self) -> CsvPosition {
        let pos = self.reader.position();
        CsvPosition {
            byte: pos.byte(),
            line: pos.line(),
        }
    }
}
