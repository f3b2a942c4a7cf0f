"""Adaptive micro-batching: concurrent requests to one version answered by one call.

Each served version has a :class:`Batcher` and one thread of its own that calls the
model. A request that finds the version idle is sent at once, alone: no added latency
when the server is idle. Requests that arrive while a call is running wait in a queue,
and when the call returns the next call takes all of them (up to ``max_rows`` rows; a
larger request goes alone). Batches so grow with the load by themselves, as large as
the arrival rate over one call's time. When recent batches held several requests (the
server is busy), a batch that is not full yet waits up to ``max_wait_us`` for more, an
interval that shrinks to nothing as the load drops.

``max_rows=1`` turns batching off: one call per request, in arrival order.

The thread takes its work from a ``queue.SimpleQueue`` and hands each answer back
through :mod:`loopml.serve._handback`: a fraction of the CPU of ``run_in_executor``'s
futures and locks, which for a one-row request cost more than the model.

Still, the hop costs a quick model more than its call: a version whose calls take less
than :data:`QUICK_SECONDS` (a moving average of their wall time; the first call is
timed on the thread) is called on the event loop instead, by a callback the first
request schedules with ``call_soon``: it runs after the requests the loop's round has
already read, which queue meanwhile, so one call answers them all (at most
:data:`ON_LOOP_ROWS` rows: a larger request goes to the thread). The loop is held up
for under half a millisecond a call; a version that turns slow is moved back to its
thread within a few calls.

A batcher is never shut down: a request may still reach one that a hot swap has just
replaced. Its thread ends when the batcher is dropped (a finalizer sends it the end),
after the last request holding it is answered.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import queue
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.models import Prediction
from loopml.serve._calling import Columns, VersionCall, concatenated, same_columns
from loopml.serve._handback import Channel, channel

if TYPE_CHECKING:
    from collections.abc import Callable

# How quickly the busy-ness estimate follows the load (weight of the newest batch).
_SMOOTHING = 0.2
# A version whose calls take less than this (a moving average of their wall time) is
# called on the event loop, in batches of at most ON_LOOP_ROWS rows.
QUICK_SECONDS = 0.0005
ON_LOOP_ROWS = 64


class QueueFull(Exception):
    """A bounded batcher (a shadow's) had no room for a request; it was dropped."""


@dataclass
class _Waiting:
    columns: Columns
    rows: int
    probabilities: bool
    future: asyncio.Future[Prediction]


class Batcher:
    """The queue and the calling thread of one version; see the module docstring.

    ``on_batch(rows, requests)`` is told the size of every batch (for metrics);
    ``max_queued_rows`` bounds the rows waiting (None: unbounded), past which
    :meth:`submit` raises :class:`QueueFull` at once.
    """

    def __init__(
        self,
        call: VersionCall,
        *,
        max_rows: int = 64,
        max_wait_us: int = 1000,
        max_queued_rows: int | None = None,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        self.call = call
        self.max_rows = max(1, max_rows)
        self.max_wait = max(0, max_wait_us) / 1e6
        self.max_queued_rows = max_queued_rows
        self._on_batch = on_batch
        self._queue: collections.deque[_Waiting] = collections.deque()
        self._queued_rows = 0
        self._running = False
        self._waiting_timer: asyncio.TimerHandle | None = None
        self._busy = 0.0  # a moving average of requests per batch, minus one
        self._call_seconds = math.inf  # a moving average of a call's duration
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        threading.Thread(
            target=_calling_thread, args=(self._work,), name="loopml-predict", daemon=True
        ).start()
        weakref.finalize(self, self._work.put, None)

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    async def submit(self, columns: Columns, rows: int, *, probabilities: bool) -> Prediction:
        """The model's answer for one request's checked ``columns`` of ``rows`` rows."""
        if self.max_queued_rows is not None and self._queued_rows + rows > self.max_queued_rows:
            raise QueueFull
        loop = asyncio.get_running_loop()
        waiting = _Waiting(columns, rows, probabilities, loop.create_future())
        self._queue.append(waiting)
        self._queued_rows += rows
        if not self._running:
            self._next(loop)
        elif self._waiting_timer is not None and self._queued_rows >= self.max_rows:
            self._waiting_timer.cancel()
            self._waiting_timer = None
            self._send(loop)
        return await waiting.future

    # -- on the event loop -----------------------------------------------------------------

    def _next(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._queue:
            self._running = False
            return
        self._running = True
        if self._call_seconds < QUICK_SECONDS and self._queue[0].rows <= ON_LOOP_ROWS:
            loop.call_soon(self._call_here, loop)
            return
        wait = self.max_wait * min(1.0, self._busy)
        if wait > 0 and self._queued_rows < self.max_rows:
            self._waiting_timer = loop.call_later(wait, self._send, loop)
        else:
            self._send(loop)

    def _send(self, loop: asyncio.AbstractEventLoop) -> None:
        self._waiting_timer = None
        batch = self._take()
        columns, probabilities = self._batch_columns(batch)
        self._work.put(
            _Work(self.call, columns, probabilities, loop, channel(loop), self._answer, batch)
        )

    def _call_here(self, loop: asyncio.AbstractEventLoop) -> None:
        """The next batch called on the loop: the requests that reached this version in
        the loop's round so far (scheduled by the first, this runs after the others)."""
        batch = self._take(min(self.max_rows, ON_LOOP_ROWS))
        try:
            columns, probabilities = self._batch_columns(batch)
        except Exception as error:  # not the model's: its requests hear of it all the same
            self._answer(loop, batch, None, error, None, None)
            return
        self._answer(loop, batch, *_calls(self.call, columns, probabilities, batch))

    def _timed(self, seconds: float) -> None:
        """A call's duration into the moving average (the first taken as it is)."""
        if math.isinf(self._call_seconds):
            self._call_seconds = seconds
        else:
            self._call_seconds += _SMOOTHING * (seconds - self._call_seconds)

    def _batch_columns(self, batch: list[_Waiting]) -> tuple[Columns, bool]:
        rows = sum(each.rows for each in batch)
        self._busy += _SMOOTHING * ((len(batch) - 1) - self._busy)
        if self._on_batch is not None:
            self._on_batch(rows, len(batch))
        probabilities = any(each.probabilities for each in batch)
        return concatenated([each.columns for each in batch]), probabilities

    def _take(self, most: int | None = None) -> list[_Waiting]:
        """The next batch: the first request, then those that fit after it in ``most``
        rows (``max_rows`` by default)."""
        most = self.max_rows if most is None else most
        first = self._queue.popleft()
        batch, rows, skipped = [first], first.rows, []
        while self._queue and rows < most:
            candidate = self._queue[0]
            if rows + candidate.rows > most:
                break
            self._queue.popleft()
            if same_columns(first.columns, candidate.columns):
                batch.append(candidate)
                rows += candidate.rows
            else:
                skipped.append(candidate)
        self._queue.extendleft(reversed(skipped))
        self._queued_rows -= rows
        return batch

    def _answer(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[_Waiting],
        found: Prediction | None,
        error: BaseException | None,
        alone: list[_Outcome] | None,
        seconds: float | None,
    ) -> None:
        if seconds is not None:  # None: the batch never reached the model
            self._timed(seconds)
        if alone is not None:  # the batch failed: each request was called alone
            for each, (own, failed) in zip(batch, alone, strict=True):
                if own is not None:
                    _share(own, [each])
                elif not each.future.done():
                    each.future.set_exception(failed or RuntimeError("the model gave no answer"))
        elif found is None:
            for each in batch:
                if not each.future.done():
                    each.future.set_exception(error or RuntimeError("the model gave no answer"))
        else:
            _share(found, batch)
        self._next(loop)


@dataclass(slots=True)
class _Work:
    """One call for the calling thread, and where its answer goes."""

    call: VersionCall
    columns: Columns
    probabilities: bool
    loop: asyncio.AbstractEventLoop
    channel: Channel  # the loop's, made on the loop
    answer: Callable[..., None]
    batch: list[_Waiting]


_Outcome = tuple[Prediction | None, BaseException | None]


def _calling_thread(work: queue.SimpleQueue[_Work | None]) -> None:
    """Call the model for each piece of work until the end (None) is sent. A batch of
    several requests that fails is called again request by request: one request's rows
    (a missing value the model refuses) must not fail the others batched with it."""
    while (item := work.get()) is not None:
        outcome = _calls(item.call, item.columns, item.probabilities, item.batch)
        # a closed loop: nobody waits for the answer any more
        with contextlib.suppress(RuntimeError):
            item.channel.put(item.answer, (item.loop, item.batch, *outcome))
        del item, outcome


def _calls(
    call: VersionCall, columns: Columns, probabilities: bool, batch: list[_Waiting]
) -> tuple[Prediction | None, BaseException | None, list[_Outcome] | None, float]:
    """The batch's answer, or its error and, when it held several requests, each
    request's own; and the seconds the first call took."""
    started = time.perf_counter()
    found, error = _called(call, columns, probabilities)
    seconds = time.perf_counter() - started
    alone = None
    if error is not None and len(batch) > 1 and isinstance(error, Exception):
        alone = [_called(call, each.columns, each.probabilities) for each in batch]
    return found, error, alone, seconds


def _called(call: VersionCall, columns: Columns, probabilities: bool) -> _Outcome:
    try:
        return call.run(columns, probabilities=probabilities), None
    except BaseException as raised:  # every failure goes back to its requests
        return None, raised


def _share(found: Prediction, batch: list[_Waiting]) -> None:
    """Each request's rows of the batch's answer."""
    if len(batch) == 1:
        only = batch[0]
        if not only.future.done():
            only.future.set_result(found if only.probabilities else _labels(found))
        return
    start = 0
    for each in batch:
        end = start + each.rows
        if not each.future.done():
            each.future.set_result(_slice(found, start, end, each.probabilities))
        start = end


def _labels(found: Prediction) -> Prediction:
    return found if found.probabilities is None else Prediction(found.predictions)


def _slice(found: Prediction, start: int, end: int, probabilities: bool) -> Prediction:
    labels = found.predictions[start:end]
    if not probabilities or found.probabilities is None:
        return Prediction(labels)
    given: Any = found.probabilities[start:end]
    return Prediction(labels, np.asarray(given), found.classes)
