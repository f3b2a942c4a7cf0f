"""Which steps' recorded outputs are stale, and why, without running anything.

The pipeline is traced with the given parameters and each step's cache key computed
as a run would. A step is fresh when a recorded run with that key has an intact
output; otherwise it is stale, and the reasons come from comparing with the step's
latest recorded run: its code, its parameters, its inputs. A step after a stale one
is stale too: its input would change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.pipeline._cache import find_hit
from loopml.pipeline._graph import Output
from loopml.pipeline._run import step_identity

MAX_SHOWN = 4  # changed parts named in a reason

if TYPE_CHECKING:
    from loopml.pipeline._fingerprint import Fingerprint
    from loopml.pipeline._graph import Node, Pipeline
    from loopml.store import Artifact, MetadataStore, Run
    from loopml.workspace import Workspace


@dataclass(frozen=True)
class StepStatus:
    name: str
    fresh: bool
    reasons: list[str] = field(default_factory=list)
    run_id: str | None = None  # the run whose output is current, when fresh


def pipeline_status(
    pipeline: Pipeline, params: dict[str, Any], *, workspace: Workspace | None
) -> list[StepStatus]:
    from loopml._context import workspace_in_use
    from loopml.workspace import active

    ws = workspace_in_use(workspace)
    with active(ws):
        graph = pipeline.graph(**params)
    root = Path(pipeline.file).parent
    outputs: dict[str, Artifact] = {}
    fingerprints: dict[tuple[int, tuple[str, ...]], Fingerprint] = {}
    stale: set[str] = set()
    found = []
    for node in graph.nodes:
        waiting = [up.name for up in node.upstream() if up.name in stale]
        if waiting:
            stale.add(node.name)
            found.append(
                StepStatus(
                    node.name,
                    False,
                    [f"its input may change: comes after stale {', '.join(waiting)}"],
                )
            )
            continue
        params_, inputs, fingerprint, key = step_identity(outputs, node, root, fingerprints)
        hit, rejected = find_hit(ws.store, ws.artifacts, key, verify=False)
        if hit is not None and ws.artifacts.exists(hit.output.digest):
            outputs[node.name] = hit.output
            found.append(StepStatus(node.name, True, [], hit.run.id))
            continue
        stale.add(node.name)
        reasons = _why(
            ws.store, f"{graph.pipeline}/{node.name}", node, params_, inputs, fingerprint
        )
        if rejected is not None:  # a run with this key that cannot be used: that is why
            reasons = [rejected, *(r for r in reasons if not r.startswith("no run with"))]
        if hit is not None:
            reasons.append(f"its output {hit.output.ref} is missing from the artifact store")
        found.append(StepStatus(node.name, False, reasons))
    return found


def _why(
    store: MetadataStore,
    name: str,
    node: Node,
    params: dict[str, Any],
    inputs: dict[str, Artifact],
    code: Fingerprint,
) -> list[str]:
    last = _last_run(store, name)
    if last is None:
        return ["never run"]
    reasons = []
    if last.code.get("fingerprint") != code.digest:
        reasons.append(_code_changed(node, last.code.get("parts"), code))
    for key in sorted(set(params) | set(last.params)):
        before, after = last.params.get(key, "(unset)"), params.get(key, "(unset)")
        if before != after:
            reasons.append(f"parameter {key} changed: {before!r} -> {after!r}")
    before_inputs = {
        e.role: store.get_artifact(e.artifact_id)
        for e in store.events(run_id=last.id)
        if e.direction == "input"
    }
    for role, artifact in inputs.items():
        old = before_inputs.get(role)
        if old is None or old.digest != artifact.digest:
            source = node.arguments.get(role)
            what = f"step {source.node.name}" if isinstance(source, Output) else artifact.kind
            was = old.ref if old is not None else "nothing"
            reasons.append(f"input {role} changed ({what}: {was} -> {artifact.ref})")
    return reasons or ["no run with this code, these parameters and inputs"]


def _code_changed(node: Node, before: object, now: Fingerprint) -> str:
    """Which parts of the code changed since the last run, when that run says."""
    where = f"{node.step.file}:{node.step.line}"
    if not isinstance(before, dict):  # recorded before parts had digests
        return f"code changed ({where})"
    changed = [
        key
        for key in sorted(set(before) | set(now.pieces))
        if before.get(key) != now.pieces.get(key)
    ]
    shown = ", ".join(changed[:MAX_SHOWN]) + (
        f" and {len(changed) - MAX_SHOWN} more" if len(changed) > MAX_SHOWN else ""
    )
    return f"code changed ({where}): {shown or 'how it is read'}"


def _last_run(store: MetadataStore, name: str) -> Run | None:
    from loopml.store import RunStatus

    runs = [
        run
        for run in store.find_runs(kind="step", name=name)
        if run.status in (RunStatus.SUCCEEDED, RunStatus.CACHED)
    ]
    return runs[-1] if runs else None
