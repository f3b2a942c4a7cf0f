"""A prediction's inputs and outputs as typed columns: what goes in comes out, by the
fast way for records alike and by the general way for the rest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from loopml.serve import _nested
from loopml.serve._nested import nested_column


def general(values: list[Any]) -> pa.Array:
    """The column as the general way builds it (the fast way turned off)."""
    fast = _nested._alike
    _nested._alike = lambda values, names: None  # type: ignore[assignment]
    try:
        return nested_column(values)
    finally:
        _nested._alike = fast


def as_lists(value: Any) -> Any:
    return None if value is None else {k: np.asarray(v).tolist() for k, v in value.items()}


ROWS = np.random.default_rng(0).normal(size=(5, 3))


@pytest.mark.parametrize(
    "values",
    [
        # requests of one form, one row and several, as the server logs them
        [
            {"a": ROWS[i : i + 1, 0], "b": ROWS[i : i + 1, 1], "c": ROWS[i : i + 1, 2]}
            for i in range(5)
        ],
        [{"a": ROWS[:, 0], "b": ROWS[:, 1]}, {"a": ROWS[:, 2], "b": ROWS[:, 0]}],
        [{"n": np.array([1, 2])}, {"n": np.array([3, 4])}],
        [{"s": np.array(["x", "yy"])}, {"s": np.array(["zzz", "w"])}],
    ],
)
def test_records_alike_read_back_as_given_and_as_the_general_way_builds_them(values):
    column = nested_column(values)
    assert column.to_pylist() == [as_lists(v) for v in values]
    assert column.equals(general(values))


def test_records_not_alike_take_the_general_way_and_read_back_as_given():
    uneven = {"a": np.array([1.0, 2.0]), "b": np.array([], dtype=float)}  # same size, other rows
    cases = [
        [uneven, {"a": np.array([3.0]), "b": np.array([4.0])}],
        [{"a": np.array([1.0])}, {"b": np.array([2.0])}],  # other names
        [{"a": np.array([1.0])}, None, {"a": np.array([2.0])}],  # a record without inputs
        [{"a": [1, 2]}, {"a": [3]}],  # lists, not arrays
        [{"a": np.array([], dtype=float)}] * 2,  # requests of no rows
        [{"n": np.array([1.5]), "s": np.array(["x"])}] * 2,  # numbers and text side by side
        [{"n": np.array([1.5])}, {"n": np.array([2], dtype=np.int32)}],  # widened
        [{"p": np.array([[0.2, 0.8], [0.6, 0.4]])}, {"p": np.array([[0.5, 0.5]])}],  # 2-D
    ]
    for values in cases:
        column = nested_column(values)
        expected = [
            None if v is None else {k: as_lists(v).get(k) for k in column.type.names}
            for v in values
        ]
        assert column.to_pylist() == expected
        assert column.equals(general(values))


def test_numbers_of_several_dtypes_are_widened_to_one():
    column = nested_column([{"a": np.array([1], dtype=np.int64)}, {"a": np.array([2.5])}])
    assert column.type == pa.struct([("a", pa.list_(pa.float64()))])
    assert column.to_pylist() == [{"a": [1.0]}, {"a": [2.5]}]


def test_values_that_make_no_one_type_are_json_text():
    for values in (
        [{"a": [1]}, {"a": ["one"]}],  # numbers and text under one name
        [{"a": np.zeros((1, 1, 1))}],  # 3-D
        [{"a": [object()]}],  # nothing Arrow can type
        [["not", "a", "mapping"]],
        [{}],
    ):
        assert nested_column(values).type == pa.string()
