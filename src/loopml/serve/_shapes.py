"""From V2 tensors to the rows a :class:`~loopml.models.Predictor` takes, and from its
:class:`~loopml.models.Prediction` to output tensors; a model's V2 metadata.

A request gives a model's columns in one of two ways:

- one tensor per column, named by the column, each of shape ``[n]`` or ``[n, 1]``:
  the rows are a dict of column to 1-D array (``BYTES`` columns become text);
- one tensor of shape ``[n, k]`` (any name) where ``k`` is the number of columns: a 2-D
  array, its columns matched by position, in the model's order.

The answer has ``predictions`` (shape ``[n]``) and, for a classifier, ``probabilities``
(FP64, ``[n, c]``, one column per class). The classes go in the response's parameters as
``classes``: a JSON array in a string (V2 parameters hold only scalars), in the order of
the probabilities' columns.

>>> import numpy as np
>>> from loopml.serve._tensors import tensor_of
>>> rows = rows_from_tensors([tensor_of("age", np.array([31, 45])),
...                           tensor_of("city", np.array(["Oslo", "Rome"]))], ["age", "city"], None)
>>> {name: column.tolist() for name, column in rows.items()}
{'age': [31, 45], 'city': ['Oslo', 'Rome']}
>>> rows_from_tensors([tensor_of("x", np.ones((1, 2)))], ["a", "b"], None).shape
(1, 2)
>>> rows_from_tensors([tensor_of("x", np.ones((1, 3)))], ["a", "b"], None)
Traceback (most recent call last):
  ...
loopml.errors.InvalidInput: input x has 3 column(s) (shape [1, 3]) where the model takes 2: ...
>>> rows_from_tensors([tensor_of("x", np.ones(2))], ["a", "b"], None)
Traceback (most recent call last):
  ...
loopml.errors.InvalidInput: the model takes a, b: ... (missing a, b; unknown x)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from loopml.errors import InvalidInput
from loopml.serve._tensors import Tensor, datatype_of, tensor_of

if TYPE_CHECKING:
    from loopml.models import Prediction
    from loopml.models._signature import ColumnSpec, Signature

__all__ = ["model_metadata", "response_parameters", "rows_from_tensors", "tensors_from_prediction"]

PREDICTIONS = "predictions"
PROBABILITIES = "probabilities"
CLASSES = "classes"
_SHOWN = 12
# a signature's column type -> its V2 datatype, where its dtype does not say better
_BY_TYPE = {"bool": "BOOL", "integer": "INT64", "float": "FP64"}


def rows_from_tensors(
    inputs: Sequence[Tensor], features: list[str] | None, signature: Signature | None
) -> Any:
    """The rows ``inputs`` carry, for a model taking the columns ``features`` (None: it
    does not say; then named tensors are taken as they come); InvalidInput naming the
    inputs the model expects when they fit neither way."""
    if len(inputs) == 1 and inputs[0].data.ndim == 2:
        only = inputs[0]
        width = only.shape[1]
        named_column = features is not None and only.name in features and width == 1
        if not named_column and (features is None or width == len(features)):
            return _positional(only)
        if not named_column and features is not None and len(features) > 1:  # wrong width
            raise InvalidInput(
                f"input {only.name} has {width} column(s) (shape {list(only.shape)}) where "
                f"the model takes {len(features)}: {_listed(features)}; send one tensor of "
                f"shape [-1, {len(features)}] holding them in that order, or one tensor per "
                "column, named by it",
                field="inputs[0].shape",
            )
    if features is not None:
        names = {tensor.name for tensor in inputs}
        unknown = [tensor.name for tensor in inputs if tensor.name not in features]
        missing = [name for name in features if name not in names]
        if unknown or missing or len(names) < len(inputs):
            raise InvalidInput(
                _expected(features, signature, missing, unknown),
                field=(missing or unknown or [inputs[0].name])[0],
            )
    return _columns(inputs)


def _positional(tensor: Tensor) -> Any:
    data = tensor.data
    if tensor.datatype == "BYTES":
        return _text(data, tensor.name)
    return data


def _columns(inputs: Sequence[Tensor]) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    rows = None
    for tensor in inputs:
        data = tensor.data
        if data.ndim == 2 and data.shape[1] == 1:
            data = data[:, 0]
        if data.ndim != 1:
            raise InvalidInput(
                f"input {tensor.name} has shape {list(tensor.shape)}; a column takes shape "
                "[n] or [n, 1] (one value per row)",
                field=tensor.name,
            )
        if rows is None:
            rows = len(data)
        elif len(data) != rows:
            first = inputs[0].name
            raise InvalidInput(
                f"input {tensor.name} has {len(data)} row(s) where {first} has {rows}; give "
                "every column one value per row",
                field=tensor.name,
            )
        columns[tensor.name] = _text(data, tensor.name) if tensor.datatype == "BYTES" else data
    return columns


def _text(data: Any, name: str) -> Any:
    flat = data.reshape(-1)
    out = np.empty(flat.shape, dtype=object)
    try:
        for i, item in enumerate(flat.tolist()):
            out[i] = item.decode()
    except UnicodeDecodeError:
        raise InvalidInput(
            f"input {name} holds bytes that are not UTF-8 text; a text column takes UTF-8",
            field=name,
        ) from None
    return out.reshape(data.shape)


def _expected(
    features: list[str], signature: Signature | None, missing: list[str], unknown: list[str]
) -> str:
    problems = []
    if missing:
        problems.append(f"missing {_listed(missing)}")
    if unknown:
        problems.append(f"unknown {_listed(unknown)}")
    if signature is not None:
        wanted = _listed([f"{c.name} ({column_datatype(c)}, shape [-1])" for c in signature.inputs])
    else:
        wanted = _listed(features)
    found = f" ({'; '.join(problems)})" if problems else ""
    return (
        f"the model takes {_listed(features)}: send one tensor per column, named by it, of "
        f"shape [-1] or [-1, 1] ({wanted}), or one tensor of shape [-1, {len(features)}] "
        f"holding them in that order{found}"
    )


def _listed(names: list[str]) -> str:
    text = ", ".join(names[:_SHOWN])
    return f"{text}, ... ({len(names)} in all)" if len(names) > _SHOWN else text


# -- the answer -----------------------------------------------------------------------------


def tensors_from_prediction(prediction: Prediction) -> list[Tensor]:
    """``predictions`` ([n], its datatype from the values' dtype; text as BYTES) and, for
    a classifier, ``probabilities`` (FP64, [n, c])."""
    tensors = [tensor_of(PREDICTIONS, prediction.predictions)]
    if prediction.probabilities is not None:
        probabilities = np.asarray(prediction.probabilities, dtype=np.float64)
        tensors.append(tensor_of(PROBABILITIES, probabilities))
    return tensors


def response_parameters(prediction: Prediction) -> dict[str, Any]:
    """The response's parameters: ``classes``, a JSON array in a string, for a classifier
    with probabilities (read it back with ``json.loads``)."""
    if prediction.classes is None or prediction.probabilities is None:
        return {}
    return {CLASSES: orjson.dumps(prediction.classes.tolist()).decode()}


def model_metadata(
    name: str, versions: Sequence[str], signature: Signature | None, platform: str
) -> dict[str, Any]:
    """V2's model metadata response: ``name``, ``versions``, ``platform``, ``inputs`` (one
    per column of the signature: name, datatype, shape [-1]) and ``outputs``."""
    inputs = []
    outputs: list[dict[str, Any]] = []
    if signature is not None:
        inputs = [
            {"name": c.name, "datatype": column_datatype(c), "shape": [-1]}
            for c in signature.inputs
        ]
        output = signature.output
        if output is not None:
            datatype = _dtype_datatype(output.dtype) or _BY_TYPE.get(output.type, "BYTES")
            outputs.append({"name": PREDICTIONS, "datatype": datatype, "shape": [-1]})
            if output.classes is not None:
                outputs.append(
                    {"name": PROBABILITIES, "datatype": "FP64", "shape": [-1, len(output.classes)]}
                )
    return {
        "name": name,
        "versions": list(versions),
        "platform": platform,
        "inputs": inputs,
        "outputs": outputs,
    }


def column_datatype(column: ColumnSpec) -> str:
    """The V2 datatype a column is sent as: its dtype's when it names a NumPy number
    type (``int32`` -> INT32, Polars' ``Float32`` -> FP32), else by its type (integer ->
    INT64, float -> FP64, bool -> BOOL, anything else -> BYTES)."""
    return _dtype_datatype(column.dtype) or _BY_TYPE.get(column.type, "BYTES")


def _dtype_datatype(dtype: str) -> str | None:
    try:
        found = np.dtype(dtype.lower())
    except (TypeError, ValueError, SyntaxError):
        return None
    return datatype_of(found) if found.kind in "biuf" else None
