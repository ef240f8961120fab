//! Shared helpers of the `jsonl_*` and `ported_*` tests.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pipework::jsonl::{Error, Row};
use serde_json::Value;

/// The directory of the shipped fixtures.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The rows of a JSONL file, parsed; panics on a bad line (tests only).
pub fn rows(path: &Path) -> Vec<Row> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {l:?}: {e}", path.display()))
        })
        .collect()
}

/// The rows as a multiset of canonical JSON strings (order-insensitive comparison).
pub fn multiset(path: &Path) -> HashMap<String, usize> {
    let mut set = HashMap::new();
    for row in rows(path) {
        *set.entry(Value::Object(row).to_string()).or_insert(0) += 1;
    }
    set
}

/// Writes rows as JSONL.
pub fn write_rows(path: &Path, rows: &[Value]) {
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// A row from a `json!` object literal.
pub fn row(value: Value) -> Row {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// `{"result": key + 1}` for integer keys.
pub async fn plus_one(row: Row) -> Result<Row, std::io::Error> {
    let key = row["key"].as_i64().unwrap_or(0);
    Ok(self::row(
        serde_json::json!({"result": key + 1, "key": key}),
    ))
}

/// A skip callback that records messages.
#[derive(Clone, Default)]
pub struct Skipped(pub Arc<Mutex<Vec<String>>>);

impl Skipped {
    pub fn callback(&self) -> impl Fn(&Error) + Send + Sync + 'static {
        let log = self.0.clone();
        move |e: &Error| {
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(e.to_string())
        }
    }

    /// What was reported, but the notice that a destination has no
    /// manifest: most tests write their destination by hand, and
    /// `jsonl_resume_checks` tests that notice.
    pub fn messages(&self) -> Vec<String> {
        let all = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        all.into_iter()
            .filter(|m| !m.contains("has no manifest"))
            .collect()
    }
}

/// Counts calls per key.
#[derive(Clone, Default)]
pub struct Calls(pub Arc<Mutex<HashMap<String, usize>>>);

impl Calls {
    pub fn record(&self, key: &Value) {
        *self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_string())
            .or_insert(0) += 1;
    }

    pub fn get(&self) -> HashMap<String, usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn total(&self) -> usize {
        self.get().values().sum()
    }
}
