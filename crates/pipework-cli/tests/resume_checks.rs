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

/// An answer that depends on the key alone, so that a fresh run and a
/// reconciled one must write the same rows.
const BY_KEY: &str = r#"row=$(cat)
printf '%s\n' "$row" >> "$CALLS"
id=$(printf '%s' "$row" | sed 's/.*"id":\([0-9]*\).*/\1/')
printf '{"answer":"a%s"}\n' "$id"
"#;

/// Ten rows over keys 1..=4 with a kept column `v` (unique per row).
fn ten_rows() -> Vec<serde_json::Value> {
    (0..10)
        .map(|i| json!({"id": i % 4 + 1, "v": format!("v{i}"), "w": i}))
        .collect()
}

/// The rows as a sorted list of their texts: a multiset.
fn multiset(rows: Vec<serde_json::Value>) -> Vec<String> {
    let mut texts: Vec<String> = rows.iter().map(ToString::to_string).collect();
    texts.sort();
    texts
}

/// What a fresh run over `src` with `options` writes, in a scratch
/// directory of its own.
fn fresh_rows(src: &[serde_json::Value], options: &[&str]) -> Vec<String> {
    let env = Env::new();
    env.write_rows("in.jsonl", src);
    env.script("by_key.sh", BY_KEY);
    assert_code(&env.run_by_id("map", options, &["./by_key.sh"]), 0);
    multiset(env.rows("out.jsonl"))
}

/// A first run over `src`, then `edit` of the environment: the state the
/// rerun starts from, with the destination's text before the rerun.
fn after_edit(
    src: &[serde_json::Value],
    options: &[&str],
    edit: impl FnOnce(&Env),
) -> (Env, String) {
    let env = Env::new();
    env.write_rows("in.jsonl", src);
    env.script("by_key.sh", BY_KEY);
    assert_code(&env.run_by_id("map", options, &["./by_key.sh"]), 0);
    edit(&env);
    std::fs::remove_file(env.path("calls.log")).unwrap();
    let before = std::fs::read_to_string(env.path("out.jsonl")).unwrap();
    (env, before)
}

/// The rerun stops with exit 2 and `message`, DST byte-identical and no
/// call made; then `--reconcile` gives a fresh run's rows, calling only
/// the keys in `new_keys`.
#[track_caller]
fn refused_then_reconciled(
    env: &Env,
    before: &str,
    options: &[&str],
    message: &str,
    new_src: &[serde_json::Value],
    new_calls: usize,
) {
    let run = env.run_by_id("map", options, &["./by_key.sh"]);
    assert_code(&run, 2);
    assert_stderr(&run, message);
    assert_stderr(&run, "--reconcile");
    assert_eq!(
        std::fs::read_to_string(env.path("out.jsonl")).unwrap(),
        before
    );
    assert!(env.calls().is_empty(), "{:?}", env.calls());
    let mut reconciling = options.to_vec();
    reconciling.push("--reconcile");
    assert_code(&env.run_by_id("map", &reconciling, &["./by_key.sh"]), 0);
    assert_eq!(
        multiset(env.rows("out.jsonl")),
        fresh_rows(new_src, options)
    );
    assert_eq!(env.calls().len(), new_calls, "{:?}", env.calls());
    assert!(!env.path("out.jsonl.reconciling").exists());
    // And the reconciled DST resumes as complete.
    let again = env.run_by_id("map", options, &["./by_key.sh"]);
    assert_code(&again, 0);
    assert_stderr(&again, "0 written now");
}

#[test]
fn another_keep_is_refused_and_reconciling_rewrites_the_columns() {
    let src = ten_rows();
    let (env, before) = after_edit(&src, &["--keep", "v"], |_| {});
    refused_then_reconciled(
        &env,
        &before,
        &["--keep", "w"],
        "kept columns \"v\"",
        &src,
        0,
    );
}

/// Drop `--keep v` and add a row for an old key: the new row must not get
/// `"v"` copied from another row.
#[test]
fn a_dropped_keep_column_is_never_copied_into_a_new_row() {
    let mut src = ten_rows();
    let (env, before) = after_edit(&src, &["--keep", "v"], |env| {
        let mut rows = ten_rows();
        rows.push(json!({"id": 1, "v": "new", "w": 99}));
        env.write_rows("in.jsonl", &rows);
    });
    src.push(json!({"id": 1, "v": "new", "w": 99}));
    refused_then_reconciled(
        &env,
        &before,
        &[],
        "kept columns \"v\", and this run has none",
        &src,
        0,
    );
    assert!(env
        .rows("out.jsonl")
        .iter()
        .all(|row| row.get("v").is_none()));
}

#[test]
fn an_edited_kept_value_is_found_and_reconciled() {
    let mut src = ten_rows();
    src[6]["v"] = json!("edited");
    let edited = src.clone();
    let (env, before) = after_edit(&ten_rows(), &["--keep", "v"], |env| {
        env.write_rows("in.jsonl", &edited);
    });
    refused_then_reconciled(&env, &before, &["--keep", "v"], "at line 7", &src, 0);
}

#[test]
fn an_edited_key_is_found_and_only_the_new_key_is_paid_for() {
    let mut src = ten_rows();
    src[2]["id"] = json!(77);
    let edited = src.clone();
    let (env, before) = after_edit(&ten_rows(), &["--keep", "v"], |env| {
        env.write_rows("in.jsonl", &edited);
    });
    refused_then_reconciled(&env, &before, &["--keep", "v"], "at line 3", &src, 1);
    assert_eq!(env.rows("out.jsonl").len(), 10);
}

#[test]
fn removed_source_rows_are_found_and_their_rows_dropped() {
    let mut src = ten_rows();
    src.remove(7);
    src.remove(3);
    let edited = src.clone();
    let (env, before) = after_edit(&ten_rows(), &["--keep", "v"], |env| {
        env.write_rows("in.jsonl", &edited);
    });
    refused_then_reconciled(&env, &before, &["--keep", "v"], "at line 4", &src, 0);
    assert_eq!(env.rows("out.jsonl").len(), 8);
}

#[test]
fn a_duplicated_dst_row_is_named_by_its_line() {
    let src = ten_rows();
    let (env, before) = after_edit(&src, &["--keep", "v"], |env| {
        let text = std::fs::read_to_string(env.path("out.jsonl")).unwrap();
        let first = text.lines().next().unwrap().to_owned();
        env.write("out.jsonl", &format!("{text}{first}\n"));
    });
    refused_then_reconciled(
        &env,
        &before,
        &["--keep", "v"],
        "out.jsonl:11: the row of key 1",
        &src,
        0,
    );
}

#[test]
fn a_foreign_dst_row_is_named_by_its_line() {
    let src = ten_rows();
    let (env, before) = after_edit(&src, &["--keep", "v"], |env| {
        let text = std::fs::read_to_string(env.path("out.jsonl")).unwrap();
        let foreign = json!({"id": 9, "v": "x", "answer": "a9"});
        env.write("out.jsonl", &format!("{text}{foreign}\n"));
    });
    refused_then_reconciled(
        &env,
        &before,
        &["--keep", "v"],
        "out.jsonl:11: the row of key 9",
        &src,
        0,
    );
}

/// The middle row of a key with three, deleted from DST: the rerun writes
/// it back with its own values, once, and pays for nothing.
#[test]
fn a_deleted_dst_row_comes_back_with_its_own_values() {
    let src = ten_rows();
    let (env, _) = after_edit(&src, &["--keep", "v"], |env| {
        let text = std::fs::read_to_string(env.path("out.jsonl")).unwrap();
        // Key 1's rows are lines 1, 5 and 9.
        let kept: Vec<&str> = text
            .lines()
            .enumerate()
            .filter(|(i, _)| *i != 4)
            .map(|(_, l)| l)
            .collect();
        env.write("out.jsonl", &(kept.join("\n") + "\n"));
    });
    let run = env.run_by_id("map", &["--keep", "v"], &["./by_key.sh"]);
    assert_code(&run, 0);
    assert_eq!(
        multiset(env.rows("out.jsonl")),
        fresh_rows(&src, &["--keep", "v"])
    );
    assert!(env.calls().is_empty(), "{:?}", env.calls());
}

/// Another CMD is refused naming both; `--accept-new-command` keeps the old
/// answers and gives the new command the keys not answered yet.
#[test]
fn another_command_is_refused_unless_accepted() {
    let env = Env::new();
    env.write_rows("in.jsonl", &[json!({"id": 1}), json!({"id": 2})]);
    env.script("by_key.sh", BY_KEY);
    env.script("echo.sh", ECHO);
    assert_code(&env.run_by_id("map", &[], &["./by_key.sh"]), 0);
    env.write_rows(
        "in.jsonl",
        &[json!({"id": 1}), json!({"id": 2}), json!({"id": 3})],
    );
    let before = std::fs::read_to_string(env.path("out.jsonl")).unwrap();
    let run = env.run_by_id("map", &[], &["./echo.sh"]);
    assert_code(&run, 2);
    assert_stderr(&run, "[\"./by_key.sh\"], and this run has [\"./echo.sh\"]");
    assert_stderr(&run, "--accept-new-command");
    assert_eq!(
        std::fs::read_to_string(env.path("out.jsonl")).unwrap(),
        before
    );
    let run = env.run_by_id("map", &["--accept-new-command"], &["./echo.sh"]);
    assert_code(&run, 0);
    let rows = env.rows("out.jsonl");
    assert_eq!(rows[0]["answer"], "a1");
    assert_eq!(rows[2]["input"], json!({"id": 3}));
    // The manifest now names the new command.
    assert_code(&env.run_by_id("map", &[], &["./echo.sh"]), 0);
}

/// The script's content changed: a warning, and the run goes on.
#[test]
fn an_edited_script_is_a_warning() {
    let env = Env::new();
    env.write_rows("in.jsonl", &[json!({"id": 1})]);
    env.script("by_key.sh", BY_KEY);
    assert_code(&env.run_by_id("map", &[], &["./by_key.sh"]), 0);
    env.script("by_key.sh", &format!("{BY_KEY}# edited\n"));
    let run = env.run_by_id("map", &[], &["./by_key.sh"]);
    assert_code(&run, 0);
    assert_stderr(&run, "warning:");
    assert_stderr(&run, "changed since the destination was begun");
}

/// A DST begun elsewhere (no manifest) resumes with one note, and gets one.
#[test]
fn a_dst_without_a_manifest_resumes_with_a_note() {
    let env = Env::new();
    env.write_rows("in.jsonl", &[json!({"id": 1}), json!({"id": 2})]);
    env.script("by_key.sh", BY_KEY);
    env.write("out.jsonl", "{\"id\": 1, \"answer\": \"from python\"}\n");
    let run = env.run_by_id("map", &[], &["./by_key.sh"]);
    assert_code(&run, 0);
    assert_stderr(&run, "note:");
    assert_stderr(&run, "has no manifest");
    assert_eq!(env.calls().len(), 1);
    assert!(env.path("out.jsonl.manifest").exists());
    assert!(!env
        .run_by_id("map", &[], &["./by_key.sh"])
        .stderr
        .contains("no manifest"));
}

/// Appending rows to SRC is what a resume is for: no error, only the new
/// rows' keys are paid for.
#[test]
fn appended_source_rows_resume_without_a_word() {
    let mut src = ten_rows();
    let (env, _) = after_edit(&src, &["--keep", "v"], |env| {
        let mut rows = ten_rows();
        rows.push(json!({"id": 5, "v": "new", "w": 10}));
        env.write_rows("in.jsonl", &rows);
    });
    src.push(json!({"id": 5, "v": "new", "w": 10}));
    let run = env.run_by_id("map", &["--keep", "v"], &["./by_key.sh"]);
    assert_code(&run, 0);
    assert_eq!(
        multiset(env.rows("out.jsonl")),
        fresh_rows(&src, &["--keep", "v"])
    );
    assert_eq!(env.calls().len(), 1);
}
