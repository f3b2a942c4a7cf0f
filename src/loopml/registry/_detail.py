"""Everything about one model version, as ``loopml models show`` prints it and a UI
shows it: the version and its aliases, the evaluation it was registered with (metrics
with intervals, the baseline's, the worst slices), the gate decision promotion goes
by, the run that made it with that run's latest metrics, and its lineage back to the
data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.registry._lineage import Lineage, lineage
from loopml.registry._versions import ModelVersion, resolve_model, version_of
from loopml.tracking._active import workspace_in_use

if TYPE_CHECKING:
    from loopml.workspace import Workspace


@dataclass(frozen=True)
class ModelDetail:
    """One model version with its evaluation, gate decision, origin and lineage.

    ``evaluation`` is None when it was registered without one; else its id and ref
    (None when the id names no artifact of this workspace), its primary metric and
    value, the data it was made on, and, when :func:`loopml.evaluate` made it, the task,
    rows, metrics, intervals, baseline and slices. ``gate`` is None when no gate decided
    on it; else the decision as the gate recorded it (``passed``, ``primary``,
    ``checks``...) with its ``id`` and ``ref``. ``metrics`` are the latest metrics of
    the run that made it (``made_by``, None for a model registered outside a run)."""

    version: ModelVersion
    evaluation: dict[str, Any] | None
    gate: dict[str, Any] | None
    lineage: Lineage
    metrics: dict[str, float]

    @property
    def made_by(self) -> dict[str, str] | None:
        """The id and name of the run that made the version."""
        run = self.lineage.made_by
        return None if run is None else {"id": run.id, "name": run.name}

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON values, as ``loopml models show --json`` prints it."""
        return {
            **self.version.to_dict(),
            "evaluation": self.evaluation,
            "gate": self.gate,
            "run": self.made_by,
            "metrics": self.metrics,
            "datasets": self.lineage.datasets(),
            "lineage": self.lineage.to_dict(),
        }


def model_detail(ref: str, *, workspace: Workspace | None = None) -> ModelDetail:
    """Everything about the version ``ref`` points at (``churn@v3``, ``churn@champion``):
    see :class:`ModelDetail`."""
    ws = workspace_in_use(workspace)
    version = version_of(ws.store, resolve_model(ws.store, ref))
    found = lineage(version.ref, workspace=ws)
    made_by = found.made_by
    metrics = ws.store.latest_metrics([made_by.id]).get(made_by.id, {}) if made_by else {}
    return ModelDetail(
        version=version,
        evaluation=evaluation_detail(ws, version.evaluation_id),
        gate=gate_detail(ws, version),
        lineage=found,
        metrics=metrics,
    )


def evaluation_detail(ws: Workspace, evaluation_id: str | None) -> dict[str, Any] | None:
    """The evaluation's ref, its primary metric and, when loopml.evaluate made it, what
    it found: metrics with intervals, the baseline's, and the slices."""
    from loopml.errors import NotFound

    if evaluation_id is None:
        return None
    try:
        found = ws.store.get_artifact(evaluation_id)
    except NotFound:  # an id written into the metadata by hand, not by register
        return {"id": evaluation_id, "ref": None, "primary": None, "value": None}
    meta = found.metadata
    shown: dict[str, Any] = {
        "id": found.id,
        "ref": found.ref,
        "primary": meta.get("primary"),
        "value": meta.get("value"),
        "data": meta.get("data"),
        "rows_recorded": isinstance(meta.get("data_id"), str),
    }
    try:
        from loopml.evaluation import load_evaluation

        full = load_evaluation(ws, found).to_dict()
    except (ValueError, TypeError, KeyError):  # recorded by hand, not by loopml.evaluate
        return shown
    keep = ("task", "rows", "metrics", "intervals", "baseline", "baseline_description")
    return {**shown, **{key: full[key] for key in keep}, "slices": full["slices"]}


def gate_detail(ws: Workspace, version: ModelVersion) -> dict[str, Any] | None:
    """The latest gate decision made on the version's evaluation, or with it as the
    candidate: the one promotion goes by."""
    from loopml.registry._gated import version_gate

    verdict, _ = version_gate(ws, version.artifact)
    if verdict is None:
        return None
    decision: dict[str, Any] = json.loads(
        ws.artifacts.read_bytes(verdict.artifact.digest, what=f"gate {verdict.artifact.ref}")
    )
    return {"id": verdict.artifact.id, "ref": verdict.artifact.ref, **decision}
