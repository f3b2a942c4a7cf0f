"""Lineage: the lineage graph walked back from a model version — the run that made it,
with its parameters, code and environment, and what that run read, back through every
pipeline step to the dataset versions at the start."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml._context import workspace_in_use
from loopml._ids import short_id
from loopml._kinds import ArtifactKind
from loopml.registry._versions import resolve_model
from loopml.store import Direction

if TYPE_CHECKING:
    from loopml.store import MetadataStore, Run
    from loopml.workspace import Workspace

_LOG_KINDS = (ArtifactKind.PREDICTIONS, ArtifactKind.FEEDBACK)  # counted, not listed
_MAX_DEPTH = 64  # runs between a model and its data; deeper is not followed


@dataclass(frozen=True)
class Input:
    """An artifact a run read, under the ``role`` it read it as, and the run that made it
    (None for data added from outside, such as a dataset version)."""

    role: str
    kind: str
    ref: str
    artifact_id: str
    made_by: Origin | None

    def to_dict(self) -> dict[str, Any]:
        made_by = None if self.made_by is None else self.made_by.to_dict()
        return {**_fields(self, ("role", "kind", "ref", "artifact_id")), "made_by": made_by}


@dataclass(frozen=True)
class Origin:
    """A run in a model's lineage: what it was, how it was run and what it read."""

    id: str
    name: str
    kind: str
    status: str
    parent_id: str | None
    params: dict[str, Any]
    fingerprint: str | None  # of the step's code (a pipeline step), else its cache key
    git: dict[str, Any] | None  # commit and dirty, when the code was in a git repository
    file: str | None
    python: str | None
    packages: int  # distributions installed where it ran
    inputs: tuple[Input, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        names = ("id", "name", "kind", "status", "parent_id", "params", "fingerprint", "git")
        plain = _fields(self, (*names, "file", "python", "packages"))
        return {**plain, "inputs": [read.to_dict() for read in self.inputs]}


@dataclass(frozen=True)
class Lineage:
    """Where model version ``ref`` comes from; ``made_by`` is None for a model saved
    outside any run."""

    ref: str
    artifact_id: str
    made_by: Origin | None

    def runs(self) -> list[Origin]:
        """Every run upstream of the model, nearest first, each once."""
        found: dict[str, Origin] = {}
        queue = [self.made_by] if self.made_by else []
        while queue:
            origin = queue.pop(0)
            if origin.id not in found:
                found[origin.id] = origin
                queue += [read.made_by for read in origin.inputs if read.made_by]
        return list(found.values())

    def datasets(self) -> list[str]:
        """The dataset versions read anywhere upstream (``name@vN``), nearest first."""
        refs = [
            read.ref
            for run in self.runs()
            for read in run.inputs
            if read.kind == ArtifactKind.DATASET
        ]
        return list(dict.fromkeys(refs))

    def to_dict(self) -> dict[str, Any]:
        made_by = None if self.made_by is None else self.made_by.to_dict()
        return {"ref": self.ref, "artifact_id": self.artifact_id, "made_by": made_by}

    def render(self) -> str:
        """The lineage as an indented text tree."""
        lines = [f"model {self.ref}"]
        if self.made_by is None:
            lines.append("  saved outside any run: no lineage recorded")
        else:
            _render(self.made_by, 1, lines, set())
        return "\n".join(lines)


def lineage(ref: str, *, workspace: Workspace | None = None) -> Lineage:
    """Walk the lineage graph back from the model version ``ref`` points at."""
    store = workspace_in_use(workspace).store
    model = resolve_model(store, ref)
    return Lineage(model.ref, model.id, _Walk(store).made_by(model.id, 0))


class _Walk:
    """One walk: each run is read once, however many paths lead to it."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self.done: dict[str, Origin] = {}
        self.walking: set[str] = set()

    def made_by(self, artifact_id: str, depth: int) -> Origin | None:
        if depth > _MAX_DEPTH:
            return None
        for event in self.store.events(artifact_id=artifact_id):
            if event.direction is Direction.OUTPUT:  # the first is the run that made it
                return self.origin(event.run_id, depth)
        return None

    def origin(self, run_id: str, depth: int) -> Origin | None:
        if run_id in self.done:
            return self.done[run_id]
        if run_id in self.walking:  # a run that read its own output: stop going round
            return None
        self.walking.add(run_id)
        run = self.store.get_run(run_id)
        inputs = []
        for event in self.store.events(run_id=run_id):
            if event.direction is Direction.INPUT:
                read = self.store.get_artifact(event.artifact_id)
                made_by = self.made_by(read.id, depth + 1)
                inputs.append(Input(event.role, read.kind, read.ref, read.id, made_by))
        self.walking.discard(run_id)
        self.done[run_id] = _origin(run, tuple(inputs))
        return self.done[run_id]


def _origin(run: Run, inputs: tuple[Input, ...]) -> Origin:
    code, environment = run.code, run.environment
    fingerprint = code.get("fingerprint") or run.fingerprint
    return Origin(
        id=run.id,
        name=run.name,
        kind=run.kind,
        status=run.status.value,
        parent_id=run.parent_id,
        params=dict(run.params),
        fingerprint=fingerprint if isinstance(fingerprint, str) else None,
        git=code.get("git") or None,
        file=code.get("file"),
        python=environment.get("python"),
        packages=len(environment.get("packages") or {}),
        inputs=inputs,
    )


def _render(origin: Origin, depth: int, lines: list[str], shown: set[str]) -> None:
    pad = "  " * depth
    head = f"{pad}made by run {short_id(origin.id)} {origin.name} ({origin.kind}, {origin.status})"
    if origin.id in shown:
        lines.append(f"{head}, shown above")
        return
    shown.add(origin.id)
    lines.append(head)
    if origin.params:
        lines.append(f"{pad}  params: " + ", ".join(f"{k}={v!r}" for k, v in origin.params.items()))
    code = []
    if origin.fingerprint:
        code.append(f"fingerprint {origin.fingerprint[:12]}")
    if origin.git:
        dirty = " (dirty)" if origin.git.get("dirty") else ""
        code.append(f"git {str(origin.git.get('commit', ''))[:12]}{dirty}")
    if origin.file and not origin.fingerprint:
        code.append(f"file {origin.file}")
    if code:
        lines.append(f"{pad}  code: {', '.join(code)}")
    if origin.python:
        lines.append(f"{pad}  environment: python {origin.python}, {origin.packages} packages")
    segments: dict[tuple[str, str], int] = {}
    for read in origin.inputs:
        if read.kind in _LOG_KINDS and read.made_by is None:  # a run may read thousands
            segments[read.role, read.kind] = segments.get((read.role, read.kind), 0) + 1
            continue
        role = "" if read.role == read.kind else f"{read.role}: "  # not "dataset: dataset"
        lines.append(f"{pad}  read {role}{read.kind} {read.ref}")
        if read.made_by is not None:
            _render(read.made_by, depth + 2, lines, shown)
    for (role, kind), count in segments.items():
        lines.append(f"{pad}  read {role}: {count} segment(s) of the {kind} log")


def _fields(record: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(record, name) for name in names}
