//! `pipework generate`.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::support::{assert_code, assert_stderr, scripts, Env};

fn per_key(rows: &[Value]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for row in rows {
        *counts
            .entry(row["topic"].as_str().unwrap_or("?").to_owned())
            .or_insert(0) += 1;
    }
    counts
}

#[test]
fn makes_count_rows_per_key_and_a_rerun_makes_none() {
    let env = Env::new();
    env.write("keys.txt", "rust\n\ntimely\nrust\n");
    env.script("echo.sh", scripts::ECHO);
    let args = [
        "generate",
        "out.jsonl",
        "--key",
        "topic",
        "--count",
        "3",
        "--keys",
        "keys.txt",
        "--",
        "./echo.sh",
    ];
    let run = env.run(&args);
    assert_code(&run, 0);
    let rows = env.rows("out.jsonl");
    assert_eq!(
        per_key(&rows),
        HashMap::from([("rust".to_owned(), 3), ("timely".to_owned(), 3)])
    );
    let mut requests: Vec<String> = rows.iter().map(|r| r["input"].to_string()).collect();
    requests.sort();
    assert_eq!(
        requests[0],
        json!({"index": 0, "topic": "rust"}).to_string()
    );
    assert_eq!(env.calls().len(), 6);

    assert_code(&env.run(&args), 0);
    assert_eq!(env.calls().len(), 6);
    assert_eq!(env.rows("out.jsonl").len(), 6);
}

#[test]
fn completes_a_partial_file() {
    let env = Env::new();
    env.write("keys.txt", "a\nb\n");
    env.write_rows("out.jsonl", &[json!({"topic": "a", "input": "old"})]);
    env.script("echo.sh", scripts::ECHO);
    let run = env.run(&[
        "generate",
        "out.jsonl",
        "--key",
        "topic",
        "--count",
        "2",
        "--keys",
        "keys.txt",
        "--",
        "./echo.sh",
    ]);
    assert_code(&run, 0);
    assert_eq!(env.calls().len(), 3);
    assert!(env
        .calls()
        .iter()
        .any(|c| c.contains("\"index\":1") && c.contains("\"a\"")));
    assert_eq!(
        per_key(&env.rows("out.jsonl")),
        HashMap::from([("a".to_owned(), 2), ("b".to_owned(), 2)])
    );
}

#[test]
fn unknown_key_in_the_file_exits_2() {
    let env = Env::new();
    env.write("keys.txt", "a\n");
    env.write_rows("out.jsonl", &[json!({"topic": "zzz"})]);
    env.script("echo.sh", scripts::ECHO);
    let run = env.run(&[
        "generate",
        "out.jsonl",
        "--key",
        "topic",
        "--count",
        "1",
        "--keys",
        "keys.txt",
        "--",
        "./echo.sh",
    ]);
    assert_code(&run, 2);
    assert_stderr(
        &run,
        "out.jsonl:1: key \"zzz\" is not among the requested keys",
    );
}
