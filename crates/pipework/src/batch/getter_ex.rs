//! `batch_getter_ex(getter, size)`: batch a getter that signals "nothing yet"
//! with an error, such as `try_recv` on a channel.

use std::iter::FusedIterator;

use super::Error;

/// An error type a getter returns that can mean "nothing yet" or "closed",
/// like the `TryRecvError`s of channels.
///
/// This is the Rust form of bytewax's `yield_ex` exception (`queue.Empty`
/// by default): [`batch_getter_ex`] asks the error what it means. It is
/// implemented for the `TryRecvError` of `crossbeam-channel`, of
/// `std::sync::mpsc` and (with the `stream` feature) of
/// `tokio::sync::mpsc`; implement it for your own getter's error type.
/// An error that is neither is a real failure.
pub trait GetError {
    /// This error only means that no item is available right now.
    fn is_not_yet(&self) -> bool;
    /// This error means the source is closed and no item will ever come.
    fn is_end(&self) -> bool;
}

impl GetError for crossbeam_channel::TryRecvError {
    fn is_not_yet(&self) -> bool {
        self.is_empty()
    }
    fn is_end(&self) -> bool {
        self.is_disconnected()
    }
}

impl GetError for std::sync::mpsc::TryRecvError {
    fn is_not_yet(&self) -> bool {
        matches!(self, std::sync::mpsc::TryRecvError::Empty)
    }
    fn is_end(&self) -> bool {
        matches!(self, std::sync::mpsc::TryRecvError::Disconnected)
    }
}

#[cfg(feature = "stream")]
#[cfg_attr(docsrs, doc(cfg(feature = "stream")))]
impl GetError for tokio::sync::mpsc::error::TryRecvError {
    fn is_not_yet(&self) -> bool {
        matches!(self, tokio::sync::mpsc::error::TryRecvError::Empty)
    }
    fn is_end(&self) -> bool {
        matches!(self, tokio::sync::mpsc::error::TryRecvError::Disconnected)
    }
}

/// Batches items from a getter that returns an error when it has nothing
/// yet, such as `|| rx.try_recv()` on a channel.
///
/// Like [`batch_getter`](crate::batch::batch_getter), each `next` gathers up
/// to `size` items and never blocks; the error returned by the getter is
/// classified with [`GetError`]:
/// - "nothing yet" ([`GetError::is_not_yet`]): the batch so far is yielded
///   as `Ok`, possibly empty;
/// - "closed" ([`GetError::is_end`]): the batch so far is yielded if not
///   empty, then the iterator ends;
/// - any other error: the batch so far is yielded if not empty, then
///   `Err(error)`, then the iterator ends. (bytewax lets such an exception
///   escape and loses the partial batch; here no item is lost.)
///
/// This is bytewax's `batch_getter_ex`.
///
/// # Errors
///
/// [`Error::ZeroSize`] if `size` is 0.
///
/// # Examples
///
/// ```
/// use pipework::batch::batch_getter_ex;
///
/// let (tx, rx) = crossbeam_channel::bounded(8);
/// for i in 0..4 {
///     tx.send(i).unwrap();
/// }
/// let mut batches = batch_getter_ex(|| rx.try_recv(), 3)?;
/// assert_eq!(batches.next(), Some(Ok(vec![0, 1, 2])));
/// assert_eq!(batches.next(), Some(Ok(vec![3])));
/// assert_eq!(batches.next(), Some(Ok(vec![])));
/// drop(tx);
/// assert_eq!(batches.next(), None);
/// # Ok::<(), pipework::batch::Error>(())
/// ```
pub fn batch_getter_ex<T, E, F>(getter: F, size: usize) -> Result<BatchGetterEx<F, E>, Error>
where
    F: FnMut() -> Result<T, E>,
    E: GetError,
{
    if size == 0 {
        return Err(Error::ZeroSize {
            helper: "batch_getter_ex",
        });
    }
    Ok(BatchGetterEx {
        getter,
        size,
        state: State::Open,
    })
}

enum State<E> {
    Open,
    /// A real error came after a non-empty partial batch; it is yielded next.
    Failed(E),
    Done,
}

/// The iterator returned by [`batch_getter_ex`].
#[must_use = "iterators do nothing unless consumed"]
pub struct BatchGetterEx<F, E> {
    getter: F,
    size: usize,
    state: State<E>,
}

impl<F, E> std::fmt::Debug for BatchGetterEx<F, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Open => "open",
            State::Failed(_) => "failed",
            State::Done => "done",
        };
        f.debug_struct("BatchGetterEx")
            .field("size", &self.size)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<T, E, F> Iterator for BatchGetterEx<F, E>
where
    F: FnMut() -> Result<T, E>,
    E: GetError,
{
    type Item = Result<Vec<T>, E>;

    fn next(&mut self) -> Option<Self::Item> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Open => self.state = State::Open,
            State::Failed(error) => return Some(Err(error)),
            State::Done => return None,
        }
        let mut out = Vec::new();
        while out.len() < self.size {
            match (self.getter)() {
                Ok(item) => out.push(item),
                Err(error) if error.is_not_yet() => return Some(Ok(out)),
                Err(error) => {
                    let end = error.is_end();
                    if out.is_empty() {
                        self.state = State::Done;
                        return if end { None } else { Some(Err(error)) };
                    }
                    self.state = if end {
                        State::Done
                    } else {
                        State::Failed(error)
                    };
                    return Some(Ok(out));
                }
            }
        }
        Some(Ok(out))
    }
}

impl<T, E, F> FusedIterator for BatchGetterEx<F, E>
where
    F: FnMut() -> Result<T, E>,
    E: GetError,
{
}
