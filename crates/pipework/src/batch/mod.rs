//! Batching of iterators: by size, over epochs, and from non-blocking getters.
//!
//! Slow steps are often cheaper per item when fed many items at once (one
//! HTTP call or one database insert per batch), and a dataflow source's
//! `next_batch` must hand over whatever is ready without blocking. The
//! helpers here cover both; they need no Cargo feature, no thread and no
//! runtime.
//!
//! | helper | ported from | yields |
//! |---|---|---|
//! | [`batch(iter, size)`](batch()) | bytewax `batch` | `Vec`s of `size` items, the last one shorter |
//! | [`batches(iterable, size, epochs)`](batches) | abstractions `batches` | the same over `epochs` passes, batches straddling passes |
//! | [`batch_getter(getter, size)`](batch_getter) | bytewax `batch_getter` | what the getter has now, up to `size`, never blocking |
//! | [`batch_getter_ex(getter, size)`](batch_getter_ex) | bytewax `batch_getter_ex` | the same for a getter that errs with "nothing yet" (`try_recv`) |
//!
//! For an async stream, `stream::batch_timeout` (feature `stream`) yields a
//! batch when it is full or when a timeout passes.
//!
//! # Example
//!
//! ```
//! use pipework::batch::{batch, batches};
//!
//! // Three rows per insert.
//! let rows = ["a", "b", "c", "d"];
//! let inserts: Vec<Vec<&str>> = batch(rows, 3)?.collect();
//! assert_eq!(inserts, [vec!["a", "b", "c"], vec!["d"]]);
//!
//! // Two passes over a data set, four items per batch.
//! let data = vec![1, 2, 3];
//! let training: Vec<Vec<&i32>> = batches(&data, 4, 2)?.collect::<Result<_, _>>()?;
//! assert_eq!(training, [vec![&1, &2, &3, &1], vec![&2, &3]]);
//! # Ok::<(), pipework::batch::Error>(())
//! ```
//!
//! # Memory
//!
//! Every helper pulls items lazily and holds at most one batch (`size`
//! items), so an endless input is fine.
//!
//! # Errors
//!
//! A `size` or `epochs` of 0 is a [`Error`] when the helper is built (bytewax
//! would loop forever yielding empty batches). [`batches`] also reports a
//! later epoch that is shorter than the first but not empty
//! ([`Error::ShortEpoch`]), after yielding its items: the data changed
//! between passes. An exhausted one-shot iterator (an empty later pass) just
//! ends the batches, as in abstractions.

mod epochs;
mod error;
mod getter;
mod getter_ex;
mod sized;

pub use self::epochs::{batches, Batches};
pub use self::error::Error;
pub use self::getter::{batch_getter, BatchGetter, Get};
pub use self::getter_ex::{batch_getter_ex, BatchGetterEx, GetError};
pub use self::sized::{batch, Batch};
