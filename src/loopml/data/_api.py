"""The functions users call: ``loopml.data.add``, ``get``, ``validate``, ``diff``...

Each takes ``workspace=`` (a :class:`~loopml.Workspace`); without it, the active
run's workspace is used, else the one found from the current folder or the
environment, as the CLI finds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml._kinds import ArtifactKind
from loopml.data._checks import DatasetDiff, ValidationRecord, diff_versions, validate_version
from loopml.data._schema import Schema
from loopml.data._versions import (
    DatasetVersion,
    add_version,
    get_version,
    list_versions,
    pinned_schema,
    record_schema,
)

if TYPE_CHECKING:
    from loopml._paging import Page
    from loopml.store import Artifact
    from loopml.workspace import Workspace


def _workspace(workspace: Workspace | None) -> Workspace:
    from loopml._context import workspace_in_use

    return workspace_in_use(workspace)


def add(
    source: Any,
    *,
    name: str,
    label: str | None = None,
    description: str | None = None,
    labelling_notes: str | None = None,
    workspace: Workspace | None = None,
) -> DatasetVersion:
    """Record a file, a folder, or a pandas/Polars DataFrame or Arrow table as the next
    version of dataset ``name``. Unchanged content returns the latest version as it is.

    ``label`` names the label column (its class shares are checked on their own);
    ``labelling_notes`` keeps the guidelines the labels were made under. Inside a run
    (a ``start_run`` block, a pipeline step), a new version is recorded as its output.
    """
    from loopml._context import run_making_records

    ws = _workspace(workspace)
    version, _ = add_version(
        ws,
        source,
        name=name,
        label=label,
        description=description,
        labelling_notes=labelling_notes,
        run_id=run_making_records(ws),
    )
    return version


def get(ref: str, *, workspace: Workspace | None = None) -> DatasetVersion:
    """A dataset version by reference: ``name``, ``name@v3``, ``name@latest``, an alias,
    or ``name@blake3:<digest prefix>``. Inside a run (a ``start_run`` block, a pipeline
    step), the version is recorded as one of the run's inputs."""
    return read_version(_workspace(workspace), ref, field="ref")


def read_version(ws: Workspace, ref: str, *, field: str) -> DatasetVersion:
    """:func:`get`, for a caller whose argument ``field`` holds the reference (named by
    an InvalidInput about it)."""
    from loopml.data._pins import pinned_ref

    version = get_version(ws, pinned_ref(ref), field=field)
    _record_input(version, ref)
    return version


def _record_input(version: DatasetVersion, ref: str) -> None:
    from loopml._context import run_making_records
    from loopml.refs import note_read, read_role
    from loopml.store import Direction

    note_read(ArtifactKind.DATASET, ref, version.artifact)
    ws = version.workspace
    run_id = run_making_records(ws)
    if run_id is not None:
        # The ref as given: a cached step that read `churn@latest` is used again only
        # while it still means the same version.
        ws.store.add_event(
            run_id, version.artifact.id, Direction.INPUT, read_role(ArtifactKind.DATASET, ref)
        )


def versions(name: str, *, workspace: Workspace | None = None) -> list[DatasetVersion]:
    """Every version of a dataset, oldest first."""
    return list_versions(_workspace(workspace), name)


def datasets(*, workspace: Workspace | None = None) -> list[DatasetVersion]:
    """The latest version of every dataset, by name (its ``version`` is how many there
    are)."""
    ws = _workspace(workspace)
    latest: dict[str, Artifact] = {}
    for artifact in ws.store.find_artifacts(kind=ArtifactKind.DATASET):
        if artifact.name not in latest or artifact.version > latest[artifact.name].version:
            latest[artifact.name] = artifact
    return [DatasetVersion(latest[name], ws) for name in sorted(latest)]


def list_datasets(
    *, limit: int = 50, cursor: str | None = None, workspace: Workspace | None = None
) -> Page[DatasetVersion]:
    """The latest version of every dataset, by name, as :func:`datasets` gives them,
    ``limit`` at a time: give the page's ``next_cursor`` back as ``cursor`` for the
    datasets after it (a page starts after the last name of the one before, so datasets
    added meanwhile do not shift the pages)."""
    from loopml._paging import Page, decode_cursor, encode_cursor, page_limit

    limit = page_limit(limit)
    after = None if cursor is None else decode_cursor(cursor, "datasets", ())
    ws = _workspace(workspace)
    # One more than the page, to know whether another page follows.
    found = ws.store.latest_artifacts(ArtifactKind.DATASET, after_name=after, limit=limit + 1)
    page = [DatasetVersion(artifact, ws) for artifact in found[:limit]]
    more = len(found) > limit
    return Page(page, encode_cursor("datasets", (), page[-1].name) if more else None)


def validate(
    ref: str, *, against: str | None = None, workspace: Workspace | None = None
) -> ValidationRecord:
    """Validate a version against its pinned schema and the version before it (or
    ``against``: another dataset's version is compared as skew); the result and an
    HTML report are recorded."""
    ws = _workspace(workspace)
    current = get_version(ws, ref, field="ref")
    reference = get_version(ws, against, field="against") if against is not None else None
    return validate_version(current, against=reference)


def diff(old: str, new: str, *, workspace: Workspace | None = None) -> DatasetDiff:
    """Columns, types and rows added or removed, and drift, from ``old`` to ``new``."""
    ws = _workspace(workspace)
    return diff_versions(get_version(ws, old, field="old"), get_version(ws, new, field="new"))


def schema(name: str, *, workspace: Workspace | None = None) -> Schema:
    """The dataset's pinned schema."""
    return pinned_schema(_workspace(workspace), name)[0]


def set_schema(
    name: str, new: Schema | str | Path, *, workspace: Workspace | None = None
) -> Artifact:
    """Pin a schema (a :class:`Schema`, or a YAML/JSON file) as the dataset's next one."""
    ws = _workspace(workspace)
    get_version(ws, f"{name}@v1")  # the dataset must exist
    if isinstance(new, Schema):
        return record_schema(ws, name, new, source="set from Python")
    path = Path(new)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        from loopml.errors import InvalidInput

        raise InvalidInput(f"cannot read schema file {path}: {error}", field="new") from None
    return record_schema(
        ws, name, Schema.from_yaml(text, str(path)), source=f"set from {path.name}"
    )
