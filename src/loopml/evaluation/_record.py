"""An Evaluation stored as an artifact of kind ``evaluation``, linked to the active run.

The bytes are the canonical JSON of ``Evaluation.to_dict()`` (sorted keys, no spaces,
no NaN), so the same evaluation stored twice is one version. The artifact's metadata
holds the task, the primary metric and its value, and the model and data refs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from loopml.evaluation._records import Evaluation

if TYPE_CHECKING:
    from loopml.store import Artifact
    from loopml.workspace import Workspace

KIND = "evaluation"


def canonical_json(evaluation: Evaluation) -> bytes:
    text = json.dumps(evaluation.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text.encode()


def store(
    ws: Workspace,
    evaluation: Evaluation,
    *,
    name: str,
    inputs: Mapping[str, Artifact],
) -> Artifact:
    """Store the evaluation; with an active run (of this workspace), as its output, with
    the model and data artifacts as its inputs."""
    from loopml.refs import check_name
    from loopml.store import Direction
    from loopml.tracking._active import run_making_records

    check_name(name, "evaluation name")
    run_id = run_making_records(ws)
    blob = ws.artifacts.put_bytes(canonical_json(evaluation))
    metadata = {
        "format": KIND,
        "task": evaluation.task,
        "primary": evaluation.primary,
        "value": evaluation.metrics[evaluation.primary],
        "model": evaluation.model,
        "data": evaluation.data,
    }
    artifact = ws.record(
        blob.digest, blob.size, kind=KIND, name=name, metadata=metadata, run_id=run_id
    )
    if run_id is not None:
        for role, used in inputs.items():
            ws.store.add_event(run_id, used.id, Direction.INPUT, role)
    return artifact


def log_to_run(evaluation: Evaluation) -> None:
    """``eval.<metric>`` and ``baseline.<metric>`` on the active run, if there is one."""
    from loopml.tracking import active_run

    around = active_run()
    if around is None:
        return
    around.log_metrics({f"eval.{key}": value for key, value in evaluation.metrics.items()})
    around.log_metrics({f"baseline.{key}": value for key, value in evaluation.baseline.items()})
