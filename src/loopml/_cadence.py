"""When a schedule is due: fixed intervals (``30s``, ``1h30m``, ``2w``) and cron expressions
evaluated in a timezone.

An interval is an exact duration: ``1d`` is 86,400 seconds, whatever the clocks do.
A cron expression is wall-clock time in the schedule's timezone, with Debian cron's
rules at daylight-saving changes (a time skipped when clocks go forward runs just
after the change; a time repeated when they go back runs once).

>>> parse_every("1h30m")
5400
>>> format_every(5400)
'1h30m'
>>> from datetime import UTC, datetime
>>> saturday_noon = datetime(2024, 3, 30, 12, 0, tzinfo=UTC)
>>> next_due(after=saturday_noon, cron="0 3 * * *", timezone="Europe/Berlin").isoformat()
'2024-03-31T01:00:00+00:00'
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

_UNITS = {"w": 7 * 86_400, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_EVERY = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
# Far enough for any retraining cadence, near enough that datetimes never overflow.
MAX_EVERY_SECONDS = 10 * 366 * 86_400


def is_interval(text: object) -> bool:
    """Whether ``text`` is written as an interval (``1h30m``), whatever its length."""
    match = _EVERY.fullmatch(text.strip()) if isinstance(text, str) else None
    return match is not None and any(match.groups())


def parse_every(text: str) -> int:
    """Seconds in an interval such as ``30s``, ``15m``, ``1h``, ``1d``, ``2w`` or ``1h30m``."""
    match = _EVERY.fullmatch(text.strip()) if isinstance(text, str) else None
    if not text or match is None or not any(match.groups()):
        raise InvalidInput(
            f"--every {text!r} is not an interval; give a number and a unit, s m h d or w, "
            "largest first, e.g. --every 30s, 15m, 1h, 1d, 2w or 1h30m"
        )
    counts = zip(match.groups(), _UNITS.values(), strict=True)
    seconds = sum(int(n) * unit for n, unit in counts if n)
    check_every(seconds, shown=text)
    return seconds


def check_every(seconds: int, *, shown: object = None) -> int:
    """``seconds`` if it is a usable interval, else InvalidInput saying why."""
    what = f"--every {shown!r}" if shown is not None else f"interval {seconds!r} s"
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
        raise InvalidInput(f"{what} must be at least one second, e.g. 30s or 1h")
    if seconds > MAX_EVERY_SECONDS:
        raise InvalidInput(f"{what} is longer than ten years; use a cron expression instead")
    return seconds


def format_every(seconds: int) -> str:
    """The shortest interval text for ``seconds``: ``5400`` -> ``1h30m``."""
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def check_cron(expression: str) -> str:
    """A five-field cron expression with its spacing normalized, else InvalidInput."""
    from cronsim import CronSim, CronSimError

    fields = expression.split() if isinstance(expression, str) else []
    if len(fields) != 5:
        raise InvalidInput(
            f"--cron {expression!r} must have five fields, minute hour day-of-month month "
            'day-of-week, e.g. --cron "0 3 * * *" for 03:00 every day'
        )
    normal = " ".join(fields)
    try:
        CronSim(normal, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as error:
        raise InvalidInput(
            f"--cron {expression!r} is not a cron expression: {str(error).lower()}; e.g. "
            '"0 3 * * *" (03:00 daily) or "*/15 * * * 1-5" (every 15 minutes on weekdays)'
        ) from None
    return normal


def zone(name: str) -> ZoneInfo:
    """The IANA timezone called ``name``, else InvalidInput naming examples."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if not isinstance(name, str) or not name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"timezone {name!r} is not a known IANA timezone; give e.g. UTC, "
            "Europe/Berlin or America/New_York"
        ) from None


def next_due(
    *,
    after: datetime,
    every_seconds: int | None = None,
    cron: str | None = None,
    timezone: str = "UTC",
    previous: datetime | None = None,
) -> datetime:
    """The first occurrence strictly after ``after``, in UTC.

    An interval counts on from ``previous`` (the occurrence just due), so that missed
    occurrences are skipped without shifting the phase; with no ``previous`` the first
    occurrence is one interval after ``after``.
    """
    after = _aware(after)
    if (every_seconds is None) == (cron is None):
        raise InvalidInput("a schedule needs exactly one of an interval (--every) or --cron")
    if every_seconds is not None:
        step = timedelta(seconds=check_every(every_seconds))
        if previous is None:
            return after + step
        previous = _aware(previous)
        if previous > after:
            return previous
        return previous + step * ((after - previous) // step + 1)
    from cronsim import CronSim

    assert cron is not None
    occurrences = CronSim(check_cron(cron), after.astimezone(zone(timezone)))
    try:
        found = next(occurrences).astimezone(UTC)
        # Inside an hour repeated when clocks go back, a wall-clock time can map to the
        # first pass of that hour, which is already over.
        while found <= after:
            found = next(occurrences).astimezone(UTC)
    except StopIteration:
        raise InvalidInput(f"--cron {cron!r} has no occurrence in the next 50 years") from None
    return found


def describe(every_seconds: int | None, cron: str | None, timezone: str) -> str:
    """How a schedule's cadence is shown: ``every 1d`` or ``0 3 * * * Europe/Berlin``."""
    if every_seconds is not None:
        return f"every {format_every(every_seconds)}"
    return f"{cron} {timezone}"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
