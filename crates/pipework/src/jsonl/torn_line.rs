//! Repairing the last line of a file that an interrupted run left torn.
//!
//! Rows are appended whole, but a kill in the middle of a `write`, or a power
//! loss, can leave the last line without its newline or filled with garbage.
//! Before resuming, such a line is cut off; every earlier line is left alone
//! (a bad line in the middle is bad input, not a torn write).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::error::Error;
use super::read::UTF8_BOM;

const CHUNK: u64 = 64 * 1024;

/// Cuts a torn last line off `path`, if there is one, and returns the notice
/// to report. A file that does not exist is left alone.
///
/// A last line is torn if it does not end with a newline, or if it is not
/// valid JSON.
pub(crate) fn repair(path: &Path) -> Result<Option<Error>, Error> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("opening", path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| Error::io("reading", path, e))?
        .len();
    if len == 0 {
        return Ok(None);
    }
    let last_byte = read_at(&mut file, path, len - 1, 1)?;
    let (start, torn) = if last_byte[0] != b'\n' {
        (line_start(&mut file, path, len)?, true)
    } else {
        let start = line_start(&mut file, path, len - 1)?;
        let mut line = read_at(&mut file, path, start, len - start)?;
        if start == 0 && line.starts_with(UTF8_BOM) {
            // The reader drops a byte order mark at the start of the file,
            // so a first line that starts with one is not torn for it.
            line.drain(..UTF8_BOM.len());
        }
        let blank = line.iter().all(u8::is_ascii_whitespace);
        (
            start,
            !blank && serde_json::from_slice::<serde_json::Value>(&line).is_err(),
        )
    };
    if !torn {
        return Ok(None);
    }
    let line = count_newlines(&mut file, path, start)? + 1;
    file.set_len(start)
        .map_err(|e| Error::io("truncating", path, e))?;
    file.sync_all().map_err(|e| Error::io("syncing", path, e))?;
    Ok(Some(Error::TornLine {
        path: path.to_path_buf(),
        line,
        bytes: len - start,
    }))
}

/// The offset just after the last newline before `end`, or 0.
fn line_start(file: &mut File, path: &Path, end: u64) -> Result<u64, Error> {
    let mut pos = end;
    while pos > 0 {
        let from = pos.saturating_sub(CHUNK);
        let chunk = read_at(file, path, from, pos - from)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(from + i as u64 + 1);
        }
        pos = from;
    }
    Ok(0)
}

fn count_newlines(file: &mut File, path: &Path, end: u64) -> Result<u64, Error> {
    let mut count = 0;
    let mut pos = 0;
    while pos < end {
        let n = CHUNK.min(end - pos);
        let chunk = read_at(file, path, pos, n)?;
        count += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        pos += n;
    }
    Ok(count)
}

fn read_at(file: &mut File, path: &Path, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0; len as usize];
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut buf))
        .map_err(|e| Error::io("reading", path, e))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `repair` does to a file holding `text`: the notice's line and
    /// bytes cut, and what is left.
    fn repaired(text: &[u8]) -> (Option<(u64, u64)>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, text).unwrap();
        let notice = match repair(&path).unwrap() {
            None => None,
            Some(Error::TornLine { line, bytes, .. }) => Some((line, bytes)),
            Some(other) => panic!("not a torn line notice: {other}"),
        };
        (notice, std::fs::read(&path).unwrap())
    }

    #[test]
    fn a_whole_first_line_after_a_byte_order_mark_is_not_torn() {
        let whole = b"\xEF\xBB\xBF{\"a\": 1}\n";
        assert_eq!(repaired(whole), (None, whole.to_vec()));
        let torn = b"\xEF\xBB\xBF{\"a\": 1\n";
        assert_eq!(repaired(torn), (Some((1, torn.len() as u64)), Vec::new()));
        let later = b"{\"a\": 1}\n\xEF\xBB\xBF{\"a\": 2}\n";
        assert_eq!(repaired(later), (Some((2, 12)), b"{\"a\": 1}\n".to_vec()));
    }
}
