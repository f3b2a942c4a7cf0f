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
    ``last_*`` fields (when a run is recorded) change. A :class:`Deployment` changes
    its policy; every change — created, updated, deleted — is kept as a
    :class:`DeploymentChange` with the policy before and after, append-only, written in
    the transaction that makes it; its ``revision`` grows by one with each change, so
    the history of a name replays to its current policy. Setting the policy a
    deployment has already changes and records nothing. A deployment's
    :class:`~loopml.store.ArmStats` only grow, by ``add_arm_stats``; deleting the deployment
    deletes them. A :class:`Lease` passes from holder to holder; its ``token`` grows by
    one each time it is taken (by a new holder, or again after it expired or was
    released), never when it is renewed, and never goes back: a released lease keeps
    its token for the next holder. A :class:`~loopml.store.ReviewItem` keeps what it was
    queued with; only its labels (each reviewer's, added, or replaced when asked), its
    claims and ``committed_to`` (set once, by ``commit_review_items``) change, and a
    committed item's labels no longer do. A queue holds a predicted row once.

Atomicity
    Every method is one transaction: after a crash (even SIGKILL of the writer) a
    call's effect is wholly there or wholly absent. ``log_metrics`` writes its batch
    whole or not at all; ``create_artifact`` with ``run_id`` writes the artifact and
    its output event together.

Concurrency
    A store is safe to share between threads, and stores opened on one URL share
    their records. Where a backend's stores can be opened by other processes (a file,
    a server; not ``memory://``, which lives in one process), any number of processes
    may open the same store and write at once; contention is waited out and retried
    inside the store, so callers never see "database is locked" or a serialization
    failure. A forked child may keep using a store it inherited: pooled connections
    are not shared across the fork. ``claim_due`` hands each occurrence of a schedule
    to one caller only, however many claim at once.
    ``claim_review_item`` is a compare-and-set on the item: reviewers claiming at once
    never get more live claims on an item than it wants labels, nor one reviewer two
    claims on one item; ``commit_review_items`` commits an item once, however many
    commit it at once.
    ``move_aliases`` is a compare-and-set:
    it moves several aliases of one ``(kind, name)`` in one transaction only if each
    points where the caller expects, else it writes nothing and raises
    :class:`~loopml.errors.Conflict`; so callers that read aliases, decide and move
    them (promotion, rollback) cannot interleave, and concurrent moves leave a history
    in which every event starts where the one before it ended. ``set_deployment`` and
    ``delete_deployment`` with ``expected_revision`` are compare-and-sets in the same
    way, on the deployment's revision. ``add_arm_stats`` adds in the database
    (``pulls = pulls + ?``), so workers adding to one arm at once lose no increment.
    ``acquire_lease``, ``renew_lease`` and ``release_lease`` are compare-and-sets on
    the lease's row, judged on one clock for every caller (the database server's on
    PostgreSQL, the host's on SQLite, the process's in ``memory://``), read inside the
    transaction once the row is locked: of callers taking a free or expired lease at
    once, exactly one gets it, and a lease is never held by two holders at one moment
    of that clock.

Changes
    ``change_counter()`` is one cheap read that tells a poller whether anything was
    written: a whole number that grows in every transaction that writes a record
    (an artifact, a run, its finish, tags or params, metrics, events, an alias move,
    an alert, a schedule created, claimed, recorded or deleted, a deployment set
    or deleted, a lease taken or released, review items queued, claimed, labelled or
    committed), becomes visible with
    that transaction's records and never with fewer, never goes back, and is the same
    for every process reading the store. Reads, and calls that change nothing, leave
    it as it is; so does ``add_arm_stats``, whose statistics are traffic, not
    configuration (see ``add_arm_stats``), and so does a lease's renewal, which only
    moves its expiry (see ``renew_lease``); a lease that runs out unrenewed writes
    nothing either, so the counter does not tell that a lease expired. By how much it
    grows is not part of the contract: compare, do not count.

Returned records
    Records are frozen snapshots taken at the time of the call, sharing no value
    with the store: changing a record's params or metadata changes nothing stored.
    Lists come in a stable order: artifacts by kind, name, version; runs and events
    oldest first; metrics by key, step, time; alerts, alias events and deployment changes newest
    first; schedules and deployments by name; review items in the order they were
    queued, their labels in the order first given.

Values
    A value either backend cannot hold is refused before anything is written: whole
    numbers outside 64 bits, text with NUL characters or lone surrogates, names over
    their length, JSON nested too deep or with keys that are not text (see
    :mod:`loopml.store.values`). What is taken comes back unchanged. An error
    text of a run keeps such characters as escapes instead.

Errors
    Unknown ids and names raise :class:`~loopml.errors.NotFound`, a broken rule
    :class:`~loopml.errors.InvalidInput` or :class:`~loopml.errors.AlreadyExists`, a
    lost compare-and-set :class:`~loopml.errors.Conflict`, and database failures
    :class:`~loopml.errors.StoreError` — never a driver's own exception.
"""

from __future__ import annotations

import abc

from loopml.store._contract_alerts import AlertStore
from loopml.store._contract_aliases import AliasStore
from loopml.store._contract_arms import ArmStatsStore
from loopml.store._contract_artifacts import ArtifactStore
from loopml.store._contract_deployments import DeploymentStore
from loopml.store._contract_leases import LeaseStore
from loopml.store._contract_reviews import ReviewStore
from loopml.store._contract_runs import RunStore
from loopml.store._contract_schedules import ScheduleStore
from loopml.store._records import StoreInfo


class MetadataStore(
    ArtifactStore,
    RunStore,
    AliasStore,
    AlertStore,
    ScheduleStore,
    DeploymentStore,
    ArmStatsStore,
    LeaseStore,
    ReviewStore,
):
    """The lineage graph's records: artifacts, runs, events, metrics, aliases, alerts,
    schedules, deployments and their arm statistics, leases and review items, one part
    of the contract per domain."""

    url: str

    # -- the store itself ------------------------------------------------------------

    @abc.abstractmethod
    def info(self) -> StoreInfo:
        """Backend, schema revision and record counts."""

    @abc.abstractmethod
    def change_counter(self) -> int:
        """A number that grows whenever a record is written, for pollers: if it is the
        same as at the last look, nothing was written since (see Changes above)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. The store must not be used afterwards."""

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
