//! One test per reported problem.

use serde_json::json;

use crate::support::{assert_code, scripts, Env};

/// Issue 4 (`issues show 4`): abstractions resumes by line count, which breaks
/// after skipped rows; pipework resumes by the keys present in DST, so a rerun
/// after failures under `--on-error skip` writes the missing rows and nothing twice.
#[test]
fn issue_4_resume_after_skipped_keys_writes_each_row_once() {
    let env = Env::new();
    env.write_rows(
        "in.jsonl",
        &[
            json!({"id": "bad", "n": 0}),
            json!({"id": "a", "n": 1}),
            json!({"id": "bad", "n": 2}),
            json!({"id": "b", "n": 3}),
        ],
    );
    env.script("cmd.sh", scripts::FAIL_ON_BAD);
    let args = [
        "map",
        "in.jsonl",
        "out.jsonl",
        "--key",
        "id",
        "--keep",
        "n",
        "--on-error",
        "skip",
        "--",
        "./cmd.sh",
    ];
    assert_code(&env.run(&args), 1);
    assert_eq!(env.rows("out.jsonl").len(), 2);

    // The problem is fixed; the same command again retries only the failed key.
    env.script("cmd.sh", scripts::ECHO);
    assert_code(&env.run(&args), 0);
    let mut ns: Vec<i64> = env
        .rows("out.jsonl")
        .iter()
        .map(|r| r["n"].as_i64().unwrap_or(-1))
        .collect();
    ns.sort_unstable();
    assert_eq!(ns, [0, 1, 2, 3]);
    assert_eq!(env.calls().len(), 3 + 1);
}
