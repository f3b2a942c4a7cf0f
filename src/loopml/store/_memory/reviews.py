"""Review items in the in-memory store: queued, found, claimed, labelled and
committed, each call one step under the store's lock. A mixin of
:class:`~loopml.store._memory.store.MemoryStore`."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from loopml._time import now_us
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.store import _review_rows as rows
from loopml.store._memory.artifacts import insert_artifact
from loopml.store._memory.tables import LOCK, Row, Tables, fresh, lookup
from loopml.store._records import Artifact, NewReviewItem, ReviewItem, ReviewStatus
from loopml.store._rows import artifact_record, artifact_row
from loopml.store.values import check_limit


class Reviews:
    """The review item methods of the metadata store contract."""

    _tables: Tables

    def add_review_items(self, items: Sequence[NewReviewItem]) -> list[ReviewItem]:
        new = rows.review_item_rows(items)
        tables = self._tables
        with LOCK:
            added = []
            for row in new:
                key = (row["queue"], row["prediction_id"], row["row"])
                if key not in tables.review_keys:
                    tables.review_keys[key] = row["id"]
                    tables.review_items[row["id"]] = row
                    added.append(row)
            if added:
                tables.changed()
            return [_record(tables, row, now_us()) for row in added]

    def get_review_item(self, item_id: str) -> ReviewItem:
        with LOCK:
            row = lookup(self._tables.review_items, item_id)
            if row is None:
                raise NotFound(f"no review item with id {item_id!r}")
            return _record(self._tables, row, now_us())

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
        wanted = {"queue": queue, "prediction_id": prediction_id, "committed_to": committed_to}
        filters = {column: value for column, value in wanted.items() if value is not None}
        tables = self._tables
        with LOCK:
            items = list(tables.review_items.values())
            if after is not None:
                if lookup(tables.review_items, after) is None:
                    raise NotFound(f"no review item with id {after!r} to start after")
                items = items[[row["id"] for row in items].index(after) + 1 :]
            found = [
                row
                for row in items
                if all(row[column] == value for column, value in filters.items())
                and (state is None or _status(row) is state)
                and (suffix is None or row["id"].endswith(suffix))
            ][:limit]
            moment = now_us()
            return [_record(tables, row, moment) for row in found]

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
        tables = self._tables
        with LOCK:
            open_items = [
                row
                for row in tables.review_items.values()
                if row["queue"] == queue and row["committed_to"] is None
            ]
            for row in open_items:
                until = tables.review_claims.get(row["id"], {}).get(reviewer)
                if until is not None and until > moment:
                    tables.review_claims[row["id"]][reviewer] = expires
                    tables.changed()
                    return _record(tables, row, moment)
            for row in open_items:
                labels = tables.review_labels.get(row["id"], {})
                claims = tables.review_claims.get(row["id"], {})
                live = sum(1 for who, until in claims.items() if who != reviewer and until > moment)
                if reviewer not in labels and len(labels) + live < row["labels_wanted"]:
                    tables.review_claims.setdefault(row["id"], {})[reviewer] = expires
                    tables.changed()
                    return _record(tables, row, moment)
            return None

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
        tables = self._tables
        with LOCK:
            row = lookup(tables.review_items, item_id)
            if row is None:
                raise NotFound(f"no review item with id {item_id!r}")
            if row["committed_to"] is not None:
                raise InvalidInput(rows.committed_already(item_id, row["committed_to"]))
            labels = tables.review_labels.setdefault(item_id, {})
            if reviewer in labels and not replace:
                raise AlreadyExists(rows.labelled_already(item_id, reviewer))
            given = {"reviewer": reviewer, "label": value, "note": text, "created_at": now_us()}
            labels[reviewer] = given  # a replaced label keeps its place
            row["label_count"] = len(labels)
            tables.review_claims.get(item_id, {}).pop(reviewer, None)
            tables.changed()
            return _record(tables, row, now_us())

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
        artifact = artifact_row(
            kind=kind, name=name, digest=digest, size=size, uri=None, metadata=metadata, role=role
        )
        tables = self._tables
        with LOCK:
            found = {
                item_id: row
                for item_id in ids
                if (row := lookup(tables.review_items, item_id)) is not None
            }
            rows.check_committable(ids, found)
            insert_artifact(tables, artifact, run_id=run_id, role=role)
            for item_id in ids:
                found[item_id]["committed_to"] = artifact["id"]
            tables.changed()
            moment = now_us()
            return (
                fresh(artifact_record, artifact),
                [_record(tables, found[item_id], moment) for item_id in ids],
            )


def _status(row: Row) -> ReviewStatus:
    if row["committed_to"] is not None:
        return ReviewStatus.COMMITTED
    if row["label_count"] >= row["labels_wanted"]:
        return ReviewStatus.LABELLED
    return ReviewStatus.OPEN


def _record(tables: Tables, row: Row, moment: int) -> ReviewItem:
    """The item's record, sharing no value with the tables, with its claims live at
    ``moment``."""
    labels = list(tables.review_labels.get(row["id"], {}).values())
    claims = [
        {"reviewer": who, "expires_at": until}
        for who, until in tables.review_claims.get(row["id"], {}).items()
        if until > moment
    ]
    return rows.review_item_record(copy.deepcopy(row), copy.deepcopy(labels), claims)
