"""What every backend writes and reads, the same way: the arguments of a call checked
and made into a row (plain values, times in microseconds), and the records made from
such rows. A backend keeps rows its own way; what it takes and gives back is decided
here, so backends differ in where records live, never in which values they take.

>>> row = run_row(kind="train", name="fit", params={"C": 1.0})
>>> run_record(row).params, run_record(row).status.value
({'C': 1.0}, 'running')
"""

from __future__ import annotations

import getpass
import math
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from loopml import _cadence
from loopml._ids import new_id
from loopml._time import from_us, now_us, to_us
from loopml.errors import Conflict, InvalidInput
from loopml.store._records import (
    Alert,
    Alias,
    AliasEvent,
    Artifact,
    Direction,
    Event,
    Metric,
    Run,
    RunStatus,
    Schedule,
    Severity,
)
from loopml.store.values import (
    INT32,
    INT64,
    check_int,
    check_length,
    check_name,
    check_text,
    json_object,
    optional_text,
    run_status,
    storable_text,
)

Row = Mapping[Any, Any]  # a row as a backend holds it: a dict, a SQLAlchemy mapping
HOST = socket.gethostname()
UNKNOWN_ACTOR = "unknown"
MAX_REASON = 4096
EVENT_KEYS = ("run_id", "artifact_id", "direction", "role")

# -- artifacts -----------------------------------------------------------------------


def artifact_row(
    *,
    kind: str,
    name: str,
    digest: str,
    size: int,
    uri: str | None,
    metadata: Mapping[str, Any] | None,
    role: str,
) -> dict[str, Any]:
    """A new artifact's row, but its ``version`` and ``created_at`` (given by the store)."""
    check_length("artifact kind", kind, 64)
    check_length("artifact name", name, 255)
    check_length("artifact digest", digest, 64)
    check_length("event role", role, 255)
    return {
        "id": new_id(),
        "kind": str(kind),  # plain text, also when given an ArtifactKind
        "name": name,
        "digest": digest,
        "size": check_int("artifact size", size, (0, INT64[1])),
        "uri": optional_text("artifact uri", uri),
        "metadata": json_object("artifact metadata", metadata),
    }


def no_version(kind: str, name: str, version: int, latest: int | None) -> str:
    """Why ``get_artifact_version`` found nothing."""
    known = f"the latest is v{latest}" if latest else f"there is no {kind} {name!r}"
    return f"no version v{version} of {kind} {name!r}: {known}"


def not_after(kind: str, name: str, after: int, latest: int) -> Conflict:
    """Why ``create_artifact(after=...)`` recorded nothing: another writer came first."""
    expected = f"v{after + 1}" if after else "v1"
    return Conflict(
        f"{kind} {name!r} was to get {expected}, but its latest is v{latest} now (written "
        "meanwhile); look at the latest version again"
    )


# -- runs ----------------------------------------------------------------------------


def run_row(
    *,
    kind: str,
    name: str,
    params: Mapping[str, Any] | None = None,
    parent_id: str | None = None,
    fingerprint: str | None = None,
    code: Mapping[str, Any] | None = None,
    environment: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    status: RunStatus = RunStatus.RUNNING,
) -> dict[str, Any]:
    """A run started now in this process, as ``create_run`` records it."""
    check_length("run kind", kind, 64)
    check_length("run name", name, 255)
    if fingerprint is not None:
        check_length("run fingerprint", fingerprint, 64)
    status = run_status(status)
    started = now_us()
    return {
        "id": new_id(),
        "kind": kind,
        "name": name,
        "status": status.value,
        "params": json_object("run params", params),
        "parent_id": parent_id,
        "fingerprint": fingerprint,
        "code": json_object("run code", code),
        "environment": json_object("run environment", environment),
        "tags": json_object("run tags", tags),
        "host": HOST,
        "pid": os.getpid(),
        "started_at": started,
        "ended_at": None if status is RunStatus.RUNNING else started,
        "error": None,
    }


def finished_status(status: RunStatus | str) -> RunStatus:
    """The status ``finish_run`` was given, if it is a finished one."""
    status = run_status(status)
    if not status.finished:
        raise InvalidInput(
            f"finish_run needs a finished status, not {status.value!r}; use one of "
            + ", ".join(s.value for s in RunStatus if s.finished)
        )
    return status


def error_text(error: str | None) -> str | None:
    """A run's error as it is stored: its NUL characters and lone surrogates escaped."""
    return None if error is None else storable_text(str(error))


def not_running(run_id: str, status: str, action: str) -> InvalidInput:
    """The error for changing a run that is finished already."""
    return InvalidInput(
        f"run {run_id} is already {status}; a finished run cannot change, so loopml cannot {action}"
    )


def recorded_run_row(run: Run) -> dict[str, Any]:
    """A run made elsewhere (``record_runs``), checked, as a row."""
    check_length("run kind", run.kind, 64)
    check_length("run name", run.name, 255)
    check_length("run host", run.host, 255)
    if run.fingerprint is not None:
        check_length("run fingerprint", run.fingerprint, 64)
    for moment in (run.started_at, run.ended_at):
        if moment is not None and not isinstance(moment, datetime):
            raise InvalidInput(f"run {run.id}: time {moment!r} must be a datetime")
    status = run_status(run.status)
    if status.finished != (run.ended_at is not None):
        raise InvalidInput(
            f"run {run.id}: status {status.value} and ended_at {run.ended_at} disagree; a "
            "finished run has an end time and a running one has none"
        )
    return {
        "id": run.id,
        "kind": run.kind,
        "name": run.name,
        "status": status.value,
        "params": json_object("run params", run.params),
        "parent_id": run.parent_id,
        "fingerprint": run.fingerprint,
        "code": json_object("run code", run.code),
        "environment": json_object("run environment", run.environment),
        "tags": json_object("run tags", run.tags),
        "host": run.host,
        "pid": check_int("run pid", run.pid, (0, INT32[1])),
        "started_at": to_us(run.started_at),
        "ended_at": None if run.ended_at is None else to_us(run.ended_at),
        "error": error_text(run.error),
    }


def distinct_ids(rows: Sequence[Row]) -> set[str]:
    """The ids of runs to record, which must not repeat."""
    ids = {row["id"] for row in rows}
    if len(ids) < len(rows):
        raise InvalidInput("record_runs was given the same run id twice")
    return ids


# -- lineage -------------------------------------------------------------------------


def event_key(
    run_id: str, artifact_id: str, direction: Direction, role: str
) -> tuple[str, str, str, str]:
    """What tells an event apart: run, artifact, direction and role, checked."""
    try:
        direction = Direction(direction)
    except ValueError:
        raise InvalidInput(f"event direction {direction!r} is not 'input' or 'output'") from None
    check_length("event role", role, 255)
    return run_id, artifact_id, direction.value, role


def event_keys(
    run_id: str, events: Sequence[tuple[str, Direction, str]]
) -> list[tuple[str, str, str, str]]:
    """The events ``create_run`` is given, each once, in their order."""
    return list(dict.fromkeys(event_key(run_id, *event) for event in events))


# -- aliases -------------------------------------------------------------------------


def check_alias(alias: str) -> str:
    """An alias name that hides no version reference."""
    check_length("alias", alias, 255)
    if alias == "latest" or (alias[0] == "v" and alias[1:].isdigit()):
        raise InvalidInput(
            f"alias {alias!r} would hide a version reference (@latest, @v3); "
            "choose another name, such as 'champion'"
        )
    return alias


def check_moves(
    moves: Mapping[str, str | None], expected: Mapping[str, str | None]
) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """The moves and the expectations as plain dicts, checked before any I/O."""
    if not isinstance(moves, Mapping) or not moves:
        raise InvalidInput(
            f"move_aliases needs a mapping of at least one alias to its new target, not "
            f"{moves!r:.80}; give e.g. {{'champion': artifact_id}}"
        )
    if not isinstance(expected, Mapping):
        raise InvalidInput(
            f"move_aliases needs expected, a mapping of each alias it moves to the artifact "
            f"id it points at now (None: absent), not {expected!r:.80}"
        )
    for what, given in (("moves", moves), ("expected", expected)):
        for alias, target in given.items():
            check_length("alias", alias, 255)
            if target is not None:
                check_length(f"{what}[{alias!r}] (an artifact id)", target, 255)
    for alias, target in moves.items():
        if target is not None:
            check_alias(alias)
        if alias not in expected:
            raise InvalidInput(
                f"move_aliases would move alias {alias!r} without knowing where it points "
                "now: add it to expected, with the artifact id it points at (None if it "
                "must be absent)"
            )
    return dict(moves), dict(expected)


def page_name(after_name: object) -> str | None:
    """The name a page of a listing by name starts after, checked as a store holds it."""
    if after_name is None:
        return None
    if not isinstance(after_name, str):
        raise InvalidInput(
            f"after_name {after_name!r} is not text: give the last name of the page before",
            field="after_name",
        )
    return check_text("after_name", after_name)


def not_a_version(artifact_id: str, found_kind: str, found_name: str, kind: str, name: str) -> str:
    """Why ``move_aliases`` refuses a target of another ``(kind, name)``."""
    return (
        f"artifact {artifact_id!r} is a {found_kind} named {found_name!r}, not a version "
        f"of {kind} {name!r}: an alias of {name!r} points only at one of its versions"
    )


def lost_move(
    kind: str,
    name: str,
    alias: str,
    wanted: str | None,
    there: str | None,
    version_of: Callable[[str], int | None],
) -> str:
    """Why a compare-and-set of ``move_aliases`` was lost: where the alias points."""

    def described(artifact_id: str | None) -> str:
        if artifact_id is None:
            return "nothing"
        version = version_of(artifact_id)
        return repr(artifact_id) if version is None else f"v{version} ({artifact_id})"

    return (
        f"alias {alias!r} of {kind} {name!r} points at {described(there)}, not at "
        f"{described(wanted)} as expected: it moved since it was read, and nothing was "
        "changed; read the aliases again and decide anew"
    )


def default_actor() -> str:
    """The user this process runs as, as the OS names it (``LOGNAME``, ``USER``, the
    password database); ``unknown`` where none names one, as in some containers."""
    try:
        return getpass.getuser() or UNKNOWN_ACTOR
    except (OSError, KeyError, ImportError):
        return UNKNOWN_ACTOR


def alias_actor(actor: str | None) -> str:
    """Who changes an alias: ``actor``, or by default the user of this process."""
    if actor is None:
        return default_actor()
    check_length("alias change actor", actor, 255)
    return actor


def alias_reason(reason: str | None) -> str | None:
    """Why an alias changes: text of at most :data:`MAX_REASON` characters, or None."""
    if reason is None or reason == "":
        return None
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidInput(
            f"alias change reason {reason!r:.80} must be text of at most {MAX_REASON} "
            "characters; say in a sentence why the alias moves"
        )
    return check_text("alias change reason", reason)


# -- alerts --------------------------------------------------------------------------


def alert_row(
    *,
    kind: str,
    severity: Severity | str,
    message: str,
    evidence: Mapping[str, Any] | None,
    run_id: str | None,
    artifact_id: str | None,
) -> dict[str, Any]:
    """A new alert's row."""
    check_length("alert kind", kind, 64)
    try:
        level = Severity(severity)
    except ValueError:
        raise InvalidInput(
            f"alert severity {severity!r} is not one of " + ", ".join(s.value for s in Severity)
        ) from None
    if not isinstance(message, str) or not message:
        raise InvalidInput("an alert needs a message saying what happened")
    optional_text("alert message", message)
    return {
        "id": new_id(),
        "kind": kind,
        "severity": level.value,
        "message": message,
        "evidence": json_object("alert evidence", evidence),
        "run_id": run_id,
        "artifact_id": artifact_id,
        "created_at": now_us(),
    }


# -- schedules -----------------------------------------------------------------------


def schedule_row(
    *,
    name: str,
    target: str,
    resolved_target: str,
    params: Mapping[str, Any] | None,
    every_seconds: int | None,
    cron: str | None,
    timezone: str,
    enabled: bool,
    next_due_at: datetime | None,
) -> dict[str, Any]:
    """A new schedule's row: one good cadence, first due at ``next_due_at`` or else at
    its first occurrence after now."""
    check_name(name, "schedule name")
    check_length("schedule target", target, 4096)
    check_length("schedule resolved target", resolved_target, 4096)
    if (every_seconds is None) == (cron is None):
        raise InvalidInput(
            f"schedule {name!r} needs exactly one of an interval (every_seconds) or a "
            "cron expression"
        )
    if every_seconds is not None:
        _cadence.check_every(every_seconds)
    if cron is not None:
        cron = _cadence.check_cron(cron)
        check_length("schedule cron", cron, 255)
    _cadence.zone(timezone)
    check_length("schedule timezone", timezone, 64)
    created = now_us()
    if next_due_at is None:
        next_due_at = _cadence.next_due(
            after=from_us(created), every_seconds=every_seconds, cron=cron, timezone=timezone
        )
    return {
        "id": new_id(),
        "name": name,
        "target": target,
        "resolved_target": resolved_target,
        "params": json_object("schedule params", params),
        "every_seconds": every_seconds,
        "cron": cron,
        "timezone": timezone,
        "enabled": bool(enabled),
        "next_due_at": to_us(next_due_at),
        "last_run_at": None,
        "last_run_id": None,
        "last_status": None,
        "created_at": created,
    }


def schedule_taken(name: str) -> str:
    """Why a schedule cannot be made under ``name``."""
    return f"a schedule named {name!r} exists already; remove it first or choose another name"


def following_due(row: Row, now: datetime) -> int:
    """When a schedule claimed at ``now`` is next due: its first occurrence after ``now``."""
    return to_us(
        _cadence.next_due(
            after=now,
            previous=from_us(row["next_due_at"]),
            every_seconds=row["every_seconds"],
            cron=row["cron"],
            timezone=row["timezone"],
        )
    )


# -- rows -> records -----------------------------------------------------------------


def artifact_record(row: Row) -> Artifact:
    return Artifact(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        version=row["version"],
        digest=row["digest"],
        size=row["size"],
        uri=row["uri"],
        metadata=dict(row["metadata"]),
        created_at=from_us(row["created_at"]),
    )


def run_record(row: Row) -> Run:
    return Run(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        status=RunStatus(row["status"]),
        params=dict(row["params"]),
        parent_id=row["parent_id"],
        fingerprint=row["fingerprint"],
        code=dict(row["code"]),
        environment=dict(row["environment"]),
        tags=dict(row["tags"]),
        host=row["host"],
        pid=row["pid"],
        started_at=from_us(row["started_at"]),
        ended_at=None if row["ended_at"] is None else from_us(row["ended_at"]),
        error=row["error"],
    )


def event_record(row: Row) -> Event:
    return Event(
        run_id=row["run_id"],
        artifact_id=row["artifact_id"],
        direction=Direction(row["direction"]),
        role=row["role"],
        created_at=from_us(row["created_at"]),
    )


def metric_record(row: Row) -> Metric:
    """A metric point; a stored None is NaN (SQLite cannot store a NaN)."""
    return Metric(
        run_id=row["run_id"],
        key=row["key"],
        value=math.nan if row["value"] is None else row["value"],
        step=row["step"],
        at=from_us(row["at"]),
    )


def alias_record(row: Row) -> Alias:
    return Alias(
        kind=row["kind"],
        name=row["name"],
        alias=row["alias"],
        artifact_id=row["artifact_id"],
        updated_at=from_us(row["updated_at"]),
    )


def alias_event_record(row: Row) -> AliasEvent:
    return AliasEvent(
        id=int(row["id"]),
        kind=row["kind"],
        name=row["name"],
        alias=row["alias"],
        from_artifact_id=row["from_artifact_id"],
        to_artifact_id=row["to_artifact_id"],
        actor=row["actor"],
        reason=row["reason"],
        created_at=from_us(row["created_at"]),
    )


def alert_record(row: Row) -> Alert:
    return Alert(
        id=row["id"],
        kind=row["kind"],
        severity=Severity(row["severity"]),
        message=row["message"],
        evidence=dict(row["evidence"]),
        run_id=row["run_id"],
        artifact_id=row["artifact_id"],
        created_at=from_us(row["created_at"]),
    )


def schedule_record(row: Row) -> Schedule:
    return Schedule(
        id=row["id"],
        name=row["name"],
        target=row["target"],
        resolved_target=row["resolved_target"],
        params=dict(row["params"]),
        every_seconds=row["every_seconds"],
        cron=row["cron"],
        timezone=row["timezone"],
        enabled=bool(row["enabled"]),
        next_due_at=from_us(row["next_due_at"]),
        last_run_at=None if row["last_run_at"] is None else from_us(row["last_run_at"]),
        last_run_id=row["last_run_id"],
        last_status=None if row["last_status"] is None else RunStatus(row["last_status"]),
        created_at=from_us(row["created_at"]),
    )
