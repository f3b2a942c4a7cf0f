"""A prediction's inputs and outputs as typed columns: what goes in comes out, by the
fast way for records alike and by the general way for the rest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from loopml.serve import _nested
from loopml.serve._columns import MatrixColumns
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
        [
            {"a": np.array([1.0]), "b": np.array([2.0])},
            {"b": np.array([3.0]), "a": np.array([4.0])},
        ],
        [{"a": np.ma.masked_array([1.0, 2.0], mask=[False, True])}] * 2,  # not a plain array
    ]
    for values in cases:
        column = nested_column(values)
        expected = [
            None if v is None else {k: as_lists(v).get(k) for k in column.type.names}
            for v in values
        ]
        assert column.to_pylist() == expected
        assert column.equals(general(values))


def test_the_fast_way_builds_what_the_general_way_builds_on_random_batches():
    """500 random batches: names in varied orders, dtypes that widen or do not join,
    varied lengths and dimensions, records without a value."""
    rng = np.random.default_rng(7)
    kinds = [np.float64, np.int64, np.int32, np.bool_, "text"]
    for _ in range(500):
        names = [f"c{i}" for i in range(rng.integers(1, 5))]
        rows = int(rng.integers(0, 3))
        values: list[Any] = []
        for _ in range(rng.integers(1, 6)):
            if rng.random() < 0.05:
                values.append(None)
                continue
            order = list(rng.permutation(names)) if rng.random() < 0.1 else names
            record = {}
            for name in order:
                kind = kinds[rng.integers(len(kinds))] if rng.random() < 0.2 else kinds[0]
                length = rows if rng.random() < 0.9 else rows + 1
                numbers = rng.normal(size=length) * 10
                if kind == "text":
                    array = np.array([f"t{int(x)}" for x in numbers])
                else:
                    array = numbers.astype(kind)
                record[str(name)] = array.reshape(-1, 1) if rng.random() < 0.03 else array
            values.append(record)
        column = nested_column(values)
        assert column.equals(general(values)), values


def test_requests_that_came_as_matrices_build_what_the_general_way_builds():
    """300 random batches of requests that each came as one matrix (what the server
    logs for a tensor of rows): varied rows per request, none, and dtypes that differ."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        names = [f"c{i}" for i in range(rng.integers(1, 6))]
        values: list[Any] = []
        for _ in range(rng.integers(1, 6)):
            rows = int(rng.integers(0 if rng.random() < 0.05 else 1, 4))
            kind = (
                [np.float64, np.int64, np.float32][rng.integers(3)]
                if rng.random() < 0.1
                else np.float64
            )
            matrix = (rng.normal(size=(rows, len(names))) * 10).astype(kind)
            if rng.random() < 0.3:  # not C order, as a transposed array's view is
                matrix = np.asfortranarray(matrix)
            values.append(MatrixColumns(names, matrix))
        column = nested_column(values)
        assert column.equals(general(values)), values
        assert column.to_pylist() == [as_lists(v) for v in values]


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
