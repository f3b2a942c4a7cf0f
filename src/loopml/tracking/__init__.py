"""Tracking: parameters, metrics, tags and artifacts of a run, from a pipeline step or a
plain script.

>>> import loopml, tempfile
>>> with loopml.init(tempfile.mkdtemp()) as ws:
...     with loopml.start_run("fit", workspace=ws, params={"C": 0.5}) as run:
...         for epoch in range(3):
...             loopml.log_metric("loss", 1.0 / (epoch + 1))
...         loopml.log_params(layers=2)
...     ws.store.latest_metrics([run.id])[run.id], run.run.params, run.run.status.value
({'loss': 0.3333333333333333}, {'C': 0.5, 'layers': 2}, 'succeeded')

Metric points are buffered and written by a background thread in batches (at the
latest 0.2 s after they were logged), and everything buffered is written when the
run ends, when the process exits — normally, by an uncaught exception or by SIGTERM —
and on :func:`flush`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loopml.tracking._active import (
    ActiveRun,
    active_run,
    end_run,
    run_for_logging,
    start_run,
)

if TYPE_CHECKING:
    from loopml.store import Artifact

__all__ = [
    "ActiveRun",
    "active_run",
    "end_run",
    "flush",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "set_tags",
    "start_run",
]


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """One metric point of the active run; ``step`` defaults to the key's last step + 1."""
    run_for_logging().log_metric(key, value, step)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Several metrics of the active run at one step."""
    run_for_logging().log_metrics(metrics, step)


def log_params(params: Mapping[str, Any] | None = None, /, **more: Any) -> None:
    """Parameters of the active run; a parameter once set keeps its value."""
    run_for_logging().log_params({**(params or {}), **more})


def log_param(key: str, value: Any) -> None:
    run_for_logging().log_params({key: value})


def set_tags(tags: Mapping[str, Any] | None = None, /, **more: Any) -> None:
    """Tags of the active run (merged; a tag may change)."""
    run_for_logging().set_tags({**(tags or {}), **more})


def log_artifact(value: Any, name: str | None = None) -> Artifact:
    """A file, a folder or an object (``name`` needed) as an output of the active run."""
    return run_for_logging().log_artifact(value, name)


def flush() -> None:
    """Write the active run's buffered metric points, and the deferred runs that have
    ended, now."""
    from loopml.tracking._buffer import flush_runs

    run = active_run()
    if run is not None:
        run.flush()
    flush_runs()
