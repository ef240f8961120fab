//! A directory of files read line by line (one partition per file), and a
//! directory of files written line by line (items routed by key).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::files::{FileSinkPartition, DEFAULT_BATCH_SIZE};
use super::{Line, LinesPartition};
use crate::inputs::{FixedPartitionedSource, SourceError};
use crate::outputs::{FixedPartitionedSink, SinkError};
use crate::routing::stable_hash;

/// Reads every file of a directory whose name matches a glob, line by line.
///
/// Each file is one partition (keyed by its name), so files are the unit of
/// parallelism: each is read by one worker, and lines of different files
/// interleave. Subdirectories are not entered. Lines and resume state are as
/// for [`FileSource`](super::FileSource).
///
/// # Examples
///
/// ```
/// use pipework_dataflow::connectors::DirSource;
/// use pipework_dataflow::inputs::FixedPartitionedSource;
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "1\n")?;
/// std::fs::write(dir.path().join("b.txt"), "2\n")?;
/// std::fs::write(dir.path().join("c.log"), "3\n")?;
/// let source = DirSource::new(dir.path()).glob("*.txt");
/// assert_eq!(source.list_parts()?, vec!["a.txt", "b.txt"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DirSource {
    dir: PathBuf,
    glob: String,
    batch_size: usize,
}

impl DirSource {
    /// Reads all files (`*`) in `dir`, 1000 lines a batch.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        DirSource {
            dir: dir.as_ref().to_path_buf(),
            glob: "*".to_owned(),
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }

    /// Reads only files whose name matches `pattern` (`*`, `?`, `[...]`).
    pub fn glob(mut self, pattern: impl Into<String>) -> Self {
        self.glob = pattern.into();
        self
    }

    /// Sets the number of lines per batch (at least 1).
    pub fn batch_size(mut self, lines: usize) -> Self {
        self.batch_size = lines;
        self
    }
}

impl FixedPartitionedSource for DirSource {
    type Item = Line;
    type State = u64;
    type Partition = LinesPartition;

    /// The names of the matching files, sorted.
    ///
    /// # Errors
    ///
    /// [`SourceError::NotFound`] when the directory does not exist,
    /// [`SourceError::NotADirectory`] when it is a file,
    /// [`SourceError::InvalidGlob`] for a bad pattern, and
    /// [`SourceError::Io`] when it cannot be listed.
    fn list_parts(&self) -> Result<Vec<String>, SourceError> {
        if !self.dir.exists() {
            return Err(SourceError::NotFound {
                path: self.dir.clone(),
            });
        }
        if !self.dir.is_dir() {
            return Err(SourceError::NotADirectory {
                path: self.dir.clone(),
            });
        }
        let pattern = glob::Pattern::new(&self.glob).map_err(|err| SourceError::InvalidGlob {
            pattern: self.glob.clone(),
            message: err.msg.to_owned(),
        })?;
        let io = |source| SourceError::Io {
            path: self.dir.clone(),
            source,
        };
        let mut parts = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            if !entry.path().is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if pattern.matches(&name) {
                parts.push(name);
            }
        }
        parts.sort();
        Ok(parts)
    }

    fn build_part(
        &self,
        _now: SystemTime,
        part: &str,
        resume_state: Option<u64>,
    ) -> Result<LinesPartition, SourceError> {
        let is_plain_name = Path::new(part)
            .file_name()
            .map(|name| name == part)
            .unwrap_or(false);
        let path = self.dir.join(part);
        if !is_plain_name || !path.is_file() {
            return Err(SourceError::UnknownPart {
                part: part.to_owned(),
            });
        }
        LinesPartition::open(&path, part, self.batch_size, resume_state)
    }
}

type Namer = Arc<dyn Fn(usize, usize) -> String + Send + Sync>;
type Assigner = Arc<dyn Fn(&str) -> usize + Send + Sync>;

/// Writes `(key, line)` items to `file_count` files in a directory, each
/// file a partition written by one worker.
///
/// The file for an item is `assign_file(key) % file_count` (default: a stable
/// hash of the key); files are named `part_{i}` unless
/// [`file_namer`](Self::file_namer) says otherwise. Resume truncates each file
/// to its snapshot offset, as [`FileSink`](super::FileSink) does.
///
/// # Examples
///
/// ```
/// use pipework_dataflow::connectors::DirSink;
/// use pipework_dataflow::outputs::FixedPartitionedSink;
///
/// let sink = DirSink::new("out", 3).assign_file(|key| key.parse().unwrap_or(0));
/// assert_eq!(sink.list_parts(), vec!["part_0", "part_1", "part_2"]);
/// assert_eq!(sink.part_fn("2"), 2);
/// ```
#[derive(Clone)]
pub struct DirSink {
    dir: PathBuf,
    file_count: usize,
    namer: Namer,
    assign: Assigner,
}

impl fmt::Debug for DirSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirSink")
            .field("dir", &self.dir)
            .field("file_count", &self.file_count)
            .finish_non_exhaustive()
    }
}

impl DirSink {
    /// Writes `file_count` files into the existing directory `dir`.
    pub fn new(dir: impl AsRef<Path>, file_count: usize) -> Self {
        DirSink {
            dir: dir.as_ref().to_path_buf(),
            file_count,
            namer: Arc::new(|index, _count| format!("part_{index}")),
            assign: Arc::new(|key| stable_hash(key) as usize),
        }
    }

    /// Names file `index` of `count`.
    pub fn file_namer(
        mut self,
        namer: impl Fn(usize, usize) -> String + Send + Sync + 'static,
    ) -> Self {
        self.namer = Arc::new(namer);
        self
    }

    /// Picks the file index for an item key (wrapped to the file count).
    pub fn assign_file(mut self, assign: impl Fn(&str) -> usize + Send + Sync + 'static) -> Self {
        self.assign = Arc::new(assign);
        self
    }
}

impl FixedPartitionedSink for DirSink {
    type Item = String;
    type State = u64;
    type Partition = FileSinkPartition;

    fn list_parts(&self) -> Vec<String> {
        (0..self.file_count)
            .map(|index| (self.namer)(index, self.file_count))
            .collect()
    }

    fn part_fn(&self, item_key: &str) -> usize {
        (self.assign)(item_key)
    }

    fn build_part(
        &self,
        part: &str,
        resume_state: Option<u64>,
    ) -> Result<FileSinkPartition, SinkError> {
        if !self.list_parts().iter().any(|name| name == part) {
            return Err(SinkError::UnknownPart {
                part: part.to_owned(),
            });
        }
        FileSinkPartition::open(&self.dir.join(part), resume_state)
    }
}
