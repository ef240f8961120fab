//! What `map_by_key` writes: kept columns and keys come out as the same JSON
//! values they were in the source, however the source spelled them, and a
//! rerun over that output recognises every key.
#![cfg(feature = "jsonl")]

mod support;

use pipework::jsonl::{map_by_key, MapOptions, Row};
use serde_json::{json, Value};
use support::{rows, Calls};

/// Source lines written by hand, so that their spelling is not serde_json's.
const SOURCE: &str = concat!(
    r#"{"key": 1.0, "note": {"deep" : [1, 2.50, "x"] }, "skipped": [[[]]]}"#,
    "\n",
    r#"{"note":"caf\u00e9 \"quoted\" \\ \/","key":"caf\u00e9"}"#,
    "\n",
    r#"  {"key" : true , "note" : null }  "#,
    "\n",
    r#"{"key": 1.0, "note": 1e3}"#,
    "\n",
    r#"{"key": "café"}"#,
    "\n",
);

async fn echo_key(row: Row) -> Result<Row, std::io::Error> {
    Ok(support::row(json!({"seen": row["key"].clone()})))
}

#[tokio::test]
async fn kept_columns_and_keys_keep_their_json_values_and_a_rerun_finds_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    std::fs::write(&src, SOURCE).unwrap();
    let opts = || MapOptions::new("key").keep_columns(["note"]);
    let calls = Calls::default();
    let f = |calls: Calls| {
        move |row: Row| {
            calls.record(&row["key"]);
            echo_key(row)
        }
    };

    let report = map_by_key(&src, &dst, f(calls.clone()), opts())
        .await
        .unwrap();
    assert_eq!(report.rows_written, 5);
    // "caf\u00e9" and "café" are one key; 1.0 twice is one key.
    assert_eq!(report.keys_computed, 3);
    // Numbers spelt as in the source: with exact numbers a `Value` holds
    // their text, and `2.50` is not `2.5` to it.
    let expected: Vec<Value> = vec![
        value(r#"{"key": 1.0, "note": {"deep": [1, 2.50, "x"]}, "seen": 1.0}"#),
        json!({"key": "café", "note": "café \"quoted\" \\ /", "seen": "café"}),
        json!({"key": true, "note": null, "seen": true}),
        value(r#"{"key": 1.0, "note": 1e3, "seen": 1.0}"#),
        json!({"key": "café", "seen": "café"}),
    ];
    let written: Vec<Value> = rows(&dst).into_iter().map(Value::Object).collect();
    assert_eq!(written, expected);
    let text = std::fs::read_to_string(&dst).unwrap();
    assert_eq!(text.lines().count(), 5, "one object per line:\n{text}");

    let before = calls.total();
    let rerun = map_by_key(&src, &dst, f(calls.clone()), opts())
        .await
        .unwrap();
    assert_eq!(calls.total(), before, "the rerun called f again");
    assert_eq!((rerun.rows_written, rerun.rows_resumed), (0, 5));
    assert_eq!(std::fs::read_to_string(&dst).unwrap(), text);
}

fn value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A value serde_json skips but cannot parse (a lone surrogate; a number
/// beyond `f64` without exact numbers) in a kept column of a key's later
/// row: that row is bad input, named by line, never copied into the
/// destination, which a rerun must be able to read back.
#[tokio::test]
async fn a_kept_value_serde_json_cannot_parse_is_bad_input_on_any_row() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    std::fs::write(
        &src,
        concat!(
            "{\"key\": 1, \"note\": 1}\n",
            "{\"key\": 1, \"note\": 1e400}\n",
            "{\"key\": 1, \"note\": \"\\ud800\"}\n",
            "{\"key\": 1, \"note\": 4}\n",
        ),
    )
    .unwrap();
    let skipped = support::Skipped::default();
    let opts = || {
        MapOptions::new("key")
            .keep_columns(["note"])
            .on_error(pipework::jsonl::OnError::Skip)
            .on_skip(skipped.callback())
    };
    let report = map_by_key(&src, &dst, echo_key, opts()).await.unwrap();
    let messages = skipped.messages();
    let notes: Vec<Value> = rows(&dst).iter().map(|row| row["note"].clone()).collect();
    let first_bad = if cfg!(feature = "exact-numbers") {
        // A `Value` holds 1e400: the row is good.
        assert_eq!((report.rows_written, report.rows_invalid), (3, 1));
        assert_eq!(notes, [json!(1), value("1e400"), json!(4)]);
        3
    } else {
        assert_eq!((report.rows_written, report.rows_invalid), (2, 2));
        assert!(
            messages[0].contains("in.jsonl:2: invalid json"),
            "{messages:?}"
        );
        assert_eq!(notes, [json!(1), json!(4)]);
        2
    };
    assert!(
        messages
            .last()
            .is_some_and(|m| m.contains("in.jsonl:3: invalid json")),
        "{messages:?}"
    );

    let err = map_by_key(
        &src,
        &dst,
        echo_key,
        MapOptions::new("key").keep_columns(["note"]),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("in.jsonl:{first_bad}: invalid json")),
        "{err}"
    );
}

/// Files saved by Windows tools: a UTF-8 byte order mark at the start and
/// CRLF line ends. Both are read as if they were not there.
#[tokio::test]
async fn a_byte_order_mark_and_crlf_line_ends_are_read_as_plain_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    std::fs::write(
        &src,
        b"\xEF\xBB\xBF{\"key\": 1, \"note\": \"a\"}\r\n{\"key\": 2}\r\n\r\n{\"key\": 1, \"note\": \"c\"}\r\n",
    )
    .unwrap();
    let report = map_by_key(
        &src,
        &dst,
        echo_key,
        MapOptions::new("key").keep_columns(["note"]),
    )
    .await
    .unwrap();
    assert_eq!((report.rows_written, report.rows_invalid), (3, 0));
    assert_eq!(
        std::fs::read_to_string(&dst).unwrap(),
        "{\"key\":1,\"note\":\"a\",\"seen\":1}\n{\"key\":2,\"seen\":2}\n{\"key\":1,\"note\":\"c\",\"seen\":1}\n"
    );
    let rows: Vec<_> = pipework::jsonl::read(&src)
        .unwrap()
        .map(|item| item.unwrap().0)
        .collect();
    assert_eq!(rows, [1, 2, 4], "line numbers count the blank line");
}

/// Only the file's first line may start with a byte order mark: anywhere
/// else it is not JSON, and the error names that line.
#[test]
fn a_byte_order_mark_after_the_first_line_is_invalid_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.jsonl");
    std::fs::write(&path, b"{\"key\": 1}\n\xEF\xBB\xBF{\"key\": 2}\n").unwrap();
    let mut rows = pipework::jsonl::read(&path).unwrap();
    assert_eq!(rows.path(), path);
    assert_eq!(rows.next().unwrap().unwrap().0, 1);
    let err = rows.next().unwrap().unwrap_err();
    assert!(
        err.to_string().contains("in.jsonl:2: invalid json"),
        "{err}"
    );
}

/// A destination that starts with a byte order mark (edited by a Windows
/// tool) resumes: its first row is found where it starts, after the mark,
/// when a later row of its key reads its result back. (Its first line is
/// not its last: see the known bug below.)
#[tokio::test]
async fn a_resume_reads_back_a_result_from_a_dst_that_starts_with_a_byte_order_mark() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    std::fs::write(
        &src,
        "{\"key\": 1, \"note\": \"a\"}\n{\"key\": 2}\n{\"key\": 1, \"note\": \"c\"}\n",
    )
    .unwrap();
    let stored = "{\"key\":1,\"note\":\"a\",\"seen\":1}\n{\"key\":2,\"seen\":2}\n";
    std::fs::write(&dst, [b"\xEF\xBB\xBF", stored.as_bytes()].concat()).unwrap();
    let calls = Calls::default();
    let f = {
        let calls = calls.clone();
        move |row: Row| {
            calls.record(&row["key"]);
            echo_key(row)
        }
    };
    let report = map_by_key(&src, &dst, f, MapOptions::new("key").keep_columns(["note"]))
        .await
        .unwrap();
    assert_eq!((report.rows_resumed, report.rows_written), (2, 1));
    assert_eq!(calls.total(), 0);
    let written = std::fs::read(&dst).unwrap();
    let expected = [
        &b"\xEF\xBB\xBF"[..],
        stored.as_bytes(),
        b"{\"key\":1,\"note\":\"c\",\"seen\":1}\n",
    ]
    .concat();
    assert_eq!(
        String::from_utf8_lossy(&written),
        String::from_utf8_lossy(&expected)
    );
}

/// A destination whose only line starts with a byte order mark is not torn:
/// the repair drops the mark before it checks the line, as the reader does
/// (it used to cut the whole row off, and the key was computed again).
#[tokio::test]
async fn a_dst_whose_only_line_starts_with_a_byte_order_mark_is_not_torn() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let dst = dir.path().join("out.jsonl");
    std::fs::write(&src, "{\"key\": 1}\n").unwrap();
    let stored = [&b"\xEF\xBB\xBF"[..], b"{\"key\":1,\"seen\":1}\n"].concat();
    std::fs::write(&dst, &stored).unwrap();
    let report = map_by_key(&src, &dst, echo_key, MapOptions::new("key"))
        .await
        .unwrap();
    assert_eq!((report.rows_resumed, report.rows_written), (1, 0));
    assert_eq!(std::fs::read(&dst).unwrap(), stored);
}
