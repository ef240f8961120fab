//! `pipework map`.

use serde_json::json;

use crate::support::{assert_code, assert_stderr, scripts, Env};

fn source(env: &Env) {
    env.write_rows(
        "in.jsonl",
        &[
            json!({"id": 1, "name": "a", "extra": "x"}),
            json!({"id": 2, "name": "b", "extra": "y"}),
            json!({"id": 1, "name": "c", "extra": "z"}),
        ],
    );
}

#[test]
fn writes_one_row_per_source_row_and_runs_cmd_once_per_key() {
    let env = Env::new();
    source(&env);
    env.script("echo.sh", scripts::ECHO);
    let run = env.run_by_id("map", &["--keep", "name"], &["./echo.sh"]);
    assert_code(&run, 0);
    let first_of_1 = json!({"id": 1, "name": "a", "extra": "x"});
    assert_eq!(
        env.rows("out.jsonl"),
        [
            json!({"id": 1, "name": "a", "input": first_of_1}),
            json!({"id": 2, "name": "b", "input": {"id": 2, "name": "b", "extra": "y"}}),
            json!({"id": 1, "name": "c", "input": first_of_1}),
        ]
    );
    assert_eq!(env.calls().len(), 2);
    assert_stderr(
        &run,
        "3/3 rows (3 written now, 0 already there); keys: 2 computed",
    );
}

#[test]
fn hostile_key_values_reach_cmd_only_as_json_data() {
    let env = Env::new();
    let hostile = [
        "it's \"quoted\"",
        "$(touch pwned)",
        "`touch pwned2`; rm -rf /nonexistent",
        "line\nbreak\r\n",
        "back\\slash \u{0}nul",
        "-- --key",
    ];
    let rows: Vec<_> = hostile.iter().map(|k| json!({"id": k})).collect();
    env.write_rows("in.jsonl", &rows);
    env.script("echo.sh", scripts::ECHO);
    let run = env.run_by_id("map", &[], &["./echo.sh"]);
    assert_code(&run, 0);
    let out = env.rows("out.jsonl");
    assert_eq!(out.len(), hostile.len());
    for (row, key) in out.iter().zip(hostile) {
        assert_eq!(row["id"], json!(key));
        assert_eq!(
            row["input"],
            json!({"id": key}),
            "CMD got the key as JSON, unchanged"
        );
    }
    assert!(!env.path("pwned").exists() && !env.path("pwned2").exists());
}

#[test]
fn cmd_arguments_are_passed_as_argv_never_through_a_shell() {
    let env = Env::new();
    env.write_rows("in.jsonl", &[json!({"id": 1})]);
    env.script("args.sh", scripts::PRINT_ARGS);
    let run = env.run_by_id("map", &[], &["./args.sh", "two words", "$HOME", "*", ";ls"]);
    assert_code(&run, 0);
    assert_eq!(
        env.rows("out.jsonl")[0]["args"],
        json!(["two words", "$HOME", "*", ";ls"])
    );
}

#[test]
fn missing_cmd_is_an_error_before_any_work() {
    let env = Env::new();
    source(&env);
    let run = env.run_by_id("map", &[], &["./no-such-command"]);
    assert_code(&run, 2);
    assert_stderr(&run, "command not found: ./no-such-command");
    assert!(!env.path("out.jsonl").exists());
    let run = env.run_by_id("map", &[], &["no-such-command-in-path"]);
    assert_code(&run, 2);
    assert_stderr(&run, "command not found in PATH: no-such-command-in-path");
}

#[test]
fn bad_input_exits_2_naming_file_and_line() {
    let env = Env::new();
    env.write("in.jsonl", "{\"id\": 1}\n{\"id\": \n");
    env.script("echo.sh", scripts::ECHO);
    let run = env.run_by_id("map", &[], &["./echo.sh"]);
    assert_code(&run, 2);
    assert_stderr(&run, "in.jsonl:2: invalid json");
    // Another SRC altogether: into a new DST (the old one's row would stand
    // for no row of it).
    for made in ["out.jsonl", "out.jsonl.manifest"] {
        std::fs::remove_file(env.path(made)).unwrap();
    }
    env.write("in.jsonl", "{\"name\": 1}\n");
    let run = env.run_by_id("map", &[], &["./echo.sh"]);
    assert_code(&run, 2);
    assert_stderr(&run, "in.jsonl:1: missing key column \"id\"");
    assert_stderr(&run, "nothing was written to out.jsonl");
}

#[test]
fn an_error_after_some_rows_says_they_are_kept_and_how_to_resume() {
    let env = Env::new();
    env.write("in.jsonl", "{\"id\": 1}\n{\"id\": 2}\nbroken\n");
    env.script("echo.sh", scripts::ECHO);
    let run = env.run_by_id("map", &[], &["./echo.sh"]);
    assert_code(&run, 2);
    assert_stderr(
        &run,
        "stopped while writing out.jsonl; the rows written so far are kept",
    );
    assert_stderr(&run, "in.jsonl:3: invalid json");
    assert_eq!(env.rows("out.jsonl").len(), 2);
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    let run = env.run(&["map", "in.jsonl", "out.jsonl", "--key", "id"]);
    assert_code(&run, 2);
    let run = env.run_by_id("map", &["--jobs", "0"], &["true"]);
    assert_code(&run, 2);
    let run = env.run(&[
        "map",
        "missing.jsonl",
        "out.jsonl",
        "--key",
        "id",
        "--",
        "true",
    ]);
    assert_code(&run, 2);
    assert_stderr(&run, "missing.jsonl");
}

#[test]
fn failing_cmd_under_raise_exits_2_with_its_stderr_tail() {
    let env = Env::new();
    env.write_rows(
        "in.jsonl",
        &[
            json!({"id": "good"}),
            json!({"id": "bad"}),
            json!({"id": "good"}),
        ],
    );
    env.script("fail.sh", scripts::FAIL_ON_BAD);
    let run = env.run_by_id("map", &["--jobs", "1"], &["./fail.sh"]);
    assert_code(&run, 2);
    assert_stderr(&run, "key \"bad\": the command failed (exit status: 3)");
    assert_stderr(&run, "line one of the complaint\ncannot handle this row");
    assert_stderr(&run, "rerun the same command to resume");
    // Rows whose result is known are written even after the failure (their
    // call was paid for); the third row reuses "good" and may or may not have
    // been read before "bad" failed. "bad" itself is never written.
    let rows = env.rows("out.jsonl");
    assert!(!rows.is_empty() && rows.len() <= 2, "{rows:?}");
    assert!(
        rows.iter().all(|r| *r == json!({"id": "good", "ok": true})),
        "{rows:?}"
    );
}

#[test]
fn failing_cmd_under_skip_exits_1_and_keeps_the_other_rows() {
    let env = Env::new();
    env.write_rows(
        "in.jsonl",
        &[
            json!({"id": "good"}),
            json!({"id": "bad"}),
            json!({"id": "good"}),
        ],
    );
    env.script("fail.sh", scripts::FAIL_ON_BAD);
    let run = env.run_by_id("map", &["--on-error", "skip"], &["./fail.sh"]);
    assert_code(&run, 1);
    assert_stderr(&run, "skipped: key \"bad\": the command failed");
    assert_stderr(&run, "1 key failed; rerun the same command to retry it");
    assert_eq!(env.rows("out.jsonl").len(), 2);
}

#[test]
fn output_that_is_not_one_object_is_that_keys_error() {
    let env = Env::new();
    env.write_rows("in.jsonl", &[json!({"id": 1})]);
    for (body, problem) in [
        ("cat >/dev/null; echo 'not json'", "printed invalid json"),
        (
            "cat >/dev/null; echo '[1]'",
            "printed an array, expected one json object",
        ),
        ("cat >/dev/null; echo '{}{}'", "printed 2 json values"),
        ("cat >/dev/null", "printed nothing"),
    ] {
        env.script("bad.sh", body);
        let run = env.run_by_id("map", &[], &["./bad.sh"]);
        assert_code(&run, 2);
        assert!(run.stderr.contains(problem), "{problem}: {}", run.stderr);
    }
}

#[test]
fn timeout_kills_a_slow_cmd_and_reports_its_stderr() {
    let env = Env::new();
    env.write_rows("in.jsonl", &[json!({"id": 1})]);
    env.script("slow.sh", "echo 'warming up' >&2\nexec sleep 30\n");
    let started = std::time::Instant::now();
    let run = env.run_by_id("map", &["--timeout", "0.3"], &["./slow.sh"]);
    assert_code(&run, 2);
    assert_stderr(
        &run,
        "timed out after 0.3s and was killed; its stderr ends with: warming up",
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
