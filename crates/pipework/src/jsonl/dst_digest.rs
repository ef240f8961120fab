//! The digest of a destination as the last complete run left it: what lets
//! a rerun skip matching rows by content.
//!
//! Matching a destination's rows to the source's by content (see
//! [`row_match`](super::row_match)) costs a parse of the whole source
//! before the run's own pass over it. That work only finds something when a
//! file was edited between runs. A run that read all of its source leaves a
//! destination whose rows stand, key by key, for all of that key's source
//! rows (a key's call either answered every row of the key or none), so
//! when a rerun finds the source starting with the same bytes (its
//! [fingerprint](super::src_fingerprint)) and the destination byte for byte
//! as that run left it, matching by count is matching by content, and the
//! pre-pass is left out. The end of such a run records the destination's
//! length and xxh3 hash in the manifest; a rerun hashes the destination
//! again, at the page cache's speed, and compares.
//!
//! A whole-file hash, not per-segment ones: any difference at all sends
//! the rerun to the full check, which then names what differs.

use std::fs::File;
use std::path::Path;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use super::error::Error;
use super::src_fingerprint::each_block;

/// A destination's length and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DstDigest {
    /// Its length in bytes.
    pub(crate) bytes: u64,
    /// The xxh3 hash of all of it, as 16 hex digits.
    pub(crate) hash: String,
}

impl DstDigest {
    /// The digest of `dst` as it is now.
    pub(crate) fn of(dst: &Path) -> Result<DstDigest, Error> {
        let file = File::open(dst).map_err(|e| Error::io("opening", dst, e))?;
        let mut hasher = Xxh3::new();
        let mut bytes = 0u64;
        each_block(dst, file, |block| {
            hasher.update(block);
            bytes += block.len() as u64;
            true
        })?;
        Ok(DstDigest {
            bytes,
            hash: format!("{:016x}", hasher.digest()),
        })
    }

    /// Whether `dst` is still byte for byte what this digest describes; its
    /// length is compared first, so a destination that grew or shrank is
    /// not read.
    pub(crate) fn matches(&self, dst: &Path) -> Result<bool, Error> {
        let len = std::fs::metadata(dst)
            .map_err(|e| Error::io("reading", dst, e))?
            .len();
        Ok(len == self.bytes && DstDigest::of(dst)? == *self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_edit_of_the_same_length_or_not_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        std::fs::write(&dst, "{\"id\":1,\"v\":2}\n{\"id\":2,\"v\":4}\n").unwrap();
        let digest = DstDigest::of(&dst).unwrap();
        assert!(digest.matches(&dst).unwrap());
        for edited in [
            "{\"id\":1,\"v\":3}\n{\"id\":2,\"v\":4}\n",
            "{\"id\":2,\"v\":4}\n{\"id\":1,\"v\":2}\n",
            "{\"id\":1,\"v\":2}\n",
            "{\"id\":1,\"v\":2}\n{\"id\":2,\"v\":4}\n\n",
        ] {
            std::fs::write(&dst, edited).unwrap();
            assert!(!digest.matches(&dst).unwrap(), "{edited:?}");
        }
    }
}
