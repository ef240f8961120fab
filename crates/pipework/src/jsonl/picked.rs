//! The key and kept columns of source rows, kept as raw JSON text.
//!
//! Every output row of a map repeats its source row's key and kept columns.
//! Parsing those into `Value`s only to serialize them again costs an
//! allocation or more per field and most of the reader's and the writer's
//! time, so the reader copies each picked value's JSON text, as it stands in
//! the source line, into one buffer per batch of rows, and the writer copies
//! it out again. Only the key is parsed, because keys are compared by value
//! (`1` and `1.0` are one key, and so are `"\u0061"` and `"a"`).
//!
//! Every value of the line is still checked as strictly as parsing it into a
//! `Value` would (see [`Strict`]), so a line is accepted here exactly when
//! `serde_json` would parse it: nothing reaches the destination that a rerun
//! could not read back.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserialize, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use super::exact_value::parse_value;
use super::key_number::PLAIN_DIGITS;
use super::Row;

/// The key column followed by the kept columns, without repeats.
#[derive(Debug)]
pub(crate) struct Columns {
    names: Vec<String>,
    /// Each name as a JSON string and a colon, ready to write.
    labels: Vec<String>,
}

impl Columns {
    pub(crate) fn new(key: &str, keep: &[String]) -> Arc<Columns> {
        let mut names = vec![key.to_owned()];
        for column in keep {
            if !names.contains(column) {
                names.push(column.clone());
            }
        }
        let labels = names
            .iter()
            .map(|name| format!("{}:", Value::from(name.as_str())))
            .collect();
        Arc::new(Columns { names, labels })
    }

    /// The key column.
    pub(crate) fn key(&self) -> &str {
        &self.names[0]
    }

    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// Each name as a JSON string and a colon, by index.
    pub(crate) fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The index of the kept column `name`: `None` for the key column and
    /// for a name that is not kept.
    pub(crate) fn kept_index(&self, name: &str) -> Option<usize> {
        self.names
            .iter()
            .skip(1)
            .position(|c| c == name)
            .map(|i| i + 1)
    }
}

/// The picked columns of a batch of rows: their JSON text, one after the
/// other, and where each value is.
#[derive(Debug)]
pub(crate) struct PickedBatch {
    columns: Arc<Columns>,
    text: String,
    /// `columns.names.len()` entries per row: the span of each column's value
    /// in `text`, or `None` where the row lacks the column.
    spans: Vec<Option<(usize, usize)>>,
}

impl PickedBatch {
    pub(crate) fn new(columns: Arc<Columns>) -> PickedBatch {
        PickedBatch {
            columns,
            text: String::new(),
            spans: Vec::new(),
        }
    }

    pub(crate) fn columns(&self) -> &Columns {
        &self.columns
    }

    /// Bytes of JSON text held.
    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Picks the columns of one line holding a JSON object and returns the
    /// row's index in the batch, or the parse error (and keeps nothing).
    /// Every picked value is checked as parsing it would check it, the key
    /// too, but none is built: a resume skips most rows without needing
    /// their key as a value (see [`PickedBatch::key`]).
    pub(crate) fn pick(&mut self, line: &[u8]) -> Result<usize, serde_json::Error> {
        let width = self.columns.names.len();
        let (text_len, spans_len) = (self.text.len(), self.spans.len());
        self.spans.resize(spans_len + width, None);
        let picked = deserialize_line(
            line,
            Pick {
                names: &self.columns.names,
                text: &mut self.text,
                spans: &mut self.spans[spans_len..],
            },
        );
        match picked {
            Ok(()) => Ok(spans_len / width),
            Err(e) => {
                self.text.truncate(text_len);
                self.spans.truncate(spans_len);
                Err(e)
            }
        }
    }

    /// The key of row `row` as a value, if the row has one that can be a
    /// key (a string, a number or a boolean).
    pub(crate) fn key(&self, row: usize) -> Option<Value> {
        let raw = self.raw(row, 0).filter(|raw| may_be_key(raw))?;
        key_value(raw).ok()
    }

    /// Picks the columns of a row already parsed, and returns its index.
    pub(crate) fn pick_from(&mut self, row: &Row) -> usize {
        let index = self.spans.len() / self.columns.names.len();
        for name in &self.columns.names {
            let span = row.get(name).map(|value| {
                let start = self.text.len();
                self.text.push_str(&value.to_string());
                (start, self.text.len())
            });
            self.spans.push(span);
        }
        index
    }

    /// The JSON text of column `column` of row `row`, if the row has it.
    pub(crate) fn raw(&self, row: usize, column: usize) -> Option<&str> {
        let width = self.columns.names.len();
        let (start, end) = self.spans[row * width + column]?;
        Some(&self.text[start..end])
    }
}

/// One source row's picked columns, in the batch that holds them.
#[derive(Debug, Clone)]
pub(crate) struct Picked {
    batch: Arc<PickedBatch>,
    row: usize,
}

impl Picked {
    pub(crate) fn new(batch: &Arc<PickedBatch>, row: usize) -> Picked {
        Picked {
            batch: Arc::clone(batch),
            row,
        }
    }

    /// The key and kept columns, whether the row has them or not.
    pub(crate) fn columns(&self) -> &Columns {
        &self.batch.columns
    }

    /// The JSON text of column `column`, if the row has it.
    pub(crate) fn raw(&self, column: usize) -> Option<&str> {
        self.batch.raw(self.row, column)
    }

    /// The key, as a value; `Null` for a row without one, which a source
    /// row never is.
    pub(crate) fn key(&self) -> Value {
        self.batch.key(self.row).unwrap_or(Value::Null)
    }

    /// The columns the row has, in order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        let columns = &self.batch.columns;
        columns
            .names
            .iter()
            .zip(&columns.labels)
            .enumerate()
            .filter_map(|(column, (name, label))| {
                Some(Entry {
                    column,
                    name,
                    label,
                    raw: self.batch.raw(self.row, column)?,
                })
            })
    }

    /// The picked columns as a row of parsed values.
    pub(crate) fn to_row(&self) -> Row {
        self.entries()
            .filter_map(|e| Some((e.name.to_owned(), parse_value(e.raw).ok()?)))
            .collect()
    }
}

/// One picked column of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    /// Its index among the columns.
    pub(crate) column: usize,
    pub(crate) name: &'a str,
    /// The name as a JSON string and a colon.
    pub(crate) label: &'a str,
    /// The value as JSON text, as the source spelled it.
    pub(crate) raw: &'a str,
}

/// The key column's JSON text in one line holding a JSON object, or `None`
/// if the object lacks it. The rest of the line is checked as strictly as
/// [`PickedBatch::pick`] checks it, and nothing of it is built: this is all
/// a resume needs of a destination row. The key's text itself is only
/// checked as JSON syntax: [`canonical_raw`](super::key_ids::canonical_raw)
/// checks the rest.
pub(crate) fn pick_key<'de>(
    line: &'de [u8],
    column: &str,
) -> Result<Option<&'de RawValue>, serde_json::Error> {
    let [key] = pick_fields(line, [column])?;
    Ok(key)
}

/// The JSON text of the fields `names` of one line holding a JSON object,
/// each `None` if the object lacks it; checked as [`pick_key`] checks.
pub(crate) fn pick_fields<'de, const N: usize>(
    line: &'de [u8],
    names: [&str; N],
) -> Result<[Option<&'de RawValue>; N], serde_json::Error> {
    let mut found = [None; N];
    deserialize_line(
        line,
        FieldsPick {
            names: &names,
            found: &mut found,
        },
    )?;
    Ok(found)
}

/// Runs `seed` over the JSON text of `line`, and checks nothing follows it.
/// A line that is valid UTF-8 (all but broken ones) is read as text: its
/// UTF-8 is then checked once, here, rather than again in every string and
/// picked value, which was a tenth of a resume's time over short rows.
fn deserialize_line<'de>(
    line: &'de [u8],
    seed: impl DeserializeSeed<'de, Value = ()>,
) -> Result<(), serde_json::Error> {
    match std::str::from_utf8(line) {
        Ok(text) => {
            let mut de = serde_json::Deserializer::from_str(text);
            seed.deserialize(&mut de).and_then(|()| de.end())
        }
        Err(_) => {
            // serde_json says where the UTF-8 is broken.
            let mut de = serde_json::Deserializer::from_slice(line);
            seed.deserialize(&mut de).and_then(|()| de.end())
        }
    }
}

/// Deserializes a JSON object, borrowing the text of the values of `names`
/// into `found`.
struct FieldsPick<'a, 'de> {
    names: &'a [&'a str],
    found: &'a mut [Option<&'de RawValue>],
}

impl<'de> DeserializeSeed<'de> for FieldsPick<'_, 'de> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldsPick<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(field) = map.next_key_seed(ColumnIndex(self.names))? {
            match field {
                // As when parsing into a `Value`, the last of repeated names wins.
                Some(i) => self.found[i] = Some(map.next_value()?),
                None => skip_value(&mut map)?,
            }
        }
        Ok(())
    }
}

/// Deserializes a JSON object, copying the text of the values of `names` to
/// `text` and their spans to `spans`; everything else is skipped unbuilt.
struct Pick<'a> {
    names: &'a [String],
    text: &'a mut String,
    spans: &'a mut [Option<(usize, usize)>],
}

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(column) = map.next_key_seed(ColumnIndex(self.names))? {
            match column {
                Some(i) => {
                    let raw: &RawValue = map.next_value()?;
                    if may_be_loose(raw.get()) {
                        serde_json::from_str::<Strict>(raw.get()).map_err(de::Error::custom)?;
                    }
                    let start = self.text.len();
                    self.text.push_str(raw.get());
                    self.spans[i] = Some((start, self.text.len()));
                }
                None => skip_value(&mut map)?,
            }
        }
        Ok(())
    }
}

/// Whether `raw`, which `RawValue` accepted, might still be refused by
/// [`Strict`]: a string without escapes, `true`, `false` and `null` cannot
/// (UTF-8 and control characters are checked already), which spares the
/// second pass over most picked values. With `exact-numbers` a `Value`
/// holds any number `RawValue` accepts (`1e400` too), so only an escape
/// (a lone surrogate) can be refused, in a string or deeper.
fn may_be_loose(raw: &str) -> bool {
    match raw.as_bytes().first() {
        // memchr's SIMD scan: under `exact-numbers` a long skipped string
        // is read a second time here, and `str::contains` made that a
        // seventh of a rerun's instructions over 2 KB rows.
        Some(b'"') => memchr::memchr(b'\\', raw.as_bytes()).is_some(),
        Some(b't' | b'f' | b'n') => false,
        _ if cfg!(feature = "exact-numbers") => memchr::memchr(b'\\', raw.as_bytes()).is_some(),
        _ => true,
    }
}

/// Skips the next value of `map`, checked as [`Strict`] checks it.
fn skip_value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    if cfg!(feature = "exact-numbers") {
        // Numbers are the values `Strict` would build text for, one
        // allocation each with `arbitrary_precision`: borrowing the value's
        // text checks it as well, for the cost of a scan for escapes.
        let raw: &RawValue = map.next_value()?;
        if may_be_loose(raw.get()) {
            serde_json::from_str::<Strict>(raw.get()).map_err(de::Error::custom)?;
        }
    } else {
        map.next_value::<Strict>()?;
    }
    Ok(())
}

/// Whether `raw`, a checked JSON value, is one a key may be: a string, a
/// number or a boolean (not `null`, an array or an object).
pub(crate) fn may_be_key(raw: &str) -> bool {
    matches!(
        raw.as_bytes().first(),
        Some(b'"' | b't' | b'f' | b'-' | b'0'..=b'9')
    )
}

/// The key column's value, parsed from its text `raw`. A short integer
/// (most keys that are not strings) is built from its digits, which spares
/// serde_json's scratch buffer for numbers under `exact-numbers`; the value
/// is the one parsing gives either way.
pub(crate) fn key_value(raw: &str) -> Result<Value, serde_json::Error> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    let short = !digits.is_empty()
        && digits.len() <= PLAIN_DIGITS
        && digits.bytes().all(|d| d.is_ascii_digit())
        && (digits.len() == 1 || !digits.starts_with('0'))
        && raw != "-0";
    if short {
        if let Ok(n) = raw.parse::<i64>() {
            return Ok(if n < 0 {
                Value::from(n)
            } else {
                Value::from(n as u64)
            });
        }
    }
    parse_value(raw)
}

/// Any JSON value, checked as parsing it into a `Value` checks it (numbers
/// within range, no lone surrogate in a string escape) but not built.
/// serde's `IgnoredAny` and serde_json's `RawValue` skip values without
/// those checks: `1e400` passes them, yet no `Value` can hold it.
struct Strict;

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Strict, D::Error> {
        deserializer.deserialize_any(Strict)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        while map.next_key::<Strict>()?.is_some() {
            map.next_value::<Strict>()?;
        }
        Ok(Strict)
    }
}

/// Deserializes a field name into its index in `names`, without allocating.
struct ColumnIndex<'a, N>(&'a [N]);

impl<'de, N: AsRef<str>> DeserializeSeed<'de> for ColumnIndex<'_, N> {
    type Value = Option<usize>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, N: AsRef<str>> Visitor<'de> for ColumnIndex<'_, N> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|c| c.as_ref() == name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(keep: &[&str]) -> PickedBatch {
        let keep: Vec<String> = keep.iter().map(|s| (*s).to_owned()).collect();
        PickedBatch::new(Columns::new("id", &keep))
    }

    #[test]
    fn picks_the_text_of_the_key_and_kept_columns_as_written() {
        let mut batch = batch(&["text", "n"]);
        let a = batch
            .pick(br#"{"skip": [1, {"x": 2}], "text": "caf\u00e9 \"q\"", "id": 1.0}"#)
            .unwrap();
        let b = batch
            .pick(br#"{"id": "k", "n": {"deep": [1, 2]}}"#)
            .unwrap();
        let c = batch.pick(br#"{"n": 3}"#).unwrap();
        assert_eq!((a, batch.key(a)), (0, Some(serde_json::json!(1.0))));
        assert_eq!((b, batch.key(b)), (1, Some(serde_json::json!("k"))));
        assert_eq!((c, batch.key(c)), (2, None));
        // Not a value a key may be: picked, but no key.
        let d = batch.pick(br#"{"id": [1], "n": 4}"#).unwrap();
        assert_eq!((d, batch.key(d)), (3, None));
        assert_eq!(batch.raw(0, 0), Some("1.0"));
        assert_eq!(batch.raw(0, 1), Some(r#""caf\u00e9 \"q\"""#));
        assert_eq!(batch.raw(0, 2), None);
        assert_eq!(batch.raw(1, 0), Some(r#""k""#));
        assert_eq!(batch.raw(1, 1), None);
        assert_eq!(batch.raw(1, 2), Some(r#"{"deep": [1, 2]}"#));
    }

    #[test]
    fn a_bad_line_leaves_the_batch_as_it_was() {
        let mut batch = batch(&["text"]);
        batch.pick(br#"{"id": 1, "text": "a"}"#).unwrap();
        for bad in [
            &br#"{"id": 2, "text": "b""#[..],
            br#"[1, 2]"#,
            br#"{"id": 2} trailing"#,
        ] {
            assert!(batch.pick(bad).is_err());
        }
        let next = batch.pick(br#"{"text": "c", "id": 3}"#).unwrap();
        assert_eq!(next, 1);
        assert_eq!(batch.text_len(), r#"1"a""c"3"#.len());
        assert_eq!(batch.raw(1, 0), Some("3"));
        assert_eq!(batch.raw(1, 1), Some(r#""c""#));
    }

    /// Lines `serde_json` cannot parse into a `Value` are refused, whether
    /// the bad value is picked or skipped; the same lines with an ordinary
    /// value are taken.
    #[test]
    fn a_line_is_taken_exactly_when_serde_json_parses_it() {
        let values = [
            "1e400",
            "-1e400",
            r#""\ud800""#,
            r#""\udc00 tail""#,
            r#""\ud800\u0041""#,
            "[1, [1e400]]",
            r#"{"a": {"b": 1e400}}"#,
            r#"{"\ud800": 1}"#,
            "1.",
            "01",
            r#""\x""#,
            "\"tab\there\"",
            r#""\ud83d\ude00""#,
            "1e308",
            r#"{"a": [null, true, -0.5, "s"]}"#,
            "18446744073709551615",
            "-9223372036854775808",
        ];
        for value in values {
            for column in ["id", "text", "other"] {
                let line = format!(r#"{{"{column}": {value}, "id": 1}}"#);
                let parses = serde_json::from_str::<Value>(&line).is_ok();
                let mut batch = batch(&["text"]);
                assert_eq!(batch.pick(line.as_bytes()).is_ok(), parses, "{line}");
            }
        }
    }

    #[test]
    fn entries_and_to_row_give_the_columns_in_order() {
        let mut batch = batch(&["text", "gone"]);
        let first = batch.pick(br#"{"id": 6, "gone": 0}"#).unwrap();
        let row: Row = serde_json::from_str(r#"{"text": "é", "id": 7, "x": 1}"#).unwrap();
        let index = batch.pick_from(&row);
        assert_eq!((first, index), (0, 1));
        let batch = Arc::new(batch);
        let picked = Picked::new(&batch, index);
        let entries: Vec<_> = picked
            .entries()
            .map(|e| (e.column, e.name, e.label, e.raw))
            .collect();
        assert_eq!(
            entries,
            [
                (0, "id", r#""id":"#, "7"),
                (1, "text", r#""text":"#, r#""é""#)
            ]
        );
        let back = picked.to_row();
        assert_eq!(
            back,
            serde_json::from_str::<Row>(r#"{"id": 7, "text": "é"}"#).unwrap()
        );
    }

    #[test]
    fn pick_key_takes_the_key_and_refuses_what_serde_json_refuses() {
        let key = |line: &str| {
            let raw = pick_key(line.as_bytes(), "id").map_err(|_| ())?;
            Ok(raw.map(|raw| serde_json::from_str::<Value>(raw.get()).unwrap()))
        };
        assert_eq!(
            key(r#"{"a": [1, {"b": "c"}], "id": "k"}"#),
            Ok(Some(serde_json::json!("k")))
        );
        assert_eq!(
            key(r#"{"id": 1, "id": 2.5}"#),
            Ok(Some(serde_json::json!(2.5)))
        );
        assert_eq!(key(r#"{"a": 1}"#), Ok(None));
        for bad in [
            r#"{"id": 1"#,
            r#"{"id": 1} x"#,
            r#"{"a": "\ud800", "id": 1}"#,
            r#"{"a": ["\udc00"], "id": 1}"#,
        ] {
            assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad}");
            assert_eq!(key(bad), Err(()), "{bad}");
        }
        // A `Value` holds 1e400 only with exact numbers: a line holding it
        // is taken exactly then.
        let big = r#"{"id": 1, "a": 1e400}"#;
        assert_eq!(key(big).is_ok(), cfg!(feature = "exact-numbers"));
        assert_eq!(key(big).is_ok(), serde_json::from_str::<Value>(big).is_ok());
        assert_eq!(key("[1]"), Err(()));
    }

    #[test]
    fn repeated_columns_are_kept_once() {
        let columns = Columns::new("id", &["a".to_owned(), "id".to_owned(), "a".to_owned()]);
        assert_eq!(columns.names(), ["id", "a"]);
        assert_eq!(columns.key(), "id");
        let indices: Vec<_> = ["id", "a", "b"].map(|n| columns.kept_index(n)).into();
        assert_eq!(indices, [None, Some(1), None]);
        assert_eq!(columns.labels(), [r#""id":"#, r#""a":"#]);
    }
}
