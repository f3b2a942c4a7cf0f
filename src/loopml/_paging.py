"""Pages of a listing, and the opaque cursors that continue one.

A cursor says where the last page ended (the id or name of its last item) and which
query it belongs to; it is given back unchanged to get the next page. A cursor that
is not one loopml gave, or that was given for another query, is InvalidInput naming
the field ``cursor``.

>>> cursor = encode_cursor("models", {"name": None}, "churn")
>>> decode_cursor(cursor, "models", {"name": None})
'churn'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from loopml.errors import InvalidInput

# The largest page a store can count to: its whole numbers are 64-bit.
_MOST = 2**63 - 1

T = TypeVar("T")

_VERSION = 1


@dataclass(frozen=True)
class Page(Generic[T]):
    """Some items of a listing, in its order, and the cursor that gives the ones after
    them (None at the end: there are no more)."""

    items: Sequence[T]
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def page_limit(limit: int) -> int:
    """``limit``, the size of a page, if it is a whole number a store can count to."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidInput(f"limit {limit!r} must be a whole number from 1", field="limit")
    if not 1 <= limit <= _MOST:
        raise InvalidInput(
            f"limit {limit} is out of range: give a whole number from 1 to {_MOST}",
            field="limit",
        )
    return limit


def query_digest(query: Any) -> str:
    """A short digest of what a query asks (its arguments, as their ``repr``)."""
    return hashlib.sha256(repr(query).encode()).hexdigest()[:16]


def encode_cursor(listing: str, query: Any, last: str) -> str:
    """The cursor of the page after the one ending with ``last``, in ``listing`` for
    ``query``."""
    body = {"v": _VERSION, "l": listing, "q": query_digest(query), "a": last}
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(text).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, listing: str, query: Any) -> str:
    """Where the page before ended (what :func:`encode_cursor` was given as ``last``),
    or InvalidInput naming ``cursor`` when it is not a cursor of ``listing`` for
    ``query``."""
    if not isinstance(cursor, str):
        raise InvalidInput(
            f"cursor {cursor!r} must be text: the next_cursor of the page before",
            field="cursor",
        )
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(text)
    except (ValueError, binascii.Error):
        body = None
    if (
        not isinstance(body, dict)
        or body.get("v") != _VERSION
        or not isinstance(body.get("a"), str)
        or not isinstance(body.get("q"), str)
    ):
        raise InvalidInput(
            f"cursor {_short(cursor)} is not a cursor loopml gave; pass the next_cursor of "
            "the page before, unchanged",
            field="cursor",
        )
    if body.get("l") != listing or body["q"] != query_digest(query):
        raise InvalidInput(
            f"cursor {_short(cursor)} continues another listing or query; pass it with "
            "the same arguments as the page it came with, or leave it out to start again",
            field="cursor",
        )
    last: str = body["a"]
    return last


def _short(text: str, most: int = 60) -> str:
    return repr(text if len(text) <= most else text[: most - 3] + "...")
