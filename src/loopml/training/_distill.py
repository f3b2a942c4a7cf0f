"""Knowledge distillation: a smaller student trained on a teacher's soft labels, and the
two set side by side — accuracy, agreement, size and per-row latency.

Soft labels are the teacher's class probabilities, sharpened or softened by a
temperature: ``softmax(logits / T)``, with the teacher's logits where it has them
(``decision_function``) and the log of its probabilities otherwise. A classifier
student that takes ``sample_weight`` learns them as weighted copies of each row, one
per class, weighted by its probability; a regressor student learns the probabilities
themselves and predicts the class with the highest.
"""

from __future__ import annotations

import pickle
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.errors import InvalidInput

LATENCY_ROWS = 200  # single-row predictions timed for each model


@dataclass
class Distilled:
    student: Any
    report: dict[str, float] = field(default_factory=dict)


class SoftLabelRegressor:
    """A regressor trained on soft labels, used as a classifier."""

    def __init__(self, regressor: Any, classes: npt.NDArray[Any]) -> None:
        self.regressor = regressor
        self.classes_ = classes

    def predict_proba(self, X: Any) -> npt.NDArray[np.float64]:
        raw = np.clip(np.asarray(self.regressor.predict(X), dtype=float), 0.0, None)
        raw = raw.reshape(len(raw), -1)
        total = raw.sum(axis=1, keepdims=True)
        fallback = np.full_like(raw, 1.0 / raw.shape[1])
        return np.asarray(np.where(total > 0, raw / np.where(total > 0, total, 1.0), fallback))

    def predict(self, X: Any) -> npt.NDArray[Any]:
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])


def soft_labels(teacher: Any, X: Any, temperature: float = 1.0) -> npt.NDArray[np.float64]:
    """The teacher's class probabilities at ``temperature``, one row per row of X."""
    if temperature <= 0:
        raise InvalidInput(f"temperature is {temperature}; give a number above 0 (1: unchanged)")
    if hasattr(teacher, "decision_function") and temperature != 1.0:
        logits = np.asarray(teacher.decision_function(X), dtype=float)
        if logits.ndim == 1:  # binary: the score of the second class against the first
            logits = np.stack([np.zeros_like(logits), logits], axis=1)
    elif hasattr(teacher, "predict_proba"):
        logits = np.log(np.clip(np.asarray(teacher.predict_proba(X), dtype=float), 1e-12, 1.0))
    else:
        raise InvalidInput(
            f"the teacher, a {type(teacher).__name__}, gives no class probabilities "
            "(predict_proba) or scores (decision_function) to learn from"
        )
    scaled = logits / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))


def distill(
    teacher: Any,
    student: Any,
    X: Any,
    *,
    temperature: float = 1.0,
    X_eval: Any = None,
    y_eval: Any = None,
) -> Distilled:
    """Train ``student`` on ``teacher``'s soft labels of ``X``; compare the two on
    ``X_eval`` (default: X) — accuracy on ``y_eval`` when given, agreement with the
    teacher, size pickled and median one-row latency — and log it all on the active
    run as ``teacher.*`` and ``student.*`` metrics."""
    classes = getattr(teacher, "classes_", None)
    if classes is None:
        raise InvalidInput(
            f"the teacher, a {type(teacher).__name__}, has no classes_: distillation "
            "here is for classifiers"
        )
    classes = np.asarray(classes)
    soft = soft_labels(teacher, X, temperature)
    trained = _fit(student, X, soft, classes)
    X_eval = X if X_eval is None else X_eval
    report = _compare(teacher, trained, X_eval, y_eval)
    report["temperature"] = temperature
    from loopml.tracking import active_run

    run = active_run()
    if run is not None:
        run.log_metrics(report)
    return Distilled(trained, report)


def _fit(student: Any, X: Any, soft: npt.NDArray[np.float64], classes: npt.NDArray[Any]) -> Any:
    import inspect

    is_classifier = (
        hasattr(student, "predict_proba")
        or getattr(student, "_estimator_type", None) == "classifier"
    )
    if is_classifier:
        if "sample_weight" not in inspect.signature(student.fit).parameters:
            raise InvalidInput(
                f"the student, a {type(student).__name__}, cannot learn soft labels: its "
                "fit takes no sample_weight; use a classifier that does (logistic "
                "regression, trees, boosting) or a regressor"
            )
        rows = np.asarray(X)
        n, k = soft.shape
        repeated = np.repeat(rows, k, axis=0)
        labels = np.tile(classes, n)
        weights = soft.reshape(-1)
        keep = weights > 1e-6  # a class with no weight adds nothing but time
        student.fit(repeated[keep], labels[keep], sample_weight=weights[keep])
        return student
    if not hasattr(student, "fit") or not hasattr(student, "predict"):
        raise InvalidInput(f"the student, a {type(student).__name__}, has no fit and predict")
    student.fit(X, soft)
    return SoftLabelRegressor(student, classes)


def _compare(teacher: Any, student: Any, X: Any, y: Any) -> dict[str, float]:
    taught = np.asarray(teacher.predict(X))
    learnt = np.asarray(student.predict(X))
    report = {"student.agreement": float(np.mean(taught == learnt))}
    for name, model, predicted in (("teacher", teacher, taught), ("student", student, learnt)):
        if y is not None:
            report[f"{name}.accuracy"] = float(np.mean(predicted == np.asarray(y)))
        report[f"{name}.size_bytes"] = float(len(pickle.dumps(model)))
        report[f"{name}.latency_ms_p50"] = _latency_ms(model, X)
    return report


def _latency_ms(model: Any, X: Any) -> float:
    rows = np.asarray(X)
    times = []
    for index in range(min(LATENCY_ROWS, len(rows))):
        row = rows[index : index + 1]
        started = time.perf_counter()
        model.predict(row)
        times.append((time.perf_counter() - started) * 1_000)
    return statistics.median(times)
