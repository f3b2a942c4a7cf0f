"""Review items in the SQL store: queued, found, claimed, labelled and committed. A
mixin of :class:`~loopml.store._sql.store.SqlStore`.

A claim is a compare-and-set on the item's row: the candidate is locked (``FOR
UPDATE`` on PostgreSQL; a SQLite writer holds the whole database already) and its
labels and live claims counted again before the claim is written, so a reviewer who
waited for another's claim sees it and moves on to the next item.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopml._time import now_us
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.store import _review_rows as rows
from loopml.store._records import Artifact, NewReviewItem, ReviewItem, ReviewStatus
from loopml.store._rows import artifact_record, artifact_row
from loopml.store._sql import schema as t
from loopml.store._sql.changes import count_change
from loopml.store._sql.engine import retrying, transaction
from loopml.store._sql.inserts import insert_artifact
from loopml.store.values import check_limit

Row = Mapping[Any, Any]

_ITEMS = t.review_items.c
_LABELS = t.review_labels.c
_CLAIMS = t.review_claims.c
_CHUNK = 500  # ids per IN (...) list when reading labels and claims
_CANDIDATES = 16  # items looked at per round of a claim


class Reviews:
    """The review item methods of the metadata store contract."""

    _engine: sa.Engine

    def add_review_items(self, items: Sequence[NewReviewItem]) -> list[ReviewItem]:
        new = rows.review_item_rows(items)
        if not new:
            return []

        def work() -> list[ReviewItem]:
            with transaction(self._engine, write=True) as c:
                taken = _queued(c, new)
                added = [
                    row
                    for row in new
                    if (row["queue"], row["prediction_id"], row["row"]) not in taken
                ]
                if added:
                    c.execute(sa.insert(t.review_items), added)  # in order: seq is queue order
                    count_change(c)
            return [rows.review_item_record(row, [], []) for row in added]

        # Two callers queueing one row at once: the loser's retry finds it queued.
        return retrying(self._engine, work, retry_on_integrity=True)

    def get_review_item(self, item_id: str) -> ReviewItem:
        found = self._review_items(sa.select(t.review_items).where(_ITEMS.id == item_id))
        if not found:
            raise NotFound(f"no review item with id {item_id!r}")
        return found[0]

    def find_review_items(
        self,
        queue: str | None = None,
        *,
        status: ReviewStatus | str | None = None,
        prediction_id: str | None = None,
        committed_to: str | None = None,
        id_suffix: str | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[ReviewItem]:
        state = rows.check_status(status)
        suffix = rows.check_id_suffix(id_suffix)
        limit = check_limit(limit)
        query = sa.select(t.review_items).order_by(_ITEMS.seq)
        for column, value in (
            (_ITEMS.queue, queue),
            (_ITEMS.prediction_id, prediction_id),
            (_ITEMS.committed_to, committed_to),
        ):
            if value is not None:
                query = query.where(column == value)
        if state is not None:
            query = query.where(_status_is(state))
        if suffix is not None:
            if not rows.in_id_range(suffix):
                return []
            query = query.where(_ITEMS.id.like(f"%{suffix}"))
        if after is not None:
            start = self._review_items(sa.select(t.review_items).where(_ITEMS.id == after))
            if not start:
                raise NotFound(f"no review item with id {after!r} to start after")
            seq = sa.select(_ITEMS.seq).where(_ITEMS.id == after).scalar_subquery()
            query = query.where(_ITEMS.seq > seq)
        if limit is not None:
            query = query.limit(limit)
        return self._review_items(query)

    def claim_review_item(
        self,
        queue: str,
        reviewer: str,
        *,
        lease_seconds: float = rows.DEFAULT_LEASE_SECONDS,
        now: datetime | None = None,
    ) -> ReviewItem | None:
        rows.check_queue(queue)
        rows.check_reviewer(reviewer)
        moment, expires = rows.claim_expiry(now, lease_seconds)

        def work() -> ReviewItem | None:
            with transaction(self._engine, write=True) as c:
                held = _held(c, queue, reviewer, moment)
                if held is not None:
                    c.execute(
                        sa.update(t.review_claims)
                        .where(_CLAIMS.item_id == held, _CLAIMS.reviewer == reviewer)
                        .values(expires_at=expires)
                    )
                    count_change(c)
                    return _read_items(c, [held], moment)[0]
                tried: set[str] = set()
                while True:
                    candidates = _candidates(c, queue, reviewer, moment, tried)
                    if not candidates:
                        return None
                    for item_id in candidates:
                        tried.add(item_id)
                        if _claim(c, item_id, reviewer, moment, expires):
                            count_change(c)
                            return _read_items(c, [item_id], moment)[0]

        return retrying(self._engine, work)

    def label_review_item(
        self,
        item_id: str,
        reviewer: str,
        label: Any,
        *,
        note: str | None = None,
        replace: bool = False,
    ) -> ReviewItem:
        rows.check_reviewer(reviewer)
        value = rows.check_label(label)
        text = rows.check_note(note)

        def work() -> ReviewItem:
            with transaction(self._engine, write=True) as c:
                item = _locked_item(c, item_id)
                if item["committed_to"] is not None:
                    raise InvalidInput(rows.committed_already(item_id, item["committed_to"]))
                given = {"label": value, "note": text, "created_at": now_us()}
                mine = (_LABELS.item_id == item_id, _LABELS.reviewer == reviewer)
                existing = c.execute(sa.select(_LABELS.id).where(*mine)).first()
                if existing is not None:
                    if not replace:
                        raise AlreadyExists(rows.labelled_already(item_id, reviewer))
                    c.execute(sa.update(t.review_labels).where(*mine).values(given))
                else:
                    c.execute(
                        sa.insert(t.review_labels),
                        {"item_id": item_id, "reviewer": reviewer, **given},
                    )
                    c.execute(
                        sa.update(t.review_items)
                        .where(_ITEMS.id == item_id)
                        .values(label_count=_ITEMS.label_count + 1)
                    )
                c.execute(
                    sa.delete(t.review_claims).where(
                        _CLAIMS.item_id == item_id, _CLAIMS.reviewer == reviewer
                    )
                )
                count_change(c)
                return _read_items(c, [item_id], now_us())[0]

        return retrying(self._engine, work)

    def commit_review_items(
        self,
        item_ids: Sequence[str],
        *,
        name: str,
        digest: str,
        size: int,
        kind: str = "dataset",
        metadata: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        role: str = "output",
    ) -> tuple[Artifact, list[ReviewItem]]:
        ids = rows.check_commit(item_ids)
        row = artifact_row(
            kind=kind, name=name, digest=digest, size=size, uri=None, metadata=metadata, role=role
        )

        def work() -> tuple[Artifact, list[ReviewItem]]:
            with transaction(self._engine, write=True) as c:
                # Locked in id order, so that two commits never wait for each other in
                # a cycle.
                found = {
                    item["id"]: item
                    for item in c.execute(
                        sa.select(t.review_items)
                        .where(_ITEMS.id.in_(sorted(ids)))
                        .order_by(_ITEMS.id)
                        .with_for_update()
                    ).mappings()
                }
                rows.check_committable(ids, found)
                values = insert_artifact(c, row, run_id=run_id, role=role)
                c.execute(
                    sa.update(t.review_items)
                    .where(_ITEMS.id.in_(ids))
                    .values(committed_to=values["id"])
                )
                count_change(c)
                return artifact_record(values), _read_items(c, ids, now_us())

        return retrying(self._engine, work, retry_on_integrity=True)

    def _review_items(self, query: sa.Select[Any]) -> list[ReviewItem]:
        def work() -> list[ReviewItem]:
            with transaction(self._engine, write=False) as c:
                found = list(c.execute(query).mappings())
                return _records(c, found, now_us())

        return retrying(self._engine, work)


def _queued(c: sa.Connection, new: Sequence[Row]) -> set[tuple[str, str, int]]:
    """The (queue, prediction id, row) of the new rows that are queued already."""
    wanted: dict[str, set[str]] = {}
    for row in new:
        wanted.setdefault(row["queue"], set()).add(row["prediction_id"])
    found: set[tuple[str, str, int]] = set()
    for queue, ids in wanted.items():
        for chunk in _chunks(sorted(ids)):
            query = sa.select(_ITEMS.queue, _ITEMS.prediction_id, _ITEMS.row).where(
                _ITEMS.queue == queue, _ITEMS.prediction_id.in_(chunk)
            )
            found.update((q, pid, int(r)) for q, pid, r in c.execute(query))
    return found


def _status_is(state: ReviewStatus) -> sa.ColumnElement[bool]:
    if state is ReviewStatus.COMMITTED:
        return _ITEMS.committed_to.is_not(None)
    enough = _ITEMS.label_count >= _ITEMS.labels_wanted
    return sa.and_(
        _ITEMS.committed_to.is_(None), enough if state is ReviewStatus.LABELLED else ~enough
    )


def _live_claims(moment: int, *, besides: str | None = None) -> sa.ScalarSelect[Any]:
    """How many live claims the item of the outer query has (not counting ``besides``'s)."""
    query = sa.select(sa.func.count()).where(
        _CLAIMS.item_id == _ITEMS.id, _CLAIMS.expires_at > moment
    )
    if besides is not None:
        query = query.where(_CLAIMS.reviewer != besides)
    return query.correlate(t.review_items).scalar_subquery()


def _held(c: sa.Connection, queue: str, reviewer: str, moment: int) -> str | None:
    """The item of ``queue`` the reviewer holds a live claim on, if any."""
    query = (
        sa.select(_ITEMS.id)
        .join(t.review_claims, _CLAIMS.item_id == _ITEMS.id)
        .where(
            _ITEMS.queue == queue,
            _ITEMS.committed_to.is_(None),
            _CLAIMS.reviewer == reviewer,
            _CLAIMS.expires_at > moment,
        )
        .order_by(_ITEMS.seq)
        .limit(1)
    )
    found: str | None = c.execute(query).scalar()
    return found


def _labelled_by(reviewer: str) -> sa.Exists:
    return (
        sa.select(_LABELS.id)
        .where(_LABELS.item_id == _ITEMS.id, _LABELS.reviewer == reviewer)
        .correlate(t.review_items)
        .exists()
    )


def _candidates(
    c: sa.Connection, queue: str, reviewer: str, moment: int, tried: set[str]
) -> list[str]:
    """The first items of the queue the reviewer could be given, as things stand."""
    query = (
        sa.select(_ITEMS.id)
        .where(
            _ITEMS.queue == queue,
            _ITEMS.committed_to.is_(None),
            _ITEMS.label_count < _ITEMS.labels_wanted,
            _ITEMS.label_count + _live_claims(moment, besides=reviewer) < _ITEMS.labels_wanted,
            ~_labelled_by(reviewer),
        )
        .order_by(_ITEMS.seq)
        .limit(_CANDIDATES)
    )
    if tried:
        query = query.where(_ITEMS.id.not_in(sorted(tried)))
    return list(c.execute(query).scalars())


def _claim(c: sa.Connection, item_id: str, reviewer: str, moment: int, expires: int) -> bool:
    """Claim the item for ``reviewer`` if, counted again under its lock, it still has
    room; False when another caller filled it first."""
    item = _locked_item(c, item_id)
    if item["committed_to"] is not None:
        return False
    live = c.execute(
        sa.select(sa.func.count()).where(
            _CLAIMS.item_id == item_id, _CLAIMS.expires_at > moment, _CLAIMS.reviewer != reviewer
        )
    ).scalar_one()
    mine = c.execute(
        sa.select(_LABELS.id).where(_LABELS.item_id == item_id, _LABELS.reviewer == reviewer)
    ).first()
    if mine is not None or int(item["label_count"]) + int(live) >= int(item["labels_wanted"]):
        return False
    # An expired claim of the reviewer's own on the item is replaced by the new one.
    c.execute(
        sa.delete(t.review_claims).where(_CLAIMS.item_id == item_id, _CLAIMS.reviewer == reviewer)
    )
    c.execute(
        sa.insert(t.review_claims),
        {"item_id": item_id, "reviewer": reviewer, "expires_at": expires},
    )
    return True


def _locked_item(c: sa.Connection, item_id: str) -> Row:
    """The item's row, locked until the transaction ends, or NotFound."""
    query = sa.select(t.review_items).where(_ITEMS.id == item_id).with_for_update()
    item = c.execute(query).mappings().first()
    if item is None:
        raise NotFound(f"no review item with id {item_id!r}")
    return item


def _read_items(c: sa.Connection, ids: Sequence[str], moment: int) -> list[ReviewItem]:
    """The items with these ids, in that order."""
    found = {
        row["id"]: row
        for chunk in _chunks(ids)
        for row in c.execute(sa.select(t.review_items).where(_ITEMS.id.in_(chunk))).mappings()
    }
    return _records(c, [found[item_id] for item_id in ids], moment)


def _records(c: sa.Connection, items: Sequence[Row], moment: int) -> list[ReviewItem]:
    """The records of item rows, with their labels and the claims live at ``moment``."""
    ids = [item["id"] for item in items]
    labels: dict[str, list[Row]] = {}
    claims: dict[str, list[Row]] = {}
    for chunk in _chunks(ids):
        for label in c.execute(
            sa.select(t.review_labels).where(_LABELS.item_id.in_(chunk)).order_by(_LABELS.id)
        ).mappings():
            labels.setdefault(label["item_id"], []).append(label)
        for claim in c.execute(
            sa.select(t.review_claims).where(
                _CLAIMS.item_id.in_(chunk), _CLAIMS.expires_at > moment
            )
        ).mappings():
            claims.setdefault(claim["item_id"], []).append(claim)
    return [
        rows.review_item_record(item, labels.get(item["id"], []), claims.get(item["id"], []))
        for item in items
    ]


def _chunks(ids: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])
