//! [`chunk`]: groups an iterator's items into `Vec`s of a fixed size.

use crate::batch::{batch, Batch};

/// `chunk` was asked for chunks of 0 items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("chunk size must be at least 1")]
pub struct ZeroChunkSize;

/// Groups items into `Vec`s of `size`; the last one may be shorter. Made by
/// [`IteratorExt::chunk`](super::IteratorExt::chunk) or [`chunk`].
///
/// paipa's `chunk` and bytewax's `batch` are one algorithm, so this is
/// [`batch`](crate::batch::batch)'s iterator under paipa's name.
pub type Chunk<I> = Batch<I>;

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
    batch(iter, size).map_err(|_| ZeroChunkSize)
}
