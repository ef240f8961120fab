//! How an output row of a map or flatmap is laid out: the source row's key
//! and kept columns, as the source spelled them, merged with a result of
//! `f` serialized once.

use super::picked::{Columns, Picked};
use super::write::write_value;
use super::Row;

/// A result row of `f`, serialized once however many output rows repeat it.
///
/// Where `f` returns a kept column, its value replaces the source's in every
/// row of the key, in the kept column's place: a row lists the key, the kept
/// columns, then `f`'s other fields, whoever supplied the values. Which kept
/// columns a result replaced is not in the row (its field order means
/// nothing to a resume) but in the replaced log beside the destination (see
/// [`replaced`](super::replaced)), written with the key's first row. The key
/// column itself always comes from the source (a result may only repeat it).
#[derive(Debug)]
pub(crate) struct Rendered {
    /// The row's fields but the key and kept columns, as JSON text,
    /// `"name":value` joined by commas.
    fields: Vec<u8>,
    /// The kept columns the row replaces, by column index in increasing
    /// order, each with the row's value as JSON text. Empty for most
    /// results, which then cost nothing here.
    replaced: Vec<(usize, Box<str>)>,
}

impl Rendered {
    pub(crate) fn new(row: &Row, columns: &Columns) -> Rendered {
        let mut fields = Vec::new();
        let mut replaced = Vec::new();
        for (name, value) in row.iter().filter(|(name, _)| *name != columns.key()) {
            if let Some(column) = columns.kept_index(name) {
                replaced.push((column, value.to_string().into_boxed_str()));
                continue;
            }
            if !fields.is_empty() {
                fields.push(b',');
            }
            write_value(&mut fields, name);
            fields.push(b':');
            write_value(&mut fields, value);
        }
        replaced.sort_unstable_by_key(|(column, _)| *column);
        Rendered { fields, replaced }
    }

    /// The kept columns whose value this result replaces, by index.
    pub(crate) fn replaced_columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.replaced.iter().map(|(column, _)| *column)
    }

    /// The value this result gives kept column `column`, if it replaces it.
    fn replacement(&self, column: usize) -> Option<&str> {
        self.replaced
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, text)| &**text)
    }

    /// Bytes it holds.
    pub(crate) fn size(&self) -> usize {
        let replaced: usize = self
            .replaced
            .iter()
            .map(|(_, text)| std::mem::size_of::<(usize, Box<str>)>() + text.len())
            .sum();
        std::mem::size_of::<Rendered>() + self.fields.len() + replaced
    }
}

/// Writes `{...base, ...result}` as one JSON object without building it:
/// the key, the kept columns (the result's value where it replaces one),
/// then the result's other fields (see [`Rendered`]).
pub(crate) fn write_merged(buf: &mut Vec<u8>, base: &Picked, result: &Rendered) {
    buf.push(b'{');
    let start = buf.len();
    let field = |buf: &mut Vec<u8>, label: &str, raw: &str| {
        if buf.len() > start {
            buf.push(b',');
        }
        buf.extend_from_slice(label.as_bytes());
        buf.extend_from_slice(raw.as_bytes());
    };
    if result.replaced.is_empty() {
        for entry in base.entries() {
            field(buf, entry.label, entry.raw);
        }
    } else {
        for (column, label) in base.columns().labels().iter().enumerate() {
            if let Some(raw) = result.replacement(column).or_else(|| base.raw(column)) {
                field(buf, label, raw);
            }
        }
    }
    if !result.fields.is_empty() {
        if buf.len() > start {
            buf.push(b',');
        }
        buf.extend_from_slice(&result.fields);
    }
    buf.push(b'}');
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn columns() -> Arc<Columns> {
        Columns::new("id", &["a".to_owned(), "b".to_owned()])
    }

    /// The cache bound counts what a kept result holds: its text, and the
    /// value of each kept column it replaces with what that costs to hold;
    /// kept columns it does not return cost nothing.
    #[test]
    fn a_rendered_result_counts_its_text_and_what_it_replaces() {
        let row = json!({"text": "x".repeat(1000)});
        let row = row.as_object().unwrap();
        let narrow = Rendered::new(row, &Columns::new("id", &[]));
        let wide = Rendered::new(row, &columns());
        assert!((1000..1100).contains(&narrow.size()), "{}", narrow.size());
        assert_eq!(wide.size(), narrow.size());
        let replacing = json!({"text": "x".repeat(1000), "a": "y".repeat(500)});
        let replacing = Rendered::new(replacing.as_object().unwrap(), &columns());
        let entry = std::mem::size_of::<(usize, Box<str>)>();
        assert_eq!(replacing.size(), narrow.size() + entry + 502);
    }

    /// The line a source row and a result make.
    fn merged(source: &str, result: serde_json::Value) -> String {
        let mut batch = super::super::picked::PickedBatch::new(columns());
        let index = batch.pick(source.as_bytes()).unwrap();
        let batch = Arc::new(batch);
        let result = Rendered::new(result.as_object().unwrap(), &columns());
        let mut buf = Vec::new();
        write_merged(&mut buf, &Picked::new(&batch, index), &result);
        String::from_utf8(buf).unwrap()
    }

    /// A row lists the key, the kept columns, then the result's other
    /// fields, whether or not the result replaces a kept column (its value
    /// then stands in the column's place, and the result's order is its
    /// own). The key is always the source's text.
    #[test]
    fn a_row_lists_the_key_then_the_kept_columns_then_the_result() {
        let source = r#"{"b": 2, "x": 0, "id": 1.0, "a": "s"}"#;
        for (result, line, replaced) in [
            (json!({}), r#"{"id":1.0,"a":"s","b":2}"#, &[][..]),
            (json!({"z": 9}), r#"{"id":1.0,"a":"s","b":2,"z":9}"#, &[]),
            (
                json!({"id": 1.0, "z": 9}),
                r#"{"id":1.0,"a":"s","b":2,"z":9}"#,
                &[],
            ),
            (
                json!({"b": "f", "z": 9}),
                r#"{"id":1.0,"a":"s","b":"f","z":9}"#,
                &[2],
            ),
            (
                json!({"a": "f", "b": ["f"], "c": 3}),
                r#"{"id":1.0,"a":"f","b":["f"],"c":3}"#,
                &[1, 2],
            ),
        ] {
            let written = merged(source, result.clone());
            assert_eq!(written, line, "{result}");
            let rendered = Rendered::new(result.as_object().unwrap(), &columns());
            let columns: Vec<usize> = rendered.replaced_columns().collect();
            assert_eq!(columns, replaced, "{result}");
        }
        let absent = merged(r#"{"id": "k"}"#, json!({"a": 1}));
        assert_eq!(absent, r#"{"id":"k","a":1}"#);
        let only_result = merged(r#"{"x": 1}"#, json!({"z": 1}));
        assert_eq!(only_result, r#"{"z":1}"#);
    }
}
