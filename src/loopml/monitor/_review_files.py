"""Review items to a file and labels back from one, for reviewers who work in a
spreadsheet or a labelling tool: ``loopml review export`` and ``loopml review import``.

The file is CSV, Parquet or JSON lines (``.csv``, ``.parquet``, ``.jsonl``), one row
per item: ``item_id``, ``prediction_id``, ``row``, ``reasons``, ``guess``,
``confidence``, each input as ``input.NAME``, and the empty columns ``label``,
``reviewer`` and ``note`` to fill in. A value CSV cannot hold (a list, a mapping) is
written as JSON text.

Importing reads ``item_id`` and ``label`` (rows with an empty label are skipped: items
not labelled yet), and ``reviewer`` and ``note`` when the file has them. Every row is
checked before any label is written — the item is there and not committed, the label
reads as the model's guess is typed, the reviewer has not labelled the item already
(unless ``replace``) — so a file with a mistake writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from loopml.errors import AlreadyExists, InvalidInput, NotFound

if TYPE_CHECKING:
    import polars as pl

    from loopml.store import ReviewItem, ReviewStatus
    from loopml.workspace import Workspace

FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}
INPUT = "input."


@dataclass(frozen=True)
class Exported:
    path: Path
    items: int
    written: bool  # False: an identical file was there already

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "items": self.items, "written": self.written}


@dataclass(frozen=True)
class Imported:
    """The items labelled from a file, the rows skipped for an empty label, and how
    many consensus labels went to the feedback log."""

    path: Path
    labelled: tuple[ReviewItem, ...]
    skipped: int
    feedback: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "labelled": len(self.labelled),
            "skipped": self.skipped,
            "feedback": self.feedback,
        }


def export_review(
    queue: str,
    path: str | Path,
    *,
    status: ReviewStatus | str | None = "open",
    force: bool = False,
    workspace: Workspace | None = None,
) -> Exported:
    """Write the items of ``queue`` (the ``open`` ones by default; None for all) to
    ``path``, in the format its suffix names; an existing file with other content is
    replaced only with ``force``."""
    from loopml._context import workspace_in_use
    from loopml._user_files import write_user_file
    from loopml.monitor._review import require_queue
    from loopml.store._review_rows import check_queue

    path = Path(path)
    form = _format(path)
    ws = workspace_in_use(workspace)
    items = ws.store.find_review_items(check_queue(queue), status=status)
    if not items:  # none of that status, or no such queue: a typo writes no empty file
        require_queue(ws, queue)
    frame = _frame(items, text_only=form == "csv")

    def fill(out: BinaryIO) -> None:
        if form == "csv":
            frame.write_csv(out)
        elif form == "parquet":
            frame.write_parquet(out)
        else:
            frame.write_ndjson(out)

    written = write_user_file(path, fill, what=f"review queue {queue}", force=force)
    return Exported(path, len(items), written)


def import_review(
    path: str | Path,
    *,
    reviewer: str | None = None,
    replace: bool = False,
    workspace: Workspace | None = None,
) -> Imported:
    """Record the labels filled in a file :func:`export_review` wrote (see the module's
    text); ``reviewer`` for the rows whose ``reviewer`` is empty."""
    from loopml._context import workspace_in_use
    from loopml.monitor._review import typed_label, write_feedback
    from loopml.store._review_rows import check_note, check_reviewer

    path = Path(path)
    frame = _read(path)
    ws = workspace_in_use(workspace)
    planned: list[tuple[ReviewItem, str, Any, str | None]] = []
    seen: set[tuple[str, str]] = set()
    skipped = 0
    for number, each in enumerate(frame.iter_rows(named=True), start=1):
        where = f"row {number} of {path.name}"
        label = _blank(each.get("label"))
        if label is None:
            skipped += 1
            continue
        who = _blank(each.get("reviewer")) or reviewer
        if who is None:
            raise InvalidInput(
                f"{where} has no reviewer: fill its reviewer column, or give reviewer= "
                "(--reviewer NAME) for the rows without one",
                field="reviewer",
            )
        item = _item(ws, each.get("item_id"), where)
        try:
            check_reviewer(str(who))
            value = typed_label(label, item.guess)
            note = check_note(_blank(each.get("note")))
        except InvalidInput as error:
            raise InvalidInput(f"{where}: {error}", field=error.field) from None
        if item.committed_to is not None:
            raise InvalidInput(
                f"{where}: review item {item.id} is committed to a dataset version already; "
                "its labels do not change",
                field="item_id",
            )
        if (item.id, who) in seen:
            raise InvalidInput(f"{where} labels item {item.id} by {who!r} a second time")
        seen.add((item.id, str(who)))
        if not replace and any(lab.reviewer == who for lab in item.labels):
            raise AlreadyExists(
                f"{where}: {who!r} labelled review item {item.id} already; pass "
                "replace=True (--replace) to change the label"
            )
        planned.append((item, str(who), value, note))
    labelled = [
        ws.store.label_review_item(item.id, who, value, note=note, replace=replace)
        for item, who, value, note in planned
    ]
    latest = {item.id: item for item in labelled}  # the last label of each item
    before: dict[str, ReviewItem] = {}
    for item, *_ in planned:  # each item as it was before the file's first label of it
        before.setdefault(item.id, item)
    written = write_feedback(ws, list(latest.values()), before=before)
    return Imported(path, tuple(labelled), skipped, written)


def _format(path: Path) -> str:
    form = FORMATS.get(path.suffix.lower())
    if form is None:
        raise InvalidInput(
            f"{path}: the file name must end in .csv, .parquet or .jsonl, the format it is in",
            field="path",
        )
    return form


def _frame(items: Sequence[ReviewItem], *, text_only: bool) -> pl.DataFrame:
    import polars as pl

    names = sorted({name for item in items for name in item.inputs})
    columns: dict[str, list[Any]] = {
        "item_id": [item.id for item in items],
        "prediction_id": [item.prediction_id for item in items],
        "row": [item.row for item in items],
        "reasons": [",".join(item.reasons) for item in items],
        "guess": [item.guess for item in items],
        "confidence": [item.confidence for item in items],
        **{INPUT + name: [item.inputs.get(name) for item in items] for name in names},
    }
    series = [_series(name, values, text_only) for name, values in columns.items()]
    blank = [
        pl.Series(name, [None] * len(items), pl.String) for name in ("label", "reviewer", "note")
    ]
    return pl.DataFrame([*series, *blank])


def _series(name: str, values: list[Any], text_only: bool) -> pl.Series:
    """A column of ``values``; JSON text when they are not of one plain type (or, for
    CSV, when any is a list or a mapping)."""
    import polars as pl

    nested = any(isinstance(value, list | dict) for value in values)
    if not (text_only and nested):
        try:
            return pl.Series(name, values, strict=True)
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            pass
    return pl.Series(
        name, [None if v is None else json.dumps(v, ensure_ascii=False) for v in values], pl.String
    )


def _read(path: Path) -> pl.DataFrame:
    import polars as pl

    form = _format(path)
    try:
        if form == "csv":
            frame = pl.read_csv(path, infer_schema=False)
        elif form == "parquet":
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_ndjson(path)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InvalidInput(f"cannot read {path}: {error}", field="path") from None
    missing = [name for name in ("item_id", "label") if name not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{path} has no column {missing[0]!r}: import reads the file "
            "`loopml review export` wrote, with its label column filled in",
            field="path",
        )
    return frame


def _blank(value: Any) -> Any:
    """None for an empty cell."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _item(ws: Workspace, item_id: Any, where: str) -> ReviewItem:
    from loopml.monitor._review import review_item

    if not isinstance(item_id, str) or not item_id.strip():
        raise InvalidInput(f"{where} has no item_id", field="item_id")
    try:
        return review_item(item_id.strip(), workspace=ws)
    except NotFound as error:
        raise NotFound(f"{where}: {error}", field="item_id") from None
