"""A model's signature: the columns it was trained on, with types, and what it returns.

>>> import numpy as np, pandas as pd
>>> X = pd.DataFrame({"age": [31, 45], "income": [1.5, 2.0], "city": ["Oslo", "Rome"]})
>>> signature = infer_signature(X, np.array([0, 1]))
>>> [(column.name, column.type) for column in signature.inputs]
[('age', 'integer'), ('income', 'float'), ('city', 'string')]
>>> signature.check(pd.DataFrame({"age": [50.5], "income": ["high"], "zip": ["0150"]}))
Traceback (most recent call last):
  ...
loopml.errors.InvalidInput: input does not match the model's signature: missing column city; ...
>>> Signature.from_dict(signature.to_dict()) == signature
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loopml.errors import InvalidInput
from loopml.models import _types as types
from loopml.models._flavors import library_flavor

_PREDICT_ROWS = 5  # rows predicted to learn the output's shape and dtype
# The most distinct values of a text or category column a signature keeps (more: an id
# or free text, whose values no model is expected to have seen).
KNOWN_VALUES = 1_000
_LONGEST_VALUE = 200  # characters: a column holding longer text keeps none
_SHOWN = 20  # columns listed in an error before "..."


@dataclass(frozen=True)
class ColumnSpec:
    """An input column: its ``name``, its ``type`` (see :mod:`loopml.models._types`)
    and the ``dtype`` the training data had, as its library printed it; for a column of
    text or categories, the ``values`` it held (sorted, as text), when there were at
    most :data:`KNOWN_VALUES`: a model that fails on a value it never saw (an encoder
    that refuses unknown categories) has its failure told as the rows' fault."""

    name: str
    type: str
    dtype: str
    values: tuple[str, ...] | None = None


@dataclass(frozen=True)
class OutputSpec:
    """What ``predict`` returns: ``shape`` with -1 for the rows, its ``type`` and
    ``dtype``, and a classifier's ``classes`` (from ``classes_``), else None."""

    shape: tuple[int, ...]
    type: str
    dtype: str
    classes: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class Signature:
    """The input columns and the output of a model; ``check`` a batch against it.

    ``source`` is the kind of table it was inferred from (``pandas``, ``polars``,
    ``arrow`` or ``numpy``, whose columns are named ``x0``, ``x1``, ...).
    """

    inputs: tuple[ColumnSpec, ...]
    output: OutputSpec | None = None
    source: str = "pandas"
    _types: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_types", {c.name: c.type for c in self.inputs})

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.inputs]

    def check(self, batch: Any) -> None:
        """InvalidInput naming the missing columns, the unknown ones and those whose
        type does not fit (its ``field`` the first of them); None when the batch fits.

        Takes what :func:`infer_signature` takes, and also a mapping of column name to
        values (or to one value) and a list of such records. Column types are read
        from the table's schema; only ``object`` columns have their values looked at.
        """
        expected = self._types
        seen: set[str] = set()
        unknown: list[str] = []
        wrong: list[str] = []
        wrong_names: list[str] = []
        for name, get_type in types.columns(batch, self.names):
            if name not in expected:
                unknown.append(name)
                continue
            seen.add(name)
            got = get_type()
            if not types.fits(expected[name], got):
                wrong.append(f"{name} is {got} where {expected[name]} is expected")
                wrong_names.append(name)
        if unknown or wrong or len(seen) < len(expected):
            missing = [name for name in expected if name not in seen]
            field = (missing or unknown or wrong_names)[0]
            raise InvalidInput(self._mismatch(missing, unknown, wrong), field=field)

    def _mismatch(self, missing: list[str], unknown: list[str], wrong: list[str]) -> str:
        parts = []
        if missing:
            parts.append(f"missing column{'s' * (len(missing) > 1)} {_listed(missing)}")
        if unknown:
            parts.append(f"unknown column{'s' * (len(unknown) > 1)} {_listed(unknown)}")
        if wrong:
            parts.append(f"wrong type: {_listed(wrong, sep='; ')}")
        wanted = _listed([f"{c.name} ({c.type})" for c in self.inputs])
        return f"input does not match the model's signature: {'; '.join(parts)}; send {wanted}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reads it back."""
        output: dict[str, Any] | None = None
        if self.output is not None:
            out = self.output
            classes = None if out.classes is None else list(out.classes)
            output = {"shape": list(out.shape), "type": out.type, "dtype": out.dtype}
            output["classes"] = classes
        inputs: list[dict[str, Any]] = []
        for c in self.inputs:
            inputs.append({"name": c.name, "type": c.type, "dtype": c.dtype})
            if c.values is not None:
                inputs[-1]["values"] = list(c.values)
        return {"inputs": inputs, "output": output, "source": self.source}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        out = data.get("output")
        output = None
        if out is not None:
            classes = out.get("classes")
            output = OutputSpec(
                tuple(out["shape"]),
                out["type"],
                out["dtype"],
                None if classes is None else tuple(classes),
            )
        inputs = tuple(
            ColumnSpec(
                c["name"],
                c["type"],
                c["dtype"],
                None if c.get("values") is None else tuple(c["values"]),
            )
            for c in data["inputs"]
        )
        return cls(inputs, output, data.get("source", "pandas"))


def infer_signature(X: Any, y_pred_or_model: Any = None) -> Signature:
    """The signature of a model trained on ``X`` (a pandas or Polars DataFrame, an
    Arrow table or a 2-D NumPy array), with the output taken from predictions or from
    a model: its ``predict`` is run on a few rows of ``X`` and a classifier's
    ``classes_`` are kept. A model without ``predict`` (a torch module, an ONNX
    graph) or None gives a signature of the inputs alone."""
    source, columns = types.table(X)
    names = [name for name, _, _ in columns]
    if len(set(names)) < len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise InvalidInput(f"X has columns named twice ({_listed(twice)}); rename them")
    inputs = tuple(
        ColumnSpec(name, kind, str(dtype), _known_values(X, source, at) if kind in _TEXT else None)
        for at, (name, kind, dtype) in enumerate((n, t(), d) for n, t, d in columns)
    )
    output = None
    model = y_pred_or_model
    if model is not None and (hasattr(model, "predict") or library_flavor(model) is None):
        output = _output(X, model)
    return Signature(inputs, output, source)


_TEXT = frozenset({"string", "category"})


def _known_values(X: Any, source: str, at: int) -> tuple[str, ...] | None:
    """The distinct values of column ``at`` of training data ``X``, as text, sorted;
    None when there are more than :data:`KNOWN_VALUES` or one is very long."""
    if source == "pandas":
        values = X.iloc[:, at].dropna().unique()
    elif source == "polars":
        values = X.to_series(at).drop_nulls().unique().to_list()
    elif source == "arrow":  # the column alone: the table is not converted
        column = X.column(at)
        values = column.unique().drop_null().to_pylist()
    else:
        values = [v for v in set(X[:, at].tolist()) if v is not None]
    if len(values) > KNOWN_VALUES:
        return None
    found = sorted({str(value) for value in values})
    return None if any(len(value) > _LONGEST_VALUE for value in found) else tuple(found)


# -- the output -------------------------------------------------------------------------


def _output(X: Any, y_pred_or_model: Any) -> OutputSpec:
    import numpy as np

    classes = None
    predict = getattr(y_pred_or_model, "predict", None)
    if callable(predict) and not isinstance(y_pred_or_model, type):
        try:
            y = predict(head(X, _PREDICT_ROWS))
        except Exception as error:
            raise InvalidInput(
                f"cannot infer the output: {type(y_pred_or_model).__qualname__}.predict "
                f"fails on the first rows of X ({type(error).__name__}: {error}); pass its "
                "predictions instead: infer_signature(X, model_predictions)"
            ) from None
        found = getattr(y_pred_or_model, "classes_", None)
        classes = None if found is None else tuple(_plain(c) for c in found)
    else:
        y = y_pred_or_model
    try:
        array = np.asarray(y)
    except Exception as error:
        raise InvalidInput(
            f"the predictions ({type(y).__qualname__}) cannot be read as an array ({error}); "
            "give a NumPy array, a list or a Series"
        ) from None
    kind = types.numpy_type(array.dtype) or types.values_type(array.ravel().tolist())
    shape = (-1, *array.shape[1:]) if array.ndim else (-1,)
    return OutputSpec(shape, kind, str(array.dtype), classes)


def head(X: Any, rows: int) -> Any:
    if hasattr(X, "iloc"):
        return X.iloc[:rows]
    if hasattr(X, "head"):
        return X.head(rows)
    if hasattr(X, "slice") and hasattr(X, "schema"):
        return X.slice(0, rows)
    return X[:rows]


def _plain(value: Any) -> Any:
    item = value.item() if hasattr(value, "item") else value
    return item if isinstance(item, bool | int | float | str) or item is None else str(item)


def _listed(items: list[str], sep: str = ", ") -> str:
    shown = sep.join(items[:_SHOWN])
    return f"{shown}{sep}... ({len(items)} in all)" if len(items) > _SHOWN else shown
