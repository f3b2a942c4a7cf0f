"""Loop definitions kept in the workspace: each a versioned record (kind ``loop``) so the
controller finds them wherever it runs, and each decision names the definition it was
made under. Defining a loop again unchanged records nothing.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml._formats import check_format
from loopml._kinds import ArtifactKind
from loopml.errors import InvalidInput, NotFound
from loopml.monitor._loop import Loop

if TYPE_CHECKING:
    from loopml.store import Artifact
    from loopml.workspace import Workspace

FORMAT = 1


def read_loops(path: str | Path) -> list[Loop]:
    """The loops a TOML file defines, one ``[loop.NAME]`` table each."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInput(
            f"cannot read the loop file {path}: {error.strerror or error}", field="file"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{path} is not valid TOML ({error}); fix it", field="file") from None
    extra = sorted(set(data) - {"loop"})
    if extra or not isinstance(data.get("loop"), dict) or not data["loop"]:
        raise InvalidInput(
            f"{path} must define loops as [loop.NAME] tables and nothing else"
            + (f" (it has {', '.join(map(repr, extra))})" if extra else " (it has none)"),
            field="file",
        )
    return [Loop.from_dict(name, table) for name, table in data["loop"].items()]


def define_loop(spec: Loop, *, workspace: Workspace | None = None) -> Artifact:
    """Record ``spec`` as the definition of loop ``spec.name`` (its next version, unless
    it is the definition recorded last)."""
    from loopml._context import workspace_in_use
    from loopml.store.values import check_name

    ws = workspace_in_use(workspace)
    check_name(spec.name, "loop name", field="name")
    _check_names_exist(ws, spec)
    body = json.dumps({"format": FORMAT, "loop": spec.to_dict()}, sort_keys=True).encode()
    blob = ws.artifacts.put_bytes(body)
    try:
        last = ws.store.latest_artifact(ArtifactKind.LOOP, spec.name)
    except NotFound:
        last = None
    if last is not None and last.digest == blob.digest:
        return last
    return ws.store.create_artifact(
        kind=ArtifactKind.LOOP,
        name=spec.name,
        digest=blob.digest,
        size=blob.size,
        metadata={"format": FORMAT, "deployment": spec.deployment, "model": spec.model},
    )


def _check_names_exist(ws: Workspace, spec: Loop) -> None:
    """The pipeline's file and the dataset a loop names must be there when it is defined:
    a typo found only when a trigger fires, days later, is found too late."""
    if spec.pipeline is not None:
        from loopml.pipeline import load_pipeline

        file, _, name = spec.pipeline.rpartition(":")
        root = ws.root if ws.root is not None else Path.cwd()
        if not (root / file).is_file():
            raise InvalidInput(
                f"loop {spec.name!r}: pipeline file {file!r} is not in the workspace's "
                f"folder {root}; give its path relative to that folder",
                field="pipeline",
            )
        try:  # its pipeline too, as `loopml run` looks it up (the file is imported)
            load_pipeline(f"{root / file}:{name}")
        except InvalidInput as error:
            raise InvalidInput(f"loop {spec.name!r}: {error}", field="pipeline") from None
    data = ws.latest(ArtifactKind.DATASET, spec.data)
    if data is None:
        raise NotFound(
            f"loop {spec.name!r} trains on dataset {spec.data!r}, which has no version; "
            f"add it first: loopml data add FILE --name {spec.data} --label {spec.label}"
        )
    columns = [c.get("name") for c in data.metadata.get("columns") or () if isinstance(c, dict)]
    if columns and spec.label not in columns:
        raise InvalidInput(
            f"loop {spec.name!r}: label {spec.label!r} is not a column of {data.ref}, whose "
            f"columns are {', '.join(map(str, columns))}; give the column the model learns",
            field="label",
        )
    if ws.latest(ArtifactKind.MODEL, spec.model) is None:
        raise NotFound(
            f"loop {spec.name!r} retrains model {spec.model!r}, which has no registered "
            "version; register and promote its first version (loopml.registry.register(..., "
            f"alias='champion')), or name a model of this workspace: {_names(ws)}",
            field="model",
        )
    try:
        ws.store.get_deployment(spec.deployment)
    except NotFound:
        raise NotFound(
            f"loop {spec.name!r} watches deployment {spec.deployment!r}, which does not "
            f"exist; deploy it first: loopml deploy {spec.deployment} --model "
            f"{spec.model}@champion",
            field="deployment",
        ) from None


def _names(ws: Workspace) -> str:
    found = sorted({a.name for a in ws.store.find_artifacts(kind=ArtifactKind.MODEL)})
    return ", ".join(found) if found else "none yet"


def loop_definition(name: str, *, workspace: Workspace | None = None) -> tuple[Loop, Artifact]:
    """The definition of loop ``name`` recorded last, and its record."""
    from loopml._context import workspace_in_use

    ws = workspace_in_use(workspace)
    try:
        artifact = ws.store.latest_artifact(ArtifactKind.LOOP, name)
    except NotFound:
        defined = sorted(
            {record.name for record in ws.store.find_artifacts(kind=ArtifactKind.LOOP)}
        )
        raise NotFound(
            f"no loop {name!r} is defined in this workspace (defined: "
            f"{', '.join(defined) or 'none'}); define it with `loopml loop define FILE` "
            "(a [loop.NAME] table)"
        ) from None
    return _read(ws, artifact), artifact


def loops(*, workspace: Workspace | None = None) -> list[tuple[Loop, Artifact]]:
    """Every loop defined in the workspace, by name, at its latest definition."""
    from loopml._context import workspace_in_use

    ws = workspace_in_use(workspace)
    return [(_read(ws, found), found) for found in ws.store.latest_artifacts(ArtifactKind.LOOP)]


def _read(ws: Workspace, artifact: Artifact) -> Loop:
    body: Any = json.loads(ws.artifacts.read_bytes(artifact.digest, what=f"loop {artifact.ref}"))
    check_format(body.get("format"), FORMAT, f"loop {artifact.ref}")
    table = dict(body["loop"])
    return Loop.from_dict(str(table.pop("name")), table)
