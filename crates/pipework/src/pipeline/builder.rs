//! [`Pipeline`]: the builder that chains steps, takes input and starts threads.

use std::convert::Infallible;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::control::Control;
use super::emitter::Target;
use super::error::{BoxError, Error};
use super::feed::{spawn_feeder, Feed, FirstQueue};
use super::fn_step::{ChunkStep, FilterMapStep, FlatMapStep, MapStep};
use super::handle::{PipelineHandle, Running, StepRuntime};
use super::input::InputState;
use super::outputs::Outputs;
use super::queue::{queue, Envelope};
use super::report::Report;
use super::step::Step;
use super::step_spec::{
    add_step, no_steps, ClonerSlot, Launch, OnError, StepConfig, StepHooks, StepSpec, Wiring,
    DEFAULT_QUEUE,
};
use crate::internal::lock;

/// A threaded pipeline under construction: steps, their settings, and input.
///
/// `In` is what goes in, `Out` what the last step emits, and `Prev` the
/// input type of the last step added (it lets [`retries`](Pipeline::retries)
/// require `Clone` of that step's input only).
///
/// Settings methods ([`name`](Pipeline::name), [`threads`](Pipeline::threads),
/// [`queue`](Pipeline::queue), [`retries`](Pipeline::retries),
/// [`on_error`](Pipeline::on_error)) apply to the step added last.
///
/// # Examples
///
/// paipa's introduction: three "download" threads feeding one printing thread.
///
/// ```
/// use pipework::pipeline::Pipeline;
///
/// let mut pipeline = Pipeline::new()
///     .map(|url: &str| format!("<html>{url}</html>")).name("download").threads(3)
///     .map(|page: String| page.len()).name("measure");
/// pipeline.put("http://example.com/2");
/// pipeline.put("http://example.com/4");
/// pipeline.finish();
/// let report = pipeline.run()?;
/// assert_eq!(report.outputs(), 2);
/// # Ok::<(), pipework::pipeline::Error>(())
/// ```
#[must_use = "a pipeline does nothing until it is run, spawned or iterated"]
pub struct Pipeline<In: Send + 'static, Out: Send + 'static = In, Prev = In> {
    /// Each step's settings and hooks, in order.
    steps: Vec<Box<dyn StepHooks>>,
    /// How the steps are linked and started.
    wiring: Wiring<In, Out>,
    /// Where [`retries`](Pipeline::retries) puts the last step's cloner.
    cloner: Option<ClonerSlot<Prev>>,
    sources: Vec<Feed<In>>,
    finished: bool,
    ordered: bool,
    daemon: bool,
    progress: bool,
    misconfigured: Option<String>,
    _types: PhantomData<fn(In, Prev) -> Out>,
}

impl<In: Send + 'static, Out: Send + 'static, Prev> fmt::Debug for Pipeline<In, Out, Prev> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field(
                "steps",
                &self
                    .steps
                    .iter()
                    .map(|s| s.config().name.clone())
                    .collect::<Vec<_>>(),
            )
            .field("finished", &self.finished)
            .field("ordered", &self.ordered)
            .field("daemon", &self.daemon)
            .finish_non_exhaustive()
    }
}

impl<In: Send + 'static> Default for Pipeline<In> {
    fn default() -> Self {
        Self::new()
    }
}

impl<In: Send + 'static> Pipeline<In> {
    /// An empty pipeline taking `In`. Add steps with [`map`](Pipeline::map),
    /// [`step`](Pipeline::step) and friends.
    pub fn new() -> Self {
        Pipeline {
            steps: Vec::new(),
            wiring: no_steps(),
            cloner: None,
            sources: Vec::new(),
            finished: false,
            ordered: false,
            daemon: false,
            progress: false,
            misconfigured: None,
            _types: PhantomData,
        }
    }
}

impl<In: Send + 'static, Out: Send + 'static, Prev> Pipeline<In, Out, Prev> {
    fn push<S: Step<In = Out>>(mut self, step: S, kind: &str) -> Pipeline<In, S::Out, Out> {
        let index = self.steps.len();
        let step = Arc::new(step);
        let cloner = ClonerSlot::default();
        self.steps.push(Box::new(StepSpec {
            step: step.clone(),
            config: StepConfig {
                name: format!("{kind}-{index}"),
                threads: 1,
                queue: DEFAULT_QUEUE,
                retries: 0,
                on_error: OnError::Stop,
            },
        }));
        Pipeline {
            steps: self.steps,
            wiring: add_step(self.wiring, step, index, cloner.clone()),
            cloner: Some(cloner),
            sources: self.sources,
            finished: self.finished,
            ordered: self.ordered,
            daemon: self.daemon,
            progress: self.progress,
            misconfigured: self.misconfigured,
            _types: PhantomData,
        }
    }

    /// Adds a step implementing [`Step`], for state and hooks.
    pub fn step<S: Step<In = Out>>(self, step: S) -> Pipeline<In, S::Out, Out> {
        self.push(step, "step")
    }

    /// Adds a step calling `f` on each item (paipa's `funcstep`).
    pub fn map<U, F>(self, f: F) -> Pipeline<In, U, Out>
    where
        F: Fn(Out) -> U + Send + Sync + 'static,
        U: Send + 'static,
    {
        self.push(MapStep::new(move |x| Ok::<U, Infallible>(f(x))), "map")
    }

    /// Adds a step calling a fallible `f` on each item. An `Err` fails the
    /// item: it is retried, then handled by the step's [`OnError`].
    pub fn try_map<U, E, F>(self, f: F) -> Pipeline<In, U, Out>
    where
        F: Fn(Out) -> Result<U, E> + Send + Sync + 'static,
        U: Send + 'static,
        E: Into<BoxError>,
    {
        self.push(MapStep::new(f), "map")
    }

    /// Adds a step that drops the items for which `f` gives `None` (counted
    /// as skipped: paipa's `SkipEntry`).
    pub fn filter_map<U, F>(self, f: F) -> Pipeline<In, U, Out>
    where
        F: Fn(Out) -> Option<U> + Send + Sync + 'static,
        U: Send + 'static,
    {
        self.push(
            FilterMapStep::new(move |x| Ok::<_, Infallible>(f(x))),
            "filter_map",
        )
    }

    /// The fallible form of [`filter_map`](Pipeline::filter_map).
    pub fn try_filter_map<U, E, F>(self, f: F) -> Pipeline<In, U, Out>
    where
        F: Fn(Out) -> Result<Option<U>, E> + Send + Sync + 'static,
        U: Send + 'static,
        E: Into<BoxError>,
    {
        self.push(FilterMapStep::new(f), "filter_map")
    }

    /// Adds a step emitting every item of what `f` returns: 0..n outputs per
    /// input, pulled lazily into the next queue. In an
    /// [`ordered`](Pipeline::ordered) pipeline the outputs of one input are
    /// collected before they are released, so they are all in memory at once.
    pub fn flat_map<I, F>(self, f: F) -> Pipeline<In, I::Item, Out>
    where
        F: Fn(Out) -> I + Send + Sync + 'static,
        I: IntoIterator,
        I::Item: Send + 'static,
    {
        self.push(
            FlatMapStep::new(move |x| Ok::<_, Infallible>(f(x))),
            "flat_map",
        )
    }

    /// The fallible form of [`flat_map`](Pipeline::flat_map).
    pub fn try_flat_map<I, E, F>(self, f: F) -> Pipeline<In, I::Item, Out>
    where
        F: Fn(Out) -> Result<I, E> + Send + Sync + 'static,
        I: IntoIterator,
        I::Item: Send + 'static,
        E: Into<BoxError>,
    {
        self.push(FlatMapStep::new(f), "flat_map")
    }

    /// Adds a step grouping items into `Vec`s of `size`; each of its threads
    /// emits its last, shorter chunk when the input ends. A `size` of 0 makes
    /// the pipeline fail to start with [`Error::InvalidConfig`].
    pub fn chunk(mut self, size: usize) -> Pipeline<In, Vec<Out>, Out> {
        if size == 0 {
            self.misconfigure("chunk size must be at least 1".to_string());
        }
        self.push(ChunkStep::new(size.max(1), None), "chunk")
    }

    /// Like [`chunk`](Pipeline::chunk), and a thread also emits its partial
    /// chunk when no item has come for `timeout` (paipa's `TimedChunk`): a
    /// trickle of items still moves on in bounded time. A `size` or
    /// `timeout` of 0 makes the pipeline fail to start with
    /// [`Error::InvalidConfig`]. In an [`ordered`](Pipeline::ordered)
    /// pipeline the timer is off (see [`Step::idle`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use pipework::pipeline::Pipeline;
    ///
    /// let mut outputs = Pipeline::new()
    ///     .timed_chunk(100, Duration::from_millis(20))
    ///     .outputs()?;
    /// let input = outputs.input().expect("the pipeline runs");
    /// input.put(1).expect("the pipeline takes items");
    /// // Far fewer than 100 items, yet the chunk comes out once the input
    /// // has been quiet for 20 ms.
    /// assert_eq!(outputs.next().transpose()?, Some(vec![1]));
    /// input.finish();
    /// assert_eq!(outputs.next().transpose()?, None);
    /// # Ok::<(), pipework::pipeline::Error>(())
    /// ```
    pub fn timed_chunk(mut self, size: usize, timeout: Duration) -> Pipeline<In, Vec<Out>, Out> {
        if size == 0 {
            self.misconfigure("chunk size must be at least 1".to_string());
        }
        if timeout.is_zero() {
            self.misconfigure("chunk timeout must be longer than 0".to_string());
        }
        self.push(ChunkStep::new(size.max(1), Some(timeout)), "timed_chunk")
    }

    /// Adds a step emitting each element of each item (the reverse of
    /// [`chunk`](Pipeline::chunk)).
    pub fn flatten(self) -> Pipeline<In, <Out as IntoIterator>::Item, Out>
    where
        Out: IntoIterator,
        <Out as IntoIterator>::Item: Send + 'static,
    {
        self.push(FlatMapStep::new(|x: Out| Ok::<_, Infallible>(x)), "flatten")
    }

    fn misconfigure(&mut self, why: String) {
        self.misconfigured.get_or_insert(why);
    }

    fn last_config(&mut self, setting: &str) -> Option<&mut StepConfig> {
        if self.steps.is_empty() {
            self.misconfigure(format!("{setting}() called before any step was added"));
            return None;
        }
        self.steps.last_mut().map(|s| s.config_mut())
    }

    /// Names the last step; errors and reports use the name. Defaults to its
    /// kind and position, like `map-0`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        if let Some(c) = self.last_config("name") {
            c.name = name.into();
        }
        self
    }

    /// Runs the last step on `n` threads (default 1). 0 makes the pipeline
    /// fail to start with [`Error::InvalidConfig`].
    pub fn threads(mut self, n: usize) -> Self {
        if n == 0 {
            self.misconfigure("a step needs at least 1 thread".to_string());
        } else if let Some(c) = self.last_config("threads") {
            c.threads = n;
        }
        self
    }

    /// Sets how many items may wait in the last step's input queue (default
    /// [`DEFAULT_QUEUE`](super::DEFAULT_QUEUE)). 0 makes every hand-over a
    /// rendezvous.
    pub fn queue(mut self, capacity: usize) -> Self {
        if let Some(c) = self.last_config("queue") {
            c.queue = capacity;
        }
        self
    }

    /// Sets what the last step does with an item that still fails after its
    /// retries (default [`OnError::Stop`]).
    pub fn on_error(mut self, policy: OnError) -> Self {
        if let Some(c) = self.last_config("on_error") {
            c.on_error = policy;
        }
        self
    }

    /// Keeps input order through every step, multi-threaded ones included:
    /// each step holds up to `queue + threads` finished items waiting for an
    /// earlier one, and threads running further ahead wait.
    pub fn ordered(mut self) -> Self {
        self.ordered = true;
        self
    }

    /// Makes the pipeline a daemon: dropping its handle closes the input and
    /// returns at once, leaving the threads to finish on their own; what is
    /// still queued when the process exits is lost.
    pub fn daemon(mut self) -> Self {
        self.daemon = true;
        self
    }

    /// Shows a progress bar per step on stderr while running (on a terminal).
    #[cfg(feature = "progress")]
    #[cfg_attr(docsrs, doc(cfg(feature = "progress")))]
    pub fn progress(mut self) -> Self {
        self.progress = true;
        self
    }

    /// Puts one item before the pipeline starts. It waits in memory until
    /// then, as with paipa's `put`.
    pub fn put(&mut self, item: In) {
        match self.sources.last_mut() {
            Some(Feed::Items(items)) => items.push(item),
            _ => self.sources.push(Feed::Items(vec![item])),
        }
    }

    /// Puts every item of `items` before the pipeline starts; they all wait
    /// in memory. For large inputs prefer [`put_iter`](Pipeline::put_iter).
    pub fn put_all<I: IntoIterator<Item = In>>(&mut self, items: I) {
        for item in items {
            self.put(item);
        }
    }

    /// Feeds the pipeline from `iter`, pulled lazily on its own thread only
    /// when the first queue has room, so memory stays flat even for an
    /// endless iterator. An iterator given here makes the input finite: the
    /// pipeline ends when every iterator is exhausted, as if
    /// [`finish`](Pipeline::finish)ed (to add input while running, use
    /// [`PipelineHandle::put_iter`] or [`put_receiver`](Pipeline::put_receiver)).
    pub fn put_iter<I>(&mut self, iter: I)
    where
        I: IntoIterator<Item = In>,
        I::IntoIter: Send + 'static,
    {
        self.sources.push(Feed::Iter(Box::new(iter.into_iter())));
    }

    /// Feeds the pipeline from an external channel until the channel
    /// disconnects, or until the running pipeline is finished or stopped
    /// (the items the channel holds at that moment are still taken in).
    /// Such a pipeline must be spawned, not [`run`](Pipeline::run).
    pub fn put_receiver(&mut self, rx: Receiver<In>) {
        self.sources.push(Feed::Channel(rx));
    }

    /// Says no more input will be put: the pipeline ends once its input is
    /// processed.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// Runs the pipeline on this thread's behalf and waits for it to end.
    /// The last step's outputs are counted and dropped; see
    /// [`outputs`](Pipeline::outputs) to consume them.
    ///
    /// # Errors
    ///
    /// [`Error::InputOpen`] if input could still come (not finished, or fed
    /// by a channel), [`Error::InvalidConfig`] for a wrong setting, and the
    /// first error of the run otherwise (every thread stops then).
    pub fn run(self) -> Result<Report, Error> {
        let has_channel = self.sources.iter().any(|s| matches!(s, Feed::Channel(_)));
        let has_iter = self.sources.iter().any(|s| matches!(s, Feed::Iter(_)));
        if has_channel || !(self.finished || has_iter) {
            return Err(Error::InputOpen);
        }
        self.start(|_| Target::Discard)?.stop()
    }

    /// Starts the pipeline in the background.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`], a step's `setup` failing, or a thread that
    /// could not be spawned.
    pub fn spawn(self) -> Result<PipelineHandle<In>, Error> {
        self.start(|_| Target::Discard)
    }

    /// Starts the pipeline in the background and returns the last step's
    /// outputs as an iterator.
    ///
    /// # Errors
    ///
    /// As for [`spawn`](Pipeline::spawn).
    pub fn outputs(self) -> Result<Outputs<In, Out>, Error> {
        let mut outputs = None;
        let handle = self.start(|control| {
            let (tx, rx) = queue::<Envelope<Out>>(DEFAULT_QUEUE, control);
            outputs = Some(rx);
            Target::Queue(tx)
        })?;
        match outputs {
            Some(rx) => Ok(Outputs::new(rx, handle)),
            None => Err(no_step()),
        }
    }

    /// Starts the pipeline: checks its settings, runs the steps' `setup`
    /// hooks, launches their threads from the last back to the first, then
    /// the feeders of its input.
    fn start(
        self,
        last_target: impl FnOnce(&Control) -> Target<Out>,
    ) -> Result<PipelineHandle<In>, Error> {
        if let Some(why) = self.misconfigured {
            return Err(Error::InvalidConfig(why));
        }
        if self.steps.is_empty() {
            return Err(no_step());
        }
        setup_all(&self.steps)?;
        let control = Arc::new(Control::new());
        let mut launch = Launch {
            configs: self.steps.iter().map(|s| s.config().clone()).collect(),
            ordered: self.ordered,
            control: &control,
            launched: Vec::with_capacity(self.steps.len()),
        };
        let Target::Queue(first_tx) = (self.wiring)(last_target(&control), &mut launch) else {
            return Err(no_step());
        };
        let Launch {
            configs,
            mut launched,
            ..
        } = launch;
        launched.reverse();
        let first = Arc::new(FirstQueue::new(
            first_tx,
            self.ordered,
            Arc::new(control.for_thread()),
        ));
        let mut workers = Vec::new();
        let steps = step_runtimes(&first, configs, launched, &mut workers);

        // An iterator given before the start is a finite source: the input
        // ends with it, as if finished.
        let finished = self.finished || self.sources.iter().any(|s| matches!(s, Feed::Iter(_)));
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let feeders = spawn_feeders(self.sources, &first, &stop_rx, &control);

        #[cfg(feature = "progress")]
        let progress = self
            .progress
            .then(|| super::progress::ProgressMonitor::start(steps.clone()));

        let running = Running {
            control,
            input: Arc::new(InputState::new((!finished).then_some(first), stop_tx)),
            stop_rx,
            feeders: Mutex::new(feeders),
            workers,
            steps,
            started: Instant::now(),
            daemon: self.daemon,
            #[cfg(feature = "progress")]
            progress,
        };
        Ok(PipelineHandle::new(running))
    }
}

fn no_step() -> Error {
    Error::InvalidConfig("a pipeline needs at least one step".to_string())
}

/// Runs every step's `setup` hook in order; if one fails, the `teardown`
/// hooks of the steps set up before it run, and its error is returned.
fn setup_all(steps: &[Box<dyn StepHooks>]) -> Result<(), Error> {
    for (i, step) in steps.iter().enumerate() {
        if let Err(e) = step.setup() {
            steps[..i].iter().for_each(|s| s.teardown());
            return Err(e);
        }
    }
    Ok(())
}

/// What the handle reads of each running step: counters, and its queue's
/// depth. Moves the steps' threads into `workers`.
fn step_runtimes<In>(
    first: &FirstQueue<In>,
    configs: Vec<StepConfig>,
    launched: Vec<super::step_spec::Launched>,
    workers: &mut Vec<std::thread::JoinHandle<()>>,
) -> Arc<Vec<StepRuntime>> {
    // Items sent into the next step's queue so far: what the feeders put,
    // then what each step emitted. Minus what the step took, that is its
    // queue's depth (no receiver is kept just to ask the queue).
    let mut sent_into: Counter = {
        let sent = first.sent.clone();
        Box::new(move || sent.load(Ordering::Relaxed))
    };
    let mut steps = Vec::with_capacity(configs.len());
    for (config, launched) in configs.into_iter().zip(launched) {
        workers.extend(launched.threads);
        let counters = launched.counters;
        let (taken, emitted) = (counters.clone(), counters.clone());
        let sent = std::mem::replace(
            &mut sent_into,
            Box::new(move || emitted.output.load(Ordering::Relaxed)),
        );
        let queue_len: Box<dyn Fn() -> usize + Send + Sync> = Box::new(move || {
            let taken = taken.input.load(Ordering::Relaxed);
            usize::try_from(sent().saturating_sub(taken)).unwrap_or(usize::MAX)
        });
        steps.push(StepRuntime {
            name: config.name,
            threads: config.threads,
            capacity: config.queue,
            counters,
            queue_len,
        });
    }
    Arc::new(steps)
}

/// Starts the feeders: one for the items and iterators put before the
/// start, one per external channel. A feeder that cannot be spawned fails
/// the run.
fn spawn_feeders<In: Send + 'static>(
    sources: Vec<Feed<In>>,
    first: &Arc<FirstQueue<In>>,
    stop_rx: &Receiver<()>,
    control: &Arc<Control>,
) -> Vec<std::thread::JoinHandle<()>> {
    let (channels, finite): (Vec<_>, Vec<_>) = sources
        .into_iter()
        .partition(|s| matches!(s, Feed::Channel(_)));
    let mut feeders = Vec::new();
    for sources in std::iter::once(finite).chain(channels.into_iter().map(|c| vec![c])) {
        if sources.is_empty() {
            continue;
        }
        let thread_control = Arc::new(control.for_thread());
        match spawn_feeder(sources, first.clone(), stop_rx.clone(), thread_control) {
            Ok(h) => feeders.push(h),
            Err(e) => {
                control.fail(e);
                break;
            }
        }
    }
    feeders
}

/// Reads a running count of items.
type Counter = Box<dyn Fn() -> u64 + Send + Sync>;

impl<In: Send + 'static, Out: Send + 'static, Prev: Clone + 'static> Pipeline<In, Out, Prev> {
    /// Retries an item that failed in the last step up to `n` more times
    /// (default 0) before its [`OnError`] policy applies. The step's input
    /// must be `Clone`: each attempt gets a fresh copy.
    pub fn retries(mut self, n: u32) -> Self {
        let cloner: fn(&Prev) -> Prev = Prev::clone;
        if let Some(c) = self.last_config("retries") {
            c.retries = n;
        }
        if let Some(slot) = &self.cloner {
            *lock(slot) = Some(cloner);
        }
        self
    }
}

impl<In: Send + 'static, Out: Send + 'static, Prev> IntoIterator for Pipeline<In, Out, Prev> {
    type Item = Result<Out, Error>;
    type IntoIter = OutputsOrError<In, Out>;

    /// Starts the pipeline and iterates its outputs; a start failure is the
    /// first and only item.
    fn into_iter(self) -> Self::IntoIter {
        match self.outputs() {
            Ok(outputs) => OutputsOrError::Outputs(outputs),
            Err(e) => OutputsOrError::Failed(Some(e)),
        }
    }
}

/// The iterator of a pipeline used with `for`: its [`Outputs`], or the one
/// error that kept it from starting.
#[derive(Debug)]
pub enum OutputsOrError<In: Send + 'static, Out> {
    /// The pipeline started.
    Outputs(Outputs<In, Out>),
    /// The pipeline could not start; yields the error once.
    Failed(Option<Error>),
}

impl<In: Send + 'static, Out> Iterator for OutputsOrError<In, Out> {
    type Item = Result<Out, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            OutputsOrError::Outputs(o) => o.next(),
            OutputsOrError::Failed(e) => e.take().map(Err),
        }
    }
}
