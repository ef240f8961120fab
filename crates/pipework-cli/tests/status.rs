//! `pipework status`: how far DST is, with nothing run and nothing written.

use serde_json::json;

use crate::support::{assert_code, assert_stderr, scripts, Env, Run};

/// `pipework status ARGS`, with what it printed on stdout.
pub(crate) fn status(env: &Env, args: &[&str]) -> (Run, String) {
    let mut command = env.pipework(&[&["status"], args].concat());
    command.stdout(std::process::Stdio::piped());
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("pipework status: {e}"));
    let run = Run {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    (run, String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Every file in the scratch directory and its bytes.
fn snapshot(env: &Env) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(env.dir())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_file())
        .map(|entry| {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            (entry.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn status_counts_what_is_done_and_left_and_changes_nothing() {
    let env = Env::new();
    env.write_rows(
        "in.jsonl",
        &[
            json!({"id": 1}),
            json!({"id": "bad"}),
            json!({"id": 1}),
            json!({"id": 2}),
        ],
    );
    env.script("cmd.sh", scripts::FAIL_ON_BAD);
    assert_code(
        &env.run_by_id("map", &["--on-error", "skip"], &["./cmd.sh"]),
        1,
    );

    let before = snapshot(&env);
    let (run, out) = status(&env, &["in.jsonl", "out.jsonl", "--key", "id"]);
    assert_code(&run, 1);
    assert!(out.contains("rows: 3 of 4 done, 1 left"), "{out}");
    assert!(out.contains("keys: 2 of 3 done, 1 left"), "{out}");
    assert!(
        out.contains("failed in the last run that failed keys: 1"),
        "{out}"
    );
    assert!(
        out.contains("1x the command failed"),
        "the most common error: {out}"
    );
    assert_eq!(snapshot(&env), before, "status wrote nothing");

    // A torn last line, as a killed write leaves it.
    let mut dst = std::fs::read(env.path("out.jsonl")).unwrap_or_default();
    dst.extend_from_slice(b"{\"id\":\"ba");
    std::fs::write(env.path("out.jsonl"), &dst).unwrap_or_else(|e| panic!("{e}"));
    let before = snapshot(&env);
    let (run, out) = status(&env, &["in.jsonl", "out.jsonl", "--key", "id"]);
    assert_code(&run, 1);
    assert!(out.contains("a torn last line (9 bytes)"), "{out}");
    assert_eq!(snapshot(&env), before, "status cut nothing");

    // Once the rerun completes DST: complete, exit 0, no failure log.
    env.write_rows(
        "in.jsonl",
        &[json!({"id": 1}), json!({"id": 1}), json!({"id": 2})],
    );
    std::fs::write(env.path("out.jsonl"), b"").unwrap_or_else(|e| panic!("{e}"));
    assert_code(&env.run_by_id("map", &[], &["./cmd.sh"]), 0);
    let (run, out) = status(&env, &["in.jsonl", "out.jsonl", "--key", "id"]);
    assert_code(&run, 0);
    assert!(out.contains(": complete"), "{out}");
    assert!(out.contains("rows: 3 of 3 done, 0 left"), "{out}");
    assert!(!out.contains("failed"), "{out}");
}

#[test]
fn status_reads_a_flatmap_through_its_done_log_and_generate_through_its_keys() {
    let env = Env::new();
    env.write_rows(
        "in.jsonl",
        &[
            json!({"id": "a"}),
            json!({"id": "none"}),
            json!({"id": "b"}),
        ],
    );
    env.script("two.sh", scripts::TWO_LINES);
    assert_code(&env.run_by_id("flatmap", &[], &["./two.sh"]), 0);
    let (run, out) = status(&env, &["in.jsonl", "out.jsonl", "--key", "id"]);
    assert_code(&run, 0);
    assert!(out.contains("(flatmap): complete"), "{out}");
    assert!(
        out.contains("keys: 3 of 3 done"),
        "a key with no rows is done too: {out}"
    );
    assert!(out.contains("rows in DST: 4"), "{out}");
    env.write_rows(
        "in.jsonl",
        &[
            json!({"id": "a"}),
            json!({"id": "none"}),
            json!({"id": "b"}),
            json!({"id": "c"}),
        ],
    );
    let (run, out) = status(&env, &["in.jsonl", "out.jsonl", "--key", "id"]);
    assert_code(&run, 1);
    assert!(out.contains("keys: 3 of 4 done, 1 left"), "{out}");

    env.write("keys.txt", "x\ny\n");
    env.script("echo.sh", scripts::ECHO);
    let generate = [
        "generate",
        "gen.jsonl",
        "--key",
        "t",
        "--count",
        "2",
        "--keys",
        "keys.txt",
        "--",
        "./echo.sh",
    ];
    assert_code(&env.run(&generate), 0);
    let (run, out) = status(
        &env,
        &[
            "gen.jsonl",
            "--key",
            "t",
            "--keys",
            "keys.txt",
            "--count",
            "3",
        ],
    );
    assert_code(&run, 1);
    assert!(out.contains("rows: 4 of 6 done, 2 left"), "{out}");
    assert!(out.contains("keys: 0 of 2 done"), "{out}");
    let (run, _) = status(
        &env,
        &[
            "gen.jsonl",
            "--key",
            "t",
            "--keys",
            "keys.txt",
            "--count",
            "2",
        ],
    );
    assert_code(&run, 0);
}

#[test]
fn status_of_a_dst_in_use_names_the_run_and_changes_nothing() {
    let env = Env::new();
    env.write_rows("in.jsonl", &[json!({"id": 1}), json!({"id": 2})]);
    env.script("slow.sh", scripts::GATED_SLOW_ECHO);
    let running = env.start(&[
        "map",
        "in.jsonl",
        "out.jsonl",
        "--key",
        "id",
        "--",
        "./slow.sh",
    ]);
    // Both keys' calls start at once (-j is above 2) and log themselves:
    // wait for both, or the second may log between the two snapshots.
    env.wait_for_calls(2);
    let before = snapshot(&env);
    let (run, out) = status(&env, &["in.jsonl", "out.jsonl", "--key", "id"]);
    assert_code(&run, 1);
    assert!(
        out.contains(&format!("(pid {}) is writing DST", running.pid())),
        "{out}"
    );
    assert_eq!(snapshot(&env), before, "status touched nothing");
    env.write("go", "");
    let (status_code, stderr) = running.finish();
    assert_eq!(status_code.code(), Some(0), "{stderr}");
}

#[test]
fn status_errors_exit_2() {
    let env = Env::new();
    env.write("in.jsonl", "{\"id\": 1}\nnot json\n");
    let (run, _) = status(&env, &["in.jsonl", "out.jsonl", "--key", "id"]);
    assert_code(&run, 2);
    assert_stderr(&run, "in.jsonl:2");
    let (run, _) = status(&env, &["missing.jsonl", "out.jsonl", "--key", "id"]);
    assert_code(&run, 2);
    let (run, _) = status(&env, &["out.jsonl", "--key", "id"]);
    assert_code(&run, 2);
}
