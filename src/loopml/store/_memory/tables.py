"""The records of the in-memory stores of this process, one set of tables per name, and
the one lock that makes every call on any of them one atomic step.

Rows are plain dicts, as :mod:`loopml.store._rows` makes them; a record handed out is
made from a deep copy of its row, so that nothing a caller does to it reaches the
store. A call checks everything it can refuse before it changes anything, so a refused
call leaves the tables as they were.
"""

from __future__ import annotations

import copy
import itertools
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from loopml.errors import InvalidURL, NotFound, StoreMissing
from loopml.store._records import ArmStats
from loopml.store._rows import metric_record

Row = dict[str, Any]
R = TypeVar("R")

# Held for the whole of every call on every in-memory store, and across a fork, so that
# a forked child finds the tables whole and the lock free.
LOCK = threading.Lock()
os.register_at_fork(before=LOCK.acquire, after_in_parent=LOCK.release, after_in_child=LOCK.release)

_URL = re.compile(r"memory://([A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*)")
_FIX = "use memory://NAME, with letters, digits, '.', '_', '-' and '/' in NAME"


@dataclass
class Tables:
    """One in-memory store's records."""

    artifacts: dict[str, Row] = field(default_factory=dict)  # by id, oldest first
    versions: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # ids by version
    runs: dict[str, Row] = field(default_factory=dict)
    events: dict[tuple[str, str, str, str], Row] = field(default_factory=dict)
    metrics: dict[str, list[Row]] = field(default_factory=dict)  # by run id
    aliases: dict[tuple[str, str, str], Row] = field(default_factory=dict)
    alias_events: list[Row] = field(default_factory=list)  # oldest first
    alerts: dict[str, Row] = field(default_factory=dict)
    schedules: dict[str, Row] = field(default_factory=dict)
    deployments: dict[str, Row] = field(default_factory=dict)
    deployment_changes: list[Row] = field(default_factory=list)  # oldest first
    arm_stats: dict[str, dict[str, ArmStats]] = field(default_factory=dict)  # by deployment, arm
    leases: dict[str, Row] = field(default_factory=dict)  # by name, kept once taken
    review_items: dict[str, Row] = field(default_factory=dict)  # by id, in queue order
    review_keys: dict[tuple[str, str, int], str] = field(default_factory=dict)  # queue, row: id
    review_labels: dict[str, dict[str, Row]] = field(default_factory=dict)  # by item, reviewer
    review_claims: dict[str, dict[str, int]] = field(default_factory=dict)  # item, reviewer: until
    row_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    changes: int = 0  # the change counter: one more for every call that writes

    def changed(self) -> None:
        """Count a call that wrote something; called under the lock, once per call."""
        self.changes += 1

    def counts(self) -> dict[str, int]:
        """How many records of each kind, named as the SQL store names its tables."""
        return {
            "artifacts": len(self.artifacts),
            "runs": len(self.runs),
            "events": len(self.events),
            "metrics": sum(len(points) for points in self.metrics.values()),
            "aliases": len(self.aliases),
            "alerts": len(self.alerts),
            "schedules": len(self.schedules),
            "deployments": len(self.deployments),
            "review_items": len(self.review_items),
        }


_STORES: dict[str, Tables] = {}


def store_name(url: str) -> str:
    """The NAME of ``memory://NAME``, or InvalidURL saying how to write one."""
    found = _URL.fullmatch(url)
    if found is None or len(found.group(1)) > 255:
        raise InvalidURL(f"store URL {url!r} names no in-memory store; {_FIX}")
    return found.group(1)


def tables_of(url: str, *, create: bool) -> Tables:
    """The tables of the store ``url`` names; made, empty, only with ``create``."""
    name = store_name(url)
    with LOCK:
        tables = _STORES.get(name)
        if tables is None:
            if not create:
                why = f"no in-memory store named {name!r} in this process"
                raise StoreMissing(
                    f"store {url} does not exist ({why}); loopml makes a store only when "
                    "asked: fix the URL, or make one with open_store(url, create=True) in "
                    "this process (an in-memory store lives only in the process that made it)",
                    store=url,
                    why=why,
                )
            tables = _STORES[name] = Tables()
        return tables


def drop(url: str) -> None:
    """Forget the store ``url`` names, if there is one: its records are gone."""
    name = store_name(url)
    with LOCK:
        _STORES.pop(name, None)


def fresh(convert: Callable[[Row], R], row: Mapping[str, Any]) -> R:
    """The record of ``row``, sharing no value with the row the store keeps."""
    return convert(copy.deepcopy(dict(row)))


def lookup(table: Mapping[str, Row], key: object) -> Row | None:
    """The row under ``key``; None also for a key no row can have (not text)."""
    return table.get(key) if isinstance(key, str) else None


def require_run(tables: Tables, run_id: str, *, what: str = "run") -> Row:
    row = lookup(tables.runs, run_id)
    if row is None:
        raise NotFound(f"no {what} with id {run_id!r}")
    return row


def require_artifact(tables: Tables, artifact_id: str) -> Row:
    row = lookup(tables.artifacts, artifact_id)
    if row is None:
        raise NotFound(f"no artifact with id {artifact_id!r}")
    return row


def points_of(tables: Tables, run_id: str) -> list[Row]:
    """A run's metric rows, in the order they were written."""
    return tables.metrics.get(run_id, []) if isinstance(run_id, str) else []


def append_metrics(tables: Tables, run_id: str, points: list[Row]) -> None:
    """Add metric rows to a run, each with the next row id (their order of writing)."""
    if points:
        kept = tables.metrics.setdefault(run_id, [])
        kept.extend({**point, "id": next(tables.row_ids)} for point in points)


def latest_values(tables: Tables, run_id: str) -> dict[str, float]:
    """A run's latest value of each metric: at its highest step, then the last written."""
    newest: dict[str, Row] = {}
    for row in points_of(tables, run_id):
        known = newest.get(row["key"])
        if known is None or (row["step"], row["at"], row["id"]) > (
            known["step"],
            known["at"],
            known["id"],
        ):
            newest[row["key"]] = row
    return {key: metric_record(row).value for key, row in newest.items()}
