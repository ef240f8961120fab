//! `batch_timeout(stream, size, timeout)`: batches that are full or old
//! enough.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::FusedStream;
use futures::Stream;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::error::Error;

/// Gathers the items of `stream` into batches, yielding a batch as soon as
/// it holds `size` items, or when `timeout` has passed since its first item
/// arrived, whichever comes first; at the end of `stream`, the last partial
/// batch. No batch is ever empty.
///
/// The async counterpart of [`batch`](crate::batch::batch) and of bytewax's
/// `batch_async`: for a source that trickles in, it bounds both the batch
/// size and the delay an item can wait for its batch. No item pulled is ever
/// lost to the timeout: `stream` is polled in place, never cancelled
/// mid-pull, and an item arriving after the deadline goes into the next
/// batch. Memory is one batch. The timer runs on tokio's clock (so a
/// paused clock in tests controls it).
///
/// A `timeout` of zero yields whatever is ready at each poll; one too long
/// to add to the clock (`Duration::MAX`) never fires, leaving only `size`.
///
/// # Errors
///
/// [`Error::Zero`] if `size` is 0.
///
/// # Panics
///
/// Polling the stream outside a tokio runtime with the `time` driver
/// enabled panics (tokio's timers need it).
///
/// # Cancel safety
///
/// `next()` on the returned stream is cancel-safe: items gathered so far
/// stay in the pending batch.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use futures::{stream, StreamExt};
/// use pipework::stream::batch_timeout;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pipework::stream::Error> {
/// let batches: Vec<Vec<u32>> = batch_timeout(stream::iter(0..5), 2, Duration::from_secs(1))?
///     .collect()
///     .await;
/// assert_eq!(batches, [vec![0, 1], vec![2, 3], vec![4]]);
/// # Ok(())
/// # }
/// ```
pub fn batch_timeout<S: Stream>(
    stream: S,
    size: usize,
    timeout: Duration,
) -> Result<BatchTimeout<S>, Error> {
    if size == 0 {
        return Err(Error::zero("batch_timeout", "size"));
    }
    Ok(BatchTimeout {
        stream: Some(stream),
        size,
        pending: Vec::new(),
        clock: BatchClock {
            timeout,
            deadline: None,
            armed: false,
        },
    })
}

pin_project! {
    /// The stream returned by [`batch_timeout`].
    ///
    /// It is `Unpin` when `S` is.
    #[must_use = "streams do nothing unless polled"]
    pub struct BatchTimeout<S: Stream> {
        // `None` once the input ended.
        #[pin]
        stream: Option<S>,
        size: usize,
        pending: Vec<S::Item>,
        clock: BatchClock,
    }
}

/// The timeout of the pending batch.
struct BatchClock {
    timeout: Duration,
    /// The timer, created for the first batch and reset for each next one.
    /// Boxed so that a `BatchTimeout` stays `Unpin` when its input is.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Whether `deadline` belongs to the pending batch.
    armed: bool,
}

impl BatchClock {
    /// Starts the timer of a new batch (reusing the timer allocation).
    fn arm(&mut self) {
        // A timeout too long to add to the clock never fires.
        let Some(deadline) = Instant::now().checked_add(self.timeout) else {
            return;
        };
        match self.deadline.as_mut() {
            Some(sleep) => sleep.as_mut().reset(deadline),
            None => self.deadline = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
        self.armed = true;
    }

    /// Whether the pending batch's time is up (registering `cx` otherwise).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.armed
            && self
                .deadline
                .as_mut()
                .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready())
    }
}

/// Hands out the pending batch; the next item starts a new timer.
fn take_batch<T>(pending: &mut Vec<T>, clock: &mut BatchClock) -> Vec<T> {
    clock.armed = false;
    std::mem::take(pending)
}

impl<S: Stream> Stream for BatchTimeout<S> {
    type Item = Vec<S::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        while let Some(stream) = this.stream.as_mut().as_pin_mut() {
            match stream.poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    if this.pending.is_empty() {
                        this.clock.arm();
                    }
                    this.pending.push(item);
                    if this.pending.len() >= *this.size {
                        return Poll::Ready(Some(take_batch(this.pending, this.clock)));
                    }
                }
                Poll::Ready(None) => this.stream.set(None),
                Poll::Pending => {
                    return if this.clock.expired(cx) {
                        Poll::Ready(Some(take_batch(this.pending, this.clock)))
                    } else {
                        Poll::Pending
                    };
                }
            }
        }
        if this.pending.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Ready(Some(take_batch(this.pending, this.clock)))
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pending = self.pending.len();
        match &self.stream {
            Some(stream) => {
                let (lo, hi) = stream.size_hint();
                (
                    (lo + pending) / self.size,
                    hi.and_then(|hi| hi.checked_add(pending)),
                )
            }
            None => {
                let n = usize::from(pending > 0);
                (n, Some(n))
            }
        }
    }
}

impl<S: Stream> FusedStream for BatchTimeout<S> {
    fn is_terminated(&self) -> bool {
        self.stream.is_none() && self.pending.is_empty()
    }
}

impl<S: Stream> std::fmt::Debug for BatchTimeout<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchTimeout")
            .field("size", &self.size)
            .field("timeout", &self.clock.timeout)
            .field("pending", &self.pending.len())
            .field("input_done", &self.stream.is_none())
            .finish_non_exhaustive()
    }
}
