//! Steps made from closures, and the built-in chunking step.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use super::emitter::Emitter;
use super::error::BoxError;
use super::error::SkipEntry;
use super::step::{Step, ThreadInfo};

/// A step from a closure; `K` says what the closure returns per input.
pub(crate) struct FnStep<K, F, In> {
    f: F,
    _kind: PhantomData<(K, fn(In))>,
}

impl<K: Kind, F, In> FnStep<K, F, In> {
    pub(crate) fn new(f: F) -> Self {
        FnStep {
            f,
            _kind: PhantomData,
        }
    }
}

impl<K: Kind, F, In> fmt::Debug for FnStep<K, F, In> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(K::NAME)
    }
}

/// What a closure step's closure returns per input.
pub(crate) trait Kind {
    const NAME: &'static str;
}

/// One output per input (paipa's `funcstep`).
pub(crate) enum OneOut {}
/// One output, or `None` to skip the input (paipa's `SkipEntry`).
pub(crate) enum MaybeOut {}
/// 0..n outputs per input (paipa's `iterstep`, one item at a time).
pub(crate) enum ManyOut {}

impl Kind for OneOut {
    const NAME: &'static str = "MapStep";
}
impl Kind for MaybeOut {
    const NAME: &'static str = "FilterMapStep";
}
impl Kind for ManyOut {
    const NAME: &'static str = "FlatMapStep";
}

/// A step from a closure returning one output per input.
pub(crate) type MapStep<F, In> = FnStep<OneOut, F, In>;
/// A step from a closure returning `None` to skip an item.
pub(crate) type FilterMapStep<F, In> = FnStep<MaybeOut, F, In>;
/// A step from a closure returning 0..n outputs per input.
pub(crate) type FlatMapStep<F, In> = FnStep<ManyOut, F, In>;

impl<F, In, Out, E> Step for MapStep<F, In>
where
    F: Fn(In) -> Result<Out, E> + Send + Sync + 'static,
    In: Send + 'static,
    Out: Send + 'static,
    E: Into<BoxError>,
{
    type In = In;
    type Out = Out;
    type State = ();

    fn thread_init(&self, _: &ThreadInfo) -> Result<(), BoxError> {
        Ok(())
    }

    fn process(&self, _: &mut (), item: In, out: &mut Emitter<'_, Out>) -> Result<(), BoxError> {
        let v = (self.f)(item).map_err(Into::into)?;
        out.emit(v)?;
        Ok(())
    }
}

impl<F, In, Out, E> Step for FilterMapStep<F, In>
where
    F: Fn(In) -> Result<Option<Out>, E> + Send + Sync + 'static,
    In: Send + 'static,
    Out: Send + 'static,
    E: Into<BoxError>,
{
    type In = In;
    type Out = Out;
    type State = ();

    fn thread_init(&self, _: &ThreadInfo) -> Result<(), BoxError> {
        Ok(())
    }

    fn process(&self, _: &mut (), item: In, out: &mut Emitter<'_, Out>) -> Result<(), BoxError> {
        match (self.f)(item).map_err(Into::into)? {
            Some(v) => out.emit(v)?,
            None => return Err(SkipEntry.into()),
        }
        Ok(())
    }
}

impl<F, In, Outs, E> Step for FlatMapStep<F, In>
where
    F: Fn(In) -> Result<Outs, E> + Send + Sync + 'static,
    In: Send + 'static,
    Outs: IntoIterator,
    Outs::Item: Send + 'static,
    E: Into<BoxError>,
{
    type In = In;
    type Out = Outs::Item;
    type State = ();

    fn thread_init(&self, _: &ThreadInfo) -> Result<(), BoxError> {
        Ok(())
    }

    fn process(
        &self,
        _: &mut (),
        item: In,
        out: &mut Emitter<'_, Outs::Item>,
    ) -> Result<(), BoxError> {
        // The closure's result is pulled lazily: a huge fan-out streams into
        // the next queue instead of sitting in memory.
        out.emit_all((self.f)(item).map_err(Into::into)?)?;
        Ok(())
    }
}

/// Groups items into `Vec`s of `size`, per thread; each thread flushes its
/// last, shorter chunk when its input ends (paipa's `iterstep(chunk(n))`),
/// and, with a timeout, whenever no item has come for that long (paipa's
/// `TimedChunk`).
#[derive(Debug)]
pub(crate) struct ChunkStep<T> {
    size: usize,
    timeout: Option<Duration>,
    _t: PhantomData<fn(T)>,
}

impl<T> ChunkStep<T> {
    pub(crate) fn new(size: usize, timeout: Option<Duration>) -> Self {
        ChunkStep {
            size,
            timeout,
            _t: PhantomData,
        }
    }
}

impl<T: Send + 'static> Step for ChunkStep<T> {
    type In = T;
    type Out = Vec<T>;
    type State = Vec<T>;

    fn thread_init(&self, _: &ThreadInfo) -> Result<Vec<T>, BoxError> {
        Ok(Vec::with_capacity(self.size))
    }

    fn process(
        &self,
        chunk: &mut Vec<T>,
        item: T,
        out: &mut Emitter<'_, Vec<T>>,
    ) -> Result<(), BoxError> {
        chunk.push(item);
        if chunk.len() >= self.size {
            let full = std::mem::replace(chunk, Vec::with_capacity(self.size));
            out.emit(full)?;
        }
        Ok(())
    }

    fn idle_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn idle(&self, chunk: &mut Vec<T>, out: &mut Emitter<'_, Vec<T>>) -> Result<(), BoxError> {
        if !chunk.is_empty() {
            let partial = std::mem::replace(chunk, Vec::with_capacity(self.size));
            out.emit(partial)?;
        }
        Ok(())
    }

    fn thread_shutdown(
        &self,
        chunk: Vec<T>,
        out: &mut Emitter<'_, Vec<T>>,
    ) -> Result<(), BoxError> {
        if !chunk.is_empty() {
            out.emit(chunk)?;
        }
        Ok(())
    }
}
