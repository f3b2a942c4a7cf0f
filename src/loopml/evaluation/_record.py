"""An Evaluation stored as an artifact of kind ``evaluation``, linked to the active run.

The bytes are the canonical JSON of ``Evaluation.to_dict()`` (sorted keys, no spaces,
no NaN), so the same evaluation stored twice is one version. The artifact's metadata
holds the task, the primary metric and its value, the model and data refs, the label
column and ``data_id``: the artifact holding the evaluation rows. Rows handed in as a
DataFrame are stored too (kind ``evaluation-rows``, Parquet), so that the model can be
compared on the same rows later — by ``loopml models diff`` and ``reproduce``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loopml._kinds import ArtifactKind
from loopml.errors import InvalidInput, NotFound
from loopml.evaluation._records import Evaluation

if TYPE_CHECKING:
    from loopml.store import Artifact
    from loopml.workspace import Workspace


def canonical_json(evaluation: Evaluation) -> bytes:
    text = json.dumps(evaluation.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text.encode()


def store(
    ws: Workspace,
    evaluation: Evaluation,
    *,
    name: str,
    inputs: Mapping[str, Artifact],
    rows: Any = None,
) -> Evaluation:
    """Store the evaluation; with an active run (of this workspace), as its output, with
    the model and data artifacts as its inputs. ``rows`` is the data as given: stored
    when it is a DataFrame rather than a dataset version. The evaluation is returned
    with its ``artifact_id``."""
    from loopml._context import run_making_records
    from loopml.refs import check_name
    from loopml.store import Direction
    from loopml.workspace import record_version

    check_name(name, "evaluation name")
    run_id = run_making_records(ws)
    used = dict(inputs)
    if "data" not in used and rows is not None:
        from loopml._serialize import record_value

        used["data"] = record_value(
            ws, rows, kind=ArtifactKind.EVALUATION_ROWS, name=name, run_id=run_id
        )
    blob = ws.artifacts.put_bytes(canonical_json(evaluation))
    metadata = {
        "format": "evaluation",
        "task": evaluation.task,
        "primary": evaluation.primary,
        "value": evaluation.metrics[evaluation.primary],
        "model": evaluation.model,
        "data": evaluation.data,
        "data_id": used["data"].id if "data" in used else None,
        "label": evaluation.details.get("label"),
    }
    artifact = record_version(
        ws,
        blob.digest,
        blob.size,
        kind=ArtifactKind.EVALUATION,
        name=name,
        metadata=metadata,
        run_id=run_id,
    )
    if run_id is not None:
        for role, read in used.items():
            ws.store.add_event(run_id, read.id, Direction.INPUT, role)
    return dataclasses.replace(evaluation, artifact_id=artifact.id)


def load_evaluation(ws: Workspace, evaluation: Artifact | str) -> Evaluation:
    """The Evaluation stored as ``evaluation`` (an artifact or its id)."""
    from loopml.store import Artifact

    found = evaluation if isinstance(evaluation, Artifact) else _get(ws, evaluation)
    if found.kind != ArtifactKind.EVALUATION:
        raise InvalidInput(
            f"{found.kind} {found.ref} is not an evaluation; give an artifact of kind "
            f"{ArtifactKind.EVALUATION.value!r} (what loopml.evaluate records) or its id"
        )
    data = json.loads(ws.artifacts.read_bytes(found.digest, what=f"{found.kind} {found.ref}"))
    return Evaluation.from_dict(data, artifact_id=found.id)


def evaluation_rows(ws: Workspace, evaluation: Artifact) -> Any:
    """The rows an evaluation was made on: the DatasetVersion, or the DataFrame as it
    was given; None when they were not recorded."""
    data_id = evaluation.metadata.get("data_id")
    if not isinstance(data_id, str):
        return None
    rows = ws.store.get_artifact(data_id)
    if rows.kind == ArtifactKind.DATASET:
        from loopml.data import DatasetVersion

        return DatasetVersion(rows, ws)
    from loopml.pipeline._run import load_output

    return load_output(ws, rows)


def _get(ws: Workspace, artifact_id: str) -> Artifact:
    try:
        return ws.store.get_artifact(artifact_id)
    except NotFound:
        raise NotFound(
            f"no evaluation with id {artifact_id!r} in this workspace; give the artifact "
            "loopml.evaluate recorded, or its id"
        ) from None


def log_to_run(evaluation: Evaluation) -> None:
    """``eval.<metric>`` and ``baseline.<metric>`` on the active run, if there is one."""
    from loopml.tracking import active_run

    around = active_run()
    if around is None:
        return
    around.log_metrics({f"eval.{key}": value for key, value in evaluation.metrics.items()})
    around.log_metrics({f"baseline.{key}": value for key, value in evaluation.baseline.items()})
