"""MLflow's scoring-server formats for ``POST /invocations``, so MLflow's clients keep
working: JSON with exactly one of ``dataframe_split``, ``dataframe_records``,
``instances`` or ``inputs`` (and optionally ``params``), or CSV with a header row; the
answer is ``{"predictions": [...]}``, one value per row, as MLflow 2.x and 3.x send it.

The rows come back in a form a :class:`~loopml.models.Predictor` takes, without pandas:
a dict of column to values, a list of records, or — for rows given by position when the
model's columns are not known — a 2-D NumPy array.

>>> decode_invocations(b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5]]}}',
...                    "application/json").rows
{'a': [1], 'b': [2.5]}
>>> decode_invocations(b'{"inputs": [[1, "x"]]}', "application/json", ["n", "s"]).rows
{'n': [1], 's': ['x']}
>>> decode_invocations(b"a,b\\n1,x\\n2,\\n", "text/csv").rows
{'a': [1, 2], 'b': ['x', None]}
>>> decode_invocations(b'{"data": [[1]]}', "application/json")
Traceback (most recent call last):
  ...
loopml.errors.InvalidInput: the JSON body has keys data; give exactly one of ...
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from loopml.errors import InvalidInput
from loopml.serve._json import why_not_json

if TYPE_CHECKING:
    from loopml.models import Prediction

__all__ = [
    "CONTENT_TYPES",
    "FORMATS",
    "InvocationsRequest",
    "decode_invocations",
    "encode_invocations",
]

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CONTENT_TYPES = ("application/json", "text/csv")
_SHORT_COLUMN = 64
_ACCEPTED = (
    'a JSON object with exactly one of "dataframe_split" ({"columns": [...], "data": '
    '[[...], ...]}), "dataframe_records" ([{column: value, ...}, ...]), "instances" '
    '(a list of records or of rows) or "inputs" ({column: [values]} or a list of rows), '
    'and optionally "params"; or text/csv with a header row'
)


@dataclass(frozen=True)
class InvocationsRequest:
    """The rows of an ``/invocations`` request: a dict of column to values, a list of
    records, or a 2-D NumPy array of rows by position; the ``format`` they came in (one
    of :data:`FORMATS`, or ``csv``) and MLflow's ``params`` (None when not given)."""

    rows: Any
    format: str
    params: dict[str, Any] | None


def decode_invocations(
    body: bytes,
    content_type: str | None,
    features: Sequence[str] | None = None,
    text_columns: Collection[str] = (),
) -> InvocationsRequest:
    """The rows of an ``/invocations`` body. ``content_type`` is the request's header
    (``application/json`` when None); ``features`` are the model's columns in its order,
    to name rows given by position (None: they stay a 2-D array); ``text_columns`` those
    it takes as text, which a CSV body gives as text whatever they look like (zip
    codes, ``true``)."""
    mime = _check_content_type(content_type)
    if mime == "text/csv":
        return InvocationsRequest(_csv_rows(body, text_columns), "csv", None)
    if mime != "application/json":
        raise InvalidInput(
            f"Content-Type {content_type!r} is not a format /invocations reads; send {_ACCEPTED}",
            field="Content-Type",
        )
    try:
        given = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(
            f"the request body is not valid JSON ({why_not_json(error, body)}); send {_ACCEPTED}",
            field="body",
        ) from None
    if not isinstance(given, dict):
        raise InvalidInput(
            f"the JSON body is a {type(given).__name__}; give {_ACCEPTED}", field="body"
        )
    keys = [key for key in given if key in FORMATS]
    others = [key for key in given if key not in FORMATS and key != "params"]
    if len(keys) != 1 or others:
        raise InvalidInput(
            f"the JSON body has keys {', '.join(given) or '(none)'}; give exactly one of "
            f"{', '.join(FORMATS)}: {_ACCEPTED}",
            field=(others or keys[1:] or ["body"])[0],
        )
    params = given.get("params")
    if params is not None and not isinstance(params, dict):
        raise InvalidInput(
            f'"params" is a {type(params).__name__}; give an object of parameter values',
            field="params",
        )
    key = keys[0]
    value = given[key]
    if key == "dataframe_split":
        rows = _split(value, features)
    elif key == "dataframe_records":
        rows = _records(value, key)
    elif key == "instances":
        rows = _instances(value, features)
    else:
        rows = _inputs(value, features)
    return InvocationsRequest(rows, key, params)


def _check_content_type(content_type: str | None) -> str:
    """The media type, lowercase; InvalidInput for a charset other than UTF-8 or another
    parameter (MLflow 1.x's ``format=pandas-split``, say)."""
    mime, *options = (content_type or "application/json").split(";")
    for option in filter(None, (option.strip() for option in options)):
        key, _, value = option.partition("=")
        key, value = key.strip().lower(), value.strip().strip('"').lower()
        if key != "charset":
            raise InvalidInput(
                f"Content-Type {content_type!r} has the parameter {option!r}, which "
                f"/invocations does not read (MLflow 1.x's request formats are gone); send "
                f"{_ACCEPTED}",
                field="Content-Type",
            )
        if value.replace("-", "") != "utf8":
            raise InvalidInput(
                f"Content-Type {content_type!r} asks for charset {value}; send UTF-8",
                field="Content-Type",
            )
    return mime.strip().lower()


def encode_invocations(prediction: Prediction) -> bytes:
    """``{"predictions": [...]}``: one value per row, as MLflow answers for a model
    whose ``predict`` returns an array (a classifier's labels, a regressor's numbers)."""
    values = prediction.predictions
    if values.dtype.kind in "biuf" and values.dtype.isnative:
        return orjson.dumps({"predictions": values}, option=orjson.OPT_SERIALIZE_NUMPY)
    return orjson.dumps({"predictions": values.tolist()})


# -- the JSON formats -----------------------------------------------------------------------


def _split(value: Any, features: Sequence[str] | None) -> Any:
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise InvalidInput(
            f'"dataframe_split" is {_shown(value)}; give {{"columns": [names], "data": '
            '[[row values], ...]} ("index" may be given and is ignored)',
            field="dataframe_split",
        )
    data = value["data"]
    columns = value.get("columns")
    if columns is None:
        return _by_position(data, features, "dataframe_split.data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InvalidInput(
            f'"dataframe_split.columns" is {_shown(columns)}; give a list of column names',
            field="dataframe_split.columns",
        )
    return _named_rows(data, columns, "dataframe_split.data")


def _records(value: Any, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value or not all(isinstance(r, dict) for r in value):
        raise InvalidInput(
            f'"{field}" is {_shown(value)}; give a non-empty list of records, '
            "[{column: value, ...}, ...]",
            field=field,
        )
    return value


def _instances(value: Any, features: Sequence[str] | None) -> Any:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return _records(value, "instances")
    if not isinstance(value, list) or not value:
        raise InvalidInput(
            f'"instances" is {_shown(value)}; give a list of records or a list of rows',
            field="instances",
        )
    return _by_position(value, features, "instances")


def _inputs(value: Any, features: Sequence[str] | None) -> Any:
    if isinstance(value, dict):
        if not value:
            raise InvalidInput(
                '"inputs" is an empty object; give {column: [values]}', field="inputs"
            )
        return value
    if not isinstance(value, list) or not value:
        raise InvalidInput(
            f'"inputs" is {_shown(value)}; give {{column: [values], ...}} or a list of rows',
            field="inputs",
        )
    if isinstance(value[0], dict):
        return _records(value, "inputs")
    return _by_position(value, features, "inputs")


def _by_position(data: Any, features: Sequence[str] | None, field: str) -> Any:
    """Rows given by position: named by ``features`` when known, else a 2-D array."""
    if features is not None:
        if data and not isinstance(data[0], list) and len(features) == 1:
            data = [[item] for item in data]  # one column given as a flat list
        return _named_rows(data, list(features), field)
    _check_rows(data, None, field)
    try:
        array = np.asarray(data)
    except (ValueError, TypeError):
        array = None
    if array is None or array.ndim != 2 or array.dtype.kind not in "biufU":
        raise InvalidInput(
            f"{field} is not a table of rows of the same length and of one type; give "
            "[[row values], ...] or name the columns",
            field=field,
        )
    return array


def _named_rows(data: Any, columns: list[str], field: str) -> dict[str, list[Any]]:
    if len(set(columns)) < len(columns):
        twice = sorted({c for c in columns if columns.count(c) > 1})
        raise InvalidInput(f"columns named twice: {', '.join(twice)}", field=twice[0])
    _check_rows(data, len(columns), field)
    if not data:
        return {name: [] for name in columns}
    return {
        name: list(values) for name, values in zip(columns, zip(*data, strict=True), strict=True)
    }


def _check_rows(data: Any, width: int | None, field: str) -> None:
    if not isinstance(data, list) or not data:
        raise InvalidInput(f"{field} is {_shown(data)}; give a non-empty list of rows", field=field)
    for position, row in enumerate(data):
        if not isinstance(row, list) or (width is not None and len(row) != width):
            wanted = f"a list of {width} value(s)" if width is not None else "a list of values"
            raise InvalidInput(
                f"{field}[{position}] is {_shown(row)}; each row is {wanted}, one per column",
                field=field,
            )


# -- CSV ------------------------------------------------------------------------------------


def _csv_rows(body: bytes, text_columns: Collection[str] = ()) -> dict[str, list[Any]]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the CSV body is not UTF-8 text; send UTF-8", field="body") from None
    lines = list(csv.reader(io.StringIO(text)))
    lines = [line for line in lines if line]
    if len(lines) < 2:
        raise InvalidInput(
            "the CSV body needs a header row and at least one row of values "
            "(as pandas.DataFrame.to_csv(index=False) writes)",
            field="body",
        )
    header, rows = lines[0], lines[1:]
    for position, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise InvalidInput(
                f"CSV line {position} has {len(row)} value(s) where the header names "
                f"{len(header)} column(s); give one value per column",
                field="body",
            )
    return {
        name: _as_text(values) if name in text_columns else _typed(list(values))
        for name, values in zip(header, zip(*rows, strict=True), strict=True)
    }


def _as_text(values: Sequence[str]) -> list[Any]:
    return [value if value != "" else None for value in values]


def _typed(values: list[str]) -> list[Any]:
    """A CSV column's values read as pandas reads them: integers, else numbers, else
    true/false, else text; an empty field is a missing value (None, which keeps an
    integer column integer where pandas would turn it to floats)."""
    present = [value for value in values if value != ""]
    if not present:
        return [None] * len(values)
    integers = all(value.lstrip("+-").isdigit() for value in present)
    for kind in (int, float) if integers else (float,):
        try:
            converted = _converted(present, kind)
        except (ValueError, OverflowError):
            continue
        if len(present) == len(values):
            return converted
        found = iter(converted)
        return [next(found) if value != "" else None for value in values]
    if {value.lower() for value in present} <= {"true", "false"}:
        return [None if value == "" else value.lower() == "true" for value in values]
    return _as_text(values)


def _converted(values: list[str], kind: type[int] | type[float]) -> list[Any]:
    # NumPy converts long columns faster; Python's int() and float() short ones
    # (a single-row request's 30 columns: 10 us where NumPy takes 140 us)
    if len(values) <= _SHORT_COLUMN:
        return [kind(value) for value in values]
    converted: list[Any] = np.array(values).astype(np.int64 if kind is int else np.float64).tolist()
    return converted


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
