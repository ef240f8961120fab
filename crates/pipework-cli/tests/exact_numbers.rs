//! Numbers are exact: CMD and DST get each number's text as SRC spells it,
//! and keys compare by exact value (`1` and `1.0` are one key,
//! `10000000000000000000000` and `10000000000000000000001` two).

use crate::status::status;
use crate::support::{assert_code, assert_stderr, Env};

/// Copies its stdin to `stdin.log` (and a line to `$CALLS`) and answers
/// with how many calls it has seen.
const COPY_STDIN: &str = r#"row=$(cat)
printf '%s\n' "$row" >> stdin.log
printf '%s\n' "$row" >> "$CALLS"
printf '{"answer":%s}\n' "$(wc -l < stdin.log | tr -d ' ')"
"#;

/// Numbers no `f64` or 64-bit integer holds, or whose text an `f64` would
/// change.
const NUMBERS: [&str; 6] = [
    "123456789012345678901234567890",
    "1.000000000000000000001",
    "-0",
    "1E400",
    "-1.5e-7",
    "18446744073709551616",
];

/// The lines of a file in the scratch directory.
fn lines(env: &Env, name: &str) -> Vec<String> {
    std::fs::read_to_string(env.path(name))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// One source line per number, keyed by it, with the number again in a
/// kept column `n` and a skipped column `other`.
fn source(env: &Env) {
    let text: String = NUMBERS
        .iter()
        .map(|n| format!("{{\"id\": {n}, \"n\": {n}, \"other\": [{n}]}}\n"))
        .collect();
    env.write("in.jsonl", &text);
}

#[test]
fn map_passes_every_number_to_cmd_and_dst_as_written() {
    let env = Env::new();
    source(&env);
    env.script("copy.sh", COPY_STDIN);
    let run = env.run_by_id("map", &["--keep", "n"], &["./copy.sh"]);
    assert_code(&run, 0);
    // CMD gets the row with its fields in name order.
    let stdin = lines(&env, "stdin.log");
    for n in NUMBERS {
        let row = format!("{{\"id\":{n},\"n\":{n},\"other\":[{n}]}}");
        assert!(stdin.contains(&row), "CMD got {stdin:#?}, not {row}");
    }
    let dst = lines(&env, "out.jsonl");
    assert_eq!(dst.len(), NUMBERS.len(), "{dst:#?}");
    for (line, n) in dst.iter().zip(NUMBERS) {
        assert!(
            line.starts_with(&format!("{{\"id\":{n},\"n\":{n},\"answer\":")),
            "DST line {line} for {n}"
        );
    }
}

#[test]
fn flatmap_passes_every_number_to_cmd_and_dst_as_written() {
    let env = Env::new();
    source(&env);
    // Each item repeats a number of the row it got, as text.
    env.script(
        "split.sh",
        r#"row=$(cat)
printf '%s\n' "$row" >> stdin.log
n=$(printf '%s' "$row" | sed 's/.*"n":\([^,]*\),.*/\1/')
printf '{"part":1,"echo":%s}\n{"part":2}\n' "$n"
"#,
    );
    let run = env.run_by_id("flatmap", &["--keep", "n"], &["./split.sh"]);
    assert_code(&run, 0);
    let stdin = lines(&env, "stdin.log");
    let dst = lines(&env, "out.jsonl");
    assert_eq!(dst.len(), 2 * NUMBERS.len(), "{dst:#?}");
    for n in NUMBERS {
        let row = format!("{{\"id\":{n},\"n\":{n},\"other\":[{n}]}}");
        assert!(stdin.contains(&row), "CMD got {stdin:#?}, not {row}");
        for line in [
            format!("{{\"id\":{n},\"n\":{n},\"echo\":{n},\"part\":1}}"),
            format!("{{\"id\":{n},\"n\":{n},\"part\":2}}"),
        ] {
            assert!(dst.contains(&line), "DST lacks {line}: {dst:#?}");
        }
    }
}

#[test]
fn integers_beyond_64_bits_that_differ_are_two_keys() {
    for subcommand in ["map", "flatmap"] {
        let env = Env::new();
        env.write(
            "in.jsonl",
            "{\"id\": 10000000000000000000000}\n{\"id\": 10000000000000000000001}\n",
        );
        env.script("copy.sh", COPY_STDIN);
        let run = env.run_by_id(subcommand, &["--jobs", "1"], &["./copy.sh"]);
        assert_code(&run, 0);
        assert_eq!(env.calls().len(), 2, "{subcommand}");
        assert_eq!(
            lines(&env, "out.jsonl"),
            [
                r#"{"id":10000000000000000000000,"answer":1}"#,
                r#"{"id":10000000000000000000001,"answer":2}"#,
            ],
            "{subcommand}"
        );
    }
}

#[test]
fn spellings_of_one_number_are_one_key_whose_rows_keep_their_spelling() {
    let env = Env::new();
    env.write(
        "in.jsonl",
        "{\"id\": 1}\n{\"id\": 1.0}\n{\"id\": -0}\n{\"id\": 0}\n{\"id\": 10e-1}\n{\"id\": 0.0}\n{\"id\": \"1\"}\n",
    );
    env.script("copy.sh", COPY_STDIN);
    // One call at a time: the answers count the calls in source order.
    let run = env.run_by_id("map", &["--jobs", "1"], &["./copy.sh"]);
    assert_code(&run, 0);
    // One call for 1, one for 0, one for the string "1".
    assert_eq!(
        lines(&env, "stdin.log"),
        [r#"{"id":1}"#, r#"{"id":-0}"#, r#"{"id":"1"}"#]
    );
    assert_eq!(
        lines(&env, "out.jsonl"),
        [
            r#"{"id":1,"answer":1}"#,
            r#"{"id":1.0,"answer":1}"#,
            r#"{"id":-0,"answer":2}"#,
            r#"{"id":0,"answer":2}"#,
            r#"{"id":10e-1,"answer":1}"#,
            r#"{"id":0.0,"answer":2}"#,
            r#"{"id":"1","answer":3}"#,
        ]
    );
    assert_stderr(&run, "keys: 3 computed");
    // A rerun finds every key done, whatever spelling DST holds it in.
    assert_code(&env.run_by_id("map", &[], &["./copy.sh"]), 0);
    assert_eq!(env.calls().len(), 3);
    let (run, out) = status(&env, &["in.jsonl", "out.jsonl", "--key", "id"]);
    assert_code(&run, 0);
    assert!(out.contains("keys: 3 of 3 done, 0 left"), "{out}");
}

#[test]
fn a_flatmap_repeat_is_named_as_written() {
    let env = Env::new();
    env.write(
        "in.jsonl",
        "{\"id\": 10000000000000000000000}\n{\"id\": 10000000000000000000001}\n{\"id\": 1.0000000000000000000001e22}\n",
    );
    env.script("copy.sh", COPY_STDIN);
    let run = env.run_by_id("flatmap", &[], &["./copy.sh"]);
    assert_code(&run, 2);
    assert_stderr(
        &run,
        "in.jsonl:3: key 1.0000000000000000000001e22 already appeared on line 2",
    );
}

#[test]
fn a_flatmap_status_compares_done_keys_by_value() {
    let env = Env::new();
    env.write("in.jsonl", "{\"id\": 1.0}\n{\"id\": 2}\n");
    env.script("copy.sh", COPY_STDIN);
    assert_code(&env.run_by_id("flatmap", &[], &["./copy.sh"]), 0);
    // The same keys, spelt otherwise: done all the same.
    env.write("in.jsonl", "{\"id\": 1}\n{\"id\": 2e0}\n");
    let (run, out) = status(&env, &["in.jsonl", "out.jsonl", "--key", "id"]);
    assert_code(&run, 0);
    assert!(out.contains("keys: 2 of 2 done, 0 left"), "{out}");
    // A rerun compares SRC's bytes with its fingerprint, though: respelt
    // rows are an edit, refused before anything is called.
    let run = env.run_by_id("flatmap", &[], &["./copy.sh"]);
    assert_code(&run, 2);
    assert_stderr(&run, "changed since out.jsonl was made from it");
    assert_eq!(env.calls().len(), 2);
}
