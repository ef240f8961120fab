//! Interrupting `pipework` (SIGKILL, Ctrl-C) and running it again.
//!
//! Nothing here waits a fixed time for the process: the tests wait for the
//! test commands to start (their line in `calls.log`), or for a line on
//! pipework's stderr, and random kill points are scaled by a clean run
//! measured on the machine as it is.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::support::killed_reruns::{kill_and_rerun, timed_clean_run};
use crate::support::{assert_code, scripts, Env};

const KEYS: i64 = 20;
const ROWS: i64 = 60;
const JOBS: usize = 4;

fn source(env: &Env) {
    let rows: Vec<Value> = (0..ROWS).map(|n| json!({"id": n % KEYS, "n": n})).collect();
    env.write_rows("in.jsonl", &rows);
}

/// Checks what a finished run must have written: every source row exactly
/// once, each with the result a clean run gives (CMD echoes the key's first row).
fn check_complete(env: &Env) {
    let out = env.rows("out.jsonl");
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for row in &out {
        let (id, n) = (
            row["id"].as_i64().unwrap_or(-1),
            row["n"].as_i64().unwrap_or(-1),
        );
        *seen.entry(n).or_insert(0) += 1;
        assert_eq!(id, n % KEYS, "{row}");
        assert_eq!(row["input"], json!({"id": id, "n": id}), "{row}");
    }
    assert_eq!(seen.len() as i64, ROWS, "every source row is in DST");
    assert!(
        seen.values().all(|&c| c == 1),
        "no source row twice: {seen:?}"
    );
}

#[test]
fn sigkill_at_random_points_then_rerun_writes_every_row_exactly_once() {
    let mut rng = rand::rng();
    let jobs = JOBS.to_string();
    let args = [
        "map",
        "in.jsonl",
        "out.jsonl",
        "--key",
        "id",
        "--keep",
        "n",
        "--jobs",
        &jobs,
        "--",
        "./slow.sh",
    ];
    let ready = |env: &Env| {
        source(env);
        env.script("slow.sh", scripts::GATED_SLOW_ECHO);
    };
    // How long a whole run takes on this machine, now: the random kills
    // land within it, however busy the machine is.
    let (clean, _) = timed_clean_run(ready, &args);
    for trial in 0..3 {
        let env = Env::new();
        ready(&env);
        let reruns = kill_and_rerun(&env, &args, &mut rng, clean, JOBS, 6, |_| ());
        let kills = reruns.kills();
        assert!(kills >= 1, "trial {trial}: the run was never interrupted");
        check_complete(&env);
        let calls = env.calls().len();
        assert!(
            calls <= KEYS as usize + JOBS * kills,
            "trial {trial}: {calls} calls for {KEYS} keys after {kills} kills"
        );
    }
}

/// The arguments of a map over `keys` keys, two at a time, whose commands
/// hold until the test makes the file `go`.
fn gated_map(env: &Env, keys: i64) -> [&'static str; 9] {
    env.write_rows(
        "in.jsonl",
        &(0..keys).map(|k| json!({"id": k})).collect::<Vec<_>>(),
    );
    env.script("slow.sh", scripts::GATED_SLOW_ECHO);
    [
        "map",
        "in.jsonl",
        "out.jsonl",
        "--key",
        "id",
        "--jobs",
        "2",
        "--",
        "./slow.sh",
    ]
}

/// What pipework prints once a first Ctrl-C has stopped new commands.
const STOPPING: &str = "starting no new commands";

#[test]
fn ctrl_c_lets_running_commands_finish_then_a_rerun_completes() {
    let env = Env::new();
    let args = gated_map(&env, 6);
    let mut run = env.start(&args);
    // Both jobs hold a command: the run is under way, its handler in place.
    env.wait_for_calls(2);
    run.signal("INT");
    run.wait_for_stderr(STOPPING);
    env.write("go", "");
    let (status, stderr) = run.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("rerun the same command to resume"),
        "{stderr}"
    );
    assert_eq!(
        env.rows("out.jsonl").len(),
        2,
        "the two running commands finished and were written"
    );
    assert_eq!(env.calls().len(), 2, "no command started after the Ctrl-C");

    let run = env.run(&args);
    assert_code(&run, 0);
    assert_eq!(env.rows("out.jsonl").len(), 6);
    assert_eq!(env.calls().len(), 6, "no command ran twice");
}

#[test]
fn second_ctrl_c_kills_running_commands() {
    let env = Env::new();
    // `go` is never made: only a kill ends the commands (and a run that
    // waited for them fails on the harness's deadline).
    let args = gated_map(&env, 4);
    let mut run = env.start(&args);
    env.wait_for_calls(2);
    run.signal("INT");
    run.wait_for_stderr(STOPPING);
    run.signal("INT");
    let (status, stderr) = run.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("killing the running commands"), "{stderr}");
    assert!(env.rows("out.jsonl").is_empty());
    assert_eq!(env.calls().len(), 2, "no command started after the Ctrl-C");
}
