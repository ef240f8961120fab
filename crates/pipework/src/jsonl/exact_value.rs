//! Parsing JSON text into a `Value` whose numbers keep their text.
//!
//! With `exact-numbers`, serde_json's `arbitrary_precision` keeps every
//! digit of a number (`123456789012345678901234567890`, `-0`, `1.0`), but
//! writes its exponent its own way: `1E400` and `1e400` become `1e+400`.
//! Same value, other text; and `f` (CMD, for the CLI) is to see the number
//! as the source spells it. So a parsed value holding a number with an
//! exponent is built again from the text, each number from its own text.
//! Numbers with exponents are rare in rows, and the check is a walk over
//! the numbers of a value already built, so most rows cost one parse as
//! before. Without `exact-numbers` numbers are `f64`s or 64-bit integers
//! and have no text to keep: the value is serde_json's.

use serde_json::Value;

/// Parses `text` as one JSON value, as `serde_json::from_str` does (same
/// errors), keeping each number's text under `exact-numbers`.
pub(crate) fn parse_value(text: &str) -> Result<Value, serde_json::Error> {
    let value: Value = serde_json::from_str(text)?;
    #[cfg(feature = "exact-numbers")]
    if has_exponent(&value) {
        return exact::parse(text);
    }
    Ok(value)
}

/// Parses `bytes` as [`parse_value`] does; bytes that are not UTF-8 get
/// serde_json's error for them.
pub(crate) fn parse_value_bytes(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_value(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// Whether `value` holds a number whose text `arbitrary_precision` may
/// have rewritten: one with an exponent (it writes every exponent as
/// `e+`/`e-`, so the text has an `e`).
#[cfg(feature = "exact-numbers")]
fn has_exponent(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_str().contains('e'),
        Value::Array(items) => items.iter().any(has_exponent),
        Value::Object(fields) => fields.values().any(has_exponent),
        Value::Null | Value::Bool(_) | Value::String(_) => false,
    }
}

#[cfg(feature = "exact-numbers")]
mod exact {
    use std::fmt;

    use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use serde_json::value::RawValue;
    use serde_json::{Map, Number, Value};

    /// Builds the value of `text` (valid JSON: it parsed once already),
    /// each number from its own text.
    pub(super) fn parse(text: &str) -> Result<Value, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let value = Exact.deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    }

    /// One value, taken as its text first: a number is made from that text,
    /// a string, boolean or null parsed from it, an array or object parsed
    /// from it element by element (so a value nested `d` deep is read `d`
    /// times: only rows holding exponents pay it).
    struct Exact;

    impl<'de> DeserializeSeed<'de> for Exact {
        type Value = Value;

        fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
            let raw = <&RawValue as de::Deserialize>::deserialize(deserializer)?;
            let text = raw.get();
            let built = match text.as_bytes().first() {
                Some(b'-' | b'0'..=b'9') => {
                    // The text is a valid JSON number: the parse that
                    // checked it is the one that rewrote its exponent.
                    // `from_string_unchecked` is the one way to make a
                    // `Number` of a given text (hidden in serde_json's docs;
                    // the tests here catch a serde_json that changes it).
                    return Ok(Value::Number(Number::from_string_unchecked(
                        text.to_owned(),
                    )));
                }
                Some(b'[') => {
                    let mut de = serde_json::Deserializer::from_str(text);
                    de::Deserializer::deserialize_seq(&mut de, Items)
                }
                Some(b'{') => {
                    let mut de = serde_json::Deserializer::from_str(text);
                    de::Deserializer::deserialize_map(&mut de, Fields)
                }
                _ => serde_json::from_str(text),
            };
            built.map_err(de::Error::custom)
        }
    }

    struct Items;

    impl<'de> Visitor<'de> for Items {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a json array")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(Exact)? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }
    }

    struct Fields;

    impl<'de> Visitor<'de> for Fields {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a json object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut fields = Map::new();
            while let Some(name) = map.next_key::<String>()? {
                // As when parsing into a `Value`, the last of repeated names wins.
                fields.insert(name, map.next_value_seed(Exact)?);
            }
            Ok(Value::Object(fields))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_what_serde_json_parses() {
        let text =
            r#"{"a": [1.5, {"b": -2e-7, "c": "E 1e5"}], "d": -0, "g": "\u0041", "h": 1, "h": 7}"#;
        let expected: Value = serde_json::from_str(text).unwrap();
        assert_eq!(parse_value(text).unwrap(), expected);
        assert_eq!(parse_value_bytes(text.as_bytes()).unwrap(), expected);
    }

    #[cfg(feature = "exact-numbers")]
    #[test]
    fn numbers_keep_their_text() {
        let text = r#"{"a": [1E400, {"b": -1.5e-7, "c": "E 1e5"}], "d": 2e+3, "e": -0, "a2": null, "f": true, "g": "\u0041", "h": 12345678901234567890123, "h": 7, "i": 1.0}"#;
        assert_eq!(
            parse_value(text).unwrap().to_string(),
            r#"{"a":[1E400,{"b":-1.5e-7,"c":"E 1e5"}],"a2":null,"d":2e+3,"e":-0,"f":true,"g":"A","h":7,"i":1.0}"#
        );
        assert_eq!(parse_value("-1E5").unwrap().to_string(), "-1E5");
        assert_eq!(parse_value("[[[2E2]]]").unwrap().to_string(), "[[[2E2]]]");
    }

    #[test]
    fn errors_are_serde_jsons() {
        for bad in ["{\"a\": 1E400", "[1e5,]", "1e", "{} x", "\"\\ud800\""] {
            let ours = parse_value(bad).map_err(|e| e.to_string());
            let theirs = serde_json::from_str::<Value>(bad).map_err(|e| e.to_string());
            assert_eq!(ours.map(|_| ()), theirs.map(|_| ()), "{bad}");
        }
        assert!(parse_value_bytes(b"{\"a\": \"\xff\"}").is_err());
    }
}
