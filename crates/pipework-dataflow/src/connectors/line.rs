//! [`Line`]: one line of text, sharing the buffer it was read into.
//!
//! [`FileSource`](super::FileSource) and [`DirSource`](super::DirSource)
//! read a file in chunks of 64 KiB, check each chunk's UTF-8 once, and hand
//! out its lines as views into the chunk: a line costs a reference count
//! and no allocation, where a `String` per line cost an allocation, a copy
//! and a free on another thread (half of the instructions of a flow that
//! only measures its lines; see the crate's `dataflow-file` benchmark).
//! The chunk is freed when its last line is dropped.
//!
//! A step that keeps a line for long (in state, say) keeps its whole chunk
//! alive; [`Line::into_string`] or `to_string()` makes it a `String` of its
//! own.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use bytestring::ByteString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One line of text without its line ending; dereferences to `str`.
///
/// Cheap to clone (a reference count). Compares, hashes and orders as its
/// text, and serializes as a string, so it crosses workers and processes
/// like a `String`.
///
/// # Examples
///
/// ```
/// use pipework_dataflow::connectors::Line;
///
/// let line = Line::from("word count");
/// assert_eq!(line.split(' ').count(), 2);
/// assert_eq!(line, "word count");
/// let owned: String = line.into_string();
/// assert_eq!(owned, "word count");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Line(ByteString);

impl Line {
    /// A line that is `part` of the checked text `chunk`, sharing its buffer.
    pub(crate) fn of_chunk(chunk: &ByteString, part: &str) -> Line {
        Line(chunk.slice_ref(part))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text as a `String` of its own (one allocation and copy), which
    /// no longer keeps the chunk it was read into alive.
    pub fn into_string(self) -> String {
        self.0.to_string()
    }
}

impl Deref for Line {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Line {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Line {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl From<String> for Line {
    fn from(text: String) -> Line {
        Line(ByteString::from(text))
    }
}

impl From<&str> for Line {
    fn from(text: &str) -> Line {
        Line(ByteString::from(text))
    }
}

impl From<Line> for String {
    fn from(line: Line) -> String {
        line.into_string()
    }
}

impl PartialEq<str> for Line {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Line {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Line {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<Line> for String {
    fn eq(&self, other: &Line) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Line> for &str {
    fn eq(&self, other: &Line) -> bool {
        *self == other.as_str()
    }
}

impl Serialize for Line {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Line {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Line, D::Error> {
        String::deserialize(deserializer).map(Line::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_one_chunk_share_it_and_read_as_their_own_text() {
        let chunk = ByteString::from("alpha\nbeta\n");
        let alpha = Line::of_chunk(&chunk, &chunk[..5]);
        let beta = Line::of_chunk(&chunk, &chunk[6..10]);
        drop(chunk);
        assert_eq!(alpha, "alpha");
        assert_eq!(beta.as_str(), "beta");
        assert!(alpha < beta);
        assert_eq!(format!("{alpha:?} {beta}"), "\"alpha\" beta");
    }

    #[test]
    fn a_line_serializes_as_its_text() {
        let line = Line::from("a \"quoted\" word");
        let json = serde_json::to_string(&line).unwrap();
        assert_eq!(json, r#""a \"quoted\" word""#);
        let back: Line = serde_json::from_str(&json).unwrap();
        assert_eq!(back, line);
    }
}
