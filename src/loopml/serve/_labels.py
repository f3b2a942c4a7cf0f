"""What a label is, and how it is compared with a prediction.

A label is one value: text, a number or true/false (:func:`checked_label`; a list or an
object is refused where feedback comes in, as no prediction of a row is one). It is
read as the type of what was predicted, so that it compares with it: text holding a
number (``"1"``, as a CSV column of mixed labels gives it) reads as that number for a
model predicting numbers, ``2.0`` as the class ``2``, ``1`` and ``0`` as true and false
for a model predicting booleans, and a number as its text for a model predicting text.
A label that cannot be read so (``"yes"`` or ``2.5`` for a model predicting classes
0 and 1) is unreadable: the monitor leaves it out, and it rewards no bandit arm.

The rule has two forms, kept in this one place: :func:`label_as` reads one label (the
server scores a label on a request with it, so it stays a few type checks), and
:func:`labels_as` reads the feedback log's column of labels (JSON text) for the
monitor's join. ``tests/serve/test_rewards.py`` checks that they agree.

>>> label_as("0", 0), label_as(1.0, 1), label_as("yes", 1), label_as(1, "1")
(0, 1, None, '1')
>>> label_as("1", True), label_as(2, True)
(True, None)
>>> import polars as pl
>>> labels_as(pl.Series(['"0"', "1.0", '"yes"', "[0]"]), pl.Int64).to_list()
[0, 1, None, None]
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.serve._json import encode_json

if TYPE_CHECKING:
    import polars as pl

_SCALARS = (str, int, float, bool)
_INT64 = 2**63


def checked_label(label: Any) -> Any:
    """``label`` when it is one value (text, a finite number, true or false; a NumPy
    scalar as its Python value), None for None; else InvalidInput naming it."""
    if label is None or (type(label) in _SCALARS and type(label) is not float):
        return label
    if hasattr(label, "item") and getattr(label, "ndim", None) == 0:  # a NumPy scalar
        label = label.item()
    if isinstance(label, float) and not math.isfinite(label):
        raise InvalidInput(
            f"label {label!r} is not a value a prediction can have; give the true answer "
            "(text, a finite number, or true/false)",
            field="label",
        )
    if isinstance(label, _SCALARS):
        return label
    kind = f"a {type(label).__name__}"
    if isinstance(label, list | tuple | dict):
        kind = "an object" if isinstance(label, dict) else "a list"
    raise InvalidInput(
        f"label {encode_json(label)[:60]} is {kind}; a label is one value, the true answer "
        "for a row as the model predicts it: text, a number, or true/false (for a "
        "prediction of several rows, send one feedback per row with row)",
        field="label",
    )


def label_as(label: Any, predicted: Any) -> Any:
    """``label`` (one value, as :func:`checked_label` passes it) read as the type of
    ``predicted`` (one predicted value), as :func:`labels_as` reads a column of them;
    None when it cannot be read so."""
    if hasattr(predicted, "item") and not isinstance(predicted, str):
        predicted = predicted.item()  # NumPy's
    text = label if isinstance(label, str) else encode_json(label)
    if isinstance(predicted, bool):
        if text in ("true", "false"):
            return text == "true"
        number = _number(text)
        return {1.0: True, 0.0: False}.get(number) if number is not None else None
    if isinstance(predicted, Integral):
        number = _number(text)
        if number is None or not math.isfinite(number) or number != math.floor(number):
            return None
        return int(number) if -_INT64 <= number < _INT64 else None
    if isinstance(predicted, Real):
        return _number(text)
    return text


def _number(text: str) -> float | None:
    """``text`` as a number, as Polars casts text to Float64 (no spaces, no
    underscores, ASCII digits); None when it is none."""
    if not text.isascii() or "_" in text or text != text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        return None


def labels_as(text: pl.Series, predicted: pl.DataType) -> pl.Series:
    """Labels (the feedback log's JSON text) as the predictions' type ``predicted``:
    null where a label is none, or cannot be read so (a list or an object, written
    before they were refused, included)."""
    import polars as pl

    if text.dtype == pl.Null:
        text = text.cast(pl.String)
    one = ~(text.str.starts_with("[") | text.str.starts_with("{"))
    quoted = text.str.starts_with('"')
    text = pl.select(
        pl.when(quoted).then(_strings(text, quoted)).when(one).then(text).alias(text.name)
    ).to_series()
    if predicted.is_integer():  # 2 and 2.0 are the same label; 2.5 is none of a class's
        number = text.cast(pl.Float64, strict=False)
        whole = pl.when(number == number.floor()).then(number)
        return pl.select(whole.cast(predicted, strict=False)).to_series()
    if predicted == pl.Boolean:  # true and false, or 1 and 0 as numbers
        number = text.cast(pl.Float64, strict=False)
        truth = (
            pl.when(text == "true")
            .then(True)
            .when(text == "false")
            .then(False)
            .when(number == 1)
            .then(True)
            .when(number == 0)
            .then(False)
        )
        return pl.select(truth.alias(text.name)).to_series()
    if predicted.is_numeric():
        return text.cast(predicted, strict=False)
    return text


def _strings(text: pl.Series, quoted: pl.Series) -> pl.Series:
    """The text of the labels that are JSON strings (``quoted``), null for the others;
    one that is not valid JSON (a log written by hand) is null too."""
    import json

    import polars as pl

    only = pl.select(pl.when(quoted).then(text).otherwise(pl.lit('""'))).to_series()
    try:
        return only.str.json_decode(pl.String)
    except pl.exceptions.PolarsError:
        decoded: dict[str, str | None] = {}
        for value in text.filter(quoted).unique().to_list():
            try:
                found = json.loads(value)
            except ValueError:
                found = None
            decoded[value] = found if isinstance(found, str) else None
        return text.replace_strict(decoded, default=None, return_dtype=pl.String)
