//! Python objects rendered as `json.dumps(obj)` renders them with its
//! defaults: `", "` and `": "` separators, `ensure_ascii`, `NaN` and
//! `Infinity` allowed, floats as `repr` spells them, dict keys that are
//! numbers, booleans or `None` turned into strings.

use std::fmt::Write as _;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Deeper than this is taken for a reference cycle, as `json.dumps` would
/// report it (it tracks ids; a depth bound catches the same objects
/// without a set per call, and no real row nests a thousand levels).
const MAX_DEPTH: usize = 1000;

/// `json.dumps(obj)` with its default arguments, rendered in Rust.
///
/// Raises `TypeError` for an object JSON cannot hold (as `json.dumps`
/// does) and `ValueError` for a structure nested past 1000 levels.
#[pyfunction]
pub(crate) fn dumps(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let mut out = String::new();
    write_value(&mut out, obj, 0)?;
    Ok(out)
}

/// Appends `obj`'s JSON text to `out`.
pub(crate) fn write_value(out: &mut String, obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err("Circular reference detected"));
    }
    if obj.is_none() {
        out.push_str("null");
    } else if let Ok(b) = obj.cast::<PyBool>() {
        out.push_str(if b.is_true() { "true" } else { "false" });
    } else if let Ok(s) = obj.cast::<PyString>() {
        write_str(out, &s.to_cow()?);
    } else if obj.is_instance_of::<PyInt>() {
        // Python ints have no size limit; their own decimal text is exact.
        out.push_str(
            &obj.call_method0(pyo3::intern!(obj.py(), "__index__"))?
                .str()?
                .to_cow()?,
        );
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        write_float(out, f.value());
    } else if let Ok(dict) = obj.cast::<PyDict>() {
        out.push('{');
        for (i, (key, value)) in dict.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            write_key(out, &key)?;
            out.push_str(": ");
            write_value(out, &value, depth + 1)?;
        }
        out.push('}');
    } else if let Ok(list) = obj.cast::<PyList>() {
        write_items(out, list.iter(), depth)?;
    } else if let Ok(tuple) = obj.cast::<PyTuple>() {
        write_items(out, tuple.iter(), depth)?;
    } else {
        return Err(not_serializable(obj));
    }
    Ok(())
}

fn write_items<'py>(
    out: &mut String,
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    depth: usize,
) -> PyResult<()> {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(out, &item, depth + 1)?;
    }
    out.push(']');
    Ok(())
}

/// A dict key: JSON keys are strings, so `json.dumps` spells other scalar
/// keys as their JSON text, quoted.
fn write_key(out: &mut String, key: &Bound<'_, PyAny>) -> PyResult<()> {
    if let Ok(s) = key.cast::<PyString>() {
        write_str(out, &s.to_cow()?);
        return Ok(());
    }
    let is_scalar = key.is_none()
        || key.is_instance_of::<PyBool>()
        || key.is_instance_of::<PyInt>()
        || key.is_instance_of::<PyFloat>();
    if !is_scalar {
        let name = key.get_type().name()?;
        return Err(PyTypeError::new_err(format!(
            "keys must be str, int, float, bool or None, not {name}"
        )));
    }
    let mut text = String::new();
    write_value(&mut text, key, 0)?;
    write_str(out, &text);
    Ok(())
}

fn not_serializable(obj: &Bound<'_, PyAny>) -> PyErr {
    let name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_owned());
    PyTypeError::new_err(format!("Object of type {name} is not JSON serializable"))
}

/// A string with `ensure_ascii`: everything outside printable ASCII is a
/// `\uXXXX` escape (a surrogate pair above the BMP), with the short
/// escapes `json` uses for `\n`, `\r`, `\t`, `\b` and `\f`.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// A float as Python's `repr` spells it: the shortest digits that read
/// back to the same value, fixed-point for decimal exponents from -4 to
/// 15, otherwise `d.ddde+XX` with at least two exponent digits.
pub(crate) fn write_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as Python's
    // repr; only the layout differs.
    let sci = format!("{:e}", v.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if v.is_sign_negative() {
        out.push('-');
    }
    if (-4..16).contains(&exponent) {
        if exponent < 0 {
            out.push_str("0.");
            for _ in 0..(-exponent - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exponent.abs());
    }
}
