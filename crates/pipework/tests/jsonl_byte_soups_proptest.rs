//! Byte soups: resuming over a destination that holds arbitrary bytes mixed
//! with valid JSONL never panics, never hangs, and loses no well-formed line.
//!
//! A destination left by a crash, a full disk or a careless edit can hold
//! anything: torn rows, invalid UTF-8, NUL bytes, a lone `{` or `"`, CRLF
//! line ends. A resume must then either finish or stop with an error that
//! names the destination and the line at fault; it must never panic, never
//! wait forever, and never change a byte before the last line (only a torn
//! last line may be cut off). These properties throw such soups at
//! [`map_by_key`] and [`create_or_resume`] as the content of an existing
//! destination; each run happens on a thread of its own, watched for
//! [`WATCHDOG`], so a panic or a hang is a failed case instead of a crash or
//! a stuck test binary.
//!
//! This is the cheap stand-in for `cargo fuzz` (issue 24). The default case
//! count keeps the file well under 20 s on a loaded machine; for a long run
//! set `PIPEWORK_SOUP_CASES`:
//!
//! ```text
//! PIPEWORK_SOUP_CASES=2000 cargo test -p pipework --test jsonl_byte_soups_proptest
//! ```
#![cfg(feature = "jsonl")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use pipework::jsonl::{
    create_or_resume, map_by_key, CreateOptions, Error, Failed, MapOptions, OnError, Report, Row,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};

/// How long one resume may take before it counts as a hang: generous,
/// because a case takes milliseconds and the machine may be loaded.
const WATCHDOG: Duration = Duration::from_secs(20);

/// Cases per property: `PIPEWORK_SOUP_CASES`, or a count that keeps the
/// file quick.
fn soup_cases() -> u32 {
    std::env::var("PIPEWORK_SOUP_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(128)
}

/// One stretch of a destination's bytes.
#[derive(Debug, Clone)]
enum Piece {
    /// A valid row and its newline.
    Row(u8, String),
    /// A valid row ending in `\r\n`.
    Crlf(u8, String),
    /// A valid row cut after `at` of its bytes (at least one), no newline.
    Torn(u8, String, usize),
    /// Arbitrary bytes, leaning towards the ones a JSON reader cares about.
    Bytes(Vec<u8>),
}

/// The text of a row `{"id":N,"v":"..."}`, without its newline.
fn row_text(id: u8, v: &str) -> Vec<u8> {
    json!({"id": id, "v": v}).to_string().into_bytes()
}

impl Piece {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Piece::Row(id, v) => [row_text(*id, v), b"\n".to_vec()].concat(),
            Piece::Crlf(id, v) => [row_text(*id, v), b"\r\n".to_vec()].concat(),
            Piece::Torn(id, v, at) => {
                let text = row_text(*id, v);
                text[..(*at).clamp(1, text.len())].to_vec()
            }
            Piece::Bytes(bytes) => bytes.clone(),
        }
    }
}

/// Values of `v`: quotes, backslashes and non-ASCII make the escaping and
/// the byte offsets of a cut interesting.
fn v_text() -> impl Strategy<Value = String> {
    "[a-c\"\\\\é\u{1F600}]{0,6}"
}

fn soup_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => any::<u8>(),
        1 => Just(b'{'),
        1 => Just(b'}'),
        1 => Just(b'"'),
        1 => Just(b'\n'),
        1 => Just(b'\r'),
        1 => Just(0u8),
        1 => Just(0xFFu8),
    ]
}

/// Ids run past the source's (0..6), so some rows stand for no source row.
fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => (0u8..9, v_text()).prop_map(|(id, v)| Piece::Row(id, v)),
        1 => (0u8..9, v_text()).prop_map(|(id, v)| Piece::Crlf(id, v)),
        1 => (0u8..9, v_text(), 1usize..40).prop_map(|(id, v, at)| Piece::Torn(id, v, at)),
        2 => prop::collection::vec(soup_byte(), 0..12).prop_map(Piece::Bytes),
    ]
}

fn soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(piece(), 0..10)
        .prop_map(|pieces| pieces.iter().flat_map(Piece::bytes).collect())
}

/// Runs `job` on a thread of its own and waits at most [`WATCHDOG`] for it:
/// a panic or a hang becomes an `Err` describing it.
fn watched<T: Send + 'static>(
    what: &str,
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TestCaseError> {
    let (sent, received) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        // The receiver is gone only after a timeout, already reported.
        let _ = sent.send(job());
    });
    match received.recv_timeout(WATCHDOG) {
        Ok(value) => {
            let _ = thread.join();
            Ok(value)
        }
        // The thread is left behind: nothing can stop it, and the case fails.
        Err(mpsc::RecvTimeoutError::Timeout) => Err(TestCaseError::fail(format!(
            "{what} hung: no result after {WATCHDOG:?}"
        ))),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let payload = thread.join().err();
            let message = payload
                .as_ref()
                .and_then(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                })
                .unwrap_or_else(|| "a panic without a message".into());
            Err(TestCaseError::fail(format!("{what} panicked: {message}")))
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// `f` of the map: the result is the source row's `v`.
async fn echo_v(row: Row) -> Result<Row, std::io::Error> {
    let mut out = Row::new();
    out.insert("v".into(), row.get("v").cloned().unwrap_or(Value::Null));
    Ok(out)
}

fn map_opts(on_error: OnError) -> MapOptions {
    MapOptions::new("id")
        .concurrency(2)
        .on_error(on_error)
        .on_skip(|_| ())
}

/// Resumes `map_by_key` from `src` into `dst`, watched.
fn resume_map(
    src: &Path,
    dst: &Path,
    on_error: OnError,
) -> Result<Result<Report, Box<Failed>>, TestCaseError> {
    let (src, dst) = (src.to_path_buf(), dst.to_path_buf());
    watched("map_by_key", move || {
        runtime()
            .block_on(map_by_key(&src, &dst, echo_v, map_opts(on_error)))
            .map_err(Box::new)
    })
}

/// A source of one row per id, `{"id":N,"v":"sN"}`.
fn write_source(dir: &Path, ids: &[u8]) -> PathBuf {
    let src = dir.join("in.jsonl");
    let text: Vec<u8> = ids
        .iter()
        .flat_map(|&id| [row_text(id, &format!("s{id}")), b"\n".to_vec()].concat())
        .collect();
    std::fs::write(&src, text).unwrap();
    src
}

/// The bytes of `soup` that no resume may change: everything before its
/// last line (a torn or invalid last line may be cut off).
fn before_last_line(soup: &[u8]) -> &[u8] {
    let body = soup.strip_suffix(b"\n").unwrap_or(soup);
    match body.iter().rposition(|&b| b == b'\n') {
        Some(i) => &soup[..=i],
        None => &[],
    }
}

/// The 1-based line `n` of `bytes` as the reader sees it: split at `\n`,
/// a byte order mark dropped from the first line.
fn line_of(bytes: &[u8], n: u64) -> Option<&[u8]> {
    let line = bytes
        .split(|&b| b == b'\n')
        .nth(usize::try_from(n).ok()?.checked_sub(1)?)?;
    Some(if n == 1 {
        line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
    } else {
        line
    })
}

/// Checks that `error` is bad input of `dst` at a line that really is bad
/// in `soup` (the destination as it was before the run).
fn check_names_a_bad_line(error: &Error, dst: &Path, soup: &[u8]) -> Result<(), TestCaseError> {
    let message = error.to_string();
    let (path, line) = match error {
        Error::InvalidJson { path, line, .. }
        | Error::NotAnObject { path, line, .. }
        | Error::MissingKey { path, line, .. }
        | Error::BadKey { path, line, .. }
        | Error::UnknownKey { path, line, .. }
        | Error::TooManyRows { path, line, .. }
        | Error::UnmatchedRow { path, line, .. } => (path, *line),
        _ => {
            return Err(TestCaseError::fail(format!(
                "not an error naming a line of the destination: {message}"
            )))
        }
    };
    prop_assert_eq!(path.as_path(), dst, "{}", message);
    prop_assert!(
        message.contains(&format!("{}:{line}:", dst.display())),
        "{}",
        message
    );
    let Some(text) = line_of(soup, line) else {
        return Err(TestCaseError::fail(format!(
            "{message}: the destination has no line {line}"
        )));
    };
    let parsed = serde_json::from_slice::<Value>(text);
    match error {
        Error::InvalidJson { .. } => prop_assert!(
            parsed.is_err(),
            "{}: the line parses: {:?}",
            message,
            String::from_utf8_lossy(text)
        ),
        Error::NotAnObject { .. } => {
            prop_assert!(matches!(parsed, Ok(ref v) if !v.is_object()), "{}", message)
        }
        Error::MissingKey { .. } => prop_assert!(
            matches!(parsed, Ok(Value::Object(ref m)) if !m.contains_key("id")),
            "{}",
            message
        ),
        _ => prop_assert!(
            matches!(parsed, Ok(Value::Object(ref m)) if m.contains_key("id")),
            "{}",
            message
        ),
    }
    Ok(())
}

/// How many rows of each id `path` holds; fails on a line that is not a row.
fn ids_in(path: &Path) -> Result<HashMap<i64, usize>, TestCaseError> {
    let bytes = std::fs::read(path).unwrap();
    let mut ids = HashMap::new();
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = if n == 0 {
            line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
        } else {
            line
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let row: Value = serde_json::from_slice(line).map_err(|e| {
            TestCaseError::fail(format!(
                "line {} is no row after a complete run: {e}",
                n + 1
            ))
        })?;
        let id = row["id"]
            .as_i64()
            .ok_or_else(|| TestCaseError::fail(format!("line {} has no integer id", n + 1)))?;
        *ids.entry(id).or_insert(0) += 1;
    }
    Ok(ids)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(soup_cases()))]

    /// Property 1: a resume over any soup finishes or names a bad line of
    /// the destination, and leaves every byte before the last line alone.
    #[test]
    fn a_map_resumed_over_a_byte_soup_finishes_or_names_the_bad_line(
        src_len in 1u8..6,
        soup in soup(),
        skip in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<u8> = (0..src_len).collect();
        let src = write_source(dir.path(), &ids);
        let dst = dir.path().join("out.jsonl");
        std::fs::write(&dst, &soup).unwrap();
        let on_error = if skip { OnError::Skip } else { OnError::Raise };

        let outcome = resume_map(&src, &dst, on_error)?;
        let after = std::fs::read(&dst).unwrap();
        prop_assert!(after.starts_with(before_last_line(&soup)), "a line before the last changed: {:?}", String::from_utf8_lossy(&after));
        match outcome {
            Err(failed) => check_names_a_bad_line(&failed.error, &dst, &soup)?,
            Ok(report) if !skip => {
                prop_assert!(report.is_complete(), "{:?}", report);
                let expected: HashMap<i64, usize> = ids.iter().map(|&id| (i64::from(id), 1)).collect();
                prop_assert_eq!(ids_in(&dst)?, expected);
            }
            Ok(_) => {}
        }
    }

    /// Property 2: well-formed rows followed by one torn last line: the rows
    /// stay byte for byte, the torn line goes, every source row is there once.
    #[test]
    fn a_torn_last_line_is_cut_and_every_whole_line_before_it_kept(
        src_len in 1u8..8,
        present in prop::collection::vec((any::<prop::sample::Index>(), v_text(), any::<bool>()), 0..8),
        torn in (0u8..10, v_text(), any::<prop::sample::Index>()),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<u8> = (0..src_len).collect();
        let src = write_source(dir.path(), &ids);
        // Distinct ids of the source, in the drawn order, each with any `v`
        // (a resume trusts a row's result) and either line end.
        let mut seen = Vec::new();
        let mut whole = Vec::new();
        for (index, v, crlf) in &present {
            let id = ids[index.index(ids.len())];
            if !seen.contains(&id) {
                seen.push(id);
                whole.extend(if *crlf { Piece::Crlf(id, v.clone()) } else { Piece::Row(id, v.clone()) }.bytes());
            }
        }
        let (torn_id, torn_v, cut) = torn;
        let torn_len = row_text(torn_id, &torn_v).len();
        let torn_line = Piece::Torn(torn_id, torn_v, 1 + cut.index(torn_len)).bytes();
        let dst = dir.path().join("out.jsonl");
        std::fs::write(&dst, [whole.clone(), torn_line].concat()).unwrap();

        let report = resume_map(&src, &dst, OnError::Raise)?
            .map_err(|failed| TestCaseError::fail(format!("the resume failed: {}", failed.error)))?;
        prop_assert!(report.is_complete(), "{:?}", report);
        let after = std::fs::read(&dst).unwrap();
        prop_assert!(after.starts_with(&whole), "a whole line changed or went: {:?}", String::from_utf8_lossy(&after));
        prop_assert_eq!(report.rows_resumed, seen.len() as u64);
        let expected: HashMap<i64, usize> = ids.iter().map(|&id| (i64::from(id), 1)).collect();
        prop_assert_eq!(ids_in(&dst)?, expected);
    }

    /// Property 3: `create_or_resume` over any soup finishes or names a bad
    /// line, leaves every byte before the last line alone, and a complete
    /// run holds exactly `key_count` rows per key.
    #[test]
    fn create_or_resume_over_a_byte_soup_finishes_or_names_the_bad_line(
        key_total in 1u8..6,
        key_count in 1usize..3,
        soup in soup(),
        skip in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.jsonl");
        std::fs::write(&path, &soup).unwrap();
        let on_error = if skip { OnError::Skip } else { OnError::Raise };

        let outcome = {
            let path = path.clone();
            watched("create_or_resume", move || {
                let generate = |_key: Value, index: usize| async move {
                    let mut row = Row::new();
                    row.insert("v".into(), json!(format!("g{index}")));
                    Ok::<Row, std::io::Error>(row)
                };
                let opts = CreateOptions::default().limit(2).on_error(on_error).on_skip(|_| ());
                runtime().block_on(create_or_resume(&path, "id", key_count, 0..key_total, generate, opts)).map_err(Box::new)
            })?
        };
        let after = std::fs::read(&path).unwrap();
        prop_assert!(after.starts_with(before_last_line(&soup)), "a line before the last changed: {:?}", String::from_utf8_lossy(&after));
        match outcome {
            Err(failed) => check_names_a_bad_line(&failed.error, &path, &soup)?,
            Ok(report) if !skip => {
                prop_assert!(report.is_complete(), "{:?}", report);
                let expected: HashMap<i64, usize> = (0..key_total).map(|id| (i64::from(id), key_count)).collect();
                prop_assert_eq!(ids_in(&path)?, expected);
            }
            Ok(_) => {}
        }
    }
}
