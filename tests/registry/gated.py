"""Evaluations stored and gated, for versions to be registered with: real records
made by loopml's own gate, without the cost of evaluating a model for each."""

from __future__ import annotations

import loopml
from loopml.evaluation import Evaluation, Interval, gate
from loopml.evaluation._record import store
from loopml.evaluation._records import Paired, PairedMetric


def judged(ws: loopml.Workspace, accuracy: float = 0.95, **gate_options: object) -> Evaluation:
    """An evaluation of iris, stored and gated (against the baseline's 0.33 it passes
    unless ``accuracy`` is below that): what a version is registered with to be
    promoted. Each accuracy gives another record. Against a ``champion=`` evaluation,
    it is recorded as compared with it row by row: right on every row the champion
    gets right, and on as many more as its accuracy says."""
    found = Evaluation(
        task="classification",
        primary="accuracy",
        rows=150,
        metrics={"accuracy": accuracy},
        intervals={"accuracy": Interval(accuracy - 0.03, min(1.0, accuracy + 0.03))},
        baseline={"accuracy": 1 / 3},
        baseline_description="class prior over 3 classes",
        slices=[],
        perturbation={},
        calibration=None,
        latency_ms={"row_p99": 0.5},
        size_bytes={"disk": 1_000.0},
        paired=_versus(gate_options.get("champion"), accuracy),
    )
    stored = store(ws, found, name="iris.evaluation", inputs={})
    gate(stored, workspace=ws, stop=False, **gate_options)  # type: ignore[arg-type]
    return stored


def _versus(champion: object, accuracy: float) -> Paired | None:
    if not isinstance(champion, Evaluation):
        return None
    other = champion.metrics["accuracy"]
    won = max(0, round((accuracy - other) * 150))
    lead = won / 150
    compared = PairedMetric(
        "accuracy", "mcnemar", 150, accuracy, other, lead, lead, lead, 0.0, better=won
    )
    return Paired(champion.model or "iris", 150, {"accuracy": compared})
