//! The fingerprint of a source: what a later resume checks it against.
//!
//! A resume reuses the rows a destination holds for the source rows they
//! were made from. Rows appended to the source since are new work, and fine;
//! but a row edited, removed or moved before the end of what the earlier
//! run read would leave the destination with rows that no longer stand for
//! the source, or with rows missing. So the end of each run records, in the
//! manifest, how the source read then: its length in bytes and lines, and
//! the xxh3 hash of each of up to [`SEGMENTS`] consecutive runs of lines
//! (one line each for a source of fewer lines). A resume hashes the same
//! byte ranges of the source as it is now, in one pass at the page cache's
//! speed (xxh3 runs at many GB/s), and the first segment that differs names
//! the lines where the source changed. A source shorter than it was is a
//! change too; a longer one is an append, and only its first `bytes` are
//! compared.
//!
//! Segment hashes rather than one hash of the whole: an error can name
//! where the source changed, to the line for small sources and to about a
//! thousandth of the file for large ones, at the cost of a manifest of at
//! most some 40 KB.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use super::error::Error;

/// The most segments a fingerprint holds.
const SEGMENTS: u64 = 1024;

/// How a source read, as far as it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SrcFingerprint {
    /// Bytes covered.
    pub(crate) bytes: u64,
    /// Lines covered (all lines, blank ones too).
    pub(crate) lines: u64,
    /// Consecutive segments: where each ends (byte offset and line count,
    /// both exclusive), and the hash of its bytes as 16 hex digits.
    pub(crate) segments: Vec<(u64, u64, String)>,
}

impl SrcFingerprint {
    /// Fingerprints `src` as it is now, to its end; `None` if it is not a
    /// regular file (a pipe or a FIFO cannot be read again: see
    /// [`can_read_twice`]).
    pub(crate) fn of(src: &Path) -> Result<Option<SrcFingerprint>, Error> {
        if !can_read_twice(src) {
            return Ok(None);
        }
        let file = File::open(src).map_err(|e| Error::io("opening", src, e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("reading", src, e))?
            .len();
        // Segments of about `len / SEGMENTS` bytes, cut at line ends, and of
        // one line each when lines are longer than that.
        let target = len.div_ceil(SEGMENTS).max(1);
        let mut fingerprint = SrcFingerprint {
            bytes: 0,
            lines: 0,
            segments: Vec::new(),
        };
        let mut hasher = Xxh3::new();
        let mut segment_bytes = 0u64;
        each_line(src, file, |line| {
            if !line.ends_with(b"\n") {
                // A last line without its newline may yet be completed by an
                // append: it is not covered.
                return false;
            }
            hasher.update(line);
            segment_bytes += line.len() as u64;
            fingerprint.bytes += line.len() as u64;
            fingerprint.lines += 1;
            if segment_bytes >= target {
                fingerprint.close_segment(&mut hasher);
                segment_bytes = 0;
            }
            true
        })?;
        if segment_bytes > 0 {
            fingerprint.close_segment(&mut hasher);
        }
        Ok(Some(fingerprint))
    }

    fn close_segment(&mut self, hasher: &mut Xxh3) {
        self.segments
            .push((self.bytes, self.lines, format!("{:016x}", hasher.digest())));
        hasher.reset();
    }

    /// Checks that `src` still starts with the bytes this fingerprint
    /// covers: [`Error::SrcChanged`] naming the lines of the first segment
    /// that differs (or the end of the source, if it is shorter).
    pub(crate) fn verify(&self, src: &Path, dst: &Path) -> Result<(), Error> {
        if !can_read_twice(src) {
            return Ok(());
        }
        let file = File::open(src).map_err(|e| Error::io("opening", src, e))?;
        let mut hasher = Xxh3::new();
        let (mut bytes, mut lines, mut index) = (0u64, 0u64, 0usize);
        let mut changed = None;
        let mut segment_start_line = 1;
        each_line(src, file, |line| {
            let Some((end, end_line, hash)) = self.segments.get(index) else {
                return false;
            };
            hasher.update(line);
            bytes += line.len() as u64;
            lines += 1;
            if bytes < *end {
                return true;
            }
            if bytes > *end || lines != *end_line || format!("{:016x}", hasher.digest()) != *hash {
                changed = Some((segment_start_line, *end_line));
                return false;
            }
            hasher.reset();
            index += 1;
            segment_start_line = end_line + 1;
            true
        })?;
        if changed.is_none() && index < self.segments.len() {
            // The source ends inside what the fingerprint covers.
            let end_line = self.segments[index].1;
            changed = Some((segment_start_line, end_line));
        }
        match changed {
            None => Ok(()),
            Some((first_line, last_line)) => Err(Error::SrcChanged {
                path: src.to_path_buf(),
                dst: dst.to_path_buf(),
                first_line,
                last_line: last_line.max(first_line),
                covered_lines: self.lines,
            }),
        }
    }
}

/// Whether `src` is a regular file, which a resume may read before the run
/// does. A stream (a pipe, a FIFO, `/dev/stdin`) is read once, by the run:
/// its fingerprint and the matching of rows by content are left out (the
/// CLI copies a stream to a file first, so it gets both).
pub(crate) fn can_read_twice(src: &Path) -> bool {
    std::fs::metadata(src).is_ok_and(|meta| meta.is_file())
}

/// Calls `f` with each line of `file` (its newline included; the last
/// line may lack one) until `f` returns false or the file ends.
fn each_line(path: &Path, file: File, mut f: impl FnMut(&[u8]) -> bool) -> Result<(), Error> {
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("reading", path, e))?;
        if n == 0 || !f(&line) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed_lines(old: &str, new: &str) -> Option<(u64, u64)> {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in.jsonl");
        std::fs::write(&src, old).unwrap();
        let fingerprint = SrcFingerprint::of(&src).unwrap().unwrap();
        std::fs::write(&src, new).unwrap();
        match fingerprint.verify(&src, Path::new("out")) {
            Ok(()) => None,
            Err(Error::SrcChanged {
                first_line,
                last_line,
                ..
            }) => Some((first_line, last_line)),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn appends_pass_and_every_other_change_names_its_line() {
        let old = "a\nb\nc\nd\n";
        assert_eq!(changed_lines(old, old), None);
        assert_eq!(changed_lines(old, "a\nb\nc\nd\ne\n"), None);
        assert_eq!(changed_lines(old, "a\nB\nc\nd\n"), Some((2, 2)));
        assert_eq!(changed_lines(old, "a\nc\nd\n"), Some((2, 2)));
        assert_eq!(changed_lines(old, "a\nb\nd\nc\n"), Some((3, 3)));
        assert_eq!(changed_lines(old, "a\nb\n"), Some((3, 3)));
        assert_eq!(changed_lines(old, "a\nb\nc\nd"), Some((4, 4)));
        assert_eq!(changed_lines(old, ""), Some((1, 1)));
        // A last line without its newline may be completed by an append.
        assert_eq!(changed_lines("a\nb", "a\nbb\n"), None);
        assert_eq!(changed_lines("a\nb", "A\nb\n"), Some((1, 1)));
    }

    #[test]
    fn large_sources_have_at_most_1024_segments_and_name_a_range() {
        let old: String = (0..10_000).map(|i| format!("{{\"id\":{i}}}\n")).collect();
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in.jsonl");
        std::fs::write(&src, &old).unwrap();
        let fingerprint = SrcFingerprint::of(&src).unwrap().unwrap();
        assert!(
            fingerprint.segments.len() <= 1024,
            "{}",
            fingerprint.segments.len()
        );
        assert_eq!(fingerprint.lines, 10_000);
        let new = old.replace("{\"id\":5000}", "{\"id\":5001}");
        let (first, last) = changed_lines(&old, &new).unwrap();
        assert!(
            first <= 5001 && 5001 <= last && last - first < 20,
            "{first}..{last}"
        );
    }
}
