"""Capture what a step prints, at the file-descriptor level, while still showing it.

File descriptors 1 and 2 are pointed at one pipe for the step's duration, so output
from C extensions and child processes is caught too, in the order it was written. A
thread copies everything to the real stdout as it arrives and keeps it for the log.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import sys
import threading
from collections.abc import Callable, Iterator

CHUNK = 65536
JOIN_TIMEOUT_S = 5.0


class Captured:
    """The bytes written while capturing; complete once the ``with`` block has left."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    @property
    def text(self) -> bytes:
        return b"".join(self.chunks)


@contextlib.contextmanager
def captured_output(echo: bool = True) -> Iterator[Captured]:
    captured = Captured()
    _flush()
    shown_on = sys.stdout
    saved_out, saved_err = os.dup(1), os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)
    # Where sys.stdout is not file descriptor 1 (pytest, notebooks), print() would miss
    # the pipe: point the Python streams at it too, and echo to what stdout was.
    streams = sys.stdout, sys.stderr
    sys.stdout = io.TextIOWrapper(os.fdopen(os.dup(1), "wb"), line_buffering=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(2), "wb"), line_buffering=True)
    show = _echo(shown_on, saved_out) if echo else None

    def pump() -> None:
        while True:
            try:
                data = os.read(read_end, CHUNK)
            except OSError:
                return
            if not data:
                return
            captured.chunks.append(data)
            if show is not None:
                with contextlib.suppress(Exception):
                    show(data)

    thread = threading.Thread(target=pump, name="loopml-capture", daemon=True)
    thread.start()
    try:
        yield captured
    finally:
        _flush()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.close()
        sys.stdout, sys.stderr = streams
        os.dup2(saved_out, 1)  # the pipe's last writers go away: the pump sees EOF
        os.dup2(saved_err, 2)
        # A child process the step left running may hold the pipe open: stop waiting.
        thread.join(timeout=JOIN_TIMEOUT_S)
        if not thread.is_alive():
            os.close(read_end)
        os.close(saved_out)
        os.close(saved_err)


def _echo(stream: object, saved_out: int) -> Callable[[bytes], None]:
    """Writes captured bytes where stdout went before: the saved descriptor when
    sys.stdout was descriptor 1, else that stream object (decoded as it arrives)."""
    try:
        on_fd_1 = stream.fileno() == 1  # type: ignore[attr-defined]
    except Exception:
        on_fd_1 = False
    if on_fd_1:

        def write_fd(data: bytes) -> None:
            os.write(saved_out, data)

        return write_fd
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def write(data: bytes) -> None:
        stream.write(decoder.decode(data))  # type: ignore[attr-defined]
        stream.flush()  # type: ignore[attr-defined]

    return write


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
