"""The content-addressed artifact store."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from loopml.artifacts._backends import (
    Backend,
    BackendBatch,
    FsspecBackend,
    LocalBackend,
    copy_stream,
)
from loopml.artifacts._digest import VerifyingReader, check_digest, chunks, missing_blob
from loopml.errors import (
    BlobMissing,
    ConfigError,
    DigestMismatch,
    InvalidInput,
    InvalidURL,
    NotWritable,
)


@dataclass(frozen=True, slots=True)
class Blob:
    """Stored bytes: their blake3 ``digest`` and ``size``."""

    digest: str
    size: int


class ArtifactStore:
    """Bytes stored once under their blake3 digest, on a local folder or object storage.

    Writes are atomic (a reader never sees half a blob), identical content is stored
    once, files are streamed in chunks, and every full read is checked against the
    digest.

    >>> import tempfile
    >>> store = ArtifactStore(tempfile.mkdtemp())
    >>> blob = store.put_bytes(b"hello")
    >>> store.read_bytes(blob.digest)
    b'hello'
    >>> store.put_bytes(b"hello") == blob
    True
    """

    def __init__(self, url: str | Path, options: Mapping[str, Any] | None = None) -> None:
        self.url = str(url)
        self._backend = _backend(self.url, dict(options or {}))

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

    @property
    def location(self) -> str:
        return self._backend.location

    def prepare(self) -> None:
        """Make the store's folder or bucket, so that a bad location fails now."""
        self._backend.prepare()

    def put_file(self, path: str | Path) -> Blob:
        """Store a file's bytes, streamed."""
        path = Path(path)
        if not path.is_file():
            what = "a folder" if path.is_dir() else "missing"
            raise InvalidInput(f"cannot store {path}: it is {what}, not a file")
        digest, size = self._backend.put_file(path)
        return Blob(digest, size)

    @contextlib.contextmanager
    def batch(self) -> Iterator[BlobBatch]:
        """Store many blobs with one durable flush at the end.

        Inside the block, puts are written but not yet visible; leaving it flushes them
        all at once and gives them their names, so that records made after the block
        never point at a blob a crash could lose. An error inside the block stores
        none of them. The batch's puts may be called from several threads.

        >>> import tempfile
        >>> store = ArtifactStore(tempfile.mkdtemp())
        >>> with store.batch() as batch:
        ...     blobs = [batch.put_bytes(b"one"), batch.put_bytes(b"two")]
        >>> [store.read_bytes(b.digest) for b in blobs]
        [b'one', b'two']
        """
        writer = BlobBatch(self._backend.batch())
        try:
            yield writer
        except BaseException:
            writer.abort()
            raise
        writer.commit()

    def put_stream(self, stream: IO[bytes]) -> Blob:
        """Store everything read from a binary stream."""
        digest, size = self._backend.put_stream(stream)
        return Blob(digest, size)

    def put_bytes(self, data: bytes) -> Blob:
        return self.put_stream(io.BytesIO(data))

    def open(self, digest: str) -> VerifyingReader:
        """A binary reader; reading it to the end checks the digest."""
        check_digest(digest)
        try:
            raw = self._backend.open(digest)
        except FileNotFoundError:
            raise self._missing(digest) from None
        return VerifyingReader(raw, digest, self._backend.where(digest))

    def read_bytes(self, digest: str) -> bytes:
        with self.open(digest) as reader:
            return reader.read()

    def get_file(self, digest: str, dest: str | Path) -> Path:
        """Copy a blob to ``dest``, checked, and written atomically."""
        dest = Path(dest)
        if dest.is_dir():
            raise InvalidInput(f"cannot write to {dest}: it is a folder; give a file path")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp_name = tempfile.mkstemp(
                dir=dest.parent, prefix=f".{dest.name}.", suffix=".part"
            )
        except OSError as error:
            raise NotWritable(
                f"cannot write {dest}: {error.strerror or error}; give a path in a folder "
                "you can write to"
            ) from None
        try:
            with os.fdopen(handle, "wb") as out, self.open(digest) as reader:
                copy_stream(reader, out)  # type: ignore[arg-type]
            os.replace(tmp_name, dest)
        except BaseException as error:
            Path(tmp_name).unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise NotWritable(
                    f"cannot write {dest}: {error.strerror or error}; give a path in a "
                    "folder you can write to"
                ) from None
            raise
        return dest

    def exists(self, digest: str) -> bool:
        return self._backend.exists(check_digest(digest))

    def verify(self, digest: str) -> Blob:
        """Read a blob whole and check it; raises BlobMissing or DigestMismatch."""
        size = 0
        with self.open(digest) as reader:
            for block in chunks(reader):  # type: ignore[arg-type]
                size += len(block)
        return Blob(digest, size)

    def discard_if_damaged(self, digest: str) -> bool:
        """Remove a blob whose bytes no longer match its digest, so that storing the
        right bytes again replaces it; True if it was damaged."""
        try:
            self.verify(digest)
        except DigestMismatch:
            self._backend.remove(digest)
            return True
        except BlobMissing:
            return False
        return False

    def local_path(self, digest: str) -> Path | None:
        """The blob's file, when the store is a local folder (read it, never write it)."""
        path = self._backend.local_path(check_digest(digest))
        if path is not None and not path.is_file():
            raise self._missing(digest)
        return path

    def digests(self) -> Iterator[str]:
        """Every digest stored, in order."""
        return self._backend.digests()

    def _missing(self, digest: str) -> BlobMissing:
        return missing_blob(digest, self._backend.where(digest))


class BlobBatch:
    """Puts of :meth:`ArtifactStore.batch`: stored when the block ends."""

    def __init__(self, backend: BackendBatch) -> None:
        self._backend = backend

    def put_file(self, path: str | Path) -> Blob:
        path = Path(path)
        if not path.is_file():
            what = "a folder" if path.is_dir() else "missing"
            raise InvalidInput(f"cannot store {path}: it is {what}, not a file")
        digest, size = self._backend.put_file(path)
        return Blob(digest, size)

    def put_bytes(self, data: bytes) -> Blob:
        digest, size = self._backend.put_bytes(data)
        return Blob(digest, size)

    def commit(self) -> None:
        self._backend.commit()

    def abort(self) -> None:
        self._backend.abort()


def _backend(url: str, options: dict[str, Any]) -> Backend:
    parts = urlsplit(url)
    if parts.scheme in ("", "file") or (len(parts.scheme) == 1 and os.name == "nt"):
        path = unquote(parts.path) if parts.scheme == "file" else url
        return LocalBackend(Path(path).expanduser().absolute())
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url, **options)
    except ValueError as error:
        raise InvalidURL(
            f"artifacts URL {url!r} cannot be used ({error}); use a folder path, "
            "s3://bucket/prefix, gs://bucket/prefix or another fsspec URL"
        ) from None
    except ImportError as error:
        raise ConfigError(
            f"artifacts URL {url!r} needs a package that is not installed ({error}); "
            "for s3:// install loopml[s3]"
        ) from None
    return FsspecBackend(fs, root, parts.scheme)
