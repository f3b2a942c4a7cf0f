"""The store contract's runs: see :mod:`loopml.store._base` for the rules."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

from loopml.store._records import Direction, Event, Metric, MetricPoint, Run, RunStatus
from loopml.store.query import Condition, RunOrder


class RunStore(abc.ABC):
    """Runs, the lineage events between runs and artifacts, and runs' metrics."""

    @abc.abstractmethod
    def create_run(
        self,
        *,
        kind: str,
        name: str,
        params: Mapping[str, Any] | None = None,
        parent_id: str | None = None,
        fingerprint: str | None = None,
        code: Mapping[str, Any] | None = None,
        environment: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        status: RunStatus = RunStatus.RUNNING,
        events: Sequence[tuple[str, Direction, str]] = (),
    ) -> Run:
        """Start a run (or record a finished one, e.g. a cache hit, with ``status``).

        ``events`` (artifact id, direction, role) are recorded with the run, in the same
        transaction: all of it or none (NotFound for an artifact that is not there)."""

    @abc.abstractmethod
    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        error: str | None = None,
        *,
        metrics: Sequence[MetricPoint] = (),
    ) -> Run:
        """Move a running run to a finished status, once; ``metrics`` are written with
        it, all or nothing."""

    @abc.abstractmethod
    def set_run_tags(self, run_id: str, tags: Mapping[str, Any]) -> Run:
        """Merge ``tags`` into a running run's tags."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run:
        """The run with this id."""

    @abc.abstractmethod
    def find_runs(
        self,
        *,
        kind: str | None = None,
        name: str | None = None,
        parent_id: str | None = None,
        status: RunStatus | None = None,
        fingerprint: str | None = None,
        id_suffix: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        where: Condition | None = None,
        order_by: RunOrder | None = None,
        after: str | None = None,
    ) -> list[Run]:
        """Runs matching every filter given (``id_suffix``: ids ending with it, as
        :func:`~loopml._ids.short_id` shows them), oldest first, or newest first with
        ``newest_first``; ``limit`` counts from that end.

        ``where`` keeps the runs :func:`loopml.store.query.matches` accepts (reading
        each metric's latest value, as :meth:`latest_metrics` gives it); ``order_by``
        orders them as :func:`loopml.store.query.ordered` does, runs that tie in the
        order above. ``after`` is the id of a run: only the runs that come after it in
        this order are returned (it need not match the filters; NotFound when there is
        no such run), so that a page ends with a run and the next page starts after it,
        and runs recorded in between do not shift the pages.
        :func:`loopml.store.query.select_runs` is this query over runs in memory."""

    @abc.abstractmethod
    def record_runs(self, runs: Sequence[tuple[Run, Sequence[MetricPoint]]]) -> None:
        """Record runs made elsewhere — ids, times, status and all — each with its
        metric points, all or nothing: a run whose id exists is AlreadyExists, a parent
        that does not exist NotFound (a parent may be another run of the same call)."""

    @abc.abstractmethod
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> Run:
        """Add parameters to a running run. A parameter once set keeps its value: the same
        value again is a no-op, a different one is InvalidInput (nothing is written)."""

    # -- lineage ---------------------------------------------------------------------

    @abc.abstractmethod
    def add_event(self, run_id: str, artifact_id: str, direction: Direction, role: str) -> Event:
        """Record that a run read or wrote an artifact. Recording it twice is a no-op."""

    @abc.abstractmethod
    def events(self, *, run_id: str | None = None, artifact_id: str | None = None) -> list[Event]:
        """Events of a run, of an artifact, or of both."""

    # -- metrics ---------------------------------------------------------------------

    @abc.abstractmethod
    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        """Append a batch of metric points to a run, all or nothing."""

    @abc.abstractmethod
    def metrics(self, run_id: str, key: str | None = None) -> list[Metric]:
        """A run's metric points, optionally of one key."""

    @abc.abstractmethod
    def latest_metrics(self, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """For each run, each metric key's latest value (highest step, then last
        written); runs with no metrics are left out."""
