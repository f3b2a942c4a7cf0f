"""What both backends take and give back for review items: the arguments of a call
checked before anything is written, and the records made from rows (see
:mod:`loopml.store._rows`).

>>> item = NewReviewItem(queue="churn", prediction_id="p1", row=0, deployment="churn",
...                      ref="churn@v3", guess=1, reasons=("audit",), confidence=0.55)
>>> row = review_item_row(item)
>>> (row["queue"], row["reasons"], row["label_count"], row["committed_to"])
('churn', ['audit'], 0, None)
>>> review_item_record(row, [], []).status.value
'open'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from numbers import Real
from typing import Any

from loopml._ids import new_id
from loopml._time import from_us, now_us, to_us
from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.store._records import (
    NewReviewItem,
    ReviewClaim,
    ReviewItem,
    ReviewLabel,
    ReviewStatus,
)
from loopml.store._rows import MAX_REASON, Row
from loopml.store.values import (
    INT64,
    check_int,
    check_length,
    check_name,
    check_text,
    json_object,
    json_value,
)

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "MAX_LABELS_WANTED",
    "MAX_LEASE_SECONDS",
    "boxed",
    "check_commit",
    "check_committable",
    "check_id_suffix",
    "check_label",
    "check_lease",
    "check_note",
    "check_queue",
    "check_reviewer",
    "check_status",
    "claim_expiry",
    "committed_already",
    "in_id_range",
    "labelled_already",
    "review_item_record",
    "review_item_row",
    "review_item_rows",
]

DEFAULT_LEASE_SECONDS = 1800
MAX_LEASE_SECONDS = 7 * 24 * 3600
MAX_LABELS_WANTED = 1000
MAX_REASONS = 16
MIN_ID_SUFFIX = 6


def check_queue(queue: str) -> str:
    """A queue's name, as artifact names are written."""
    return check_name(queue, "review queue name", field="queue")


def check_reviewer(reviewer: str) -> str:
    """Who reviews: text of 1 to 255 characters (a user name, an e-mail address)."""
    check_length("reviewer", reviewer, 255)
    return reviewer


def check_note(note: str | None) -> str | None:
    """A reviewer's note: text of at most :data:`MAX_REASON` characters, or None."""
    if note is None or note == "":
        return None
    if not isinstance(note, str) or len(note) > MAX_REASON:
        raise InvalidInput(
            f"review note {note!r:.80} must be text of at most {MAX_REASON} characters",
            field="note",
        )
    return check_text("review note", note)


def check_status(status: ReviewStatus | str | None) -> ReviewStatus | None:
    if status is None:
        return None
    try:
        return ReviewStatus(status)
    except ValueError:
        raise InvalidInput(
            f"review status {status!r} is not one of " + ", ".join(s.value for s in ReviewStatus),
            field="status",
        ) from None


def check_id_suffix(suffix: str | None) -> str | None:
    """The last characters of an item id (what is shown is the last 12), lowercased."""
    if suffix is None:
        return None
    if not isinstance(suffix, str) or len(suffix) < MIN_ID_SUFFIX or len(suffix) > 32:
        raise InvalidInput(
            f"review item id {suffix!r:.80} must be the 12 characters shown or the whole "
            f"id (at least {MIN_ID_SUFFIX} characters)",
            field="id_suffix",
        )
    check_text("review item id", suffix)
    return suffix.lower()


def check_lease(lease_seconds: float) -> float:
    """How long a claim holds: more than 0 and at most a week, in seconds."""
    if (
        isinstance(lease_seconds, bool)
        or not isinstance(lease_seconds, Real)
        or not math.isfinite(float(lease_seconds))
        or not 0 < float(lease_seconds) <= MAX_LEASE_SECONDS
    ):
        raise InvalidInput(
            f"lease_seconds {lease_seconds!r:.80} must be a number of seconds above 0 and "
            f"at most {MAX_LEASE_SECONDS} (a week); {DEFAULT_LEASE_SECONDS} by default",
            field="lease_seconds",
        )
    return float(lease_seconds)


def claim_expiry(now: datetime | None, lease_seconds: float) -> tuple[int, int]:
    """(the moment of the claim, when it expires), in microseconds."""
    lease = check_lease(lease_seconds)
    if now is not None and not isinstance(now, datetime):
        raise InvalidInput(f"now {now!r:.80} must be a datetime, or None", field="now")
    moment = now_us() if now is None else to_us(now)
    return moment, moment + round(lease * 1_000_000)


def review_item_rows(items: Sequence[NewReviewItem]) -> list[dict[str, Any]]:
    """The rows of new items, checked; two items of one queue, prediction and row
    among them are refused."""
    if isinstance(items, NewReviewItem) or not isinstance(items, Sequence):
        raise InvalidInput(
            f"review items must be a list of NewReviewItem, not {items!r:.80}", field="items"
        )
    rows = [review_item_row(item) for item in items]
    seen: set[tuple[str, str, int]] = set()
    for row in rows:
        key = (row["queue"], row["prediction_id"], row["row"])
        if key in seen:
            raise InvalidInput(
                f"row {key[2]} of prediction {key[1]!r} is given twice for review queue "
                f"{key[0]!r}; give each predicted row once",
                field="items",
            )
        seen.add(key)
    return rows


def review_item_row(item: NewReviewItem) -> dict[str, Any]:
    """A new item's row, or InvalidInput naming the field that cannot be stored."""
    if not isinstance(item, NewReviewItem):
        raise InvalidInput(
            f"a review item must be a NewReviewItem, not {item!r:.80}", field="items"
        )
    check_queue(item.queue)
    check_length("prediction id", item.prediction_id, 255)
    row = check_int("review item row", item.row, (0, INT64[1]))
    check_name(item.deployment, "deployment name", field="deployment")
    check_length("model version", item.ref, 255)
    dataset = None if item.dataset is None else check_name(item.dataset, "dataset name")
    wanted = check_int("labels_wanted", item.labels_wanted, (1, MAX_LABELS_WANTED))
    return {
        "id": new_id(),
        "queue": item.queue,
        "prediction_id": item.prediction_id,
        "row": row,
        "deployment": item.deployment,
        "ref": item.ref,
        "guess": boxed(json_value("review item guess", item.guess)),
        "confidence": _confidence(item.confidence),
        "reasons": _reasons(item.reasons),
        "inputs": json_object("review item inputs", item.inputs),
        "evidence": json_object("review item evidence", item.evidence),
        "dataset": dataset,
        "labels_wanted": wanted,
        "label_count": 0,
        "committed_to": None,
        "created_at": now_us(),
    }


def _confidence(confidence: float | None) -> float | None:
    if confidence is None:
        return None
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, Real)
        or not math.isfinite(float(confidence))
    ):
        raise InvalidInput(
            f"review item confidence {confidence!r:.80} must be a finite number, or None",
            field="confidence",
        )
    return float(confidence)


def _reasons(reasons: Sequence[str]) -> list[str]:
    if isinstance(reasons, str) or not isinstance(reasons, Sequence) or not reasons:
        raise InvalidInput(
            f"review item reasons {reasons!r:.80} must be a non-empty list of names, e.g. "
            "('low-confidence',)",
            field="reasons",
        )
    if len(reasons) > MAX_REASONS or len(set(reasons)) != len(reasons):
        raise InvalidInput(
            f"review item reasons {reasons!r:.80} must be at most {MAX_REASONS} names, each once",
            field="reasons",
        )
    for reason in reasons:
        check_length("review item reason", reason, 64)
    return list(reasons)


def check_commit(item_ids: Sequence[str]) -> list[str]:
    """The ids of the items to commit: a non-empty list, each once."""
    if isinstance(item_ids, str) or not isinstance(item_ids, Sequence) or not item_ids:
        raise InvalidInput(
            f"item_ids {item_ids!r:.80} must be a non-empty list of review item ids",
            field="item_ids",
        )
    ids = list(item_ids)
    for item_id in ids:
        check_length("review item id", item_id, 32)
    if len(set(ids)) != len(ids):
        raise InvalidInput("item_ids names an item more than once", field="item_ids")
    return ids


def check_label(label: Any) -> dict[str, Any]:
    """A label (any plain JSON value but None, which is no label), boxed to be stored."""
    if label is None:
        raise InvalidInput(
            "a review label must be a value (a class, a number, text), not None",
            field="label",
        )
    return boxed(json_value("review label", label))


def boxed(value: Any) -> dict[str, Any]:
    """A guess or a label as the object it is stored in: a JSON column holding a bare
    number is read back by SQLite's numeric affinity (2.0 as 2), an object is not."""
    return {"value": value}


def check_committable(ids: Sequence[str], found: Mapping[str, Row]) -> None:
    """Every item is there, has the labels it wants and is not committed yet."""
    for item_id in ids:
        item = found.get(item_id)
        if item is None:
            raise NotFound(f"no review item with id {item_id!r} to commit")
        if item["committed_to"] is not None:
            raise Conflict(
                f"review item {item_id!r} was committed already (to artifact "
                f"{item['committed_to']!r}), and nothing was committed; leave it out"
            )
        if int(item["label_count"]) < int(item["labels_wanted"]):
            raise InvalidInput(
                f"review item {item_id!r} has {item['label_count']} of the "
                f"{item['labels_wanted']} labels it wants, so it cannot be committed yet; "
                "label it, or leave it out",
                field="item_ids",
            )


def committed_already(item_id: str, artifact_id: str) -> str:
    return (
        f"review item {item_id!r} is committed (to artifact {artifact_id!r}): its labels "
        "are a dataset version's rows now and do not change"
    )


def labelled_already(item_id: str, reviewer: str) -> str:
    return (
        f"reviewer {reviewer!r} labelled review item {item_id!r} already; pass "
        "replace=True (--replace) to change the label"
    )


def review_item_record(row: Row, labels: Sequence[Row], claims: Sequence[Row]) -> ReviewItem:
    """The record of an item's row with its label rows (in the order first given) and
    its live claim rows."""
    return ReviewItem(
        id=row["id"],
        queue=row["queue"],
        prediction_id=row["prediction_id"],
        row=int(row["row"]),
        deployment=row["deployment"],
        ref=row["ref"],
        guess=row["guess"]["value"],
        confidence=None if row["confidence"] is None else float(row["confidence"]),
        reasons=tuple(row["reasons"]),
        inputs=dict(row["inputs"]),
        evidence=dict(row["evidence"]),
        dataset=row["dataset"],
        labels_wanted=int(row["labels_wanted"]),
        labels=tuple(
            ReviewLabel(
                reviewer=label["reviewer"],
                label=label["label"]["value"],
                note=label["note"],
                created_at=from_us(label["created_at"]),
            )
            for label in labels
        ),
        claims=tuple(
            ReviewClaim(reviewer=claim["reviewer"], expires_at=from_us(claim["expires_at"]))
            for claim in sorted(claims, key=lambda claim: (claim["expires_at"], claim["reviewer"]))
        ),
        committed_to=row["committed_to"],
        created_at=from_us(row["created_at"]),
    )


def in_id_range(suffix: str) -> bool:
    """Whether text could end an id at all (ids are lowercase hex)."""
    return all(c in "0123456789abcdef" for c in suffix)
