//! Compile-time checks of which threaded-pipeline types cross threads: a
//! pipeline is built on one thread and run on another, its handle is moved
//! or shared between feeding threads, its outputs are consumed anywhere,
//! and its report and errors travel through `Box<dyn Error + Send + Sync>`.
//!
//! Items only need `Send`: the handle is `Sync` even for items that are
//! not, because items move through it and are never shared.

use std::cell::Cell;

use pipework::pipeline::{
    Error, Input, OnError, Outputs, Pipeline, PipelineHandle, PutError, Report, StepStats,
    ThreadInfo,
};

fn is_send<T: Send>() {}
fn is_sync<T: Sync>() {}
fn is_error<T: std::error::Error + Send + Sync + 'static>() {}

#[test]
fn a_pipeline_can_be_built_on_one_thread_and_run_on_another() {
    is_send::<Pipeline<u64>>();
    is_send::<Pipeline<u64, String, Vec<u8>>>();
    is_send::<Pipeline<Cell<u8>>>();
}

#[test]
fn a_handle_can_be_moved_and_shared_between_threads() {
    is_send::<PipelineHandle<u64>>();
    is_sync::<PipelineHandle<u64>>();
    // Items need only be `Send`.
    is_send::<PipelineHandle<Cell<u8>>>();
    is_sync::<PipelineHandle<Cell<u8>>>();
}

#[test]
fn an_input_can_be_cloned_into_any_thread() {
    is_send::<Input<u64>>();
    is_sync::<Input<u64>>();
    is_send::<Input<Cell<u8>>>();
    is_sync::<Input<Cell<u8>>>();
}

#[test]
fn outputs_can_be_consumed_on_another_thread() {
    is_send::<Outputs<u64, String>>();
    is_sync::<Outputs<u64, String>>();
    is_send::<Outputs<Cell<u8>, Cell<u8>>>();
    is_send::<<Pipeline<u64> as IntoIterator>::IntoIter>();
}

#[test]
fn reports_and_settings_are_send_and_sync() {
    is_send::<Report>();
    is_sync::<Report>();
    is_send::<StepStats>();
    is_sync::<StepStats>();
    is_send::<OnError>();
    is_sync::<OnError>();
    is_send::<ThreadInfo>();
    is_sync::<ThreadInfo>();
}

#[test]
fn errors_are_send_sync_and_static() {
    is_error::<Error>();
    is_error::<PutError<u64>>();
    // A boxed pipeline error keeps its source chain.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Error::InputOpen);
    assert!(boxed.to_string().contains("input is open"));
}

#[test]
fn a_spawned_handle_really_moves_and_is_shared_across_threads() {
    let handle = Pipeline::new().map(|c: Cell<u8>| c.get()).spawn().unwrap();
    std::thread::scope(|s| {
        for n in 0..4 {
            let handle = &handle;
            s.spawn(move || handle.put(Cell::new(n)).unwrap());
        }
    });
    let report = std::thread::spawn(move || handle.stop())
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(report.outputs(), 4);
}
