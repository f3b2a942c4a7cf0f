"""Where blobs live: a local folder (os calls, atomic rename) or any fsspec filesystem."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from loopml.artifacts._digest import CHUNK, chunks, digest_bytes, hasher
from loopml.artifacts._errors import TranslatingReader, storage_error, translated
from loopml.artifacts._write import (
    blob_path,
    copy_in,
    flush_files,
    fsync_path,
    is_stored,
    move_into_place,
    write_bytes,
)
from loopml.errors import ConfigError, InvalidInput, NotWritable

_PREFIX = re.compile(r"[0-9a-f]{2}")
_REST = re.compile(r"[0-9a-f]{62}")

# Object stores whose single put is atomic: the object appears whole or not at all.
_ATOMIC_PUT = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"}


class Backend(Protocol):
    location: str

    def prepare(self) -> None: ...
    def put_stream(self, stream: IO[bytes]) -> tuple[str, int]: ...
    def put_file(self, path: Path) -> tuple[str, int]: ...
    def open(self, digest: str) -> IO[bytes]: ...
    def exists(self, digest: str) -> bool: ...
    def where(self, digest: str) -> str: ...
    def local_path(self, digest: str) -> Path | None: ...
    def digests(self) -> Iterator[str]: ...
    def remove(self, digest: str) -> None: ...
    def batch(self) -> BackendBatch: ...


class BackendBatch(Protocol):
    """Blobs put now and made visible (and durable) together by ``commit``."""

    def put_file(self, path: Path) -> tuple[str, int]: ...
    def put_bytes(self, data: bytes) -> tuple[str, int]: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


def blob_key(digest: str) -> str:
    return f"blobs/{digest[:2]}/{digest[2:]}"


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

    def prepare(self) -> None:
        for folder in (self.root / "blobs", self.root / "tmp"):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise not_writable(folder, error) from None

    def put_stream(self, stream: IO[bytes]) -> tuple[str, int]:
        tmp_dir = self.root / "tmp"
        try:
            tmp_dir.mkdir(parents=True, exist_ok=True)
            handle, tmp_name = tempfile.mkstemp(dir=tmp_dir, suffix=".part")
        except OSError as error:
            raise not_writable(tmp_dir, error) from None
        tmp = Path(tmp_name)
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
            if is_stored(self.root, digest, size):
                tmp.unlink()
            else:
                tmp.chmod(0o444)
                fsync_path(move_into_place(self.root, tmp, digest))
            return digest, size
        except OSError as error:
            tmp.unlink(missing_ok=True)
            raise self._translated(error) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def put_file(self, path: Path) -> tuple[str, int]:
        try:
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
            written = copy_in(self.root, path, flush=True)
            if written.tmp is not None:
                fsync_path(move_into_place(self.root, written.tmp, written.digest))
        except OSError as error:
            raise self._translated(error) from None
        return written.digest, written.size

    def batch(self) -> LocalBatch:
        try:
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise not_writable(self.root / "tmp", error) from None
        return LocalBatch(self)

    def _translated(self, error: OSError) -> OSError | NotWritable:
        if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC):
            return not_writable(self.root, error)
        return error

    def open(self, digest: str) -> IO[bytes]:
        try:
            return (self.root / blob_key(digest)).open("rb", buffering=CHUNK)
        except FileNotFoundError:
            raise
        except OSError as error:
            raise storage_error(self.location, "read", error) from None

    def exists(self, digest: str) -> bool:
        return (self.root / blob_key(digest)).is_file()

    def where(self, digest: str) -> str:
        return str(self.root / blob_key(digest))

    def local_path(self, digest: str) -> Path | None:
        return self.root / blob_key(digest)

    def remove(self, digest: str) -> None:
        try:
            (self.root / blob_key(digest)).unlink(missing_ok=True)
        except OSError as error:
            raise not_writable(self.root, error) from None

    def digests(self) -> Iterator[str]:
        blobs = self.root / "blobs"
        if not blobs.is_dir():
            return
        for prefix in sorted(blobs.iterdir()):
            for blob in sorted(prefix.iterdir()):
                yield prefix.name + blob.name


class LocalBatch:
    """Blobs written to temporary files now; flushed, renamed and flushed again, all at
    once, by ``commit``. Safe to use from several threads."""

    def __init__(self, backend: LocalBackend) -> None:
        self._backend = backend
        self._root = backend.root
        self._lock = threading.Lock()
        self._pending: dict[str, Path] = {}

    def put_file(self, path: Path) -> tuple[str, int]:
        try:
            written = copy_in(self._root, path, flush=False)
        except OSError as error:
            raise self._backend._translated(error) from None
        if written.tmp is not None:
            self._keep(written.digest, written.tmp)
        return written.digest, written.size

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        digest = digest_bytes(data)
        with self._lock:
            if digest in self._pending:
                return digest, len(data)
        if not is_stored(self._root, digest, len(data)):
            try:
                tmp = write_bytes(self._root, data, digest, flush=False)
            except OSError as error:
                raise self._backend._translated(error) from None
            self._keep(digest, tmp)
        return digest, len(data)

    def _keep(self, digest: str, tmp: Path) -> None:
        with self._lock:
            if digest not in self._pending:
                self._pending[digest] = tmp
                return
        tmp.unlink(missing_ok=True)  # the same bytes twice in one batch

    def commit(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            flush_files(pending.values(), near=self._root / "tmp")
            for folder in {blob_path(self._root, digest).parent for digest in pending}:
                folder.mkdir(parents=True, exist_ok=True)  # once each, not per blob
            folders = {move_into_place(self._root, tmp, d) for d, tmp in pending.items()}
            flush_files([*sorted(folders), self._root / "blobs"], near=self._root / "blobs")
        except OSError as error:
            for tmp in pending.values():
                tmp.unlink(missing_ok=True)
            raise self._backend._translated(error) from None

    def abort(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for tmp in pending.values():
            tmp.unlink(missing_ok=True)


class FsspecBackend:
    """Blobs under ``<url>/blobs`` on any fsspec filesystem (s3://, gs://, memory://...)."""

    def __init__(self, fs: Any, root: str, protocol: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.location = f"{protocol}://{self.root}"
        self._atomic_put = protocol in _ATOMIC_PUT

    def prepare(self) -> None:
        with self._translated("create"):
            self.fs.makedirs(self.root, exist_ok=True)

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    @contextlib.contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """The filesystem's own errors, said in loopml's words."""
        try:
            with translated(self.location, action):
                yield
        except PermissionError as error:
            if action == "read":
                raise ConfigError(
                    f"artifact store {self.location} refused a read: {error}; check the "
                    "credentials (AWS_* variables or [artifacts.options] in loopml.toml)"
                ) from None
            raise NotWritable(
                f"artifact store {self.location} refused to {action}: {error}; check the "
                "credentials (AWS_* variables or [artifacts.options] in loopml.toml) and "
                "that they may write there"
            ) from None
        except FileNotFoundError as error:
            if action == "read":
                raise
            raise ConfigError(
                f"artifact store {self.location} cannot {action}: {error}; create the "
                "bucket, or point LOOPML_ARTIFACTS_URL at one that exists"
            ) from None

    def _exists(self, path: str) -> bool:
        # s3fs and others answer exists() from a listings cache that misses deletes
        # made elsewhere; dedup and verify must see the store as it is now.
        self.fs.invalidate_cache(path)
        return bool(self.fs.exists(path))

    def put_stream(self, stream: IO[bytes]) -> tuple[str, int]:
        # The digest names the object, so it must be known before the upload: spool
        # to a local temporary file while hashing, then upload that.
        with tempfile.NamedTemporaryFile(suffix=".part") as spool:
            h = hasher()
            size = 0
            for block in chunks(stream):
                h.update(block)
                spool.write(block)
                size += len(block)
            spool.flush()
            digest = str(h.hexdigest())
            self._upload(Path(spool.name), digest)
        return digest, size

    def put_file(self, path: Path) -> tuple[str, int]:
        before = path.stat()
        h = hasher()
        with path.open("rb") as stream:
            for block in chunks(stream):
                h.update(block)
        digest = str(h.hexdigest())
        self._upload(path, digest)
        after = path.stat()
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            raise InvalidInput(
                f"file {path} changed while it was being stored; store it again once "
                "nothing is writing to it"
            )
        return digest, before.st_size

    def batch(self) -> ImmediateBatch:
        return ImmediateBatch(self)

    def _upload(self, local: Path, digest: str) -> None:
        final = self._path(blob_key(digest))
        with self._translated("write"):
            if self._exists(final):
                return
            if self._atomic_put:
                self.fs.put_file(str(local), final)
            else:
                tmp = self._path(f"tmp/{uuid.uuid4().hex}.part")
                self.fs.put_file(str(local), tmp)
                self.fs.mv(tmp, final)
            self.fs.invalidate_cache(final)

    def open(self, digest: str) -> IO[bytes]:
        with self._translated("read"):
            stream: IO[bytes] = self.fs.open(self._path(blob_key(digest)), "rb", block_size=CHUNK)
        return TranslatingReader(stream, self.location)  # type: ignore[return-value]

    def exists(self, digest: str) -> bool:
        with self._translated("read"):
            return self._exists(self._path(blob_key(digest)))

    def where(self, digest: str) -> str:
        return f"{self.location}/{blob_key(digest)}"

    def local_path(self, digest: str) -> Path | None:
        return None

    def remove(self, digest: str) -> None:
        path = self._path(blob_key(digest))
        with self._translated("remove a blob"), contextlib.suppress(FileNotFoundError):
            self.fs.rm(path)
        self.fs.invalidate_cache(path)

    def digests(self) -> Iterator[str]:
        blobs = self._path("blobs")
        self.fs.invalidate_cache(blobs)
        found: list[str] = []
        with self._translated("read"), contextlib.suppress(FileNotFoundError):
            found = sorted(self.fs.find(blobs))
        for path in found:
            # Only blob files: object stores also list folder markers and emptied folders.
            prefix, name = str(path).rstrip("/").split("/")[-2:]
            if _PREFIX.fullmatch(prefix) and _REST.fullmatch(name):
                yield prefix + name


class ImmediateBatch:
    """A batch on object storage: each put is one atomic upload, visible at once."""

    def __init__(self, backend: FsspecBackend) -> None:
        self._backend = backend

    def put_file(self, path: Path) -> tuple[str, int]:
        return self._backend.put_file(path)

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        return self._backend.put_stream(io.BytesIO(data))

    def commit(self) -> None:
        return None

    def abort(self) -> None:
        return None


def copy_stream(source: IO[bytes], target: IO[bytes]) -> None:
    shutil.copyfileobj(source, target, CHUNK)
