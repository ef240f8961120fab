//! A resume checks, never guesses: each failure of the issue "a resume
//! checks, never guesses" as a run of the real binary, which must end with
//! a fresh run's rows or stop with an error naming what changed.

use serde_json::json;

use crate::support::scripts::{ECHO, GATED_SLOW_ECHO};
use crate::support::{assert_code, assert_stderr, Env};

fn three_keys(env: &Env) {
    env.write_rows(
        "in.jsonl",
        &[json!({"id": 1}), json!({"id": 2}), json!({"id": 3})],
    );
}

/// SRC and DST as two hard links to one file: refused before anything is
/// read or written (it used to say "3 already there, 0 computed").
#[test]
fn a_dst_that_is_a_hard_link_to_src_is_refused() {
    let env = Env::new();
    three_keys(&env);
    env.script("echo.sh", ECHO);
    std::fs::hard_link(env.path("in.jsonl"), env.path("out.jsonl")).unwrap();
    let before = std::fs::read_to_string(env.path("in.jsonl")).unwrap();
    let run = env.run_by_id("map", &[], &["./echo.sh"]);
    assert_code(&run, 2);
    assert_stderr(&run, "the destination is the source file");
    assert_eq!(
        std::fs::read_to_string(env.path("in.jsonl")).unwrap(),
        before
    );
    assert!(env.calls().is_empty());
}

/// Two runs at once, one on `out.jsonl` and one on a symlink to it: the
/// second is refused while the first holds the file, so every key is
/// computed once (they used to both compute all three: six rows).
#[test]
fn a_second_run_through_a_symlink_to_dst_is_refused_while_the_first_runs() {
    let env = Env::new();
    three_keys(&env);
    env.script("echo.sh", GATED_SLOW_ECHO);
    std::os::unix::fs::symlink("out.jsonl", env.path("link.jsonl")).unwrap();
    let first = env.start(&[
        "map",
        "in.jsonl",
        "out.jsonl",
        "--key",
        "id",
        "-j",
        "1",
        "--",
        "./echo.sh",
    ]);
    env.wait_for_calls(1);
    let second = env.run(&[
        "map",
        "in.jsonl",
        "link.jsonl",
        "--key",
        "id",
        "--",
        "./echo.sh",
    ]);
    assert_code(&second, 3);
    assert_stderr(&second, "link.jsonl is in use by another pipework run");
    env.write("go", "");
    let (status, stderr) = first.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(env.rows("out.jsonl").len(), 3);
    assert_eq!(env.calls().len(), 3);
    assert!(!env.path("link.jsonl.lock").exists());
}

/// A garbage line in the middle of DST, under `--on-error skip`: reported
/// as skipped, and the exit code says the run is not complete (it was 0,
/// although `--help` promises 1 when anything is skipped).
#[test]
fn a_skipped_dst_line_makes_the_exit_code_1() {
    let env = Env::new();
    three_keys(&env);
    env.script("echo.sh", ECHO);
    assert_code(&env.run_by_id("map", &[], &["./echo.sh"]), 0);
    let rows = std::fs::read_to_string(env.path("out.jsonl")).unwrap();
    let mut lines: Vec<&str> = rows.lines().collect();
    lines.insert(1, "this is not json");
    env.write("out.jsonl", &(lines.join("\n") + "\n"));
    let run = env.run_by_id("map", &["--on-error", "skip"], &["./echo.sh"]);
    assert_code(&run, 1);
    assert_stderr(&run, "1 line of DST could not be read");
    assert_eq!(env.calls().len(), 3, "no key is computed again");
}
