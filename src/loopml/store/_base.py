"""The metadata store contract.

Every backend implements :class:`MetadataStore` and passes the shipped test kit,
:mod:`loopml.testing.store_contract`. The rules a backend keeps:

Immutability
    An :class:`Artifact` never changes once created; its ``version`` is the next
    number for its ``(kind, name)``, assigned by the store, never reused, with no gaps
    even when many processes create versions of one name at once. A :class:`Run` may
    change only while it is running: its status (once, to a finished status), its
    end time, its error and its tags. Params, code and environment are fixed at
    creation. Events, metrics and alerts are append-only. Aliases move; each points
    at one artifact of their ``(kind, name)``. Every change of an alias — set, moved,
    deleted — is kept as an :class:`AliasEvent`, append-only, written in the
    transaction that changes the alias; setting an alias where it points already
    changes nothing and records nothing. A :class:`Schedule` keeps its name,
    target, params and cadence; only its ``next_due_at`` (when it is claimed) and its
    ``last_*`` fields (when a run is recorded) change.

Atomicity
    Every method is one transaction: after a crash (even SIGKILL of the writer) a
    call's effect is wholly there or wholly absent. ``log_metrics`` writes its batch
    whole or not at all; ``create_artifact`` with ``run_id`` writes the artifact and
    its output event together.

Concurrency
    A store is safe to share between threads. Any number of processes may open the
    same store and write at once; contention is waited out and retried inside the
    store, so callers never see "database is locked" or a serialization failure.
    A forked child may keep using a store it inherited: pooled connections are not
    shared across the fork. ``claim_due`` hands each occurrence of a schedule to one
    caller only, however many claim at once.

Returned records
    Records are frozen snapshots taken at the time of the call. Lists come in a
    stable order: artifacts by kind, name, version; runs and events oldest first;
    metrics by key, step, time; alerts and alias events newest first; schedules by
    name.

Values
    A value either backend cannot hold is refused before anything is written: whole
    numbers outside 64 bits, text with NUL characters or lone surrogates, names over
    their length, JSON nested too deep or with keys that are not text (see
    :mod:`loopml.store._sql.values`). What is taken comes back unchanged. An error
    text of a run keeps such characters as escapes instead.

Errors
    Unknown ids and names raise :class:`~loopml.errors.NotFound`, a broken rule
    :class:`~loopml.errors.InvalidInput` or :class:`~loopml.errors.AlreadyExists`,
    and database failures :class:`~loopml.errors.StoreError` — never a driver's own
    exception.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from loopml.store._records import (
    Alert,
    Alias,
    AliasEvent,
    Artifact,
    Direction,
    Event,
    Metric,
    MetricPoint,
    Run,
    RunStatus,
    Schedule,
    Severity,
    StoreInfo,
)


class MetadataStore(abc.ABC):
    """The lineage graph's records: artifacts, runs, events, metrics, aliases, alerts and
    schedules."""

    url: str

    # -- artifacts -------------------------------------------------------------------

    @abc.abstractmethod
    def create_artifact(
        self,
        *,
        kind: str,
        name: str,
        digest: str,
        size: int,
        uri: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        role: str = "output",
    ) -> Artifact:
        """Record the next version of ``(kind, name)``.

        With ``run_id``, the output event ``run -> artifact`` is written in the same
        transaction.
        """

    @abc.abstractmethod
    def get_artifact(self, artifact_id: str) -> Artifact:
        """The artifact with this id."""

    @abc.abstractmethod
    def get_artifact_version(self, kind: str, name: str, version: int) -> Artifact:
        """Version ``version`` of ``(kind, name)``."""

    @abc.abstractmethod
    def latest_artifact(self, kind: str, name: str) -> Artifact:
        """The highest version of ``(kind, name)``."""

    @abc.abstractmethod
    def find_artifacts(
        self,
        *,
        kind: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        limit: int | None = None,
    ) -> list[Artifact]:
        """Artifacts matching every filter given."""

    # -- runs ------------------------------------------------------------------------

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
    ) -> list[Run]:
        """Runs matching every filter given (``id_suffix``: ids ending with it, as
        :func:`~loopml._ids.short_id` shows them), oldest first, or newest first with
        ``newest_first``; ``limit`` counts from that end."""

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

    # -- aliases ---------------------------------------------------------------------

    @abc.abstractmethod
    def set_alias(
        self,
        alias: str,
        artifact_id: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> Alias:
        """Point ``alias`` of the artifact's ``(kind, name)`` at this artifact, and record
        the change with who made it (``actor``, by default the user of this process)
        and why."""

    @abc.abstractmethod
    def get_alias(self, kind: str, name: str, alias: str) -> Alias:
        """The alias of ``(kind, name)`` called ``alias``."""

    @abc.abstractmethod
    def delete_alias(
        self,
        kind: str,
        name: str,
        alias: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Remove an alias, recording who removed it and why; removing one that is not
        there raises NotFound."""

    @abc.abstractmethod
    def aliases(self, *, kind: str | None = None, name: str | None = None) -> list[Alias]:
        """Aliases, by kind, name and alias."""

    @abc.abstractmethod
    def alias_history(self, kind: str, name: str, alias: str | None = None) -> list[AliasEvent]:
        """The changes of the aliases of ``(kind, name)`` (or of one alias), newest
        first; an empty list when there were none."""

    # -- alerts ----------------------------------------------------------------------

    @abc.abstractmethod
    def create_alert(
        self,
        *,
        kind: str,
        severity: Severity | str,
        message: str,
        evidence: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        artifact_id: str | None = None,
    ) -> Alert:
        """Record an alert; the run and artifact it names must exist."""

    @abc.abstractmethod
    def get_alert(self, alert_id: str) -> Alert:
        """The alert with this id."""

    @abc.abstractmethod
    def find_alerts(
        self, *, kind: str | None = None, run_id: str | None = None, limit: int | None = None
    ) -> list[Alert]:
        """Alerts matching every filter given, newest first."""

    # -- schedules -------------------------------------------------------------------

    @abc.abstractmethod
    def create_schedule(
        self,
        *,
        name: str,
        target: str,
        resolved_target: str,
        params: Mapping[str, Any] | None = None,
        every_seconds: int | None = None,
        cron: str | None = None,
        timezone: str = "UTC",
        enabled: bool = True,
        next_due_at: datetime | None = None,
    ) -> Schedule:
        """Record a schedule under a unique ``name`` (an artifact-style name).

        It needs exactly one of ``every_seconds`` and a five-field ``cron``
        expression; ``timezone`` is an IANA name the cron times are read in. Without
        ``next_due_at`` it is first due at its first occurrence after now. A name
        taken raises AlreadyExists.
        """

    @abc.abstractmethod
    def get_schedule(self, name: str) -> Schedule:
        """The schedule called ``name``."""

    @abc.abstractmethod
    def find_schedules(self, *, enabled: bool | None = None) -> list[Schedule]:
        """Every schedule, or only the enabled (or disabled) ones, by name."""

    @abc.abstractmethod
    def delete_schedule(self, name: str) -> None:
        """Remove a schedule; removing one that is not there raises NotFound."""

    @abc.abstractmethod
    def claim_due(self, now: datetime, limit: int | None = None) -> list[Schedule]:
        """Claim up to ``limit`` enabled schedules due at ``now``, earliest due first.

        Claiming moves a schedule's ``next_due_at`` to its first occurrence after
        ``now``, so occurrences missed meanwhile are skipped, not run one by one. Each
        claim is its own transaction and takes effect only if no other caller claimed
        that occurrence first: callers claiming at once get disjoint schedules. The
        returned records show the new ``next_due_at``.
        """

    @abc.abstractmethod
    def record_schedule_run(
        self, name: str, run_id: str | None, status: RunStatus | str
    ) -> Schedule:
        """Record how a claimed schedule's run went: its pipeline run (None when it
        failed before a run began) and that run's status, at the current time."""

    # -- the store itself ------------------------------------------------------------

    @abc.abstractmethod
    def info(self) -> StoreInfo:
        """Backend, schema revision and record counts."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. The store must not be used afterwards."""

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
