"""How far reviewers agree on the items several of them labelled: chance-corrected
agreement (kappa), overall, per reviewer and per class, so that vague guidelines show
up as a class reviewers cannot agree on, and a careless reviewer as one who rarely
agrees with the others.

- Overall: Cohen's kappa (scikit-learn's ``cohen_kappa_score``) when the items were
  labelled by two reviewers in all, on the items both labelled; Fleiss' kappa
  (statsmodels' ``fleiss_kappa``) when by more, on the items with the most common
  number of labels (Fleiss' kappa needs as many labels on each item; which reviewers
  gave them may differ).
- Per class: the same kappa on "this class or another" (for Fleiss, this is his
  per-category kappa), so a class defined loosely stands out.
- Per reviewer: Cohen's kappa of the reviewer's labels against the most common label
  the others gave the same items (items where the others tie are left out), and the
  plain share of those items where they agreed.

A kappa is None where it is undefined: no item labelled twice, or a class (or a
reviewer) whose labels never vary, so that agreement by chance is certain.

Needs scikit-learn and statsmodels (``pip install 'loopml[review]'``).

>>> rows = [("a", "ann", "spam"), ("a", "bob", "spam"), ("b", "ann", "ham"),
...         ("b", "bob", "ham"), ("c", "ann", "spam"), ("c", "bob", "ham"),
...         ("d", "ann", "ham"), ("d", "bob", "ham")]
>>> found = agreement_of(rows)
>>> found.method, found.items, round(found.kappa, 3)
('cohen', 4, 0.5)
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.errors import ConfigError

if TYPE_CHECKING:
    from loopml.workspace import Workspace

Rating = tuple[str, str, Any]  # (item, reviewer, label)


@dataclass(frozen=True)
class ReviewerAgreement:
    """One reviewer against the others: on ``items`` they labelled with others, the
    share where they gave the others' most common label, and the kappa of it."""

    reviewer: str
    items: int
    agreement: float | None
    kappa: float | None


@dataclass(frozen=True)
class ClassAgreement:
    """One class: its ``share`` of the labels, and the kappa of "this class or not"."""

    label: Any
    share: float
    kappa: float | None


@dataclass(frozen=True)
class Agreement:
    """Agreement among the reviewers of a queue (see the module's text): ``method`` is
    ``cohen`` or ``fleiss`` (None when no item has two labels), ``kappa`` the overall
    figure on ``items`` items with ``labels_per_item`` labels each (Fleiss)."""

    method: str | None
    kappa: float | None
    items: int
    labels_per_item: int | None
    reviewers: tuple[ReviewerAgreement, ...] = field(default_factory=tuple)
    classes: tuple[ClassAgreement, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "kappa": self.kappa,
            "items": self.items,
            "labels_per_item": self.labels_per_item,
            "reviewers": [vars_of(r) for r in self.reviewers],
            "classes": [vars_of(c) for c in self.classes],
        }


def vars_of(record: ReviewerAgreement | ClassAgreement) -> dict[str, Any]:
    return dict(record.__dict__)


def review_agreement(queue: str, *, workspace: Workspace | None = None) -> Agreement:
    """The agreement among the reviewers of ``queue``'s items (every label given,
    committed items included)."""
    from loopml._context import workspace_in_use
    from loopml.store._review_rows import check_queue

    ws = workspace_in_use(workspace)
    items = ws.store.find_review_items(check_queue(queue))
    return agreement_of(
        (item.id, label.reviewer, label.label) for item in items for label in item.labels
    )


def agreement_of(ratings: Iterable[Rating]) -> Agreement:
    """The agreement of ``(item, reviewer, label)`` ratings (a reviewer's second label
    of an item replaces the first)."""
    from loopml.monitor._review import label_key

    by_item: dict[str, dict[str, str]] = {}
    shown: dict[str, Any] = {}
    for item, reviewer, label in ratings:
        key = label_key(label)
        shown.setdefault(key, label)
        by_item.setdefault(item, {})[reviewer] = key
    shared = {item: labels for item, labels in by_item.items() if len(labels) >= 2}
    reviewers = sorted({who for labels in shared.values() for who in labels})
    if not shared:
        return Agreement(None, None, 0, None)
    classes = sorted(shown)
    if len(reviewers) == 2:
        first, second = reviewers
        pairs = [(labels[first], labels[second]) for labels in shared.values()]
        overall = _cohen([a for a, _ in pairs], [b for _, b in pairs])
        per_class = [
            _cohen([a == c for a, _ in pairs], [b == c for _, b in pairs]) for c in classes
        ]
        method, used, per_item = "cohen", len(pairs), None
    else:
        per_item = Counter(len(labels) for labels in shared.values()).most_common(1)[0][0]
        table = [
            [Counter(labels.values())[c] for c in classes]
            for labels in shared.values()
            if len(labels) == per_item
        ]
        overall = _fleiss(table)
        per_class = [
            _fleiss([[row[j], per_item - row[j]] for row in table]) for j in range(len(classes))
        ]
        method, used = "fleiss", len(table)
    every = Counter(key for labels in shared.values() for key in labels.values())
    total = sum(every.values())
    return Agreement(
        method,
        overall,
        used,
        per_item,
        tuple(_against_others(reviewer, shared) for reviewer in reviewers),
        tuple(
            ClassAgreement(shown[c], every[c] / total, kappa)
            for c, kappa in zip(classes, per_class, strict=True)
        ),
    )


def _against_others(reviewer: str, shared: dict[str, dict[str, str]]) -> ReviewerAgreement:
    mine, theirs = [], []
    for labels in shared.values():
        if reviewer not in labels:
            continue
        others = Counter(label for who, label in labels.items() if who != reviewer).most_common()
        if len(others) > 1 and others[0][1] == others[1][1]:
            continue  # the others tie: no label of theirs to agree with
        mine.append(labels[reviewer])
        theirs.append(others[0][0])
    if not mine:
        return ReviewerAgreement(reviewer, 0, None, None)
    agreed = sum(a == b for a, b in zip(mine, theirs, strict=True)) / len(mine)
    return ReviewerAgreement(reviewer, len(mine), agreed, _cohen(mine, theirs))


def _cohen(first: Sequence[Any], second: Sequence[Any]) -> float | None:
    """Cohen's kappa of two reviewers' labels of the same items."""
    metrics = _need("sklearn.metrics", "scikit-learn")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined (one class only): None below
        value = float(metrics.cohen_kappa_score(list(first), list(second)))
    return value if math.isfinite(value) else None


def _fleiss(table: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa of an items-by-classes table of label counts."""
    if not table:
        return None
    inter_rater = _need("statsmodels.stats.inter_rater", "statsmodels")
    import numpy as np

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        value = float(inter_rater.fleiss_kappa(np.asarray(table), method="fleiss"))
    return value if math.isfinite(value) else None


def _need(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ConfigError(
            f"reviewer agreement needs {package}, which cannot be imported ({error}); "
            "install it with pip install 'loopml[review]'"
        ) from None
