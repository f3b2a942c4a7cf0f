"""Blobs into a local folder: copied by the kernel where it can, hashed from the copy,
made durable before they get their names, with one flush for a whole batch.

Every blob is written to ``tmp/`` first and renamed into ``blobs/`` only once its bytes
are on disk, so a crash never leaves a partial blob under a digest's name: it leaves
the last good state plus, at most, temporary files. A single put flushes its file,
renames it and flushes the folder. A batch writes all its temporary files without a
flush, flushes them at once (``syncfs`` on Linux, one ``fsync`` per file elsewhere),
renames them, and flushes the names once more before the batch ends, so the records
written after it never point at a blob a crash could lose.

A small file (up to :data:`SMALL`) is read whole, hashed in memory and written only
when its digest is not stored yet (by a batch, often into a pack with the batch's other
small blobs instead: see :mod:`loopml.artifacts._packs`). A larger one is copied into
``tmp/`` by the kernel (a reflink where the filesystem has them, else
``copy_file_range``) and the copy is hashed, on all cores, while it is flushed: the
digest always describes the bytes that were stored, whatever happens to the source
meanwhile.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import errno
import itertools
import os
import secrets
import stat as stat_module
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loopml.artifacts._digest import CHUNK, hasher
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

SMALL = 1024 * 1024  # read whole and hashed in memory; larger files are copied by the kernel
_FICLONE = 0x40049409  # Linux ioctl: share the source's extents (btrfs, XFS, bcachefs...)
_COPY_STEP = 1024 * 1024 * 1024
_HASH_STEP = 16 * 1024 * 1024  # large enough for blake3 to hash on all cores
# copy_file_range or a reflink refused for this pair of files: fall back to read + write.
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}
_NO_KERNEL_COPY |= {getattr(errno, "ENOTSUP", errno.EOPNOTSUPP), errno.ETXTBSY, errno.EPERM}


@dataclass(frozen=True, slots=True)
class Written:
    """A blob's digest and size, and the temporary file holding its bytes (None when the
    blob was stored already, so nothing was written)."""

    digest: str
    size: int
    tmp: Path | None


def blob_path(root: Path, digest: str) -> Path:
    return root / "blobs" / digest[:2] / digest[2:]


def is_stored(root: Path, digest: str, size: int) -> bool:
    """Whether a loose blob of ``size`` bytes is stored under ``digest``."""
    try:
        found = os.stat(f"{root}/blobs/{digest[:2]}/{digest[2:]}")  # no Path: once per file
    except OSError:
        return False
    return stat_module.S_ISREG(found.st_mode) and found.st_size == size


def write_bytes(root: Path, data: bytes | memoryview, digest: str, *, flush: bool) -> Path:
    """``data`` in a new read-only temporary file under ``root/tmp``."""
    tmp = tmp_name(root, digest)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o444)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if flush:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def copy_in(
    root: Path,
    source: Path,
    *,
    flush: bool,
    stored: Callable[[str, int], bool],
    keep: Callable[[str, bytes], None] | None = None,
) -> Written:
    """A file's bytes into ``root/tmp`` (unless ``stored(digest, size)``), hashed. With
    ``keep``, a small file's bytes are handed to it instead of written to a file.

    Raises InvalidInput if ``source`` cannot be read, is not a regular file, or changed
    while it was copied (its size, mtime or ctime moved).
    """
    try:
        fd = os.open(source, os.O_RDONLY | _CLOEXEC)
    except OSError as error:
        raise _unreadable(source, error) from None
    try:
        before = os.fstat(fd)
        if not stat_module.S_ISREG(before.st_mode):
            raise InvalidInput(f"cannot store {source}: it is not a regular file")
        if before.st_size <= SMALL:
            try:
                data = _read_all(fd, before.st_size)
            except OSError as error:
                raise _unreadable(source, error) from None
            _check_unchanged(source, before, os.fstat(fd))
            digest = _digest_small(data)
            if stored(digest, len(data)):
                return Written(digest, len(data), None)
            if keep is not None:
                keep(digest, data)
                return Written(digest, len(data), None)
            return Written(digest, len(data), write_bytes(root, data, digest, flush=flush))
        tmp = tmp_name(root, "large")
        out = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o444)
        try:
            size = _kernel_copy(fd, out)
            _check_unchanged(source, before, os.fstat(fd))
            digest = _hash_while_flushing(tmp, out, flush=flush)
        except BaseException:
            os.close(out)
            tmp.unlink(missing_ok=True)
            raise
        os.close(out)
    finally:
        os.close(fd)
    if stored(digest, size):
        tmp.unlink()
        return Written(digest, size, None)
    return Written(digest, size, tmp)


def move_into_place(root: Path, tmp: Path, digest: str) -> Path:
    """Rename a temporary file to its blob name; returns the blob's folder."""
    final = blob_path(root, digest)
    try:
        os.replace(tmp, final)
    except FileNotFoundError:
        if not tmp.exists():
            raise
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
    return final.parent


def flush_files(paths: Iterable[Path], near: Path) -> None:
    """Make the bytes of ``paths`` (files or folders) durable: one ``syncfs`` of the
    filesystem holding ``near`` on Linux, else an ``fsync`` of each."""
    paths = list(paths)
    if not paths or _syncfs(near):
        return
    for path in paths:
        fsync_path(path)


def fsync_path(path: Path) -> None:
    if os.name == "nt" and path.is_dir():
        return  # Windows cannot open a folder to flush it; NTFS journals the rename
    fd = os.open(path, os.O_RDONLY | _CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the parts ------------------------------------------------------------------------

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_TOKENS: dict[int, str] = {}
_COUNTER = itertools.count()
_LIBC_LOCK = threading.Lock()
_libc: list[ctypes.CDLL | None] = []


def _syncfs(near: Path) -> bool:
    """One ``syncfs(2)`` of the filesystem holding ``near``; False where there is none."""
    if not sys.platform.startswith("linux"):
        return False
    with _LIBC_LOCK:
        if not _libc:
            try:
                _libc.append(ctypes.CDLL(None, use_errno=True))
            except OSError:
                _libc.append(None)
    libc = _libc[0]
    if libc is None or not hasattr(libc, "syncfs"):
        return False
    fd = os.open(near, os.O_RDONLY | _CLOEXEC)
    try:
        if libc.syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(near))
    finally:
        os.close(fd)
    return True


def tmp_name(root: Path, hint: str) -> Path:
    """A name no other writer uses: a random token per process (a forked child draws
    its own), then a counter; the file is made with O_EXCL all the same."""
    pid = os.getpid()
    token = _TOKENS.get(pid) or _TOKENS.setdefault(pid, secrets.token_hex(8))
    return root / "tmp" / f"{hint[:16]}-{token}-{next(_COUNTER)}.part"


def _unreadable(source: Path, error: OSError) -> InvalidInput:
    return InvalidInput(
        f"cannot read {source}: {error.strerror or error}; check that it exists and that "
        "you may read it"
    )


def _read_all(fd: int, expected: int) -> bytes:
    parts = []
    while block := os.read(fd, max(expected + 1, 64 * 1024)):
        parts.append(block)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _digest_small(data: bytes) -> str:
    from blake3 import blake3

    return str(blake3(data).hexdigest())


def _check_unchanged(source: Path, before: os.stat_result, after: os.stat_result) -> None:
    fields = ("st_size", "st_mtime_ns", "st_ctime_ns")
    if any(getattr(before, name) != getattr(after, name) for name in fields):
        raise InvalidInput(
            f"file {source} changed while it was being stored; store it again once "
            "nothing is writing to it"
        )


def _kernel_copy(source: int, target: int) -> int:
    """Copy ``source`` to the empty ``target``: a reflink, else ``copy_file_range``, else
    read + write; returns the bytes copied."""
    if sys.platform.startswith("linux"):
        import fcntl

        with contextlib.suppress(OSError):
            fcntl.ioctl(target, _FICLONE, source)
            return os.fstat(target).st_size
    copied = 0
    if hasattr(os, "copy_file_range"):
        try:
            while step := os.copy_file_range(source, target, _COPY_STEP):
                copied += step
            return copied
        except OSError as error:
            if copied or error.errno not in _NO_KERNEL_COPY:
                raise
    while block := os.read(source, CHUNK):
        view = memoryview(block)
        while view:
            view = view[os.write(target, view) :]
        copied += len(block)
    return copied


def _hash_while_flushing(path: Path, fd: int, *, flush: bool) -> str:
    """The digest of the file at ``path`` (all cores), flushed meanwhile when asked."""
    if not flush:
        return _hash_file(path)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        flushed = pool.submit(os.fsync, fd)
        digest = _hash_file(path)
        flushed.result()
    return digest


def _hash_file(path: Path) -> str:
    """The file's digest, read in steps into one buffer: a mapped file would count in
    the process's resident memory, all of it, while it is hashed."""
    h = hasher()
    buffer = bytearray(_HASH_STEP)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as source:
        while size := source.readinto(buffer):
            h.update(view[:size])
    return str(h.hexdigest())


def parallel(work: Callable[[Path], Written], paths: list[Path], workers: int) -> list[Written]:
    """``work`` over ``paths`` on ``workers`` threads, in order; the first error raises."""
    if workers <= 1 or len(paths) < 2:
        return [work(path) for path in paths]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(work, paths))
