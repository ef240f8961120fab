//! A step together with its settings, and how its threads are started.

use std::any::Any;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Receiver;

use super::control::Control;
use super::emitter::Target;
use super::error::{BoxError, Error};
use super::queue::{queue, Envelope};
use super::reorder::Reorder;
use super::report::StepCounters;
use super::step::{Step, ThreadInfo};
use super::worker::{guarded, worker, Output, WorkerConfig};

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
pub(crate) struct StageConfig {
    pub(crate) name: String,
    pub(crate) threads: usize,
    pub(crate) queue: usize,
    pub(crate) retries: u32,
    pub(crate) on_error: OnError,
}

/// A step's input queue, typed for the step but erased for the pipeline.
pub(crate) struct InputQueue {
    /// `Target<In>`: the previous step's output.
    pub(crate) target: Box<dyn Any + Send>,
    /// `Receiver<Envelope<In>>`: the step's input. No other receiver of the
    /// queue is kept, so the step before sees it close when this step's
    /// threads are gone.
    pub(crate) receiver: Box<dyn Any + Send>,
}

/// What the pipeline keeps of a started step.
pub(crate) struct Launched {
    pub(crate) threads: Vec<JoinHandle<()>>,
    pub(crate) counters: Arc<StepCounters>,
}

/// A step with its types erased, so a pipeline can hold steps of different
/// types in one list. The `Any` values are always the types named in each
/// method's doc: the typed [`Pipeline`](super::Pipeline) builder guarantees it.
pub(crate) trait ErasedStage: Send {
    fn config(&self) -> &StageConfig;
    fn config_mut(&mut self) -> &mut StageConfig;
    /// `cloner`: a `fn(&In) -> In`, enabling retries.
    fn set_cloner(&mut self, cloner: Box<dyn Any + Send>);
    /// A new input queue for this step.
    fn make_input(&self) -> InputQueue;
    fn setup(&self) -> Result<(), Error>;
    fn teardown(&self);
    /// `input`: `Receiver<Envelope<In>>`; `target`: `Target<Out>`.
    fn launch(
        self: Box<Self>,
        input: Box<dyn Any + Send>,
        target: Box<dyn Any + Send>,
        ordered: bool,
        control: &Arc<Control>,
    ) -> Launched;
}

/// Copies a step's input for a retry.
pub(crate) type Cloner<T> = fn(&T) -> T;

pub(crate) struct StageSpec<S: Step> {
    pub(crate) step: Arc<S>,
    pub(crate) config: StageConfig,
    pub(crate) cloner: Option<Cloner<S::In>>,
}

fn hook_error(step: &str, hook: &'static str, source: BoxError) -> Error {
    Error::HookFailed {
        step: step.to_string(),
        hook,
        source,
    }
}

impl<S: Step> ErasedStage for StageSpec<S> {
    fn config(&self) -> &StageConfig {
        &self.config
    }

    fn config_mut(&mut self) -> &mut StageConfig {
        &mut self.config
    }

    fn set_cloner(&mut self, cloner: Box<dyn Any + Send>) {
        if let Ok(f) = cloner.downcast::<Cloner<S::In>>() {
            self.cloner = Some(*f);
        }
    }

    fn make_input(&self) -> InputQueue {
        let (tx, rx) = queue::<S::In>(self.config.queue);
        InputQueue {
            target: Box::new(Target::Queue(tx)),
            receiver: Box::new(rx),
        }
    }

    fn setup(&self) -> Result<(), Error> {
        guarded(|| self.step.setup())
            .map_err(|f| hook_error(&self.config.name, "setup", f.into_box()))
    }

    fn teardown(&self) {
        if let Err(f) = guarded(|| self.step.teardown()) {
            tracing::error!(step = %self.config.name, error = %f.into_box(), "teardown failed");
        }
    }

    fn launch(
        self: Box<Self>,
        input: Box<dyn Any + Send>,
        target: Box<dyn Any + Send>,
        ordered: bool,
        control: &Arc<Control>,
    ) -> Launched {
        let counters = Arc::new(StepCounters::default());
        let (Ok(rx), Ok(target)) = (
            input.downcast::<Receiver<Envelope<S::In>>>(),
            target.downcast::<Target<S::Out>>(),
        ) else {
            unreachable!("the typed pipeline builder links steps of matching types")
        };
        let threads = self.config.threads;
        let output = match *target {
            Target::Queue(tx) if ordered => {
                let window = self.config.queue + threads;
                Output::Ordered(Reorder::new(Target::Queue(tx), window, threads, control))
            }
            t => Output::Direct(Arc::new(t)),
        };
        let config = Arc::new(WorkerConfig {
            retries: self.config.retries,
            on_error: self.config.on_error,
            cloner: self.cloner,
        });
        let mut handles = Vec::with_capacity(threads);
        for index in 0..threads {
            let info = ThreadInfo {
                step: self.config.name.clone(),
                index,
                threads,
            };
            let name = format!("{}-{}", self.config.name, index);
            let (step, rx, output, config, counters, thread_control) = (
                self.step.clone(),
                (*rx).clone(),
                output.clone(),
                config.clone(),
                counters.clone(),
                control.clone(),
            );
            let spawned = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || worker(step, info, rx, output, config, counters, thread_control));
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
}
