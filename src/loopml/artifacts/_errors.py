"""The storage's own errors (fsspec, s3fs, botocore, a disk), said in loopml's words.

Object stores fail in many libraries' exception types; the user needs one line with
the store's location, the cause and what to check. Credentials and connection
problems are :class:`ArtifactStoreUnavailable`; anything else the storage raises is
:class:`ArtifactStoreError`. Neither botocore nor aiohttp is imported here (both are
optional): exceptions are told apart by the names of their classes.

>>> error = storage_error("s3://bucket/x", "write", ConnectionRefusedError(111, "refused"))
>>> type(error).__name__
'ArtifactStoreUnavailable'
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from loopml.errors import ArtifactStoreError, ArtifactStoreUnavailable, LoopmlError

_CREDENTIALS = ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError")
_UNREACHABLE = (
    "EndpointConnectionError",  # botocore: nothing listens at the endpoint
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ClientConnectionError",  # aiohttp
    "ServerTimeoutError",
)
_MOST = 300  # characters of a cause quoted in a one-line message


def cause(error: BaseException) -> str:
    """The error's message on one line, not too long (libraries put whole logs there)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= _MOST else text[: _MOST - 3] + "..."


def shown(url: str) -> str:
    """``url`` with a password in it hidden.

    >>> shown("ftp://me:secret@host/x")
    'ftp://me:***@host/x'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def storage_error(location: str, action: str, error: BaseException) -> LoopmlError:
    """The loopml error for ``error``, raised by the storage at ``location`` while it
    tried to ``action`` (read, write, open ...)."""
    location = shown(location)
    names = {cls.__name__ for cls in type(error).__mro__}
    if names & set(_CREDENTIALS):
        return ArtifactStoreUnavailable(
            f"artifact store {location} has no credentials to {action} with ({cause(error)}); "
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or key and "
            "secret in [artifacts.options] of loopml.toml"
        )
    if names & set(_UNREACHABLE) or isinstance(
        error, ConnectionError | TimeoutError | socket.gaierror
    ):
        return ArtifactStoreUnavailable(
            f"cannot reach artifact store {location} to {action}: {cause(error)}; check the "
            "address (the URL, endpoint_url in [artifacts.options] or AWS_ENDPOINT_URL), "
            "the network, and that the server is up"
        )
    fix = (
        "check the artifacts URL and [artifacts.options], and that the storage's client "
        "(its Python package and any system library it loads) is installed"
        if action == "open"
        else "check the artifacts URL and [artifacts.options] in loopml.toml"
    )
    return ArtifactStoreError(
        f"artifact store {location} failed to {action}: {type(error).__name__}: "
        f"{cause(error)}; {fix}"
    )


@contextlib.contextmanager
def translated(location: str, action: str) -> Iterator[None]:
    """Errors of the storage, except those loopml reads as answers (a missing file,
    a refused permission), as loopml errors."""
    try:
        yield
    except (LoopmlError, FileNotFoundError, PermissionError):
        raise
    except Exception as error:
        raise storage_error(location, action, error) from None


class TranslatingReader:
    """A binary stream of an object store whose read errors are loopml errors: an
    object store reads lazily, so the network fails in ``read``, not in ``open``."""

    def __init__(self, raw: IO[bytes], location: str) -> None:
        self._raw = raw
        self._location = location

    def read(self, size: int = -1) -> bytes:
        with translated(self._location, "read"):
            return self._raw.read(size)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        with translated(self._location, "read"):
            self._raw.close()

    def __enter__(self) -> TranslatingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
