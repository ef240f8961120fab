"""Rows are rendered exactly as ``json.dumps`` renders them and parsed as
``json.loads`` parses them, so files move between abstractions and
pipework byte for byte."""

import json
import math
import random

import pytest

from pipework import _native


def random_value(rng: random.Random, depth: int = 0):
    kinds = ["int", "bigint", "float", "str", "bool", "none"]
    if depth < 3:
        kinds += ["list", "dict", "tuple"]
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.randint(-(2**63), 2**64 - 1)
    if kind == "bigint":
        return rng.randint(-(10**40), 10**40)
    if kind == "float":
        return rng.choice(
            [
                rng.uniform(-1e6, 1e6),
                rng.random() * 10 ** rng.randint(-30, 30),
                float(rng.randint(-(10**17), 10**17)),
                -0.0,
                1e16,
                1e-5,
                0.0001,
                5e-324,
                1.7976931348623157e308,
                math.inf,
                -math.inf,
            ]
        )
    if kind == "str":
        alphabet = 'ab "\\\n\t\r\b\f\x00\x1f\x7f é€😀\u2028\ud7ff'
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind in ("list", "tuple"):
        items = [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
        return items if kind == "list" else tuple(items)
    keys = [rng.choice(["k", "é", "a b", "", '"q"', 1, 2.5, True, None, -7]) for _ in range(rng.randint(0, 4))]
    return {key: random_value(rng, depth + 1) for key in keys}


def test_dumps_matches_json_dumps_on_random_values():
    rng = random.Random(20261207)
    for _ in range(5000):
        value = random_value(rng)
        assert _native.dumps(value) == json.dumps(value), value


@pytest.mark.parametrize(
    "value",
    [1.0, 0.1, 1e16, 1e15, 123456789012345680.0, 1e-4, 1e-5, 1.5e-7, 2.5e300, -0.0, math.nan, 10**30],
)
def test_floats_and_ints_are_spelled_as_python_spells_them(value):
    assert _native.dumps(value) == json.dumps(value)


def test_unserializable_values_raise_type_error_as_json_does():
    for bad in [object(), {1, 2}, b"x", {(1, 2): 3}]:
        with pytest.raises(TypeError):
            _native.dumps(bad)


def test_loads_keeps_field_order_and_the_last_of_a_repeated_name():
    text = '{"z": 1, "a": [1, 2.5, "x", null, true], "m": {"b": 1, "a": 2}, "z": 3}'
    assert list(_native.loads(text)) == list(json.loads(text))
    assert _native.loads(text) == json.loads(text)


def test_loads_rejects_invalid_json_with_a_value_error():
    with pytest.raises(ValueError):
        _native.loads('{"a": }')


def test_reader_names_file_and_line_of_invalid_json(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(ValueError, match=r"in\.jsonl:2"):
        list(_native.JsonlReader(path))


def test_reader_with_repair_cuts_only_a_torn_last_line(tmp_path):
    path = tmp_path / "dst.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3')
    reader = _native.JsonlReader(path, repair=True)
    assert [row for _, row in reader] == [{"a": 1}, {"a": 2}]
    assert "torn" in reader.repaired
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'
    again = _native.JsonlReader(path, repair=True)
    assert again.repaired is None
