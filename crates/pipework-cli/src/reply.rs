//! Reading what CMD printed: one JSON object, or a JSON array / JSONL of objects.

use pipework::jsonl::Row;
use serde_json::Value;

use crate::process::{CommandError, Output};

/// The single JSON object `map` and `generate` expect.
pub(crate) fn one_object(output: Output) -> Result<Row, CommandError> {
    let mut values = values(&output)?;
    match (values.len(), values.pop()) {
        (1, Some(Value::Object(row))) => Ok(row),
        (1, Some(other)) => Err(problem(
            &output,
            format!("printed {}, expected one json object", kind(&other)),
        )),
        (0, _) => Err(problem(
            &output,
            "printed nothing, expected one json object".to_owned(),
        )),
        (n, _) => Err(problem(
            &output,
            format!("printed {n} json values, expected one json object"),
        )),
    }
}

/// The objects `flatmap` expects: one JSON array of objects, or any number of
/// objects (JSONL). Empty output is zero rows.
pub(crate) fn objects(output: Output) -> Result<Vec<Row>, CommandError> {
    let values = values(&output)?;
    let values = match <[Value; 1]>::try_from(values) {
        Ok([Value::Array(items)]) => items,
        Ok([single]) => vec![single],
        Err(values) => values,
    };
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| match value {
            Value::Object(row) => Ok(row),
            other => Err(problem(
                &output,
                format!(
                    "printed {} as item {}, expected json objects",
                    kind(&other),
                    i + 1
                ),
            )),
        })
        .collect()
}

/// The values CMD printed, each number as CMD wrote it (see
/// [`pipework::internal::parse_value`]).
fn values(output: &Output) -> Result<Vec<Value>, CommandError> {
    serde_json::Deserializer::from_slice(&output.stdout)
        .into_iter::<&serde_json::value::RawValue>()
        .map(|raw| raw.and_then(|raw| pipework::internal::parse_value(raw.get())))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            let shown = String::from_utf8_lossy(&output.stdout);
            let shown: String = shown.trim().chars().take(200).collect();
            problem(output, format!("printed invalid json ({e}): {shown:?}"))
        })
}

fn problem(output: &Output, problem: String) -> CommandError {
    CommandError::Output {
        problem,
        stderr: output.stderr.clone(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
