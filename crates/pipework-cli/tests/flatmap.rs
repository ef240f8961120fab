//! `pipework flatmap`.

use serde_json::json;

use crate::support::{assert_code, assert_stderr, scripts, Env};

#[test]
fn jsonl_and_array_output_both_become_rows() {
    for script in [scripts::TWO_LINES, scripts::ARRAY] {
        let env = Env::new();
        env.write_rows(
            "in.jsonl",
            &[json!({"id": 1, "n": "a"}), json!({"id": 2, "n": "b"})],
        );
        env.script("split.sh", script);
        let run = env.run_by_id("flatmap", &["--keep", "n"], &["./split.sh"]);
        assert_code(&run, 0);
        assert_eq!(
            env.rows("out.jsonl"),
            [
                json!({"id": 1, "n": "a", "part": 1}),
                json!({"id": 1, "n": "a", "part": 2}),
                json!({"id": 2, "n": "b", "part": 1}),
                json!({"id": 2, "n": "b", "part": 2}),
            ]
        );
        assert_eq!(env.rows("out.jsonl.done").len(), 2);
    }
}

#[test]
fn empty_output_writes_nothing_and_is_not_run_again() {
    let env = Env::new();
    env.write_rows("in.jsonl", &[json!({"id": "none"}), json!({"id": "some"})]);
    env.script("split.sh", scripts::TWO_LINES);
    assert_code(&env.run_by_id("flatmap", &[], &["./split.sh"]), 0);
    assert_eq!(env.rows("out.jsonl").len(), 2);
    assert_code(&env.run_by_id("flatmap", &[], &["./split.sh"]), 0);
    assert_eq!(env.calls().len(), 2);
    assert_eq!(env.rows("out.jsonl").len(), 2);
}

#[test]
fn duplicate_key_exits_2() {
    let env = Env::new();
    env.write_rows("in.jsonl", &[json!({"id": 1}), json!({"id": 1})]);
    env.script("split.sh", scripts::TWO_LINES);
    let run = env.run_by_id("flatmap", &[], &["./split.sh"]);
    assert_code(&run, 2);
    assert_stderr(&run, "in.jsonl:2: key 1 already appeared on line 1");
}

#[test]
fn non_object_item_is_that_keys_error() {
    let env = Env::new();
    env.write_rows("in.jsonl", &[json!({"id": 1})]);
    env.script("bad.sh", "cat >/dev/null; echo '[{\"a\":1}, 2]'\n");
    let run = env.run_by_id("flatmap", &[], &["./bad.sh"]);
    assert_code(&run, 2);
    assert_stderr(&run, "printed a number as item 2, expected json objects");
}
