"""The prediction log and the feedback log of the model server: records appended in
memory on the request path, written to Parquet segments by a background thread.

:meth:`PredictionLog.append` takes a lock, appends to a list and returns: it never
waits on the disk or the database, and it never blocks. When ``max_buffered``
records are waiting (the store is down, or slower than the traffic) a new record is
dropped and counted in :attr:`~PredictionLog.dropped` instead. The flusher thread
(:meth:`~PredictionLog.start`) swaps the list for an empty one every
``flush_seconds`` (sooner when half the buffer is full) and writes one segment per
deployment (see :mod:`loopml.serve._segments`). Between writes it turns the records
appended since into Arrow tables every ``ENCODE_SECONDS``: the costliest part of a
write, done a little at a time, so a write is a short pause of the server rather than
a long one (on a busy core a long one shows in the latency of every request behind
it). A write that fails keeps its segment, to be written again as it was;
:attr:`~PredictionLog.error` says why. Fields are not checked on the request path: a
record whose field does not fit its column (an ``arm`` given as text) is left out when
it is written, alone, and counted in :attr:`~PredictionLog.refused`.

What survives what:

- :meth:`~PredictionLog.close` (the server's SIGTERM path, and the exit of a process
  that started the log) stops the flusher and writes what is left: every record
  appended before it is in the log afterwards; records appended after it are dropped
  and counted.
- SIGKILL (or a power cut) loses the records appended since the last write that
  finished: at most those of the last ``flush_seconds`` plus the duration of one
  flush in progress (a record waits at most ``flush_seconds`` for its flush to start,
  and is durable when that flush ends). While writes fail (the store is down) the
  records wait in memory, and a SIGKILL then loses them all. A segment is never
  half-written: its blob is stored durably before its index record is made.

>>> import tempfile, loopml
>>> ws = loopml.init(tempfile.mkdtemp())
>>> log = PredictionLog(ws, worker="w1")
>>> log.append(PredictionRecord("p1", None, 1_700_000_000_000_000, "churn", "churn@v1",
...     0, 1.0, {"x": [1.5]}, {"predictions": [1]}, 250, None))
>>> log.flush(), log.written, log.dropped
(1, 1, 0)
>>> ws.store.find_artifacts(kind="predictions")[0].metadata["rows"]
1
>>> log.close(); ws.close()
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

from loopml.errors import InvalidInput
from loopml.serve._segments import (
    FEEDBACK,
    NO_DEPLOYMENT,
    PREDICTIONS,
    Layout,
    joined_tables,
    records_table,
    write_segment,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from loopml.workspace import Workspace

_logger = logging.getLogger("loopml.serve")
ENCODE_SECONDS = 0.05  # how often the flusher turns new records into Arrow tables


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """One answer of the server (or of a shadow version), as the log keeps it.

    ``time_us`` is unix microseconds (:func:`loopml._time.now_us`); ``ref`` the version
    that answered (``churn@v3``); ``arm`` its index in the deployment's routing policy
    and ``probability`` the chance the policy gave that arm for this request (what
    offline policy evaluation weighs by), both None for a shadow or fallback answer.
    ``inputs`` are the rows as given and ``outputs`` the answer
    (``{"predictions": [...], "probabilities": [...]}``), both JSON-able.
    """

    prediction_id: str
    request_id: str | None
    time_us: int
    deployment: str
    ref: str
    arm: int | None
    probability: float | None
    inputs: Any
    outputs: Any
    latency_us: int
    key: str | None
    fallback: bool = False
    shadow: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """What was learned of a prediction later: a ``reward`` (for a bandit) or the true
    ``label``; ``row`` the row of a prediction of several rows it is about (None: all);
    ``deployment`` the deployment that answered, when the writer knows it (None: the
    prediction was not logged yet when the feedback came; the join finds it later)."""

    prediction_id: str
    time_us: int
    reward: float | None
    label: Any | None
    row: int | None
    deployment: str | None = None

    @property
    def matched(self) -> bool:
        """Whether the writer found the prediction (and so its deployment)."""
        return self.deployment is not None


R = TypeVar("R", PredictionRecord, FeedbackRecord)


class _SegmentLog(Generic[R]):
    """The buffer and the flusher shared by both logs; ``layout`` says which."""

    layout: ClassVar[Layout]

    def __init__(
        self,
        workspace: Workspace,
        *,
        worker: str | None = None,
        flush_seconds: float = 1.0,
        max_buffered: int = 100_000,
    ) -> None:
        if isinstance(flush_seconds, bool) or not isinstance(flush_seconds, int | float):
            flush_seconds = math.nan
        if not (0 < flush_seconds <= 3600):
            raise InvalidInput(
                f"flush_seconds {flush_seconds!r} must be a number of seconds above 0 and "
                "at most 3600 (1.0 by default)",
                field="flush_seconds",
            )
        if isinstance(max_buffered, bool) or not isinstance(max_buffered, int) or max_buffered < 1:
            raise InvalidInput(
                f"max_buffered {max_buffered!r} must be a whole number of records, at least 1 "
                "(100000 by default)",
                field="max_buffered",
            )
        self.workspace = workspace
        self.worker = worker or f"{socket.gethostname()}/{os.getpid()}"
        self.flush_seconds = float(flush_seconds)
        self.max_buffered = max_buffered
        self._buffer: list[R] = []
        # Records taken from the buffer as tables, by deployment, not written yet.
        self._tables: dict[str, list[pa.Table]] = {}
        # Segments whose write failed, by deployment, retried as they are.
        self._pending: list[tuple[str, pa.Table]] = []
        # Records taken from the buffer and not written yet (in tables, being written,
        # or pending): they count against max_buffered with the buffer.
        self._held = 0
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # one write at a time keeps segments in order
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._dropped = 0
        self._written = 0
        self._refused = 0
        self.error: BaseException | None = None  # why the last write failed, until one works

    def __repr__(self) -> str:
        return f"{type(self).__name__}(worker={self.worker!r}, written={self._written})"

    @property
    def dropped(self) -> int:
        """Records not kept: appended while the buffer was full or after :meth:`close`."""
        return self._dropped

    @property
    def written(self) -> int:
        """Records written to segments so far."""
        return self._written

    @property
    def refused(self) -> int:
        """Records left out because a field did not fit its column (an ``arm`` as text)."""
        return self._refused

    @property
    def buffered(self) -> int:
        """Records waiting for the next write."""
        return len(self._buffer) + self._held

    def append(self, record: R) -> None:
        """Keep ``record`` for the next write; never waits on the disk or the database."""
        with self._lock:
            if self._closed or len(self._buffer) + self._held >= self.max_buffered:
                self._dropped += 1
                return
            self._buffer.append(record)
            if len(self._buffer) * 2 == self.max_buffered:  # once, as it crosses
                self._wake.set()  # half full: write now rather than at the interval

    def start(self) -> None:
        """Start the background flusher (a daemon thread); a second call does nothing.
        The process's normal exit closes the log (as :meth:`close`)."""
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(
                target=self._run, name=f"loopml-{self.layout.kind}-log", daemon=True
            )
            self._thread.start()
        atexit.register(self.close)

    def flush(self) -> int:
        """Write what is buffered now, one segment per deployment, in this thread; the
        number of records written. A segment whose write fails is kept as it is, and
        written first by the next flush, and the error is raised: the same bytes again,
        so that a write that did reach the store before failing is read once (readers
        skip a segment indexed twice)."""
        with self._writing:
            self._take()
            with self._lock:
                tables, self._tables = self._tables, {}
                segments, self._pending = self._pending, []
            for name, parts in tables.items():
                segments += [(name, table) for table in joined_tables(parts)]
            written = 0
            for index, (name, table) in enumerate(segments):
                try:
                    write_segment(self.workspace, self.layout, name, table, self.worker)
                except BaseException:
                    with self._lock:
                        self._pending = segments[index:]
                    raise
                written += table.num_rows
                with self._lock:
                    self._held -= table.num_rows
                    self._written += table.num_rows
            return written

    def _encode(self) -> None:
        """Turn the records appended since the last call into tables (the flusher's
        work between writes)."""
        with self._writing:
            self._take()

    def _take(self) -> None:
        """Move the buffer's records into tables, one per deployment; holding
        ``_writing``."""
        with self._lock:
            records, self._buffer = self._buffer, []
            self._held += len(records)
        if not records:
            return
        by_name: dict[str, list[R]] = {}
        for record in records:
            by_name.setdefault(record.deployment or NO_DEPLOYMENT, []).append(record)
        for name, group in by_name.items():
            try:
                table, refused = records_table(group, self.layout)
            except Exception:  # a bug, not the records: counted and said, the log goes on
                _logger.exception("%s log of %r: could not make a table", self.layout.kind, name)
                table, refused = None, group
            if refused:
                self._refuse(name, refused)
            if table is not None:
                with self._lock:
                    self._tables.setdefault(name, []).append(table)

    def _refuse(self, name: str, records: list[R]) -> None:
        with self._lock:
            self._refused += len(records)
            self._held -= len(records)
        _logger.warning(
            "%s log of %r: %d record(s) left out, their fields do not fit the log's "
            "columns (first: %r)",
            self.layout.kind,
            name,
            len(records),
            records[0],
        )

    def _run(self) -> None:
        # The interval runs from the start of one write to the start of the next, so a
        # record waits at most flush_seconds for its write to begin.
        started = time.monotonic()
        while not self._stop.is_set():
            due = started + self.flush_seconds
            while (left := due - time.monotonic()) > 0 and not self._wake.is_set():
                self._wake.wait(min(left, ENCODE_SECONDS))
                self._encode()  # never raises: what cannot be a table is refused
            self._wake.clear()
            if self._stop.is_set():
                return
            started = time.monotonic()
            try:
                self.flush()
            except Exception as error:  # kept and tried again at the next interval
                if self.error is None:
                    _logger.warning("%s log: write failed, will retry: %s", self.layout.kind, error)
                self.error = error
            else:
                self.error = None

    def close(self) -> None:
        """Stop the flusher and write everything appended so far (the SIGTERM path).
        Raises the error of that last write, if it fails; closing again writes what a
        failed close kept."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        self._stop.set()
        self._wake.set()
        if thread is not None:
            thread.join()
            atexit.unregister(self.close)
        self.flush()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PredictionLog(_SegmentLog[PredictionRecord]):
    """The log of a server worker's predictions (kind ``predictions``, one segment per
    deployment and write); see the module's text for what SIGTERM and SIGKILL keep."""

    layout = PREDICTIONS


class FeedbackLog(_SegmentLog[FeedbackRecord]):
    """The log of feedback (kind ``feedback``), named by the deployment when the record
    says it; written as :class:`PredictionLog` writes."""

    layout = FEEDBACK
