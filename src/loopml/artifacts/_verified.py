"""Local files already hashed in this process, so a blob read many times is hashed once.

A file's digest is remembered under its (path, device, inode, size, mtime_ns,
ctime_ns). A write to the file moves its mtime and ctime (putting the mtime back with
``utime`` moves the ctime), and replacing it changes the inode, so a file whose stat
is unchanged still holds the bytes that were hashed. Two limits keep that true:

- a stat is remembered only when the file's last change is older than
  :data:`SETTLED_NS` before hashing began: on filesystems whose timestamps are coarse,
  a write in the same tick as the hashing would leave the stat unchanged (git's
  "racily clean" files);
- a file that changed while it was hashed is not remembered.

A change that leaves the stat alone (a disk that rots, a write through a raw device)
is not seen until the next process: ``loopml verify`` hashes everything.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "blob"
>>> _ = path.write_bytes(b"hello")
>>> file_digest(path)[:16]
'ea8f163db3868292'
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import IO

from loopml.artifacts._digest import CHUNK, hasher

# Longer than the coarsest timestamp tick of a common filesystem (FAT: 2 s).
SETTLED_NS = 2_000_000_000

_Key = tuple[str, int, int, int, int, int]
_known: dict[_Key, str] = {}
_lock = threading.Lock()


def _key(path: Path | str, stat: os.stat_result) -> _Key:
    return (
        os.fspath(path),
        stat.st_dev,
        stat.st_ino,
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ctime_ns,
    )


def known_digest(path: Path | str, stat: os.stat_result) -> str | None:
    """The digest ``path`` hashed to in this process, if its stat is still ``stat``."""
    with _lock:
        return _known.get(_key(path, stat))


def remember(
    path: Path | str, before: os.stat_result, after: os.stat_result, digest: str, started_ns: int
) -> None:
    """Record that ``path`` hashed to ``digest``: its stat was ``before`` when hashing
    began at ``started_ns`` (``time.time_ns()``) and ``after`` when it ended."""
    if _key(path, before) != _key(path, after):
        return  # changed while it was read
    if max(before.st_mtime_ns, before.st_ctime_ns) > started_ns - SETTLED_NS:
        return  # changed too recently for its timestamps to show the next change
    with _lock:
        _known[_key(path, before)] = digest


def forget(path: Path | str) -> None:
    """Drop what is remembered of ``path`` (it is being removed or replaced)."""
    name = os.fspath(path)
    with _lock:
        for key in [key for key in _known if key[0] == name]:
            del _known[key]


def file_digest(path: Path | str) -> str:
    """The blake3 digest of the file at ``path``, hashed unless this process hashed it
    already and its stat has not changed since. FileNotFoundError when it is missing."""
    with open(path, "rb", buffering=0) as stream:
        before = os.fstat(stream.fileno())
        known = known_digest(path, before)
        if known is not None:
            return known
        started = time.time_ns()
        digest = hash_stream(stream)
        remember(path, before, os.fstat(stream.fileno()), digest, started)
    return digest


def hash_stream(stream: IO[bytes]) -> str:
    """The blake3 digest of everything left in a binary stream, read in large chunks
    into one buffer (blake3 hashes each on several threads)."""
    h = hasher()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while size := stream.readinto(buffer):  # type: ignore[attr-defined]
        h.update(view[:size])
    return str(h.hexdigest())
