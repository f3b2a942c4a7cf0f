"""Finding runs: by id (or its last characters), and by a condition on their fields,
parameters, tags and latest metrics, in an order, a page at a time. The store answers
the condition and the order; what ``loopml runs list`` prints is a page of these.

>>> import loopml, tempfile
>>> from loopml.tracking import search_runs
>>> with loopml.init(tempfile.mkdtemp()) as ws:
...     for C in (0.1, 1.0, 10.0):
...         with loopml.start_run("svm", params={"C": C}, workspace=ws):
...             loopml.log_metric("auc", 0.8 + C / 100)
...     page = search_runs("params.C >= 1", "-metrics.auc", limit=1, workspace=ws)
...     [found.metrics["auc"] for found in page], page.next_cursor is not None
...     after = search_runs("params.C >= 1", "-metrics.auc", limit=1, cursor=page.next_cursor,
...                         workspace=ws)
...     [found.run.params["C"] for found in after], after.next_cursor
([0.9], True)
([1.0], None)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml._paging import Page, decode_cursor, encode_cursor, page_limit
from loopml.errors import InvalidInput, NotFound
from loopml.store import Run, RunStatus
from loopml.store.query import Condition, RunOrder, run_row
from loopml.store.values import INT64
from loopml.tracking._active import workspace_in_use
from loopml.tracking._reap import reap_dead_runs
from loopml.tracking._where import parse_condition, parse_order

if TYPE_CHECKING:
    from loopml.store import MetadataStore
    from loopml.workspace import Workspace

_LISTING = "runs"


@dataclass(frozen=True)
class RunSummary:
    """A run with the latest value of each of its metrics."""

    run: Run
    metrics: dict[str, float]

    @property
    def seconds(self) -> float | None:
        """How long it ran; None while it runs."""
        run = self.run
        return (run.ended_at - run.started_at).total_seconds() if run.ended_at else None

    def to_dict(self) -> dict[str, Any]:
        """The run as plain JSON values, as ``loopml runs list --json`` prints it: id,
        name, kind, status, parent, host, started_at, seconds, params, metrics, tags."""
        return run_row(self.run, self.metrics)


def find_run(ref: str, *, workspace: Workspace | None = None) -> Run:
    """The run whose id is ``ref`` or ends with it (as ids are shown, by their last 12
    characters), or an error saying what to give."""
    return run_by_ref(workspace_in_use(workspace).store, ref)


def run_by_ref(store: MetadataStore, ref: str, *, field: str = "run") -> Run:
    """:func:`find_run` in ``store``."""
    if not isinstance(ref, str) or len(ref) < 6:
        raise InvalidInput(
            f"run {ref!r} is too short to find; give the 12 characters shown, or the whole id",
            field=field,
        )
    found = store.find_runs(id_suffix=ref.lower(), limit=2)
    if not found:
        raise NotFound(f"no run has an id ending in {ref!r}; `loopml runs list` lists them")
    if len(found) > 1:
        raise InvalidInput(
            f"more than one run has an id ending in {ref!r}; give more of it", field=field
        )
    return found[0]


def search_runs(
    where: str | Condition | None = None,
    sort: str | RunOrder | None = None,
    *,
    kind: str | None = None,
    name: str | None = None,
    status: str | RunStatus | None = None,
    parent: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    workspace: Workspace | None = None,
) -> Page[RunSummary]:
    """Runs meeting ``where``, newest first or in ``sort`` order, each with its latest
    metrics, ``limit`` at a time: give the page's ``next_cursor`` back as ``cursor``
    (with the same other arguments) for the runs after it.

    ``where`` is a condition as ``loopml runs list --where`` takes it (``"metrics.auc >
    0.9 and params.C < 1"``) or a :mod:`loopml.store.query` condition; ``sort`` a field
    as ``--sort`` takes it (``"-metrics.auc"``: high to low, runs without it last) or a
    :class:`~loopml.store.query.RunOrder`. ``kind``, ``name`` and ``status`` keep the
    runs with that value; ``parent`` (a run id, or its last characters) keeps its
    children. Runs recorded while one pages do not shift the pages: a page starts
    after the last run of the one before.
    """
    condition = parse_condition(where) if isinstance(where, str) else where
    order = parse_order(sort) if isinstance(sort, str) else sort
    wanted = _status(status) if status is not None else None
    ws = workspace_in_use(workspace)
    store = ws.store
    parent_id = run_by_ref(store, parent, field="parent").id if parent is not None else None
    reap_dead_runs(ws)  # a run whose process is gone is listed as killed, not running
    limit = page_limit(limit)
    query = (condition, order, kind, name, wanted, parent_id)
    after = None if cursor is None else decode_cursor(cursor, _LISTING, query)
    try:
        found = store.find_runs(
            kind=kind,
            name=name,
            status=wanted,
            parent_id=parent_id,
            where=condition,
            order_by=order,
            newest_first=True,
            after=after,
            limit=min(limit + 1, INT64[1]),
        )
    except NotFound:
        if after is None:
            raise
        raise InvalidInput(
            f"cursor {cursor!r} continues after a run this workspace does not have; pass "
            "the next_cursor of a page of this workspace, or leave it out to start again",
            field="cursor",
        ) from None
    runs = found[:limit]
    metrics = store.latest_metrics([run.id for run in runs])
    items = [RunSummary(run, metrics.get(run.id, {})) for run in runs]
    more = len(found) > limit
    return Page(items, encode_cursor(_LISTING, query, runs[-1].id) if more else None)


def _status(text: str | RunStatus) -> RunStatus:
    try:
        return RunStatus(text)
    except ValueError:
        known = ", ".join(s.value for s in RunStatus)
        raise InvalidInput(
            f"--status {text!r} is not a run status; use one of {known}", field="status"
        ) from None
