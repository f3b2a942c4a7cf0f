"""The metadata store: the records of the lineage graph, behind one contract.

>>> from loopml.store import RunStatus
>>> RunStatus.SUCCEEDED.finished
True
"""

from loopml.store._base import MetadataStore
from loopml.store._factory import open_store
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

__all__ = [
    "Alert",
    "Alias",
    "AliasEvent",
    "Artifact",
    "Direction",
    "Event",
    "MetadataStore",
    "Metric",
    "MetricPoint",
    "Run",
    "RunStatus",
    "Schedule",
    "Severity",
    "StoreInfo",
    "open_store",
]
