"""``reproduce``: rebuild a registered model from its lineage and say whether it is
the same model.

The pipeline that made the model runs again in a clean run — every step forced, none
taken from the cache — from the recorded code (the git commit, checked out clean, when
there is one), with the recorded parameters and the dataset versions it read pinned
(``@latest`` then means what it meant). The rebuilt model is compared with the
registered one: its digest, and its predictions on the rows it was evaluated on. Step
by step, the code, parameters and outputs are compared too, so a difference is traced
to the first step whose output changed; and what else differs is named: package
versions, the Python version, a dirty tree, data given in place of the recorded data,
or data no longer there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from loopml._context import workspace_in_use
from loopml._kinds import ArtifactKind
from loopml.errors import LoopmlError
from loopml.registry._compare import changed, compare_predictions, package_changes
from loopml.registry._lineage import lineage
from loopml.registry._lineage_inputs import (
    given_data,
    making_runs,
    missing_data,
    read_by_name,
    rows_to_compare,
)
from loopml.registry._reproduction import (
    DIFFERENT,
    IDENTICAL,
    NOT_REPRODUCED,
    Reproduction,
    StepCheck,
)
from loopml.registry._versions import resolve_model
from loopml.store import Direction

if TYPE_CHECKING:
    from pathlib import Path

    from loopml.pipeline import PipelineResult
    from loopml.store import Artifact, Run
    from loopml.workspace import Workspace


def reproduce(
    ref: str,
    *,
    data: Mapping[str, str] | None = None,
    on: Any = None,
    workspace: Workspace | None = None,
) -> Reproduction:
    """Rebuild model ``ref`` from its lineage and compare it with the registered one.

    ``data`` gives other versions in place of recorded ones (``{"churn": "churn@v7"}``:
    would the model be the same on v7?); ``on`` is the rows to compare predictions on
    (a dataset ref, DatasetVersion or DataFrame) when the model was registered without
    an evaluation whose rows were recorded. The result is stored (kind
    ``reproduction``) with the rebuilding run.
    """
    ws = workspace_in_use(workspace)
    model = resolve_model(ws.store, ref)
    step_run, pipeline_run = making_runs(ws, model)
    pins, checked, differences = _data_plan(ws, model, data)
    rows, label = rows_to_compare(ws, model, on)
    found = Reproduction(
        ref=model.ref,
        outcome=NOT_REPRODUCED,
        pipeline=f"{pipeline_run.code.get('file')}:{pipeline_run.name}",
        source="-",
        data=pins,
        differences=differences,
        recorded_digest=model.digest,
    )
    missing = missing_data(ws, checked)
    if missing:
        return _recorded(ws, replace(found, differences=found.differences + missing))
    from loopml.registry._checkout import recorded_source

    source = recorded_source(ws, str(pipeline_run.code.get("file")), pipeline_run.code.get("git"))
    caveat = [f"code: {source.caveat}"] if source.caveat else []
    found = replace(found, source=source.described, differences=found.differences + caveat)
    step = step_run.name.rsplit("/", 1)[-1]
    try:
        result = _rebuild(ws, source.file, pipeline_run, pins, model.ref)
        result.step(step)  # NotFound when the pipeline has no such step now
    except LoopmlError as error:
        return _recorded(
            ws, replace(found, differences=[*found.differences, f"the rebuild failed: {error}"])
        )
    if source.checkout is not None:
        outside = _outside(ws, result, source.checkout)
        found = replace(found, differences=found.differences + outside)
    return _recorded(
        ws, _compared(ws, found, model, step_run, result, step, rows, label), result.run_id
    )


def _outside(ws: Workspace, result: PipelineResult, checkout: Path) -> list[str]:
    """The code the rebuild ran from outside the checked-out commit: it is as it is
    now, not as it was, so the rebuild was not from the recorded code alone."""
    folder = str(checkout.resolve()).rstrip("/") + "/"
    runs = [ws.store.get_run(result.run_id), *(ws.store.get_run(s.run_id) for s in result.steps)]
    files = {
        str(file)
        for run in runs
        for file in run.code.get("files") or []
        if not str(file).startswith(folder)
    }
    if not files:
        return []
    return [
        "code: the rebuild ran files from outside the checked-out commit, as they are now: "
        + ", ".join(sorted(files))
    ]


def _data_plan(
    ws: Workspace, model: Artifact, data: Mapping[str, str] | None
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """The versions to pin by dataset name, every version to check is there, and what
    differs from the lineage. A dataset read in one version is pinned to it; one read in
    several cannot be pinned by its name, and resolves as it does now."""
    read = read_by_name(lineage(model.ref, workspace=ws).datasets())
    given = given_data(ws, data, read)
    pins = {name: refs[0] for name, refs in read.items() if len(refs) == 1} | given
    differences = [
        f"data: {', '.join(read[name])} -> {pin}, as given"
        for name, pin in given.items()
        if read[name] != [pin]
    ]
    differences += [
        f"data: {name} was read in {len(refs)} versions ({', '.join(refs)}), so it is not "
        "pinned: each reference to it resolves as it does now"
        for name, refs in read.items()
        if len(refs) > 1 and name not in given
    ]
    checked = {ref: ref for refs in read.values() for ref in refs} | given
    return pins, checked, differences


def _compared(
    ws: Workspace,
    found: Reproduction,
    model: Artifact,
    step_run: Run,
    result: PipelineResult,
    step: str,
    rows: Any,
    label: str | None,
) -> Reproduction:
    """The rebuild held against the registered model, step by step and on the rows."""
    rebuilt = _rebuilt_model(ws, model, result, step)
    steps = _step_checks(ws, step_run.parent_id or "", result)
    differences = list(found.differences)
    differences += _environment_changes(step_run, ws.store.get_run(result.step(step).run_id))
    differences += _first_divergence(steps)
    predictions = None
    if rebuilt is not None and rows is not None:
        predictions = compare_predictions(ws, model, rebuilt, rows, label)
    elif rows is None:
        differences.append(
            "predictions not compared: no evaluation rows were recorded for this model; "
            "register it with evaluation=, or give on= (--on) rows to compare on"
        )
    if predictions is not None:
        same = predictions.identical
    else:
        same = rebuilt is not None and rebuilt.digest == model.digest
    return replace(
        found,
        outcome=IDENTICAL if same else DIFFERENT,
        differences=differences,
        predictions=predictions,
        rebuilt_digest=None if rebuilt is None else rebuilt.digest,
        run_id=result.run_id,
        rebuilt_id=None if rebuilt is None else rebuilt.id,
        steps=steps,
    )


def _rebuild(
    ws: Workspace, file: Any, recorded: Run, pins: Mapping[str, str], ref: str
) -> PipelineResult:
    from loopml.data._pins import pinned
    from loopml.pipeline import load_pipeline

    pipeline = load_pipeline(f"{file}:{recorded.name}")
    with pinned(pins):
        return pipeline.run(
            workspace=ws, echo=False, force=True, tags={"reproduces": ref}, **recorded.params
        )


def _rebuilt_model(ws: Workspace, model: Artifact, result: PipelineResult, step: str) -> Any:
    """The rebuilt counterpart of ``model``: the step's output when the model was
    registered from it, else the model of the same name the rebuilt step saved."""
    from loopml.registry._register import SOURCE_KEY

    done = result.step(step)
    if SOURCE_KEY in model.metadata:
        return done.output
    saved = [
        ws.store.get_artifact(event.artifact_id)
        for event in ws.store.events(run_id=done.run_id)
        if event.direction is Direction.OUTPUT
    ]
    same = [a for a in saved if a.kind == model.kind and a.name == model.name]
    return same[-1] if same else done.output


def _step_checks(ws: Workspace, recorded_id: str, result: PipelineResult) -> list[StepCheck]:
    before = {
        run.name.rsplit("/", 1)[-1]: run
        for run in ws.store.find_runs(parent_id=recorded_id, kind="step")
    }
    checks = []
    for done in result.steps:
        old = before.get(done.name)
        if old is None:
            continue
        new = ws.store.get_run(done.run_id)
        checks.append(
            StepCheck(
                step=done.name,
                same_code=old.code.get("fingerprint") == new.code.get("fingerprint"),
                same_params=old.params == new.params,
                same_inputs=_read(ws, old.id) == _read(ws, new.id),
                recorded_output=_output_digest(ws, old.id),
                rebuilt_output=None if done.output is None else done.output.digest,
            )
        )
    return checks


def _read(ws: Workspace, run_id: str) -> dict[str, str]:
    return {
        event.role: ws.store.get_artifact(event.artifact_id).digest
        for event in ws.store.events(run_id=run_id)
        if event.direction is Direction.INPUT
    }


def _output_digest(ws: Workspace, run_id: str) -> str | None:

    for event in ws.store.events(run_id=run_id):
        if event.direction is Direction.OUTPUT:
            artifact = ws.store.get_artifact(event.artifact_id)
            if artifact.kind == ArtifactKind.OUTPUT:
                return artifact.digest
    return None


def _environment_changes(recorded: Run, rebuilt: Run) -> list[str]:
    old, new = recorded.environment, rebuilt.environment
    lines = [
        f"python: {line}"
        for line in changed({"version": old.get("python")}, {"version": new.get("python")})
    ]
    packages = package_changes(old.get("packages") or {}, new.get("packages") or {})
    return lines + [f"package {line}" for line in packages]


def _first_divergence(steps: list[StepCheck]) -> list[str]:
    """Where the outputs first part ways, and the likeliest reason."""
    for step in steps:
        if step.same_output:
            continue
        if not step.same_inputs:
            why = "its inputs differ"
        elif not step.same_code:
            why = "its code changed"
        elif not step.same_params:
            why = "its parameters changed"
        else:
            why = (
                "with the same code, parameters and inputs: the step is not deterministic "
                "(an unseeded random number, the time), or reads something loopml does not "
                "track (a file, a network service)"
            )
        return [f"the outputs first differ at step {step.step}: {why}"]
    return []


def _recorded(ws: Workspace, found: Reproduction, run_id: str | None = None) -> Reproduction:
    body = json.dumps(found.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
    blob = ws.artifacts.put_bytes(body.encode())
    ws.store.create_artifact(
        kind=ArtifactKind.REPRODUCTION,
        name=found.ref.split("@")[0],
        digest=blob.digest,
        size=blob.size,
        metadata={"model": found.ref, "outcome": found.outcome},
        run_id=run_id,
    )
    return found
