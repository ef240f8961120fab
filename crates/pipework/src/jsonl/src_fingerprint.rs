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
use std::io::Read;
use std::path::Path;

use memchr::{memchr, memchr_iter, memrchr};
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
        each_block_of_lines(src, file, |mut lines| {
            while !lines.is_empty() {
                let want = usize::try_from(target - segment_bytes).unwrap_or(usize::MAX);
                // The segment ends with the line that takes it to `target`;
                // `lines` ends with a newline, so there is one.
                let cut = match lines.len() < want {
                    true => lines.len(),
                    false => memchr(b'\n', &lines[want - 1..]).map_or(lines.len(), |at| want + at),
                };
                let (taken, rest) = lines.split_at(cut);
                hasher.update(taken);
                segment_bytes += taken.len() as u64;
                fingerprint.bytes += taken.len() as u64;
                fingerprint.lines += memchr_iter(b'\n', taken).count() as u64;
                if segment_bytes >= target {
                    fingerprint.close_segment(&mut hasher);
                    segment_bytes = 0;
                }
                lines = rest;
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
    ///
    /// Each segment is a byte range ending at a newline, so its bytes are
    /// hashed as they come, whatever lines they hold now: equal hashes mean
    /// equal bytes, and so the same lines.
    pub(crate) fn verify(&self, src: &Path, dst: &Path) -> Result<(), Error> {
        if !can_read_twice(src) {
            return Ok(());
        }
        let file = File::open(src).map_err(|e| Error::io("opening", src, e))?;
        let mut hasher = Xxh3::new();
        let (mut bytes, mut index) = (0u64, 0usize);
        let mut changed = None;
        each_block(src, file, |mut block| {
            while let Some((end, end_line, hash)) = self.segments.get(index) {
                if block.is_empty() {
                    return true;
                }
                let want = usize::try_from(end - bytes).unwrap_or(usize::MAX);
                let (taken, rest) = block.split_at(want.min(block.len()));
                hasher.update(taken);
                bytes += taken.len() as u64;
                block = rest;
                if bytes < *end {
                    return true;
                }
                if format!("{:016x}", hasher.digest()) != *hash {
                    changed = Some((self.first_line_of(index), *end_line));
                    return false;
                }
                hasher.reset();
                index += 1;
            }
            false
        })?;
        if changed.is_none() && index < self.segments.len() {
            // The source ends inside what the fingerprint covers.
            changed = Some((self.first_line_of(index), self.segments[index].1));
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

    /// The first line (counting from 1) of segment `index`.
    fn first_line_of(&self, index: usize) -> u64 {
        match index {
            0 => 1,
            _ => self.segments[index - 1].1 + 1,
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

/// Bytes read from the source at a time.
const BLOCK: usize = 256 * 1024;

/// Calls `f` with each block of `file` as read, until `f` returns false or
/// the file ends.
pub(crate) fn each_block(
    path: &Path,
    mut file: File,
    mut f: impl FnMut(&[u8]) -> bool,
) -> Result<(), Error> {
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading", path, e)),
        };
        if n == 0 || !f(&buf[..n]) {
            return Ok(());
        }
    }
}

/// Calls `f` with the complete lines of `file` (each with its newline), a
/// block's worth at a time, until `f` returns false or the file ends; the
/// bytes after the last newline, a line an append may yet complete, are
/// left out. A line longer than a block is held until its newline comes.
fn each_block_of_lines(
    path: &Path,
    file: File,
    mut f: impl FnMut(&[u8]) -> bool,
) -> Result<(), Error> {
    let mut carry: Vec<u8> = Vec::new();
    each_block(path, file, |block| {
        let Some(last) = memrchr(b'\n', block) else {
            carry.extend_from_slice(block);
            return true;
        };
        let (lines, tail) = block.split_at(last + 1);
        let go_on = if carry.is_empty() {
            f(lines)
        } else {
            carry.extend_from_slice(lines);
            let go_on = f(&carry);
            carry.clear();
            go_on
        };
        carry.extend_from_slice(tail);
        go_on
    })
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

    /// The fingerprint as the definition says, a line at a time: each
    /// segment closes with the line that takes it to the target size.
    fn by_lines(text: &[u8]) -> SrcFingerprint {
        let target = (text.len() as u64).div_ceil(SEGMENTS).max(1);
        let mut fingerprint = SrcFingerprint {
            bytes: 0,
            lines: 0,
            segments: Vec::new(),
        };
        let mut hasher = Xxh3::new();
        let mut segment_bytes = 0;
        for line in text.split_inclusive(|&b| b == b'\n') {
            if !line.ends_with(b"\n") {
                break;
            }
            hasher.update(line);
            segment_bytes += line.len() as u64;
            fingerprint.bytes += line.len() as u64;
            fingerprint.lines += 1;
            if segment_bytes >= target {
                fingerprint.close_segment(&mut hasher);
                segment_bytes = 0;
            }
        }
        if segment_bytes > 0 {
            fingerprint.close_segment(&mut hasher);
        }
        fingerprint
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

        /// Reading in blocks gives the fingerprint of the definition, for
        /// lines short and long (past a block), with or without a last
        /// newline; and the source as it was verifies.
        #[test]
        fn blocks_give_the_fingerprint_of_lines(
            lengths in proptest::collection::vec(
                proptest::prop_oneof![8 => 0usize..40, 1 => 200_000usize..400_000],
                0..120,
            ),
            last_newline in proptest::bool::ANY,
        ) {
            let mut text = Vec::new();
            for (i, len) in lengths.iter().enumerate() {
                text.extend((0..*len).map(|j| b'a' + ((i + j) % 26) as u8));
                text.push(b'\n');
            }
            if !last_newline && text.last() == Some(&b'\n') {
                text.pop();
            }
            let dir = tempfile::tempdir().unwrap();
            let src = dir.path().join("in.jsonl");
            std::fs::write(&src, &text).unwrap();
            let fingerprint = SrcFingerprint::of(&src).unwrap().unwrap();
            proptest::prop_assert_eq!(&fingerprint, &by_lines(&text));
            proptest::prop_assert!(fingerprint.verify(&src, Path::new("out")).is_ok());
        }
    }
}
