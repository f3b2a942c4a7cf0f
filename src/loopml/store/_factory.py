"""One factory that opens a store by the scheme of its URL, and the register of the
backends that serve each scheme.

The SQL backend registers ``sqlite`` and ``postgresql``, the in-memory one ``memory``;
another backend registers its own scheme with :func:`register_backend`. A backend's
modules load only when a store of its scheme is opened.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from loopml.errors import AlreadyExists, InvalidInput, InvalidURL
from loopml.store import _urls
from loopml.store._base import MetadataStore

Opener = Callable[[str, bool, bool], MetadataStore]
"""Opens the store at a URL: ``opener(url, create, migrate)``, as :func:`open_store`."""

_SCHEME_NAME = re.compile(r"[a-z][a-z0-9_.-]*")


@dataclass(frozen=True)
class _Backend:
    opener: Opener
    example: str


_BACKENDS: dict[str, _Backend] = {}


def register_backend(scheme: str, opener: Opener, *, example: str | None = None) -> None:
    """Open store URLs of ``scheme`` with ``opener(url, create, migrate)``.

    The opener gets the URL as it was given, ``scheme://...`` or
    ``scheme+driver://...``, and the arguments of :func:`open_store`, whose rules it
    keeps: without ``create``, a store that is not there is
    :class:`~loopml.errors.StoreMissing`. ``example`` is a URL of the scheme that
    error messages show as the way to write one. A scheme served by another opener
    already is AlreadyExists; registering the same opener again changes nothing.

    A backend is registered where its package loads; a scheme is served by one
    backend only:

    >>> register_backend("sqlite", lambda url, create, migrate: open_store("memory://x"))
    Traceback (most recent call last):
    ...
    loopml.errors.AlreadyExists: store URL scheme 'sqlite' is served already by ...
    """
    if not isinstance(scheme, str) or not _SCHEME_NAME.fullmatch(scheme):
        raise InvalidInput(
            f"store URL scheme {scheme!r} cannot be registered: use lowercase letters, "
            "digits, '_', '.' and '-', starting with a letter, such as 'mystore'",
            field="scheme",
        )
    if not callable(opener):
        raise InvalidInput(
            f"the opener of store URL scheme {scheme!r} must be a function "
            f"(url, create, migrate) -> MetadataStore, not {opener!r}",
            field="opener",
        )
    known = _BACKENDS.get(scheme)
    if known is not None and known.opener != opener:
        raise AlreadyExists(
            f"store URL scheme {scheme!r} is served already by {_named(known.opener)}; "
            "register your backend under another scheme"
        )
    if example is None:
        example = f"{scheme}://..." if known is None else known.example
    _BACKENDS[scheme] = _Backend(opener, example)


def open_store(url: str, *, create: bool = False, migrate: bool = True) -> MetadataStore:
    """Open the store at ``url``; with ``create=True``, make it first if it is not there.

    Without ``create``, a store that does not exist (no SQLite file, or a database
    without loopml's tables) is :class:`~loopml.errors.StoreMissing`, and nothing is
    written: a mistyped URL or a lost file is an error, never a new empty store. An
    older schema is upgraded unless ``migrate=False``.

    ``sqlite:///path/loopml.db`` and ``postgresql://user@host/db`` are served by the
    SQLAlchemy backend. A PostgreSQL schema other than ``public`` is chosen with
    ``?options=-csearch_path%3Dmyschema``. ``memory://NAME`` is a store in this
    process's memory, for tests and trying things: the stores opened under one
    ``NAME`` share their records, and nothing is kept when the process ends.

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> store = open_store(f"sqlite:///{folder}/loopml.db", create=True)
    >>> run = store.create_run(kind="train", name="demo", params={"C": 1.0})
    >>> store.get_run(run.id).params
    {'C': 1.0}
    >>> store.close()
    >>> open_store(f"sqlite:///{folder}/other.db")
    Traceback (most recent call last):
    ...
    loopml.errors.StoreMissing: store sqlite:///.../other.db does not exist ...
    """
    return _backend(url).opener(url, create, migrate)


def _backend(url: str) -> _Backend:
    found = _urls.scheme(url) if isinstance(url, str) else None
    if found is None:
        shown = _urls.redact_text(url) if isinstance(url, str) else url
        cause = " (it holds a NUL character)" if isinstance(url, str) and "\x00" in url else ""
        raise InvalidURL(f"store URL {shown!r} is not a database URL{cause}; use {_examples()}")
    backend = _BACKENDS.get(found) or _BACKENDS.get(found.partition("+")[0])
    if backend is None:
        raise InvalidURL(
            f"store URL {_urls.redact_text(url)!r} uses {found.partition('+')[0]!r}, which loopml "
            f"cannot store into (it knows {', '.join(sorted(_BACKENDS))}); use {_examples()}"
        )
    return backend


def _examples() -> str:
    examples = list(dict.fromkeys(backend.example for backend in _BACKENDS.values()))
    if len(examples) < 2:
        return "".join(examples)
    return f"{', '.join(examples[:-1])} or {examples[-1]}"


def _named(opener: Opener) -> str:
    module = getattr(opener, "__module__", None)
    name = getattr(opener, "__qualname__", None) or repr(opener)
    return f"{module}.{name}" if module else name
