"""How each kind of loaded model is called: the raw outputs, before a
:class:`~loopml.models.Predictor` checks and normalises them.

- **python**: an object with ``predict`` (scikit-learn, the XGBoost and LightGBM
  wrappers and boosters, the generic python-function flavor), and ``predict_proba``
  when it has one. A raw ``xgboost.Booster`` is given its rows as a ``DMatrix``; a
  raw booster gives what its ``predict`` gives (a binary objective's probabilities,
  not classes): save the scikit-learn wrapper for classes and probabilities.
- **onnxruntime**: an ``onnx.ModelProto``, run on the CPU with one thread, its rows as
  one float32 tensor; a classifier converted by skl2onnx returns its labels and then
  its probabilities, one column per class in the order of its class labels.
- **torch**: an ``nn.Module`` (or TorchScript) without ``predict``, called on a float32
  tensor with gradients off. One output column is a value per row; ``k > 1`` columns
  are scores per class: the class is the column of the highest score (the
  signature's classes, else ``0 .. k-1``), the probabilities are the scores when every
  row already sums to 1, else their softmax.

Each returns ``(labels, probabilities or None)`` as the model gave them; the
Predictor checks their shapes.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from loopml.errors import InvalidInput
from loopml.models._base import first_line, loaded, need

if TYPE_CHECKING:
    import numpy.typing as npt

    from loopml.models._signature import Signature

CLASSIFIER, REGRESSOR = "classifier", "regressor"
_CLASS_LABELS = ("classlabels_ints", "classlabels_int64s", "classlabels_strings")


class Call(ABC):
    """One way of calling a model; see the module docstring."""

    #: what runs the model: ``python``, ``onnxruntime`` or ``torch``
    runtime: ClassVar[str]
    #: the form the rows must be in, or None when the model takes any (see ``_rows``)
    form: ClassVar[str | None] = None

    def __init__(self, model: Any, signature: Signature | None) -> None:
        self.model = model
        self.signature = signature

    @property
    def kind(self) -> str | None:
        """``classifier``, ``regressor``, or None when the model does not say."""
        return None

    @property
    def classes(self) -> npt.NDArray[Any] | None:
        """A classifier's classes, in the order of its probability columns."""
        return _signature_classes(self.signature)

    @property
    def has_probabilities(self) -> bool:
        return False

    @abstractmethod
    def predict(self, X: Any) -> Any:
        """What the model's own predict gives, untouched."""

    def probabilities(self, X: Any) -> Any:
        """What the model's own predict_proba gives, or None when it has none."""
        return None

    def both(self, X: Any) -> tuple[Any, Any]:
        """``(predict, probabilities)`` in as few calls as the model allows."""
        labels = self.predict(X)
        wanted = self.has_probabilities and self.classes is not None
        return labels, self.probabilities(X) if wanted else None


class PythonCall(Call):
    runtime = "python"

    @property
    def kind(self) -> str | None:
        tags = getattr(self.model, "__sklearn_tags__", None)
        if callable(tags):
            try:
                kind = tags().estimator_type
            except Exception:  # a half-built or foreign estimator: fall back on attributes
                kind = None
            if kind in (CLASSIFIER, REGRESSOR):
                return str(kind)
        if hasattr(self.model, "classes_") or callable(getattr(self.model, "predict_proba", None)):
            return CLASSIFIER
        return None

    @property
    def classes(self) -> npt.NDArray[Any] | None:
        import numpy as np

        found = getattr(self.model, "classes_", None)
        return _signature_classes(self.signature) if found is None else np.asarray(found)

    @property
    def has_probabilities(self) -> bool:
        return callable(getattr(self.model, "predict_proba", None))

    def predict(self, X: Any) -> Any:
        xgb = loaded("xgboost")
        if xgb is not None and isinstance(self.model, xgb.Booster):
            return self.model.predict(xgb.DMatrix(X))
        return self.model.predict(X)

    def probabilities(self, X: Any) -> Any:
        return self.model.predict_proba(X)


class OnnxCall(Call):
    runtime = "onnxruntime"
    form = "numpy"

    def __init__(self, model: Any, signature: Signature | None) -> None:
        from loopml.models._onnx import session

        super().__init__(model, signature)
        self._session = session(model)
        self._feed = self._session.get_inputs()[0].name
        self._outputs = len(self._session.get_outputs())
        self._classes = _signature_classes(signature)
        if self._classes is None:
            self._classes = _graph_classes(model)

    @property
    def kind(self) -> str | None:
        return CLASSIFIER if self._classes is not None or self._outputs > 1 else REGRESSOR

    @property
    def classes(self) -> npt.NDArray[Any] | None:
        return self._classes

    @property
    def has_probabilities(self) -> bool:
        return self._outputs > 1

    def predict(self, X: Any) -> Any:
        return self._run(X)[0]

    def probabilities(self, X: Any) -> Any:
        return self._run(X)[1] if self._outputs > 1 else None

    def both(self, X: Any) -> tuple[Any, Any]:
        found = self._run(X)
        return found[0], found[1] if self._outputs > 1 else None

    def _run(self, X: Any) -> list[Any]:
        return list(self._session.run(None, {self._feed: _float32(X, "the ONNX model")}))


class TorchCall(Call):
    runtime = "torch"
    form = "numpy"

    def __init__(self, model: Any, signature: Signature | None) -> None:
        super().__init__(model, signature)
        self._seen: npt.NDArray[Any] | None = None  # the classes of the last output

    def predict(self, X: Any) -> Any:
        return self.both(X)[0]

    def probabilities(self, X: Any) -> Any:
        return self.both(X)[1]

    @property
    def has_probabilities(self) -> bool:
        return True  # known only from the output: None for one column

    def both(self, X: Any) -> tuple[Any, Any]:
        import numpy as np

        torch = need("torch", "torch", "torch")
        with torch.no_grad():
            found = self.model(torch.from_numpy(_float32(X, "the torch module")))
        out = np.asarray(found.detach().cpu().numpy())
        if out.ndim != 2 or out.shape[1] < 2:
            return out, None
        classes = _signature_classes(self.signature)
        if classes is None or len(classes) != out.shape[1]:
            classes = np.arange(out.shape[1])
        scores = out.astype(np.float64)
        if not _distributions(scores):
            shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores = shifted / shifted.sum(axis=1, keepdims=True)
        self._seen = classes
        return classes[np.argmax(out, axis=1)], scores

    @property
    def classes(self) -> npt.NDArray[Any] | None:
        return _signature_classes(self.signature) if self._seen is None else self._seen


def call_for(model: Any, signature: Signature | None) -> Call:
    """The way to call ``model``; InvalidInput when there is none."""
    onnx = loaded("onnx")
    if onnx is not None and isinstance(model, onnx.ModelProto):
        return OnnxCall(model, signature)
    if callable(getattr(model, "predict", None)):
        return PythonCall(model, signature)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        return TorchCall(model, signature)
    raise InvalidInput(
        f"a {type(model).__qualname__} cannot be called as a model: it has no predict "
        "method and is neither an ONNX model nor a torch module; give a fitted model",
        field="model",
    )


def _signature_classes(signature: Signature | None) -> npt.NDArray[Any] | None:
    import numpy as np

    if signature is None or signature.output is None or signature.output.classes is None:
        return None
    return np.asarray(signature.output.classes)


def _graph_classes(model: Any) -> npt.NDArray[Any] | None:
    """The class labels a classifier node of an ONNX graph names (skl2onnx writes them)."""
    import numpy as np

    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.name not in _CLASS_LABELS:
                continue
            if attribute.strings:
                return np.asarray([value.decode() for value in attribute.strings], dtype=object)
            return np.asarray(list(attribute.ints), dtype=np.int64)
    return None


def _float32(X: Any, what: str) -> Any:
    import numpy as np

    try:
        return np.ascontiguousarray(X, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise InvalidInput(
            f"{what} takes numbers only ({first_line(error)}); send numeric columns",
            field="rows",
        ) from None


def _distributions(scores: Any) -> bool:
    import numpy as np

    inside = bool(np.all((scores >= 0) & (scores <= 1)))
    return inside and bool(np.allclose(scores.sum(axis=1), 1.0, atol=1e-5))
