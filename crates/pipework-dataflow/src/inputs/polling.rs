//! A source that calls a function at a regular interval.

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{FixedPartitionedSource, SourceError, StatefulSourcePartition};

/// The outcome of one [`Poller::next_item`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Polled<T> {
    /// An item to emit; the next poll is one interval later.
    Item(T),
    /// Nothing to emit this time (bytewax's `None`); the next poll is one interval later.
    Empty,
    /// Nothing now; poll again after this delay instead of a whole interval
    /// (bytewax's `SimplePollingSource.Retry`).
    Retry(Duration),
    /// The input is exhausted; the partition ends.
    Done,
}

/// The user logic of a [`SimplePollingSource`]: fetch one item, and say where
/// to resume.
pub trait Poller {
    /// The items fetched.
    type Item;
    /// Resume state; use `()` for a poller that keeps none.
    type State: Serialize + DeserializeOwned + 'static;

    /// Fetches the next item. It may block for as long as one fetch takes
    /// (this source is meant for polls seconds to hours apart).
    ///
    /// # Errors
    ///
    /// Any [`SourceError`] stops the dataflow.
    fn next_item(&mut self) -> Result<Polled<Self::Item>, SourceError>;

    /// Where to resume after the last item fetched.
    fn snapshot(&self) -> Self::State;
}

/// Calls a [`Poller`] every `interval`, on one worker (there is no parallelism).
///
/// Awake times are aligned to `align_to` when it is given (otherwise to the
/// time the partition is built): with a 30-minute interval aligned to 04:00, a
/// partition built at 05:15 first polls at 05:30, and one built at exactly
/// 05:00 polls at once. After each poll the next awake time moves one interval
/// on (or by the [`Polled::Retry`] delay) from the previous awake time, so
/// slow polls do not drift the schedule.
///
/// `make` builds the poller, given the resume state when resuming.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use pipework_dataflow::inputs::{
///     FixedPartitionedSource, Polled, Poller, SimplePollingSource, SourceError,
///     StatefulSourcePartition,
/// };
///
/// struct Counter(u32);
/// impl Poller for Counter {
///     type Item = u32;
///     type State = u32;
///     fn next_item(&mut self) -> Result<Polled<u32>, SourceError> {
///         self.0 += 1;
///         Ok(if self.0 > 2 { Polled::Done } else { Polled::Item(self.0) })
///     }
///     fn snapshot(&self) -> u32 { self.0 }
/// }
///
/// let source = SimplePollingSource::new(Duration::from_secs(10), |resume: Option<u32>| {
///     Ok(Counter(resume.unwrap_or(0)))
/// });
/// let now = SystemTime::UNIX_EPOCH;
/// let mut part = source.build_part(now, "singleton", None)?;
/// assert_eq!(part.next_awake(), Some(now));
/// assert_eq!(part.next_batch()?, Some(vec![1]));
/// assert_eq!(part.next_awake(), Some(now + Duration::from_secs(10)));
/// # Ok::<(), SourceError>(())
/// ```
pub struct SimplePollingSource<P, F> {
    interval: Duration,
    align_to: Option<SystemTime>,
    make: F,
    poller: PhantomData<fn() -> P>,
}

impl<P, F> fmt::Debug for SimplePollingSource<P, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimplePollingSource")
            .field("interval", &self.interval)
            .field("align_to", &self.align_to)
            .finish_non_exhaustive()
    }
}

impl<P, F> SimplePollingSource<P, F>
where
    P: Poller,
    F: Fn(Option<P::State>) -> Result<P, SourceError>,
{
    /// A source polling every `interval`, with pollers made by `make`.
    pub fn new(interval: Duration, make: F) -> Self {
        SimplePollingSource {
            interval,
            align_to: None,
            make,
            poller: PhantomData,
        }
    }

    /// Aligns awake times to `align_to` plus whole intervals.
    pub fn align_to(mut self, align_to: SystemTime) -> Self {
        self.align_to = Some(align_to);
        self
    }
}

impl<P, F> FixedPartitionedSource for SimplePollingSource<P, F>
where
    P: Poller + 'static,
    F: Fn(Option<P::State>) -> Result<P, SourceError>,
{
    type Item = P::Item;
    type State = P::State;
    type Partition = SimplePollingPartition<P>;

    /// One partition, `"singleton"`.
    fn list_parts(&self) -> Result<Vec<String>, SourceError> {
        Ok(vec!["singleton".to_owned()])
    }

    fn build_part(
        &self,
        now: SystemTime,
        part: &str,
        resume_state: Option<P::State>,
    ) -> Result<Self::Partition, SourceError> {
        SourceError::check_only_part(part, "singleton")?;
        let poller = (self.make)(resume_state)?;
        Ok(SimplePollingPartition::new(
            now,
            self.interval,
            self.align_to,
            poller,
        ))
    }
}

/// The partition of a [`SimplePollingSource`].
#[derive(Debug)]
pub struct SimplePollingPartition<P> {
    interval: Duration,
    next_awake: SystemTime,
    poller: P,
}

impl<P: Poller> SimplePollingPartition<P> {
    /// A partition built at `now`; its first awake time is `now`, or the
    /// next `align_to + k * interval` at or after `now`.
    pub fn new(
        now: SystemTime,
        interval: Duration,
        align_to: Option<SystemTime>,
        poller: P,
    ) -> Self {
        let next_awake = match align_to {
            Some(mark) => now + until_next_mark(now, mark, interval),
            None => now,
        };
        SimplePollingPartition {
            interval,
            next_awake,
            poller,
        }
    }
}

/// Time from `now` to the first `mark + k * interval` (k any integer) at or after `now`.
fn until_next_mark(now: SystemTime, mark: SystemTime, interval: Duration) -> Duration {
    let step = interval.as_nanos();
    if step == 0 {
        return Duration::ZERO;
    }
    let since_last = match now.duration_since(mark) {
        Ok(after) => after.as_nanos() % step,
        Err(before) => (step - before.duration().as_nanos() % step) % step,
    };
    if since_last == 0 {
        Duration::ZERO
    } else {
        nanos(step - since_last)
    }
}

fn nanos(n: u128) -> Duration {
    let secs = (n / 1_000_000_000) as u64;
    Duration::new(secs, (n % 1_000_000_000) as u32)
}

impl<P: Poller> StatefulSourcePartition for SimplePollingPartition<P> {
    type Item = P::Item;
    type State = P::State;

    fn next_batch(&mut self) -> Result<Option<Vec<P::Item>>, SourceError> {
        match self.poller.next_item()? {
            Polled::Item(item) => {
                self.next_awake += self.interval;
                Ok(Some(vec![item]))
            }
            Polled::Empty => {
                self.next_awake += self.interval;
                Ok(Some(Vec::new()))
            }
            Polled::Retry(after) => {
                self.next_awake += after;
                Ok(Some(Vec::new()))
            }
            Polled::Done => Ok(None),
        }
    }

    fn next_awake(&self) -> Option<SystemTime> {
        Some(self.next_awake)
    }

    fn snapshot(&self) -> P::State {
        self.poller.snapshot()
    }
}
