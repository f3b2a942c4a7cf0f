"""What an evaluation finds, as plain records: stored as JSON with the Evaluation
artifact, read by the gate, shown by ``loopml models show`` and diffed between models.

Metric names are the task's (``accuracy``, ``f1_macro``, ``roc_auc``, ``log_loss``,
``mae``, ``rmse``, ``r2``, ``mase``...); for every metric the direction is known
(:data:`HIGHER_IS_BETTER`), so a regression can be told from an improvement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Whether a larger value of a metric is better; metrics not listed are taken as so.
HIGHER_IS_BETTER = {
    "accuracy": True,
    "balanced_accuracy": True,
    "f1_macro": True,
    "roc_auc": True,
    "log_loss": False,
    "ece": False,
    "mae": False,
    "rmse": False,
    "r2": True,
    "mase": False,
}


# Metrics that are a share of rows or a probability, in [0, 1]: a difference of two is
# in percentage points. The others are in the target's units (mae, rmse) or a ratio.
SHARES = frozenset(
    {"accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "ece", "precision", "recall", "f1"}
)


def higher_is_better(metric: str) -> bool:
    return HIGHER_IS_BETTER.get(metric.rsplit(".", 1)[-1], True)


def difference_text(metric: str, difference: float) -> str:
    """A difference of ``metric``, signed, in its units: percentage points for a share,
    the metric's own units otherwise.

    >>> difference_text("accuracy", -0.0315), difference_text("recall.yes", 0.2)
    ('-3.1 pts', '+20.0 pts')
    >>> difference_text("rmse", -12.146)
    '-12.15'
    """
    if metric.split(".", 1)[0] in SHARES:
        return f"{difference * 100:+.1f} pts"
    return f"{difference:+.4g}"


@dataclass(frozen=True)
class Interval:
    """A confidence interval: a metric's by the bootstrap, or an off-policy estimate's
    normal one."""

    low: float
    high: float
    level: float = 0.95


@dataclass(frozen=True)
class Estimate:
    """A metric of one window of unlabelled predictions, estimated from the model's
    calibrated confidence (see :class:`~loopml.evaluation.PerformanceEstimator`).

    ``low`` to ``high`` is where the window's realised metric falls with probability
    ``level`` once its labels come, if the labels still follow the features as in the
    reference (``value`` plus or minus the normal quantile times ``standard_error``,
    clipped to [0, 1]); NaN throughout for a metric the window leaves undefined.
    """

    window: Any  # the window's id: its position in a list, or the id given
    metric: str  # "accuracy"; for two classes also "precision", "recall", "f1", "roc_auc"
    value: float
    low: float
    high: float
    standard_error: float
    rows: int
    level: float = 0.95


@dataclass(frozen=True)
class SliceResult:
    """One slice of the evaluation rows: a categorical value, a quantile bin of a
    numeric column, or a user-defined slice."""

    name: str  # e.g. "plan=basic", "age in [18, 25)", or the user's name
    column: str | None  # None for a user-defined slice
    rows: int
    metrics: dict[str, float]
    # Relative to the overall value of the primary metric, signed so that a negative
    # number is always worse (e.g. -0.12: twelve points worse than overall).
    gap: float
    one_class: bool = False  # the model predicts one class for nearly every row here


@dataclass(frozen=True)
class Flips:
    """Against another model (normally the champion), on the same rows."""

    against: str  # the other model's ref, e.g. "churn@v3"
    negative: int  # rows the other got right and this one gets wrong
    positive: int  # rows the other got wrong and this one gets right
    rows: int
    negative_rows: list[int] = field(default_factory=list)  # row positions, kept to look at
    positive_rows: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class PairedMetric:
    """One metric of two models on the same rows, compared row by row.

    ``lead`` is how much better the model is than the other (negative: worse), in the
    metric's units; ``low`` to ``high`` is its 95% interval and ``standard_error`` its
    standard error. ``test`` is ``"mcnemar"`` for accuracy — judged by the rows only one
    of the two gets right, ``worse`` (the other right, this one wrong) against
    ``better`` — and ``"bootstrap"`` for every other metric: the paired bootstrap of
    the difference, both models scored on the same resamples of the rows.
    """

    metric: str
    test: str  # "mcnemar" or "bootstrap"
    rows: int
    value: float  # this model's
    other: float  # the other model's
    lead: float
    low: float
    high: float
    standard_error: float
    worse: int = 0  # mcnemar: rows the other got right and this one gets wrong
    better: int = 0  # mcnemar: rows the other got wrong and this one gets right


@dataclass(frozen=True)
class Paired:
    """The model against another one (normally the champion) on the same rows:
    each metric compared row by row, and the primary metric on each slice."""

    against: str  # the other model's ref, or its class for a model object
    rows: int
    metrics: dict[str, PairedMetric]
    slices: dict[str, PairedMetric] = field(default_factory=dict)  # by slice name

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Paired:
        return cls(
            against=data["against"],
            rows=data["rows"],
            metrics={k: PairedMetric(**v) for k, v in data["metrics"].items()},
            slices={k: PairedMetric(**v) for k, v in data.get("slices", {}).items()},
        )


@dataclass(frozen=True)
class Evaluation:
    """A model evaluated on a held-out dataset version."""

    task: str  # "classification", "regression" or "timeseries"
    primary: str  # the metric the gate compares first, e.g. "accuracy" or "rmse"
    rows: int
    metrics: dict[str, float]
    intervals: dict[str, Interval]
    baseline: dict[str, float]  # the naive baseline's metrics on the same rows
    baseline_description: str
    slices: list[SliceResult]  # worst first
    perturbation: dict[str, float]  # feature -> share of predictions that change
    calibration: dict[str, Any] | None  # {"ece": ..., "curve": [[mean_p, frac_pos, n], ...]}
    latency_ms: dict[str, float]  # "row_p50", "row_p99", "batch_1000_p50", "batch_1000_p99"
    size_bytes: dict[str, float]  # "disk", "memory"
    flips: Flips | None = None
    data: str | None = None  # the dataset version's ref, e.g. "churn@v5"
    model: str | None = None  # the model's ref, when it was registered
    # What the fields above do not hold: the confusion matrix, any overlap allowed with
    # the training rows, the slices skipped and why, how latency and size were measured.
    details: dict[str, Any] = field(default_factory=dict)
    # A digest of the evaluation rows (see _rowdigest), so that two evaluations can be
    # told to be on the same rows; None in evaluations stored before it was recorded.
    rows_digest: str | None = None
    # The candidate against ``against=`` and against the naive baseline, row by row;
    # None / empty in evaluations made without them (or stored before they existed).
    paired: Paired | None = None
    paired_baseline: dict[str, PairedMetric] = field(default_factory=dict)
    # A classifier's performance estimator fitted on these rows (the JSON of
    # PerformanceEstimator.to_dict), for its live windows before their labels come;
    # None for a regressor, a model without probabilities, or evaluations stored before.
    estimator: dict[str, Any] | None = None
    # The stored record's id, once it is stored: not part of what it found.
    artifact_id: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        del found["artifact_id"]
        return found

    @classmethod
    def from_dict(cls, data: dict[str, Any], artifact_id: str | None = None) -> Evaluation:
        fields = dict(data, artifact_id=artifact_id)
        fields["intervals"] = {k: Interval(**v) for k, v in data["intervals"].items()}
        fields["slices"] = [SliceResult(**s) for s in data["slices"]]
        fields["flips"] = Flips(**data["flips"]) if data.get("flips") else None
        fields["paired"] = Paired.from_dict(data["paired"]) if data.get("paired") else None
        fields["paired_baseline"] = {
            k: PairedMetric(**v) for k, v in data.get("paired_baseline", {}).items()
        }
        return cls(**fields)
