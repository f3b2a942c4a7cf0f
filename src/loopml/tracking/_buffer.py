"""Metric points held in memory and written in batches by a background thread, so that
a training loop logging every step waits for a list append, not for the database."""

from __future__ import annotations

import operator
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from loopml._ids import short_id
from loopml.errors import InvalidInput
from loopml.store import MetricPoint

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

    def release(self) -> None:
        """The run is in the store now: write in the background from here on."""
        _WRITER.register(self)

    def add(self, key: str, value: float, step: int) -> None:
        point = MetricPoint(key, _number(key, value), _step(key, step), datetime.now(UTC))
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
            if not points:
                return
            try:
                self._store.log_metrics(self._run_id, points)
            except BaseException:
                with self._lock:
                    self._points[:0] = points
                raise

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
                    batch[0][0].record_runs([(run, points) for _, run, points in batch])
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


def _number(key: str, value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"metric {key!r} = {value!r} is not a number; log numbers (accuracy, loss, ...), "
            "and text as a tag or parameter"
        ) from None
    if not isinstance(key, str) or not key or len(key) > 255:
        raise InvalidInput(f"metric key {key!r} must be a string of 1 to 255 characters")
    return number


def _step(key: str, step: Any) -> int:
    if isinstance(step, float) and step.is_integer():
        return int(step)
    try:
        if not isinstance(step, bool):
            return operator.index(step)  # int, and NumPy's integers
    except TypeError:
        pass
    raise InvalidInput(f"metric {key!r}: step {step!r} must be a whole number")
