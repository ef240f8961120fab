//! A step together with its settings, and how its threads are started.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::control::Control;
use super::emitter::Target;
use super::error::{BoxError, Error};
use super::queue::{queue, Envelope, Receiver};
use super::reorder::Reorder;
use super::report::StepCounters;
use super::step::{Step, ThreadInfo};
use super::worker::{run_user_code, worker, Delivery, WorkerConfig};
use crate::internal::lock;

/// What a step does with an item that still fails after its retries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnError {
    /// Stop the whole pipeline: every thread ends, queued items are dropped,
    /// and `run`/`stop` return the error, naming the step. The default.
    #[default]
    Stop,
    /// Count the item as failed, log it (`tracing` at warn level), and go on.
    Skip,
}

/// The queue capacity a step gets unless told otherwise (paipa's threshold).
pub const DEFAULT_QUEUE: usize = 64;

/// A step's settings.
#[derive(Debug, Clone)]
pub(crate) struct StepConfig {
    pub(crate) name: String,
    pub(crate) threads: usize,
    pub(crate) queue: usize,
    pub(crate) retries: u32,
    pub(crate) on_error: OnError,
}

/// What the pipeline keeps of a started step.
pub(crate) struct Launched {
    pub(crate) threads: Vec<JoinHandle<()>>,
    pub(crate) counters: Arc<StepCounters>,
}

/// What the pipeline needs of a step before and after its threads run,
/// whatever the step's types: its settings and its once-per-step hooks.
pub(crate) trait StepHooks: Send {
    fn config(&self) -> &StepConfig;
    fn config_mut(&mut self) -> &mut StepConfig;
    fn setup(&self) -> Result<(), Error>;
    fn teardown(&self);
}

/// Copies a step's input for a retry.
pub(crate) type Cloner<T> = fn(&T) -> T;

/// Where the builder puts the cloner of a step taking `T` once
/// [`retries`](super::Pipeline::retries) is called; read when it launches.
pub(crate) type ClonerSlot<T> = Arc<Mutex<Option<Cloner<T>>>>;

/// The steps of a pipeline taking `In` and emitting `Out`, not yet started.
///
/// Given where the last step's outputs go, it launches the last step, then
/// the one before it with the last step's queue as its target, and so on,
/// and returns where the pipeline's input goes. The builder composes it one
/// step at a time, so a step's input queue has the type of the step before's
/// outputs: linking steps of different types does not compile.
pub(crate) type Wiring<In, Out> =
    Box<dyn FnOnce(Target<Out>, &mut Launch<'_>) -> Target<In> + Send>;

/// What launching the steps needs and gathers.
pub(crate) struct Launch<'a> {
    /// Every step's settings, by position.
    pub(crate) configs: Vec<StepConfig>,
    pub(crate) ordered: bool,
    pub(crate) control: &'a Arc<Control>,
    /// The steps started so far, last step first.
    pub(crate) launched: Vec<Launched>,
}

/// The wiring of no steps: the input goes where the outputs would.
pub(crate) fn no_steps<T: Send + 'static>() -> Wiring<T, T> {
    Box::new(|target, _| target)
}

/// Adds `step`, at position `index`, after the steps of `before`.
pub(crate) fn add_step<In, S>(
    before: Wiring<In, S::In>,
    step: Arc<S>,
    index: usize,
    cloner: ClonerSlot<S::In>,
) -> Wiring<In, S::Out>
where
    In: Send + 'static,
    S: Step,
{
    Box::new(move |target, launch| {
        let config = launch.configs[index].clone();
        let (tx, rx) = queue::<Envelope<S::In>>(config.queue, launch.control);
        let cloner = *lock(&cloner);
        let launched = launch_threads(step, config, cloner, rx, target, launch);
        launch.launched.push(launched);
        before(Target::Queue(tx), launch)
    })
}

/// A step as the pipeline holds it until it starts.
pub(crate) struct StepSpec<S: Step> {
    pub(crate) step: Arc<S>,
    pub(crate) config: StepConfig,
}

fn hook_error(step: &str, hook: &'static str, source: BoxError) -> Error {
    Error::HookFailed {
        step: step.to_string(),
        hook,
        source,
    }
}

impl<S: Step> StepHooks for StepSpec<S> {
    fn config(&self) -> &StepConfig {
        &self.config
    }

    fn config_mut(&mut self) -> &mut StepConfig {
        &mut self.config
    }

    fn setup(&self) -> Result<(), Error> {
        run_user_code(|| self.step.setup())
            .map_err(|f| hook_error(&self.config.name, "setup", f.into_box()))
    }

    fn teardown(&self) {
        if let Err(f) = run_user_code(|| self.step.teardown()) {
            tracing::error!(step = %self.config.name, error = %f.into_box(), "teardown failed");
        }
    }
}

/// Starts a step's threads on its input queue `rx`, emitting into `target`.
fn launch_threads<S: Step>(
    step: Arc<S>,
    config: StepConfig,
    cloner: Option<Cloner<S::In>>,
    rx: Receiver<Envelope<S::In>>,
    target: Target<S::Out>,
    launch: &Launch<'_>,
) -> Launched {
    let control = launch.control;
    let counters = Arc::new(StepCounters::default());
    let threads = config.threads;
    let output = match target {
        Target::Queue(tx) if launch.ordered => {
            let window = config.queue + threads;
            Delivery::Ordered(Reorder::new(Target::Queue(tx), window, threads, control))
        }
        t => Delivery::Direct(Arc::new(t)),
    };
    let worker_config = Arc::new(WorkerConfig {
        retries: config.retries,
        on_error: config.on_error,
        cloner,
    });
    let mut handles = Vec::with_capacity(threads);
    for index in 0..threads {
        let info = ThreadInfo {
            step: config.name.clone(),
            index,
            threads,
        };
        let name = format!("{}-{}", config.name, index);
        let (step, rx, output, worker_config, counters, thread_control) = (
            step.clone(),
            rx.clone(),
            output.clone(),
            worker_config.clone(),
            counters.clone(),
            control.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                worker(
                    step,
                    info,
                    rx,
                    output,
                    worker_config,
                    counters,
                    thread_control,
                )
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(source) => {
                control.fail(Error::ThreadSpawn { name, source });
                break;
            }
        }
    }
    Launched {
        threads: handles,
        counters,
    }
}
