//! [`LinesPartition`]: a file's lines, read in shared chunks, resumable by
//! byte offset.
//!
//! The file is read 64 KiB at a time into one growing buffer. Each read
//! that ends a line freezes the buffer up to its last `\n` into a chunk,
//! whose UTF-8 is checked once for the whole chunk (a `\n` is never inside a
//! multi-byte character, so every line of a valid chunk is valid); the
//! lines are then handed out as [`Line`]s sharing the chunk. Only the bytes
//! after the last `\n` stay in the buffer, to be joined by the next read, so
//! a line longer than a read is gathered across reads. That makes one
//! allocation per chunk instead of one per line, the difference between
//! this reader and a `String` per line being most of what a flow that only
//! looks at its lines spends.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use bytestring::ByteString;

use super::files::DEFAULT_BATCH_SIZE;
use super::Line;
use crate::inputs::{SourceError, StatefulSourcePartition};

/// Bytes asked of the file per read.
const READ_SIZE: usize = 64 * 1024;

/// A partition reading a file's lines, resumable by byte offset; built by
/// [`FileSource`](super::FileSource) and [`DirSource`](super::DirSource).
///
/// Lines come without their `\n` (or `\r\n`); blank lines are kept, and a
/// last line without `\n` is a line. The snapshot is the byte offset of the
/// next line not yet returned, so a resumed read starts exactly there.
#[derive(Debug)]
pub struct LinesPartition {
    path: PathBuf,
    file: File,
    batch_size: usize,
    /// Bytes asked of the file per read: [`READ_SIZE`], smaller in tests so
    /// that lines cross reads.
    read_size: usize,
    /// Bytes of the file before the next line to return.
    offset: u64,
    /// Checked text read but not yet returned: whole lines, each ending in
    /// `\n` except, at the end of the file, a last line without one.
    chunk: ByteString,
    /// Where the next line starts in `chunk`.
    next: usize,
    /// Bytes read after the last `\n` of the chunks made so far.
    tail: BytesMut,
    /// The file has been read to its end.
    at_end: bool,
}

impl LinesPartition {
    pub(crate) fn open(
        path: &Path,
        part: &str,
        batch_size: usize,
        resume_state: Option<u64>,
    ) -> Result<Self, SourceError> {
        SourceError::check_batch_size(batch_size)?;
        let io = |source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let offset = resume_state.unwrap_or(0);
        let len = file.metadata().map_err(io)?.len();
        if offset > len {
            return Err(SourceError::InvalidResumeState {
                part: part.to_owned(),
                message: format!("offset {offset} is past the end of the file ({len} bytes)"),
            });
        }
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        Ok(LinesPartition {
            path: path.to_path_buf(),
            file,
            batch_size,
            read_size: READ_SIZE,
            offset,
            chunk: ByteString::new(),
            next: 0,
            tail: BytesMut::new(),
            at_end: false,
        })
    }

    /// The next line of `chunk`, if any is left there.
    fn line_of_chunk(&mut self) -> Option<Line> {
        let rest = &self.chunk[self.next..];
        if rest.is_empty() {
            return None;
        }
        let (text, taken) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(end) => (&rest[..end], end + 1),
            None => (rest, rest.len()),
        };
        let text = text.strip_suffix('\r').unwrap_or(text);
        let line = Line::of_chunk(&self.chunk, text);
        self.next += taken;
        self.offset += taken as u64;
        Some(line)
    }

    /// Reads until the next chunk is made (whole lines, or at the end of the
    /// file what is left), or the file ends with nothing left.
    fn read_chunk(&mut self) -> Result<(), SourceError> {
        while !self.at_end {
            let filled = self.tail.len();
            self.tail.resize(filled + self.read_size, 0);
            let read = loop {
                match self.file.read(&mut self.tail[filled..]) {
                    Ok(read) => break read,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(source) => return Err(self.io(source)),
                }
            };
            self.tail.truncate(filled + read);
            let whole = if read == 0 {
                self.at_end = true;
                self.tail.len()
            } else {
                match memchr::memrchr(b'\n', &self.tail[filled..]) {
                    Some(end) => filled + end + 1,
                    None => continue,
                }
            };
            if whole > 0 {
                let bytes = self.tail.split_to(whole).freeze();
                // The clone is a reference count: it keeps the bytes for the
                // error message if the check fails.
                self.chunk =
                    ByteString::try_from(bytes.clone()).map_err(|_| self.invalid_utf8(&bytes))?;
                self.next = 0;
                return Ok(());
            }
        }
        Ok(())
    }

    /// Forgets what was read after the last line returned, so that the
    /// next read starts at `offset`.
    fn rewind(&mut self) -> Result<(), SourceError> {
        self.at_end = false;
        self.tail.clear();
        self.file
            .seek(SeekFrom::Start(self.offset))
            .map(drop)
            .map_err(|source| self.io(source))
    }

    /// `source` as this partition's error.
    fn io(&self, source: io::Error) -> SourceError {
        SourceError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// The error for text that is not UTF-8.
    fn invalid_data(&self, message: String) -> SourceError {
        self.io(io::Error::new(io::ErrorKind::InvalidData, message))
    }

    /// The error for a chunk that is not UTF-8, naming the offset of the
    /// first line that is not. The chunk starts at `offset`: a chunk is
    /// only made once the one before was wholly returned.
    fn invalid_utf8(&self, chunk: &[u8]) -> SourceError {
        let mut start = 0;
        for line in chunk.split(|&b| b == b'\n') {
            if let Err(err) = std::str::from_utf8(line) {
                return self.invalid_data(format!(
                    "line at byte {} is not valid UTF-8: {err}",
                    self.offset + start as u64
                ));
            }
            start += line.len() + 1;
        }
        // Not reached: a `\n` is never part of a multi-byte character, so
        // a chunk that is not UTF-8 has a line that is not. Said plainly all
        // the same, rather than a panic in a reader.
        self.invalid_data(format!(
            "text after byte {} is not valid UTF-8",
            self.offset
        ))
    }
}

impl StatefulSourcePartition for LinesPartition {
    type Item = Line;
    type State = u64;

    fn next_batch(&mut self) -> Result<Option<Vec<Line>>, SourceError> {
        let mut batch = Vec::with_capacity(self.batch_size.min(DEFAULT_BATCH_SIZE));
        while batch.len() < self.batch_size {
            match self.line_of_chunk() {
                Some(line) => batch.push(line),
                None if self.at_end => break,
                None => {
                    if let Err(err) = self.read_chunk() {
                        // Whatever the read took since the last line is
                        // given back: the next call reads from the same
                        // place again (and meets the same error).
                        self.rewind()?;
                        if batch.is_empty() {
                            return Err(err);
                        }
                        // The lines before the error go out first.
                        break;
                    }
                }
            }
        }
        if batch.is_empty() {
            Ok(None)
        } else {
            Ok(Some(batch))
        }
    }

    fn snapshot(&self) -> u64 {
        self.offset
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The lines of `text` by the definition the partition promises: split
    /// at `\n`, no line after a final `\n`, one `\r` before `\n` dropped.
    fn lines_of(text: &str) -> Vec<String> {
        let mut lines: Vec<String> = text
            .split_inclusive('\n')
            .map(|line| {
                let line = line.strip_suffix('\n').unwrap_or(line);
                line.strip_suffix('\r').unwrap_or(line).to_owned()
            })
            .collect();
        if text.is_empty() {
            lines.clear();
        }
        lines
    }

    fn open(path: &Path, batch: usize, read_size: usize, at: Option<u64>) -> LinesPartition {
        let mut part = LinesPartition::open(path, "p", batch, at).unwrap();
        part.read_size = read_size;
        part
    }

    /// Text made of the pieces that matter at a read's edge: line ends, a
    /// `\r`, blank lines and a character of several bytes.
    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("\n"),
                Just("\r\n"),
                Just("\r"),
                Just("a"),
                Just("bc"),
                Just("é"),
                Just("漢字"),
            ],
            0..40,
        )
        .prop_map(|pieces| pieces.concat())
    }

    proptest! {
        /// Any text, any read size, any batch size, a resume from any
        /// snapshot: the lines are the definition's, each exactly once.
        #[test]
        fn lines_across_reads_and_resumes_are_the_texts_lines(
            text in text(),
            read_size in 1usize..9,
            batch in 1usize..4,
            stop_after in 0usize..12,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("in.txt");
            std::fs::write(&path, &text).unwrap();
            let mut part = open(&path, batch, read_size, None);
            let mut seen: Vec<String> = Vec::new();
            for _ in 0..stop_after {
                match part.next_batch().unwrap() {
                    Some(lines) => seen.extend(lines.into_iter().map(Line::into_string)),
                    None => break,
                }
            }
            let mut resumed = open(&path, batch, read_size, Some(part.snapshot()));
            while let Some(lines) = resumed.next_batch().unwrap() {
                prop_assert!(lines.len() <= batch);
                seen.extend(lines.into_iter().map(Line::into_string));
            }
            prop_assert_eq!(seen, lines_of(&text));
        }

        /// A byte that is not UTF-8 is an error naming its line's offset;
        /// every line returned before it is one of the lines before it.
        #[test]
        fn text_that_is_not_utf8_is_an_error_at_its_line(
            before in text(),
            after in text(),
            read_size in 1usize..9,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("in.txt");
            let mut bytes = before.clone().into_bytes();
            bytes.push(0xff);
            bytes.extend_from_slice(after.as_bytes());
            std::fs::write(&path, &bytes).unwrap();
            let line_start = before.rfind('\n').map_or(0, |end| end + 1);
            let mut part = open(&path, 2, read_size, None);
            let mut seen = Vec::new();
            let err = loop {
                match part.next_batch() {
                    Ok(Some(lines)) => seen.extend(lines.into_iter().map(Line::into_string)),
                    Ok(None) => panic!("no error after {seen:?}"),
                    Err(err) => break err,
                }
            };
            let message = err.to_string();
            prop_assert!(
                message.contains(&format!("line at byte {line_start} is not valid UTF-8")),
                "{}", message
            );
            let complete_before = lines_of(&before[..line_start]);
            prop_assert!(complete_before.starts_with(&seen), "{:?} {:?}", seen, complete_before);
        }
    }

    #[test]
    fn a_line_longer_than_many_reads_is_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let long = "x".repeat(3 * READ_SIZE + 17);
        std::fs::write(&path, format!("{long}\nshort")).unwrap();
        let mut part = LinesPartition::open(&path, "p", 10, None).unwrap();
        let lines = part.next_batch().unwrap().unwrap();
        assert_eq!(lines, [long.as_str(), "short"]);
        assert_eq!(part.snapshot(), long.len() as u64 + 6);
        assert!(part.next_batch().unwrap().is_none());
    }
}
