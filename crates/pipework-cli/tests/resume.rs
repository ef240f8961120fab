//! Interrupting `pipework` (SIGKILL, Ctrl-C) and running it again.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rand::Rng;
use serde_json::{json, Value};

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
    for trial in 0..3 {
        let env = Env::new();
        source(&env);
        env.script("slow.sh", scripts::SLOW_ECHO);
        let mut kills = 0;
        let mut finished = false;
        for attempt in 0..40 {
            let mut child = env
                .pipework(&args)
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("spawn: {e}"));
            // The first kill lands surely mid-run (a run takes at least 20 keys x
            // 10 ms / 4 jobs); later ones anywhere, including after the end.
            let wait = if attempt == 0 {
                rng.random_range(5..40)
            } else {
                rng.random_range(10..250)
            };
            std::thread::sleep(Duration::from_millis(wait));
            if let Ok(Some(status)) = child.try_wait() {
                assert!(status.success(), "trial {trial}: {status}");
                finished = true;
                break;
            }
            // `kill` is SIGKILL on Unix: no cleanup, no flush, a crash.
            child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
            child.wait().unwrap_or_else(|e| panic!("wait: {e}"));
            kills += 1;
        }
        assert!(finished, "trial {trial}: never finished");
        assert!(kills >= 1, "trial {trial}: the run was never interrupted");
        check_complete(&env);
        let calls = env.calls().len();
        assert!(
            calls <= KEYS as usize + JOBS * kills,
            "trial {trial}: {calls} calls for {KEYS} keys after {kills} kills"
        );
    }
}

/// The arguments of a map over `keys` keys whose command sleeps `seconds`
/// before echoing, two at a time.
fn slow_map(env: &Env, keys: i64, seconds: u32) -> [&'static str; 9] {
    env.write_rows(
        "in.jsonl",
        &(0..keys).map(|k| json!({"id": k})).collect::<Vec<_>>(),
    );
    env.script("slow.sh", &format!("sleep {seconds}\n{}", scripts::ECHO));
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

/// Starts `pipework` with `args`, with stderr captured, and lets its first
/// commands start.
fn start(env: &Env, args: &[&str]) -> Child {
    let child = env
        .pipework(args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    std::thread::sleep(Duration::from_millis(400));
    child
}

#[test]
fn ctrl_c_lets_running_commands_finish_then_a_rerun_completes() {
    let env = Env::new();
    let args = slow_map(&env, 6, 1);
    let child = start(&env, &args);
    interrupt(child.id());
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("rerun the same command to resume"),
        "{stderr}"
    );
    assert_eq!(
        env.rows("out.jsonl").len(),
        2,
        "the two running commands finished and were written"
    );

    let run = env.run(&args);
    assert_code(&run, 0);
    assert_eq!(env.rows("out.jsonl").len(), 6);
    assert_eq!(env.calls().len(), 6, "no command ran twice");
}

#[test]
fn second_ctrl_c_kills_running_commands() {
    let env = Env::new();
    let args = slow_map(&env, 4, 30);
    let started = std::time::Instant::now();
    let child = start(&env, &args);
    interrupt(child.id());
    std::thread::sleep(Duration::from_millis(200));
    interrupt(child.id());
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("killing the running commands"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "did not wait for the 30 s commands"
    );
    assert!(env.rows("out.jsonl").is_empty());
}

/// Sends SIGINT, as Ctrl-C in a terminal does.
fn interrupt(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill -INT: {e}"));
    assert!(status.success());
}
