"""The metadata store: the records of the lineage graph, behind one contract.

>>> from loopml.store import RunStatus
>>> RunStatus.SUCCEEDED.finished
True
"""

# The built-in backends register their URL schemes (their modules load on first use),
# SQL's first: the order errors list them in, the default first.
from loopml.store import _sql  # noqa: F401

# isort: split
from loopml.store import _memory  # noqa: F401
from loopml.store._base import MetadataStore
from loopml.store._factory import open_store, register_backend
from loopml.store._records import (
    Alert,
    Alias,
    AliasEvent,
    ArmStats,
    Artifact,
    Deployment,
    DeploymentChange,
    Direction,
    Event,
    Lease,
    Metric,
    MetricPoint,
    NewReviewItem,
    ReviewClaim,
    ReviewItem,
    ReviewLabel,
    ReviewStatus,
    Run,
    RunStatus,
    Schedule,
    Severity,
    StoreInfo,
)

__all__ = [
    "Alert",
    "Alias",
    "AliasEvent",
    "ArmStats",
    "Artifact",
    "Deployment",
    "DeploymentChange",
    "Direction",
    "Event",
    "Lease",
    "MetadataStore",
    "Metric",
    "MetricPoint",
    "NewReviewItem",
    "ReviewClaim",
    "ReviewItem",
    "ReviewLabel",
    "ReviewStatus",
    "Run",
    "RunStatus",
    "Schedule",
    "Severity",
    "StoreInfo",
    "open_store",
    "register_backend",
]
