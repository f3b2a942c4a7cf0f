"""blake3 digests, computed while bytes stream past, never over a whole file in memory."""

from __future__ import annotations

import re
from typing import IO, TYPE_CHECKING, Any

from loopml.errors import BlobMissing, DigestMismatch, InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

CHUNK = 4 * 1024 * 1024
DIGEST_LENGTH = 64
_DIGEST = re.compile(r"[0-9a-f]{64}")


def hasher() -> Any:
    from blake3 import blake3

    # Large chunks let blake3 hash on several threads.
    return blake3(max_threads=blake3.AUTO)


def digest_bytes(data: bytes) -> str:
    """The blake3 hex digest of ``data``.

    >>> digest_bytes(b"")[:16]
    'af1349b9f5f9a1a6'
    """
    h = hasher()
    h.update(data)
    return str(h.hexdigest())


def chunks(stream: IO[bytes], size: int = CHUNK) -> Iterator[bytes]:
    while block := stream.read(size):
        yield block


def check_digest(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise InvalidInput(
            f"digest {digest!r} is not a blake3 digest: loopml digests are 64 lowercase "
            "hex characters"
        )
    return digest


def missing_blob(digest: str, where: str, what: str | None = None) -> BlobMissing:
    """The error for a blob that is not there; ``what`` names the record that needs it
    (``"dataset churn@v2"``)."""
    if what is None:
        return BlobMissing(
            f"blob {digest} is missing from the artifact store ({where}); "
            "restore it from a backup or re-create the artifact"
        )
    return BlobMissing(
        f"{what} cannot be read: its blob {digest} is missing from the artifact store "
        f"({where}); restore it from a backup or re-create {what}, and run `loopml verify` "
        "to find other damage"
    )


def corrupt_blob(digest: str, where: str, actual: str, what: str | None = None) -> DigestMismatch:
    """The error for bytes that do not hash to their digest; ``what`` names the record."""
    if what is None:
        return DigestMismatch(
            f"blob {digest} at {where} is corrupt: its bytes hash to {actual}; restore it "
            "from a backup or re-create the artifact, and run `loopml verify` to find other "
            "damage"
        )
    return DigestMismatch(
        f"{what} is corrupt: its blob {digest} at {where} hashes to {actual}; restore it "
        f"from a backup or re-create {what}, and run `loopml verify` to find other damage"
    )


class VerifyingReader:
    """A binary file object that hashes what is read and checks the digest at the end.

    Reading to the end (as ``read()``, ``read_bytes`` and copying do) raises
    :class:`DigestMismatch` if the bytes are not the ones stored; a partial read
    cannot be checked. ``on_checked`` is called once the bytes are found good.
    ``trusted`` bytes (a local blob this process has hashed already, unchanged since)
    are passed through without hashing them again.
    """

    def __init__(
        self,
        raw: IO[bytes],
        digest: str,
        where: str,
        *,
        what: str | None = None,
        on_checked: Callable[[], None] | None = None,
        trusted: bool = False,
    ) -> None:
        self._raw = raw
        self._digest = digest
        self._where = where
        self._what = what
        self._on_checked = on_checked
        self._hash = None if trusted else hasher()
        self._checked = trusted

    def read(self, size: int = -1) -> bytes:
        try:
            block = self._raw.read(size)
        except FileNotFoundError:
            # Deleted between open and read (an object store opens lazily).
            raise missing_blob(self._digest, self._where, self._what) from None
        if self._hash is not None:
            self._hash.update(block)
        if (not block or size is None or size < 0) and not self._checked:
            self._check()
        return block

    def _check(self) -> None:
        self._checked = True
        assert self._hash is not None  # trusted readers are checked from the start
        actual = str(self._hash.hexdigest())
        if actual != self._digest:
            raise corrupt_blob(self._digest, self._where, actual, self._what)
        if self._on_checked is not None:
            self._on_checked()

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
