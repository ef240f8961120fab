//! The text a key stands for, as the jsonl engine compares keys, and
//! values parsed as the engine parses rows.

/// The canonical text of the key whose JSON text is `raw`: two keys are
/// one key exactly when their canonical texts are equal (`1`, `1.0` and
/// `1e0` are one key, `10` and `"10"` two; see the `jsonl` module's
/// "Keys"). `raw` is JSON text as a parser accepted it (a `RawValue`'s);
/// `None` if it is not a string, number or boolean.
pub fn key_text(raw: &str) -> Option<String> {
    let mut text = Vec::new();
    crate::jsonl::canonical_key(raw, &mut text)?.ok()?;
    // Canonical texts are JSON text or built of ASCII digits and signs.
    String::from_utf8(text).ok()
}

/// Parses `text` as one JSON value, as `serde_json::from_str` does, but
/// keeping each number's text as written under `exact-numbers` (which
/// serde_json's `arbitrary_precision` does but for exponents, `1E5`
/// becoming `1e+5`): how the CLI reads what CMD prints.
///
/// # Errors
///
/// serde_json's, for text that is not one JSON value.
pub fn parse_value(text: &str) -> Result<serde_json::Value, serde_json::Error> {
    crate::jsonl::parse_exact(text)
}

#[cfg(test)]
mod tests {
    use super::key_text;

    #[test]
    fn keys_of_equal_value_have_one_text() {
        assert_eq!(key_text("1"), key_text("1.0"));
        assert_eq!(key_text("-0"), key_text("0e3"));
        assert_eq!(key_text(r#""\u0061""#), key_text(r#""a""#));
        assert_ne!(key_text("10"), key_text(r#""10""#));
        assert_eq!(key_text("[1]"), None);
    }
}
