"""Everything about one run, as ``loopml runs show`` prints it and a UI shows it: its
fields, parameters, tags, code and environment, each metric's history in brief, what
it read and wrote, and its children; and runs side by side, as ``loopml runs compare``
prints them.

>>> import loopml, tempfile
>>> with loopml.init(tempfile.mkdtemp()) as ws:
...     with loopml.start_run("fit", workspace=ws) as run:
...         for loss in (0.9, 0.5, 0.7):
...             loopml.log_metric("loss", loss)
...     found = run_detail(run.id[-12:], workspace=ws)
>>> found.metric_history["loss"]
{'points': 3, 'min': 0.5, 'max': 0.9, 'last': 0.7, 'step': 2}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.store import Artifact, Event, Run, RunStatus
from loopml.store.query import run_row
from loopml.tracking._active import workspace_in_use
from loopml.tracking._reap import reap_dead_runs
from loopml.tracking._search import RunSummary, run_by_ref

if TYPE_CHECKING:
    from loopml.workspace import Workspace


@dataclass(frozen=True)
class RunDetail:
    """A run; each metric's ``points``, ``min``, ``max``, ``last`` value and its
    ``step``; its events, each with the artifact it read or wrote; its children."""

    run: Run
    metric_history: dict[str, dict[str, Any]]
    events: list[tuple[Event, Artifact]]
    children: list[Run]

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON values, as ``loopml runs show --json`` prints it."""
        run = self.run
        last = {key: entry["last"] for key, entry in self.metric_history.items()}
        return {
            **run_row(run, last),
            "metric_history": self.metric_history,
            "tags": run.tags,
            "code": run.code,
            "environment": {k: v for k, v in run.environment.items() if k != "packages"},
            "packages": len(run.environment.get("packages", {})),
            "error": run.error,
            "events": [
                {
                    "direction": event.direction.value,
                    "role": event.role,
                    "artifact": f"{artifact.name}@v{artifact.version}",
                    "kind": artifact.kind,
                }
                for event, artifact in self.events
            ],
            "children": [
                {"id": child.id, "name": child.name, "status": child.status.value}
                for child in self.children
            ],
        }


def run_detail(ref: str, *, workspace: Workspace | None = None) -> RunDetail:
    """Everything about the run ``ref`` names (its id, or the last characters of it):
    see :class:`RunDetail`."""
    ws = workspace_in_use(workspace)
    store = ws.store
    run = run_by_ref(store, ref)
    if run.status is RunStatus.RUNNING and run.id in reap_dead_runs(ws):
        run = store.get_run(run.id)  # its process is gone: killed, not running
    history: dict[str, dict[str, Any]] = {}
    for point in store.metrics(run.id):  # by key, then step
        entry = history.setdefault(point.key, {"points": 0, "min": point.value, "max": point.value})
        entry.update(points=entry["points"] + 1, last=point.value, step=point.step)
        entry["min"], entry["max"] = min(entry["min"], point.value), max(entry["max"], point.value)
    events = store.events(run_id=run.id)
    artifacts = {event.artifact_id: store.get_artifact(event.artifact_id) for event in events}
    children = store.find_runs(parent_id=run.id)
    return RunDetail(run, history, [(e, artifacts[e.artifact_id]) for e in events], children)


@dataclass(frozen=True)
class RunComparison:
    """Runs side by side: ``fields`` holds, in order, each field's name and its value
    in each run (None where a run lacks it): ``status``, ``seconds``, then every
    parameter (``params.C``) and every latest metric (``metrics.auc``), by key."""

    runs: list[RunSummary]
    fields: list[tuple[str, list[Any]]]

    def differs(self, field: str) -> bool:
        """Whether the runs' values of ``field`` are not all the same."""
        return differ(dict(self.fields)[field])


def differ(values: Sequence[Any]) -> bool:
    """Whether ``values`` are not all the same (compared as JSON, so 1 and 1.0 agree)."""
    return len({json.dumps(value, sort_keys=True, default=str) for value in values}) > 1


def compare_runs(refs: Sequence[str], *, workspace: Workspace | None = None) -> RunComparison:
    """The runs ``refs`` name (ids, or their last characters), side by side: see
    :class:`RunComparison`."""
    if isinstance(refs, str) or len(refs) < 2:
        raise InvalidInput("comparing runs needs two or more of them; give their ids", field="refs")
    store = workspace_in_use(workspace).store
    runs = [run_by_ref(store, ref) for ref in refs]
    metrics = store.latest_metrics([run.id for run in runs])
    summaries = [RunSummary(run, metrics.get(run.id, {})) for run in runs]
    fields: list[tuple[str, list[Any]]] = [
        ("status", [summary.run.status.value for summary in summaries]),
        ("seconds", [summary.seconds for summary in summaries]),
    ]
    for section in ("params", "metrics"):
        values = [
            summary.run.params if section == "params" else summary.metrics for summary in summaries
        ]
        keys = sorted({key for each in values for key in each})
        fields += [(f"{section}.{key}", [each.get(key) for each in values]) for key in keys]
    return RunComparison(summaries, fields)
