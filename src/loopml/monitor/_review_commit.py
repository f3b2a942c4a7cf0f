"""Reviewed items made a dataset version: ``loopml review commit``.

The rows of the new version are the queue's labelled items that have a consensus,
in queue order: each item's logged inputs and its agreed label (in the dataset's label
column). With ``append`` they follow the rows of the dataset's latest version, which
is then read as the version's base.

Lineage: a run of kind ``review`` reads the prediction log's segments that hold the
items' predictions (role ``predictions``) and, when appending, the base version (role
``base``), and writes the new version (role ``dataset``). Each item records the
version it became a row of (``committed_to``): the store's
``find_review_items(committed_to=...)`` gives the version's rows' predictions in row
order. The version and the marks on its items are written in one transaction, so two
commits at once never put an item in two versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

    from loopml.data import DatasetVersion
    from loopml.store import Artifact, ReviewItem
    from loopml.workspace import Workspace

DEFAULT_LABEL_COLUMN = "label"
_NEAR_US = 600_000_000  # a prediction is logged within this of the time its id holds


@dataclass(frozen=True)
class Committed:
    """A commit: the new dataset version, the items that are its rows (in row order),
    the items left out because their reviewers tie, and the run that made it."""

    queue: str
    version: DatasetVersion
    items: tuple[ReviewItem, ...]
    tied: int
    run_id: str
    base: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "dataset": self.version.ref,
            "rows": self.version.rows,
            "items": len(self.items),
            "tied": self.tied,
            "base": self.base,
            "run_id": self.run_id,
        }


def commit_review(
    queue: str,
    *,
    dataset: str | None = None,
    append: bool = False,
    label_column: str | None = None,
    workspace: Workspace | None = None,
) -> Committed:
    """Make the labelled items of ``queue`` a new version of ``dataset`` (by default
    the dataset its items name), its label in ``label_column`` (by default the
    dataset's label column, else ``label``); with ``append``, after the rows of the
    dataset's latest version. Items whose reviewers tie are left out and counted."""
    from loopml._context import workspace_in_use
    from loopml.monitor._review import consensus
    from loopml.store._review_rows import check_queue

    ws = workspace_in_use(workspace)
    check_queue(queue)
    labelled = ws.store.find_review_items(queue, status="labelled")
    ready = [item for item in labelled if consensus(item) is not None]
    if not ready:
        open_items = len(ws.store.find_review_items(queue, status="open"))
        raise InvalidInput(
            f"review queue {queue!r} has no labelled item to commit ({len(labelled)} "
            f"labelled with reviewers tied, {open_items} still open); label its items with "
            "`loopml review next` and `loopml review label` (a tie is settled by one more "
            "reviewer's label)",
            field="queue",
        )
    name = _dataset(queue, ready, dataset)
    latest = ws.latest("dataset", name)
    column = _label_column(label_column, latest)
    frame = _rows(ready, column)
    base = None
    if append and latest is not None:
        from loopml.data._versions import DatasetVersion

        base = DatasetVersion(latest, ws)
        frame = _appended(base.to_polars(), frame, base.ref)
    run = ws.store.create_run(
        kind="review",
        name=f"commit {queue}",
        params={"queue": queue, "dataset": name, "append": bool(append), "label": column},
    )
    try:
        version, committed = _record(ws, run.id, name, column, frame, ready, queue, base)
    except BaseException as error:
        from loopml.store import RunStatus

        ws.store.finish_run(run.id, RunStatus.FAILED, f"{type(error).__name__}: {error}")
        raise
    from loopml.store import MetricPoint, RunStatus

    ws.store.finish_run(
        run.id,
        RunStatus.SUCCEEDED,
        metrics=[MetricPoint("items", len(committed)), MetricPoint("rows", frame.height)],
    )
    return Committed(
        queue,
        version,
        tuple(committed),
        len(labelled) - len(ready),
        run.id,
        None if base is None else base.ref,
    )


def _record(
    ws: Workspace,
    run_id: str,
    name: str,
    column: str,
    frame: pl.DataFrame,
    ready: Sequence[ReviewItem],
    queue: str,
    base: DatasetVersion | None,
) -> tuple[DatasetVersion, list[ReviewItem]]:
    from loopml.data._versions import add_version
    from loopml.store import Direction

    for segment in _segments(ws, ready):
        ws.store.add_event(run_id, segment.id, Direction.INPUT, "predictions")
    if base is not None:
        ws.store.add_event(run_id, base.artifact.id, Direction.INPUT, "base")
    committed: list[ReviewItem] = []

    def record(**fields: Any) -> Artifact:
        artifact, items = ws.store.commit_review_items(
            [item.id for item in ready], run_id=run_id, role="dataset", **fields
        )
        committed.extend(items)
        return artifact

    version, _ = add_version(
        ws,
        frame,
        name=name,
        label=column,
        description=f"{len(ready)} reviewed rows of review queue {queue}",
        extra={
            "review": {
                "queue": queue,
                "items": len(ready),
                "base": None if base is None else base.ref,
                "run_id": run_id,
            }
        },
        record=record,
    )
    return version, committed


def _dataset(queue: str, items: Sequence[ReviewItem], given: str | None) -> str:
    from loopml.store.values import check_name

    if given is not None:
        return check_name(given, "dataset name", field="dataset")
    named = sorted({item.dataset for item in items if item.dataset is not None})
    if len(named) == 1 and all(item.dataset is not None for item in items):
        return named[0]
    found = ", ".join(named) if named else "none"
    raise InvalidInput(
        f"the items of review queue {queue!r} name {len(named)} dataset(s) ({found}); give "
        "the dataset their rows join with dataset= (--dataset NAME)",
        field="dataset",
    )


def _label_column(given: str | None, latest: Artifact | None) -> str:
    if given is not None:
        if not isinstance(given, str) or not given:
            raise InvalidInput(
                f"label column {given!r} must be a column name", field="label_column"
            )
        return given
    known = None if latest is None else latest.metadata.get("label")
    return known if isinstance(known, str) and known else DEFAULT_LABEL_COLUMN


def _rows(items: Sequence[ReviewItem], column: str) -> pl.DataFrame:
    """One row per item: its inputs and its agreed label."""
    import polars as pl

    from loopml.monitor._review import consensus

    clash = [item.id for item in items if column in item.inputs]
    if clash:
        raise InvalidInput(
            f"the label column {column!r} is also an input of review item {clash[0]!r}; "
            "give another label_column (--label-column NAME)",
            field="label_column",
        )
    records = [{**item.inputs, column: consensus(item)} for item in items]
    return pl.DataFrame(records, infer_schema_length=None)


def _appended(base: pl.DataFrame, new: pl.DataFrame, ref: str) -> pl.DataFrame:
    import polars as pl

    missing = sorted(set(new.columns) - set(base.columns))
    if missing:
        raise InvalidInput(
            f"the reviewed rows have columns {missing} that {ref} does not; commit them as "
            "a version of their own (without append), or to another dataset",
            field="append",
        )
    try:
        joined = pl.concat([base, new], how="diagonal_relaxed")
    except pl.exceptions.PolarsError as error:
        raise InvalidInput(
            f"the reviewed rows do not fit the columns of {ref} ({error}); commit them as a "
            "version of their own (without append)",
            field="append",
        ) from None
    return joined


def _segments(ws: Workspace, items: Sequence[ReviewItem]) -> list[Artifact]:
    """The prediction log's segments holding the items' predictions: those around the
    time the predictions' ids hold first, then, for predictions not found there, the
    others."""
    from loopml._ids import made_us
    from loopml.serve._layouts import PREDICTIONS
    from loopml.serve._segments import find_segments, overlaps, read_segment

    found: dict[str, Artifact] = {}
    by_deployment: dict[str, set[str]] = {}
    for item in items:
        by_deployment.setdefault(item.deployment, set()).add(item.prediction_id)
    for deployment, ids in by_deployment.items():
        times = [t for pid in ids if (t := made_us(pid)) is not None]
        segments = find_segments(ws, PREDICTIONS, deployment)
        near = (
            [s for s in segments if overlaps(s, min(times) - _NEAR_US, max(times) + _NEAR_US)]
            if times
            else []
        )
        rest = [s for s in segments if s not in near]
        missing = set(ids)
        for segment in [*near, *rest]:
            if not missing:
                break
            held = read_segment(
                ws,
                segment,
                filters=[("prediction_id", "in", sorted(missing))],
                typed=False,
                columns=["prediction_id"],
            )
            if held.height:
                found[segment.id] = segment
                missing -= set(held["prediction_id"].to_list())
    return list(found.values())
