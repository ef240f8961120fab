//! Property: with `exact-numbers`, numbers of every JSON form (integers
//! beyond 64 bits, long decimals, exponents with `e`/`E`/`+`/`-`, negative
//! zero) reach `f` and the destination of `map_by_key` and `flatmap_by_key`
//! with the text the source gives them, and keys compare by exact value:
//! spellings of one number are one key, numbers an `f64` cannot tell apart
//! are two.
#![cfg(feature = "exact-numbers")]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use pipework::jsonl::{flatmap_by_key, map_by_key, MapOptions, Row};
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// Any JSON number text, in each of its forms.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[1-9][0-9]{18,40}",
        "-?(0|[1-9][0-9]{0,5})",
        Just("-0".to_owned()),
        Just("-0.0".to_owned()),
        "-?(0|[1-9][0-9]{0,5})\\.[0-9]{1,30}",
        "-?[1-9](\\.[0-9]{1,20})?[eE][-+]?[0-9]{1,3}",
        "-?0\\.0{0,5}[1-9][0-9]{0,25}[eE]-?[0-9]{1,4}",
    ]
}

/// The key numbered `k`, spelt the `spelling`th way: every spelling of
/// one `k` is the same number, `10^22 + k`, which no `f64` tells from
/// `10^22 + k + 1`.
fn key_text(k: u8, spelling: u8) -> String {
    let digits = format!("{:0>22}", 10u128.pow(22) + u128::from(k));
    match spelling % 5 {
        0 => digits,
        1 => format!("{digits}.0"),
        2 => format!("{digits}.000E0"),
        3 => {
            let rest = digits[1..].trim_end_matches('0');
            format!(
                "{}.{}e22",
                &digits[..1],
                if rest.is_empty() { "0" } else { rest }
            )
        }
        _ => format!("{}0e-1", digits),
    }
}

/// One source row: its key's number and spelling, a kept number `n`, and
/// a number in a skipped column.
#[derive(Debug, Clone)]
struct SrcRow {
    k: u8,
    spelling: u8,
    n: String,
    other: String,
}

impl SrcRow {
    fn line(&self) -> String {
        let id = key_text(self.k, self.spelling);
        format!(
            "{{\"other\": [{}, {{\"deep\": {}}}], \"id\": {id}, \"n\": {}}}\n",
            self.other, self.n, self.n
        )
    }
}

fn rows() -> impl Strategy<Value = Vec<SrcRow>> {
    prop::collection::vec(
        (0u8..4, any::<u8>(), number(), number()).prop_map(|(k, spelling, n, other)| SrcRow {
            k,
            spelling,
            n,
            other,
        }),
        1..12,
    )
}

/// What `f` was given, each row as its JSON text.
type Seen = Arc<Mutex<Vec<String>>>;

/// `f`'s result: the row's `n` again (so the destination holds `f`'s
/// numbers too).
fn echo(seen: &Seen, row: &Row) -> Row {
    let text = serde_json::to_string(row).unwrap_or_else(|e| panic!("{e}"));
    seen.lock().unwrap_or_else(|e| panic!("{e}")).push(text);
    let mut out = Row::new();
    out.insert("echo".to_owned(), row["n"].clone());
    out
}

/// The text `f` must be given for `row`: its fields in name order, each
/// number as the source spells it.
fn row_for_f(row: &SrcRow) -> String {
    format!(
        "{{\"id\":{},\"n\":{},\"other\":[{},{{\"deep\":{}}}]}}",
        key_text(row.k, row.spelling),
        row.n,
        row.other,
        row.n
    )
}

fn write_source(dir: &Path, rows: &[SrcRow]) -> std::path::PathBuf {
    let src = dir.join("in.jsonl");
    let text: String = rows.iter().map(SrcRow::line).collect();
    std::fs::write(&src, text).unwrap_or_else(|e| panic!("{e}"));
    src
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_owned)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A map calls `f` once per number `k`, with the key's first row as
    /// written, and every destination row holds its own row's key and `n`
    /// as written, and the first row's `n` (from `f`).
    #[test]
    fn map_keeps_every_numbers_text(rows in rows()) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (src, dst) = (write_source(dir.path(), &rows), dir.path().join("out.jsonl"));
        let seen = Seen::default();
        let f = {
            let seen = Arc::clone(&seen);
            move |row: Row| {
                let out = echo(&seen, &row);
                async move { Ok::<_, std::io::Error>(out) }
            }
        };
        let options = MapOptions::new("id").keep_columns(["n"]).concurrency(1);
        let report = runtime().block_on(map_by_key(&src, &dst, f, options));
        prop_assert!(report.is_ok(), "{:?}", report);
        let mut first: BTreeMap<u8, &SrcRow> = BTreeMap::new();
        for row in &rows {
            first.entry(row.k).or_insert(row);
        }
        let mut wanted: Vec<String> = first.values().map(|row| row_for_f(row)).collect();
        let mut got = seen.lock().unwrap_or_else(|e| panic!("{e}")).clone();
        wanted.sort();
        got.sort();
        prop_assert_eq!(got, wanted);
        let expected: Vec<String> = rows
            .iter()
            .map(|row| {
                format!(
                    "{{\"id\":{},\"n\":{},\"echo\":{}}}",
                    key_text(row.k, row.spelling),
                    row.n,
                    first[&row.k].n
                )
            })
            .collect();
        prop_assert_eq!(lines(&dst), expected);
    }

    /// A flatmap over rows of distinct numbers (whatever their spelling)
    /// gives `f` each row as written and writes each number as written.
    #[test]
    fn flatmap_keeps_every_numbers_text(rows in rows()) {
        let mut unique: Vec<SrcRow> = Vec::new();
        for row in rows {
            if !unique.iter().any(|u| u.k == row.k) {
                unique.push(row);
            }
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (src, dst) = (write_source(dir.path(), &unique), dir.path().join("out.jsonl"));
        let seen = Seen::default();
        let f = {
            let seen = Arc::clone(&seen);
            move |row: Row| {
                let mut second = Row::new();
                second.insert("n_again".to_owned(), row["n"].clone());
                let out = vec![echo(&seen, &row), second];
                async move { Ok::<_, std::io::Error>(out) }
            }
        };
        let options = MapOptions::new("id").keep_columns(["n"]).concurrency(1);
        let report = runtime().block_on(flatmap_by_key(&src, &dst, f, options));
        prop_assert!(report.is_ok(), "{:?}", report);
        let got = seen.lock().unwrap_or_else(|e| panic!("{e}")).clone();
        let wanted: Vec<String> = unique.iter().map(row_for_f).collect();
        prop_assert_eq!(got, wanted);
        let expected: Vec<String> = unique
            .iter()
            .flat_map(|row| {
                let (id, n) = (key_text(row.k, row.spelling), &row.n);
                [
                    format!("{{\"id\":{id},\"n\":{n},\"echo\":{n}}}"),
                    format!("{{\"id\":{id},\"n\":{n},\"n_again\":{n}}}"),
                ]
            })
            .collect();
        prop_assert_eq!(lines(&dst), expected);
    }
}

/// The key numbered `k` has one value however it is spelt: parsed as
/// exact decimals, every spelling is `10^22 + k`.
#[test]
fn the_spellings_of_a_key_are_one_number() {
    for k in 0..4u8 {
        let want = (10u128.pow(22) + u128::from(k)).to_string();
        for spelling in 0..5 {
            let text = key_text(k, spelling);
            let (mantissa, exponent) = match text.split_once(['e', 'E']) {
                Some((m, e)) => (m, e.parse::<i32>().unwrap_or_else(|e| panic!("{e}"))),
                None => (text.as_str(), 0),
            };
            let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
            let digits = format!("{int}{frac}");
            let shift = exponent - frac.len() as i32;
            let exact = if shift >= 0 {
                format!("{digits}{}", "0".repeat(shift as usize))
            } else {
                let cut = digits.len() - shift.unsigned_abs() as usize;
                assert!(digits[cut..].bytes().all(|d| d == b'0'), "{text}");
                digits[..cut].to_owned()
            };
            assert_eq!(exact, want, "{text}");
        }
    }
}
