"""Which files were opened: the kernel's word (Linux inotify), not the code's.

``FileOpens(folder)`` watches every folder under ``folder`` for IN_OPEN, which the
kernel reports for any open of a file there (a read, an mmap, a copy), and never
changes the files or their stat. A test uses it to prove a file was not read again.
Closes are watched too: the kernel merges an event into an identical one just before
it, so without the closes between them, two opens in a row would count as one.
"""

from __future__ import annotations

import ctypes
import os
import select
import struct
import sys
import threading
from pathlib import Path

import pytest

IN_OPEN = 0x20
IN_CLOSE = 0x08 | 0x10  # after writing, after reading
IN_ISDIR = 0x40000000
IN_Q_OVERFLOW = 0x4000
_EVENT = struct.Struct("iIII")


class FileOpens:
    """``with FileOpens(root) as opens: ...`` then ``opens.paths()``: every file under
    ``root`` opened in the block (folders made later are not watched)."""

    def __init__(self, root: Path) -> None:
        if not sys.platform.startswith("linux"):
            pytest.skip("counting opens needs Linux inotify")
        self.root = root
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = -1
        self._folders: dict[int, Path] = {}
        self._seen: list[Path] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None

    def __enter__(self) -> FileOpens:
        self._fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            pytest.skip(f"inotify is not available: {os.strerror(ctypes.get_errno())}")
        folders = [self.root, *(p for p in self.root.rglob("*") if p.is_dir())]
        for folder in folders:
            watch = self._libc.inotify_add_watch(self._fd, os.fsencode(folder), IN_OPEN | IN_CLOSE)
            if watch < 0:
                pytest.skip(f"inotify cannot watch {folder}: {os.strerror(ctypes.get_errno())}")
            self._folders[watch] = folder
        # Read as events come: the kernel's queue holds 16,384 of them at most.
        self._reader = threading.Thread(target=self._follow, daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.join()
        self._drain()
        os.close(self._fd)
        self._fd = -1

    def _follow(self) -> None:
        while not self._stop.is_set():
            select.select([self._fd], [], [], 0.05)
            self._drain()

    def _drain(self) -> None:
        with self._lock:
            self._drain_unlocked()

    def _drain_unlocked(self) -> None:
        while self._fd >= 0:
            try:
                data = os.read(self._fd, 1 << 20)
            except BlockingIOError:
                return
            offset = 0
            while offset < len(data):
                watch, mask, _, length = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
                offset += _EVENT.size + length
                assert not mask & IN_Q_OVERFLOW, "inotify dropped events: watch fewer files"
                if mask & IN_OPEN and not mask & IN_ISDIR and name:
                    self._seen.append(self._folders[watch] / os.fsdecode(name))

    def paths(self) -> list[Path]:
        """The files opened so far, in order, each as often as it was opened."""
        self._drain()
        return list(self._seen)

    def files(self) -> set[Path]:
        """The files opened so far, once each."""
        return set(self.paths())
