"""Metric points held in memory and written in batches by a background thread, so that
a training loop logging every step waits for a list append, not for the database.

A point is checked when it is logged, by the store's own checks, so a value the store
cannot hold is refused at the call. Should the store still refuse a point of a batch,
the batch is split until the refused points are alone: the others are written, and the
refused ones are named in :attr:`MetricBuffer.rejected` (the run's end records them in
its error) — one bad value never holds back the rest, or the run's end.
"""

from __future__ import annotations

import dataclasses
import threading
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from loopml._ids import short_id
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.store import MetricPoint
from loopml.store.values import check_metric_key, metric_step, metric_value

if TYPE_CHECKING:
    from loopml.store import MetadataStore, Run

INTERVAL_S = 0.2  # the longest a point waits before it is written
BATCH = 5_000  # a batch this large is written at once, without waiting for the interval


class MetricBuffer:
    """One run's unwritten metric points. :meth:`close` writes what is left; a write
    that fails keeps its points for the next one and is raised by :meth:`flush`."""

    def __init__(self, store: MetadataStore, run_id: str, *, held: bool = False) -> None:
        self._store = store
        self._run_id = run_id
        self._points: list[MetricPoint] = []
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # one write at a time keeps the points in order
        self._closed = False
        # Held: the run is not in the store yet, so nothing is written until release().
        self._registered = held
        self.error: BaseException | None = None
        self.rejected: list[str] = []  # points the store refused, and why

    def release(self) -> None:
        """The run is in the store now: write in the background from here on."""
        _WRITER.register(self)

    def add(self, key: str, value: float, step: int) -> None:
        key = check_metric_key(key)
        point = MetricPoint(
            key, metric_value(key, value), metric_step(key, step), datetime.now(UTC)
        )
        with self._lock:
            if self._closed:
                raise InvalidInput(
                    f"metric {key!r}: run {short_id(self._run_id)} has ended; start a new run "
                    "to log more"
                )
            self._points.append(point)
            full = len(self._points) >= BATCH
            register = not self._registered
            self._registered = True
        if register:
            _WRITER.register(self)
        if full:
            _WRITER.wake()

    def flush(self) -> None:
        """Write every point added so far (in this thread)."""
        with self._writing:
            with self._lock:
                points, self._points = self._points, []
            chunks = _apart(points)
            while chunks:
                chunk = chunks[0]
                try:
                    self._store.log_metrics(self._run_id, chunk)
                except InvalidInput as error:  # split until the refused points are alone
                    if len(chunk) == 1:
                        self._reject(chunk[0], error)
                        chunks.pop(0)
                    else:
                        middle = len(chunk) // 2
                        chunks[:1] = [chunk[:middle], chunk[middle:]]
                    continue
                except BaseException:
                    with self._lock:  # kept, in order, for the next try
                        self._points[:0] = [point for left in chunks for point in left]
                    raise
                chunks.pop(0)

    def _reject(self, point: MetricPoint, error: InvalidInput) -> None:
        self.rejected.append(f"{point.key} at step {point.step}: {error}")
        warnings.warn(
            f"run {short_id(self._run_id)}: metric point not stored: {self.rejected[-1]}",
            RuntimeWarning,
            stacklevel=1,
        )

    def write_apart(self, points: list[MetricPoint]) -> None:
        """Write ``points`` (handed back by :meth:`close`) in this thread, without the
        run's end: those the store refuses are kept out, and named in :attr:`rejected`."""
        with self._lock:
            self._points[:0] = points
        self.flush()

    def close(self) -> list[MetricPoint]:
        """Refuse later points, and hand back the ones not yet written, for the caller to
        write with the run's end (one transaction instead of two)."""
        with self._lock:
            self._closed = True
        _WRITER.unregister(self)
        with self._writing, self._lock:
            points, self._points = self._points, []
        return points


class _Writer:
    """The one background thread of a process that writes every open run's points."""

    def __init__(self) -> None:
        self._buffers: set[MetricBuffer] = set()
        self._runs: list[tuple[MetadataStore, Run, list[MetricPoint]]] = []
        self._lock = threading.Lock()
        self._writing_runs = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.run_error: BaseException | None = None

    def register(self, buffer: MetricBuffer) -> None:
        with self._lock:
            self._buffers.add(buffer)
            self._start()

    def add_run(self, store: MetadataStore, run: Run, points: list[MetricPoint]) -> None:
        """A finished run to record (with its points) in the background, batched."""
        with self._lock:
            self._runs.append((store, run, points))
            self._start()

    def flush_runs(self) -> None:
        """Record every finished run handed over so far (in this thread)."""
        with self._writing_runs:
            with self._lock:
                queued, self._runs = self._runs, []
            by_store: dict[int, list[tuple[MetadataStore, Run, list[MetricPoint]]]] = {}
            for entry in queued:
                by_store.setdefault(id(entry[0]), []).append(entry)
            for index, batch in enumerate(by_store.values()):
                try:
                    _record(batch[0][0], [(run, points) for _, run, points in batch])
                except BaseException:
                    with self._lock:  # kept, in order, for the next try
                        rest = [e for b in list(by_store.values())[index:] for e in b]
                        self._runs[:0] = rest
                    raise

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            # A thread per process, not per run: starting and joining one per run cost
            # more than the run's own writes.
            self._thread = threading.Thread(target=self._loop, name="loopml-writer", daemon=True)
            self._thread.start()

    def unregister(self, buffer: MetricBuffer) -> None:
        with self._lock:
            self._buffers.discard(buffer)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait(INTERVAL_S)
            self._wake.clear()
            with self._lock:
                buffers = list(self._buffers)
            for buffer in buffers:
                try:
                    buffer.flush()
                    buffer.error = None
                except Exception as error:  # kept, retried at the next interval or close
                    buffer.error = error
            try:
                self.flush_runs()
                self.run_error = None
            except Exception as error:  # kept, retried; flush_runs() at exit raises it
                self.run_error = error


_WRITER = _Writer()


def add_finished_run(store: MetadataStore, run: Run, points: list[MetricPoint]) -> None:
    _WRITER.add_run(store, run, points)


def flush_runs() -> None:
    """Record the finished runs waiting for the background writer, now."""
    _WRITER.flush_runs()


def _apart(points: list[MetricPoint]) -> list[list[MetricPoint]]:
    return [points[start : start + BATCH] for start in range(0, len(points), BATCH)]


def _record(store: MetadataStore, runs: Sequence[tuple[Run, list[MetricPoint]]]) -> None:
    """Record finished runs, all in one transaction when the store takes them all.

    When the store refuses the batch (a refusal of the input; a database failure is
    raised, for the next try), each run is recorded alone, parents first; a run is
    recorded without the metric points the store's checks refuse, which its error then
    names; a run the store refuses even so is left out with a warning rather than
    retried for ever, holding back the others."""
    try:
        store.record_runs(runs)
        return
    except _REFUSALS as error:
        if len(runs) > 1:
            for entry in _parents_first(runs):
                _record(store, [entry])
            return
        refused = error
    run, points = runs[0]
    kept: list[MetricPoint] = []
    notes: list[str] = []
    for point in points:
        try:
            _check_point(point)
            kept.append(point)
        except InvalidInput as why:
            notes.append(f"{point.key} at step {point.step}: {why}")
    if not notes:
        warnings.warn(
            f"run {short_id(run.id)} ({run.name}) could not be recorded: {refused}",
            RuntimeWarning,
            stacklevel=1,
        )
        return
    error_text = with_rejected(run.error, notes)
    warnings.warn(
        f"run {short_id(run.id)}: metric point not stored: {notes[0]}", RuntimeWarning, stacklevel=1
    )
    _record(store, [(dataclasses.replace(run, error=error_text), kept)])


_REFUSALS = (InvalidInput, AlreadyExists, NotFound)


def _parents_first(
    runs: Sequence[tuple[Run, list[MetricPoint]]],
) -> list[tuple[Run, list[MetricPoint]]]:
    """``runs`` ordered so that a run comes after its parent when both are there."""
    waiting = list(runs)
    ordered: list[tuple[Run, list[MetricPoint]]] = []
    while waiting:
        pending = {run.id for run, _ in waiting}
        ready = [entry for entry in waiting if entry[0].parent_id not in pending]
        ready = ready or waiting[:1]  # a cycle cannot be recorded anyway: go on
        ordered.extend(ready)
        waiting = [entry for entry in waiting if entry not in ready]
    return ordered


def _check_point(point: MetricPoint) -> None:
    key = check_metric_key(point.key)
    metric_value(key, point.value)
    metric_step(key, point.step)


def with_rejected(error: str | None, rejected: list[str]) -> str | None:
    """A run's error text, with the metric points the store refused named after it."""
    if not rejected:
        return error
    note = f"{len(rejected)} metric point(s) could not be stored: " + "; ".join(rejected[:3])
    if len(rejected) > 3:
        note += f"; and {len(rejected) - 3} more"
    return note if error is None else f"{error}\n{note}"
