"""Small blobs of one batch in one pack file, found through its index (as git packs objects).

A local store keeps each large blob in a file of its own, but 10,000 small files stored
one file each cost 10,000 creates and renames, which is most of the time of adding
them. A batch with many small blobs writes them one after another into one pack
instead:

- ``blobs/packs/<name>.pack``: the blobs' bytes, back to back;
- ``blobs/packs/<name>.idx``: ``MAGIC``, the count, then one record per blob sorted by
  digest (32 digest bytes, offset and size as little-endian u64), then the blake3 of
  everything before it.

``name`` is the blake3 of the blobs' digests in the pack's order, so it names the pack's
bytes. The pack is renamed into place and flushed before its index is: an index never
points at bytes a crash could lose, and a pack without its index is not read at all
(its blobs count as missing, so storing them again writes a good pack). An index that
is damaged, or longer than its pack, is not trusted either. Every read of a packed blob
is still checked against its digest, like a loose one.

>>> index = index_bytes({"ab" * 32: (0, 5), "cd" * 32: (5, 7)})
>>> read_index(index)["cd" * 32]
(5, 7)
>>> read_index(index[:-1] + bytes([index[-1] ^ 1])) is None  # damaged: not trusted
True
"""

from __future__ import annotations

import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

from loopml.artifacts._digest import hasher

PACKS = "packs"  # under blobs/
MAGIC = b"loopml-pack-index/1\n"
_RECORD = struct.Struct("<32sQQ")
_COUNT = struct.Struct("<Q")
_TRAILER = 32
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True, slots=True)
class Packed:
    """Where a packed blob's bytes are: ``size`` bytes at ``offset`` of ``pack``."""

    pack: Path
    offset: int
    size: int

    def where(self) -> str:
        return f"{self.pack} (bytes {self.offset} to {self.offset + self.size})"

    def read(self) -> bytes:
        """The blob's bytes as they are on disk (the caller checks them);
        FileNotFoundError when the pack is gone."""
        with open(self.pack, "rb", buffering=0) as stream:
            stream.seek(self.offset)
            return stream.read(self.size) or b""


class PackWriter:
    """Blobs appended to one new pack file (a temporary one); not thread-safe."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self._size = 0
        self._fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o444)
        self._order: list[tuple[str, int, int]] = []
        self._digests: set[str] = set()

    def __contains__(self, digest: str) -> bool:
        return digest in self._digests

    def add(self, digest: str, data: bytes | memoryview) -> None:
        write_all(self._fd, data)
        self._order.append((digest, self._size, len(data)))
        self._digests.add(digest)
        self._size += len(data)

    def finish(self) -> tuple[str, Path, dict[str, tuple[int, int]]]:
        """Close the pack and write its index next to it (neither flushed): the pack's
        name, the index's temporary path, and digest -> (offset, size)."""
        os.close(self._fd)
        self._fd = -1
        names = hasher()
        names.update(b"".join(bytes.fromhex(digest) for digest, _, _ in self._order))
        name = str(names.hexdigest())
        entries = {digest: (offset, size) for digest, offset, size in self._order}
        index = self.tmp.with_suffix(".idx")
        fd = os.open(index, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o444)
        try:
            write_all(fd, index_bytes(entries))
        finally:
            os.close(fd)
        return name, index, entries

    def abort(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.tmp.unlink(missing_ok=True)
        self.tmp.with_suffix(".idx").unlink(missing_ok=True)


def index_bytes(entries: dict[str, tuple[int, int]]) -> bytes:
    body = b"".join(
        _RECORD.pack(bytes.fromhex(digest), offset, size)
        for digest, (offset, size) in sorted(entries.items())
    )
    head = MAGIC + _COUNT.pack(len(entries)) + body
    trailer = hasher()
    trailer.update(head)
    return head + bytes(trailer.digest())


def read_index(data: bytes) -> dict[str, tuple[int, int]] | None:
    """digest -> (offset, size) from an index's bytes; None when they are damaged."""
    start = len(MAGIC) + _COUNT.size
    if len(data) < start + _TRAILER or not data.startswith(MAGIC):
        return None
    (count,) = _COUNT.unpack_from(data, len(MAGIC))
    if len(data) != start + count * _RECORD.size + _TRAILER:
        return None
    check = hasher()
    check.update(memoryview(data)[:-_TRAILER])
    if check.digest() != data[-_TRAILER:]:
        return None
    body = memoryview(data)[start:-_TRAILER]
    return {raw.hex(): (offset, size) for raw, offset, size in _RECORD.iter_unpack(body)}


class PackTable:
    """Every trusted pack of a store folder, as digest -> :class:`Packed`; read from
    the packs' indexes, again by :meth:`refresh` (another process may have added some)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._found: dict[str, Packed] = {}
        self._packs: dict[str, tuple[_Stat, dict[str, Packed]]] = {}  # by name

    def find(self, digest: str) -> Packed | None:
        return self._found.get(digest)

    def find_fresh(self, digest: str) -> Packed | None:
        """Like :meth:`find`, reading new or changed indexes first when it is not known."""
        found = self._found.get(digest)
        if found is None:
            self.refresh()
            found = self._found.get(digest)
        return found

    def digests(self) -> set[str]:
        self.refresh()
        return set(self._found)

    def refresh(self) -> None:
        """Read the indexes added, changed or removed since the last look."""
        try:
            names = [n[:-4] for n in os.listdir(self.folder) if n.endswith(".idx")]
        except FileNotFoundError:
            names = []
        with self._lock:
            stats = {name: _stat(self.folder / f"{name}.idx") for name in names}
            fresh = {name: stat for name, stat in stats.items() if stat is not None}
            if fresh == {name: known[0] for name, known in self._packs.items()}:
                return
            packs = {}
            for name, stat in fresh.items():
                known = self._packs.get(name)
                packs[name] = known if known and known[0] == stat else (stat, self._load(name))
            self._use(packs)

    def _use(self, packs: dict[str, tuple[_Stat, dict[str, Packed]]]) -> None:
        found: dict[str, Packed] = {}
        for name in sorted(packs):
            found.update(packs[name][1])
        self._packs, self._found = packs, found

    def _load(self, name: str) -> dict[str, Packed]:
        """A pack's blobs, or none when its index or the pack itself cannot be trusted."""
        pack = self.folder / f"{name}.pack"
        try:
            entries = read_index((self.folder / f"{name}.idx").read_bytes())
            pack_size = pack.stat().st_size
        except FileNotFoundError:
            return {}
        if entries is None or any(o + s > pack_size for o, s in entries.values()):
            return {}
        return {digest: Packed(pack, offset, size) for digest, (offset, size) in entries.items()}

    def added(self, name: str, entries: dict[str, tuple[int, int]]) -> None:
        """Record a pack this process just put in place (saves reading its index)."""
        pack = self.folder / f"{name}.pack"
        blobs = {digest: Packed(pack, offset, size) for digest, (offset, size) in entries.items()}
        with self._lock:
            self._packs[name] = (_stat(self.folder / f"{name}.idx"), blobs)
            self._found.update(blobs)

    def drop(self, digest: str) -> None:
        """Take ``digest`` out of its pack's index (its bytes stay, unread), so that its
        bytes can be stored again; the index is replaced atomically."""
        from loopml.artifacts._write import flush_files

        self.refresh()
        with self._lock:
            packed = self._found.get(digest)
            if packed is None:
                return
            name = packed.pack.name.removesuffix(".pack")
            index = self.folder / f"{name}.idx"
            entries = read_index(index.read_bytes()) or {}
            entries.pop(digest, None)
            tmp = self.folder / f"{name}.idx.part"
            tmp.unlink(missing_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o444)
            try:
                write_all(fd, index_bytes(entries))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, index)
            flush_files([self.folder], near=self.folder)
            packs = dict(self._packs)
            packs.pop(name, None)
            self._use(packs)  # the next refresh reads the new index


_Stat = tuple[int, int, int, int] | None


def _stat(path: Path) -> _Stat:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return (found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
