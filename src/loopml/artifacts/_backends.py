"""Where blobs live: the contract, and any fsspec filesystem (a local folder: ``_local``).

On object storage every blob is an object of its own, also the small ones that a
local store packs (see :mod:`loopml.artifacts._packs`): a put there is one atomic
request with no flush or rename to share, so a pack would save little, while every
process would have to list and fetch the indexes before its first read or dedup check,
and a damaged packed blob could not be replaced on its own.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from loopml.artifacts._digest import CHUNK, chunks, hasher
from loopml.artifacts._errors import TranslatingReader, translated
from loopml.errors import ConfigError, InvalidInput, NotWritable

PREFIX = re.compile(r"[0-9a-f]{2}")
REST = re.compile(r"[0-9a-f]{62}")

# Object stores whose single put is atomic: the object appears whole or not at all.
_ATOMIC_PUT = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"}


class Backend(Protocol):
    location: str

    def prepare(self) -> None: ...
    def is_there(self) -> bool: ...
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

    def is_there(self) -> bool:
        """Whether the store's location exists (its bucket and folder)."""
        with self._translated("read"):
            return self._exists(self.root)

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
            if PREFIX.fullmatch(prefix) and REST.fullmatch(name):
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
