//! SRC as a run reads it: a regular file as it is, or a stream (`-`,
//! `/dev/stdin`, a pipe, a FIFO, `<(…)`) copied once to a spool file beside
//! DST.
//!
//! A run reads SRC twice: once here to count its rows (the progress total),
//! then in the library to do them. A second read of a pipe finds nothing, so
//! a stream is read exactly once, into a spool file the rest of the run
//! reads like any SRC file; memory stays bounded whatever the stream's
//! size. The spool lives beside DST (on DST's disk, which must hold DST's
//! rows anyway, and where the user looks), is named `.DST.src-XXXXXX`, and
//! is removed when the run ends, also after an error or a signal. Only a
//! `kill -9` leaves it behind. A rerun fed the same stream again spools it
//! again and resumes as it would from a file.
//!
//! The reading runs on a thread of its own, not on the runtime's blocking
//! pool: a FIFO with no writer blocks its reader forever, and the runtime
//! waits for its blocking threads when it shuts down, so an interrupted run
//! would hang there. The thread ends at the end of SRC, or with the process.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::progress::Progress;

/// Bytes of SRC read between two progress reports.
const REPORT_EVERY: u64 = 16 << 20;

/// SRC, ready for the library, and how many rows it has.
#[derive(Debug)]
pub(crate) struct Source {
    /// The file the library reads: SRC itself, or the spool.
    path: PathBuf,
    /// The non-blank lines: what the library takes as rows.
    pub(crate) rows: u64,
    /// Removes the spool file when dropped (`path` is then its path).
    _spool: Option<tempfile::TempPath>,
}

/// How reading SRC ended, if not with its rows.
#[derive(Debug)]
pub(crate) enum Stopped {
    /// `stop` was cancelled (a signal) first.
    Interrupted,
    /// Reading or spooling failed.
    Failed(anyhow::Error),
}

impl Source {
    /// Reads `src` (`-` is standard input) once: counts a regular file's
    /// rows, or copies a stream into a spool beside `dst` while counting.
    /// Gives up as soon as `stop` is cancelled.
    pub(crate) async fn open(
        src: &Path,
        dst: &Path,
        progress: &Arc<Progress>,
        stop: &CancellationToken,
    ) -> Result<Source, Stopped> {
        let stdin = src == Path::new("-");
        let meta = if stdin {
            None
        } else {
            Some(std::fs::metadata(src).map_err(|e| {
                Stopped::Failed(anyhow::Error::new(e).context(format!("reading {}", src.display())))
            })?)
        };
        if meta.as_ref().is_some_and(std::fs::Metadata::is_dir) {
            return Err(Stopped::Failed(anyhow::anyhow!(
                "{} is a directory, not a JSONL file",
                src.display()
            )));
        }
        let spool = match &meta {
            Some(meta) if meta.is_file() => None,
            _ => Some(spool_beside(dst).map_err(Stopped::Failed)?),
        };
        let name = if stdin {
            PathBuf::from("standard input")
        } else {
            src.to_path_buf()
        };
        let size = meta.as_ref().filter(|m| m.is_file()).map(|m| m.len());
        let (done, counted) = oneshot::channel();
        let reader = {
            let (src, progress) = (src.to_path_buf(), Arc::clone(progress));
            let copy_to = spool.as_ref().map(|(file, _)| file.try_clone());
            move || {
                let read = || -> io::Result<u64> {
                    let input: Box<dyn Read> = if stdin {
                        Box::new(io::stdin().lock())
                    } else {
                        // Blocks until a FIFO has a writer: this thread's
                        // reason to exist.
                        Box::new(File::open(&src)?)
                    };
                    let copy_to = copy_to.transpose()?;
                    count_rows(input, copy_to, |read| progress.checking("SRC", read, size))
                };
                // Nobody waits any more after an interrupt: nothing to tell.
                let _ = done.send(read());
            }
        };
        std::thread::Builder::new()
            .name("pipework-src".to_owned())
            .spawn(reader)
            .map_err(|e| Stopped::Failed(anyhow::Error::new(e).context("starting to read SRC")))?;
        let rows = tokio::select! {
            counted = counted => counted
                .map_err(|_| anyhow::anyhow!("the thread reading SRC is gone"))
                .and_then(|rows| rows.with_context(|| match &spool {
                    Some((_, path)) => format!("copying {} to {}", name.display(), path.display()),
                    None => format!("reading {}", name.display()),
                }))
                .map_err(Stopped::Failed)?,
            () = stop.cancelled() => return Err(Stopped::Interrupted),
        };
        Ok(match spool {
            Some((_, path)) => Source {
                path: path.to_path_buf(),
                rows,
                _spool: Some(path),
            },
            None => Source {
                path: src.to_path_buf(),
                rows,
                _spool: None,
            },
        })
    }

    /// The file the library reads as SRC.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// How messages name SRC where the library named the spool, if SRC
    /// was spooled: errors should name what the user gave.
    pub(crate) fn naming(&self, src: &Path) -> Option<SpoolName> {
        self._spool.as_ref()?;
        Some(SpoolName {
            spool: self.path.display().to_string(),
            src: if src == Path::new("-") {
                "standard input".to_owned()
            } else {
                src.display().to_string()
            },
        })
    }
}

/// The spool's path and the name of the stream it holds.
#[derive(Debug, Clone)]
pub(crate) struct SpoolName {
    spool: String,
    src: String,
}

impl SpoolName {
    /// `text` with the spool's path replaced by SRC's name (its line
    /// numbers are the stream's).
    pub(crate) fn show(&self, text: &str) -> String {
        text.replace(&self.spool, &self.src)
    }
}

/// A new spool file in DST's directory, removed when its path is dropped.
fn spool_beside(dst: &Path) -> anyhow::Result<(File, tempfile::TempPath)> {
    let dir = match dst.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = dst.file_name().map_or_else(
        || "pipework".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    let file = tempfile::Builder::new()
        .prefix(&format!(".{name}.src-"))
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in {} to hold SRC", dir.display()))?;
    Ok(file.into_parts())
}

/// Reads `input` to its end, copying it to `copy_to` if given, and counts
/// its rows: lines with anything but ASCII whitespace, as the library reads
/// them. `report` hears the bytes read every [`REPORT_EVERY`].
fn count_rows(
    mut input: impl Read,
    mut copy_to: Option<File>,
    report: impl Fn(u64),
) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let (mut rows, mut in_row) = (0u64, false);
    let (mut read, mut reported) = (0u64, 0u64);
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some(file) = &mut copy_to {
            file.write_all(&buf[..n])?;
        }
        let block = &buf[..n];
        let has_text = |part: &[u8]| part.iter().any(|byte| !byte.is_ascii_whitespace());
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', block) {
            // Most lines start with `{`: `has_text` reads one byte of them.
            rows += u64::from(in_row || has_text(&block[start..end]));
            in_row = false;
            start = end + 1;
        }
        in_row = in_row || has_text(&block[start..]);
        read += n as u64;
        if read - reported >= REPORT_EVERY {
            report(read);
            reported = read;
        }
    }
    if let Some(file) = &mut copy_to {
        // The library opens the spool by its path and must see every byte.
        file.flush()?;
    }
    Ok(rows + u64::from(in_row))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> u64 {
        count_rows(text.as_bytes(), None, |_| {}).unwrap()
    }

    #[test]
    fn rows_are_the_lines_with_something_in_them() {
        assert_eq!(rows(""), 0);
        assert_eq!(rows("\n\n \t\r\n"), 0);
        assert_eq!(rows("{}\n"), 1);
        assert_eq!(rows("{}"), 1, "a last line without its newline");
        assert_eq!(rows("{}\n\n{}\n   \n{}"), 3);
    }

    #[test]
    fn a_stream_is_copied_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (file, path) = spool_beside(&dir.path().join("out.jsonl")).unwrap();
        assert!(path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".out.jsonl.src-"));
        let text = "{\"a\":1}\n\n{\"a\":2}\n".repeat(50_000);
        assert_eq!(
            count_rows(text.as_bytes(), Some(file), |_| {}).unwrap(),
            100_000
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let kept = path.to_path_buf();
        drop(path);
        assert!(!kept.exists(), "the spool is removed with its path");
    }
}
