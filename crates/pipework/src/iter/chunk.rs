//! [`Chunk`]: groups an iterator's items into `Vec`s of a fixed size.

use std::fmt;

/// `chunk` was asked for chunks of 0 items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("chunk size must be at least 1")]
pub struct ZeroChunkSize;

/// Groups items into `Vec`s of `size`; the last one may be shorter. Made by
/// [`IteratorExt::chunk`](super::IteratorExt::chunk) or [`chunk`].
#[must_use = "iterators do nothing unless consumed"]
pub struct Chunk<I> {
    iter: I,
    size: usize,
}

impl<I: fmt::Debug> fmt::Debug for Chunk<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chunk")
            .field("iter", &self.iter)
            .field("size", &self.size)
            .finish()
    }
}

/// Groups the items of `iter` into `Vec`s of `size` (paipa's `chunk`).
///
/// # Errors
///
/// [`ZeroChunkSize`] if `size` is 0 (`slice::chunks` panics instead).
///
/// # Examples
///
/// ```
/// let chunks: Vec<Vec<u32>> = pipework::iter::chunk(1..=8, 3)?.collect();
/// assert_eq!(chunks, [vec![1, 2, 3], vec![4, 5, 6], vec![7, 8]]);
/// # Ok::<(), pipework::iter::ZeroChunkSize>(())
/// ```
pub fn chunk<I: IntoIterator>(iter: I, size: usize) -> Result<Chunk<I::IntoIter>, ZeroChunkSize> {
    if size == 0 {
        return Err(ZeroChunkSize);
    }
    Ok(Chunk {
        iter: iter.into_iter(),
        size,
    })
}

impl<I: Iterator> Iterator for Chunk<I> {
    type Item = Vec<I::Item>;

    fn next(&mut self) -> Option<Vec<I::Item>> {
        let first = self.iter.next()?;
        let mut out = Vec::with_capacity(self.size);
        out.push(first);
        out.extend(self.iter.by_ref().take(self.size - 1));
        Some(out)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (lo, hi) = self.iter.size_hint();
        (lo.div_ceil(self.size), hi.map(|h| h.div_ceil(self.size)))
    }
}

impl<I: std::iter::FusedIterator> std::iter::FusedIterator for Chunk<I> {}
