"""How the server calls one loaded model version on the rows of a batch of requests.

Rows reach the server as :data:`Columns`: a dict of column name to a 1-D NumPy array,
every array of the same length (the protocols decode to it: see :func:`as_columns`).
Requests to one version are batched by concatenating their columns, so one call of the
model answers them all (see :mod:`loopml.serve._batching`).

A :class:`VersionCall` checks a request's columns against the version's signature with
the :class:`~loopml.models.Predictor`'s own check, then calls the model one of two ways:

- *direct*: a scikit-learn-style model whose inputs are all numeric gets one float64
  array of its columns in its order. Most served models are of this kind, and it skips
  building a DataFrame per batch (the largest cost of a small request).
- *through the Predictor*: everything else (text columns, pipelines that select columns
  by name, ONNX, torch), exactly as in-process callers get it.

The direct way is taken only when it gives what the Predictor gives: at load, both are
run on probe rows and compared, and any difference (or error) keeps the Predictor's way.
A model fitted on a pandas frame is compared with its call on a frame; where pandas is
not installed (a serving environment need not have it) that call cannot be made, and
the direct way is taken for a model made only of scikit-learn's own estimators, which
turn a numeric frame into the very array the direct way gives them (a
``FunctionTransformer``, or anything from another package, could tell them apart: such
a model needs pandas to be served).

>>> import numpy as np, pandas as pd
>>> from sklearn.linear_model import LogisticRegression
>>> from loopml.models import Predictor, infer_signature
>>> X = pd.DataFrame({"a": [0.0, 1.0, 0.2, 0.9], "b": [1.0, 0.0, 0.9, 0.1]})
>>> model = LogisticRegression().fit(X, [0, 1, 0, 1])
>>> signature = infer_signature(X)
>>> call = VersionCall(Predictor(model, signature=signature))
>>> call.direct
True
>>> rows = as_columns({"a": [0.1, 0.8], "b": [0.9, 0.3]})
>>> found = call.run(rows, probabilities=True)
>>> found.predictions.tolist(), found.probabilities.shape
([0, 1], (2, 2))
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.models import Prediction, Predictor
from loopml.models._base import first_line
from loopml.models._missing import at_fault, refused
from loopml.models._types import fits as type_fits
from loopml.models._types import numpy_type
from loopml.serve._columns import MatrixColumns
from loopml.serve._shapes import PREDICTIONS, PROBABILITIES

if TYPE_CHECKING:
    import numpy.typing as npt

#: the rows of a request, as the server holds them: column name -> 1-D array
Columns = dict[str, "npt.NDArray[Any]"]

_NUMERIC_TYPES = frozenset({"float", "integer", "bool"})
_NUMERIC_KINDS = frozenset("biuf")
_DTYPE = operator.attrgetter("dtype")
# scikit-learn warns when a model fitted on a DataFrame gets an array; the direct way
# hands it an array of the columns it was fitted on, in its order, checked first.
_NAMES_WARNING = "X does not have valid feature names"


def as_columns(rows: Any, features: Sequence[str] | None = None) -> Columns:
    """``rows`` as :data:`Columns`: a dict of column to values (a list, an array, or one
    value: one row), a list of records, or a 2-D array whose columns are ``features``
    by position."""
    if isinstance(rows, np.ndarray):
        return _from_array(rows, features)
    if isinstance(rows, list):
        return _from_records(rows)
    if not isinstance(rows, Mapping):
        raise InvalidInput(
            f"rows are a {type(rows).__name__}; send a JSON object of column to values or a "
            "list of records",
            field="rows",
        )
    columns: Columns = {}
    length = None
    for name, values in rows.items():
        array = np.asarray(values)
        if array.ndim == 0:
            array = array.reshape(1)
        elif array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        elif array.ndim != 1:
            raise InvalidInput(
                f"column {name} has shape {list(array.shape)}; send one value per row "
                "(a list, or shape [n] or [n, 1])",
                field=str(name),
            )
        if length is None:
            length = len(array)
        elif len(array) != length:
            raise InvalidInput(
                f"column {name} has {len(array)} value(s) where the first column has "
                f"{length}; send the same number of values for every column",
                field=str(name),
            )
        columns[str(name)] = array
    if not columns or length == 0:
        raise InvalidInput("the request has no rows; send at least one", field="rows")
    return columns


def _from_array(rows: npt.NDArray[Any], features: Sequence[str] | None) -> Columns:
    if rows.ndim == 1:
        rows = rows.reshape(1, -1)
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise InvalidInput(
            f"rows have shape {list(rows.shape)}; send a 2-D array of rows by columns",
            field="rows",
        )
    if features is None:
        raise InvalidInput(
            "rows came as an array but the model does not name its columns; send a JSON "
            "object of column to values instead",
            field="rows",
        )
    if rows.shape[1] != len(features):
        raise InvalidInput(
            f"rows have {rows.shape[1]} column(s) where the model takes {len(features)} "
            f"({', '.join(features[:8])}{', ...' if len(features) > 8 else ''}); send a "
            f"[n, {len(features)}] array in that order, or name the columns",
            field="rows",
        )
    return MatrixColumns(features, rows)


def _from_records(records: list[Any]) -> Columns:
    if not records:
        raise InvalidInput("the request has no rows; send at least one", field="rows")
    names: dict[str, None] = {}
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InvalidInput(
                f"record {index} is a {type(record).__name__}; send each row as an object of "
                "column to value",
                field="rows",
            )
        names.update(dict.fromkeys(map(str, record)))
    return {name: _array([record.get(name) for record in records]) for name in names}


def _array(values: list[Any]) -> npt.NDArray[Any]:
    array = np.asarray(values)
    if array.dtype.kind == "O" and all(v is None or isinstance(v, int | float) for v in values):
        return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    return array


def concatenated(parts: Sequence[Columns]) -> Columns:
    """The rows of several requests as one batch, in order."""
    if len(parts) == 1:
        return parts[0]
    names = list(parts[0])
    matrices = [part for part in parts if type(part) is MatrixColumns and list(part) == names]
    if len(matrices) == len(parts):  # every request one matrix of the same columns
        return MatrixColumns(names, np.concatenate([m.rows for m in matrices]))
    return {name: np.concatenate([part[name] for part in parts]) for name in names}


def count(columns: Columns) -> int:
    """The number of rows of ``columns``."""
    return len(next(iter(columns.values())))


def same_columns(a: Columns, b: Columns) -> bool:
    """Whether two requests can be batched together: the same columns, dtypes alike."""
    if a.keys() != b.keys():
        return False
    return all(a[name].dtype.kind == b[name].dtype.kind for name in a)


class VersionCall:
    """One loaded version, called on checked :data:`Columns`; see the module docstring."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.features = predictor.features
        self.kind = predictor.kind
        self.classes = predictor.classes
        signature = predictor.signature
        self._expected = None if signature is None else {c.name: c.type for c in signature.inputs}
        # the columns it takes as text: a CSV body's values are text to them as written
        self.text_columns = frozenset(
            name for name, kind in (self._expected or {}).items() if kind in ("string", "category")
        )
        self._fits_column: dict[tuple[str, np.dtype[Any]], bool] = {}  # (column, dtype) -> fits
        self._fits_all: dict[np.dtype[Any], bool] = {}  # dtype -> every column fits it
        self._labels_from_probabilities = _argmax_is_predict(predictor.model)
        # known once: a classifier with classes and a predict_proba to call
        self._has_proba = self.classes is not None and callable(
            getattr(predictor.model, "predict_proba", None)
        )
        self.direct = self._direct_fits()
        # the outputs its answers hold: predictions, and a classifier's probabilities
        gives = self._has_proba if self.direct else predictor.gives_probabilities
        self.outputs = (PREDICTIONS, PROBABILITIES) if gives else (PREDICTIONS,)

    def check(self, columns: Columns) -> None:
        """InvalidInput naming the column at fault when ``columns`` do not fit the model."""
        if self._fit_as_before(columns):
            return
        self.predictor.check(columns)  # the Predictor's own check, and its words
        if self.direct:
            for name in self.features or ():
                if columns[name].dtype.kind not in _NUMERIC_KINDS:
                    raise InvalidInput(
                        f"column {name} has values of type {columns[name].dtype} where "
                        "numbers are expected; send numbers",
                        field=name,
                    )

    def _fit_as_before(self, columns: Columns) -> bool:
        """Whether ``columns`` have exactly the signature's columns, each of a NumPy dtype
        already found to fit (what the Predictor's check would pass and, for the direct
        way, numbers; remembered per column and dtype, and for requests whose columns
        share one dtype, as most do, per dtype: a request costs a lookup). False sends
        the rows to the Predictor's check, which raises or passes them."""
        expected = self._expected
        if expected is None or columns.keys() != expected.keys():
            return False
        dtypes = set(map(_DTYPE, columns.values()))
        if len(dtypes) == 1:
            (dtype,) = dtypes
            fits = self._fits_all.get(dtype)
            if fits is None:
                fits = all(self._fits(name, dtype) for name in expected)
                if dtype.kind != "O":
                    self._fits_all[dtype] = fits
            return fits
        return all(self._fits(name, values.dtype) for name, values in columns.items())

    def _fits(self, name: str, dtype: np.dtype[Any]) -> bool:
        """Whether values of ``dtype`` fit column ``name``; objects never do here (their
        values decide: the Predictor looks at them)."""
        fits = self._fits_column.get((name, dtype))
        if fits is None:
            if dtype.kind == "O":
                return False
            assert self._expected is not None
            got = numpy_type(dtype)
            fits = got is not None and type_fits(self._expected[name], got)
            fits = self._fits_column[(name, dtype)] = fits and (
                not self.direct or dtype.kind in _NUMERIC_KINDS
            )
        return fits

    def run(self, columns: Columns, *, probabilities: bool) -> Prediction:
        """The model on checked ``columns``: predictions, and a classifier's
        probabilities when asked for and it gives them."""
        if not self.direct:
            found = self.predictor.predict(columns)
            return found if probabilities else Prediction(found.predictions)
        X = self._matrix(columns)
        try:
            return self._direct(X, probabilities)
        except Exception as error:
            holes = at_fault(X, "numpy", self.features)
            if holes is not None:  # the rows are at fault, not the model
                why = f"{type(error).__name__}: {first_line(error)}"
                raise refused(self.predictor.label, holes, failure=why) from error
            raise

    def _direct(self, X: npt.NDArray[np.float64], probabilities: bool) -> Prediction:
        model = self.predictor.model
        if not _names_warning_quiet():
            _quiet_names_warning()
        given = model.predict_proba(X) if probabilities and self._has_proba else None
        if given is not None and self._labels_from_probabilities:
            assert self.classes is not None
            labels = self.classes[np.argmax(given, axis=1)]
        else:
            labels = np.asarray(model.predict(X))
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.dtype.kind == "f":
            labels = labels.astype(np.float64, copy=False)
        if given is None:
            return Prediction(labels)
        return Prediction(labels, np.asarray(given, dtype=np.float64), self.classes)

    def _matrix(self, columns: Columns) -> npt.NDArray[np.float64]:
        """The rows as one float64 array of the model's columns in its order, C order
        (as it was fitted on)."""
        assert self.features is not None
        if type(columns) is MatrixColumns and list(columns) == self.features:
            # a copy all the same: a model may change its input in place (a scaler
            # with copy=False), and the log reads the request's values after it
            return np.array(columns.rows, dtype=np.float64, order="C")
        by_column = np.array([columns[name] for name in self.features], dtype=np.float64)
        return np.ascontiguousarray(by_column.T, dtype=np.float64)

    def _direct_fits(self) -> bool:
        """Whether the direct way gives what the Predictor gives, on probe rows."""
        predictor = self.predictor
        signature = predictor.signature
        if predictor.runtime != "python" or signature is None or not signature.inputs:
            return False
        if any(column.type not in _NUMERIC_TYPES for column in signature.inputs):
            return False
        _quiet_names_warning()
        probe = _probe_rows(signature.names)
        self.direct = True
        try:
            fast = self.run(probe, probabilities=True)
            self.direct = False
            slow = self._as_the_predictor_calls(probe)
        except _NoPandas:
            return _only_scikit_learn(predictor.model)
        except Exception:
            self.direct = False
            return False
        return _same(fast, slow)

    def _as_the_predictor_calls(self, probe: Columns) -> Prediction:
        """What the Predictor gives on ``probe``. For a model that takes a pandas frame it
        is the model's own predict and predict_proba on a frame of its columns, in its
        order: what :meth:`Predictor.predict` hands it, built here without a Polars frame
        in between (a server need not load Polars for that)."""
        predictor = self.predictor
        if predictor.input_form() != "pandas":
            return predictor.predict(probe)
        try:
            import pandas as pd
        except ImportError as missing:
            raise _NoPandas from missing

        frame = pd.DataFrame({name: probe[name] for name in self.features or ()})
        model = predictor.model
        labels = np.asarray(model.predict(frame))
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if not self._has_proba:
            return Prediction(labels)
        given = np.asarray(model.predict_proba(frame), dtype=np.float64)
        return Prediction(labels, given, self.classes)


# scikit-learn classifiers whose predict is, by construction, the class of the highest
# predict_proba (ties to the first): one call gives both. Anything else calls both.
_ARGMAX_CLASSIFIERS = frozenset(
    {
        "LogisticRegression",
        "RandomForestClassifier",
        "ExtraTreesClassifier",
        "DecisionTreeClassifier",
        "ExtraTreeClassifier",
    }
)


class _NoPandas(Exception):
    """The model takes a pandas frame and pandas is not installed."""


# scikit-learn's estimators that run code of the user's on the rows as given
_USER_CODE = frozenset({"FunctionTransformer"})


def _only_scikit_learn(model: Any) -> bool:
    """Whether ``model`` and every estimator inside it (a pipeline's steps, a column
    transformer's parts, an ensemble's estimator) are scikit-learn's own, none running
    code of the user's."""
    found = [model]
    get_params = getattr(model, "get_params", None)
    if callable(get_params):
        found += [v for v in get_params(deep=True).values() if hasattr(v, "get_params")]
    for each in found:
        kind = type(each)
        if not kind.__module__.startswith("sklearn.") or kind.__name__ in _USER_CODE:
            return False
    return True


def _argmax_is_predict(model: Any) -> bool:
    """Whether ``model``'s (or its pipeline's last step's) predict is argmax of
    predict_proba; the probe rows check it too (see ``_direct_fits``)."""
    steps = getattr(model, "steps", None)
    final = steps[-1][1] if isinstance(steps, list) and steps else model
    kind = type(final)
    return kind.__module__.startswith("sklearn.") and kind.__name__ in _ARGMAX_CLASSIFIERS


def _quiet_names_warning() -> None:
    """Silence, in this process, scikit-learn's warning that a model fitted with column
    names got an array: the direct way checks the names itself. (Filters are process-wide;
    setting one per call would race between the threads that run batches.)"""
    warnings.filterwarnings("ignore", message=_NAMES_WARNING, category=UserWarning)


def _names_warning_quiet() -> bool:
    """Whether the filter of :func:`_quiet_names_warning` is still the first (something
    may have reset the filters since, as ``warnings.catch_warnings`` does on exit)."""
    filters = warnings.filters
    if not filters:
        return False
    action, message, _, _, _ = filters[0]
    return action == "ignore" and message is not None and message.pattern == _NAMES_WARNING


def _probe_rows(names: Sequence[str]) -> Columns:
    """A few rows of varied numbers, to compare two ways of calling a model on."""
    rng = np.random.default_rng(0)
    values = np.concatenate([np.zeros((1, len(names))), rng.normal(size=(7, len(names)))])
    return {name: values[:, index] for index, name in enumerate(names)}


def _same(a: Prediction, b: Prediction) -> bool:
    if a.predictions.shape != b.predictions.shape or not np.array_equal(
        a.predictions, b.predictions
    ):
        return False
    if a.probabilities is None or b.probabilities is None:
        return a.probabilities is None and b.probabilities is None
    return bool(np.allclose(a.probabilities, b.probabilities, rtol=0, atol=1e-12))
