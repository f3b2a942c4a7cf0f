"""Record ids: 32 hex digits, time-ordered like UUIDv7, so new rows land at an index's end."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """A time-ordered random id.

    >>> a, b = new_id(), new_id()
    >>> len(a), a != b
    (32, True)
    """
    millis = time.time_ns() // 1_000_000
    return f"{millis:012x}{os.urandom(10).hex()}"


def made_us(record_id: str) -> int | None:
    """The time (unix microseconds, to the millisecond) a :func:`new_id` was made at;
    None for text that is not such an id.

    >>> made_us("01a22a90df84" + "0123456789abcdef0123"), made_us("run-7")
    (1796010467204000, None)
    """
    if len(record_id) != 32 or not all(c in "0123456789abcdef" for c in record_id):
        return None
    return int(record_id[:12], 16) * 1_000


SHORT = 12


def short_id(record_id: str) -> str:
    """How an id is shown: its last 12 digits, the random ones (the first 12 are the
    time, shared by everything made in the same millisecond).

    >>> short_id("01a22a90df84" + "0123456789abcdef0123")
    '89abcdef0123'
    """
    return record_id[-SHORT:]
