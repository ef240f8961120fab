//! A file read line by line, and a file written line by line.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{Line, LinesPartition};
use crate::inputs::{FixedPartitionedSource, SourceError};

use crate::outputs::{FixedPartitionedSink, SinkError, StatefulSinkPartition};

/// Default number of lines per batch, as in bytewax.
pub(crate) const DEFAULT_BATCH_SIZE: usize = 1000;

/// Reads one file line by line; one partition, whose key is the path.
///
/// Each item is a [`Line`] (text sharing the chunk it was read in, see
/// [`LinesPartition`]) without its `\n` (or `\r\n`); blank lines are kept.
/// The resume state is the byte offset of the next line, so a resumed read
/// starts exactly after the last line emitted.
///
/// # Examples
///
/// ```
/// use std::time::SystemTime;
/// use pipework_dataflow::connectors::FileSource;
/// use pipework_dataflow::inputs::{FixedPartitionedSource, StatefulSourcePartition};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("in.txt");
/// std::fs::write(&path, "a\n\nb\n")?;
/// let source = FileSource::new(&path).batch_size(2);
/// let parts = source.list_parts()?;
/// let mut part = source.build_part(SystemTime::now(), &parts[0], None)?;
/// assert_eq!(part.next_batch()?.unwrap(), ["a", ""]);
/// let offset = part.snapshot();
/// assert_eq!(offset, 3);
/// assert_eq!(part.next_batch()?.unwrap(), ["b"]);
/// assert_eq!(part.next_batch()?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
    batch_size: usize,
}

impl FileSource {
    /// Reads `path`, 1000 lines a batch.
    pub fn new(path: impl AsRef<Path>) -> Self {
        FileSource {
            path: path.as_ref().to_path_buf(),
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }

    /// Sets the number of lines per batch (at least 1; 0 is an error when the
    /// partition is built).
    pub fn batch_size(mut self, lines: usize) -> Self {
        self.batch_size = lines;
        self
    }
}

impl FixedPartitionedSource for FileSource {
    type Item = Line;
    type State = u64;
    type Partition = LinesPartition;

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
        resume_state: Option<u64>,
    ) -> Result<LinesPartition, SourceError> {
        SourceError::check_only_part(part, &self.path.display().to_string())?;
        LinesPartition::open(&self.path, part, self.batch_size, resume_state)
    }
}

/// The key of the one partition of a source reading the file at `path`:
/// the path itself.
///
/// # Errors
///
/// [`SourceError::NotFound`] when the file does not exist.
pub(crate) fn file_part(path: &Path) -> Result<String, SourceError> {
    if !path.exists() {
        return Err(SourceError::NotFound {
            path: path.to_path_buf(),
        });
    }
    Ok(path.display().to_string())
}

/// Writes each value as one line of a single file (bytewax's `FileSink`).
///
/// Items are `(key, line)` pairs, as for every
/// [`FixedPartitionedSink`]; the key is ignored, since there is one partition
/// (one worker writes the file). Building the partition anew truncates the
/// file; resuming truncates it to the snapshot offset, so lines written after
/// the snapshot are not duplicated.
///
/// # Examples
///
/// ```
/// use pipework_dataflow::connectors::FileSink;
/// use pipework_dataflow::outputs::{FixedPartitionedSink, StatefulSinkPartition};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("out.txt");
/// let sink = FileSink::new(&path);
/// let part_key = &sink.list_parts()[0];
/// let mut part = sink.build_part(part_key, None)?;
/// part.write_batch(vec!["one".into()])?;
/// let offset = part.snapshot()?;
/// part.write_batch(vec!["two".into()])?;
/// part.close()?;
/// let mut part = sink.build_part(part_key, Some(offset))?;
/// part.write_batch(vec!["three".into()])?;
/// part.close()?;
/// assert_eq!(std::fs::read_to_string(&path)?, "one\nthree\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FileSink {
    path: PathBuf,
}

impl FileSink {
    /// Writes to `path`, creating it if needed.
    pub fn new(path: impl AsRef<Path>) -> Self {
        FileSink {
            path: path.as_ref().to_path_buf(),
        }
    }
}

impl FixedPartitionedSink for FileSink {
    type Item = String;
    type State = u64;
    type Partition = FileSinkPartition;

    fn list_parts(&self) -> Vec<String> {
        vec![self.path.display().to_string()]
    }

    fn part_fn(&self, _item_key: &str) -> usize {
        0
    }

    fn build_part(
        &self,
        part: &str,
        resume_state: Option<u64>,
    ) -> Result<FileSinkPartition, SinkError> {
        if part != self.path.display().to_string() {
            return Err(SinkError::UnknownPart {
                part: part.to_owned(),
            });
        }
        FileSinkPartition::open(&self.path, resume_state)
    }
}

/// A partition writing lines to one file, resumable by byte offset; built by
/// [`FileSink`] and [`DirSink`](super::DirSink).
#[derive(Debug)]
pub struct FileSinkPartition {
    path: PathBuf,
    writer: BufWriter<File>,
    offset: u64,
}

impl FileSinkPartition {
    pub(crate) fn open(path: &Path, resume_state: Option<u64>) -> Result<Self, SinkError> {
        let io = |source| SinkError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let offset = resume_state.unwrap_or(0);
        file.set_len(offset).map_err(io)?;
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        Ok(FileSinkPartition {
            path: path.to_path_buf(),
            writer: BufWriter::with_capacity(64 * 1024, file),
            offset,
        })
    }

    fn io(&self, source: std::io::Error) -> SinkError {
        SinkError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

impl StatefulSinkPartition for FileSinkPartition {
    type Item = String;
    type State = u64;

    fn write_batch(&mut self, items: Vec<String>) -> Result<(), SinkError> {
        for item in items {
            let written = self
                .writer
                .write_all(item.as_bytes())
                .and_then(|()| self.writer.write_all(b"\n"));
            written.map_err(|source| self.io(source))?;
            self.offset += item.len() as u64 + 1;
        }
        Ok(())
    }

    fn snapshot(&mut self) -> Result<u64, SinkError> {
        self.writer.flush().map_err(|source| self.io(source))?;
        self.writer
            .get_ref()
            .sync_data()
            .map_err(|source| self.io(source))?;
        Ok(self.offset)
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.writer.flush().map_err(|source| self.io(source))
    }
}
