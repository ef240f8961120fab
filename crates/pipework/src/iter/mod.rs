//! Single-threaded iterator pipelines: paipa's "coroutine pipeline" done
//! with Rust iterators.
//!
//! A coroutine pipeline in paipa is a stack of generators, each taking the
//! iterator before it. In Rust that is an iterator adapter chain, which
//! already runs with no threads, no queues and no allocation per item. This
//! module adds what `std` lacks:
//!
//! - [`chunk`] / [`IteratorExt::chunk`]: `Vec`s of `n` items (an `n` of 0 is
//!   an error, not a panic); `Iterator::flatten` undoes it;
//! - [`consume`]: drive an iterator for its side effects;
//! - [`combine`]: build a pipeline from a *list* of steps chosen at run time;
//! - [`StatsRecorder`] / [`IteratorExt::stats`]: per-step count, time and
//!   throughput, paipa's debugger.
//!
//! ```
//! use pipework::iter::IteratorExt;
//!
//! let sent: usize = (0..10_000u32)
//!     .filter(|n| n % 2 == 0)     // only_available
//!     .chunk(2048)?                // batches to send
//!     .inspect(|batch| assert!(batch.len() <= 2048))
//!     .flatten()                   // flatten it out again
//!     .count();
//! assert_eq!(sent, 5000);
//! # Ok::<(), pipework::iter::ZeroChunkSize>(())
//! ```
//!
//! Use this for CPU-light steps on one thread; when a step is slow (I/O) or
//! worth several cores, move it into a threaded
//! [`Pipeline`](crate::pipeline::Pipeline) step.

mod chunk;
mod compose;
mod consume;
mod stats;

pub use chunk::{chunk, Chunk, ZeroChunkSize};
pub use compose::{combine, BoxIter, IterStep};
pub use consume::consume;
pub use stats::{IterStats, Stats, StatsRecorder};

/// Iterator adapters of this module, as methods.
pub trait IteratorExt: Iterator + Sized {
    /// Groups items into `Vec`s of `size`; see [`chunk`].
    ///
    /// # Errors
    ///
    /// [`ZeroChunkSize`] if `size` is 0.
    fn chunk(self, size: usize) -> Result<Chunk<Self>, ZeroChunkSize> {
        chunk(self, size)
    }

    /// Counts and times this step's items into `recorder` under `name`.
    fn stats(self, recorder: &StatsRecorder, name: &str) -> Stats<Self> {
        Stats::new(self, recorder, name)
    }
}

impl<I: Iterator> IteratorExt for I {}
