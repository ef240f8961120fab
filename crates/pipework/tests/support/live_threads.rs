//! [`LiveThreads`]: counts the threads that touched it and are still alive,
//! to prove a pipeline leaves no thread behind.
//!
//! A thread registers itself with [`LiveThreads::enter`]; a guard stored in
//! a thread-local is dropped when the thread exits (thread-local destructors
//! run before `JoinHandle::join` returns), which counts the thread out.

#![allow(dead_code, unreachable_pub)]

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug, Default)]
struct Counts {
    entered: AtomicUsize,
    live: AtomicUsize,
}

/// Threads registered and still alive, for one test.
#[derive(Debug, Clone, Default)]
pub struct LiveThreads(Arc<Counts>);

struct Guard(Arc<Counts>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
    }
}

thread_local! {
    static GUARDS: RefCell<Vec<Guard>> = const { RefCell::new(Vec::new()) };
}

impl LiveThreads {
    /// A counter with no thread registered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the calling thread, once however often it is called.
    pub fn enter(&self) {
        GUARDS.with(|guards| {
            let mut guards = guards.borrow_mut();
            if guards.iter().any(|g| Arc::ptr_eq(&g.0, &self.0)) {
                return;
            }
            self.0.entered.fetch_add(1, Ordering::SeqCst);
            self.0.live.fetch_add(1, Ordering::SeqCst);
            guards.push(Guard(self.0.clone()));
        });
    }

    /// Threads ever registered.
    pub fn entered(&self) -> usize {
        self.0.entered.load(Ordering::SeqCst)
    }

    /// Registered threads that have not exited yet.
    pub fn live(&self) -> usize {
        self.0.live.load(Ordering::SeqCst)
    }
}

/// A step that registers each of its threads with a [`LiveThreads`] in
/// `thread_init`, then emits `f(item)`.
pub struct Tracked<In, Out, F> {
    live: LiveThreads,
    f: F,
    _types: std::marker::PhantomData<fn(In) -> Out>,
}

/// A [`Tracked`] step running `f`.
pub fn tracked<In, Out, F>(live: &LiveThreads, f: F) -> Tracked<In, Out, F>
where
    F: Fn(In) -> Result<Out, pipework::pipeline::BoxError> + Send + Sync + 'static,
{
    Tracked {
        live: live.clone(),
        f,
        _types: std::marker::PhantomData,
    }
}

impl<In, Out, F> pipework::pipeline::Step for Tracked<In, Out, F>
where
    In: Send + 'static,
    Out: Send + 'static,
    F: Fn(In) -> Result<Out, pipework::pipeline::BoxError> + Send + Sync + 'static,
{
    type In = In;
    type Out = Out;
    type State = ();

    fn thread_init(
        &self,
        _: &pipework::pipeline::ThreadInfo,
    ) -> Result<(), pipework::pipeline::BoxError> {
        self.live.enter();
        Ok(())
    }

    fn process(
        &self,
        _: &mut (),
        item: In,
        out: &mut pipework::pipeline::Emitter<'_, Out>,
    ) -> Result<(), pipework::pipeline::BoxError> {
        out.emit((self.f)(item)?)?;
        Ok(())
    }
}

/// Wraps `iter` so that the thread pulling it registers with `live`.
pub fn tracked_iter<I>(
    live: &LiveThreads,
    iter: I,
) -> impl Iterator<Item = I::Item> + Send + 'static
where
    I: IntoIterator,
    I::IntoIter: Send + 'static,
{
    let live = live.clone();
    iter.into_iter().inspect(move |_| live.enter())
}
