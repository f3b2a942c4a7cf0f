"""A loop's definition: the deployment it watches, how it retrains the model behind it,
when (its triggers), and how a retrained model earns the traffic (its rollout).

A definition is read strictly (:mod:`loopml._strict`): a key loopml does not know is an
error naming it and the closest one. In a TOML file each loop is a table:

.. code-block:: toml

    [loop.rain]
    deployment = "rain"            # the deployment it watches and changes
    model = "rain"                 # the registered model it retrains
    pipeline = "train.py:rain"     # called with data="<dataset ref>"; returns the model
    data = "rainfall"              # the dataset it trains on, with the labelled traffic
    label = "rain"                 # the label column of that dataset
    window = "30d"                 # decay is judged on the last 30 days (or on N labelled rows)

    [loop.rain.triggers]
    new_labels = 2000              # retrain after this many newly labelled rows

    [loop.rain.triggers.decay]
    worse_than = 0.70              # accuracy under 0.70, with 95 % confidence

    [loop.rain.rollout]
    share = 0.5                    # the challenger's share of traffic while it is tested

>>> spec = Loop.from_dict("rain", {"deployment": "rain", "model": "rain",
...     "pipeline": "train.py:rain", "data": "rainfall", "label": "rain",
...     "triggers": {"new_labels": 2000}})
>>> spec.triggers.new_labels, spec.rollout.mode, spec.rollout.share
(2000, 'split', 0.5)
>>> Loop.from_dict("rain", spec.to_dict()) == spec
True
>>> Loop.from_dict("rain", {**spec.to_dict(), "rollout": {"shares": 0.2}})
Traceback (most recent call last):
...
loopml.errors.InvalidInput: loop 'rain' rollout has no setting 'shares'; did you mean 'share'? ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loopml._strict import read_record, record_dict
from loopml.errors import InvalidInput

TASKS = ("classification", "regression")
MODES = ("split", "shadow")
TRAININGS = ("pipeline", "update")


@dataclass(frozen=True)
class Decay:
    """When the champion's live metric, on the labelled rows of the last complete window,
    counts as decayed: any rule given fires, each only when the window's confidence
    interval (at ``confidence``, one-sided) lies wholly on the bad side.

    ``worse_than`` is a value of the metric (accuracy for a classifier, RMSE for a
    regressor); ``baseline`` fires when the model is worse than the naive baseline on the
    same rows; ``drop`` when it is worse than its evaluation before it was deployed by
    that much (that evaluation's own sampling error counted). A window with fewer than
    ``min_labelled`` labelled rows is not judged, unless ``estimated``: then a
    classifier's accuracy on the window is estimated from its confidence (the estimator
    its evaluation fitted, see :mod:`loopml.monitor._estimated`) on every row, labelled
    or not, and ``worse_than`` and ``drop`` fire when the estimate's one-sided bound lies
    past them — so decay is seen before the labels come, as far as it shows in the
    inputs (a change in what the labels are for the same inputs does not). The bounds,
    and how often each fires, are in :mod:`loopml.monitor._decay_bounds` and
    docs/loop.md."""

    worse_than: float | None = None
    baseline: bool = False
    drop: float | None = None
    min_labelled: int = 200
    confidence: float = 0.95
    estimated: bool = False

    @property
    def active(self) -> bool:
        return self.worse_than is not None or self.baseline or self.drop is not None


@dataclass(frozen=True)
class Drift:
    """When the live inputs drifted from the rows the champion was trained on: in the
    latest window of time ``every`` holding at least ``min_rows`` of its rows, at least
    ``share`` of the input columns drifted, each judged by the data area's drift test
    (an effect over its threshold, Holm-adjusted over the columns; see
    :func:`loopml.monitor.drift_windows`)."""

    share: float | None = None
    every: str = "1d"
    min_rows: int = 200

    @property
    def active(self) -> bool:
        return self.share is not None


@dataclass(frozen=True)
class Triggers:
    """What starts a retraining; any one that fires does. ``every``: the last training is
    that old (``"7d"``); ``new_labels``: that many rows were labelled since it;
    ``new_data``: the dataset has a version the loop has not trained on (one added with
    ``loopml data add``); ``decay``: see :class:`Decay`; ``drift``: see :class:`Drift`."""

    every: str | None = None
    new_labels: int | None = None
    new_data: bool = False
    decay: Decay = field(default_factory=Decay)
    drift: Drift = field(default_factory=Drift)


@dataclass(frozen=True)
class Rollout:
    """How a retrained model that passed the gate is tested on live traffic.

    ``mode`` ``split`` sends it ``share`` of the requests (an A/B test, sticky per key);
    ``shadow`` gives it a copy of every request, its answers logged and never returned.
    Its outcomes (right or wrong for a classifier, the squared error for a regressor)
    are compared with the champion's by an always-valid sequential test
    (:func:`loopml.evaluation.sequential_test`) at ``alpha``, worth acting on from a
    lift of ``min_lift``; with ``max_outcomes`` per arm and still no verdict, the
    champion stays. An error rate over ``max_error_rate`` or a p99 latency over
    ``max_latency_p99_ms`` rolls the challenger back at once."""

    mode: str = "split"
    share: float = 0.5
    alpha: float = 0.05
    min_lift: float = 0.02
    min_outcomes: int = 100
    max_outcomes: int = 50_000
    max_error_rate: float = 0.02
    max_latency_p99_ms: float | None = None


@dataclass(frozen=True)
class Loop:
    """One loop: ``deployment`` serves ``model``; ``pipeline`` (``file.py:name``,
    relative to the workspace's folder) retrains it, called with ``data=`` a version of
    dataset ``data`` (whose label column is ``label``) and the extra ``params``, and
    returns the trained model from one of its steps. With ``training`` ``update`` (the
    continuous mode) the champion itself learns the rows labelled since the last
    training instead (``partial_fit``, ``update_passes`` times over the new rows), and
    is refused when its score on the last ``holdout`` share of the dataset it knew falls
    by more than ``max_forgetting``. ``holdout`` is the share of the
    labelled traffic, the most recent, kept out of training to gate the new model on,
    against the champion on the same rows; ``gate`` is the gate's policy
    (:func:`loopml.gate`)."""

    name: str
    deployment: str
    model: str
    data: str
    label: str
    pipeline: str | None = None
    training: str = "pipeline"
    update_passes: int = 1
    max_forgetting: float = 0.02
    task: str = "classification"
    window: str | int = "1d"
    holdout: float = 0.2
    params: dict[str, Any] = field(default_factory=dict)
    gate: dict[str, Any] = field(default_factory=dict)
    triggers: Triggers = field(default_factory=Triggers)
    rollout: Rollout = field(default_factory=Rollout)

    @classmethod
    def from_dict(cls, name: str, data: Any) -> Loop:
        """The loop ``name`` as a TOML table or JSON object defines it."""
        if isinstance(data, dict) and "name" in data and data["name"] != name:
            raise InvalidInput(
                f"loop {name!r} says its name is {data['name']!r}; leave 'name' out",
                field="name",
            )
        spec = read_record(cls, {**data, "name": name}, f"loop {name!r}")
        _check(spec)
        return spec

    def to_dict(self) -> dict[str, Any]:
        """The definition as :meth:`from_dict` reads it back (``name`` included)."""
        return record_dict(self)


def _check(spec: Loop) -> None:
    from loopml._cadence import parse_every

    where = f"loop {spec.name!r}"
    if spec.task not in TASKS:
        raise InvalidInput(
            f"{where} task {spec.task!r} is not one of {', '.join(TASKS)}", field="task"
        )
    if spec.rollout.mode not in MODES:
        raise InvalidInput(
            f"{where} rollout mode {spec.rollout.mode!r} is not one of {', '.join(MODES)}",
            field="rollout.mode",
        )
    for value, low, high, name in (
        (spec.holdout, 0.0, 1.0, "holdout"),
        (spec.rollout.share, 0.0, 1.0, "rollout.share"),
        (spec.rollout.alpha, 0.0, 0.5, "rollout.alpha"),
        (spec.triggers.decay.confidence, 0.5, 1.0, "triggers.decay.confidence"),
    ):
        if not low < value < high:
            raise InvalidInput(
                f"{where} {name} {value} must lie strictly between {low:g} and {high:g}",
                field=name,
            )
    for value, name in (
        (spec.rollout.min_lift, "rollout.min_lift"),
        (spec.rollout.max_error_rate, "rollout.max_error_rate"),
    ):
        if value <= 0:
            raise InvalidInput(f"{where} {name} must be above 0, not {value}", field=name)
    share = spec.triggers.drift.share
    if share is not None and not 0 < share <= 1:
        raise InvalidInput(
            f"{where} triggers.drift.share {share} must be above 0 and at most 1 (the share "
            "of the input columns that drifted)",
            field="triggers.drift.share",
        )
    if spec.update_passes < 1:
        raise InvalidInput(
            f"{where} update_passes must be at least 1, not {spec.update_passes}",
            field="update_passes",
        )
    if spec.triggers.new_labels is not None and spec.triggers.new_labels < 1:
        raise InvalidInput(
            f"{where} triggers.new_labels must be at least 1, not {spec.triggers.new_labels}",
            field="triggers.new_labels",
        )
    if spec.triggers.decay.estimated and (
        spec.task != "classification" or isinstance(spec.window, int)
    ):
        raise InvalidInput(
            f"{where} triggers.decay.estimated is for a classifier judged on windows of time "
            "(its accuracy estimated from confidence on the rows not labelled yet); set "
            "window to a length of time such as '1d', or leave estimated out",
            field="triggers.decay.estimated",
        )
    if isinstance(spec.window, int) and spec.window < 1:
        raise InvalidInput(
            f"{where} window {spec.window} must be a number of rows (at least 1) or a "
            "length of time such as '1d'",
            field="window",
        )
    intervals = [(spec.window, "window"), (spec.triggers.every, "triggers.every")]
    intervals.append((spec.triggers.drift.every, "triggers.drift.every"))
    for text, name in intervals:
        if isinstance(text, str):
            try:
                parse_every(text)
            except InvalidInput as error:
                raise InvalidInput(f"{where} {name}: {error}", field=name) from None
    if spec.training not in TRAININGS:
        raise InvalidInput(
            f"{where} training {spec.training!r} is not one of {', '.join(TRAININGS)}",
            field="training",
        )
    if spec.training == "pipeline" and spec.pipeline is None:
        raise InvalidInput(
            f"{where} has no 'pipeline': give the pipeline that retrains the model, e.g. "
            "pipeline = 'train.py:rain' (or training = 'update' to update the champion)",
            field="pipeline",
        )
    if spec.pipeline is not None and ":" not in spec.pipeline:
        raise InvalidInput(
            f"{where} pipeline {spec.pipeline!r} must name the file and the pipeline, "
            "e.g. 'train.py:rain'",
            field="pipeline",
        )
