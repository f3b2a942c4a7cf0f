"""The objectives both sides tune, so loopml and plain Optuna see the same work.

The RBF SVM's C and gamma on scaled breast-cancer data decide its accuracy over a wide
range (too small a gamma underfits, too large overfits), unlike a random forest there,
where TPE and random search end up equal within cross-validation noise. The folds are
fixed, so a point always scores the same.
"""

from __future__ import annotations

from functools import cache
from typing import Any

SPACE = {"C": (1e-3, 1e3, "log"), "gamma": (1e-5, 1e1, "log")}
TRIVIAL_SPACE = {"x": (-10.0, 10.0)}


@cache
def _data() -> tuple[Any, Any, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold

    X, y = load_breast_cancer(return_X_y=True)
    return X, y, StratifiedKFold(n_splits=3, shuffle=True, random_state=0)


def svm_accuracy(C: float, gamma: float) -> float:
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y, folds = _data()
    model = make_pipeline(StandardScaler(), SVC(C=C, gamma=gamma))
    return float(cross_val_score(model, X, y, cv=folds).mean())


def trivial(x: float) -> float:
    return -(x**2)
