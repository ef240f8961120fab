//! paipa's threaded pipeline on [`pipework::pipeline`]: queues, threads,
//! retries and shutdown in Rust, the user's steps called with the GIL.
//!
//! Every item is a Python object ([`Item`]); each paipa step becomes one
//! pipework step with its thread count. A thread takes the GIL only to call
//! the user's `process` (or to pull the user's iterator) and releases it for
//! every queue wait, so Python threads and steps written in C or doing I/O
//! run in parallel while a step blocks on a full or empty queue.
//!
//! - [`class_step`]: an `AbstractStep` subclass or `funcstep`, one instance
//!   per thread, `process` once per item;
//! - [`iter_step`]: an `iterstep`, a generator over the step's input, which
//!   runs on a thread of its own per step thread and hands items back and
//!   forth with it (a generator pulls, a pipework step is pushed);
//! - [`run`]: the native run object `pipework.paipa.threaded.Pipeline`
//!   drives, with `Ctrl-C` and the exception of a step raised as itself.

mod class_step;
mod failure;
mod item;
mod iter_step;
mod run;

pub(crate) use run::ThreadedRun;
