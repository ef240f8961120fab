//! `batches(iterable, size, epochs)`: batches over several passes of an iterable.

use std::iter::FusedIterator;

use super::Error;

/// Yields batches of `size` items over `epochs` passes of `iterable`, the way
/// a training loop reads a data set several times.
///
/// This is abstractions' `batches(iterable, batch_size=, epochs=)`. Each
/// epoch clones `iterable` and iterates the clone, so pass something cheap to
/// clone that iterates the same items each time: a range, a slice, a `&Vec`,
/// or an iterator over a collection. Batches are filled across epoch
/// boundaries (a batch may end one epoch and start the next), and the last,
/// possibly partial, batch is yielded too. Items are pulled lazily; memory is
/// one batch.
///
/// # Errors
///
/// Building fails with [`Error::ZeroSize`] if `size` is 0 and with
/// [`Error::ZeroEpochs`] if `epochs` is 0.
///
/// Every item pulled is yielded before any error. A pass after the first
/// that yields nothing ends the iterator without an error, as abstractions
/// does for an exhausted generator: a one-shot iterator gives one epoch's
/// batches, the last partial one included. A later pass that yields some
/// items but fewer than epoch 0 is an error: its items are batched (the
/// partial batch being filled is yielded), then one
/// `Err(`[`Error::ShortEpoch`]`)` follows and the iterator ends. A pass
/// that yields more items than epoch 0 is not an error: all its items are
/// batched.
///
/// # Examples
///
/// ```
/// use pipework::batch::batches;
///
/// let out: Vec<Vec<u32>> = batches(0..5, 2, 2)?.collect::<Result<_, _>>()?;
/// assert_eq!(out, [vec![0, 1], vec![2, 3], vec![4, 0], vec![1, 2], vec![3, 4]]);
/// # Ok::<(), pipework::batch::Error>(())
/// ```
pub fn batches<I>(iterable: I, size: usize, epochs: usize) -> Result<Batches<I>, Error>
where
    I: IntoIterator + Clone,
{
    if size == 0 {
        return Err(Error::ZeroSize { helper: "batches" });
    }
    if epochs == 0 {
        return Err(Error::ZeroEpochs);
    }
    let current = Some(iterable.clone().into_iter());
    Ok(Batches {
        iterable,
        current,
        size,
        epochs,
        epoch: 0,
        first_len: 0,
        this_len: 0,
        short: None,
    })
}

/// The iterator returned by [`batches`].
#[must_use = "iterators do nothing unless consumed"]
pub struct Batches<I: IntoIterator> {
    iterable: I,
    /// The pass being read; `None` once every epoch is done or after an error.
    current: Option<I::IntoIter>,
    size: usize,
    epochs: usize,
    epoch: usize,
    first_len: usize,
    this_len: usize,
    /// A short epoch found while a partial batch was pending: reported on
    /// the next call, after that batch.
    short: Option<Error>,
}

impl<I: IntoIterator> std::fmt::Debug for Batches<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches")
            .field("size", &self.size)
            .field("epochs", &self.epochs)
            .field("epoch", &self.epoch)
            .field("first_len", &self.first_len)
            .field("done", &(self.current.is_none() && self.short.is_none()))
            .finish_non_exhaustive()
    }
}

impl<I: IntoIterator + Clone> Iterator for Batches<I> {
    type Item = Result<Vec<I::Item>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(short) = self.short.take() {
            return Some(Err(short));
        }
        let mut out = Vec::new();
        while out.len() < self.size {
            let pass = self.current.as_mut()?;
            if let Some(item) = pass.next() {
                self.this_len += 1;
                if out.capacity() == 0 {
                    out.reserve_exact(self.size);
                }
                out.push(item);
                continue;
            }
            // This pass is over.
            if self.epoch == 0 {
                self.first_len = self.this_len;
            } else if self.this_len == 0 {
                // An exhausted one-shot iterator: the epochs are over.
                self.current = None;
                break;
            } else if self.this_len < self.first_len {
                self.current = None;
                let short = Error::ShortEpoch {
                    epoch: self.epoch,
                    expected: self.first_len,
                    got: self.this_len,
                };
                if out.is_empty() {
                    return Some(Err(short));
                }
                self.short = Some(short);
                break;
            }
            self.epoch += 1;
            self.this_len = 0;
            if self.epoch == self.epochs || self.first_len == 0 {
                // An empty first pass makes every pass empty: stop here
                // rather than clone the iterable `epochs` times for nothing.
                self.current = None;
                break;
            }
            self.current = Some(self.iterable.clone().into_iter());
        }
        if out.is_empty() {
            None
        } else {
            Some(Ok(out))
        }
    }
}

impl<I: IntoIterator + Clone> FusedIterator for Batches<I> {}
