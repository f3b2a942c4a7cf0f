"""Training on from an earlier model: warm starts for retraining on new data, and
incremental updates with ``partial_fit`` that measure what the model forgets.

A warm start continues the previous model where its library allows it — more trees
for a forest or boosting ensemble with ``warm_start``, more iterations for estimators
that keep their coefficients, more boosting rounds from an XGBoost or LightGBM
booster, the state dict of a PyTorch module — and never changes the previous model
(it is copied first). Whether it was warm or from scratch, and why, is recorded as
tags of the active run.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from loopml.errors import InvalidInput

MODES = ("auto", "warm", "scratch")
# Ensembles that grow: a warm start adds this many estimators to the previous count.
_GROWING = ("n_estimators", "max_iter")


@dataclass
class Retrained:
    model: Any
    start: str  # "warm" or "scratch"
    how: str  # in words, e.g. "100 more trees on the previous 100"


def retrain(
    previous: Any,
    X: Any,
    y: Any = None,
    *,
    mode: str = "auto",
    more: int | None = None,
    **fit_params: Any,
) -> Retrained:
    """Train on ``X, y`` starting from ``previous`` (``mode="warm"``), from scratch with
    its settings (``"scratch"``), or warm where the model allows it (``"auto"``).
    ``more`` is how many estimators or boosting rounds a warm start adds (default: as
    many as the previous model has)."""
    if mode not in MODES:
        raise InvalidInput(f"mode {mode!r} is not one of {', '.join(MODES)}")
    result: Retrained | None = None
    if mode != "scratch":
        result = _warm(previous, X, y, more, fit_params)
        if result is None and mode == "warm":
            raise InvalidInput(
                f"a {type(previous).__name__} cannot be warm-started: it has no "
                "warm_start or partial_fit, and is not an XGBoost or LightGBM model; "
                "use mode='scratch' (or 'auto', which falls back to it)"
            )
    if result is None:
        result = _scratch(previous, X, y, fit_params)
    _record(result)
    return result


def _warm(previous: Any, X: Any, y: Any, more: int | None, fit: dict[str, Any]) -> Any:
    module = type(previous).__module__.split(".")[0]
    if module == "xgboost":
        return _xgboost(previous, X, y, more, fit)
    if module == "lightgbm":
        return _lightgbm(previous, X, y, more, fit)
    if module == "torch":
        model = copy.deepcopy(previous)
        return Retrained(model, "warm", "a copy of the module with its state dict, to train on")
    params = previous.get_params() if hasattr(previous, "get_params") else {}
    if "warm_start" in params:
        model = copy.deepcopy(previous)
        grown = {k: params[k] + (more or params[k]) for k in _GROWING if k in params}
        model.set_params(warm_start=True, **grown)
        model.fit(X, y, **fit)
        model.set_params(warm_start=False)
        if grown:
            (key, value), *_ = grown.items()
            how = f"{key} {params[key]} -> {value}, continued from the previous model"
        else:
            how = "continued from the previous model's coefficients (warm_start)"
        return Retrained(model, "warm", how)
    if hasattr(previous, "partial_fit"):
        model = copy.deepcopy(previous)
        model.partial_fit(X, y, **fit)
        return Retrained(model, "warm", "one partial_fit pass over the new data")
    return None


def _xgboost(previous: Any, X: Any, y: Any, more: int | None, fit: dict[str, Any]) -> Retrained:
    import xgboost

    if isinstance(previous, xgboost.Booster):
        raise InvalidInput(
            "a bare xgboost.Booster has no training settings to continue with; retrain "
            "with xgboost.train(params, dtrain, xgb_model=previous), or save the "
            "XGBClassifier/XGBRegressor instead"
        )
    rounds = previous.get_booster().num_boosted_rounds()
    model = copy.deepcopy(previous)
    model.set_params(n_estimators=more or rounds)
    model.fit(X, y, xgb_model=previous.get_booster(), **fit)
    return Retrained(
        model, "warm", f"{more or rounds} more boosting rounds on the previous {rounds}"
    )


def _lightgbm(previous: Any, X: Any, y: Any, more: int | None, fit: dict[str, Any]) -> Retrained:
    import lightgbm

    if isinstance(previous, lightgbm.Booster):
        raise InvalidInput(
            "a bare lightgbm.Booster has no training settings to continue with; retrain "
            "with lightgbm.train(params, data, init_model=previous), or save the "
            "LGBMClassifier/LGBMRegressor instead"
        )
    rounds = previous.booster_.current_iteration()
    model = copy.deepcopy(previous)
    model.set_params(n_estimators=more or rounds)
    model.fit(X, y, init_model=previous.booster_, **fit)
    return Retrained(
        model, "warm", f"{more or rounds} more boosting rounds on the previous {rounds}"
    )


def _rounds(added: int, before: int) -> str:
    return f"{added} more boosting rounds on the previous {before}"


def _scratch(previous: Any, X: Any, y: Any, fit: dict[str, Any]) -> Retrained:
    try:
        from sklearn.base import clone

        model = clone(previous)
    except (ImportError, TypeError) as error:
        raise InvalidInput(
            f"a {type(previous).__name__} cannot be retrained from scratch here: its "
            f"settings cannot be copied without its fitted state ({error}); train a new one"
        ) from None
    model.fit(X, y, **fit)
    return Retrained(model, "scratch", "a new model with the previous one's settings")


def _record(result: Retrained) -> None:
    from loopml.tracking import active_run

    run = active_run()
    if run is not None:
        run.set_tags({"start": result.start, "start_how": result.how})


# -- incremental updates ----------------------------------------------------------------


@dataclass
class Update:
    """An incremental update: the model after every batch, and the scores on the
    held-back old data after each, which show forgetting as a number."""

    model: Any
    metric: str
    old_data: list[float] = field(default_factory=list)  # before, then after each batch
    new_batches: list[float] = field(default_factory=list)  # each batch, before it is learnt

    @property
    def forgetting(self) -> float:
        """How much the score on the old data fell from before the first batch to its
        lowest after one; 0 when it never fell."""
        return max(0.0, self.old_data[0] - min(self.old_data[1:], default=self.old_data[0]))


def update(
    model: Any,
    batches: Iterable[tuple[Any, Any]],
    *,
    old_data: tuple[Any, Any],
    metric: str | None = None,
    **fit_params: Any,
) -> Update:
    """``partial_fit`` ``model`` (a copy; the original is kept) on each batch of new
    data, scoring it on ``old_data`` (held-back rows of what it learnt before) before the
    first batch and after each. Each batch is also scored before it is learnt (how the
    model did on data it had not seen). The scores are logged as metrics of the active
    run — ``old_data.<metric>`` and ``new_batch.<metric>``, the batch number as the
    step — and ``forgetting.<metric>`` at the end."""
    if not hasattr(model, "partial_fit") and not _last_step_learns(model):
        raise InvalidInput(
            f"a {type(model).__name__} has no partial_fit, so it cannot be updated batch "
            "by batch; use retrain(...) on the new data, or a model with partial_fit "
            "(SGDClassifier, MultinomialNB, MLPClassifier, ...) or a Pipeline ending in one"
        )
    from loopml.tracking import active_run

    score, name = _scorer(model, metric)
    working = copy.deepcopy(model)
    X_old, y_old = old_data
    result = Update(working, name, old_data=[score(working, X_old, y_old)])
    run = active_run()
    if run is not None:
        run.log_metric(f"old_data.{name}", result.old_data[0], step=0)
    classes = getattr(model, "classes_", None)
    for number, (X, y) in enumerate(batches, start=1):
        result.new_batches.append(score(working, X, y))
        extra = {"classes": classes} if classes is not None else {}
        if hasattr(working, "partial_fit"):
            working.partial_fit(X, y, **extra, **fit_params)
        else:  # a Pipeline: its fitted transforms stay as they are, its last step learns
            working[-1].partial_fit(working[:-1].transform(X), y, **extra, **fit_params)
        result.old_data.append(score(working, X_old, y_old))
        if run is not None:
            run.log_metric(f"new_batch.{name}", result.new_batches[-1], step=number)
            run.log_metric(f"old_data.{name}", result.old_data[-1], step=number)
    if len(result.old_data) == 1:
        raise InvalidInput("update was given no batches; give (X, y) pairs of new data")
    if run is not None:
        run.log_metric(f"forgetting.{name}", result.forgetting)
    return result


def _scorer(model: Any, metric: str | None) -> tuple[Any, str]:
    from loopml.evaluation import _metrics

    classifier = hasattr(model, "classes_") or hasattr(model, "predict_proba")
    name = metric or ("accuracy" if classifier else "r2")
    functions = {
        "accuracy": _metrics.accuracy,
        "balanced_accuracy": _metrics.balanced_accuracy,
        "f1_macro": _metrics.f1_macro,
        "r2": _metrics.r2,
    }
    if name not in functions:
        raise InvalidInput(f"metric {name!r} is not one of {', '.join(functions)}")
    function = functions[name]
    return (lambda m, X, y: float(function(y, m.predict(X)))), name


def _last_step_learns(model: Any) -> bool:
    """Whether ``model`` is a scikit-learn Pipeline whose last step has partial_fit."""
    steps: list[tuple[str, Any]] = getattr(model, "steps", None) or []
    return bool(steps) and hasattr(steps[-1][1], "partial_fit")
