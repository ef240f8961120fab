//! The futures of the `jsonl` functions are `Send` when `f` is, so they can
//! be spawned on a multi-threaded runtime.
#![cfg(feature = "jsonl")]

mod support;

use pipework::jsonl::{
    create_or_resume, flatmap_by_key, map_by_key, CreateOptions, MapOptions, Report, Row,
};
use serde_json::Value;

fn assert_send<T: Send>(_: &T) {}

#[test]
fn futures_and_public_types_are_send() {
    let map = map_by_key("in", "out", support::plus_one, MapOptions::default());
    assert_send(&map);
    let flat = flatmap_by_key(
        "in",
        "out",
        |_row: Row| async { Ok::<Vec<Row>, String>(vec![]) },
        MapOptions::default(),
    );
    assert_send(&flat);
    let create = create_or_resume(
        "out",
        "k",
        1,
        ["a"],
        |_k: Value, _i: usize| async { Ok::<Row, String>(Row::new()) },
        CreateOptions::default(),
    );
    assert_send(&create);
    assert_send(&MapOptions::default());
    assert_send(&Report::default());
    fn assert_sync<T: Sync>() {}
    assert_sync::<pipework::jsonl::Error>();
    assert_sync::<MapOptions>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_by_key_runs_as_a_spawned_task() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.jsonl");
    let opts = MapOptions::new("key").keep_columns(["other"]);
    let task = tokio::spawn(map_by_key(
        support::fixture("in_trivial.jsonl"),
        dst.clone(),
        support::plus_one,
        opts,
    ));
    let report = task.await.unwrap().unwrap();
    assert_eq!(report.rows_written, 3);
    assert_eq!(
        support::multiset(&dst),
        support::multiset(&support::fixture("out_trivial.jsonl"))
    );
}
