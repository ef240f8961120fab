//! `pipework map` resumes from what DST's rows say, whatever the order of
//! their fields (a DST passed through `jq -S` or Python's `json.dumps`).

use serde_json::{json, Value};

use crate::support::{assert_code, Env};

/// Prints `{"score":7}`, or with `REPLACE` set, a result that replaces the
/// kept column `author` too.
const SCORE: &str = r#"row=$(cat)
printf '%s\n' "$row" >> "$CALLS"
if [ -n "$REPLACE" ]; then printf '{"score":7,"author":"f"}\n'; else printf '{"score":7}\n'; fi
"#;

const MAP: [&str; 9] = [
    "map",
    "in.jsonl",
    "out.jsonl",
    "--key",
    "book",
    "--keep",
    "author",
    "--",
    "./score.sh",
];

fn source(env: &Env) {
    env.write_rows(
        "in.jsonl",
        &[
            json!({"book": "b1", "author": "ann"}),
            json!({"book": "b1", "author": "bob"}),
            json!({"book": "b2", "author": "cy"}),
        ],
    );
    env.script("score.sh", SCORE);
}

/// Keeps DST's first row only, its fields sorted by name as `jq -S` and
/// `json.dumps(sort_keys=True)` write them.
fn keep_first_row_sorted(env: &Env) -> String {
    let first = env.rows("out.jsonl").swap_remove(0);
    let Value::Object(fields) = first else {
        panic!("not an object: {first}");
    };
    // Without serde_json's `preserve_order`, a parsed row is sorted by name.
    let sorted: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("{}: {value}", Value::from(name.as_str())))
        .collect();
    let line = format!("{{{}}}\n", sorted.join(", "));
    env.write("out.jsonl", &line);
    line
}

/// The issue's example: the rerun used to write bob's row with ann's name.
#[test]
fn a_resume_over_a_dst_with_sorted_fields_writes_each_rows_own_kept_value() {
    let env = Env::new();
    source(&env);
    assert_code(&env.run(&MAP), 0);
    let fresh = env.rows("out.jsonl");
    assert_eq!(
        fresh,
        [
            json!({"book": "b1", "author": "ann", "score": 7}),
            json!({"book": "b1", "author": "bob", "score": 7}),
            json!({"book": "b2", "author": "cy", "score": 7}),
        ]
    );
    let first = keep_first_row_sorted(&env);
    assert_eq!(
        first,
        "{\"author\": \"ann\", \"book\": \"b1\", \"score\": 7}\n"
    );

    assert_code(&env.run(&MAP), 0);
    assert_eq!(env.rows("out.jsonl"), fresh);
    let text = std::fs::read_to_string(env.path("out.jsonl")).unwrap();
    assert_eq!(
        text,
        format!("{first}{{\"book\":\"b1\",\"author\":\"bob\",\"score\":7}}\n{{\"book\":\"b2\",\"author\":\"cy\",\"score\":7}}\n"),
        "the rerun's rows are laid out as a fresh run's"
    );
    // Once for each key in the first run, once for b2 in the rerun.
    assert_eq!(env.calls().len(), 3);
    assert!(!env.path("out.jsonl.replaced").exists());
}

/// When CMD returns the kept column, its value is every row's, before and
/// after a resume over sorted fields: the run recorded it in
/// `out.jsonl.replaced`.
#[test]
fn a_kept_column_cmd_replaced_stays_cmds_after_a_resume_over_sorted_fields() {
    let env = Env::new();
    source(&env);
    let replace = |env: &Env| {
        let mut command = env.pipework(&MAP);
        command.env("REPLACE", "1");
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    replace(&env);
    let fresh = env.rows("out.jsonl");
    assert_eq!(
        fresh,
        [
            json!({"book": "b1", "author": "f", "score": 7}),
            json!({"book": "b1", "author": "f", "score": 7}),
            json!({"book": "b2", "author": "f", "score": 7}),
        ]
    );
    let log = std::fs::read_to_string(env.path("out.jsonl.replaced")).unwrap();
    assert_eq!(log.lines().count(), 2);
    keep_first_row_sorted(&env);
    replace(&env);
    assert_eq!(env.rows("out.jsonl"), fresh);
    assert_eq!(env.calls().len(), 3);
}
