//! How a `map_async` step calls: capacity, timeout, order, retries and
//! what a failure does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::runtime::Handle;

/// The default number of calls in flight per worker.
pub const DEFAULT_CAPACITY: usize = 16;

/// The longest wait between two attempts the doubling reaches by default.
pub const DEFAULT_MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// In which order a `map_async` step emits results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// In the order the items reached the step on this worker (Flink's
    /// ordered wait). A slow call holds back the results behind it; they
    /// keep their slot until it is emitted, so `capacity` bounds calls in
    /// flight and results waiting together.
    #[default]
    Ordered,
    /// As calls finish (Flink's unordered wait): a slot is free as soon as
    /// its call is.
    Unordered,
}

/// What a call that failed every attempt does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop the dataflow: [`run`](crate::run) returns
    /// [`RunError::Step`](crate::RunError::Step) naming the step, with the
    /// [`MapAsyncError`](super::MapAsyncError) naming the item as source.
    #[default]
    Raise,
    /// Drop the item, log a warning and count it in
    /// [`MapAsyncOptions::skipped`].
    Skip,
}

/// How many items a step dropped under [`OnError::Skip`]: shared by every
/// clone of the [`MapAsyncOptions`] it came from, so one handle counts the
/// step on all workers of a process.
#[derive(Debug, Clone, Default)]
pub struct SkipCount(Arc<AtomicU64>);

impl SkipCount {
    /// The number of items skipped so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn add_one(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The options of [`Stream::map_async`](crate::Stream::map_async) and
/// [`Stream::flat_map_async`](crate::Stream::flat_map_async), built from
/// [`MapAsyncOptions::new`] (the defaults) with one method per setting.
///
/// Build them outside the dataflow's build function and clone them in, so
/// that [`skipped`](Self::skipped) counts every worker.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use pipework_dataflow::{MapAsyncOptions, OnError, Order};
///
/// let options = MapAsyncOptions::new()
///     .capacity(100)
///     .timeout(Duration::from_secs(5))
///     .order(Order::Unordered)
///     .retries(3)
///     .retry_delay(Duration::from_millis(100))
///     .on_error(OnError::Skip);
/// assert_eq!(options.get_capacity(), 100);
/// assert_eq!(options.skipped().get(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct MapAsyncOptions {
    capacity: usize,
    timeout: Option<Duration>,
    order: Order,
    retries: usize,
    retry_delay: Duration,
    max_retry_delay: Duration,
    on_error: OnError,
    runtime: Option<Handle>,
    skipped: SkipCount,
}

impl Default for MapAsyncOptions {
    fn default() -> Self {
        MapAsyncOptions {
            capacity: DEFAULT_CAPACITY,
            timeout: None,
            order: Order::Ordered,
            retries: 0,
            retry_delay: Duration::from_millis(100),
            max_retry_delay: DEFAULT_MAX_RETRY_DELAY,
            on_error: OnError::Raise,
            runtime: None,
            skipped: SkipCount::default(),
        }
    }
}

impl MapAsyncOptions {
    /// The defaults: capacity [`DEFAULT_CAPACITY`], no timeout,
    /// [`Order::Ordered`], no retries, [`OnError::Raise`], the worker's own
    /// runtime.
    pub fn new() -> Self {
        MapAsyncOptions::default()
    }

    /// At most this many calls in flight on each worker (with
    /// [`Order::Ordered`], calls and results waiting for an earlier one).
    /// Items beyond it wait in the step, and the step holds their epoch
    /// open, so the inputs stop reading the next epoch (backpressure).
    /// 0 fails the run when the step is built
    /// ([`MapAsyncError::ZeroCapacity`](super::MapAsyncError::ZeroCapacity)).
    pub fn capacity(mut self, calls: usize) -> Self {
        self.capacity = calls;
        self
    }

    /// The longest one attempt may take; a slower attempt is cancelled and
    /// counts as a failure (retried like one). No timeout by default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The order of the results (default [`Order::Ordered`]).
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Attempts after the first for a call that returned an error or timed
    /// out (a panic is never retried). Default 0.
    pub fn retries(mut self, retries: usize) -> Self {
        self.retries = retries;
        self
    }

    /// The wait before the first retry; each next wait doubles, up to
    /// [`max_retry_delay`](Self::max_retry_delay), with a random jitter of
    /// up to this delay added, so that many items failing together do not
    /// come back together. Default 100 ms.
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// The longest wait between two attempts (default
    /// [`DEFAULT_MAX_RETRY_DELAY`]).
    pub fn max_retry_delay(mut self, delay: Duration) -> Self {
        self.max_retry_delay = delay;
        self
    }

    /// What a call that failed every attempt does (default [`OnError::Raise`]).
    pub fn on_error(mut self, on_error: OnError) -> Self {
        self.on_error = on_error;
        self
    }

    /// Runs the calls on this runtime instead of the worker's own one (a
    /// single-thread runtime started for each worker with a `map_async`
    /// step). Calls on a runtime that shuts down before they end fail with
    /// [`MapAsyncError::Runtime`](super::MapAsyncError::Runtime).
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// The count of items skipped under [`OnError::Skip`], shared with
    /// every clone of these options.
    pub fn skipped(&self) -> SkipCount {
        self.skipped.clone()
    }

    /// The capacity.
    pub fn get_capacity(&self) -> usize {
        self.capacity
    }

    /// The order.
    pub fn get_order(&self) -> Order {
        self.order
    }

    /// The failure policy.
    pub fn get_on_error(&self) -> OnError {
        self.on_error
    }

    pub(crate) fn get_runtime(&self) -> Option<&Handle> {
        self.runtime.as_ref()
    }

    /// What one call needs to know: the timeout and the retry waits.
    pub(crate) fn call_policy(&self) -> CallPolicy {
        CallPolicy {
            timeout: self.timeout,
            retries: self.retries,
            retry_delay: self.retry_delay,
            max_retry_delay: self.max_retry_delay.max(self.retry_delay),
        }
    }
}

/// The part of the options a call task carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallPolicy {
    pub(crate) timeout: Option<Duration>,
    retries: usize,
    retry_delay: Duration,
    max_retry_delay: Duration,
}

impl CallPolicy {
    /// The waits before each retry, one per retry.
    pub(crate) fn delays(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::new()
            .with_min_delay(self.retry_delay)
            .with_max_delay(self.max_retry_delay)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(self.retries)
            .build()
    }
}
