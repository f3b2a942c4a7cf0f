"""Stopping cleanly: SIGTERM as an exception while runs are open, and worker processes
that end with the process that started them.

By default SIGTERM (what ``kill``, systemd and container runtimes send) ends a Python
process on the spot, and the runs it had open stay ``running``. Inside
:func:`sigterm_raises` it raises :class:`Terminated` in the main thread instead: a
:class:`KeyboardInterrupt`, so the code that records a run as killed on Ctrl-C records
it on SIGTERM too, on the way out, with the reason.

A worker process of :func:`worker_pool` ends with its parent, however the parent ends
(even by SIGKILL, which nothing can catch): on Linux the kernel sends it SIGTERM when
the parent dies (``PR_SET_PDEATHSIG``); everywhere, a thread of the worker watches a
pipe from the parent, which gives it a stop byte when the parent stops its workers
(on SIGTERM or Ctrl-C) and end-of-file when the parent is gone. Either way the worker's
SIGTERM ends the task it runs as killed (:class:`Terminated` in the task, see
:func:`working`), then the worker exits; an idle worker exits at once.

>>> stop = Terminated()
>>> isinstance(stop, KeyboardInterrupt), str(stop), stop.exit_code
(True, 'terminated by SIGTERM', 143)
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.connection import Connection
    from multiprocessing.context import BaseContext

EXIT_CODE = 128 + signal.SIGTERM  # what a shell reports for a process ended by SIGTERM
GRACE_S = 30.0  # how long a worker told to stop may take to record its task's end
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
STOP = b"s"  # what a parent writes to its workers' pipe to stop them


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: the process is asked to stop. ``exit_code`` is 128 + 15."""

    exit_code = EXIT_CODE

    def __init__(self, reason: str = "terminated by SIGTERM") -> None:
        super().__init__(reason)


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """For the block, SIGTERM raises :class:`Terminated` in the main thread; a second
    SIGTERM while the first is being handled is ignored, so the clean-up it started
    is not cut short. Outside the main thread, or where the program has its own SIGTERM
    handler (or ignores SIGTERM), nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if not _replaceable(previous):
        yield
        return
    raised = False

    def on_sigterm(signum: int, frame: Any) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Terminated()

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _replaceable(handler: Any) -> bool:
    """SIGTERM's default action, or a handler of loopml's own (tracking's, which ends the
    open runs and then the process: raising lets the callers record more)."""
    if handler in (signal.SIG_DFL, None):
        return True
    return str(getattr(handler, "__module__", "")).startswith("loopml.")


# -- worker processes -------------------------------------------------------------------


@contextlib.contextmanager
def worker_pool(workers: int, context: BaseContext) -> Iterator[ProcessPoolExecutor]:
    """A process pool whose workers end with this process, however it ends (see above).
    Leaving the block by Ctrl-C or SIGTERM stops the workers still busy — their tasks
    record their end as killed — rather than waiting for their tasks to finish."""
    from concurrent.futures import ProcessPoolExecutor

    # The workers watch this pipe: closing it, or this process dying, ends them.
    watched, stop = context.Pipe(duplex=False)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=worker_initializer,
        initargs=(watched, os.getpid()),
    )
    try:
        yield pool
    except KeyboardInterrupt:
        with contextlib.suppress(OSError):  # a byte for each worker: stop (not: I died)
            os.write(stop.fileno(), STOP * workers)
        stop.close()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        stop.close()
        watched.close()


class _Worker:
    """What the SIGTERM handler of a worker process needs to know."""

    parent_pid = 0
    in_task = False
    asked = False  # the parent wrote its stop byte: it stops its workers
    stopping = False
    parent_gone = False
    reason = "terminated by SIGTERM"


def worker_initializer(stop: Connection, parent_pid: int) -> None:
    """The initializer of a worker process (``ProcessPoolExecutor(initializer=...)``):
    the worker stops when ``stop`` gives it the parent's stop byte, or end-of-file (the
    parent died), or, on Linux, when the kernel reports its parent dead."""
    _Worker.parent_pid = parent_pid
    signal.signal(signal.SIGTERM, _on_sigterm_in_worker)
    _set_parent_death_signal()
    threading.Thread(
        target=_watch_parent, args=(stop, parent_pid), name="loopml-parent-watch", daemon=True
    ).start()
    if os.getppid() != parent_pid:  # the parent died before the watch began
        os.kill(os.getpid(), signal.SIGTERM)


@contextlib.contextmanager
def working() -> Iterator[None]:
    """In a worker: a task runs in the block, so SIGTERM raises :class:`Terminated` in it
    for the task to record its end (the caller then calls :func:`exit_worker`). A
    worker asked to stop as its task ended exits after the block."""
    _Worker.in_task = True
    try:
        yield
    finally:
        _Worker.in_task = False
    if _Worker.stopping:
        exit_worker()


def parent_gone() -> str | None:
    """In a worker stopped because its parent ended: why, for the records it leaves."""
    return _Worker.reason if _Worker.parent_gone else None


def exit_worker() -> NoReturn:
    """End this worker process now, as SIGTERM would (its task's end is recorded)."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(EXIT_CODE)


def _on_sigterm_in_worker(signum: int, frame: Any) -> None:
    if _Worker.stopping:  # the first one is being handled: let it finish
        return
    _Worker.stopping = True
    _settle_why()
    if not _Worker.in_task:
        exit_worker()
    raise Terminated(_Worker.reason)


def _settle_why(wait_s: float = 2.0) -> None:
    """Why this worker is told to stop, for its records. The kernel sends the parent-
    death signal as each thread of a dying parent ends, while another thread may still
    stand in as the parent; the pipe's end-of-file, or a new parent, tells within
    moments. A SIGTERM with neither (sent by someone else) is just that."""
    deadline = time.monotonic() + wait_s
    while not (_Worker.parent_gone or _Worker.asked) and time.monotonic() < deadline:
        if os.getppid() != _Worker.parent_pid:
            _Worker.parent_gone = True
            break
        time.sleep(0.01)
    if _Worker.parent_gone:
        _Worker.reason = f"its pipeline's process ({_Worker.parent_pid}) ended"
    elif _Worker.asked:
        _Worker.reason = "the pipeline was stopped"


def _watch_parent(stop: Connection, parent_pid: int) -> None:
    try:  # one byte, read whole by one worker: the pipe is shared by all of them
        word = os.read(stop.fileno(), 1)
    except OSError:
        word = b""
    if word == STOP:
        _Worker.asked = True
    else:  # end-of-file: no parent is left to write
        _Worker.parent_gone = True
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_S)  # the task records its end meanwhile; past that, it is cut short
    os._exit(EXIT_CODE)


def _set_parent_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the watch of the pipe still ends it
        return
