"""A reward model for the doubly robust estimate, fit fold by fold so that no request's
predicted rewards come from a model that saw it.

The rows are split into ``folds`` (stratified by the logged action, so each fold sees
every action that can be spread); for each fold, one model per action is fit on the
other folds' rows that took that action — context in, reward out — and predicts the
reward of that action for every row of the fold. An action with too few rows in the
other folds to fit (fewer than 2, or one reward value for a classifier) is predicted
by its mean reward there, or by all their rows' mean if it has none.

With rewards that are all 0 or 1 the default model is a logistic regression (its
probability of a reward of 1), else a ridge regression, both on standardised contexts.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> contexts = rng.normal(size=(400, 2))
>>> actions = rng.integers(0, 2, 400)
>>> rewards = (contexts[:, 0] * (2 * actions - 1) > 0).astype(float)  # arm 1 wins when x0 > 0
>>> predicted = cross_fit_rewards(contexts, actions, rewards, folds=4)
>>> predicted.shape
(400, 2)
>>> right = (predicted.argmax(axis=1) == (contexts[:, 0] > 0)).mean()
>>> bool(right > 0.95)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.errors import InvalidInput
from loopml.evaluation._off_policy_inputs import Floats, logged_actions

Ints = npt.NDArray[np.intp]


def cross_fit_rewards(
    contexts: Any,
    actions: Any,
    rewards: Any,
    *,
    n_actions: int | None = None,
    model: Any = None,
    folds: int = 5,
    seed: int = 0,
) -> Floats:
    """(rows, ``n_actions``) predicted rewards of every action for every row, each
    row's predictions made by models fit on the other folds (see the module's
    docstring).

    ``contexts`` are the requests' features (a 2-D array or a pandas DataFrame, one row
    per request); ``actions`` the logged action indices and ``rewards`` their rewards.
    ``n_actions`` defaults to the largest logged action + 1; ``model`` is an unfitted
    scikit-learn estimator (cloned for every fit; a classifier's probability of the
    reward 1 is used when it has ``predict_proba``); ``seed`` fixes the folds.
    """
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold

    reward = _rewards(rewards)
    rows = len(reward)
    _check_contexts(contexts, rows, default_model=model is None)
    _check_action_count(n_actions)
    action = logged_actions(actions, rows, n_actions)
    count = n_actions if n_actions is not None else int(action.max()) + 1
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= rows:
        raise InvalidInput(
            f"folds {folds!r:.60} must be a whole number from 2 to the {rows} rows, e.g. 5",
            field="folds",
        )
    binary = bool(np.isin(reward, (0.0, 1.0)).all())
    template = model if model is not None else _default_model(binary)
    least = np.bincount(action, minlength=count)
    splitter: Any = (
        StratifiedKFold(folds, shuffle=True, random_state=seed)
        if least[least > 0].min() >= folds
        else KFold(folds, shuffle=True, random_state=seed)
    )
    predicted = np.empty((rows, count))
    for fit_rows, held_rows in splitter.split(np.zeros(rows), action):
        for a in range(count):
            taken = fit_rows[action[fit_rows] == a]
            predicted[held_rows, a] = _fit_predict(
                clone(template), contexts, taken, held_rows, reward, fallback=reward[fit_rows]
            )
    return predicted


def _fit_predict(
    model: Any, contexts: Any, taken: Ints, held: Ints, reward: Floats, *, fallback: Floats
) -> Floats:
    seen = reward[taken]
    classifier = callable(getattr(model, "predict_proba", None))
    if len(taken) < 2 or (classifier and len(np.unique(seen)) < 2):
        constant = seen.mean() if len(taken) else fallback.mean()
        return np.full(len(held), constant)
    if classifier:
        model.fit(_rows(contexts, taken), seen.astype(np.intp))
        ones = list(model.classes_).index(1)
        return np.asarray(model.predict_proba(_rows(contexts, held))[:, ones], dtype=np.float64)
    model.fit(_rows(contexts, taken), seen)
    return np.asarray(model.predict(_rows(contexts, held)), dtype=np.float64).reshape(-1)


def _default_model(binary: bool) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if binary:
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1_000))
    return make_pipeline(StandardScaler(), Ridge())


def _rows(contexts: Any, positions: Ints) -> Any:
    return contexts.iloc[positions] if hasattr(contexts, "iloc") else contexts[positions]


def _rewards(rewards: Any) -> Floats:
    try:
        reward = np.asarray(rewards, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"rewards must be numbers; got {type(rewards).__qualname__}", field="rewards"
        ) from None
    if reward.ndim != 1 or len(reward) < 2:
        raise InvalidInput(
            f"rewards has shape {reward.shape}; give one number per logged request, at least 2",
            field="rewards",
        )
    if not np.isfinite(reward).all():
        row = int(np.flatnonzero(~np.isfinite(reward))[0])
        raise InvalidInput(
            f"rewards has NaN or infinite values, the first in row {row}; drop or fill them",
            field="rewards",
        )
    return reward


def _check_contexts(contexts: Any, rows: int, *, default_model: bool) -> None:
    shape = getattr(contexts, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] != rows:
        raise InvalidInput(
            f"contexts has shape {shape}, but there are {rows} rewards; give a 2-D array or "
            "DataFrame with one row of features per logged request",
            field="contexts",
        )
    if default_model:
        _check_numbers(contexts)


def _check_numbers(contexts: Any) -> None:
    """The default model's contexts: numbers, none missing."""
    if hasattr(contexts, "iloc"):
        text = [
            str(c)
            for c, kind in zip(contexts.columns, contexts.dtypes, strict=True)
            if kind.kind not in "biuf"
        ]
        missing = 0 if text else int(contexts.isna().to_numpy().sum())
    else:
        kind = np.asarray(contexts).dtype.kind
        text = [] if kind in "biuf" else [f"of dtype {np.asarray(contexts).dtype}"]
        missing = int((~np.isfinite(np.asarray(contexts))).sum()) if kind == "f" else 0
    if text:
        raise InvalidInput(
            f"contexts column(s) {', '.join(text)} are not numbers, and the default reward "
            "model takes numbers; encode them, or give a model that does (e.g. a pipeline "
            "with a OneHotEncoder)",
            field="contexts",
        )
    if missing:
        raise InvalidInput(
            f"contexts has {missing} missing value(s), which the default reward model cannot "
            "take; fill them, or give a model that takes them (e.g. "
            "HistGradientBoostingRegressor)",
            field="contexts",
        )


def _check_action_count(n_actions: int | None) -> None:
    if n_actions is None:
        return
    if isinstance(n_actions, bool) or not isinstance(n_actions, int) or n_actions < 1:
        raise InvalidInput(
            f"n_actions {n_actions!r:.60} must be a positive whole number, the count of "
            "actions (arms)",
            field="n_actions",
        )
