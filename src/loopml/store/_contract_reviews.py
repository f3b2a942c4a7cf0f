"""The store contract's review items: see :mod:`loopml.store._base` for the rules."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from loopml.store._records import Artifact, NewReviewItem, ReviewItem, ReviewStatus
from loopml.store._review_rows import DEFAULT_LEASE_SECONDS


class ReviewStore(abc.ABC):
    """Review items: predicted rows queued for people to label, handed out by claims,
    labelled by one or more reviewers, and committed as rows of a dataset version."""

    @abc.abstractmethod
    def add_review_items(self, items: Sequence[NewReviewItem]) -> list[ReviewItem]:
        """Queue ``items``, in the order given, in one transaction.

        A queue holds a predicted row (its ``prediction_id`` and ``row``) once: an item
        for a row its queue holds already is left out, and the one queued keeps its
        labels. Returns the items queued by this call, in the order given.
        """

    @abc.abstractmethod
    def get_review_item(self, item_id: str) -> ReviewItem:
        """The item with this id."""

    @abc.abstractmethod
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
        """Items matching every filter given, in the order they were queued.

        ``id_suffix`` keeps the items whose id ends with it (at least 6 characters, as
        the last 12 are shown); ``after`` (an item id) starts after that item, for
        reading a page at a time.
        """

    @abc.abstractmethod
    def claim_review_item(
        self,
        queue: str,
        reviewer: str,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        now: datetime | None = None,
    ) -> ReviewItem | None:
        """Hand ``reviewer`` an item of ``queue`` to label, held for ``lease_seconds``
        from ``now`` (the current time by default); None when there is none.

        A reviewer who holds a live claim in the queue gets that item again, its lease
        renewed. Otherwise the first item in queue order that is not committed, that the
        reviewer has not labelled, and whose labels and live claims by others are fewer
        than it wants, is claimed: a compare-and-set on the item, so callers claiming at
        once never get more claims on an item than it wants labels.
        """

    @abc.abstractmethod
    def label_review_item(
        self,
        item_id: str,
        reviewer: str,
        label: Any,
        *,
        note: str | None = None,
        replace: bool = False,
    ) -> ReviewItem:
        """Record ``reviewer``'s ``label`` (a JSON value, not None) of an item and end
        their claim on it. A reviewer labels an item once: a second label raises
        AlreadyExists unless ``replace``, which replaces the first. A committed item's
        labels are fixed (InvalidInput)."""

    @abc.abstractmethod
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
        """Record the next version of ``(kind, name)`` (as ``create_artifact`` does,
        with its output event when ``run_id`` is given) and mark the items committed to
        it, in one transaction, taking effect only if every item has the labels it
        wants and none is committed already: else nothing is written (Conflict for an
        item committed meanwhile, InvalidInput for one that wants labels). Returns the
        version and the items, in the order of ``item_ids``."""
