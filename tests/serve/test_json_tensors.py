"""A large V2 JSON request read by simdjson (the tensors straight into arrays) decodes to
exactly what the orjson way gives, or is left to the orjson way: the same tensors, or
the same error, for requests well and badly formed."""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
import pytest

from loopml.errors import InvalidInput
from loopml.serve import _json_tensors
from loopml.serve._v2 import decode_rest

pytest.importorskip("simdjson")

ROWS, WIDTH = 600, 30  # a body of about 100 kB: above the size simdjson is used from


def _rows(seed: int = 0) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(size=(ROWS, WIDTH)) * 100, 4).tolist()  # type: ignore[no-any-return]


def _body(data: Any = None, datatype: str = "FP64", shape: Any = None, **extra: Any) -> bytes:
    tensor = {
        "name": extra.pop("name", "input"),
        "shape": shape if shape is not None else [ROWS, WIDTH],
        "datatype": datatype,
        "data": _rows() if data is None else data,
        **extra.pop("tensor", {}),
    }
    return json.dumps({"inputs": [tensor], **extra}).encode()


def _changed(row: int, column: int, value: Any) -> list[Any]:
    rows: list[Any] = _rows()
    rows[row] = list(rows[row])
    rows[row][column] = value
    return rows


def _outcome(body: bytes) -> Any:
    try:
        request = decode_rest(body, None)
    except InvalidInput as error:
        return ("refused", error.field, str(error))
    return (
        request.id,
        request.parameters,
        request.outputs,
        [(t.name, t.datatype, t.shape, t.data.dtype, _values(t.data)) for t in request.inputs],
    )


def _values(data: np.ndarray[Any, Any]) -> Any:
    """Every bit of numbers (-0.0 is not 0.0); BYTES as their values."""
    return data.tolist() if data.dtype == object else data.tobytes()


def _both_ways(body: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast = _outcome(body)
    with monkeypatch.context() as patch:
        patch.setattr(_json_tensors, "_simdjson", lambda: None)
        slow = _outcome(body)
    return fast, slow


READ_FAST = {
    "nested rows": _body(),
    "flat": _body(data=[v for row in _rows() for v in row]),
    "integers among the decimals": _body(data=_changed(5, 3, 7)),
    "all integers as FP32": _body(data=[[i + j for j in range(WIDTH)] for i in range(ROWS)],
                                  datatype="FP32"),
    "INT32": _body(data=[[i * j for j in range(WIDTH)] for i in range(ROWS)], datatype="INT32"),
    "out of the range of INT8": _body(data=[[i * j for j in range(WIDTH)] for i in range(ROWS)],
                                      datatype="INT8"),
    "negative for UINT16": _body(data=[[-j for j in range(WIDTH)] for _ in range(ROWS)],
                                 datatype="UINT16"),
    "doubles of every magnitude, to the last digit": _body(data=(
        np.random.default_rng(3).normal(size=(ROWS, WIDTH))
        * 10.0 ** np.random.default_rng(4).integers(-320, 300, size=(ROWS, WIDTH))
    ).tolist()),
    "signed zeros and the ends of float64": _body(data=[
        *_changed(1, 0, -0.0)[:2],
        [5e-324, -2.2250738585072014e-308, 1.7976931348623157e308] * 10,
        *_rows()[3:],
    ]),
    "shape other than the nesting": _body(shape=[ROWS * WIDTH]),
    "too few values for the shape": _body(shape=[ROWS + 1, WIDTH]),
    "with id, parameters and outputs": _body(
        id="r-1", parameters={"tag": ["a", "b"], "n": 3},
        outputs=[{"name": "predictions"}], tensor={"parameters": {"content_type": "np"}}),
    "a key after the data": json.dumps(
        {"inputs": [{"data": _rows(), "name": "x", "shape": [ROWS, WIDTH], "datatype": "FP64"}],
         "id": "z"}).encode(),
    "whitespace everywhere": json.dumps(
        {"inputs": [{"name": "x", "shape": [ROWS, WIDTH], "datatype": "FP64", "data": _rows()}]},
        indent=3).encode(),
}  # fmt: skip

READ_SLOWLY = {
    "ragged rows": _body(data=[*_rows()[:-1], _rows()[-1][:-1]]),
    "a list inside a row": _body(data=_changed(300, 4, [1.5])),
    "a list of two inside a row, one shorter": _body(
        data=[*_changed(300, 4, [1.5, 2.5])[:299], _rows()[299][:-1], *_rows()[300:]]),
    "a number among the rows": _body(data=[*_rows()[:10], 3.0, *_rows()[11:]]),
    "a list among flat values": _body(data=[1.0, [2.0]] + [0.5] * (ROWS * WIDTH - 2),
                                      shape=[ROWS * WIDTH]),
    "text among the numbers": _body(data=_changed(10, 2, "1.5")),
    "null among the numbers": _body(data=_changed(10, 2, None)),
    "true among the numbers": _body(data=_changed(10, 2, True)),
    "a decimal in an INT32 tensor": _body(
        data=[[i * j + (0.5 if (i, j) == (3, 3) else 0) for j in range(WIDTH)]
              for i in range(ROWS)], datatype="INT32"),
    "BOOL": _body(data=[[j % 2 == 0 for j in range(WIDTH)] for _ in range(ROWS)],
                  datatype="BOOL"),
    "BYTES": _body(data=[[str(j) for j in range(WIDTH)] for _ in range(ROWS)],
                   datatype="BYTES"),
    "UINT64 past INT64": _body(data=[[2**63 + j for j in range(WIDTH)] for _ in range(ROWS)],
                               datatype="UINT64"),
    "an unknown datatype": _body(datatype="FP8"),
    "three levels": _body(data=[[[v] for v in row] for row in _rows()]),
    "a [ in a name": _body(name="x[0]"),
    "an escaped [ in a name": _body(name="x[0]").replace(b'"x[0]"', b'"x\\u005b0]"'),
    "the data given twice": _body().replace(b'"data": [[', b'"data": [[1.0]], "data": [[', 1),
    "the inputs given twice": _body().replace(b'{"inputs": [', b'{"inputs": [], "inputs": [', 1),
    "empty data": _body(data=[] + [[]] * 0, shape=[0, WIDTH], tensor={"pad": "x" * 20_000}),
    "a number past float64": _body().replace(b"]]", b", 1e400]]", 1),
    "NaN": _body().replace(b"]]", b", NaN]]", 1),
    "not JSON": _body()[:-3],
    "a byte order mark first": b"\xef\xbb\xbf" + _body(),
    "inputs not a list": json.dumps({"inputs": {"data": _rows()}}).encode(),
    "an input not an object": json.dumps({"inputs": [_rows()]}).encode(),
}  # fmt: skip


@pytest.mark.parametrize("body", READ_FAST.values(), ids=READ_FAST.keys())
def test_requests_read_by_simdjson_decode_as_with_orjson(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(body) >= _json_tensors.SMALLEST
    assert _json_tensors.loads_with_arrays(body) is not None  # the fast way was taken
    fast, slow = _both_ways(body, monkeypatch)
    assert fast == slow


@pytest.mark.parametrize("body", READ_SLOWLY.values(), ids=READ_SLOWLY.keys())
def test_requests_simdjson_cannot_read_alike_are_left_to_orjson(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(body) >= _json_tensors.SMALLEST
    assert _json_tensors.loads_with_arrays(body) is None
    fast, slow = _both_ways(body, monkeypatch)
    assert fast == slow


def test_random_nestings_decode_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows changed at random (a value made a list, text, null, another row's length,
    a value dropped or added): both ways agree on every one, the fast way never
    accepting what the slow one refuses."""
    rng = random.Random(7)
    changes = [
        lambda row, j: row.__setitem__(j, [row[j]]),
        lambda row, j: row.__setitem__(j, [row[j], 1.0]),
        lambda row, j: row.__setitem__(j, []),
        lambda row, j: row.__setitem__(j, str(row[j])),
        lambda row, j: row.__setitem__(j, None),
        lambda row, j: row.__setitem__(j, int(row[j])),
        lambda row, j: row.pop(j),
        lambda row, j: row.insert(j, 0.25),
    ]
    accepted = 0
    for _ in range(40):
        rows: list[Any] = [list(row) for row in _rows(rng.randrange(100))]
        for _ in range(rng.randrange(1, 4)):
            change = rng.choice(changes)
            change(rows[rng.randrange(ROWS)], rng.randrange(WIDTH - 1))
        fast, slow = _both_ways(_body(data=rows), monkeypatch)
        assert fast == slow
        accepted += fast[0] != "refused"
    assert 0 < accepted < 40  # both kinds of case were met
