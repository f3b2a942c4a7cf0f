"""What both backends take and decide for leases: the arguments of a call checked, the
one rule of who holds a lease, and the records made from rows (see
:mod:`loopml.store._rows`). A backend reads the lease's row and its clock in one
transaction, asks these functions what the row becomes, and writes that.

A row is held while ``now < expires_at``; a released one keeps its name and token
with no holder, so that the next token is one more:

>>> row = taken(None, "loop", "host-a:12", now=0, ttl=10)
>>> row["token"], held_by(row, "host-a:12", now=9), held_by(row, "host-a:12", now=10)
(1, True, False)
>>> taken(row, "loop", "host-b:7", now=5, ttl=10) is None  # host-a's lease stands
True
>>> taken(row, "loop", "host-b:7", now=10, ttl=10)["token"]  # expired: host-b's turn
2
"""

from __future__ import annotations

import contextlib
import math
import numbers
from typing import Any

from loopml._time import from_us
from loopml.errors import InvalidInput
from loopml.store._records import Lease
from loopml.store._rows import Row
from loopml.store.values import check_length, check_name

__all__ = [
    "MAX_TTL_SECONDS",
    "check_holder",
    "check_lease_name",
    "held_by",
    "lease_record",
    "not_held",
    "released",
    "renewed",
    "taken",
    "ttl_us",
]

MAX_TTL_SECONDS = 365 * 24 * 3600  # a year: a lease that long is a mistake, not a lease


def check_lease_name(name: str) -> str:
    """A lease name, as artifact names are written."""
    return check_name(name, "lease name", field="name")


def check_holder(holder: str) -> str:
    """Who holds a lease: text of 1 to 255 characters."""
    check_length("lease holder", holder, 255)
    return holder


def ttl_us(ttl_seconds: Any) -> int:
    """A lease's time to live in whole microseconds (at least one)."""
    seconds = math.nan  # refused below, as anything but a number of seconds is
    if isinstance(ttl_seconds, numbers.Real) and not isinstance(ttl_seconds, bool):
        with contextlib.suppress(OverflowError):
            seconds = float(ttl_seconds)
    if not 0 < seconds <= MAX_TTL_SECONDS:  # NaN fails too
        raise InvalidInput(
            f"lease ttl_seconds {ttl_seconds!r:.80} must be a number of seconds above 0 and "
            f"at most {MAX_TTL_SECONDS} (a year); give how long the lease lasts unless it is "
            "renewed, e.g. 30",
            field="ttl_seconds",
        )
    return max(1, round(seconds * 1_000_000))


def held_by(row: Row | None, holder: str, now: int) -> bool:
    """Whether ``holder`` holds the lease of ``row`` at ``now``."""
    return row is not None and row["holder"] == holder and now < row["expires_at"]


def taken(row: Row | None, name: str, holder: str, *, now: int, ttl: int) -> dict[str, Any] | None:
    """The row after ``holder`` asks for the lease at ``now``: renewed when it holds it,
    taken with the next token when nobody does, None when another holder's stands."""
    if held_by(row, holder, now):
        assert row is not None
        return renewed(row, now=now, ttl=ttl)
    if row is not None and row["holder"] is not None and now < row["expires_at"]:
        return None
    token = 1 if row is None else int(row["token"]) + 1
    return {
        "name": name,
        "holder": holder,
        "token": token,
        "acquired_at": now,
        "renewed_at": now,
        "expires_at": now + ttl,
    }


def renewed(row: Row, *, now: int, ttl: int) -> dict[str, Any]:
    """The row of a held lease renewed at ``now``: its token and start kept."""
    return {**row, "renewed_at": now, "expires_at": now + ttl}


def released(row: Row, *, now: int) -> dict[str, Any]:
    """The row of a released lease: no holder, ended ``now``, its token kept."""
    return {**row, "holder": None, "expires_at": now}


def lease_record(row: Row | None) -> Lease | None:
    """The lease of a row; None for no row, or a released one."""
    if row is None or row["holder"] is None:
        return None
    return Lease(
        name=row["name"],
        holder=row["holder"],
        token=int(row["token"]),
        acquired_at=from_us(row["acquired_at"]),
        renewed_at=from_us(row["renewed_at"]),
        expires_at=from_us(row["expires_at"]),
    )


def not_held(name: str, holder: str, row: Row | None, now: int) -> str:
    """Why ``holder`` cannot renew the lease: what became of it."""
    if row is None:
        what = "it was never taken"
    elif row["holder"] is None:
        what = "it was released"
    elif row["holder"] != holder:
        what = f"{row['holder']!r} holds it (token {row['token']})"
        if row["expires_at"] <= now:
            what = f"{row['holder']!r} held it (token {row['token']}) until it expired"
    else:
        what = f"its lease (token {row['token']}) expired at {from_us(row['expires_at'])}"
    return (
        f"lease {name!r} is not held by {holder!r}: {what}; nothing was changed. Stop "
        "acting for it, and take it anew with acquire_lease (a new token) before acting again"
    )
