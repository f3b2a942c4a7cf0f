"""Blobs in a local folder: large ones a file each, many small ones of a batch in a pack.

``root/blobs/<2 hex>/<62 hex>`` holds a loose blob, ``root/blobs/packs/`` the packs (see
:mod:`loopml.artifacts._packs`), ``root/tmp/`` what is being written. Reads look for a
blob in the packs and in the loose files, so stores written before packs existed, and
stores holding both, read the same.
"""

from __future__ import annotations

import errno
import io
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from loopml.artifacts._backends import PREFIX, REST, blob_key
from loopml.artifacts._digest import CHUNK, chunks, digest_bytes, hasher
from loopml.artifacts._errors import storage_error
from loopml.artifacts._packs import PACKS, Packed, PackTable, PackWriter
from loopml.artifacts._write import (
    SMALL,
    blob_path,
    copy_in,
    flush_files,
    fsync_path,
    is_stored,
    move_into_place,
    tmp_name,
    write_bytes,
)
from loopml.errors import ConfigError, NotWritable

# A batch with fewer small blobs than this stores them loose: a pack and its index
# would be more files than they save.
PACK_MIN = 32


def not_writable(where: object, error: OSError) -> NotWritable:
    return NotWritable(
        f"cannot write to artifact store folder {where}: {error.strerror or error}; make it "
        "writable, or point LOOPML_ARTIFACTS_URL at a writable folder or bucket"
    )


class LocalBackend:
    """Blobs under ``root/blobs``; each written to ``root/tmp`` first, then renamed."""

    def __init__(self, root: Path) -> None:
        if root.exists() and not root.is_dir():
            raise ConfigError(
                f"artifact store folder {root} is not a folder; point the artifacts URL "
                "(loopml.toml or LOOPML_ARTIFACTS_URL) at a folder"
            )
        self.root = root
        self.location = str(root)
        self.packs = PackTable(root / "blobs" / PACKS)

    def is_there(self) -> bool:
        return self.root.is_dir()

    def prepare(self) -> None:
        for folder in (self.root / "blobs", self.root / "tmp"):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise not_writable(folder, error) from None

    def stored(self, digest: str, size: int) -> bool:
        """Whether the blob is stored, packed or loose (packs as last read)."""
        packed = self.packs.find(digest)
        return (packed is not None and packed.size == size) or is_stored(self.root, digest, size)

    def put_stream(self, stream: IO[bytes]) -> tuple[str, int]:
        tmp_dir = self.root / "tmp"
        try:
            tmp_dir.mkdir(parents=True, exist_ok=True)
            handle, tmp_name_ = tempfile.mkstemp(dir=tmp_dir, suffix=".part")
        except OSError as error:
            raise not_writable(tmp_dir, error) from None
        tmp = Path(tmp_name_)
        try:
            h = hasher()
            size = 0
            with os.fdopen(handle, "wb") as out:
                for block in chunks(stream):
                    h.update(block)
                    out.write(block)
                    size += len(block)
                out.flush()
                os.fsync(out.fileno())
            digest = str(h.hexdigest())
            self.packs.refresh()
            if self.stored(digest, size):
                tmp.unlink()
            else:
                tmp.chmod(0o444)
                fsync_path(move_into_place(self.root, tmp, digest))
            return digest, size
        except OSError as error:
            tmp.unlink(missing_ok=True)
            raise self.translated(error) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def put_file(self, path: Path) -> tuple[str, int]:
        try:
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
            self.packs.refresh()
            written = copy_in(self.root, path, flush=True, stored=self.stored)
            if written.tmp is not None:
                fsync_path(move_into_place(self.root, written.tmp, written.digest))
        except OSError as error:
            raise self.translated(error) from None
        return written.digest, written.size

    def batch(self) -> LocalBatch:
        try:
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise not_writable(self.root / "tmp", error) from None
        self.packs.refresh()
        return LocalBatch(self)

    def translated(self, error: OSError) -> OSError | NotWritable:
        if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC):
            return not_writable(self.root, error)
        return error

    def _packed(self, digest: str) -> Packed | None:
        """The pack holding the blob, when it is packed and not loose."""
        found = self.packs.find(digest)
        if found is not None or (self.root / blob_key(digest)).exists():
            return found
        return self.packs.find_fresh(digest)

    def open(self, digest: str) -> IO[bytes]:
        try:
            packed = self._packed(digest)
            if packed is not None:
                return io.BytesIO(packed.read())
            return (self.root / blob_key(digest)).open("rb", buffering=CHUNK)
        except FileNotFoundError:
            raise
        except OSError as error:
            raise storage_error(self.location, "read", error) from None

    def exists(self, digest: str) -> bool:
        if self.packs.find(digest) is not None or (self.root / blob_key(digest)).is_file():
            return True
        return self.packs.find_fresh(digest) is not None

    def where(self, digest: str) -> str:
        packed = self._packed(digest)
        return str(self.root / blob_key(digest)) if packed is None else packed.where()

    def local_path(self, digest: str) -> Path | None:
        """The blob's own file (None for a packed blob: read it with ``open``)."""
        return self.root / blob_key(digest) if self._packed(digest) is None else None

    def remove(self, digest: str) -> None:
        try:
            (self.root / blob_key(digest)).unlink(missing_ok=True)
            self.packs.drop(digest)
        except OSError as error:
            raise not_writable(self.root, error) from None

    def digests(self) -> Iterator[str]:
        found = self.packs.digests()
        blobs = self.root / "blobs"
        if blobs.is_dir():
            for prefix in blobs.iterdir():
                if prefix.is_dir() and PREFIX.fullmatch(prefix.name):
                    found.update(
                        prefix.name + blob.name
                        for blob in prefix.iterdir()
                        if REST.fullmatch(blob.name)
                    )
        yield from sorted(found)


class LocalBatch:
    """Blobs written now, flushed, renamed and flushed again all at once by ``commit``.
    Large blobs go to temporary files; small ones to one pack once there are
    :data:`PACK_MIN` of them (fewer are written loose at the end). Safe to use from
    several threads."""

    def __init__(self, backend: LocalBackend) -> None:
        self._backend = backend
        self._root = backend.root
        self._lock = threading.Lock()
        self._pending: dict[str, Path] = {}  # loose blobs' temporary files
        self._held: dict[str, bytes] = {}  # small blobs, until there are PACK_MIN
        self._pack: PackWriter | None = None

    def put_file(self, path: Path) -> tuple[str, int]:
        try:
            written = copy_in(
                self._root, path, flush=False, stored=self._backend.stored, keep=self._hold
            )
        except OSError as error:
            raise self._backend.translated(error) from None
        if written.tmp is not None:
            self._keep(written.digest, written.tmp)
        return written.digest, written.size

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        digest = digest_bytes(data)
        if self._backend.stored(digest, len(data)):
            return digest, len(data)
        if len(data) <= SMALL:
            self._hold(digest, data)
            return digest, len(data)
        with self._lock:
            if digest in self._pending:
                return digest, len(data)
        try:
            tmp = write_bytes(self._root, data, digest, flush=False)
        except OSError as error:
            raise self._backend.translated(error) from None
        self._keep(digest, tmp)
        return digest, len(data)

    def _hold(self, digest: str, data: bytes) -> None:
        with self._lock:
            if digest in self._held or digest in self._pending:
                return
            if self._pack is None:
                self._held[digest] = bytes(data)
                if len(self._held) < PACK_MIN:
                    return
                try:
                    self._pack = PackWriter(tmp_name(self._root, "pack"))
                except OSError as error:
                    raise self._backend.translated(error) from None
                held, self._held = self._held, {}
                for known, bytes_ in held.items():
                    self._add(known, bytes_)
            elif digest not in self._pack:
                self._add(digest, data)

    def _add(self, digest: str, data: bytes) -> None:
        assert self._pack is not None
        try:
            self._pack.add(digest, data)
        except OSError as error:
            raise self._backend.translated(error) from None

    def _keep(self, digest: str, tmp: Path) -> None:
        with self._lock:
            if digest not in self._pending:
                self._pending[digest] = tmp
                return
        tmp.unlink(missing_ok=True)  # the same bytes twice in one batch

    def commit(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            held, self._held = self._held, {}
            pack, self._pack = self._pack, None
        try:
            for digest, data in held.items():
                pending[digest] = write_bytes(self._root, data, digest, flush=False)
            finished = pack.finish() if pack is not None else None
            if not pending and finished is None:
                return
            flush_files(
                [*pending.values(), *([pack.tmp, finished[1]] if pack and finished else [])],
                near=self._root / "tmp",
            )
            for folder in {blob_path(self._root, digest).parent for digest in pending}:
                folder.mkdir(parents=True, exist_ok=True)  # once each, not per blob
            folders = {move_into_place(self._root, tmp, d) for d, tmp in pending.items()}
            blobs = self._root / "blobs"
            if pack is not None and finished is not None:
                (blobs / PACKS).mkdir(parents=True, exist_ok=True)
                os.replace(pack.tmp, blobs / PACKS / f"{finished[0]}.pack")
                folders.add(blobs / PACKS)
            flush_files([*sorted(folders), blobs], near=blobs)
            if pack is not None and finished is not None:
                # Only now, with the pack's bytes and name on disk, is its index put in place.
                name, index, entries = finished
                os.replace(index, blobs / PACKS / f"{name}.idx")
                flush_files([blobs / PACKS], near=blobs)
                self._backend.packs.added(name, entries)
        except OSError as error:
            for tmp in pending.values():
                tmp.unlink(missing_ok=True)
            if pack is not None:
                pack.abort()
            raise self._backend.translated(error) from None

    def abort(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            pack, self._pack = self._pack, None
            self._held = {}
        for tmp in pending.values():
            tmp.unlink(missing_ok=True)
        if pack is not None:
            pack.abort()
