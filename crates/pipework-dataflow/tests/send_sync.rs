//! Which public types cross threads: a dataflow definition is shared by all
//! worker threads, and configurations and errors are sent between them.

use pipework_dataflow::connectors::{
    DirSink, DirSource, FileSink, FileSource, TestingSink, TestingSource,
};
use pipework_dataflow::{
    ConfigError, Dataflow, ExecutionArgs, ExecutionConfig, MapAsyncError, MapAsyncOptions,
    RunError, SkipCount,
};

fn is_send_sync<T: Send + Sync>() {}

#[test]
fn dataflows_configs_errors_and_connectors_are_send_and_sync() {
    is_send_sync::<Dataflow>();
    is_send_sync::<ExecutionConfig>();
    is_send_sync::<ExecutionArgs>();
    is_send_sync::<RunError>();
    is_send_sync::<ConfigError>();
    is_send_sync::<FileSource>();
    is_send_sync::<DirSource>();
    is_send_sync::<FileSink>();
    is_send_sync::<DirSink>();
    is_send_sync::<TestingSource<u32>>();
    is_send_sync::<TestingSink<u32>>();
    // Captured by the build closure, which every worker thread shares.
    is_send_sync::<MapAsyncOptions>();
    is_send_sync::<SkipCount>();
    is_send_sync::<MapAsyncError>();
}
