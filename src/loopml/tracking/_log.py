"""The logging calls of the active run, for a pipeline step or a plain script."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loopml.tracking._active import active_run, run_for_logging

if TYPE_CHECKING:
    from loopml.store import Artifact


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
