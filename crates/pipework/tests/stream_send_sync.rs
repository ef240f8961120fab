#![cfg(feature = "stream")]
//! Compile-time checks that the stream types can move between tasks and
//! threads (they are `Send`), so a pipeline can be built in one task and
//! consumed in another.

use std::future::Ready;

use futures::stream::Iter;
use pipework::stream::{
    BatchTimeout, Buffered, BufferedPipeline, ConcurrentMap, ConcurrentMapUnordered, Error,
    RunBounded, StagePanic, TaskError,
};

fn is_send<T: Send>() {}
fn is_sync<T: Sync>() {}

#[test]
fn stages_are_send() {
    type Tasks = Iter<std::vec::IntoIter<Ready<Result<u8, String>>>>;
    is_send::<RunBounded<Tasks, Ready<Result<u8, String>>, String>>();
    is_send::<Buffered<u8, StagePanic>>();
    is_send::<ConcurrentMap<u8, StagePanic>>();
    is_send::<ConcurrentMapUnordered<u8, StagePanic>>();
    is_send::<BatchTimeout<Iter<std::vec::IntoIter<u8>>>>();
}

#[test]
fn scope_and_errors_are_send_and_sync() {
    is_send::<BufferedPipeline>();
    is_sync::<BufferedPipeline>();
    is_send::<TaskError<std::io::Error>>();
    is_sync::<TaskError<std::io::Error>>();
    is_send::<StagePanic>();
    is_sync::<StagePanic>();
    is_send::<Error>();
    is_sync::<Error>();
}

fn is_unpin<T: Unpin>() {}

#[test]
fn streams_over_an_unpin_source_are_unpin() {
    // So `next()` works on them without pinning.
    type Tasks = Iter<std::vec::IntoIter<Ready<Result<u8, String>>>>;
    is_unpin::<RunBounded<Tasks, Ready<Result<u8, String>>, String>>();
    is_unpin::<BatchTimeout<Iter<std::vec::IntoIter<u8>>>>();
    is_unpin::<Buffered<u8, StagePanic>>();
    is_unpin::<ConcurrentMap<u8, StagePanic>>();
}
