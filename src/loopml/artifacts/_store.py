"""The content-addressed artifact store."""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from loopml._user_files import write_user_file
from loopml.artifacts import _verified as verified
from loopml.artifacts._backends import Backend, BackendBatch, FsspecBackend, copy_stream
from loopml.artifacts._digest import (
    VerifyingReader,
    check_digest,
    chunks,
    corrupt_blob,
    hasher,
    missing_blob,
)
from loopml.artifacts._errors import cause, shown, storage_error
from loopml.artifacts._local import LocalBackend
from loopml.errors import (
    BlobMissing,
    ConfigError,
    DigestMismatch,
    InvalidInput,
    InvalidURL,
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

    @property
    def is_local(self) -> bool:
        """Whether the store is a folder of this machine (checking it is there is free)."""
        from loopml.artifacts._local import LocalBackend

        return isinstance(self._backend, LocalBackend)

    def require_location(
        self, named: str = "the [artifacts] url of loopml.toml, or LOOPML_ARTIFACTS_URL,"
    ) -> None:
        """ConfigError when the store's folder or bucket is not there: a mistyped
        location (or a lost folder), where every blob would look missing and where a
        write would start a new empty store. ``named`` says where the location came
        from."""
        if not self._backend.is_there():
            raise ConfigError(
                f"artifact store {self.location} does not exist (no such bucket or folder); "
                f"{named} names it: fix the location or restore it; only `loopml init` "
                "makes an artifact store",
                field="artifacts.url",
            )

    def prepare(self) -> None:
        """Make the store's folder or bucket, so that a bad location fails now."""
        self._backend.prepare()

    def put_file(self, path: str | Path) -> Blob:
        """Store a file's bytes, streamed."""
        digest, size = self._backend.put_file(_a_file(path))
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

    def open(self, digest: str, *, what: str | None = None) -> VerifyingReader:
        """A binary reader; reading it to the end checks the digest.

        ``what`` names the record being read (``"dataset churn@v2"``) in the error a
        missing or damaged blob raises. A local blob this process has read whole and
        found good, unchanged since, is not hashed again (see ``_verified``).
        """
        check_digest(digest)
        where = self._backend.where(digest)
        try:
            raw = self._backend.open(digest)
        except FileNotFoundError:
            raise missing_blob(digest, where, what) from None
        path = self._backend.local_path(digest)
        if path is None:
            return VerifyingReader(raw, digest, where, what=what)
        before = os.fstat(raw.fileno())
        if verified.known_digest(path, before) == digest:
            return VerifyingReader(raw, digest, where, what=what, trusted=True)
        started = time.time_ns()

        def checked() -> None:
            verified.remember(path, before, os.fstat(raw.fileno()), digest, started)

        return VerifyingReader(raw, digest, where, what=what, on_checked=checked)

    def read_bytes(self, digest: str, *, what: str | None = None) -> bytes:
        with self.open(digest, what=what) as reader:
            return reader.read()

    def get_file(
        self, digest: str, dest: str | Path, *, force: bool = False, what: str | None = None
    ) -> Path:
        """Copy a blob to ``dest``, checked, and written atomically with a new file's
        usual mode. A file already holding these bytes is left as it is; one with other
        content is replaced only with ``force``; a link, FIFO, device or folder never
        (see :mod:`loopml._user_files`). ``what`` names the blob in messages."""
        dest = Path(dest)

        def fill(out: IO[bytes]) -> None:
            with self.open(digest, what=what) as reader:
                copy_stream(reader, out)  # type: ignore[arg-type]

        def same(existing: Path) -> bool:
            return file_holds(existing, digest)

        check_digest(digest)
        write_user_file(dest, fill, what=what or f"blob {digest[:16]}", force=force, same=same)
        return dest

    def local_copy(self, digest: str, target: str | Path, *, what: str | None = None) -> Path:
        """A local file at ``target`` holding the blob's bytes, checked: a hard link to
        the blob on a local store where one can be made, else a checked copy.

        This is the one way to hand a reader a path (Polars, PyArrow, a step's ``Path``
        input): a file already at ``target`` is checked as well (hashed once per
        process while its stat is unchanged) and made again from the blob when it does
        not match, so a damaged blob is an error, never a table of wrong values.
        """
        target = Path(target)
        actual = None
        for _ in range(2):
            if not target.is_file() and self._place(digest, target, what):
                return target  # a copy checked as it was written
            try:
                actual = verified.file_digest(target)
            except FileNotFoundError:  # removed meanwhile: place it again
                continue
            if actual == digest:
                return target
            blob = self._backend.local_path(digest)
            linked = blob is not None and blob.is_file() and os.path.samefile(blob, target)
            verified.forget(target)
            target.unlink(missing_ok=True)
            if linked:  # the link is the blob itself: making it again cannot help
                break
        where = self._backend.where(digest)
        if actual is None:  # removed as soon as it was made, twice
            raise missing_blob(digest, where, what)
        # Made again from the blob, it still does not match: the blob is damaged.
        raise corrupt_blob(digest, where, actual, what)

    def _place(self, digest: str, target: Path, what: str | None) -> bool:
        """Put the blob at ``target``; True when it was copied (and so checked)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        local = self._backend.local_path(digest)
        if local is not None:
            try:
                os.link(local, target)
                return False
            except FileExistsError:  # made by another process
                return False
            except FileNotFoundError:
                raise missing_blob(digest, self._backend.where(digest), what) from None
            except OSError:  # another filesystem, or no hard links: copy
                pass
        self.get_file(digest, target, what=what, force=True)  # loopml's own copy
        return True

    def exists(self, digest: str) -> bool:
        return self._backend.exists(check_digest(digest))

    def verify(self, digest: str, *, what: str | None = None) -> Blob:
        """Read a blob whole and check it; raises BlobMissing or DigestMismatch. A
        local blob is hashed once per process while its stat is unchanged."""
        check_digest(digest)
        path = self._backend.local_path(digest)
        if path is None:
            size = 0
            with self.open(digest, what=what) as reader:
                for block in chunks(reader):  # type: ignore[arg-type]
                    size += len(block)
            return Blob(digest, size)
        try:
            actual = verified.file_digest(path)
            size = path.stat().st_size
        except FileNotFoundError:
            raise missing_blob(digest, str(path), what) from None
        if actual != digest:
            raise corrupt_blob(digest, str(path), actual, what)
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

    def local_path(self, digest: str, *, what: str | None = None) -> Path | None:
        """The blob's file, checked, when the store is a local folder (read it, never
        write it); None for a remote store or a blob kept in a pack (use
        :meth:`local_copy`)."""
        path = self._backend.local_path(check_digest(digest))
        if path is not None:
            self.verify(digest, what=what)
        return path

    def digests(self) -> Iterator[str]:
        """Every digest stored, in order."""
        return self._backend.digests()


class BlobBatch:
    """Puts of :meth:`ArtifactStore.batch`: stored when the block ends."""

    def __init__(self, backend: BackendBatch) -> None:
        self._backend = backend

    def put_file(self, path: str | Path) -> Blob:
        digest, size = self._backend.put_file(_a_file(path))
        return Blob(digest, size)

    def put_bytes(self, data: bytes) -> Blob:
        digest, size = self._backend.put_bytes(data)
        return Blob(digest, size)

    def commit(self) -> None:
        self._backend.commit()

    def abort(self) -> None:
        self._backend.abort()


def _a_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "missing"
        raise InvalidInput(f"cannot store {path}: it is {what}, not a file")
    return path


def _backend(url: str, options: dict[str, Any]) -> Backend:
    try:
        if "\x00" in url:
            raise ValueError("it holds a NUL character")
        parts = urlsplit(url)
    except ValueError as error:
        raise InvalidURL(
            f"artifacts URL {url!r} is not a URL ({cause(error)}); use a folder path, "
            "s3://bucket/prefix, gs://bucket/prefix or another fsspec URL"
        ) from None
    if parts.scheme in ("", "file") or (len(parts.scheme) == 1 and os.name == "nt"):
        path = unquote(parts.path) if parts.scheme == "file" else url
        return LocalBackend(Path(path).expanduser().absolute())
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url, **options)
    except ValueError as error:
        raise InvalidURL(
            f"artifacts URL {shown(url)!r} cannot be used ({cause(error)}); use a folder path, "
            "s3://bucket/prefix, gs://bucket/prefix or another fsspec URL"
        ) from None
    except ImportError as error:
        raise ConfigError(
            f"artifacts URL {shown(url)!r} needs a package that is not installed ({cause(error)}); "
            "for s3:// install loopml[s3]"
        ) from None
    except TypeError as error:
        raise ConfigError(
            f"artifacts URL {shown(url)!r} cannot be opened with the options in "
            f"[artifacts.options] ({cause(error)}); fix or remove them"
        ) from None
    except Exception as error:
        # Some filesystems (ftp://, hdfs://, sftp://) connect as they are made.
        raise storage_error(url, "open", error) from None
    return FsspecBackend(fs, root, parts.scheme)


def file_holds(path: Path, digest: str) -> bool:
    """Whether the file at ``path`` holds exactly the bytes of ``digest``."""
    found = hasher()
    with path.open("rb") as stream:
        for block in chunks(stream):
            found.update(block)
    return bool(found.hexdigest() == digest)
