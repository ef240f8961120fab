//! JSON text parsed straight into Python objects, dicts keeping the
//! order of their fields as `json.loads` does (a `serde_json::Map` would
//! sort them, and a row's field order is what a resumed line repeats).

use std::fmt;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// `json.loads(text)` for one JSON value, parsed in Rust.
///
/// Raises `ValueError` on invalid JSON, with serde_json's line and column.
#[pyfunction]
pub(crate) fn loads(py: Python<'_>, text: &str) -> PyResult<Py<PyAny>> {
    parse(py, text.as_bytes()).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Parses one JSON value (surrounding whitespace allowed).
pub(crate) fn parse(py: Python<'_>, bytes: &[u8]) -> Result<Py<PyAny>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = ToPython { py }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

#[derive(Clone, Copy)]
struct ToPython<'py> {
    py: Python<'py>,
}

impl<'de, 'py> DeserializeSeed<'de> for ToPython<'py> {
    type Value = Py<PyAny>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

fn py_err<E: serde::de::Error>(err: PyErr) -> E {
    E::custom(err.to_string())
}

impl<'de, 'py> Visitor<'de> for ToPython<'py> {
    type Value = Py<PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(PyBool::new(self.py, v).to_owned().into_any().unbind())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(PyInt::new(self.py, v).into_any().unbind())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(PyInt::new(self.py, v).into_any().unbind())
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(PyFloat::new(self.py, v).into_any().unbind())
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.py, v).into_any().unbind())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.py.None())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let list = PyList::empty(self.py);
        while let Some(item) = seq.next_element_seed(self)? {
            list.append(item).map_err(py_err)?;
        }
        Ok(list.into_any().unbind())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let dict = PyDict::new(self.py);
        let mut first = true;
        while let Some(key) = map.next_key::<String>()? {
            if first && key == NUMBER_TOKEN && *ARBITRARY_PRECISION {
                let text: String = map.next_value()?;
                return number(self.py, &text).map_err(py_err);
            }
            first = false;
            let value = map.next_value_seed(self)?;
            // A repeated name keeps its last value in the first one's
            // place, as json.loads does.
            dict.set_item(key, value).map_err(py_err)?;
        }
        Ok(dict.into_any().unbind())
    }
}

/// The one field of the map serde_json hands a visitor for a number that
/// is no 64-bit integer when its `arbitrary_precision` feature is on (a
/// build that also holds the `pipework` CLI turns it on: cargo unifies
/// features); the value is the number's text.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Whether this build's serde_json has `arbitrary_precision`: only then is
/// a map with [`NUMBER_TOKEN`] a number rather than the user's object.
static ARBITRARY_PRECISION: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
    serde_json::from_str::<serde_json::Value>("100000000000000000000001")
        .is_ok_and(|n| n.to_string().ends_with("0001"))
});

/// The number `text` as `json.loads` makes it: an `int` (of any size) for
/// an integer, else a `float`.
fn number(py: Python<'_>, text: &str) -> PyResult<Py<PyAny>> {
    if text.bytes().all(|b| b == b'-' || b.is_ascii_digit()) {
        return Ok(py.get_type::<PyInt>().call1((text,))?.unbind());
    }
    let value: f64 = text
        .parse()
        .map_err(|e| PyValueError::new_err(format!("number {text}: {e}")))?;
    Ok(PyFloat::new(py, value).into_any().unbind())
}
