"""What a model's lineage recorded, found again for ``reproduce``: the step and
pipeline runs that made it, the dataset versions to pin (and other versions given in
their place, checked), the rows to compare predictions on, and data no longer there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loopml._ids import short_id
from loopml.errors import BlobMissing, DigestMismatch, InvalidInput, NotFound
from loopml.store import Direction

if TYPE_CHECKING:
    from loopml.store import Artifact, Run
    from loopml.workspace import Workspace


def making_runs(ws: Workspace, model: Artifact) -> tuple[Run, Run]:
    """The step run that made ``model``, and the pipeline run it was part of."""
    made = [
        event.run_id
        for event in ws.store.events(artifact_id=model.id)
        if event.direction is Direction.OUTPUT
    ]
    if not made:
        raise InvalidInput(
            f"{model.ref} was saved outside any run, so there is no lineage to re-run; "
            "make models in a pipeline step (@loopml.step) to be able to reproduce them"
        )
    step = ws.store.get_run(made[0])
    pipeline = ws.store.get_run(step.parent_id) if step.parent_id else None
    if step.kind != "step" or pipeline is None or pipeline.kind != "pipeline":
        raise InvalidInput(
            f"{model.ref} was made by run {short_id(step.id)} ({step.kind} {step.name}), not "
            "by a pipeline step; reproduce re-runs the pipeline that made a model, so make "
            "it in a @loopml.step (a model a step returns is stored with its lineage)"
        )
    return step, pipeline


def read_by_name(refs: list[str]) -> dict[str, list[str]]:
    """Dataset versions (``name@vN``) grouped by dataset name."""
    found: dict[str, list[str]] = {}
    for ref in refs:
        found.setdefault(ref.split("@")[0], []).append(ref)
    return found


def given_data(
    ws: Workspace, data: Mapping[str, str] | None, read: Mapping[str, list[str]]
) -> dict[str, str]:
    """``data=`` checked: each a version of a dataset the lineage read."""
    from loopml.data._versions import get_version

    given = {}
    for name, ref in (data or {}).items():
        if name not in read:
            listed = ", ".join(r for refs in read.values() for r in refs) or "no dataset"
            raise InvalidInput(
                f"data={{{name!r}: {ref!r}}}: the model's lineage read {listed}, not {name!r}; "
                "give another version of a dataset it read"
            )
        version = get_version(ws, ref)
        if version.name != name:
            raise InvalidInput(
                f"data={{{name!r}: {ref!r}}}: {ref} is a version of {version.name!r}; give a "
                f"version of {name!r}, such as {name}@v2"
            )
        given[name] = version.ref
    return given


def rows_to_compare(ws: Workspace, model: Artifact, on: Any) -> tuple[Any, str | None]:
    """The rows to compare predictions on, and the label column to leave out."""
    from loopml.evaluation._record import evaluation_rows
    from loopml.registry._versions import EVALUATION_KEY

    evaluation_id = model.metadata.get(EVALUATION_KEY)
    evaluation = None
    if isinstance(evaluation_id, str):
        try:
            evaluation = ws.store.get_artifact(evaluation_id)
        except NotFound:
            evaluation = None
    label = None if evaluation is None else evaluation.metadata.get("label")
    if on is not None:
        return on, label
    if evaluation is None:
        return None, None
    rows = evaluation_rows(ws, evaluation)
    return rows if rows is not None else evaluation.metadata.get("data"), label


def missing_data(ws: Workspace, pins: Mapping[str, str]) -> list[str]:
    from loopml.data._versions import get_version

    missing = []
    for ref in pins.values():
        try:
            version = get_version(ws, ref)
        except NotFound:
            missing.append(f"missing data: {ref} is not in this workspace")
            continue
        artifact = version.artifact
        if artifact.uri is not None:
            continue
        try:
            ws.artifacts.verify(artifact.digest)
        except BlobMissing:
            missing.append(
                f"missing data: the bytes of {ref} (blake3:{artifact.digest[:12]}) are not in "
                "the artifact store; restore them (`loopml verify` lists what is missing)"
            )
        except DigestMismatch:
            missing.append(
                f"damaged data: the bytes of {ref} no longer match their digest "
                f"(blake3:{artifact.digest[:12]})"
            )
    return missing
