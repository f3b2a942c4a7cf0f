"""``Predictor``: the one way to call a stored model, native or a copy (ONNX).

A Predictor takes rows in any form loopml reads (a pandas or Polars DataFrame, an
Arrow table, a 2-D NumPy array, a dict of columns, a list of records), checks them
against the model's signature, hands them to the model in the form it was trained on,
and returns a :class:`Prediction`: one prediction per row and, for a classifier, one
probability per class, with the classes. It knows the version it runs (``artifact``,
``ref``, ``name``, ``version``, ``digest``) and which copy of it (``copy``).

>>> import tempfile, loopml
>>> from loopml.models import Predictor, save_model
>>> from sklearn.datasets import load_iris
>>> from sklearn.linear_model import LogisticRegression
>>> X, y = load_iris(return_X_y=True, as_frame=True)
>>> ws = loopml.init(tempfile.mkdtemp())
>>> saved = save_model(LogisticRegression(max_iter=500).fit(X, y), "iris", signature_from=X,
...                    workspace=ws)
>>> predictor = Predictor.load("iris@v1", workspace=ws)
>>> predictor.ref, predictor.copy, predictor.kind
('iris@v1', 'native', 'classifier')
>>> found = predictor.predict({"sepal length (cm)": 5.1, "sepal width (cm)": 3.5,
...                            "petal length (cm)": 1.4, "petal width (cm)": 0.2})
>>> found.predictions.tolist(), found.classes.tolist(), found.probabilities.shape
([0], [0, 1, 2], (1, 3))
>>> predictor.predict({"sepal length (cm)": [5.1]})
Traceback (most recent call last):
  ...
loopml.errors.InvalidInput: input does not match the model's signature: missing columns ...
>>> ws.close()
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput, LoopmlError
from loopml.models import _rows
from loopml.models._base import first_line
from loopml.models._calls import call_for
from loopml.models._missing import Missing, at_fault, missing_in, refused

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import numpy.typing as npt
    import polars as pl

    from loopml.models._signature import Signature
    from loopml.store import Artifact
    from loopml.workspace import Workspace

NATIVE = "native"  # the model as saved through its flavor
ONNX = "onnx"  # its ONNX copy
COPIES = (NATIVE, ONNX)


@dataclass(frozen=True, eq=False)
class Prediction:
    """What a :class:`Predictor` returns for ``n`` rows: ``predictions`` (``n`` values:
    classes, or numbers as float64), and for a classifier that gives them
    ``probabilities`` (``n`` rows by one float64 column per class) and ``classes``
    (the class of each column, the order of ``predict_proba``); else None."""

    predictions: npt.NDArray[Any]
    probabilities: npt.NDArray[np.float64] | None = None
    classes: npt.NDArray[Any] | None = None

    def __len__(self) -> int:
        return len(self.predictions)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: ``predictions``, and ``probabilities`` and ``classes`` when
        there are some."""
        found: dict[str, Any] = {"predictions": self.predictions.tolist()}
        if self.probabilities is not None:
            found["probabilities"] = self.probabilities.tolist()
        if self.classes is not None:
            found["classes"] = self.classes.tolist()
        return found


class Predictor:
    """A loaded model, ready to be called on rows; see the module docstring.

    ``model`` is the loaded object: anything with ``predict``, an ``onnx.ModelProto``
    (run with onnxruntime) or a torch module. ``signature`` is checked on every batch;
    ``artifact`` is the model version it was loaded from (None for a model object) and
    ``copy`` which copy of that version ``model`` is: ``"native"`` or ``"onnx"``.
    """

    def __init__(
        self,
        model: Any,
        *,
        signature: Signature | None = None,
        artifact: Artifact | None = None,
        copy: str = NATIVE,
        takes_missing: bool = True,
    ) -> None:
        if copy not in COPIES:
            raise InvalidInput(
                f"copy={copy!r} names no copy of a model; give 'native' (the model itself) "
                "or 'onnx' (its ONNX copy)",
                field="copy",
            )
        self._call = call_for(model, signature)
        self._artifact = artifact
        self._copy = copy
        self._takes_missing = takes_missing

    @classmethod
    def load(cls, ref: str | Artifact, *, workspace: Workspace | None = None) -> Predictor:
        """The native copy of the model a reference (``churn@v3``, ``churn@champion``)
        or an Artifact holding a model points at, with its stored signature; its bytes
        checked against their digest, as :func:`~loopml.models.load_model` does."""
        from loopml._context import workspace_in_use
        from loopml.models._api import load_model, stored_model

        ws = workspace_in_use(workspace)
        artifact = stored_model(ref, ws)
        model = load_model(artifact, workspace=ws)
        return cls(model, signature=stored_signature(artifact), artifact=artifact)

    # -- what it is ----------------------------------------------------------------------

    @property
    def model(self) -> Any:
        """The loaded object that is called."""
        return self._call.model

    @property
    def signature(self) -> Signature | None:
        return self._call.signature

    @property
    def artifact(self) -> Artifact | None:
        """The model version it runs, as stored; None for a model object."""
        return self._artifact

    @property
    def copy(self) -> str:
        """``"native"`` (the model as saved) or ``"onnx"`` (the version's ONNX copy)."""
        return self._copy

    @property
    def runtime(self) -> str:
        """What runs it: ``python``, ``onnxruntime`` or ``torch``."""
        return self._call.runtime

    @property
    def ref(self) -> str | None:
        """``name@vN`` of the version, or None for a model object."""
        return None if self._artifact is None else self._artifact.ref

    @property
    def name(self) -> str | None:
        return None if self._artifact is None else self._artifact.name

    @property
    def version(self) -> int | None:
        return None if self._artifact is None else self._artifact.version

    @property
    def digest(self) -> str | None:
        """The digest of the version's bytes (of the native model, whichever copy runs)."""
        return None if self._artifact is None else self._artifact.digest

    @property
    def label(self) -> str:
        """The model as people name it: its ref, else its class."""
        return self.ref or f"{type(self.model).__name__} object"

    @property
    def kind(self) -> str | None:
        """``"classifier"``, ``"regressor"``, or None when the model does not say."""
        return self._call.kind

    @property
    def classes(self) -> npt.NDArray[Any] | None:
        """A classifier's classes (its ``classes_``, else its signature's), else None."""
        return self._call.classes

    @property
    def gives_probabilities(self) -> bool:
        """Whether its answers hold probabilities: a classifier with a predict_proba,
        whose classes are known (a torch model's come from its output)."""
        return self._call.has_probabilities and (
            self.classes is not None or self.runtime == "torch"
        )

    @property
    def features(self) -> list[str] | None:
        """The columns the model takes, in its order: its signature's, else scikit-learn's
        ``feature_names_in_``; None when it does not say."""
        if self.signature is not None:
            return self.signature.names
        names = getattr(self.model, "feature_names_in_", None)
        return None if names is None else [str(name) for name in names]

    def __repr__(self) -> str:
        return f"Predictor({self.label}, copy={self.copy!r}, runtime={self.runtime!r})"

    def _known(self) -> dict[str, frozenset[str]]:
        """The values each text column of the signature was trained on, where kept."""
        inputs = () if self.signature is None else self.signature.inputs
        return {c.name: frozenset(c.values) for c in inputs if c.values is not None}

    # -- calling it ----------------------------------------------------------------------

    def predict(self, rows: Any) -> Prediction:
        """The model on ``rows`` (any form), checked against its signature first:
        InvalidInput, its ``field`` the column at fault (or ``rows``), when they do not
        fit; one prediction per row, and probabilities for a classifier."""
        import numpy as np

        X = self.prepare(rows)
        count = _rows.count(X)
        if not self._takes_missing:
            # a model that refuses NaN (scikit-learn's finite check) refuses infinities
            # too; its ONNX copy would answer both, silently
            found = self._missing(X, find=at_fault)
            if found is not None and len(found.rows):
                raise refused(self.label, found)
        try:
            labels, given = self._call.both(X)
        except LoopmlError:
            raise
        except Exception as error:
            found = self._missing(X, find=functools.partial(at_fault, known=self._known()))
            if found is not None and len(found.rows):
                because = f"{type(error).__name__}: {first_line(error)}"
                raise refused(self.label, found, failure=because) from error
            raise self._failed("predict", "the rows", error) from error
        predictions = self._one_per_row(labels, count)
        if predictions.dtype.kind == "f":
            predictions = predictions.astype(np.float64, copy=False)
        classes = self.classes
        probabilities = None
        if given is not None and classes is not None:
            probabilities = self._per_class(given, count, classes)
        return Prediction(predictions, probabilities, None if probabilities is None else classes)

    def check(self, rows: Any) -> None:
        """InvalidInput, its ``field`` the column at fault, when ``rows`` do not fit the
        model: against its signature; without one, the columns it was fitted on must
        be there."""
        form = _rows.check_form(rows)
        if self.signature is not None:
            self.signature.check(rows)
            return
        names = self.features
        if names is None or form == "numpy":
            return
        present = set(_rows.column_names(rows, form))
        missing = [name for name in names if name not in present]
        if missing:
            raise InvalidInput(
                f"rows lack column(s) {_listed(missing)} that {self.label} takes; send "
                f"{_listed(names)}",
                field=missing[0],
            )

    def prepare(self, rows: Any) -> Any:
        """``rows``, checked, as the model takes them: its columns, in its order, in its
        form (see :meth:`input_form`)."""
        self.check(rows)
        given = _rows.check_form(rows)
        names = self.features
        form = self.input_form(given if given in _rows.FORMS else None)
        if given == form:
            return rows if names is None else _rows.select(rows, form, names)
        frame = _rows.as_frame(rows, names if given == "numpy" else None)
        return _rows.as_form(frame if names is None else frame.select(names), form)

    def input_form(self, given: str | None = None) -> str:
        """The form the model takes rows in: the runtime's own (NumPy for ONNX and
        torch); the signature's source; NumPy for a scikit-learn model fitted without
        column names; else ``given`` (the form the rows came in), pandas when they are
        not a table (what most models are trained on)."""
        if self._call.form is not None:
            return self._call.form
        if self.signature is not None and self.signature.source in _rows.FORMS:
            return self.signature.source
        model = self.model
        if hasattr(model, "n_features_in_") and not hasattr(model, "feature_names_in_"):
            return "numpy"
        if given in ("pandas", "polars", "arrow") or (given == "numpy" and self.features is None):
            return given
        try:
            import pandas  # noqa: F401
        except ImportError:
            return "polars"
        return "pandas"

    def as_input(self, frame: pl.DataFrame, form: str | None = None) -> Any:
        """A Polars frame of the model's columns as the model takes it: in ``form``,
        else in :meth:`input_form`'s (no check: for rows checked already)."""
        return _rows.as_form(frame, self.input_form("polars") if form is None else form)

    def call(self, X: Any) -> Any:
        """The model's own predict on rows already prepared, its output untouched (what
        a latency measurement times)."""
        return self._call.predict(X)

    def labels(self, X: Any, rows: int, *, on: str = "the rows") -> npt.NDArray[Any]:
        """The predictions on ``X`` (prepared: see :meth:`prepare`) as a 1-D array of
        ``rows`` values; ``on`` names the rows in errors."""
        try:
            found = self._call.predict(X)
        except LoopmlError:
            raise
        except Exception as error:
            raise self._failed("predict", on, error) from error
        return self._one_per_row(found, rows)

    def probabilities(
        self, X: Any, rows: int, *, on: str = "the rows"
    ) -> npt.NDArray[np.float64] | None:
        """A classifier's probabilities on ``X`` (prepared), one column per class of
        :attr:`classes`; None when the model gives none or its classes are unknown."""
        classes = self.classes
        if not self._call.has_probabilities or (classes is None and self.runtime != "torch"):
            return None
        try:
            found = self._call.probabilities(X)
        except LoopmlError:
            raise
        except Exception as error:
            raise self._failed("predict_proba", on, error) from error
        classes = self.classes
        if found is None or classes is None:
            return None
        return self._per_class(found, rows, classes)

    # -- normalising what it gives -------------------------------------------------------

    def _one_per_row(self, found: Any, rows: int) -> npt.NDArray[Any]:
        import numpy as np

        array = np.asarray(found)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.shape != (rows,):
            raise InvalidInput(
                f"{self.label}.predict returned shape {array.shape} for {rows} rows; loopml "
                "needs one prediction per row: give a model whose predict returns one value "
                "per row (for a raw booster, its scikit-learn wrapper)"
            )
        return array

    def _per_class(
        self, found: Any, rows: int, classes: npt.NDArray[Any]
    ) -> npt.NDArray[np.float64]:
        import numpy as np

        given = np.asarray(found, dtype=np.float64)
        if given.shape != (rows, len(classes)):
            raise InvalidInput(
                f"{self.label}.predict_proba returned shape {given.shape}; expected one "
                f"column per class of classes_ ({rows}, {len(classes)})"
            )
        return given

    def _missing(
        self, X: Any, *, find: Callable[..., Missing | None] = missing_in
    ) -> Missing | None:
        """The rows of the prepared ``X`` with missing values (or what ``find`` finds:
        see :func:`~loopml.models._missing.at_fault`); None when that cannot be told (a
        form of rows this does not read)."""
        form = _rows.form_of(X)
        if form not in _rows.FORMS:
            return None
        names = self.features if form == "numpy" else None
        try:
            return find(X, form, names)
        except Exception:  # rows of a kind no missing value can be told in
            return None

    def _failed(self, method: str, on: str, error: Exception) -> InvalidInput:
        if method == "predict":
            return InvalidInput(
                f"{self.label}.predict failed on {on} ({type(error).__name__}: "
                f"{first_line(error)}); check that the data has the columns and types it "
                "was trained on"
            )
        return InvalidInput(
            f"{self.label}.{method} failed on {on} ({type(error).__name__}: {first_line(error)})"
        )


def stored_signature(artifact: Artifact) -> Signature | None:
    """The signature stored with a model artifact, or None."""
    from loopml.models._signature import Signature

    saved = artifact.metadata.get("signature")
    return None if not saved else Signature.from_dict(saved)


def _listed(names: list[str], shown: int = 12) -> str:
    text = ", ".join(names[:shown])
    return f"{text}, ... ({len(names)} in all)" if len(names) > shown else text
