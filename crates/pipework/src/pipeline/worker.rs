//! The loop each step thread runs: take an item, process it (with retries,
//! catching panics), hand on its outputs.

use std::ops::ControlFlow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use std::collections::VecDeque;

use super::control::Control;
use super::emitter::{Emitter, Pending, Target};
use super::error::SkipEntry;
use super::error::{BoxError, Error};
use super::queue::{Envelope, Receiver, MAX_CHUNK};
use super::reorder::Reorder;
use super::report::StepCounters;
use super::step::{Step, ThreadInfo};
use super::step_spec::OnError;
use crate::internal::{caught, panic_message};

/// Where a step thread's outputs go.
pub(crate) enum Delivery<T> {
    Direct(Arc<Target<T>>),
    Ordered(Arc<Reorder<T>>),
}

impl<T> Clone for Delivery<T> {
    fn clone(&self) -> Self {
        match self {
            Delivery::Direct(t) => Delivery::Direct(t.clone()),
            Delivery::Ordered(r) => Delivery::Ordered(r.clone()),
        }
    }
}

pub(crate) struct WorkerConfig<In> {
    pub(crate) retries: u32,
    pub(crate) on_error: OnError,
    pub(crate) cloner: Option<super::step_spec::Cloner<In>>,
}

/// A failure of user code: an error it returned, or a panic.
pub(crate) enum StepFailure {
    Error(BoxError),
    Panic(String),
}

impl StepFailure {
    pub(crate) fn into_box(self) -> BoxError {
        match self {
            StepFailure::Error(e) => e,
            StepFailure::Panic(m) => format!("panicked: {m}").into(),
        }
    }

    fn into_step_error(self, step: &str) -> Error {
        match self {
            StepFailure::Error(source) => Error::StepFailed {
                step: step.to_string(),
                source,
            },
            StepFailure::Panic(message) => Error::StepPanicked {
                step: step.to_string(),
                message,
            },
        }
    }
}

/// Runs user code, turning a panic into a [`StepFailure`].
pub(crate) fn run_user_code<R>(f: impl FnOnce() -> Result<R, BoxError>) -> Result<R, StepFailure> {
    match caught(f) {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(StepFailure::Error(e)),
        Err(message) => Err(StepFailure::Panic(message)),
    }
}

pub(crate) fn worker<S: Step>(
    step: Arc<S>,
    info: ThreadInfo,
    mut rx: Receiver<Envelope<S::In>>,
    output: Delivery<S::Out>,
    config: Arc<WorkerConfig<S::In>>,
    counters: Arc<StepCounters>,
    control: Arc<Control>,
) {
    let body = catch_unwind(AssertUnwindSafe(|| {
        match run_user_code(|| step.thread_init(&info)) {
            Ok(state) => {
                let thread = StepThread {
                    step: &*step,
                    info: &info,
                    config: &config,
                    counters: &counters,
                    control: &control,
                };
                thread.run(state, &mut rx, &output);
            }
            Err(f) => control.fail(Error::HookFailed {
                step: info.step.clone(),
                hook: "thread_init",
                source: f.into_box(),
            }),
        }
    }));
    if let Err(payload) = body {
        // A panic outside the run_user_code hooks: user code run on an item's
        // behalf (a `Drop` impl, say). Without this, the thread would end
        // unnoticed and a pipeline waiting on it would hang.
        control.fail(Error::StepPanicked {
            step: info.step.clone(),
            message: panic_message(&*payload),
        });
    }
    // Drop this thread's handle on the next queue before counting itself
    // done, so the next step sees its input end as soon as the last thread
    // of this one is counted.
    drop(output);
    drop(rx);
    let done = counters.threads_done.fetch_add(1, Ordering::AcqRel) + 1;
    if done as usize == info.threads {
        if let Err(f) = run_user_code(|| step.teardown()) {
            control.fail(Error::HookFailed {
                step: info.step.clone(),
                hook: "teardown",
                source: f.into_box(),
            });
        }
    }
}

/// One thread of a step, as its loop sees it.
struct StepThread<'a, S: Step> {
    step: &'a S,
    info: &'a ThreadInfo,
    config: &'a WorkerConfig<S::In>,
    counters: &'a StepCounters,
    control: &'a Control,
}

impl<S: Step> StepThread<'_, S> {
    /// Takes items until the input ends or the run is cancelled, then runs
    /// `thread_shutdown`.
    ///
    /// A step of one thread takes its items in chunks and hands on a
    /// chunk's outputs together before it takes the next (see `queue.rs`);
    /// a step of several takes one item at a time, so no thread keeps
    /// items another could be working on.
    fn run(
        &self,
        mut state: S::State,
        rx: &mut Receiver<Envelope<S::In>>,
        output: &Delivery<S::Out>,
    ) {
        let StepThread {
            step,
            info,
            counters,
            control,
            ..
        } = *self;
        // The idle hook is armed by an item and fired once per quiet spell; an
        // ordered pipeline has no place for its outputs, so it never fires there.
        let idle_after = match output {
            Delivery::Direct(_) => step.idle_timeout(),
            Delivery::Ordered(_) => None,
        };
        let max_chunk = if info.threads == 1 { MAX_CHUNK } else { 1 };
        let mut chunk = VecDeque::new();
        let mut pending = VecDeque::new();
        let mut armed = false;
        loop {
            if let Delivery::Direct(target) = output {
                if let Target::Queue(tx) = &**target {
                    if !pending.is_empty() && control.send_all(tx, &mut pending).is_err() {
                        return;
                    }
                }
            }
            let timeout = idle_after.filter(|_| armed);
            match control.recv_chunk(rx, &mut chunk, max_chunk, timeout) {
                Ok(true) => {}
                Ok(false) => break,
                Err(()) => {
                    armed = false;
                    if let Delivery::Direct(target) = output {
                        let mut out = Emitter::direct(target, control, &counters.output);
                        if let Err(f) = run_user_code(|| step.idle(&mut state, &mut out)) {
                            if !control.is_cancelled() {
                                control.fail(Error::HookFailed {
                                    step: info.step.clone(),
                                    hook: "idle",
                                    source: f.into_box(),
                                });
                            }
                            return;
                        }
                    }
                    continue;
                }
            }
            armed = true;
            let mut cover = 0;
            while let Some(env) = chunk.pop_front() {
                cover += 1;
                StepCounters::add(&counters.input);
                let flow = match output {
                    Delivery::Direct(target) => {
                        let pending = Pending {
                            outputs: &mut pending,
                            cover,
                        };
                        let mut out = Emitter::chunked(target, control, &counters.output, pending);
                        self.process_item(&mut state, env.item, &mut out)
                    }
                    Delivery::Ordered(reorder) => {
                        let mut buffer = Vec::new();
                        let mut out = Emitter::collect(&mut buffer, &counters.output);
                        let flow = self.process_item(&mut state, env.item, &mut out);
                        match flow {
                            ControlFlow::Continue(()) => {
                                match reorder.complete(env.seq, buffer, control) {
                                    Ok(()) => flow,
                                    Err(_stopped) => ControlFlow::Break(()),
                                }
                            }
                            ControlFlow::Break(()) => flow,
                        }
                    }
                };
                if flow.is_break() {
                    return;
                }
            }
        }
        if control.is_cancelled() {
            return;
        }
        let result = match output {
            Delivery::Direct(target) => {
                let mut out = Emitter::direct(target, control, &counters.output);
                run_user_code(|| step.thread_shutdown(state, &mut out))
            }
            Delivery::Ordered(reorder) => {
                let mut tail = Vec::new();
                let mut out = Emitter::collect(&mut tail, &counters.output);
                let result = run_user_code(|| step.thread_shutdown(state, &mut out));
                if result.is_ok() && reorder.thread_done(tail, control).is_err() {
                    return;
                }
                result
            }
        };
        if let Err(f) = result {
            if !control.is_cancelled() {
                control.fail(Error::HookFailed {
                    step: info.step.clone(),
                    hook: "thread_shutdown",
                    source: f.into_box(),
                });
            }
        }
    }

    /// Processes one item with its retries. `Break` ends the thread.
    fn process_item(
        &self,
        state: &mut S::State,
        item: S::In,
        out: &mut Emitter<'_, S::Out>,
    ) -> ControlFlow<()> {
        let StepThread {
            step,
            info,
            config,
            counters,
            control,
        } = *self;
        let mut item = item;
        let mut attempt = 0;
        loop {
            let spare = match config.cloner {
                Some(clone) if attempt < config.retries => match run_user_code(|| Ok(clone(&item)))
                {
                    Ok(spare) => Some(spare),
                    // A panicking `Clone` leaves no copy to retry with: the
                    // item fails now, with that panic.
                    Err(failure) => {
                        drop(item);
                        if control.is_cancelled() {
                            return ControlFlow::Break(());
                        }
                        return give_up(failure, info, config, counters, control);
                    }
                },
                _ => None,
            };
            let failure = match run_user_code(|| step.process(state, item, out)) {
                Ok(()) => return ControlFlow::Continue(()),
                Err(StepFailure::Error(e)) if e.is::<SkipEntry>() => {
                    StepCounters::add(&counters.skipped);
                    return ControlFlow::Continue(());
                }
                Err(f) => f,
            };
            if out.is_stopped() || control.is_cancelled() {
                return ControlFlow::Break(());
            }
            if let Some(spare) = spare {
                StepCounters::add(&counters.retried);
                out.discard_collected();
                attempt += 1;
                item = spare;
                continue;
            }
            return give_up(failure, info, config, counters, control);
        }
    }
}

/// An item failed for good: counts it, then applies the step's policy.
fn give_up<In>(
    failure: StepFailure,
    info: &ThreadInfo,
    config: &WorkerConfig<In>,
    counters: &StepCounters,
    control: &Control,
) -> ControlFlow<()> {
    StepCounters::add(&counters.failed);
    match config.on_error {
        OnError::Stop => {
            control.fail(failure.into_step_error(&info.step));
            ControlFlow::Break(())
        }
        OnError::Skip => {
            let error = failure.into_box();
            tracing::warn!(step = %info.step, %error, "item failed after retries; skipped");
            ControlFlow::Continue(())
        }
    }
}
