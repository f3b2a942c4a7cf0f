"""Working through a review queue: the items it holds, the next one for a reviewer
(with the dataset's labelling guidelines), and labels.

A label is read as the model's guess is typed (``"1"`` is the class 1 when the model
predicts numbers; text that is no number is refused then, not stored beside the
numbers). Once an item has the labels it wants and one label is the most common of
them (the consensus), that label is written to the feedback log for the item's
prediction and row, so :func:`~loopml.monitor.labelled` and the live metrics count it
like any other feedback; a later label that changes the consensus writes it again
(the last label wins), and one that leaves the labels tied withdraws it (a
feedback record with no label: the row is unlabelled again, as a committed dataset
leaves it out). It does not reward a bandit's arm: the queue picks hard rows, so
their labels would tell a bandit less than the traffic does.

>>> import tempfile, loopml
>>> from loopml.store import NewReviewItem
>>> ws = loopml.init(tempfile.mkdtemp())
>>> _ = ws.store.add_review_items([NewReviewItem(queue="churn", prediction_id="p1", row=0,
...     deployment="churn", ref="churn@v1", guess=1, reasons=("audit",))])
>>> task = next_review("churn", reviewer="ann", workspace=ws)
>>> task.item.guess, task.guidelines
(1, None)
>>> label_review(task.item.id, "0", reviewer="ann", workspace=ws).labels[0].label
0
>>> ws.close()
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from loopml.data import Guidelines
    from loopml.store import ReviewItem, ReviewStatus
    from loopml.workspace import Workspace

_WHOLE = re.compile(r"[+-]?\d+(\.0*)?")


@dataclass(frozen=True)
class ReviewTask:
    """An item handed to a reviewer, and the labelling guidelines of its dataset (None
    when it has none, or names no dataset)."""

    item: ReviewItem
    guidelines: Guidelines | None

    def to_dict(self) -> dict[str, Any]:
        guidelines = None if self.guidelines is None else self.guidelines.to_dict()
        return {**item_dict(self.item), "guidelines": guidelines}


def item_dict(item: ReviewItem) -> dict[str, Any]:
    """A review item as plain JSON values."""
    return {
        "id": item.id,
        "queue": item.queue,
        "status": item.status.value,
        "prediction_id": item.prediction_id,
        "row": item.row,
        "deployment": item.deployment,
        "ref": item.ref,
        "guess": item.guess,
        "confidence": item.confidence,
        "reasons": list(item.reasons),
        "evidence": item.evidence,
        "inputs": item.inputs,
        "dataset": item.dataset,
        "labels_wanted": item.labels_wanted,
        "labels": [
            {
                "reviewer": label.reviewer,
                "label": label.label,
                "note": label.note,
                "at": label.created_at.isoformat(),
            }
            for label in item.labels
        ],
        "claimed_by": [claim.reviewer for claim in item.claims],
        "consensus": consensus(item),
        "committed_to": item.committed_to,
        "created_at": item.created_at.isoformat(),
    }


def review_items(
    queue: str | None = None,
    *,
    status: ReviewStatus | str | None = None,
    limit: int | None = None,
    workspace: Workspace | None = None,
) -> list[ReviewItem]:
    """The items of ``queue`` (of every queue when None), in queue order; ``status``
    keeps the ``open``, ``labelled`` or ``committed`` ones."""
    from loopml._context import workspace_in_use

    ws = workspace_in_use(workspace)
    return ws.store.find_review_items(queue, status=status, limit=limit)


def require_queue(ws: Workspace, queue: str) -> None:
    """NotFound naming the queues there are when ``queue`` holds no item at all (a typo
    would otherwise read as a queue with nothing left to do)."""
    from loopml.store._review_rows import check_queue

    if ws.store.find_review_items(check_queue(queue), limit=1):
        return
    names = sorted({item.queue for item in ws.store.find_review_items(None, limit=10_000)})
    raise NotFound(
        f"no review queue {queue!r} in this workspace (queues: {', '.join(names) or 'none'}); "
        "`loopml review add` fills one"
    )


def review_item(item_id: str, *, workspace: Workspace | None = None) -> ReviewItem:
    """The item with this id, or with an id ending so (the 12 characters shown)."""
    from loopml._context import workspace_in_use

    return _find_item(workspace_in_use(workspace), item_id)


def next_review(
    queue: str,
    *,
    reviewer: str | None = None,
    lease_seconds: float = 1800,
    workspace: Workspace | None = None,
) -> ReviewTask | None:
    """The item ``reviewer`` (the user of this process by default) is to label next,
    held for them for ``lease_seconds`` (others asking meanwhile get other items), with
    its dataset's guidelines; None when the queue has nothing left for them. Asking
    again before labelling gives the same item."""
    from loopml._context import workspace_in_use

    ws = workspace_in_use(workspace)
    item = ws.store.claim_review_item(queue, _reviewer(reviewer), lease_seconds=lease_seconds)
    if item is None:
        return None
    return ReviewTask(item, _guidelines(ws, item))


def label_review(
    item_id: str,
    label: Any,
    *,
    reviewer: str | None = None,
    note: str | None = None,
    replace: bool = False,
    workspace: Workspace | None = None,
) -> ReviewItem:
    """Record ``reviewer``'s ``label`` of an item (its id, or the 12 characters shown),
    read as the model's guess is typed; once the item has a consensus, write it to the
    feedback log (see the module's text)."""
    from loopml._context import workspace_in_use

    ws = workspace_in_use(workspace)
    item = _find_item(ws, item_id)
    labelled = ws.store.label_review_item(
        item.id, _reviewer(reviewer), typed_label(label, item.guess), note=note, replace=replace
    )
    write_feedback(ws, [labelled], before={item.id: item})
    return labelled


def consensus(item: ReviewItem) -> Any:
    """The item's agreed label: the most common of its labels once it has as many as it
    wants; None before, or when two labels are tied for most common."""
    if len(item.labels) < item.labels_wanted or not item.labels:
        return None
    counted = Counter(label_key(label.label) for label in item.labels).most_common()
    if len(counted) > 1 and counted[0][1] == counted[1][1]:
        return None
    top = counted[0][0]
    return next(label.label for label in item.labels if label_key(label.label) == top)


def typed_label(label: Any, guess: Any) -> Any:
    """``label`` as the guess's type: text read as a number (or a boolean) when the
    model predicts numbers (or booleans); InvalidInput when it cannot be."""
    if hasattr(label, "item") and not isinstance(label, str | bytes):  # a NumPy scalar
        label = label.item()
    if isinstance(label, str) and isinstance(guess, bool):
        found = {"true": True, "1": True, "false": False, "0": False}.get(label.strip().lower())
        if found is None:
            raise _not_like(label, guess, "true or false")
        return found
    if isinstance(label, str) and isinstance(guess, Integral):
        if not _WHOLE.fullmatch(label.strip()):
            raise _not_like(label, guess, "a whole number")
        return int(float(label.strip()))
    if isinstance(label, str) and isinstance(guess, Real):
        try:
            number = float(label)
        except ValueError:
            raise _not_like(label, guess, "a number") from None
        if not math.isfinite(number):
            raise _not_like(label, guess, "a finite number")
        return number
    if (
        isinstance(guess, str)
        and isinstance(label, Integral | Real)
        and not isinstance(label, bool)
    ):
        return str(label)
    return label


def write_feedback(
    ws: Workspace, items: Sequence[ReviewItem], *, before: Mapping[str, ReviewItem] | None = None
) -> int:
    """Write the consensus of each item that has one to the feedback log, in one
    segment per deployment, and withdraw the consensus of each item that had one
    ``before`` (the items as they were, by id) and has none now (its labels tie): a
    record with no label. How many consensus labels were written."""
    from loopml._time import now_us
    from loopml.serve import FeedbackLog, FeedbackRecord

    records, agreed_on = [], 0
    for item in items:
        agreed = consensus(item)
        earlier = None if before is None or item.id not in before else before[item.id]
        if agreed is None and (earlier is None or consensus(earlier) is None):
            continue
        records.append(
            FeedbackRecord(item.prediction_id, now_us(), None, agreed, item.row, item.deployment)
        )
        agreed_on += agreed is not None
    if not records:
        return 0
    log = FeedbackLog(ws)
    try:
        for record in records:
            log.append(record)
        log.flush()
    finally:
        log.close()
    return agreed_on


def _not_like(label: str, guess: Any, wanted: str) -> InvalidInput:
    return InvalidInput(
        f"label {label!r} is not {wanted}, and the model's guess ({guess!r}) is: give the "
        f"label as the model's classes are written (e.g. {guess!r})",
        field="label",
    )


def label_key(value: Any) -> str:
    """A label as one text per class, so that 1 and 1.0 count as one class."""
    import json

    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True)


def _reviewer(reviewer: str | None) -> str:
    from loopml.store._rows import default_actor

    return default_actor() if reviewer is None else reviewer


def _find_item(ws: Workspace, item_id: str) -> ReviewItem:
    if isinstance(item_id, str) and len(item_id) == 32:
        return ws.store.get_review_item(item_id)
    found = ws.store.find_review_items(id_suffix=item_id, limit=2)
    if not found:
        raise NotFound(
            f"no review item has an id ending in {item_id!r}; `loopml review list` lists them",
            field="item_id",
        )
    if len(found) > 1:
        raise InvalidInput(
            f"more than one review item has an id ending in {item_id!r}; give more of it",
            field="item_id",
        )
    return found[0]


def _guidelines(ws: Workspace, item: ReviewItem) -> Guidelines | None:
    from loopml.data._guidelines import guidelines_of

    return None if item.dataset is None else guidelines_of(ws, item.dataset)
