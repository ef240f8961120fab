//! Property: a resume of `map_by_key` checks, never guesses. After a fresh
//! run, a random mix of edits to the source (append, edit a kept value,
//! edit a key, delete, insert, swap) and to the destination (delete rows,
//! duplicate rows, add foreign rows, cut the last line, reorder fields),
//! a rerun either
//! - stops with an error that names the change (the manifest, the source's
//!   fingerprint or an unmatched row) and leaves the destination as it was
//!   (but for a torn last line, which any resume cuts off), or
//! - writes what a fresh run over the new source writes, as a multiset of
//!   rows, calling no key the destination still answered;
//!
//! and it must be the second when the source was only appended to and the
//! destination only lost rows or had its fields reordered. A rerun with
//! `reconcile` is always the second.
#![cfg(feature = "jsonl")]

mod support;

use std::collections::HashSet;
use std::path::Path;

use pipework::jsonl::{map_by_key, Error, MapOptions, Row};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::Calls;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// `f`'s answer depends on the key alone (so a fresh run and a resumed one
/// agree), and for some keys replaces the kept column `v`.
fn answer(row: &Row) -> Row {
    let key = row["k"].as_i64().unwrap_or(-1);
    let mut out = Row::new();
    out.insert("answer".into(), json!(key * 10));
    if key % 3 == 0 {
        out.insert("v".into(), json!(format!("f{key}")));
    }
    out
}

#[derive(Debug, Clone)]
enum SrcEdit {
    Append(i64, u8),
    EditValue(usize, u8),
    EditKey(usize, i64),
    Delete(usize),
    Insert(usize, i64, u8),
    Swap(usize, usize),
}

#[derive(Debug, Clone)]
enum DstEdit {
    Delete(usize),
    Duplicate(usize),
    Foreign(i64),
    CutLast,
    Reorder(usize),
}

#[derive(Debug, Clone)]
struct Case {
    rows: Vec<(i64, u8)>,
    keep: bool,
    src_edits: Vec<SrcEdit>,
    dst_edits: Vec<DstEdit>,
    reconcile: bool,
}

fn case() -> impl Strategy<Value = Case> {
    let row = (0i64..5, 0u8..3);
    let src_edit = prop_oneof![
        3 => (0i64..6, 0u8..3).prop_map(|(k, v)| SrcEdit::Append(k, v)),
        1 => (0usize..20, 0u8..3).prop_map(|(i, v)| SrcEdit::EditValue(i, v)),
        1 => (0usize..20, 0i64..7).prop_map(|(i, k)| SrcEdit::EditKey(i, k)),
        1 => (0usize..20).prop_map(SrcEdit::Delete),
        1 => (0usize..20, 0i64..6, 0u8..3).prop_map(|(i, k, v)| SrcEdit::Insert(i, k, v)),
        1 => (0usize..20, 0usize..20).prop_map(|(i, j)| SrcEdit::Swap(i, j)),
    ];
    let dst_edit = prop_oneof![
        2 => (0usize..20).prop_map(DstEdit::Delete),
        1 => (0usize..20).prop_map(DstEdit::Duplicate),
        1 => (10i64..12).prop_map(DstEdit::Foreign),
        1 => Just(DstEdit::CutLast),
        2 => (0usize..20).prop_map(DstEdit::Reorder),
    ];
    (
        prop::collection::vec(row, 1..10),
        any::<bool>(),
        prop::collection::vec(src_edit, 0..3),
        prop::collection::vec(dst_edit, 0..3),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(rows, keep, src_edits, dst_edits, reconcile)| Case {
            rows,
            keep,
            src_edits,
            dst_edits,
            reconcile,
        })
}

fn src_text(rows: &[(i64, u8)]) -> String {
    rows.iter()
        .map(|(k, v)| format!("{{\"k\": {k}, \"v\": \"s{v}\"}}\n"))
        .collect()
}

/// Applies the source edits.
fn edit_src(rows: &mut Vec<(i64, u8)>, edits: &[SrcEdit]) {
    for edit in edits {
        let n = rows.len();
        match *edit {
            SrcEdit::Append(k, v) => rows.push((k, v)),
            SrcEdit::EditValue(i, v) if rows[i % n].1 != v => rows[i % n].1 = v,
            SrcEdit::EditKey(i, k) if rows[i % n].0 != k => rows[i % n].0 = k,
            SrcEdit::Delete(i) if n > 1 => {
                rows.remove(i % n);
            }
            SrcEdit::Insert(i, k, v) => rows.insert(i % n, (k, v)),
            SrcEdit::Swap(i, j) if rows[i % n] != rows[j % n] => rows.swap(i % n, j % n),
            _ => {}
        }
    }
}

/// Applies the destination edits to its lines; true if they only removed
/// rows, cut the last line or reordered fields (what a resume repairs).
fn edit_dst(lines: &mut Vec<String>, edits: &[DstEdit]) -> bool {
    let mut repairable = true;
    for edit in edits {
        let n = lines.len();
        if n == 0 {
            break;
        }
        match *edit {
            DstEdit::Delete(i) => {
                lines.remove(i % n);
            }
            DstEdit::Duplicate(i) => {
                lines.push(lines[i % n].clone());
                repairable = false;
            }
            DstEdit::Foreign(k) => {
                lines.push(format!("{{\"k\":{k},\"answer\":{}}}", k * 10));
                repairable = false;
            }
            DstEdit::CutLast => {
                let last = lines.pop().unwrap_or_default();
                lines.push(last[..last.len() / 2].to_owned());
                // A torn line is the last: nothing may follow it.
                break;
            }
            DstEdit::Reorder(i) => {
                let row: serde_json::Map<String, Value> =
                    serde_json::from_str(&lines[i % n]).unwrap_or_default();
                let fields: Vec<String> = row
                    .iter()
                    .rev()
                    .map(|(name, value)| format!("{}: {value}", Value::from(name.as_str())))
                    .collect();
                lines[i % n] = format!("{{{}}}", fields.join(", "));
            }
        }
    }
    repairable
}

fn options(case: &Case) -> MapOptions {
    let keep: &[&str] = if case.keep { &["v"] } else { &[] };
    MapOptions::new("k")
        .keep_columns(keep.iter().copied())
        .concurrency(2)
}

async fn run(src: &Path, dst: &Path, opts: MapOptions, calls: &Calls) -> Result<(), Error> {
    let calls = calls.clone();
    let f = move |row: Row| {
        calls.record(&row["k"]);
        async move { Ok::<_, std::io::Error>(answer(&row)) }
    };
    map_by_key(src, dst, f, opts.on_skip(|_| {}))
        .await
        .map(|_| ())
        .map_err(|e| e.error)
}

fn multiset(text: &str) -> Vec<String> {
    let mut rows: Vec<String> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap_or(Value::Null);
            value.to_string()
        })
        .collect();
    rows.sort();
    rows
}

/// The keys the destination's whole rows answer.
fn answered(lines: &[String], complete_last: bool) -> HashSet<String> {
    let whole = if complete_last {
        lines.len()
    } else {
        lines.len().saturating_sub(1)
    };
    lines[..whole]
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|row| row["k"].to_string())
        .collect()
}

fn check(case: Case) -> Result<(), TestCaseError> {
    let rt = runtime();
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    std::fs::write(&src, src_text(&case.rows)).unwrap();
    rt.block_on(run(&src, &dst, options(&case), &Calls::default()))
        .map_err(|e| TestCaseError::fail(format!("the first run: {e}")))?;

    let mut rows = case.rows.clone();
    edit_src(&mut rows, &case.src_edits);
    // Edits may undo one another: what counts is the text.
    let appends_only = src_text(&rows).starts_with(&src_text(&case.rows));
    std::fs::write(&src, src_text(&rows)).unwrap();
    let mut lines: Vec<String> = std::fs::read_to_string(&dst)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let repairable = edit_dst(&mut lines, &case.dst_edits);
    let cut = matches!(case.dst_edits.last(), Some(DstEdit::CutLast))
        || case.dst_edits.iter().any(|e| matches!(e, DstEdit::CutLast));
    let mut text = lines.join("\n");
    if !cut && !lines.is_empty() {
        text.push('\n');
    }
    std::fs::write(&dst, &text).unwrap();
    let answered = answered(&lines, !cut);

    // What a fresh run over the new source writes.
    let fresh_dst = dir.path().join("fresh.jsonl");
    rt.block_on(run(&src, &fresh_dst, options(&case), &Calls::default()))
        .map_err(|e| TestCaseError::fail(format!("the fresh run: {e}")))?;
    let fresh = multiset(&std::fs::read_to_string(&fresh_dst).unwrap());

    let calls = Calls::default();
    let opts = if case.reconcile {
        options(&case).reconcile()
    } else {
        options(&case)
    };
    let result = rt.block_on(run(&src, &dst, opts, &calls));
    if !appends_only && !case.reconcile && !text.is_empty() {
        // Any change of the source but an append is named as such (an
        // emptied destination is a fresh start).
        prop_assert!(
            matches!(result, Err(Error::SrcChanged { .. })),
            "a changed source was not found: {:?}",
            result
        );
    }
    match result {
        Ok(()) => {
            let after = std::fs::read_to_string(&dst).unwrap();
            prop_assert_eq!(multiset(&after), fresh);
            let paid_again: Vec<String> = calls
                .0
                .lock()
                .unwrap()
                .keys()
                .filter(|k| answered.contains(*k))
                .cloned()
                .collect();
            prop_assert!(paid_again.is_empty(), "called again: {:?}", paid_again);
        }
        Err(error) => {
            prop_assert!(!case.reconcile, "reconciling failed: {}", error);
            prop_assert!(
                !(appends_only && repairable),
                "an append or a repairable edit was refused: {}",
                error
            );
            prop_assert!(
                matches!(error, Error::SrcChanged { .. } | Error::UnmatchedRow { .. }),
                "not an error naming the change: {}",
                error
            );
            let after = std::fs::read_to_string(&dst).unwrap();
            // A torn last line may have been cut off by the scan, if the
            // check that stopped the run came after it.
            let end = text.rfind('\n').map_or(0, |at| at + 1);
            prop_assert!(
                after == text || (cut && after == text[..end]),
                "the destination changed: {}\nbefore: {:?}\nafter: {:?}",
                error,
                text,
                after
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_resume_after_any_edit_writes_a_fresh_runs_rows_or_names_the_change(case in case()) {
        check(case)?;
    }
}
