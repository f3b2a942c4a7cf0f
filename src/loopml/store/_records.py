"""The records of the lineage graph, as the metadata store returns them.

Records are frozen snapshots: a returned record never changes, even when the row it
was read from does later (a run that finishes is read again to see its new status).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

JSONDict = dict[str, Any]


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    KILLED = "killed"
    CACHED = "cached"
    FAILED_VALIDATION = "failed-validation"
    PRUNED = "pruned"  # a tuning trial stopped early by the pruner

    @property
    def finished(self) -> bool:
        return self is not RunStatus.RUNNING


class Direction(enum.StrEnum):
    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True, slots=True)
class Artifact:
    """An immutable, versioned thing: a dataset version, a model, a report, a file.

    ``version`` counts from 1 per ``(kind, name)``. ``uri`` is None when the bytes live
    in the workspace's artifact store under ``digest``; otherwise it says where they are.
    """

    id: str
    kind: str
    name: str
    version: int
    digest: str
    size: int
    uri: str | None
    metadata: JSONDict
    created_at: datetime

    @property
    def ref(self) -> str:
        """The human reference, ``name@vN``."""
        return f"{self.name}@v{self.version}"


@dataclass(frozen=True, slots=True)
class Run:
    """One execution: a pipeline step, a training, a trial, an evaluation."""

    id: str
    kind: str
    name: str
    status: RunStatus
    params: JSONDict
    parent_id: str | None
    fingerprint: str | None
    code: JSONDict
    environment: JSONDict
    tags: JSONDict
    host: str
    pid: int
    started_at: datetime
    ended_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Event:
    """An edge of the lineage graph: a run read (input) or wrote (output) an artifact."""

    run_id: str
    artifact_id: str
    direction: Direction
    role: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric point. Several points may share a step; ``at`` orders them."""

    run_id: str
    key: str
    value: float
    step: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Alias:
    """A movable name (``champion``, ``latest-good``) for one version of ``(kind, name)``."""

    kind: str
    name: str
    alias: str
    artifact_id: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AliasEvent:
    """One change of an alias, kept for audit: who (``actor``) moved it, when and why.

    ``from_artifact_id`` is None when the alias was first set, ``to_artifact_id`` None
    when it was deleted. ``id`` grows with each event of a store.
    """

    id: int
    kind: str
    name: str
    alias: str
    from_artifact_id: str | None
    to_artifact_id: str | None
    actor: str
    reason: str | None
    created_at: datetime

    @property
    def action(self) -> str:
        """``set``, ``moved`` or ``deleted``."""
        if self.to_artifact_id is None:
            return "deleted"
        return "set" if self.from_artifact_id is None else "moved"


@dataclass(frozen=True, slots=True)
class Deployment:
    """A named endpoint and its routing policy over model versions.

    ``policy`` is a JSON document the store keeps as it is given; what it means is the
    server's business. ``revision`` grows by one with every change of the deployment
    (and keeps growing when a deleted one is made anew); ``actor`` made the latest.
    """

    name: str
    policy: JSONDict
    revision: int
    updated_at: datetime
    actor: str


@dataclass(frozen=True, slots=True)
class DeploymentChange:
    """One change of a deployment, kept for audit: who (``actor``) changed it, when, why,
    and its policy before and after.

    ``revision`` is the deployment's revision after the change. ``previous_policy`` is
    None when the deployment was created, ``policy`` None when it was deleted.
    """

    name: str
    revision: int
    previous_policy: JSONDict | None
    policy: JSONDict | None
    actor: str
    reason: str | None
    created_at: datetime

    @property
    def action(self) -> str:
        """``created``, ``updated`` or ``deleted``."""
        if self.policy is None:
            return "deleted"
        return "created" if self.previous_policy is None else "updated"


@dataclass(frozen=True, slots=True)
class ArmStats:
    """What a deployment's router knows of one of its arms (a model version), summed
    over every server worker: how often it was chosen (``pulls``), how many rewards
    came back for its predictions (``rewards``) and their sum (``reward_sum``).

    A bandit learns from these; each worker adds what it saw to the store's totals and
    reads them back (:meth:`~loopml.store.MetadataStore.add_arm_stats`). Added, they
    sum field by field:

    >>> ArmStats(pulls=3, rewards=2, reward_sum=1.5) + ArmStats(pulls=1)
    ArmStats(pulls=4, rewards=2, reward_sum=1.5)
    >>> ArmStats(rewards=4, reward_sum=1.0).mean_reward
    0.25
    """

    pulls: int = 0
    rewards: int = 0
    reward_sum: float = 0.0

    def __add__(self, other: ArmStats) -> ArmStats:
        return ArmStats(
            pulls=self.pulls + other.pulls,
            rewards=self.rewards + other.rewards,
            reward_sum=self.reward_sum + other.reward_sum,
        )

    @property
    def mean_reward(self) -> float | None:
        """The mean reward, or None before the first reward."""
        return self.reward_sum / self.rewards if self.rewards else None


@dataclass(frozen=True, slots=True)
class Lease:
    """Who may act for ``name`` (one loop controller per workspace), until ``expires_at``.

    A holder takes a lease for a time (``acquire_lease``) and renews it before it runs
    out; a holder that dies stops renewing, and once ``expires_at`` has passed another
    may take it. ``token`` is a fencing token: it grows by one each time the lease is
    taken (by a new holder, or again after it expired or was released), never on a
    renewal, and never goes back, so a record written under the lease can carry the
    token, and one written under an older token is known to be stale. ``acquired_at``
    is when this holder took it, ``renewed_at`` its latest renewal (at first the same).
    Times are the store's clock (see :meth:`~loopml.store.MetadataStore.acquire_lease`).
    """

    name: str
    holder: str
    token: int
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Alert:
    """Something a person should know, with the evidence it was raised on: a failed
    validation, a failed gate, drift in production. ``run_id`` and ``artifact_id`` say
    what it is about, when it is about a run or an artifact."""

    id: str
    kind: str
    severity: Severity
    message: str
    evidence: JSONDict
    run_id: str | None
    artifact_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Schedule:
    """A pipeline run on a cadence: every ``every_seconds`` or at the times of a ``cron``
    expression in ``timezone`` (exactly one of the two).

    ``target`` is the pipeline as it was given (``pipelines.py:churn``);
    ``resolved_target`` the same with the file made absolute when the schedule was
    added, which is what runs. ``params`` are the pipeline parameters it runs with.
    ``next_due_at`` is the next occurrence not yet claimed by a runner; the ``last_*``
    fields say how the latest run went.
    """

    id: str
    name: str
    target: str
    resolved_target: str
    params: JSONDict
    every_seconds: int | None
    cron: str | None
    timezone: str
    enabled: bool
    next_due_at: datetime
    last_run_at: datetime | None
    last_run_id: str | None
    last_status: RunStatus | None
    created_at: datetime

    @property
    def when(self) -> str:
        """The cadence as people read it: ``every 1d`` or ``0 3 * * * Europe/Berlin``."""
        from loopml._cadence import describe

        return describe(self.every_seconds, self.cron, self.timezone)


class ReviewStatus(enum.StrEnum):
    """Where a review item is: ``open`` while it has fewer labels than it wants,
    ``labelled`` once it has them, ``committed`` once it is a row of a dataset version."""

    OPEN = "open"
    LABELLED = "labelled"
    COMMITTED = "committed"


@dataclass(frozen=True, slots=True)
class ReviewLabel:
    """One reviewer's label of a review item, with an optional note on why."""

    reviewer: str
    label: Any
    note: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReviewClaim:
    """A reviewer's hold on a review item, handed out by ``claim_review_item``: nobody
    else is given the item in its place until the claim expires or is labelled."""

    reviewer: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class NewReviewItem:
    """What a caller hands :meth:`MetadataStore.add_review_items`: one predicted row to
    be reviewed (see :class:`ReviewItem` for the fields)."""

    queue: str
    prediction_id: str
    row: int
    deployment: str
    ref: str
    guess: Any
    reasons: tuple[str, ...]
    confidence: float | None = None
    inputs: JSONDict = field(default_factory=dict)
    evidence: JSONDict = field(default_factory=dict)
    dataset: str | None = None
    labels_wanted: int = 1


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One predicted row in a human review queue.

    ``prediction_id`` and ``row`` name the row in the prediction log; ``ref`` the model
    version that answered, ``guess`` its prediction and ``confidence`` how sure it was
    (None when it gave no probabilities). ``reasons`` say why the row was queued
    (``low-confidence``, ``disagreement``, ``drift``, ``audit``) and ``evidence`` holds
    the numbers behind them; ``inputs`` the row's input values. ``dataset`` names the
    dataset whose labelling guidelines apply and which the reviewed rows go to.
    ``labels_wanted`` reviewers are asked for a label; ``labels`` are the labels given,
    in the order first given, and ``claims`` the claims live when the record was read.
    ``committed_to`` is the dataset version the item became a row of.
    """

    id: str
    queue: str
    prediction_id: str
    row: int
    deployment: str
    ref: str
    guess: Any
    confidence: float | None
    reasons: tuple[str, ...]
    inputs: JSONDict
    evidence: JSONDict
    dataset: str | None
    labels_wanted: int
    labels: tuple[ReviewLabel, ...]
    claims: tuple[ReviewClaim, ...]
    committed_to: str | None
    created_at: datetime

    @property
    def status(self) -> ReviewStatus:
        if self.committed_to is not None:
            return ReviewStatus.COMMITTED
        if len(self.labels) >= self.labels_wanted:
            return ReviewStatus.LABELLED
        return ReviewStatus.OPEN


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """What a caller hands to :meth:`MetadataStore.log_metrics`."""

    key: str
    value: float
    step: int = 0
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """What ``loopml info`` shows about a store."""

    url: str
    backend: str
    schema_revision: str
    counts: dict[str, int] = field(default_factory=dict)
