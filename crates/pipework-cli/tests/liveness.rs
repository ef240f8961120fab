//! Every run ends, with its rows or a clear error, and one run at a time
//! writes a destination: failed keys in a row, a full disk, two runs at once.
//! Each run here is bounded by the harness: a run that outlives its
//! patience is killed and the test fails as a hang.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;

use crate::support::running::PATIENCE;
use crate::support::small_disk::SmallDisk;
use crate::support::{assert_code, assert_stderr, scripts, Env, Run};

/// Issue 9, bug 1: with one job, a first key that fails under skip left the
/// run printing the same progress line forever.
#[test]
fn failed_keys_under_skip_do_not_stall_the_run() {
    let env = Env::new();
    env.write_rows(
        "in.jsonl",
        &[
            json!({"id": "bad1"}),
            json!({"id": "bad2"}),
            json!({"id": "a"}),
            json!({"id": "b"}),
        ],
    );
    env.script("cmd.sh", scripts::FAIL_ON_BAD);
    let args = [
        "map",
        "in.jsonl",
        "out.jsonl",
        "--key",
        "id",
        "--jobs",
        "1",
        "--on-error",
        "skip",
        "--",
        "./cmd.sh",
    ];
    let run = env.run(&args);
    assert_code(&run, 1);
    let ids: Vec<_> = env
        .rows("out.jsonl")
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!("a"), json!("b")]);
}

/// Issue 9, bug 3: two runs started on one destination both computed and
/// wrote every row. The second is refused at once, names the first's pid
/// and writes nothing; the first completes alone.
#[test]
fn a_second_run_on_the_same_destination_exits_3_and_writes_nothing() {
    let env = Env::new();
    let rows: Vec<_> = (0..6).map(|i| json!({"id": i})).collect();
    env.write_rows("in.jsonl", &rows);
    // Slow enough that the first run is still going when the second starts.
    env.script("slow.sh", &format!("sleep 0.2\n{}", scripts::ECHO));
    let args = [
        "map",
        "in.jsonl",
        "out.jsonl",
        "--key",
        "id",
        "--jobs",
        "1",
        "--",
        "./slow.sh",
    ];
    let first = env.start(&args);
    let first_pid = first.pid();
    let lock = env.path("out.jsonl.lock");
    wait_for(&format!("{} to name the first run", lock.display()), || {
        std::fs::read_to_string(&lock).is_ok_and(|text| text.trim() == first_pid.to_string())
    });

    let second = env.run(&args);
    assert_code(&second, 3);
    assert_stderr(
        &second,
        &format!("out.jsonl is in use by another pipework run (pid {first_pid})"),
    );
    let (status, stderr) = first.finish();
    assert_code(
        &Run {
            code: status.code(),
            stderr,
        },
        0,
    );
    assert_eq!(env.rows("out.jsonl").len(), 6, "every row once");
    assert_eq!(env.calls().len(), 6, "every key paid for once");
    assert!(!lock.exists(), "a finished run removes its lock file");
}

/// Polls `ready` until it holds, failing the test past [`PATIENCE`].
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !ready() {
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for {what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Issue 9, bug 2: a full disk hung the run in about half of the attempts.
/// Now it exits 4 (an I/O error) naming DST and the OS error, every time; once there is
/// room, the same command completes DST with every row once.
#[test]
fn a_full_disk_ends_the_run_with_exit_4_and_the_rerun_completes() {
    let Some(disk) = SmallDisk::mount_or_skip("24k") else {
        return;
    };
    let env = Env::new();
    let rows: Vec<_> = (0..2000)
        .map(|i| json!({"id": i, "text": "some words to fill the disk"}))
        .collect();
    env.write_rows("in.jsonl", &rows);
    let dst: PathBuf = disk.path().join("out.jsonl");
    let dst_arg = dst.to_string_lossy().into_owned();
    let args = ["map", "in.jsonl", &dst_arg, "--key", "id", "--", "/bin/cat"];
    // It hung in about half of the attempts: try a few times.
    for _ in 0..3 {
        let run = env.run(&args);
        assert_code(&run, 4);
        assert_stderr(&run, &dst_arg);
        assert_stderr(&run, "No space left on device");
    }
    disk.grow("16m");
    let run = env.run(&args);
    assert_code(&run, 0);
    let written = crate::support::rows(&dst);
    let mut ids: Vec<i64> = written
        .iter()
        .map(|r| r["id"].as_i64().unwrap_or(-1))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..2000).collect::<Vec<_>>());
}
