//! `batch_getter(getter, size)`: batch whatever a non-blocking getter has now.

use std::iter::FusedIterator;

use super::Error;

/// What a non-blocking getter returns: an item, "nothing yet", or "no more,
/// ever".
///
/// bytewax's `batch_getter` uses a sentinel value (`yield_on`, `None` by
/// default) for "nothing yet" and `StopIteration` for the end; in Rust the
/// three outcomes are one enum, so no item value is reserved as a marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Get<T> {
    /// An item was available.
    Item(T),
    /// No item is available right now; more may come later.
    NotYet,
    /// The source is closed; no item will ever come.
    End,
}

impl<T> From<Option<T>> for Get<T> {
    /// `Some(item)` is an item and `None` is "nothing yet" (bytewax's default
    /// `yield_on=None`).
    fn from(value: Option<T>) -> Self {
        match value {
            Some(item) => Get::Item(item),
            None => Get::NotYet,
        }
    }
}

/// Batches items from a getter that might have nothing yet.
///
/// Each call to `next` calls `getter` until it has `size` items, or the
/// getter says [`Get::NotYet`] (the batch so far is yielded, **possibly
/// empty**), or [`Get::End`] (the batch so far is yielded if it is not
/// empty, then the iterator ends). So `next` never blocks (as long as the
/// getter does not), which is what a dataflow source's `next_batch` needs;
/// and while the source is open the iterator never ends, yielding empty
/// batches while there is nothing to read. Memory is one batch.
///
/// This is bytewax's `batch_getter`. One deliberate difference: when the
/// getter ends with nothing pending, no trailing empty batch is yielded.
///
/// # Errors
///
/// [`Error::ZeroSize`] if `size` is 0.
///
/// # Examples
///
/// ```
/// use std::cell::{Cell, RefCell};
/// use std::collections::VecDeque;
/// use pipework::batch::{batch_getter, Get};
///
/// let queue: RefCell<VecDeque<u32>> = RefCell::new((0..5).collect());
/// let closed = Cell::new(false);
/// let mut batches = batch_getter(
///     || match queue.borrow_mut().pop_front() {
///         Some(item) => Get::Item(item),
///         None if closed.get() => Get::End,
///         None => Get::NotYet,
///     },
///     3,
/// )?;
/// assert_eq!(batches.next(), Some(vec![0, 1, 2]));
/// assert_eq!(batches.next(), Some(vec![3, 4]));
/// assert_eq!(batches.next(), Some(vec![])); // nothing yet
/// queue.borrow_mut().push_back(5);
/// closed.set(true);
/// assert_eq!(batches.next(), Some(vec![5]));
/// assert_eq!(batches.next(), None);
/// # Ok::<(), pipework::batch::Error>(())
/// ```
pub fn batch_getter<T, F>(getter: F, size: usize) -> Result<BatchGetter<F>, Error>
where
    F: FnMut() -> Get<T>,
{
    if size == 0 {
        return Err(Error::ZeroSize {
            helper: "batch_getter",
        });
    }
    Ok(BatchGetter {
        getter,
        size,
        done: false,
    })
}

/// The iterator returned by [`batch_getter`].
#[must_use = "iterators do nothing unless consumed"]
pub struct BatchGetter<F> {
    getter: F,
    size: usize,
    done: bool,
}

impl<F> std::fmt::Debug for BatchGetter<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchGetter")
            .field("size", &self.size)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<T, F: FnMut() -> Get<T>> Iterator for BatchGetter<F> {
    type Item = Vec<T>;

    fn next(&mut self) -> Option<Vec<T>> {
        if self.done {
            return None;
        }
        let mut out = Vec::new();
        while out.len() < self.size {
            match (self.getter)() {
                Get::Item(item) => out.push(item),
                Get::NotYet => return Some(out),
                Get::End => {
                    self.done = true;
                    return if out.is_empty() { None } else { Some(out) };
                }
            }
        }
        Some(out)
    }
}

impl<T, F: FnMut() -> Get<T>> FusedIterator for BatchGetter<F> {}
