//! `batch(iter, size)`: cut an iterator into `Vec`s of at most `size` items.

use std::iter::FusedIterator;

use super::Error;

/// Cuts `iter` into batches of `size` items; the last batch holds the rest
/// (1 to `size` items). An empty input yields no batch at all.
///
/// This is bytewax's `batch`. Items are pulled lazily, one batch at a time,
/// so an endless iterator is fine and memory is one batch.
///
/// # Errors
///
/// [`Error::ZeroSize`] if `size` is 0.
///
/// # Examples
///
/// ```
/// use pipework::batch::batch;
///
/// let batches: Vec<Vec<u32>> = batch(0..5, 2)?.collect();
/// assert_eq!(batches, [vec![0, 1], vec![2, 3], vec![4]]);
/// # Ok::<(), pipework::batch::Error>(())
/// ```
pub fn batch<I: IntoIterator>(iter: I, size: usize) -> Result<Batch<I::IntoIter>, Error> {
    if size == 0 {
        return Err(Error::ZeroSize { helper: "batch" });
    }
    Ok(Batch {
        iter: iter.into_iter().fuse(),
        size,
    })
}

/// The iterator returned by [`batch`].
#[derive(Debug, Clone)]
#[must_use = "iterators do nothing unless consumed"]
pub struct Batch<I> {
    iter: std::iter::Fuse<I>,
    size: usize,
}

impl<I: Iterator> Iterator for Batch<I> {
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
        (lo.div_ceil(self.size), hi.map(|hi| hi.div_ceil(self.size)))
    }
}

impl<I: Iterator> FusedIterator for Batch<I> {}
