//! `pipework status`: how far a DST is, without running or writing
//! anything: rows and keys done and left, a torn last line, bad lines, a
//! run holding DST, and what the last run's failures were (`DST.failed`).
//!
//! It counts the way a rerun resumes: a key with rows in DST is done (a
//! rerun writes its remaining source rows from its first row, calling
//! nothing); a flatmap's key is done when its done log (`DST.done`) records
//! it; a generated key has as many rows done as DST holds, up to `--count`.
//! Each line is parsed for its key column only, the other fields skipped
//! unbuilt, so a status reads millions of rows a second.
//!
//! Exit code: 0 if DST is complete, 1 if not, 2 on an error.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use foldhash::{HashMap, HashMapExt};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::args::StatusArgs;
use crate::failure_log::failure_log_path;
use crate::session::Outcome;
use crate::stdout;

/// Runs `pipework status`; prints the report on stdout.
pub(crate) fn run(args: StatusArgs) -> anyhow::Result<Outcome> {
    let status = Status::of(&args)?;
    stdout::print(status.to_string().as_bytes(), "the status")?;
    Ok(if status.complete() {
        Outcome::Complete
    } else {
        Outcome::Incomplete
    })
}

/// Keys by their JSON text.
type Keys = HashMap<String, Found>;

/// What is known of one key of DST.
#[derive(Debug, Default)]
struct Found {
    /// Its rows in DST.
    rows: u64,
    /// Seen in SRC already (so it is counted once).
    in_src: bool,
}

/// What `status` found.
#[derive(Debug, Default)]
struct Status {
    dst: PathBuf,
    kind: &'static str,
    rows_total: u64,
    rows_done: u64,
    keys_total: u64,
    keys_done: u64,
    /// DST rows written (for a flatmap, not one per source row).
    dst_rows: u64,
    /// Bytes of a last line with no newline, which a rerun cuts off.
    torn: u64,
    /// Lines of DST that are not a JSON object with a key, and the first.
    bad: u64,
    first_bad: Option<u64>,
    /// The pid in `DST.lock` while a run holds it.
    locked_by: Option<String>,
    /// `DST.failed`: its lines and its most common errors.
    failed: u64,
    errors: Vec<(u64, String)>,
}

impl Status {
    fn of(args: &StatusArgs) -> anyhow::Result<Status> {
        let (src, dst) = match args.paths.as_slice() {
            [dst] if args.keys.is_some() => (None, dst),
            [src, dst] if args.keys.is_none() => (Some(src), dst),
            _ => bail!("give SRC and DST (for map and flatmap), or DST with --keys and --count (for generate)"),
        };
        let mut status = Status {
            dst: dst.clone(),
            ..Status::default()
        };
        // Freed by the process exit right after the report, not key by key
        // (a tenth of a million-key status).
        let dst_keys: &mut Keys = Box::leak(Box::new(status.read_dst(dst, &args.key)?));
        let done_log = with_suffix(dst, ".done");
        match (src, &args.keys) {
            (Some(src), _) if done_log.exists() => {
                status.kind = "flatmap";
                let len = std::fs::metadata(dst).map_or(0, |m| m.len());
                let done: &mut Keys = Box::leak(Box::new(read_done_log(&done_log, len)?));
                status.count_src(src, &args.key, done)?;
            }
            (Some(src), _) => {
                status.kind = "map";
                status.count_src(src, &args.key, dst_keys)?;
            }
            (None, Some(keys)) => {
                status.kind = "generate";
                let count = args.count.context("--keys needs --count")?;
                status.count_generated(keys, count, dst_keys)?;
            }
            (None, None) => unreachable!("checked above"),
        }
        status.read_failures(&failure_log_path(dst));
        status.locked_by = holder(&with_suffix(dst, ".lock"));
        Ok(status)
    }

    fn complete(&self) -> bool {
        self.rows_done == self.rows_total && self.bad == 0 && self.torn == 0
    }

    /// Counts DST's rows per key (by their JSON text), its torn last line
    /// and its bad lines.
    fn read_dst(&mut self, dst: &Path, key: &str) -> anyhow::Result<Keys> {
        let mut counts = HashMap::new();
        let file = match File::open(dst) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(counts),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dst.display())),
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            bail!("{} is not a regular file", dst.display());
        }
        // Sized for short rows up front: growing a table of a million keys
        // rehashes it twenty times.
        counts.reserve(usize::try_from(meta.len() / 32).unwrap_or(0).min(1 << 26));
        let mut lines = BufReader::with_capacity(256 * 1024, file);
        let (mut line, mut number) = (Vec::new(), 0u64);
        loop {
            line.clear();
            let n = lines
                .read_until(b'\n', &mut line)
                .with_context(|| format!("reading {}", dst.display()))?;
            if n == 0 {
                break;
            }
            number += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let ended = line.last() == Some(&b'\n');
            match key_of(&line, key) {
                Some(value) => {
                    counts.entry(value).or_default().rows += 1;
                    self.dst_rows += 1;
                }
                // A last line with no newline that does not parse is what
                // a killed write leaves; a rerun cuts it off.
                None if !ended => self.torn = n as u64,
                None => {
                    self.bad += 1;
                    self.first_bad.get_or_insert(number);
                }
            }
        }
        Ok(counts)
    }

    /// Counts SRC's rows and keys, and those of the keys in `done`.
    fn count_src(&mut self, src: &Path, key: &str, done: &mut Keys) -> anyhow::Result<()> {
        let reader: Box<dyn Read> = if src == Path::new("-") {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(File::open(src).with_context(|| format!("reading {}", src.display()))?)
        };
        let mut lines = BufReader::with_capacity(256 * 1024, reader);
        // SRC's keys not in `done` (those in it are counted by their flag).
        let seen: &mut HashMap<String, ()> = Box::leak(Box::default());
        let (mut line, mut number) = (Vec::new(), 0u64);
        loop {
            line.clear();
            if lines
                .read_until(b'\n', &mut line)
                .with_context(|| format!("reading {}", src.display()))?
                == 0
            {
                break;
            }
            number += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let Some(value) = key_of(&line, key) else {
                bail!(
                    "{}:{number}: not a JSON object with a key column {key:?}",
                    src.display()
                );
            };
            self.rows_total += 1;
            match done.get_mut(&value) {
                Some(found) => {
                    self.rows_done += 1;
                    if !std::mem::replace(&mut found.in_src, true) {
                        self.keys_total += 1;
                        self.keys_done += 1;
                    }
                }
                None => {
                    if seen.insert(value, ()).is_none() {
                        self.keys_total += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// Counts the rows `generate` must make (`count` per key of `keys`)
    /// and those DST holds.
    fn count_generated(&mut self, keys: &Path, count: u64, dst_keys: &Keys) -> anyhow::Result<()> {
        let text =
            std::fs::read_to_string(keys).with_context(|| format!("reading {}", keys.display()))?;
        let mut seen = HashMap::new();
        for key in text.lines().filter(|line| !line.trim().is_empty()) {
            if seen.insert(key, ()).is_some() {
                continue;
            }
            let have = dst_keys
                .get(&Value::from(key).to_string())
                .map_or(0, |found| found.rows)
                .min(count);
            self.keys_total += 1;
            self.keys_done += u64::from(have == count);
            self.rows_total += count;
            self.rows_done += have;
        }
        Ok(())
    }

    /// Reads `DST.failed`, if there is one: its lines and the three most
    /// common errors.
    fn read_failures(&mut self, log: &Path) {
        let Ok(text) = std::fs::read_to_string(log) else {
            return;
        };
        let mut errors: HashMap<String, u64> = HashMap::new();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            self.failed += 1;
            let error = serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "(unreadable line)".to_owned());
            *errors.entry(error).or_insert(0) += 1;
        }
        let mut errors: Vec<(u64, String)> = errors.into_iter().map(|(e, n)| (n, e)).collect();
        errors.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        errors.truncate(3);
        self.errors = errors;
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.complete() {
            "complete"
        } else {
            "incomplete"
        };
        writeln!(f, "{} ({}): {verdict}", self.dst.display(), self.kind)?;
        writeln!(
            f,
            "rows: {} of {} done, {} left",
            self.rows_done,
            self.rows_total,
            self.rows_total - self.rows_done
        )?;
        writeln!(
            f,
            "keys: {} of {} done, {} left",
            self.keys_done,
            self.keys_total,
            self.keys_total - self.keys_done
        )?;
        if self.kind == "flatmap" {
            writeln!(f, "rows in DST: {}", self.dst_rows)?;
        }
        if self.torn > 0 {
            writeln!(
                f,
                "a torn last line ({} bytes): a rerun cuts it off",
                self.torn
            )?;
        }
        if let Some(first) = self.first_bad {
            writeln!(
                f,
                "{} bad line{} in DST, the first at line {first}",
                self.bad,
                if self.bad == 1 { "" } else { "s" }
            )?;
        }
        if self.failed > 0 {
            writeln!(
                f,
                "failed in the last run that failed keys: {} (see {})",
                self.failed,
                failure_log_path(&self.dst).display()
            )?;
            for (count, error) in &self.errors {
                writeln!(f, "  {count}x {error}")?;
            }
        }
        if let Some(pid) = &self.locked_by {
            writeln!(
                f,
                "a pipework run (pid {pid}) is writing DST: these counts are a snapshot"
            )?;
        }
        Ok(())
    }
}

/// `path` with `suffix` appended to its name (`DST.done`, `DST.lock`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A flatmap's done keys (by their JSON text), from records that end
/// within DST's `len` bytes (a rerun drops the others).
fn read_done_log(log: &Path, len: u64) -> anyhow::Result<Keys> {
    let text =
        std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    let mut done = HashMap::new();
    for line in text.lines() {
        let Ok(record) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if record["end"].as_u64().is_some_and(|end| end <= len) {
            if let Some(key) = pipework::internal::key_text(&record["key"].to_string()) {
                done.insert(key, Found::default());
            }
        }
    }
    Ok(done)
}

/// The pid in `lock` if a run holds it now; `None` if nobody does (the file
/// may be a dead run's). Opened read-only: status creates nothing.
fn holder(lock: &Path) -> Option<String> {
    let mut file = File::open(lock).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(_) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            Some(pid.trim().to_owned()).filter(|pid| !pid.is_empty())
        }
    }
}

/// The canonical text of `line`'s `key` column, if the line is a JSON
/// object that has one (a string, number or boolean); the other fields are
/// checked but not built. Keys the library holds equal have one text:
/// `"\u0061"` is `"a"`, and `1`, `1.0` and `1e0` are one number.
fn key_of(line: &[u8], key: &str) -> Option<String> {
    let mut parser = serde_json::Deserializer::from_slice(line);
    let raw = KeyColumn(key).deserialize(&mut parser).ok()??;
    parser.end().ok()?;
    pipework::internal::key_text(raw.get())
}

/// Picks one column's raw text out of an object.
struct KeyColumn<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for KeyColumn<'_> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for KeyColumn<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(is_key) = map.next_key_seed(IsName(self.0))? {
            if is_key && found.is_none() {
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Whether a field's name is the key column's, without building it.
struct IsName<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for IsName<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for IsName<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<bool, E> {
        Ok(name == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_read_from_an_object_and_nothing_else() {
        assert_eq!(
            key_of(br#"{"a":[1,{"id":9}],"id":"x"}"#, "id").as_deref(),
            Some("\"x\"")
        );
        assert_eq!(
            key_of(br#"{"i\u0064":7}"#, "id").as_deref(),
            Some("7"),
            "escaped name"
        );
        assert_eq!(key_of(b"{\"id\":true}\n", "id").as_deref(), Some("true"));
        for bad in [
            &br#"{"id":null}"#[..],
            br#"{"id":[1]}"#,
            br#"{"other":1}"#,
            br#"[1]"#,
            br#"{"id":1} x"#,
            br#"{"id":1"#,
        ] {
            assert_eq!(key_of(bad, "id"), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
