"""Store URLs as text, before any backend reads them: the scheme that picks the backend,
and the URL with its password hidden, for messages.

>>> scheme("postgresql+psycopg://ana:secret@db/loopml")
'postgresql+psycopg'
>>> redact_text("postgresql://ana:secret@db/loopml")
'postgresql://ana:***@db/loopml'
"""

from __future__ import annotations

import re

# Word characters, "." and "-", and "+", which joins a driver: every scheme SQLAlchemy
# reads, and those of RFC 3986.
_SCHEME = re.compile(r"([\w.+-]+)://")


def scheme(url: str) -> str | None:
    """The scheme of ``url`` (``sqlite``, ``postgresql+psycopg``, ``memory``), or None
    when it has none."""
    found = _SCHEME.match(url)
    return None if found is None else found.group(1)


def redact_text(url: str) -> str:
    """``url`` with what may be a password hidden, read as plain text."""
    scheme_part, sep, rest = url.partition("://")
    user, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in user:
        return url
    return f"{scheme_part}://{user.partition(':')[0]}:***@{host}"
